/**
 * The audit query's continuation token: where each chain's stream stopped, bound to the filters it
 * was issued for and signed, so a token is opaque to callers and a forged, truncated or reused-for-
 * other-filters token is a 400 rather than a surprising page.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { DomainError } from '#shared/domain/errors';
import { AuditKeyPurpose, auditSubkey } from './keys';
import { sortedJson } from './redact';

const CursorSchema = z.strictObject({
  v: z.literal(1),
  /** Fingerprint of the filters. */
  f: z.string().length(16),
  /** chain → last sequence returned. */
  a: z.array(z.tuple([z.number().int().min(0).max(99), z.number().int().min(1)])).max(100),
  /** Chains with nothing more in range. */
  x: z.array(z.number().int().min(0).max(99)).max(100),
});
export type Cursor = z.output<typeof CursorSchema>;

const MAX_TOKEN_LENGTH = 4096;

export function filtersFingerprint(filters: unknown): string {
  return createHmac('sha256', 'zsa-audit-filters').update(sortedJson(filters)).digest('hex').slice(0, 16);
}

export function encodeCursor(cursor: Cursor, key: string): string {
  const payload = Buffer.from(JSON.stringify(cursor), 'utf8').toString('base64url');
  return `${payload}.${sign(payload, key)}`;
}

function sign(payload: string, key: string): string {
  return createHmac('sha256', auditSubkey(key, AuditKeyPurpose.cursor))
    .update(`audit-cursor.${payload}`)
    .digest('base64url');
}

function invalid(): DomainError {
  return new DomainError(
    'INVALID_INPUT',
    'Invalid query: continuationToken is not a token this query issued.',
    {
      errors: [{ pointer: '#/continuationToken', detail: 'not a token this query issued' }],
    },
  );
}

/** Decodes a token issued for `fingerprint`, or throws INVALID_INPUT. */
export function decodeCursor(token: string, key: string, fingerprint: string): Cursor {
  if (token.length > MAX_TOKEN_LENGTH) throw invalid();
  const [payload, signature, ...rest] = token.split('.');
  if (payload === undefined || signature === undefined || rest.length > 0) throw invalid();
  const expected = Buffer.from(sign(payload, key));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw invalid();
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  const parsed = CursorSchema.safeParse(value);
  if (!parsed.success || parsed.data.f !== fingerprint) throw invalid();
  return parsed.data;
}
