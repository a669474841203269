import { describe, expect, it } from 'vitest';
import { PortalConfig } from '#shared/portal/config';
import {
  CACHE_CONTROL,
  classifyPath,
  contentSecurityPolicy,
  contentTypeOf,
  notModified,
  type PortalTarget,
} from '#shared/portal/serving';
import { portalConfigOf } from '#shared/portal/settings';

describe('classifyPath', () => {
  const cases: [scenario: string, path: string, expected: PortalTarget][] = [
    ['the root is the page', '/', { kind: 'page' }],
    ['a client route is the page', '/requests', { kind: 'page' }],
    ['a nested client route is the page', '/approvals/2026', { kind: 'page' }],
    ['index.html itself is the page (never cached for long)', '/index.html', { kind: 'page' }],
    ['the API is never the portal', '/api', { kind: 'reserved' }],
    ['a mistyped API path is never the portal', '/api/nope', { kind: 'reserved' }],
    ['the API in capitals neither (routes are case-insensitive)', '/API/health', { kind: 'reserved' }],
    ["the Functions host's webhooks", '/runtime/webhooks/durabletask', { kind: 'reserved' }],
    ["the Functions host's admin API", '/admin/host/status', { kind: 'reserved' }],
    ["the local host's development endpoints", '/dev/mailbox', { kind: 'reserved' }],
    ['the sign-in configuration', '/portal-config.json', { kind: 'config' }],
    ['a hashed asset', '/assets/index-AbC123.js', { kind: 'asset', file: 'assets/index-AbC123.js' }],
    ['an encoded asset name is decoded', '/assets/a%20b.css', { kind: 'asset', file: 'assets/a b.css' }],
    ['a root file', '/favicon.svg', { kind: 'file', file: 'favicon.svg' }],
    ['a missing script is a file, not the page', '/app.js', { kind: 'file', file: 'app.js' }],
    ['a trailing slash is ignored', '/requests/', { kind: 'page' }],
    ['a dot-dot segment is refused', '/assets/../../host.json', { kind: 'invalid' }],
    ['an encoded dot-dot is refused', '/assets/%2e%2e/%2e%2e/host.json', { kind: 'invalid' }],
    ['an encoded slash is refused', '/assets/..%2f..%2fhost.json', { kind: 'invalid' }],
    ['an encoded backslash is refused', '/assets/..%5c..%5chost.json', { kind: 'invalid' }],
    ['a NUL is refused', '/favicon.svg%00.png', { kind: 'invalid' }],
    ['a malformed escape is refused', '/assets/%zz.js', { kind: 'invalid' }],
    ['an empty segment is refused', '/assets//x.js', { kind: 'invalid' }],
    ['a dot segment is refused', '/./favicon.svg', { kind: 'invalid' }],
    ["the build's stamp (a dot file) is never served", '/.build-stamp.json', { kind: 'invalid' }],
  ];
  it.each(cases)('%s (%s)', (_scenario, path, expected) => {
    // Act / Assess
    expect(classifyPath(path)).toEqual(expected);
  });
});

describe('cache classes and media types', () => {
  it('marks hashed assets immutable for a year, the page revalidated, the configuration never stored', () => {
    expect(CACHE_CONTROL.asset).toBe('public, max-age=31536000, immutable');
    expect(CACHE_CONTROL.file).toBe('public, max-age=3600');
    expect(CACHE_CONTROL.page).toBe('no-cache');
    expect(CACHE_CONTROL.config).toBe('no-store');
  });

  const types: [file: string, type: string][] = [
    ['index.html', 'text/html; charset=utf-8'],
    ['assets/a.js', 'text/javascript; charset=utf-8'],
    ['assets/a.css', 'text/css; charset=utf-8'],
    ['x.json', 'application/json'],
    ['favicon.svg', 'image/svg+xml'],
    ['logo.PNG', 'image/png'],
    ['favicon.ico', 'image/x-icon'],
    ['assets/font.woff2', 'font/woff2'],
    ['assets/a.js.map', 'application/json'],
    ['unknown.bin', 'application/octet-stream'],
  ];
  it.each(types)('%s is %s', (file, type) => {
    expect(contentTypeOf(file)).toBe(type);
  });
});

describe('contentSecurityPolicy', () => {
  it('allows scripts from this origin only, and the sign-in authority for token calls and forms', () => {
    // Act
    const csp = contentSecurityPolicy('https://login.microsoftonline.com/t/v2.0');

    // Assess
    expect(csp).toBe(
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
        "font-src 'self' data:; connect-src 'self' https://login.microsoftonline.com; " +
        "form-action 'self' https://login.microsoftonline.com; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    );
  });

  it('names no other origin when sign-in has no authority', () => {
    const csp = contentSecurityPolicy(undefined);
    expect(csp).toContain("connect-src 'self';");
    expect(csp).toContain("form-action 'self';");
  });
});

describe('notModified', () => {
  const cases: [header: string | null, expected: boolean][] = [
    [null, false],
    ['"abc"', true],
    ['W/"abc"', true],
    ['"x", "abc"', true],
    ['*', true],
    ['"abcd"', false],
  ];
  it.each(cases)('If-None-Match %s → %s', (header, expected) => {
    expect(notModified(header, '"abc"')).toBe(expected);
  });
});

describe('portalConfigOf', () => {
  const tenant = '11111111-2222-3333-4444-555555555555';
  const base = {
    ZSA_PORTAL_CLIENT_ID: 'portal-app',
    ZSA_PORTAL_AUTHORITY: undefined,
    ZSA_PORTAL_SCOPE: undefined,
    ZSA_TENANT_ID: undefined,
    ZSA_AUTH_ISSUER: `https://login.microsoftonline.com/${tenant}/v2.0`,
    ZSA_AUTH_AUDIENCE: 'api://zsa',
  };

  it("defaults to Entra ID for the issuer's tenant and the API audience's .default scope", () => {
    // Act
    const config = portalConfigOf(base);

    // Assess
    expect(PortalConfig.parse(config)).toEqual({
      signIn: {
        authority: `https://login.microsoftonline.com/${tenant}/v2.0`,
        clientId: 'portal-app',
        scope: 'api://zsa/.default',
      },
      environment: 'azure',
    });
  });

  it('takes ZSA_TENANT_ID over the issuer, and explicit settings over both', () => {
    expect(portalConfigOf({ ...base, ZSA_TENANT_ID: 'contoso-guid' }).signIn?.authority).toBe(
      'https://login.microsoftonline.com/contoso-guid/v2.0',
    );
    expect(
      portalConfigOf({ ...base, ZSA_PORTAL_AUTHORITY: 'https://idp.example/x', ZSA_PORTAL_SCOPE: 's' })
        .signIn,
    ).toEqual({ authority: 'https://idp.example/x', clientId: 'portal-app', scope: 's' });
  });

  it('says local for a loopback http authority (the local host)', () => {
    expect(portalConfigOf({ ...base, ZSA_PORTAL_AUTHORITY: 'http://127.0.0.1:7071/dev' }).environment).toBe(
      'local',
    );
  });

  const unconfigured: [scenario: string, change: Partial<typeof base>, setting: string][] = [
    ['no client id', { ZSA_PORTAL_CLIENT_ID: undefined }, 'ZSA_PORTAL_CLIENT_ID'],
    ['no tenant and no authority', { ZSA_AUTH_ISSUER: 'https://idp.example/' }, 'ZSA_PORTAL_AUTHORITY'],
    ['no audience and no scope', { ZSA_AUTH_AUDIENCE: undefined }, 'ZSA_PORTAL_SCOPE'],
  ];
  it.each(unconfigured)('%s → no sign-in, with a reason naming %s', (_scenario, change, setting) => {
    // Act
    const config = PortalConfig.parse(portalConfigOf({ ...base, ...change }));

    // Assess
    expect(config.signIn).toBeNull();
    expect('reason' in config && config.reason).toContain(setting);
  });
});
