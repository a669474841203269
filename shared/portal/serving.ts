/**
 * How the portal's files are served (functions/portal.ts): which request path is which file and
 * cache class, their media types, and the Content-Security-Policy. Pure: no file system here.
 */

/** What a request path asks for. */
export type PortalTarget =
  /** Not the portal's: the API, the host's endpoints. Never index.html, so a typo there gets a 404. */
  | { readonly kind: 'reserved' }
  /** A path that cannot name a file of the portal (traversal, control characters, bad escapes, dot files). */
  | { readonly kind: 'invalid' }
  /** The sign-in configuration, built from the settings. */
  | { readonly kind: 'config' }
  /** A file Vite wrote under assets/ with its content hash in the name: cached for ever. */
  | { readonly kind: 'asset'; readonly file: string }
  /** Another file at the root (favicon…): cached briefly, since its name carries no hash. */
  | { readonly kind: 'file'; readonly file: string }
  /** `/` or a client route (`/requests`, `/admin/policies`): the page, revalidated every time. */
  | { readonly kind: 'page' };

/** First path segments that belong to the API or the Functions host, never to the portal. */
const RESERVED = new Set(['api', 'runtime', 'admin', 'dev', 'durabletask']);

export const CONFIG_PATH = 'portal-config.json';
export const INDEX_FILE = 'index.html';

/**
 * Classifies the path part of a request URL (still percent-encoded, as sent). Segments are decoded
 * one by one and refused when they could leave the portal's folder or name something odd: `.`/`..`,
 * a slash or backslash inside a segment, NUL or another control character, a malformed escape.
 */
export function classifyPath(rawPath: string): PortalTarget {
  const raw = rawPath.split('/').filter((s, i, all) => !(s === '' && (i === 0 || i === all.length - 1)));
  const segments: string[] = [];
  for (const piece of raw) {
    let segment: string;
    try {
      segment = decodeURIComponent(piece);
    } catch {
      return { kind: 'invalid' };
    }
    // An empty segment (`//`) or a dot segment has no place in a file name of ours.
    // A leading dot is also how the build's own bookkeeping (.build-stamp.json) stays unserved.
    if (segment === '' || segment.startsWith('.')) return { kind: 'invalid' };
    if (/[/\\\u0000-\u001f\u007f]/.test(segment)) return { kind: 'invalid' };
    segments.push(segment);
  }
  const first = segments[0]?.toLowerCase();
  if (first !== undefined && RESERVED.has(first)) return { kind: 'reserved' };
  if (segments.length === 0) return { kind: 'page' };
  const file = segments.join('/');
  if (segments.length === 1 && file === CONFIG_PATH) return { kind: 'config' };
  if (first === 'assets' && segments.length >= 2) return { kind: 'asset', file };
  // A client route has no extension; a name with one is a file, which must exist (no index.html
  // for a missing script: the browser would run HTML as JavaScript and report nothing useful).
  const last = segments[segments.length - 1] ?? '';
  if (!last.includes('.')) return { kind: 'page' };
  // Files live at the root; `index.html` is the page itself, so it follows the page's rules.
  if (file === INDEX_FILE) return { kind: 'page' };
  return { kind: 'file', file };
}

export const CACHE_CONTROL = {
  asset: 'public, max-age=31536000, immutable',
  file: 'public, max-age=3600',
  page: 'no-cache',
  config: 'no-store',
} as const;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  json: 'application/json',
  map: 'application/json',
  svg: 'image/svg+xml',
  png: 'image/png',
  ico: 'image/x-icon',
  woff2: 'font/woff2',
  txt: 'text/plain; charset=utf-8',
  webmanifest: 'application/manifest+json',
};

/** The media type for a file name by its extension; unknown ones are opaque bytes (with nosniff). */
export function contentTypeOf(file: string): string {
  const dot = file.lastIndexOf('.');
  const ext = dot === -1 ? '' : file.slice(dot + 1).toLowerCase();
  return CONTENT_TYPES[ext] ?? 'application/octet-stream';
}

/**
 * The portal's Content-Security-Policy. Scripts only from this origin (no inline script anywhere);
 * inline styles allowed because Fluent UI's Griffel inserts its CSS at run time
 * (docs/decisions/0012-portal-serving.md); the sign-in authority is the one other origin the page
 * talks to (token calls) and navigates a form to; nobody may frame it.
 */
export function contentSecurityPolicy(authority: string | undefined): string {
  const other = authority !== undefined && URL.canParse(authority) ? ` ${new URL(authority).origin}` : '';
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    `connect-src 'self'${other}`,
    `form-action 'self'${other}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
  ].join('; ');
}

/** True when an `If-None-Match` header names `etag` (or is `*`): the client's copy is current. */
export function notModified(ifNoneMatch: string | null, etag: string): boolean {
  if (ifNoneMatch === null) return false;
  return ifNoneMatch
    .split(',')
    .map((t) => t.trim().replace(/^W\//, ''))
    .some((t) => t === '*' || t === etag);
}
