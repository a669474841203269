/**
 * Keeps secrets out of the audit (ASVS 16.2.5) while keeping them comparable: a value that looks
 * secret becomes `hmac-sha256:<hex>` keyed by the audit HMAC key, so an auditor holding the key can
 * tell whether two executions used the same credential without the log ever holding it.
 *
 * Two tests decide what is secret: the property's name (password, secret, token, key, credential,
 * connection string, …) and the value's shape (JWTs, bearer tokens, PEM private keys, storage
 * connection strings, SAS signatures and other secret query parameters, long high-entropy strings).
 * It errs towards digesting: a lost detail is cheaper than a leaked key.
 */
import { createHmac } from 'node:crypto';
import { AuditKeyPurpose, auditSubkey } from './keys';

export const DIGEST_PREFIX = 'hmac-sha256:';

/** Nesting deeper than this is cut (a detail is a record of a decision, not a data dump). */
const MAX_DEPTH = 24;

/** Substrings that make a property name secret wherever they appear (after dropping separators). */
const SECRET_NAME_PARTS = [
  'password',
  'passwd',
  'passphrase',
  'secret',
  'token',
  'credential',
  'connectionstring',
  'apikey',
  'accesskey',
  'privatekey',
  'signingkey',
  'accountkey',
  'sharedaccess',
  'signature',
  'authorization',
  'cookie',
];
/** Whole words that make a name secret (`sas`, `pwd`, `pat`), and words that do when they end it (`apiKey`, `hmac_key`). */
const SECRET_NAME_WORDS = new Set(['sas', 'pwd', 'pat', 'sig', 'otp', 'pin']);
const SECRET_LAST_WORDS = new Set(['key', 'keys']);

/** Query-string parameters that carry secrets: SAS `sig`, Functions `code`, webhook `token`, … */
const SECRET_QUERY_PARAMS = new Set([
  'sig',
  'signature',
  'code',
  'token',
  'access_token',
  'id_token',
  'refresh_token',
  'key',
  'apikey',
  'api_key',
  'secret',
  'client_secret',
  'password',
  'pwd',
  'sas',
]);

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return value;
  }
}

function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 0);
}

/** True when a property named `name` holds a secret whatever its value. */
export function isSecretName(name: string): boolean {
  const squashed = name.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (SECRET_NAME_PARTS.some((part) => squashed.includes(part))) return true;
  const w = words(name);
  const last = w.at(-1);
  return w.some((word) => SECRET_NAME_WORDS.has(word)) || (last !== undefined && SECRET_LAST_WORDS.has(last));
}

const JWT = /\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi;
const PEM_PRIVATE = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g;
/** `AccountKey=…;`, `SharedAccessKey=…`, `Password=…` inside connection strings. */
const CONNECTION_SECRET =
  /\b(AccountKey|SharedAccessKey|SharedAccessSignature|Password|Pwd|ClientSecret|AccessKey)=([^;]*)/gi;
const URL_LIKE = /\bhttps?:\/\/[^\s"'<>]+/gi;
/** A bare SAS token (`sv=…&sig=…`) outside a URL. */
const SAS_SIGNATURE = /([?&]|\b)(sig)=([^&\s"']+)/gi;

/** Shannon entropy in bits per character. */
function entropy(value: string): number {
  const counts = new Map<string, number>();
  for (const ch of value) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / value.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/**
 * A whole value that reads like a key: long, one token of the base64/base64url alphabet, mixed
 * case and digits, high entropy. Hex digests and GUIDs (one case only) do not qualify.
 */
export function looksLikeKey(value: string): boolean {
  if (value.length < 32 || value.length > 4096) return false;
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) return false;
  if (!/[a-z]/.test(value) || !/[A-Z]/.test(value) || !/[0-9]/.test(value)) return false;
  return entropy(value) >= 4.2;
}

export interface Redactor {
  /** `hmac-sha256:<hex>` of a value (strings as UTF-8, anything else as sorted JSON). */
  digest(value: unknown): string;
  /** Digests the secret parts of a free-text value (a reason, a parameter). */
  text(value: string): string;
  /** A JSON-compatible copy of `value` with secret properties and values digested. */
  detail(value: unknown): unknown;
}

/** A redactor whose digests are HMAC-SHA256 under the redaction key derived from `auditKey`. */
export function createRedactor(auditKey: string): Redactor {
  const key = auditSubkey(auditKey, AuditKeyPurpose.redaction);
  const digest = (value: unknown): string => {
    const data = typeof value === 'string' ? value : sortedJson(value);
    return DIGEST_PREFIX + createHmac('sha256', key).update(data, 'utf8').digest('hex');
  };

  /** Digests the password and the secret parameters of a URL (query and fragment), keeping the rest verbatim. */
  const redactUrl = (url: string): string => {
    const hashAt = url.indexOf('#');
    const beforeFragment = hashAt < 0 ? url : url.slice(0, hashAt);
    const fragment = hashAt < 0 ? undefined : url.slice(hashAt + 1);
    const queryAt = beforeFragment.indexOf('?');
    const base = queryAt < 0 ? beforeFragment : beforeFragment.slice(0, queryAt);
    const query = queryAt < 0 ? undefined : beforeFragment.slice(queryAt + 1);
    const params = (part: string): string =>
      part
        .split('&')
        .map((pair) => {
          const eq = pair.indexOf('=');
          if (eq < 0) return pair;
          const name = safeDecode(pair.slice(0, eq));
          const secret = SECRET_QUERY_PARAMS.has(name.toLowerCase()) || isSecretName(name);
          return secret ? `${pair.slice(0, eq)}=${digest(safeDecode(pair.slice(eq + 1)))}` : pair;
        })
        .join('&');
    const withoutPassword = base.replace(
      /^(https?:\/\/[^/@:]*):([^/@]*)@/i,
      (_m, user: string, password: string) => `${user}:${digest(safeDecode(password))}@`,
    );
    return (
      withoutPassword +
      (query === undefined ? '' : `?${params(query)}`) +
      (fragment === undefined ? '' : `#${params(fragment)}`)
    );
  };

  const text = (value: string): string => {
    if (looksLikeKey(value)) return digest(value);
    // URLs first: their secret parameters are digested whole, so the patterns below never see them.
    return value
      .replace(PEM_PRIVATE, (m) => digest(m))
      .replace(URL_LIKE, (m) => redactUrl(m))
      .replace(JWT, (m) => digest(m))
      .replace(BEARER, (m, scheme: string) => `${scheme} ${digest(m.slice(scheme.length).trim())}`)
      .replace(CONNECTION_SECRET, (_m, name: string, secret: string) => `${name}=${digest(secret)}`)
      .replace(SAS_SIGNATURE, (m, lead: string, name: string, secret: string) =>
        secret.startsWith(DIGEST_PREFIX) ? m : `${lead}${name}=${digest(secret)}`,
      );
  };

  const walk = (value: unknown, depth: number): unknown => {
    if (typeof value === 'string') return text(value);
    if (value === null || typeof value !== 'object') return value;
    if (depth >= MAX_DEPTH) return '[nesting too deep]';
    if (Array.isArray(value)) return value.map((item: unknown) => walk(item, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = isSecretName(k) ? digest(v ?? null) : walk(v, depth + 1);
    }
    return out;
  };

  return {
    digest,
    text,
    detail: (value) => walk(toJsonValue(value) ?? null, 0),
  };
}

/**
 * What JSON.stringify would keep of `value` (toJSON applied, undefined and functions dropped,
 * non-finite numbers as null), with bigints as decimal strings and cycles cut.
 */
export function toJsonValue(value: unknown, ancestors: readonly object[] = []): unknown {
  const v = hasToJson(value) ? value.toJSON() : value;
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v;
    case 'number':
      return Number.isFinite(v) ? v : null;
    case 'bigint':
      return v.toString();
    case 'object': {
      if (v === null) return null;
      if (ancestors.includes(v)) return '[cycle]';
      const path = [...ancestors, v];
      if (Array.isArray(v)) return v.map((item: unknown) => toJsonValue(item, path) ?? null);
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(v)) {
        const converted = toJsonValue(item, path);
        if (converted !== undefined) out[key] = converted;
      }
      return out;
    }
    default:
      return undefined;
  }
}

function hasToJson(value: unknown): value is { toJSON(): unknown } {
  return (
    typeof value === 'object' && value !== null && 'toJSON' in value && typeof value.toJSON === 'function'
  );
}

/** JSON with object keys sorted at every level and no whitespace: the same value, the same text. */
export function sortedJson(value: unknown): string {
  return JSON.stringify(sortKeys(toJsonValue(value) ?? null));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
  return out;
}
