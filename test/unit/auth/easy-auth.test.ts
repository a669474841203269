import { describe, expect, it } from 'vitest';
import { createAuthenticator, type AuthConfig } from '#shared/auth/authenticator';
import { AuthError } from '#shared/auth/errors';

const TID = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const OID = '6b3b1a2e-0c4d-4f5e-8a9b-112233445566';
// Never fetched in these tests: every case is decided before any token would be verified.
const ISSUER = `https://login.microsoftonline.com/${TID}/v2.0`;

type Claim = { typ: string; val: string };

function encode(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64');
}

function clientPrincipal(claims: readonly Claim[], extra: Record<string, unknown> = {}): string {
  return encode({
    auth_typ: 'aad',
    claims,
    name_typ: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name',
    role_typ: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role',
    ...extra,
  });
}

const LONG_CLAIMS: readonly Claim[] = [
  { typ: 'http://schemas.microsoft.com/identity/claims/tenantid', val: TID },
  { typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier', val: OID },
  { typ: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn', val: 'Carol@Contoso.com' },
  { typ: 'name', val: 'Carol' },
  { typ: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role', val: 'PAM.Auditor' },
  { typ: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role', val: 'Something.Else' },
];

const SHORT_CLAIMS: readonly Claim[] = [
  { typ: 'tid', val: TID },
  { typ: 'oid', val: OID },
  { typ: 'preferred_username', val: 'carol@contoso.com' },
  { typ: 'roles', val: 'PAM.Admin' },
];

async function outcome(config: AuthConfig, headers: Record<string, string>) {
  try {
    const principal = await createAuthenticator(config).authenticate(new Headers(headers));
    return { principal };
  } catch (error) {
    if (error instanceof AuthError) return { status: error.status, code: error.code, message: error.message };
    throw error;
  }
}

describe('Easy Auth, trusted (behind App Service Authentication)', () => {
  const trusted: AuthConfig = { trustEasyAuth: true };

  it('maps the long claim URIs of the platform principal', async () => {
    const result = await outcome(trusted, { 'x-ms-client-principal': clientPrincipal(LONG_CLAIMS) });

    expect(result).toEqual({
      principal: {
        id: `${TID}:${OID}`,
        tenantId: TID,
        objectId: OID,
        upn: 'carol@contoso.com',
        name: 'Carol',
        roles: ['PAM.Auditor'],
        isAdmin: false,
        isAuditor: true,
        authMethod: 'easyAuth',
        strength: { acrs: [], amr: [] },
      },
    });
  });

  it('maps the short claim names too', async () => {
    const result = await outcome(trusted, { 'X-MS-CLIENT-PRINCIPAL': clientPrincipal(SHORT_CLAIMS) });

    expect(result).toMatchObject({ principal: { id: `${TID}:${OID}`, roles: ['PAM.Admin'], isAdmin: true } });
  });

  it('reads roles under the role_typ the header declares', async () => {
    const header = clientPrincipal([...SHORT_CLAIMS.slice(0, 3), { typ: 'appRole', val: 'PAM.Auditor' }], {
      role_typ: 'appRole',
    });

    const result = await outcome(trusted, { 'x-ms-client-principal': header });

    expect(result).toMatchObject({ principal: { roles: ['PAM.Auditor'] } });
  });

  it('prefers the platform principal over a bearer token sent alongside', async () => {
    const result = await outcome(
      { ...trusted, issuer: ISSUER, audience: 'api://zsa' },
      { 'x-ms-client-principal': clientPrincipal(SHORT_CLAIMS), authorization: 'Bearer not.a.token' },
    );

    expect(result).toMatchObject({ principal: { authMethod: 'easyAuth' } });
  });

  it.each([
    { scenario: 'not Base64', header: '%%%not base64%%%' },
    {
      scenario: 'Base64 of something that is not JSON',
      header: Buffer.from('{"auth_typ":').toString('base64'),
    },
    {
      scenario: 'the Static Web Apps shape',
      header: encode({
        identityProvider: 'aad',
        userId: 'x',
        userDetails: 'eve@evil.test',
        userRoles: ['PAM.Admin'],
        claims: [],
      }),
    },
    {
      scenario: 'another identity provider than Entra ID',
      header: encode({ auth_typ: 'google', claims: SHORT_CLAIMS, name_typ: 'name', role_typ: 'roles' }),
    },
    { scenario: 'no object id', header: clientPrincipal(SHORT_CLAIMS.filter((c) => c.typ !== 'oid')) },
    {
      scenario: 'no user name',
      header: clientPrincipal(SHORT_CLAIMS.filter((c) => c.typ !== 'preferred_username')),
    },
  ])('refuses a header with $scenario: 401 INVALID_PRINCIPAL, without echoing it', async ({ header }) => {
    const result = await outcome(trusted, { 'x-ms-client-principal': header });

    expect(result).toMatchObject({ status: 401, code: 'INVALID_PRINCIPAL' });
    expect(result.message).not.toContain('eve@evil.test');
    expect(result.message).not.toContain(header);
  });

  it('reads acrs and amr, one claim per value, under the short names and the long amr URI', async () => {
    const header = clientPrincipal([
      ...SHORT_CLAIMS,
      { typ: 'acrs', val: 'c1' },
      { typ: 'acrs', val: 'c3' },
      { typ: 'http://schemas.microsoft.com/claims/authnmethodsreferences', val: 'pwd' },
      { typ: 'amr', val: 'mfa' },
    ]);

    const result = await outcome(trusted, { 'x-ms-client-principal': header });

    expect(result).toMatchObject({ principal: { strength: { acrs: ['c1', 'c3'], amr: ['pwd', 'mfa'] } } });
  });

  it('reads a strength claim whose value is the JSON array itself, and drops what is not a string', async () => {
    const header = clientPrincipal([
      ...SHORT_CLAIMS,
      { typ: 'acrs', val: '["c2", 5, null]' },
      { typ: 'http://schemas.microsoft.com/claims/authnmethodsreferences', val: '["pwd","mfa"]' },
      { typ: 'amr', val: '[broken' },
    ]);

    const result = await outcome(trusted, { 'x-ms-client-principal': header });

    expect(result).toMatchObject({ principal: { strength: { acrs: ['c2'], amr: ['pwd', 'mfa'] } } });
  });

  it('proves nothing about how the user signed in when the header names no acrs or amr', async () => {
    const result = await outcome(trusted, { 'x-ms-client-principal': clientPrincipal(SHORT_CLAIMS) });

    expect(result).toMatchObject({ principal: { strength: { acrs: [], amr: [] } } });
  });

  it('without the header and without an issuer: 401 MISSING_TOKEN (the platform let an anonymous call through)', async () => {
    const result = await outcome(trusted, {});

    expect(result).toMatchObject({ status: 401, code: 'MISSING_TOKEN' });
  });
});

describe('Easy Auth, NOT trusted (no platform in front: the header is forgeable)', () => {
  const forged = { 'x-ms-client-principal': clientPrincipal(SHORT_CLAIMS) };

  it('ignores the header and requires a bearer token', async () => {
    const result = await outcome({ trustEasyAuth: false, issuer: ISSUER, audience: 'api://zsa' }, forged);

    expect(result).toMatchObject({ status: 401, code: 'MISSING_TOKEN' });
  });

  it('an acrs or amr claim in a forged header proves nothing: the header is not read at all', async () => {
    const header = clientPrincipal([...SHORT_CLAIMS, { typ: 'acrs', val: 'c1' }, { typ: 'amr', val: 'mfa' }]);

    const result = await outcome(
      { trustEasyAuth: false, issuer: ISSUER, audience: 'api://zsa' },
      { 'x-ms-client-principal': header },
    );

    expect(result).toMatchObject({ status: 401, code: 'MISSING_TOKEN' });
    expect(result).not.toHaveProperty('principal');
  });

  it('with no issuer configured either, refuses everyone: AUTH_NOT_CONFIGURED', async () => {
    const result = await outcome({ trustEasyAuth: false }, forged);

    expect(result).toMatchObject({ status: 401, code: 'AUTH_NOT_CONFIGURED' });
  });
});

describe('bearer header handling before any verification', () => {
  const config: AuthConfig = { trustEasyAuth: false, issuer: ISSUER, audience: 'api://zsa' };

  it.each<{ scenario: string; headers: Record<string, string>; code: string }>([
    { scenario: 'no Authorization header', headers: {}, code: 'MISSING_TOKEN' },
    { scenario: 'another scheme', headers: { authorization: 'Basic YWxpY2U6cHc=' }, code: 'MISSING_TOKEN' },
    { scenario: 'Bearer without a token', headers: { authorization: 'Bearer' }, code: 'INVALID_TOKEN' },
    { scenario: 'two tokens', headers: { authorization: 'Bearer a.b.c d.e.f' }, code: 'INVALID_TOKEN' },
    { scenario: 'not a compact JWS', headers: { authorization: 'Bearer hello' }, code: 'INVALID_TOKEN' },
    { scenario: 'a JWE (five parts)', headers: { authorization: 'Bearer a.b.c.d.e' }, code: 'INVALID_TOKEN' },
  ])('$scenario → 401 $code', async ({ headers, code }) => {
    const result = await outcome(config, headers);

    expect(result).toMatchObject({ status: 401, code });
  });

  it('sets WWW-Authenticate for the 401s', async () => {
    const missing = createAuthenticator(config).authenticate(new Headers());
    const invalid = createAuthenticator(config).authenticate(new Headers({ authorization: 'Bearer x' }));

    await expect(missing).rejects.toMatchObject({ wwwAuthenticate: 'Bearer' });
    await expect(invalid).rejects.toMatchObject({ wwwAuthenticate: 'Bearer error="invalid_token"' });
  });
});

describe('createAuthenticator settings (checked at start-up)', () => {
  it.each([
    {
      scenario: 'audience without issuer',
      config: { trustEasyAuth: false, audience: 'api://zsa' },
      message: /ZSA_AUTH_ISSUER/,
    },
    {
      scenario: 'issuer without audience',
      config: { trustEasyAuth: false, issuer: ISSUER },
      message: /ZSA_AUTH_AUDIENCE/,
    },
    {
      scenario: 'issuer over plain http to another host',
      config: { trustEasyAuth: false, issuer: 'http://login.example.test/t', audience: 'a' },
      message: /https/,
    },
    {
      scenario: 'issuer not a URL',
      config: { trustEasyAuth: false, issuer: 'contoso', audience: 'a' },
      message: /https/,
    },
    {
      scenario: 'negative clock tolerance',
      config: { trustEasyAuth: false, issuer: ISSUER, audience: 'a', clockToleranceSeconds: -1 },
      message: /non-negative/,
    },
  ])('refuses $scenario', ({ config, message }) => {
    expect(() => createAuthenticator(config)).toThrow(message);
  });

  it('treats blank settings as absent', async () => {
    const result = await outcome({ trustEasyAuth: false, issuer: ' ', audience: '' }, {});

    expect(result).toMatchObject({ status: 401, code: 'AUTH_NOT_CONFIGURED' });
  });

  it('accepts http on loopback, for the local host', () => {
    expect(() =>
      createAuthenticator({
        trustEasyAuth: false,
        issuer: 'http://127.0.0.1:7071/dev',
        audience: 'api://zsa',
      }),
    ).not.toThrow();
  });
});
