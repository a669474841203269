/**
 * The portal function over a built portal on disk (a small stand-in for dist/portal/, written here):
 * what each path answers, with which cache and security headers, ETag revalidation, HEAD, path
 * traversal, and an app built without its portal. Handlers are called through the library's
 * `HttpRequest` seam; the local host's routing in front of it is proven in test/contract/served.test.ts.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { portalHandler, defaultPortalRoot } from '../../../functions/portal';
import { handled } from '#shared/http/handler';
import { resetSettingsCache } from '#shared/config';
import { ROOT } from '../../support/local-host';

let dir: string;
let portal: string;
const INDEX = '<!doctype html><title>ZSA</title><script type="module" src="/assets/index-Ab12.js"></script>';

beforeAll(() => {
  process.env.ZSA_PORTAL_CLIENT_ID = 'zsa-portal';
  process.env.ZSA_PORTAL_AUTHORITY = 'https://login.example.com/tenant/v2.0';
  process.env.ZSA_AUTH_AUDIENCE = 'api://zsa';
  resetSettingsCache();
  dir = mkdtempSync(join(tmpdir(), 'zsa-portal-'));
  portal = join(dir, 'portal');
  mkdirSync(join(portal, 'assets'), { recursive: true });
  writeFileSync(join(portal, 'index.html'), INDEX);
  writeFileSync(join(portal, 'assets', 'index-Ab12.js'), 'console.log(1)');
  writeFileSync(join(portal, 'assets', 'index-Cd34.css'), 'body{}');
  writeFileSync(join(portal, 'favicon.svg'), '<svg/>');
  writeFileSync(join(dir, 'secret.txt'), 'outside');
  symlinkSync(join(dir, 'secret.txt'), join(portal, 'link.txt'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function get(
  path: string,
  init: { method?: string; headers?: Record<string, string>; root?: string } = {},
) {
  const handler = handled(portalHandler(() => init.root ?? portal));
  const response = await handler(
    new HttpRequest({
      method: init.method ?? 'GET',
      url: `http://127.0.0.1:7071${path}`,
      headers: init.headers ?? {},
    }),
    new InvocationContext({ invocationId: 'test' }),
  );
  const body = response.body;
  const text =
    body === undefined
      ? ''
      : Buffer.isBuffer(body)
        ? body.toString('utf8')
        : typeof body === 'string'
          ? body
          : '?';
  return { status: response.status ?? 200, headers: new Headers(response.headers), text };
}

function expectSecurityHeaders(headers: Headers): void {
  expect(headers.get('content-security-policy')).toContain("script-src 'self';");
  expect(headers.get('content-security-policy')).toContain("connect-src 'self' https://login.example.com;");
  expect(headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  expect(headers.get('x-content-type-options')).toBe('nosniff');
  expect(headers.get('referrer-policy')).toBe('no-referrer');
}

describe('the portal function', () => {
  it.each(['/', '/requests', '/approvals/abc', '/index.html'])(
    'answers %s with index.html, revalidated every time',
    async (path) => {
      // Act
      const response = await get(path);

      // Assess
      expect(response.status).toBe(200);
      expect(response.text).toBe(INDEX);
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(response.headers.get('cache-control')).toBe('no-cache');
      expect(response.headers.get('etag')).toMatch(/^"[\w-]+"$/);
      expectSecurityHeaders(response.headers);
    },
  );

  it('serves hashed assets immutable with their media type, and root files for an hour', async () => {
    const js = await get('/assets/index-Ab12.js');
    const css = await get('/assets/index-Cd34.css');
    const icon = await get('/favicon.svg');

    expect([js.status, js.text, js.headers.get('content-type')]).toEqual([
      200,
      'console.log(1)',
      'text/javascript; charset=utf-8',
    ]);
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect([icon.status, icon.headers.get('content-type'), icon.headers.get('cache-control')]).toEqual([
      200,
      'image/svg+xml',
      'public, max-age=3600',
    ]);
    expectSecurityHeaders(js.headers);
  });

  it.each(['/assets/missing-Zz99.js', '/missing.js', '/favicon.ico'])(
    'answers a missing file %s with a 404 problem, never the page',
    async (path) => {
      const response = await get(path);
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toBe('application/problem+json');
      expect(response.text).not.toContain('<!doctype');
      expectSecurityHeaders(response.headers);
    },
  );

  it.each(['/api', '/api/nope', '/runtime/webhooks/x', '/admin/host/status'])(
    'answers %s with a 404 problem: an API or host path is never the portal',
    async (path) => {
      const response = await get(path);
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toBe('application/problem+json');
    },
  );

  it.each(['/assets/..%2f..%2fsecret.txt', '/assets/..%5csecret.txt', '/assets/%00.js', '/a/%zz'])(
    'refuses a path %s that could leave the portal with a 400 problem',
    async (path) => {
      const response = await get(path);
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toBe('application/problem+json');
      expect(response.text).not.toContain('outside');
    },
  );

  it('resolves dot segments inside the portal, never above it', async () => {
    // The URL parser resolves `..` (encoded or not) before anything else: above the root is the root.
    for (const path of ['/%2e%2e/secret.txt', '/../../secret.txt', '/assets/../../secret.txt']) {
      const response = await get(path);
      expect(response.status, path).toBe(404);
      expect(response.text).not.toContain('outside');
    }
  });

  it('does not follow a link out of the portal folder', async () => {
    const response = await get('/link.txt');
    expect(response.status).toBe(404);
    expect(response.text).not.toContain('outside');
  });

  it('answers 304 to a matching If-None-Match, and HEAD with the headers and no body', async () => {
    // Prepare
    const first = await get('/assets/index-Ab12.js');
    const etag = first.headers.get('etag') ?? '';

    // Act
    const again = await get('/assets/index-Ab12.js', { headers: { 'if-none-match': etag } });
    const head = await get('/assets/index-Ab12.js', { method: 'HEAD' });

    // Assess
    expect(again.status).toBe(304);
    expect(again.text).toBe('');
    expect(again.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
    expect(head.headers.get('etag')).toBe(etag);
  });

  it('serves the sign-in configuration, never stored', async () => {
    const response = await get('/portal-config.json');
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(JSON.parse(response.text)).toEqual({
      signIn: {
        authority: 'https://login.example.com/tenant/v2.0',
        clientId: 'zsa-portal',
        scope: 'api://zsa/.default',
      },
      environment: 'azure',
    });
  });

  it('answers 503 naming npm run build when the app was built without its portal', async () => {
    const response = await get('/requests', { root: join(dir, 'nothing') });
    expect(response.status).toBe(503);
    expect(response.text).toContain('npm run build');
    expectSecurityHeaders(response.headers);
  });

  it('finds dist/portal/ of the app from the compiled module and from its source alike', () => {
    expect(defaultPortalRoot(join(ROOT, 'dist', 'functions'))).toBe(join(ROOT, 'dist', 'portal'));
    expect(defaultPortalRoot(join(ROOT, 'functions'))).toBe(join(ROOT, 'dist', 'portal'));
  });
});
