/**
 * The development issuer's authorization code flow with PKCE, over real HTTP, driven by the same
 * OIDC library (oidc-client-ts) the portal signs in with.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { InMemoryWebStorage, OidcClient, WebStorageStateStore } from 'oidc-client-ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthenticator } from '#shared/auth/authenticator';
import { createDevIssuer, DEV_TENANT_ID, devUserId, type DevIssuer } from '@zsa/local-host';

const AUDIENCE = 'api://zsa-sign-in-test';
const CLIENT_ID = 'zsa-portal';

let server: Server;
let origin: string;
let issuerUrl: string;
let issuer: DevIssuer;
let redirectUri: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void (async () => {
        if (await issuer.handle(req, res, Buffer.concat(chunks))) return;
        res.writeHead(404).end();
      })().catch(() => res.writeHead(500).end());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  issuerUrl = `${origin}/dev`;
  redirectUri = `${origin}/`;
  issuer = await createDevIssuer({ issuer: issuerUrl, audience: AUDIENCE });
});

afterAll(async () => {
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
});

/** An OIDC client as the portal makes one, with its state kept in memory instead of the browser's storage. */
function oidcClient(overrides: { redirect_uri?: string } = {}): OidcClient {
  return new OidcClient({
    authority: issuerUrl,
    client_id: CLIENT_ID,
    redirect_uri: overrides.redirect_uri ?? redirectUri,
    response_type: 'code',
    scope: `openid profile offline_access ${AUDIENCE}/.default`,
    stateStore: new WebStorageStateStore({ store: new InMemoryWebStorage() }),
  });
}

function unescapeHtml(value: string): string {
  return value.replace(/&#(\d+);/g, (_match, code: string) => String.fromCharCode(Number(code)));
}

/** The hidden fields of the "Who are you?" form: the authorization request it carries through. */
function hiddenFields(html: string): URLSearchParams {
  const fields = new URLSearchParams();
  for (const match of html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) {
    fields.append(unescapeHtml(match[1] ?? ''), unescapeHtml(match[2] ?? ''));
  }
  return fields;
}

interface Person {
  upn: string;
  name?: string;
  roles?: string[];
  acrs?: string[];
  mfa?: boolean;
}

/** Opens the sign-in page at `url`, fills it in as `person` and submits it; answers the POST's response. */
async function signInAs(url: string, person: Person): Promise<{ page: string; response: Response }> {
  const page = await fetch(url);
  expect(page.status).toBe(200);
  const html = await page.text();
  const form = hiddenFields(html);
  form.set('upn', person.upn);
  if (person.name !== undefined) form.set('name', person.name);
  for (const role of person.roles ?? []) form.append('roles', role);
  for (const acr of person.acrs ?? []) form.append('acrs', acr);
  if (person.mfa === true) form.set('mfa', 'true');
  const response = await fetch(`${issuerUrl}/authorize`, { method: 'POST', body: form, redirect: 'manual' });
  return { page: html, response };
}

async function tokenGrant(fields: Record<string, string | undefined>): Promise<Response> {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) if (value !== undefined) body.set(name, value);
  return fetch(`${origin}/dev/token`, { method: 'POST', body });
}

/** Runs the flow up to the redirect back to the app; answers the code and what the client sent. */
async function codeFor(person: Person, extraQueryParams: Record<string, string> = {}) {
  const request = await oidcClient().createSigninRequest({ nonce: 'n-0S6_WzA2Mj', extraQueryParams });
  const sent = new URL(request.url).searchParams;
  const { response } = await signInAs(request.url, person);
  expect(response.status).toBe(302);
  const back = new URL(response.headers.get('location') ?? '');
  const verifier = request.state.code_verifier ?? '';
  return { code: back.searchParams.get('code') ?? '', back, sent, verifier };
}

describe('metadata', () => {
  it('advertises the code flow with PKCE S256, refresh tokens and the end-session endpoint', async () => {
    const response = await fetch(`${issuerUrl}/.well-known/openid-configuration`);

    expect(await response.json()).toMatchObject({
      issuer: issuerUrl,
      authorization_endpoint: `${issuerUrl}/authorize`,
      token_endpoint: `${origin}/dev/token`,
      end_session_endpoint: `${issuerUrl}/logout`,
      jwks_uri: `${issuerUrl}/keys`,
      response_types_supported: ['code'],
      code_challenge_methods_supported: ['S256'],
      grant_types_supported: ['authorization_code', 'refresh_token'],
      scopes_supported: expect.arrayContaining(['openid', `${AUDIENCE}/.default`]) as unknown,
    });
  });
});

describe('the whole code flow, as oidc-client-ts drives it', () => {
  it('signs a person in: an access token for the API, an id token that verifies and carries the nonce', async () => {
    // Prepare
    const client = oidcClient();
    const request = await client.createSigninRequest({ nonce: 'n-0S6_WzA2Mj' });
    const { page, response } = await signInAs(request.url, {
      upn: 'Alice@Contoso.com',
      name: 'Alice Example',
      roles: ['PAM.Admin'],
    });
    const location = response.headers.get('location') ?? '';

    // Act
    const signedIn = await client.processSigninResponse(location);

    // Assess: the page, the redirect, the tokens.
    expect(page).toContain('<title>Who are you?');
    expect(response.status).toBe(302);
    expect(new URL(location).searchParams.get('iss')).toBe(issuerUrl);
    expect(signedIn).toMatchObject({ token_type: 'Bearer', expires_in: expect.any(Number) as unknown });
    const principal = await createAuthenticator({
      issuer: issuerUrl,
      audience: AUDIENCE,
      trustEasyAuth: false,
    }).authenticate(new Headers({ authorization: `Bearer ${signedIn.access_token}` }));
    const oid = devUserId('alice@contoso.com');
    expect(principal).toMatchObject({
      id: `${DEV_TENANT_ID}:${oid}`,
      upn: 'alice@contoso.com',
      name: 'Alice Example',
      roles: ['PAM.Admin'],
      strength: { acrs: [], amr: ['pwd'] },
    });
    const { payload } = await jwtVerify(
      signedIn.id_token ?? '',
      createRemoteJWKSet(new URL(`${issuerUrl}/keys`)),
      { issuer: issuerUrl, audience: CLIENT_ID, algorithms: ['RS256'] },
    );
    expect(payload).toMatchObject({
      sub: oid,
      oid,
      tid: DEV_TENANT_ID,
      preferred_username: 'alice@contoso.com',
      name: 'Alice Example',
      nonce: 'n-0S6_WzA2Mj',
      auth_time: expect.any(Number) as unknown,
    });
    expect(signedIn.refresh_token).toEqual(expect.any(String));
  });

  it('the next sign-in page remembers the last person and the roles they took', async () => {
    await codeFor({ upn: 'ruth@contoso.com', name: 'Ruth', roles: ['PAM.Auditor'] });

    const request = await oidcClient().createSigninRequest({});
    const page = await (await fetch(request.url)).text();

    expect(page).toContain('value="ruth@contoso.com"');
    expect(page).toContain('value="Ruth"');
    expect(page).toMatch(/name="roles" value="PAM\.Auditor" checked>/);
    expect(page).toMatch(/name="roles" value="PAM\.Admin">/);
  });

  it('a claims challenge offers its authentication contexts, and the access token carries them', async () => {
    const claims = JSON.stringify({ access_token: { acrs: { essential: true, value: 'c1' } } });
    const request = await oidcClient().createSigninRequest({
      login_hint: 'bob@contoso.com',
      extraQueryParams: { claims },
    });
    const page = await (await fetch(request.url)).text();

    const { back, verifier, code } = await (async () => {
      const { response } = await signInAs(request.url, { upn: 'bob@contoso.com', acrs: ['c1'], mfa: true });
      const location = new URL(response.headers.get('location') ?? '');
      return {
        back: location,
        verifier: request.state.code_verifier ?? '',
        code: location.searchParams.get('code') ?? '',
      };
    })();
    const tokens = (await (
      await tokenGrant({
        grant_type: 'authorization_code',
        code,
        redirect_uri: redirectUri,
        client_id: CLIENT_ID,
        code_verifier: verifier,
      })
    ).json()) as { access_token: string };

    expect(page).toContain('value="bob@contoso.com"');
    expect(page).toMatch(
      /name="acrs" value="c1" checked> Completed the extra check for authentication context c1/,
    );
    expect(page).toMatch(/name="mfa" value="true" checked> Signed in with MFA/);
    expect(back.searchParams.get('state')).toBe(request.state.id);
    expect(decodeJwt(tokens.access_token)).toMatchObject({
      aud: AUDIENCE,
      acrs: ['c1'],
      amr: ['pwd', 'mfa'],
    });
  });
});

describe('an MFA challenge', () => {
  it.each([
    { claims: undefined, ticked: false },
    { claims: { access_token: { amr: { essential: true, values: ['mfa'] } } }, ticked: true },
    { claims: { access_token: { amr: { essential: true, value: 'mfa' } } }, ticked: true },
    { claims: { access_token: { amr: { essential: true, values: ['pwd'] } } }, ticked: false },
  ])('claims $claims → "Signed in with MFA" ticked: $ticked', async ({ claims, ticked }) => {
    // Prepare: the challenge ZSA sends for approverAuthContext "mfa" (shared/domain/step-up.ts).
    const request = await oidcClient().createSigninRequest({
      login_hint: 'bob@contoso.com',
      ...(claims ? { extraQueryParams: { claims: JSON.stringify(claims) } } : {}),
    });

    // Act
    const page = await (await fetch(request.url)).text();

    // Assess
    expect(page.includes('name="mfa" value="true" checked>')).toBe(ticked);
    expect(page).toContain('name="mfa" value="true"');
  });
});

describe('what the token endpoint refuses', () => {
  it('a wrong code_verifier → invalid_grant, and the code is spent', async () => {
    const { code, verifier } = await codeFor({ upn: 'mallory@contoso.com' });
    const grant = { grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: CLIENT_ID };

    const wrong = await tokenGrant({ ...grant, code_verifier: `${verifier.slice(0, -1)}x` });
    const right = await tokenGrant({ ...grant, code_verifier: verifier });

    expect(wrong.status).toBe(400);
    expect(await wrong.json()).toMatchObject({
      error: 'invalid_grant',
      error_description: expect.any(String) as unknown,
    });
    expect(right.status).toBe(400);
  });

  it('a code used twice → invalid_grant the second time', async () => {
    const { code, verifier } = await codeFor({ upn: 'erin@contoso.com' });
    const grant = {
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      client_id: CLIENT_ID,
      code_verifier: verifier,
    };

    const first = await tokenGrant(grant);
    const second = await tokenGrant(grant);

    expect(first.status).toBe(200);
    expect(second.status).toBe(400);
    expect(await second.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it.each([
    { scenario: 'another redirect_uri', edit: { redirect_uri: 'http://127.0.0.1:1/elsewhere' } },
    { scenario: 'another client_id', edit: { client_id: 'someone-else' } },
  ])('a code presented with $scenario → invalid_grant', async ({ edit }) => {
    const { code, verifier } = await codeFor({ upn: 'erin@contoso.com' });

    const response = await tokenGrant({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      client_id: CLIENT_ID,
      code_verifier: verifier,
      ...edit,
    });

    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('a JSON body labelled as a form (curl -d without a content type) still mints as before', async () => {
    const response = await fetch(`${origin}/dev/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: JSON.stringify({ upn: 'curl@contoso.com' }),
    });

    expect(response.status).toBe(200);
    expect(decodeJwt(((await response.json()) as { access_token: string }).access_token)).toMatchObject({
      upn: 'curl@contoso.com',
    });
  });

  it.each([
    {
      scenario: 'an unknown grant type',
      fields: { grant_type: 'password', username: 'a', password: 'b' },
      error: 'unsupported_grant_type',
    },
    {
      scenario: 'no code_verifier',
      fields: {
        grant_type: 'authorization_code',
        code: 'x',
        redirect_uri: 'http://127.0.0.1/',
        client_id: 'c',
      },
      error: 'invalid_request',
    },
  ])('$scenario → 400 $error', async ({ fields, error }) => {
    const response = await tokenGrant(fields);

    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error });
  });
});

describe('codes and refresh tokens expire', () => {
  it('a code after 60 s and a refresh token after 24 h → invalid_grant; just before, they work', async () => {
    // Prepare: a second issuer on the same server path, whose clock the test moves.
    let clock = Date.now();
    const timed = await createDevIssuer({ issuer: issuerUrl, audience: AUDIENCE, now: () => clock });
    const served = issuer;
    issuer = timed;
    try {
      const late = await codeFor({ upn: 'gail@contoso.com' });
      const onTime = await codeFor({ upn: 'gail@contoso.com' });
      const exchange = (flow: typeof late) =>
        tokenGrant({
          grant_type: 'authorization_code',
          code: flow.code,
          redirect_uri: redirectUri,
          client_id: CLIENT_ID,
          code_verifier: flow.verifier,
        });
      const refresh = (token: string) =>
        tokenGrant({ grant_type: 'refresh_token', refresh_token: token, client_id: CLIENT_ID });

      // Act
      clock += 59_000;
      const inTime = await exchange(onTime);
      clock += 1_000;
      const expired = await exchange(late);
      const { refresh_token: first = '' } = (await inTime.json()) as { refresh_token?: string };
      clock += 24 * 3600_000 - 2_000; // 1 s before the refresh token issued at +59 s expires
      const renewed = await refresh(first);
      const { refresh_token: second = '' } = (await renewed.json()) as { refresh_token?: string };
      clock += 24 * 3600_000;
      const stale = await refresh(second);

      // Assess
      expect(inTime.status).toBe(200);
      expect(expired.status).toBe(400);
      expect(renewed.status).toBe(200);
      expect(stale.status).toBe(400);
      expect(await stale.json()).toMatchObject({ error: 'invalid_grant' });
    } finally {
      issuer = served;
    }
  });
});

describe('the app opened as localhost rather than 127.0.0.1', () => {
  it('signs in with a redirect_uri on localhost (same port), and lets that origin read the answers', async () => {
    const local = origin.replace('127.0.0.1', 'localhost');
    const client = oidcClient({ redirect_uri: `${local}/` });
    const request = await client.createSigninRequest({});
    const { response } = await signInAs(request.url, { upn: 'lee@contoso.com' });
    const back = new URL(response.headers.get('location') ?? '');

    const tokens = await fetch(`${origin}/dev/token`, {
      method: 'POST',
      headers: { origin: local },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: back.searchParams.get('code') ?? '',
        redirect_uri: `${local}/`,
        client_id: CLIENT_ID,
        code_verifier: request.state.code_verifier ?? '',
      }),
    });
    const metadata = await fetch(`${issuerUrl}/.well-known/openid-configuration`, {
      headers: { origin: 'http://evil.example' },
    });

    expect(back.origin).toBe(local);
    expect(tokens.status).toBe(200);
    expect(tokens.headers.get('access-control-allow-origin')).toBe(local);
    expect(metadata.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('refresh tokens rotate', () => {
  it('a refresh token gives new tokens for the same person once; the old one is then refused', async () => {
    const client = oidcClient();
    const request = await client.createSigninRequest({ nonce: 'n-refresh' });
    const { response } = await signInAs(request.url, { upn: 'frank@contoso.com', roles: ['PAM.Auditor'] });
    const signedIn = await client.processSigninResponse(response.headers.get('location') ?? '');
    const first = signedIn.refresh_token ?? '';

    const refreshed = await tokenGrant({
      grant_type: 'refresh_token',
      refresh_token: first,
      client_id: CLIENT_ID,
    });
    const body = (await refreshed.json()) as Record<string, string>;
    const replayed = await tokenGrant({
      grant_type: 'refresh_token',
      refresh_token: first,
      client_id: CLIENT_ID,
    });

    expect(refreshed.status).toBe(200);
    expect(body['refresh_token']).toEqual(expect.any(String));
    expect(body['refresh_token']).not.toBe(first);
    expect(decodeJwt(body['access_token'] ?? '')).toMatchObject({
      upn: 'frank@contoso.com',
      roles: ['PAM.Auditor'],
    });
    expect(decodeJwt(body['id_token'] ?? '')).toMatchObject({
      aud: CLIENT_ID,
      sub: devUserId('frank@contoso.com'),
      auth_time: decodeJwt(signedIn.id_token ?? '').auth_time,
    });
    expect(replayed.status).toBe(400);
    expect(await replayed.json()).toMatchObject({ error: 'invalid_grant' });
  });
});

describe('what the authorization endpoint refuses', () => {
  const base = () => ({
    client_id: CLIENT_ID,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: 'openid',
    state: 's',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
  });

  it.each([
    { scenario: 'a foreign redirect_uri', edit: { redirect_uri: 'https://evil.example/' } },
    { scenario: 'a redirect_uri on another port', edit: { redirect_uri: 'http://127.0.0.1:1/' } },
    { scenario: 'response_type token', edit: { response_type: 'token' } },
    { scenario: 'no PKCE', edit: { code_challenge: undefined, code_challenge_method: undefined } },
    { scenario: 'PKCE plain', edit: { code_challenge_method: 'plain' } },
    { scenario: 'an empty client_id', edit: { client_id: '' } },
    { scenario: 'claims that are not JSON', edit: { claims: '{acrs' } },
  ])('GET with $scenario → 400 plain text', async ({ edit }) => {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries({ ...base(), ...edit }))
      if (value !== undefined) query.set(name, value);

    const response = await fetch(`${issuerUrl}/authorize?${query.toString()}`, { redirect: 'manual' });

    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await response.text()).toMatch(/cannot be served/);
  });

  it('a POST whose hidden fields were changed to a foreign redirect_uri → 400, no code handed out', async () => {
    const form = new URLSearchParams({
      ...base(),
      redirect_uri: 'https://evil.example/',
      upn: 'a@contoso.com',
    });

    const response = await fetch(`${issuerUrl}/authorize`, {
      method: 'POST',
      body: form,
      redirect: 'manual',
    });

    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
  });

  it('a UPN that is not user@domain → the page again, 400, with the error next to the field', async () => {
    const form = new URLSearchParams({ ...base(), upn: 'alice', roles: 'PAM.Admin' });

    const response = await fetch(`${issuerUrl}/authorize`, {
      method: 'POST',
      body: form,
      redirect: 'manual',
    });
    const page = await response.text();

    expect(response.status).toBe(400);
    expect(page).toContain('aria-describedby="upn-error"');
    expect(page).toMatch(/<p class="error" id="upn-error">Must look like user@domain/);
    expect(page).toMatch(/name="roles" value="PAM\.Admin" checked>/);
  });

  it('the page forbids script and framing through its own policy', async () => {
    const query = new URLSearchParams(base());

    const response = await fetch(`${issuerUrl}/authorize?${query.toString()}`);
    const page = await response.text();

    expect(response.headers.get('content-security-policy')).toBe(
      "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    );
    expect(page).not.toMatch(/<script/i);
    expect(page).toMatch(/<label for="upn">User principal name<\/label>/);
    expect(page).toMatch(
      /<label for="role-0"><input type="checkbox" id="role-0" name="roles" value="PAM.Admin"> Admin \(PAM.Admin\)/,
    );
    expect(page).toContain('<button type="submit">Continue</button>');
  });

  it('prompt=none → back to the app with login_required (there is no session to reuse)', async () => {
    const query = new URLSearchParams({ ...base(), prompt: 'none' });

    const response = await fetch(`${issuerUrl}/authorize?${query.toString()}`, { redirect: 'manual' });
    const back = new URL(response.headers.get('location') ?? '');

    expect(response.status).toBe(302);
    expect(back.searchParams.get('error')).toBe('login_required');
    expect(back.searchParams.get('state')).toBe('s');
  });
});

describe('logout', () => {
  it('redirects to a post_logout_redirect_uri on this host, with the state', async () => {
    const query = new URLSearchParams({ post_logout_redirect_uri: `${origin}/signed-out`, state: 'xyz' });

    const response = await fetch(`${issuerUrl}/logout?${query.toString()}`, { redirect: 'manual' });

    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe(`${origin}/signed-out?state=xyz`);
  });

  it('shows "Signed out" instead of redirecting to another site', async () => {
    const query = new URLSearchParams({ post_logout_redirect_uri: 'https://evil.example/' });

    const response = await fetch(`${issuerUrl}/logout?${query.toString()}`, { redirect: 'manual' });

    expect(response.status).toBe(200);
    expect(await response.text()).toContain('<h1>Signed out</h1>');
  });
});
