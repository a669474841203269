/**
 * The audit's keys, each derived from ZSA_AUDIT_HMAC_KEY for one purpose with HKDF-SHA256
 * (RFC 5869, empty salt, the purpose as `info`, 32 bytes). Audit readers see digests made with the
 * redaction key: deriving it keeps those digests useless for anything else — another audit purpose,
 * or a webhook signature even where an operator reused the webhook key as the audit key.
 */
import { hkdfSync } from 'node:crypto';

export const AuditKeyPurpose = {
  /** `hmac-sha256:<hex>` digests of secret-looking values in audited content. */
  redaction: 'zsa audit redaction v1',
  /** Signatures of audit query continuation tokens. */
  cursor: 'zsa audit cursor v1',
  /**
   * The HMAC that seals keyed rows of the hash chain. An auditor who verifies exports offline is
   * given this subkey, never the audit key itself (docs/audit.md shows how to derive it).
   */
  chain: 'zsa audit chain v1',
} as const;
export type AuditKeyPurpose = (typeof AuditKeyPurpose)[keyof typeof AuditKeyPurpose];

export function auditSubkey(auditKey: string, purpose: AuditKeyPurpose): Buffer {
  if (auditKey.length === 0) throw new Error('The audit HMAC key is empty.');
  return Buffer.from(hkdfSync('sha256', Buffer.from(auditKey, 'utf8'), Buffer.alloc(0), purpose, 32));
}
