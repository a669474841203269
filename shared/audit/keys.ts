/**
 * The audit's keys, each derived from ZSA_AUDIT_HMAC_KEY for one purpose with HKDF-SHA256
 * (RFC 5869, empty salt, the purpose as `info`, 32 bytes). Audit readers see digests made with the
 * redaction key: deriving it keeps those digests useless for anything else — another audit purpose,
 * or a webhook signature even where an operator reused the webhook key as the audit key.
 */
import { createHmac, hkdfSync } from 'node:crypto';

export const AuditKeyPurpose = {
  /** `hmac-sha256:<hex>` digests of secret-looking values in audited content. */
  redaction: 'zsa audit redaction v1',
  /** Signatures of audit query continuation tokens. */
  cursor: 'zsa audit cursor v1',
  /** Signatures of the polling triggers' cursors (shared/requests/triggers.ts). */
  triggerCursor: 'zsa trigger cursor v1',
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

const KEY_ID_INFO = 'zsa audit key id v1';
/** A key id: 16 lower-case hex digits. */
export const KEY_ID = /^[0-9a-f]{16}$/;

/**
 * The id a keyed row records of the chain key that sealed it: the first 16 hex digits of
 * HMAC-SHA256(chain key, "zsa audit key id v1"). An HMAC output says nothing about its key, so the id
 * can be stored and printed; 64 bits keep two keys of one deployment from sharing an id by chance.
 */
export function chainKeyId(chainKey: Uint8Array): string {
  return createHmac('sha256', chainKey).update(KEY_ID_INFO, 'utf8').digest('hex').slice(0, 16);
}

/** A chain key with its id, as the writer seals with it. */
export interface ChainKey {
  kid: string;
  key: Uint8Array;
}

export function chainKeyOf(key: Uint8Array): ChainKey {
  return { kid: chainKeyId(key), key };
}

/** The chain keys a verifier knows, by id: the current one and any retired ones. */
export type KeyRing = ReadonlyMap<string, Uint8Array>;

export function keyRing(keys: readonly Uint8Array[]): KeyRing {
  return new Map(keys.map((key) => [chainKeyId(key), key]));
}

/**
 * The ring of the app: the chain key of the current audit key, then those of the retired ones
 * (ZSA_AUDIT_HMAC_KEYS_RETIRED), which no longer seal, sign or digest anything but still verify the
 * rows they sealed.
 */
export function auditKeyRing(currentKey: string, retiredKeys: readonly string[] = []): KeyRing {
  return keyRing([currentKey, ...retiredKeys].map((k) => auditSubkey(k, AuditKeyPurpose.chain)));
}
