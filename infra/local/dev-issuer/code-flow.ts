/**
 * OpenID Connect authorization code flow with PKCE for the development issuer, shaped as a browser
 * app's OIDC library (oidc-client-ts) drives it against Entra ID, so the portal signs in through
 * one code path on the local host and in Azure.
 *
 * Everything it remembers (codes, refresh tokens, the roles each UPN took last) lives in memory:
 * a restart signs everyone out, which is fine for a development host.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import {
  DEV_ROLES,
  renderSignedOutPage,
  renderSignInPage,
  SIGN_IN_CONTENT_SECURITY_POLICY,
} from './sign-in-page';

/** Who signed in, as the "Who are you?" page states it; the tokens carry exactly this. */
export interface SignedInIdentity {
  readonly upn: string;
  readonly name?: string | undefined;
  readonly roles: readonly string[];
  readonly acrs: readonly string[];
  readonly amr: readonly string[];
}

export interface CodeFlowOptions {
  /** The issuer URL (`iss`), e.g. `http://127.0.0.1:7071/dev`. */
  readonly issuer: string;
  readonly paths: { readonly authorize: string; readonly logout: string };
  /** An access token exactly as `POST /dev/token` mints it for this identity. */
  readonly accessToken: (identity: SignedInIdentity) => Promise<string>;
  readonly idToken: (claims: IdTokenClaims) => Promise<string>;
  readonly accessTokenLifetimeSeconds: number;
  readonly now?: () => number;
}

export interface IdTokenClaims {
  readonly identity: SignedInIdentity;
  readonly clientId: string;
  readonly nonce?: string | undefined;
  /** When the person signed in (seconds), kept across refreshes. */
  readonly authTime: number;
}

export interface CodeFlow {
  /** `GET`/`POST` on the authorize and logout paths; answers true when the request was one of them. */
  handle(req: IncomingMessage, res: ServerResponse, body: Buffer, path: string): boolean;
  /** `POST /dev/token` with a form body: the `authorization_code` and `refresh_token` grants. */
  token(res: ServerResponse, body: Buffer): Promise<void>;
}

const CODE_LIFETIME_MS = 60_000;
const REFRESH_LIFETIME_MS = 24 * 3600_000;
// Bounds on what the in-memory stores may hold, so a loop hammering the endpoints cannot grow them
// without end; expired entries are dropped first.
const MAX_CODES = 1_000;
const MAX_REFRESH_TOKENS = 10_000;
const MAX_REMEMBERED_USERS = 1_000;
const MAX_FORM_BYTES = 16 * 1024;

const UpnSchema = z
  .string()
  .trim()
  .min(1, 'Enter a user principal name such as alice@contoso.com.')
  .max(256, 'At most 256 characters.')
  .regex(/^[^\s@]+@[^\s@]+$/, 'Must look like user@domain, such as alice@contoso.com.');

const AcrSchema = z.string().regex(/^c[1-9][0-9]?$/);

/** What a client may send to the authorization endpoint. Unknown parameters are ignored, as OAuth asks. */
const AuthorizeRequestSchema = z.object({
  client_id: z.string().trim().min(1, 'client_id is missing.').max(256),
  redirect_uri: z.string().min(1, 'redirect_uri is missing.').max(2048),
  response_type: z.literal('code', 'response_type must be "code" (authorization code flow).'),
  scope: z.string().max(2048).optional(),
  state: z.string().max(4096).optional(),
  nonce: z.string().max(512).optional(),
  code_challenge: z
    .string('PKCE is required: code_challenge is missing.')
    .regex(/^[A-Za-z0-9_-]{43}$/, 'code_challenge must be a base64url SHA-256 digest (43 characters).'),
  code_challenge_method: z.literal('S256', 'PKCE code_challenge_method must be S256.'),
  login_hint: z.string().max(256).optional(),
  claims: z.string().max(4096).optional(),
  prompt: z.string().max(64).optional(),
});
type AuthorizeRequest = z.output<typeof AuthorizeRequestSchema>;

/** The identity part of the "Who are you?" form. */
const IdentityFormSchema = z.object({
  upn: UpnSchema,
  name: z
    .string()
    .trim()
    .max(256)
    .transform((name) => (name === '' ? undefined : name))
    .optional(),
  roles: z.array(z.enum(DEV_ROLES.map((role) => role.value))).max(DEV_ROLES.length),
  acrs: z.array(AcrSchema).max(99),
  mfa: z.literal('true').optional(),
});

const TokenGrantSchema = z.discriminatedUnion('grant_type', [
  z.object({
    grant_type: z.literal('authorization_code'),
    code: z.string().min(1).max(256),
    redirect_uri: z.string().min(1).max(2048),
    client_id: z.string().min(1).max(256),
    code_verifier: z.string().regex(/^[A-Za-z0-9._~-]{43,128}$/, 'code_verifier must be 43-128 characters.'),
  }),
  z.object({
    grant_type: z.literal('refresh_token'),
    refresh_token: z.string().min(1).max(256),
    client_id: z.string().min(1).max(256),
    scope: z.string().max(2048).optional(),
  }),
]);

/**
 * The `claims` request parameter: authentication contexts (`acrs` with `value` or `values`) and
 * multi-factor sign-in (`amr` with `mfa`), the two challenges ZSA's API sends.
 */
const ClaimsParameterSchema = z.object({
  access_token: z
    .object({
      acrs: z
        .object({ value: AcrSchema.optional(), values: z.array(AcrSchema).max(99).optional() })
        .optional(),
      amr: z
        .object({
          value: z.string().max(64).optional(),
          values: z.array(z.string().max(64)).max(99).optional(),
        })
        .optional(),
    })
    .optional(),
});

interface IssuedCode {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly codeChallenge: string;
  readonly nonce?: string | undefined;
  readonly scope: string;
  readonly identity: SignedInIdentity;
  readonly authTime: number;
  readonly expiresAt: number;
}

interface IssuedRefreshToken {
  readonly clientId: string;
  readonly scope: string;
  readonly identity: SignedInIdentity;
  readonly authTime: number;
  readonly expiresAt: number;
}

export function createCodeFlow(options: CodeFlowOptions): CodeFlow {
  const now = options.now ?? Date.now;
  const origin = new URL(options.issuer).origin;
  const ownOrigins = loopbackOrigins(options.issuer);
  const codes = new Map<string, IssuedCode>();
  const refreshTokens = new Map<string, IssuedRefreshToken>();
  // What a real directory knows: the roles each person holds. Remembered per UPN so that signing
  // in again (after a step-up challenge, say) does not silently drop a role.
  const remembered = new Map<string, { roles: readonly string[]; name?: string | undefined }>();
  let lastUpn: string | undefined;

  const handle = (req: IncomingMessage, res: ServerResponse, body: Buffer, path: string): boolean => {
    const method = req.method ?? 'GET';
    if (path === options.paths.authorize) {
      if (method === 'GET') {
        authorizePage(req, res);
        return true;
      }
      if (method === 'POST') {
        authorizeSubmit(res, body);
        return true;
      }
      methodNotAllowed(res, 'GET, POST');
      return true;
    }
    if (path === options.paths.logout) {
      if (method !== 'GET') {
        methodNotAllowed(res, 'GET');
        return true;
      }
      logout(req, res);
      return true;
    }
    return false;
  };

  function authorizePage(req: IncomingMessage, res: ServerResponse): void {
    const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
    const checked = checkAuthorizeRequest(firstValues(query));
    if (!checked.ok) {
      plainText(res, 400, checked.reason);
      return;
    }
    const { request, contexts, mfa } = checked;
    // No session to reuse silently: a client asking for a sign-in without a page learns it must show one.
    if (request.prompt === 'none') {
      redirect(res, request.redirect_uri, {
        error: 'login_required',
        state: request.state,
        iss: options.issuer,
      });
      return;
    }
    const upn = (request.login_hint ?? lastUpn ?? '').trim().toLowerCase();
    const known = remembered.get(upn);
    sendPage(
      res,
      200,
      renderSignInPage({
        request: echo(request),
        action: options.paths.authorize,
        upn,
        name: known?.name ?? '',
        roles: known?.roles ?? [],
        contexts,
        // A client asking for an authentication context or for MFA is asking for a stronger sign-in.
        mfa: mfa || contexts.length > 0,
      }),
    );
  }

  function authorizeSubmit(res: ServerResponse, body: Buffer): void {
    if (body.length > MAX_FORM_BYTES) {
      plainText(res, 413, 'The form is too large.');
      return;
    }
    const form = new URLSearchParams(body.toString('utf8'));
    const checked = checkAuthorizeRequest(firstValues(form));
    if (!checked.ok) {
      plainText(res, 400, checked.reason);
      return;
    }
    const { request, contexts } = checked;
    const parsed = IdentityFormSchema.safeParse({
      upn: form.get('upn') ?? '',
      name: form.get('name') ?? undefined,
      roles: form.getAll('roles'),
      acrs: form.getAll('acrs'),
      mfa: form.get('mfa') ?? undefined,
    });
    if (!parsed.success) {
      const upnIssue = parsed.error.issues.find((issue) => issue.path[0] === 'upn');
      if (upnIssue === undefined) {
        plainText(res, 400, `The form is not one this page sends: ${parsed.error.issues[0]?.message ?? ''}`);
        return;
      }
      sendPage(
        res,
        400,
        renderSignInPage({
          request: echo(request),
          action: options.paths.authorize,
          upn: form.get('upn') ?? '',
          name: form.get('name') ?? '',
          roles: form.getAll('roles'),
          contexts,
          mfa: form.get('mfa') === 'true',
          upnError: upnIssue.message,
        }),
      );
      return;
    }
    const upn = parsed.data.upn.toLowerCase();
    const identity: SignedInIdentity = {
      upn,
      name: parsed.data.name,
      roles: parsed.data.roles,
      acrs: [...new Set(parsed.data.acrs)],
      amr: parsed.data.mfa === undefined ? ['pwd'] : ['pwd', 'mfa'],
    };
    remember(upn, { roles: identity.roles, name: identity.name });
    const code = randomBytes(32).toString('base64url');
    prune(codes, MAX_CODES);
    codes.set(code, {
      clientId: request.client_id,
      redirectUri: request.redirect_uri,
      codeChallenge: request.code_challenge,
      nonce: request.nonce,
      scope: request.scope ?? 'openid',
      identity,
      authTime: Math.floor(now() / 1000),
      expiresAt: now() + CODE_LIFETIME_MS,
    });
    // `iss` tells the client which issuer answered (RFC 9207), against mix-up attacks.
    redirect(res, request.redirect_uri, { code, state: request.state, iss: options.issuer });
  }

  function logout(req: IncomingMessage, res: ServerResponse): void {
    // Tokens are stateless and there is no session cookie, so there is nothing to forget: only
    // send the person back where the app asked, when that is this host.
    const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
    const target = query.get('post_logout_redirect_uri');
    if (target !== null && isOwnUrl(target)) {
      redirect(res, target, { state: query.get('state') ?? undefined });
      return;
    }
    sendPage(res, 200, renderSignedOutPage());
  }

  async function token(res: ServerResponse, body: Buffer): Promise<void> {
    if (body.length > MAX_FORM_BYTES) {
      oauthError(res, 'invalid_request', 'The body is too large.');
      return;
    }
    const parsed = TokenGrantSchema.safeParse(firstValues(new URLSearchParams(body.toString('utf8'))));
    if (!parsed.success) {
      const grant = new URLSearchParams(body.toString('utf8')).get('grant_type');
      if (grant !== null && grant !== 'authorization_code' && grant !== 'refresh_token') {
        oauthError(res, 'unsupported_grant_type', 'Use authorization_code or refresh_token.');
        return;
      }
      oauthError(
        res,
        'invalid_request',
        parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '),
      );
      return;
    }
    const grant = parsed.data;
    if (grant.grant_type === 'authorization_code') {
      const issued = codes.get(grant.code);
      // Single use: the code is gone whether or not this attempt succeeds, so a stolen code that
      // loses the race (or guesses the verifier wrong) can never be tried again.
      codes.delete(grant.code);
      if (issued === undefined || issued.expiresAt <= now()) {
        oauthError(res, 'invalid_grant', 'The code is unknown, expired or already used.');
        return;
      }
      if (issued.clientId !== grant.client_id || issued.redirectUri !== grant.redirect_uri) {
        oauthError(res, 'invalid_grant', 'The code was issued to another client_id or redirect_uri.');
        return;
      }
      const challenge = createHash('sha256').update(grant.code_verifier, 'ascii').digest('base64url');
      if (challenge !== issued.codeChallenge) {
        oauthError(res, 'invalid_grant', 'The code_verifier does not match the code_challenge.');
        return;
      }
      await answerTokens(res, issued, issued.nonce);
      return;
    }
    const issued = refreshTokens.get(grant.refresh_token);
    // Rotating: each refresh token works once and the answer carries its successor.
    refreshTokens.delete(grant.refresh_token);
    if (issued === undefined || issued.expiresAt <= now()) {
      oauthError(res, 'invalid_grant', 'The refresh token is unknown, expired or already used.');
      return;
    }
    if (issued.clientId !== grant.client_id) {
      oauthError(res, 'invalid_grant', 'The refresh token was issued to another client_id.');
      return;
    }
    await answerTokens(res, issued, undefined);
  }

  async function answerTokens(
    res: ServerResponse,
    grant: { clientId: string; scope: string; identity: SignedInIdentity; authTime: number },
    nonce: string | undefined,
  ): Promise<void> {
    const refreshToken = randomBytes(32).toString('base64url');
    prune(refreshTokens, MAX_REFRESH_TOKENS);
    refreshTokens.set(refreshToken, {
      clientId: grant.clientId,
      scope: grant.scope,
      identity: grant.identity,
      authTime: grant.authTime,
      expiresAt: now() + REFRESH_LIFETIME_MS,
    });
    const [accessToken, idToken] = await Promise.all([
      options.accessToken(grant.identity),
      options.idToken({
        identity: grant.identity,
        clientId: grant.clientId,
        nonce,
        authTime: grant.authTime,
      }),
    ]);
    sendJson(res, 200, {
      access_token: accessToken,
      id_token: idToken,
      refresh_token: refreshToken,
      token_type: 'Bearer',
      expires_in: options.accessTokenLifetimeSeconds,
      scope: grant.scope,
    });
  }

  type Checked =
    { ok: true; request: AuthorizeRequest; contexts: string[]; mfa: boolean } | { ok: false; reason: string };

  function checkAuthorizeRequest(values: Record<string, string>): Checked {
    const parsed = AuthorizeRequestSchema.safeParse(values);
    if (!parsed.success) {
      return {
        ok: false,
        reason: `This sign-in request cannot be served: ${parsed.error.issues.map((issue) => issue.message).join(' ')}`,
      };
    }
    const request = parsed.data;
    // The code goes wherever redirect_uri says: only to this host, never to another site.
    if (!isOwnUrl(request.redirect_uri) || request.redirect_uri.includes('#')) {
      return {
        ok: false,
        reason: `This sign-in request cannot be served: redirect_uri must be on ${origin} (this host) without a fragment, got "${request.redirect_uri}".`,
      };
    }
    const asked = requestedClaims(request.claims);
    if (asked === undefined) {
      return {
        ok: false,
        reason:
          'This sign-in request cannot be served: claims must be JSON such as {"access_token":{"acrs":{"essential":true,"value":"c1"}}}.',
      };
    }
    return { ok: true, request, ...asked };
  }

  function isOwnUrl(value: string): boolean {
    return URL.canParse(value) && ownOrigins.has(new URL(value).origin);
  }

  function remember(upn: string, what: { roles: readonly string[]; name?: string | undefined }): void {
    remembered.delete(upn);
    if (remembered.size >= MAX_REMEMBERED_USERS) {
      const oldest = remembered.keys().next();
      if (oldest.done !== true) remembered.delete(oldest.value);
    }
    remembered.set(upn, what);
    lastUpn = upn;
  }

  function prune<T extends { expiresAt: number }>(store: Map<string, T>, max: number): void {
    const at = now();
    for (const [key, value] of store) if (value.expiresAt <= at) store.delete(key);
    // Still full of live entries: drop the oldest (Map keeps insertion order).
    while (store.size >= max) {
      const oldest = store.keys().next();
      if (oldest.done === true) break;
      store.delete(oldest.value);
    }
  }

  return { handle, token };
}

/**
 * The origins that are this host: the issuer's, and the same scheme and port under the other
 * loopback names, so a person who opened the app at `localhost` instead of `127.0.0.1` can still
 * sign in. Never another port: that is another program.
 */
export function loopbackOrigins(issuer: string): ReadonlySet<string> {
  const url = new URL(issuer);
  const port = url.port === '' ? '' : `:${url.port}`;
  return new Set(['127.0.0.1', 'localhost', '[::1]'].map((host) => `${url.protocol}//${host}${port}`));
}

/** What a `claims` parameter asks for; undefined when it is not understood. */
function requestedClaims(claims: string | undefined): { contexts: string[]; mfa: boolean } | undefined {
  if (claims === undefined || claims.trim() === '') return { contexts: [], mfa: false };
  let json: unknown;
  try {
    json = JSON.parse(claims);
  } catch {
    return undefined;
  }
  const parsed = ClaimsParameterSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const { acrs, amr } = parsed.data.access_token ?? {};
  return {
    contexts: [...new Set([...(acrs?.value === undefined ? [] : [acrs.value]), ...(acrs?.values ?? [])])],
    mfa: amr?.value === 'mfa' || (amr?.values ?? []).includes('mfa'),
  };
}

/** The authorization request as hidden form fields: only the parameters the client sent. */
function echo(request: AuthorizeRequest): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(request)) if (typeof value === 'string') fields[name] = value;
  return fields;
}

/** Each parameter's first value (a repeated parameter is not a second request). */
function firstValues(params: URLSearchParams): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [name, value] of params) if (!(name in values)) values[name] = value;
  return values;
}

function redirect(res: ServerResponse, target: string, params: Record<string, string | undefined>): void {
  const url = new URL(target);
  for (const [name, value] of Object.entries(params))
    if (value !== undefined) url.searchParams.set(name, value);
  res.writeHead(302, { location: url.href, 'cache-control': 'no-store', 'content-length': 0 });
  res.end();
}

function sendPage(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'cache-control': 'no-store',
    'content-security-policy': SIGN_IN_CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  });
  res.end(html);
}

function plainText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(text);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    pragma: 'no-cache',
  });
  res.end(text);
}

/** An RFC 6749 §5.2 error answer. */
function oauthError(res: ServerResponse, error: string, description: string): void {
  sendJson(res, 400, { error, error_description: description });
}

function methodNotAllowed(res: ServerResponse, allow: string): void {
  res.setHeader('allow', allow);
  plainText(res, 405, `Use ${allow}.`);
}
