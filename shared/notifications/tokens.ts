/**
 * Decision-link tokens: `<requestId>.<43 base64url characters>`, i.e. 256 random bits behind the
 * request id. The id only says which partition to look in; the random part is the secret. Only the
 * SHA-256 of the whole token is stored, so a leaked table grants nothing, and changing any character
 * (the id included) gives a token that matches nothing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Id } from '#shared/domain/names';

/** 32 bytes = 256 bits from the CSPRNG (the floor is 128). */
const SECRET_BYTES = 32;
const SECRET_CHARS = 43;
const TOKEN = /^([A-Za-z0-9][A-Za-z0-9_-]{0,63})\.([A-Za-z0-9_-]{43})$/;

export interface ParsedToken {
  readonly requestId: string;
  readonly token: string;
}

/** A fresh token for `requestId` and the hash to store. */
export function mintToken(requestId: string): { token: string; hash: string } {
  Id.parse(requestId);
  const secret = randomBytes(SECRET_BYTES).toString('base64url');
  if (secret.length !== SECRET_CHARS) throw new Error('unexpected token length');
  const token = `${requestId}.${secret}`;
  return { token, hash: hashToken(token) };
}

/** Hex SHA-256: a 256-bit random secret needs no salt or slow hash to resist guessing. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** The token's parts, or undefined for anything this service could not have minted. */
export function parseToken(text: string | undefined): ParsedToken | undefined {
  if (text === undefined || text.length > 200) return undefined;
  const m = TOKEN.exec(text);
  const requestId = m?.[1];
  if (m === null || requestId === undefined) return undefined;
  return { requestId, token: text };
}

/** The link an approver gets: always under `ZSA_PUBLIC_BASE_URL`, never a host taken from a request. */
export function decisionUrl(publicBaseUrl: string, token: string): string {
  // Encoded all the same: a token's characters need none, and a path must never come from one.
  return `${publicBaseUrl.replace(/\/+$/, '')}/api/decisions/${encodeURIComponent(token)}`;
}
