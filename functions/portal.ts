/**
 * `GET /{*path}`: the web portal — the files Vite built into dist/portal/ (npm run build), its
 * sign-in configuration at `/portal-config.json`, and `index.html` for the portal's own routes. The
 * catch-all is matched after every specific route (ASP.NET route precedence), so it never shadows an
 * API operation; paths under `api/`, `runtime/` and `admin/` are refused here all the same, so that
 * a mistyped API path gets a problem, not a page (docs/decisions/0012-portal-serving.md).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { settings } from '#shared/config';
import { handled, type HttpHandler } from '#shared/http/handler';
import { problem, problemResponse } from '#shared/http/problem';
import {
  CACHE_CONTROL,
  classifyPath,
  contentSecurityPolicy,
  contentTypeOf,
  INDEX_FILE,
  notModified,
} from '#shared/portal/serving';
import { portalAuthority, portalConfigOf } from '#shared/portal/settings';

interface CachedFile {
  readonly mtimeMs: number;
  readonly size: number;
  readonly body: Buffer;
  readonly etag: string;
}

/**
 * The portal handler over the built files in `root` (a function, so that it is found on first use,
 * never at import time). Files are read once and kept while their size and time are unchanged: the
 * portal is a few hundred kilobytes, and only files that exist are ever kept.
 */
export function portalHandler(root: () => string): HttpHandler {
  const cache = new Map<string, CachedFile>();
  let realRoot: string | undefined;

  async function readPortalFile(file: string): Promise<CachedFile | undefined> {
    const base = root();
    const path = join(base, ...file.split('/'));
    // classifyPath already refused `..` and separators; this is the second lock on the same door.
    if (!path.startsWith(base + sep)) return undefined;
    let info;
    try {
      info = await stat(path);
    } catch {
      return undefined;
    }
    if (!info.isFile()) return undefined;
    const known = cache.get(path);
    if (known && known.mtimeMs === info.mtimeMs && known.size === info.size) return known;
    // A link inside the build that points outside it is not served.
    realRoot ??= await realpath(base);
    if (!(await realpath(path)).startsWith(realRoot + sep)) return undefined;
    const body = await readFile(path);
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 32)}"`;
    const entry = { mtimeMs: info.mtimeMs, size: info.size, body, etag };
    cache.set(path, entry);
    return entry;
  }

  return async (request: HttpRequest): Promise<HttpResponseInit> => {
    const authority = portalAuthority(settings());
    const security = securityHeaders(authority);
    const target = classifyPath(new URL(request.url).pathname);
    switch (target.kind) {
      case 'reserved':
        return notFound(security, 'No API operation or portal page is served here.');
      case 'invalid':
        return problemResponse(
          problem(400, 'INVALID_PATH', 'The path does not name a page or file of the portal.'),
          security,
        );
      case 'config':
        return withBody(request, {
          status: 200,
          headers: { ...security, 'content-type': 'application/json', 'cache-control': CACHE_CONTROL.config },
          body: Buffer.from(JSON.stringify(portalConfigOf(settings()))),
        });
      case 'page':
      case 'asset':
      case 'file': {
        if (!existsSync(join(root(), INDEX_FILE))) return notBuilt(security);
        const name = target.kind === 'page' ? INDEX_FILE : target.file;
        const file = await readPortalFile(name);
        if (!file) return notFound(security, `The portal has no file ${name}.`);
        const headers = {
          ...security,
          'content-type': contentTypeOf(name),
          'cache-control': CACHE_CONTROL[target.kind],
          etag: file.etag,
        };
        if (notModified(request.headers.get('if-none-match'), file.etag)) return { status: 304, headers };
        return withBody(request, { status: 200, headers, body: file.body });
      }
    }
  };
}

/** Every answer of the portal's, problems and 304s included. */
function securityHeaders(authority: string | undefined): Record<string, string> {
  return {
    'content-security-policy': contentSecurityPolicy(authority),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  };
}

/** HEAD answers the headers of GET without the body. */
function withBody(request: HttpRequest, response: HttpResponseInit & { body: Buffer }): HttpResponseInit {
  return request.method.toUpperCase() === 'HEAD'
    ? { status: response.status, headers: response.headers }
    : response;
}

function notFound(headers: Record<string, string>, detail: string): HttpResponseInit {
  return problemResponse(problem(404, 'NOT_FOUND', detail), headers);
}

/** The app was built without its portal (or the build failed half-way): say how to get one. */
function notBuilt(headers: Record<string, string>): HttpResponseInit {
  return {
    status: 503,
    headers: { ...headers, 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
    body: 'The portal is not built: run "npm run build" (it writes dist/portal/), then reload.\n',
  };
}

/**
 * dist/portal/ of the function app: the nearest folder above this module that holds host.json (the
 * repository on the local host and Core Tools, wwwroot in Azure), so the compiled module and its
 * TypeScript source find the same build.
 */
export function defaultPortalRoot(from: string = __dirname): string {
  let dir = from;
  while (!existsSync(join(dir, 'host.json'))) {
    const parent = dirname(dir);
    if (parent === dir) return join(from, 'portal');
    dir = parent;
  }
  return join(dir, 'dist', 'portal');
}

let root: string | undefined;
export const portal = handled(portalHandler(() => (root ??= defaultPortalRoot())));

app.http('portal', { methods: ['GET', 'HEAD'], route: '{*path}', authLevel: 'anonymous', handler: portal });
