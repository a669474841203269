/**
 * CORS rules (shared/http/cors.ts) and the `ZSA_CORS_ORIGINS` setting, without I/O. The same
 * rules over real HTTP through the compiled app are in served.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { SettingsSchema } from '#shared/config';
import { addCorsHeaders, corsHeaders, preflightHeaders } from '#shared/http/cors';

const PORTAL = 'https://portal.contoso.com';
const ALLOWED = [PORTAL, 'http://localhost:5173'];

function originsOf(value: string) {
  return SettingsSchema.shape.ZSA_CORS_ORIGINS.safeParse(value);
}

describe('ZSA_CORS_ORIGINS', () => {
  it.each([
    ['', []],
    ['https://portal.contoso.com', [PORTAL]],
    [' https://Portal.Contoso.com/ , http://localhost:5173', [PORTAL, 'http://localhost:5173']],
    ['https://portal.contoso.com:443', [PORTAL]],
    ['https://portal.contoso.com:8443', ['https://portal.contoso.com:8443']],
    ['http://127.0.0.1:3000', ['http://127.0.0.1:3000']],
  ])('%j → the origins browsers send', (value, expected) => {
    expect(originsOf(value)).toMatchObject({ success: true, data: expected });
  });

  it.each([
    ['a wildcard', '*'],
    ['a path', 'https://portal.contoso.com/app'],
    ['a query', 'https://portal.contoso.com/?x=1'],
    ['plain http to a real host', 'http://portal.contoso.com'],
    ['no scheme', 'portal.contoso.com'],
    ['credentials', 'https://user:pw@portal.contoso.com'],
  ])('refuses %s, naming the entry', (_what, value) => {
    // Act
    const parsed = originsOf(`${PORTAL},${value}`);

    // Assess
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.message).toContain(JSON.stringify(value));
  });
});

describe('actual responses', () => {
  it('let a listed origin read the answer and the headers a portal needs', () => {
    expect(corsHeaders(PORTAL, ALLOWED)).toEqual({
      'access-control-allow-origin': PORTAL,
      'access-control-expose-headers': 'Location, Retry-After, WWW-Authenticate, X-Correlation-Id',
      vary: 'Origin',
    });
  });

  it.each([
    ['another origin', 'https://evil.example'],
    ['a look-alike', 'https://portal.contoso.com.evil.example'],
    ['the same host over http', 'http://portal.contoso.com'],
    ['another case', 'https://PORTAL.contoso.com'],
    ['no origin (not a browser)', null],
  ])('say nothing to %s, but vary on Origin', (_what, origin) => {
    expect(corsHeaders(origin, ALLOWED)).toEqual({ vary: 'Origin' });
  });

  it('add nothing at all when no origin is configured', () => {
    expect(corsHeaders(PORTAL, [])).toEqual({});
  });

  it('never allow credentials', () => {
    expect(Object.keys(corsHeaders(PORTAL, ALLOWED))).not.toContain('access-control-allow-credentials');
    expect(Object.keys(preflightHeaders(PORTAL, ALLOWED))).not.toContain('access-control-allow-credentials');
  });
});

describe('preflights', () => {
  it('allow the API methods and the Authorization and Content-Type headers, for a while', () => {
    expect(preflightHeaders(PORTAL, ALLOWED)).toEqual({
      'access-control-allow-origin': PORTAL,
      'access-control-allow-methods': 'GET, POST, PUT, DELETE',
      'access-control-allow-headers': 'Authorization, Content-Type',
      'access-control-max-age': '600',
      vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
    });
  });

  it('give an unlisted origin no CORS header', () => {
    expect(preflightHeaders('https://evil.example', ALLOWED)).toEqual({
      vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
    });
    expect(preflightHeaders(PORTAL, [])).toEqual({});
  });
});

describe('addCorsHeaders (the hook in handled())', () => {
  it('sets the allow headers and adds Origin to an existing Vary once', () => {
    // Prepare
    const headers = new Headers({ vary: 'Accept-Encoding', 'content-type': 'application/json' });

    // Act
    addCorsHeaders(headers, PORTAL, ALLOWED);
    addCorsHeaders(headers, PORTAL, ALLOWED);

    // Assess
    expect(headers.get('access-control-allow-origin')).toBe(PORTAL);
    expect(headers.get('vary')).toBe('Accept-Encoding, Origin');
    expect(headers.get('content-type')).toBe('application/json');
  });

  it('leaves a problem answer to another origin without allow headers', () => {
    // Prepare
    const headers = new Headers({ 'content-type': 'application/problem+json' });

    // Act
    addCorsHeaders(headers, 'https://evil.example', ALLOWED);

    // Assess
    expect(headers.get('access-control-allow-origin')).toBeNull();
    expect(headers.get('vary')).toBe('Origin');
  });
});
