import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProtectedHeader, exportSPKI, importJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthenticator, type AuthConfig } from '#shared/auth/authenticator';
import { AuthError, AuthUnavailableError } from '#shared/auth/errors';
import { createDevIssuer, DEV_TENANT_ID, devUserId, type DevIssuer } from '@zsa/local-host';

const AUDIENCE = 'api://zsa-test';

let server: Server;
let origin: string;
let issuerUrl: string;
let keyDir: string;
let keyFile: string;
let issuer: DevIssuer;
/** Same key (same key file), another issuer URL: signs tokens our key set vouches for, with the wrong `iss`. */
let otherIssuer: DevIssuer;
/** What the server serves, in order; a test may swap the first entry to rotate the key. */
const served: DevIssuer[] = [];

beforeAll(async () => {
  keyDir = await mkdtemp(join(tmpdir(), 'zsa-dev-issuer-'));
  keyFile = join(keyDir, 'nested', 'dev-issuer-key.json');
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void (async () => {
        for (const candidate of served) {
          if (await candidate.handle(req, res, Buffer.concat(chunks))) return;
        }
        res.writeHead(404).end();
      })().catch(() => res.writeHead(500).end());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  issuerUrl = `${origin}/dev`;
  issuer = await createDevIssuer({ issuer: issuerUrl, audience: AUDIENCE, keyFile });
  otherIssuer = await createDevIssuer({ issuer: `${origin}/other`, audience: AUDIENCE, keyFile });
  served.push(issuer, otherIssuer);
});

afterAll(async () => {
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  await rm(keyDir, { recursive: true, force: true });
});

function authenticator(overrides: Partial<AuthConfig> = {}) {
  return createAuthenticator({ issuer: issuerUrl, audience: AUDIENCE, trustEasyAuth: false, ...overrides });
}

async function requestToken(body: unknown): Promise<Response> {
  return fetch(`${origin}/dev/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function tokenFor(body: {
  upn: string;
  roles?: string[];
  name?: string;
  acrs?: string[];
  amr?: string[];
}): Promise<string> {
  const response = await requestToken(body);
  const json = (await response.json()) as { access_token: string };
  return json.access_token;
}

/** The AuthError (or AuthUnavailableError) an authentication ends with, as plain data. */
async function refusal(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AuthError || error instanceof AuthUnavailableError) {
      return { name: error.name, status: error.status, code: error.code, message: error.message };
    }
    throw error;
  }
  throw new Error('expected the authentication to be refused');
}

function bearer(token: string): Headers {
  return new Headers({ authorization: `Bearer ${token}` });
}

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function parts(token: string): [string, string, string] {
  const [header = '', payload = '', signature = ''] = token.split('.');
  return [header, payload, signature];
}

describe('development issuer endpoints', () => {
  it('publishes OIDC metadata under the issuer path', async () => {
    const response = await fetch(`${issuerUrl}/.well-known/openid-configuration`);

    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      issuer: issuerUrl,
      jwks_uri: `${issuerUrl}/keys`,
      token_endpoint: `${origin}/dev/token`,
      id_token_signing_alg_values_supported: ['RS256'],
    });
  });

  it('publishes the public key only, with kid, use and alg', async () => {
    const response = await fetch(`${issuerUrl}/keys`);
    const jwks = (await response.json()) as { keys: Record<string, unknown>[] };

    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({
      kty: 'RSA',
      use: 'sig',
      alg: 'RS256',
      kid: expect.any(String) as unknown,
    });
    expect(Object.keys(jwks.keys[0] ?? {}).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
  });

  it('keeps its key in the key file (mode 600) and reuses it: tokens survive a restart', async () => {
    const token = await issuer.mint({ upn: 'restart@contoso.com' });
    const restarted = await createDevIssuer({ issuer: issuerUrl, audience: AUDIENCE, keyFile });

    expect(restarted.jwks).toEqual(issuer.jwks);
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    await expect(authenticator().authenticate(bearer(token))).resolves.toMatchObject({
      upn: 'restart@contoso.com',
    });
  });

  it.each([
    { scenario: 'an unknown field', body: { upn: 'a@contoso.com', isAdmin: true } },
    { scenario: 'no upn', body: { roles: ['PAM.Admin'] } },
    { scenario: 'a upn that is not user@domain', body: { upn: 'alice' } },
    { scenario: 'roles that are not strings', body: { upn: 'a@contoso.com', roles: [1] } },
    { scenario: 'a body that is not JSON', body: 'upn=alice@contoso.com' },
    { scenario: 'acrs that is not an array', body: { upn: 'a@contoso.com', acrs: 'c1' } },
    { scenario: 'an acrs value that is no context id', body: { upn: 'a@contoso.com', acrs: ['c100'] } },
    { scenario: 'an amr value that is not a string', body: { upn: 'a@contoso.com', amr: [true] } },
    { scenario: 'an amr value with spaces', body: { upn: 'a@contoso.com', amr: ['m fa'] } },
  ])('POST /dev/token with $scenario → 400 problem+json', async ({ body }) => {
    const response = await requestToken(body);

    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await response.json()).toMatchObject({
      status: 400,
      title: 'Bad Request',
      detail: expect.any(String) as unknown,
    });
  });

  it('GET /dev/token → 405', async () => {
    const response = await fetch(`${origin}/dev/token`);

    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
  });
});

describe('a token minted over HTTP verifies through the app authenticator', () => {
  it('answers the principal, keyed on the dev tenant and a stable per-UPN object id', async () => {
    // Prepare
    const response = await requestToken({ upn: 'Alice@Contoso.com', roles: ['PAM.Admin', 'Not.A.Zsa.Role'] });
    const body = (await response.json()) as Record<string, unknown>;

    // Act
    const principal = await authenticator().authenticate(bearer(String(body['access_token'])));

    // Assess
    expect(response.status).toBe(200);
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
    const oid = devUserId('alice@contoso.com');
    expect(principal).toEqual({
      id: `${DEV_TENANT_ID}:${oid}`,
      tenantId: DEV_TENANT_ID,
      objectId: oid,
      upn: 'alice@contoso.com',
      name: 'alice@contoso.com',
      roles: ['PAM.Admin'],
      isAdmin: true,
      isAuditor: false,
      authMethod: 'bearer',
      strength: { acrs: [], amr: [] },
    });
  });

  it('carries the acrs and amr asked for, so step-up can be tried locally', async () => {
    const token = await tokenFor({ upn: 'dora@contoso.com', acrs: ['c1', 'c2'], amr: ['pwd', 'mfa'] });

    const principal = await authenticator().authenticate(bearer(token));

    expect(principal.strength).toEqual({ acrs: ['c1', 'c2'], amr: ['pwd', 'mfa'] });
    const [, payload] = parts(token);
    expect(JSON.parse(Buffer.from(payload, 'base64url').toString())).toMatchObject({
      acrs: ['c1', 'c2'],
      amr: ['pwd', 'mfa'],
    });
  });

  it('a token whose acrs was raised after signing → 401 INVALID_TOKEN', async () => {
    const [header, payload, signature] = parts(await tokenFor({ upn: 'dora@contoso.com', amr: ['pwd'] }));
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const raised = [header, b64url({ ...claims, acrs: ['c1'], amr: ['pwd', 'mfa'] }), signature].join('.');

    expect(await refusal(authenticator().authenticate(bearer(raised)))).toMatchObject({
      status: 401,
      code: 'INVALID_TOKEN',
    });
  });

  it('gives the same user the same id whatever the case of the UPN', async () => {
    const first = await authenticator().authenticate(bearer(await tokenFor({ upn: 'bob@contoso.com' })));
    const second = await authenticator().authenticate(
      bearer(await tokenFor({ upn: 'BOB@contoso.com', name: 'Bob' })),
    );

    expect(second.id).toBe(first.id);
    expect(second).toMatchObject({ name: 'Bob', roles: [], isAdmin: false });
  });

  it('ignores a forged x-ms-client-principal when Easy Auth is not trusted', async () => {
    const token = await tokenFor({ upn: 'mallory@contoso.com' });
    const forged = Buffer.from(
      JSON.stringify({ auth_typ: 'aad', claims: [{ typ: 'roles', val: 'PAM.Admin' }] }),
    ).toString('base64');
    const headers = bearer(token);
    headers.set('x-ms-client-principal', forged);

    const principal = await authenticator().authenticate(headers);

    expect(principal).toMatchObject({ upn: 'mallory@contoso.com', isAdmin: false, authMethod: 'bearer' });
  });
});

describe('tokens the authenticator must refuse', () => {
  let good: string;

  beforeAll(async () => {
    good = await tokenFor({ upn: 'carol@contoso.com', roles: ['PAM.Auditor'] });
  });

  it('no Authorization header → 401 MISSING_TOKEN', async () => {
    expect(await refusal(authenticator().authenticate(new Headers()))).toMatchObject({
      status: 401,
      code: 'MISSING_TOKEN',
    });
  });

  it('a tampered payload (roles raised to admin) → 401 INVALID_TOKEN, without echoing the token', async () => {
    const [header, payload, signature] = parts(good);
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const tampered = [header, b64url({ ...claims, roles: ['PAM.Admin'] }), signature].join('.');

    const result = await refusal(authenticator().authenticate(bearer(tampered)));

    expect(result).toMatchObject({ status: 401, code: 'INVALID_TOKEN' });
    expect(result.message).not.toContain('carol');
    expect(result.message).not.toContain(signature.slice(0, 20));
  });

  it('a tampered signature → 401 INVALID_TOKEN', async () => {
    const [header, payload, signature] = parts(good);
    const bytes = Buffer.from(signature, 'base64url');
    bytes[100] = (bytes[100] ?? 0) ^ 0xff;
    const tampered = [header, payload, bytes.toString('base64url')].join('.');

    expect(await refusal(authenticator().authenticate(bearer(tampered)))).toMatchObject({
      status: 401,
      code: 'INVALID_TOKEN',
    });
  });

  it.each([
    { scenario: 'with an empty signature', signature: () => '' },
    { scenario: 'keeping the original signature', signature: () => parts(good)[2] },
  ])('alg:none $scenario → 401 INVALID_TOKEN', async ({ signature }) => {
    const [, payload] = parts(good);
    const unsecured = [b64url({ alg: 'none', typ: 'JWT' }), payload, signature()].join('.');

    expect(await refusal(authenticator().authenticate(bearer(unsecured)))).toMatchObject({
      status: 401,
      code: 'INVALID_TOKEN',
    });
  });

  it('HS256 "signed" with the published public key (PEM and JWK forms) → 401 INVALID_TOKEN', async () => {
    const [, payload] = parts(good);
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const publicJwk = issuer.jwks.keys[0] ?? {};
    const publicKey = await importJWK(publicJwk, 'RS256', { extractable: true });
    if (publicKey instanceof Uint8Array) throw new Error('the published key must be an RSA key');
    const pem = await exportSPKI(publicKey);
    const { kid } = decodeProtectedHeader(good);
    const secrets = [new TextEncoder().encode(pem), new TextEncoder().encode(JSON.stringify(publicJwk))];

    for (const secret of secrets) {
      const forged = await new SignJWT({ ...claims, roles: ['PAM.Admin'] })
        .setProtectedHeader({ alg: 'HS256', kid: kid ?? '', typ: 'JWT' })
        .sign(secret);

      expect(await refusal(authenticator().authenticate(bearer(forged)))).toMatchObject({
        status: 401,
        code: 'INVALID_TOKEN',
      });
    }
  });

  it('a token for another audience → 401 INVALID_TOKEN', async () => {
    const result = await refusal(
      authenticator({ audience: 'api://someone-else' }).authenticate(bearer(good)),
    );

    expect(result).toMatchObject({ status: 401, code: 'INVALID_TOKEN' });
  });

  it('a token from another issuer, signed by a key we trust → 401 INVALID_TOKEN', async () => {
    const fromOther = await otherIssuer.mint({ upn: 'carol@contoso.com', roles: ['PAM.Admin'] });

    expect(decodeProtectedHeader(fromOther).kid).toBe(decodeProtectedHeader(good).kid);
    expect(await refusal(authenticator().authenticate(bearer(fromOther)))).toMatchObject({
      status: 401,
      code: 'INVALID_TOKEN',
    });
  });

  it('an expired token → 401 TOKEN_EXPIRED; within the clock tolerance it still passes', async () => {
    const token = await issuer.mint({ upn: 'dave@contoso.com', lifetimeSeconds: 60 });
    const at = (offsetSeconds: number) => () => new Date(Date.now() + offsetSeconds * 1000);

    const expired = await refusal(authenticator({ now: at(60 + 61) }).authenticate(bearer(token)));
    const withinSkew = await authenticator({ now: at(60 + 30) }).authenticate(bearer(token));

    expect(expired).toMatchObject({ status: 401, code: 'TOKEN_EXPIRED' });
    expect(withinSkew.upn).toBe('dave@contoso.com');
  });

  it.each([
    {
      scenario: 'without exp (it would never expire)',
      edit: ({ exp: _exp, ...rest }: Record<string, unknown>) => rest,
    },
    {
      scenario: 'whose tid is not a GUID',
      edit: (claims: Record<string, unknown>) => ({ ...claims, tid: 'contoso' }),
    },
    {
      scenario: 'without any user name claim',
      edit: ({ upn: _upn, preferred_username: _username, ...rest }: Record<string, unknown>) => rest,
    },
  ])('a token signed by the trusted key but $scenario → 401 INVALID_TOKEN', async ({ edit }) => {
    // The key file holds the issuer's private key: sign exactly the claims we want.
    const privateKey = await importJWK(
      JSON.parse(await readFile(keyFile, 'utf8')) as Record<string, string>,
      'RS256',
    );
    const [, payload] = parts(good);
    const kept = edit(JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>);
    const token = await new SignJWT(kept)
      .setProtectedHeader({ alg: 'RS256', kid: decodeProtectedHeader(good).kid ?? '' })
      .sign(privateKey);

    expect(await refusal(authenticator().authenticate(bearer(token)))).toMatchObject({
      status: 401,
      code: 'INVALID_TOKEN',
    });
  });

  it('a token not yet valid (nbf beyond the skew) → 401 INVALID_TOKEN', async () => {
    const result = await refusal(
      authenticator({ now: () => new Date(Date.now() - 5 * 60_000) }).authenticate(bearer(good)),
    );

    expect(result).toMatchObject({ status: 401, code: 'INVALID_TOKEN' });
  });
});

describe('key rotation', () => {
  it('refuses a token signed by an unknown key, then accepts it once the issuer publishes that key', async () => {
    // Prepare: the authenticator has fetched the current key set.
    const auth = authenticator({ jwksCooldownSeconds: 0 });
    await auth.authenticate(bearer(await issuer.mint({ upn: 'erin@contoso.com' })));
    const rotated = await createDevIssuer({ issuer: issuerUrl, audience: AUDIENCE });
    const withNewKey = await rotated.mint({ upn: 'erin@contoso.com' });
    const withOldKey = await issuer.mint({ upn: 'erin@contoso.com' });

    // Act + Assess: before rotation the new kid is unknown, even after a refetch.
    expect(await refusal(auth.authenticate(bearer(withNewKey)))).toMatchObject({
      status: 401,
      code: 'INVALID_TOKEN',
    });

    served[0] = rotated;
    try {
      // The unknown kid makes the authenticator refetch the key set, and the new key is there.
      await expect(auth.authenticate(bearer(withNewKey))).resolves.toMatchObject({ upn: 'erin@contoso.com' });
      // A refetch is triggered only by an unknown kid; the old key is still cached here, so force
      // a fresh authenticator to see that the old key is no longer published.
      expect(await refusal(authenticator().authenticate(bearer(withOldKey)))).toMatchObject({
        status: 401,
        code: 'INVALID_TOKEN',
      });
    } finally {
      served[0] = issuer;
    }
  });

  it('within the refetch cooldown an unknown kid is refused without refetching', async () => {
    const auth = authenticator({ jwksCooldownSeconds: 30 });
    await auth.authenticate(bearer(await issuer.mint({ upn: 'frank@contoso.com' })));
    const rotated = await createDevIssuer({ issuer: issuerUrl, audience: AUDIENCE });
    served[0] = rotated;
    try {
      const result = await refusal(
        auth.authenticate(bearer(await rotated.mint({ upn: 'frank@contoso.com' }))),
      );

      expect(result).toMatchObject({ status: 401, code: 'INVALID_TOKEN' });
    } finally {
      served[0] = issuer;
    }
  });
});

describe('issuer metadata problems fail closed with 503', () => {
  it('metadata naming another issuer (configured with a trailing slash) → AuthUnavailableError', async () => {
    const token = await issuer.mint({ upn: 'grace@contoso.com' });

    const result = await refusal(authenticator({ issuer: `${issuerUrl}/` }).authenticate(bearer(token)));

    expect(result).toMatchObject({ name: 'AuthUnavailableError', status: 503, code: 'AUTH_UNAVAILABLE' });
  });

  it('an unreachable issuer → AuthUnavailableError, and a later call tries again', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => {
      closed.close(() => {
        resolve();
      });
    });
    const auth = authenticator({ issuer: `http://127.0.0.1:${port}/dev` });
    const token = await issuer.mint({ upn: 'grace@contoso.com' });

    const first = await refusal(auth.authenticate(bearer(token)));
    const second = await refusal(auth.authenticate(bearer(token)));

    expect(first).toMatchObject({ status: 503, code: 'AUTH_UNAVAILABLE' });
    expect(second).toMatchObject({ status: 503, code: 'AUTH_UNAVAILABLE' });
  });

  it('an issuer path without metadata (404) → AuthUnavailableError', async () => {
    const token = await issuer.mint({ upn: 'grace@contoso.com' });

    const result = await refusal(authenticator({ issuer: `${origin}/nowhere` }).authenticate(bearer(token)));

    expect(result).toMatchObject({ status: 503, code: 'AUTH_UNAVAILABLE' });
  });
});
