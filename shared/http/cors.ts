/**
 * CORS for the portals: browser pages on the origins listed in `ZSA_CORS_ORIGINS` may call the
 * API with a bearer token. Exact origin match, never `*`; credentials (cookies) off, because the
 * API is called with `Authorization: Bearer` and nothing else. A disallowed origin gets no CORS
 * header at all, so the browser refuses to hand the answer to the page.
 *
 * Where ZSA runs without a platform in front (the local host, Core Tools) this code answers. In
 * Azure the infra templates give App Service's CORS the same list: the platform then answers first,
 * preflights included, ahead of App Service Authentication (a preflight carries no token), and this
 * code's headers are superseded by identical ones.
 */
import { settings } from '#shared/config';

/** Every method the API serves; a preflight may ask for any of them. */
export const CORS_ALLOWED_METHODS = ['GET', 'POST', 'PUT', 'DELETE'] as const;

/** Request headers a page may send beyond the safelisted ones. */
export const CORS_ALLOWED_HEADERS = ['Authorization', 'Content-Type'] as const;

/** Response headers a page may read beyond the safelisted ones (`Location` of a new request, support ids). */
export const CORS_EXPOSED_HEADERS = [
  'Location',
  'Retry-After',
  'WWW-Authenticate',
  'X-Correlation-Id',
] as const;

/** How long a browser may reuse a preflight answer; short, so a removed origin stops working soon. */
export const CORS_MAX_AGE_SECONDS = 600;

/** True when `origin` (the request's `Origin` header) is on the allow-list, compared exactly. */
export function isAllowedOrigin(
  origin: string | null | undefined,
  allowedOrigins: readonly string[],
): origin is string {
  return origin !== null && origin !== undefined && allowedOrigins.includes(origin);
}

/**
 * Headers for an actual (non-preflight) response. `Vary: Origin` whenever CORS is configured, so
 * a shared cache never serves one origin's answer (with its allow header) to another.
 */
export function corsHeaders(
  origin: string | null | undefined,
  allowedOrigins: readonly string[],
): Record<string, string> {
  if (allowedOrigins.length === 0) return {};
  if (!isAllowedOrigin(origin, allowedOrigins)) return { vary: 'Origin' };
  return {
    'access-control-allow-origin': origin,
    'access-control-expose-headers': CORS_EXPOSED_HEADERS.join(', '),
    vary: 'Origin',
  };
}

/** Headers answering a preflight (`OPTIONS` with `Access-Control-Request-Method`). */
export function preflightHeaders(
  origin: string | null | undefined,
  allowedOrigins: readonly string[],
): Record<string, string> {
  const vary = { vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers' };
  if (!isAllowedOrigin(origin, allowedOrigins)) return allowedOrigins.length === 0 ? {} : vary;
  return {
    'access-control-allow-origin': origin,
    'access-control-allow-methods': CORS_ALLOWED_METHODS.join(', '),
    'access-control-allow-headers': CORS_ALLOWED_HEADERS.join(', '),
    'access-control-max-age': String(CORS_MAX_AGE_SECONDS),
    ...vary,
  };
}

/**
 * Adds the CORS headers of an actual response to `headers` (the hook `handled()` calls for every
 * answer, problems included, so a page can read why it was refused). Keeps any `Vary` already set.
 */
export function addCorsHeaders(
  headers: Headers,
  origin: string | null | undefined,
  allowedOrigins: readonly string[] = settings().ZSA_CORS_ORIGINS,
): void {
  for (const [name, value] of Object.entries(corsHeaders(origin, allowedOrigins))) {
    if (name === 'vary') appendVary(headers, value);
    else headers.set(name, value);
  }
}

function appendVary(headers: Headers, value: string): void {
  const present = (headers.get('vary') ?? '')
    .split(',')
    .map((v) => v.trim().toLowerCase())
    .filter((v) => v !== '');
  for (const field of value.split(',').map((v) => v.trim())) {
    if (!present.includes(field.toLowerCase())) headers.append('vary', field);
  }
}
