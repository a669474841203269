/**
 * The app's audit log, built from the settings (used by `getDeps`). No I/O here: storage is first
 * touched by the first append or read.
 */
import { createBlobs } from '#shared/adapters/blobs';
import type { Tables } from '#shared/adapters/tables';
import type { Settings } from '#shared/config';
import { DomainError } from '#shared/domain/errors';
import { createAuditLog, type AuditLog } from './log';

/**
 * ZSA_AUDIT_HMAC_KEY; without it the audit (and so every audited action) is unavailable. There is
 * no fallback to another key: audit readers see digests made with it, and a key shared with the
 * webhook signer would hand them signatures (`keys.ts` derives per-purpose keys besides).
 */
export function auditHmacKey(settings: Settings): string {
  const key = settings.ZSA_AUDIT_HMAC_KEY;
  if (!key) {
    throw new DomainError(
      'UNAVAILABLE',
      'The audit log has no HMAC key (set ZSA_AUDIT_HMAC_KEY), so nothing that must be audited can run.',
    );
  }
  return key;
}

export function appAuditLog(settings: Settings, tables: Tables, now: () => Date): AuditLog {
  return createAuditLog({
    tables,
    blobs: createBlobs(settings),
    now,
    hmacKey: auditHmacKey(settings),
    retiredHmacKeys: settings.ZSA_AUDIT_HMAC_KEYS_RETIRED,
  });
}
