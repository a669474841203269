/**
 * The development token issuer of the local host: OIDC metadata, a JWKS and `POST /dev/token`, so
 * the app's real bearer-token validation (shared/auth) runs locally against real RS256 tokens; and
 * the authorization code flow with PKCE (code-flow.ts), so the portal signs people in here through
 * the same OIDC code path it uses against Entra ID.
 *
 * It mints a token for anyone who asks, with any role: that is its purpose, and why it only ever
 * runs on loopback and never in Azure.
 */
import { createHash, randomUUID } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname } from 'node:path';
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  SignJWT,
  type CryptoKey,
  type JWK,
} from 'jose';
import { z } from 'zod';
import { createCodeFlow, loopbackOrigins, type IdTokenClaims } from './code-flow';

/** Fixed tenant of every development token, so principal ids (`tid:oid`) are stable across runs. */
export const DEV_TENANT_ID = '7e57da7a-0000-4000-8000-00000000de70';

/** Fixed path of the token endpoint, whatever the issuer's path. */
export const DEV_TOKEN_PATH = '/dev/token';

const ALG = 'RS256';
const DEFAULT_LIFETIME_SECONDS = 3600;
const MAX_BODY_BYTES = 16 * 1024;
// Namespace for the name-based (v5-style) user ids; any fixed UUID works, it only has to never change.
const USER_ID_NAMESPACE = '2f6c1e0a-6f8e-4b7a-9d1c-5a0e3b9c7d11';
// Another for applications, so an app named like a user never shares the user's id.
const APP_ID_NAMESPACE = '8d0f3b52-1c7e-4f0a-b5e9-3a6c2d4e7f18';

export interface DevIssuerOptions {
  /** e.g. `http://127.0.0.1:7071/dev`; its pathname is where metadata and keys are served. */
  readonly issuer: string;
  readonly audience: string;
  /** Where the signing key (a private JWK) is kept so tokens survive restarts; absent = in memory. */
  readonly keyFile?: string | undefined;
  /** The clock (ms) sign-in codes and refresh tokens expire by; tests move it instead of waiting. */
  readonly now?: (() => number) | undefined;
}

export interface DevIssuer {
  readonly issuer: string;
  readonly audience: string;
  /**
   * Serves metadata, keys, `POST /dev/token`, the authorize and logout endpoints; answers true when
   * the request was one of them.
   */
  handle(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<boolean>;
  /** Mints an access token directly (tests, the CLI), with the same checks as `POST /dev/token`. */
  mint(claims: MintClaims): Promise<string>;
  /** The published key set (public key only). */
  readonly jwks: { readonly keys: readonly JWK[] };
  /**
   * Base URL of the development directory, shaped like Microsoft Graph v1.0 (`GET
   * <url>/users/{upn}`): it knows every UPN, with the object id its tokens carry, except names in
   * the reserved `.invalid` domain, which it knows not (for trying the "no such user" path).
   */
  readonly directoryUrl: string;
}

// A client application's name as the development issuer takes it (Entra would use its GUID).
const CLIENT_ID = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'must be a client name such as vscode-agent');

const TokenRequestFields = {
  upn: z
    .string()
    .trim()
    .max(256)
    .regex(/^[^\s@]+@[^\s@]+$/, 'must look like user@domain'),
  roles: z.array(z.string().min(1).max(100)).max(20).optional(),
  name: z.string().trim().min(1).max(256).optional(),
  /**
   * How the user "signed in", as Entra states it: `acrs` the Conditional Access authentication
   * contexts satisfied (`c1` … `c99`), `amr` the methods used (`pwd`, `mfa`, …). For trying step-up
   * locally; absent, the token proves no stronger sign-in.
   */
  acrs: z
    .array(z.string().regex(/^c[1-9][0-9]?$/, 'must be an authentication context id c1 … c99'))
    .max(99)
    .optional(),
  amr: z
    .array(z.string().regex(/^[a-z]{2,16}$/, 'must be an authentication method such as pwd or mfa'))
    .max(16)
    .optional(),
  /**
   * The client application the user signed in to (`azp`, with v1's `appid`): an agent acting on the
   * user's behalf, say `vscode-agent`. Absent, the token names no client.
   */
  azp: CLIENT_ID.optional(),
};

/**
 * An application's own token (client credentials): `app` names it; `oid` and `sub` are its
 * service principal's stable id ({@link devAppId}), `azp`/`appid` the name itself, `idtyp` is
 * `app`, and it carries no user (`upn`, `name`, `scp`), only application roles.
 */
const AppTokenFields = {
  app: CLIENT_ID,
  roles: TokenRequestFields.roles,
};

const UserTokenRequest = z.strictObject(TokenRequestFields);
const AppTokenRequest = z.strictObject(AppTokenFields);

/** Body of `POST /dev/token`: a user's token or an application's. Unknown fields are refused. */
export const TokenRequestSchema = z.union([UserTokenRequest, AppTokenRequest]);

const MintExtras = {
  lifetimeSeconds: z.int().min(1).max(86_400).optional(),
  /**
   * Audience other than the issuer's own, for the local parts that stand in for another service's
   * tokens: the managed identity endpoint (a token for any resource) and the Teams channel (Bot
   * Framework's tokens name the bot's app id). Only through `mint()`.
   */
  audience: z.string().trim().min(1).max(256).optional(),
  /**
   * Claims set over the usual ones (`null` removes one), for tests that need a token shaped as an
   * attacker would shape it. Only through `mint()`: `POST /dev/token` does not accept it.
   */
  overrides: z.record(z.string(), z.json()).optional(),
};

export const MintClaimsSchema = z.union([
  z.strictObject({ ...TokenRequestFields, ...MintExtras }),
  z.strictObject({ ...AppTokenFields, ...MintExtras }),
]);

export type MintClaims = z.input<typeof MintClaimsSchema>;

// A persisted key: an RSA private JWK. Checked on read, since a damaged file must fail loudly
// rather than be silently replaced (which would invalidate every token handed out).
const PrivateRsaJwkSchema = z.object({
  kty: z.literal('RSA'),
  n: z.string().min(1),
  e: z.string().min(1),
  d: z.string().min(1),
  p: z.string().min(1),
  q: z.string().min(1),
  dp: z.string().min(1),
  dq: z.string().min(1),
  qi: z.string().min(1),
});

interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

export async function createDevIssuer(options: DevIssuerOptions): Promise<DevIssuer> {
  const issuerUrl = parseLoopbackIssuer(options.issuer);
  const audience = options.audience.trim();
  if (audience === '') throw new Error('The development issuer needs an audience.');

  const key = await loadOrCreateKey(options.keyFile);
  const issuerPath = issuerUrl.pathname.replace(/\/+$/, '');
  const issuerBase = `${issuerUrl.origin}${issuerPath}`;
  const paths = {
    metadata: `${issuerPath}/.well-known/openid-configuration`,
    keys: `${issuerPath}/keys`,
    token: DEV_TOKEN_PATH,
    users: `${issuerPath}/graph/v1.0/users/`,
    userByKey: `${issuerPath}/graph/v1.0/users('`,
    authorize: `${issuerPath}/authorize`,
    logout: `${issuerPath}/logout`,
  };
  const jwks = { keys: [key.publicJwk] };
  const metadata = {
    issuer: options.issuer,
    jwks_uri: `${issuerBase}/keys`,
    token_endpoint: `${issuerUrl.origin}${DEV_TOKEN_PATH}`,
    authorization_endpoint: `${issuerBase}/authorize`,
    end_session_endpoint: `${issuerBase}/logout`,
    id_token_signing_alg_values_supported: [ALG],
    // Public clients only (a browser app keeps no secret): PKCE is what binds the code to its client.
    token_endpoint_auth_methods_supported: ['none'],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    code_challenge_methods_supported: ['S256'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access', `${audience}/.default`],
    claims_parameter_supported: true,
    authorization_response_iss_parameter_supported: true,
    subject_types_supported: ['public'],
  };
  const codeFlow = createCodeFlow({
    issuer: options.issuer,
    paths: { authorize: paths.authorize, logout: paths.logout },
    accessTokenLifetimeSeconds: DEFAULT_LIFETIME_SECONDS,
    accessToken: (identity) =>
      sign(key, options.issuer, audience, {
        upn: identity.upn,
        name: identity.name,
        roles: [...identity.roles],
        acrs: [...identity.acrs],
        amr: [...identity.amr],
      }),
    idToken: (claims) => signIdToken(key, options.issuer, claims),
    ...(options.now === undefined ? {} : { now: options.now }),
  });

  const mint = async (claims: MintClaims): Promise<string> => {
    const parsed = MintClaimsSchema.parse(claims);
    return sign(key, options.issuer, audience, parsed);
  };

  const ownOrigins = loopbackOrigins(options.issuer);
  const handle = async (req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<boolean> => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const method = req.method ?? 'GET';
    // An app opened under another loopback name of this host (localhost rather than 127.0.0.1)
    // reads metadata, keys and tokens from a browser across origins, as a browser app does from
    // Entra ID; no other origin may.
    const requestOrigin = req.headers.origin;
    if (requestOrigin !== undefined && ownOrigins.has(requestOrigin)) {
      res.setHeader('access-control-allow-origin', requestOrigin);
      res.setHeader('vary', 'origin');
    }
    switch (path) {
      case paths.metadata:
        if (method !== 'GET') return methodNotAllowed(res, 'GET');
        sendJson(res, 200, metadata);
        return true;
      case paths.keys:
        if (method !== 'GET') return methodNotAllowed(res, 'GET');
        sendJson(res, 200, jwks);
        return true;
      case paths.token: {
        if (method !== 'POST') return methodNotAllowed(res, 'POST');
        // A browser app's OAuth grant comes as a form; the JSON body stays for tests and the CLI.
        // `curl -d '{…}'` labels JSON as a form, so a body that starts as JSON is read as JSON.
        if (isForm(req) && !body.toString('utf8').trimStart().startsWith('{')) {
          await codeFlow.token(res, body);
          return true;
        }
        const request = parseTokenRequest(body);
        if (!request.ok) {
          sendJson(res, 400, request.problem, 'application/problem+json');
          return true;
        }
        const accessToken = await sign(key, options.issuer, audience, request.value);
        sendJson(res, 200, {
          access_token: accessToken,
          token_type: 'Bearer',
          expires_in: DEFAULT_LIFETIME_SECONDS,
        });
        return true;
      }
      default:
        if (codeFlow.handle(req, res, body, path)) return true;
        if (path.startsWith(paths.users)) {
          if (method !== 'GET') return methodNotAllowed(res, 'GET');
          directoryUser(res, path.slice(paths.users.length));
          return true;
        }
        // Graph's key form, `users('{upn}')` (quotes doubled), for names that start with `$`.
        if (path.startsWith(paths.userByKey) && path.endsWith("')")) {
          if (method !== 'GET') return methodNotAllowed(res, 'GET');
          const key = path.slice(paths.userByKey.length, -2);
          directoryUser(res, encodeURIComponent(decodeURIComponent(key).replace(/''/g, "'")));
          return true;
        }
        return false;
    }
  };

  return { issuer: options.issuer, audience, handle, mint, jwks, directoryUrl: `${issuerBase}/graph/v1.0` };
}

/** `GET /users/{upn}` as Microsoft Graph answers it: the user's object id and UPN, or 404. */
function directoryUser(res: ServerResponse, encoded: string): void {
  let upn: string;
  try {
    upn = decodeURIComponent(encoded).trim().toLowerCase();
  } catch {
    upn = '';
  }
  if (!/^[^\s@/]+@[^\s@/]+$/.test(upn) || upn.endsWith('.invalid')) {
    sendJson(res, 404, {
      error: { code: 'Request_ResourceNotFound', message: `Resource '${encoded}' does not exist.` },
    });
    return;
  }
  sendJson(res, 200, { id: devUserId(upn), userPrincipalName: upn });
}

/** The stable id of a development user: a name-based UUID (v5 layout) of the lower-cased UPN. */
export function devUserId(upn: string): string {
  return nameBasedId(USER_ID_NAMESPACE, upn.trim().toLowerCase());
}

/**
 * The stable object id of a development application's service principal (its tokens' `oid`), from
 * its name as `POST /dev/token {"app": …}` takes it; names are case-sensitive, as client ids are.
 */
export function devAppId(app: string): string {
  return nameBasedId(APP_ID_NAMESPACE, app.trim());
}

function nameBasedId(namespace: string, name: string): string {
  const hash = createHash('sha1')
    .update(Buffer.from(namespace.replace(/-/g, ''), 'hex'))
    .update(name, 'utf8')
    .digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

async function sign(
  key: SigningKey,
  issuer: string,
  audience: string,
  claims: z.output<typeof MintClaimsSchema>,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const lifetime = claims.lifetimeSeconds ?? DEFAULT_LIFETIME_SECONDS;
  const roles = claims.roles !== undefined && claims.roles.length > 0 ? { roles: claims.roles } : {};
  let userId: string;
  let payload: Record<string, unknown>;
  if ('app' in claims) {
    // Shaped like an Entra v2 app-only access token (client credentials): no user claims.
    userId = devAppId(claims.app);
    payload = { tid: DEV_TENANT_ID, oid: userId, idtyp: 'app', azp: claims.app, appid: claims.app, ...roles };
  } else {
    const upn = claims.upn.toLowerCase();
    userId = devUserId(upn);
    // Shaped like an Entra v2 access token, so the app reads the same claims here as in Azure.
    payload = {
      tid: DEV_TENANT_ID,
      oid: userId,
      upn,
      preferred_username: upn,
      name: claims.name ?? upn,
      ...roles,
      ...(claims.acrs !== undefined && claims.acrs.length > 0 ? { acrs: claims.acrs } : {}),
      ...(claims.amr !== undefined && claims.amr.length > 0 ? { amr: claims.amr } : {}),
      ...(claims.azp === undefined ? {} : { azp: claims.azp, appid: claims.azp }),
    };
  }
  for (const [claim, value] of Object.entries(claims.overrides ?? {})) {
    if (value === null) Reflect.deleteProperty(payload, claim);
    else payload[claim] = value;
  }
  return new SignJWT(payload)
    .setProtectedHeader({ alg: ALG, kid: key.kid, typ: 'JWT' })
    .setIssuer(issuer)
    .setAudience(claims.audience ?? audience)
    .setSubject(userId)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + lifetime)
    .setJti(randomUUID())
    .sign(key.privateKey);
}

/** An OIDC id token for the client (`aud` = client_id), signed with the same key as access tokens. */
async function signIdToken(key: SigningKey, issuer: string, claims: IdTokenClaims): Promise<string> {
  const upn = claims.identity.upn.toLowerCase();
  const userId = devUserId(upn);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    tid: DEV_TENANT_ID,
    oid: userId,
    preferred_username: upn,
    name: claims.identity.name ?? upn,
    auth_time: claims.authTime,
    ...(claims.nonce === undefined ? {} : { nonce: claims.nonce }),
  })
    .setProtectedHeader({ alg: ALG, kid: key.kid, typ: 'JWT' })
    .setIssuer(issuer)
    .setAudience(claims.clientId)
    .setSubject(userId)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + DEFAULT_LIFETIME_SECONDS)
    .sign(key.privateKey);
}

function isForm(req: IncomingMessage): boolean {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  return type === 'application/x-www-form-urlencoded';
}

type TokenRequestResult =
  | { readonly ok: true; readonly value: z.output<typeof TokenRequestSchema> }
  | { readonly ok: false; readonly problem: object };

function parseTokenRequest(body: Buffer): TokenRequestResult {
  const badRequest = (detail: string, errors?: readonly { path: string; message: string }[]) => ({
    ok: false as const,
    problem: { ...problem(400, 'Bad Request', detail), ...(errors === undefined ? {} : { errors }) },
  });
  if (body.length > MAX_BODY_BYTES) return badRequest('The body is too large.');
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return badRequest('The body must be JSON: {"upn": "alice@contoso.com", "roles": ["PAM.Admin"]}.');
  }
  // An `app` asks for an application's token; parsed against that shape alone, so a mistake is
  // reported field by field rather than as "matches neither".
  const isApp = typeof json === 'object' && json !== null && 'app' in json;
  const parsed = (isApp ? AppTokenRequest : UserTokenRequest).safeParse(json);
  if (!parsed.success) {
    return badRequest(
      'Expected a user {"upn": "<user@domain>", "roles"?: ["PAM.Admin" | "PAM.Auditor"], "name"?: "<display name>", "acrs"?: ["c1" … "c99"], "amr"?: ["pwd" | "mfa" …], "azp"?: "<client, e.g. vscode-agent>"} or an application {"app": "<client, e.g. agent-1>", "roles"?: [...]}.',
      parsed.error.issues.map((issue) => ({
        path: issue.path.map(String).join('.'),
        message: issue.message,
      })),
    );
  }
  return { ok: true, value: parsed.data };
}

function parseLoopbackIssuer(issuer: string): URL {
  if (!URL.canParse(issuer)) throw new Error(`The development issuer must be a URL, got "${issuer}".`);
  const url = new URL(issuer);
  // Anyone who can reach this issuer can become an admin: never let it describe a non-local address.
  if (
    !['http:', 'https:'].includes(url.protocol) ||
    !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)
  ) {
    throw new Error(
      `The development issuer must be on loopback (127.0.0.1, localhost or [::1]), got "${issuer}".`,
    );
  }
  if (url.search !== '' || url.hash !== '') {
    throw new Error('The development issuer URL must not have a query or fragment.');
  }
  return url;
}

async function loadOrCreateKey(keyFile: string | undefined): Promise<SigningKey> {
  if (keyFile === undefined) return toSigningKey(await generatePrivateJwk());
  const existing = await readKeyFile(keyFile);
  if (existing !== undefined) return toSigningKey(existing);

  const fresh = await generatePrivateJwk();
  await mkdir(dirname(keyFile), { recursive: true });
  // Written aside, then linked into place: link fails if the file appeared meanwhile (another host
  // starting at the same time), and then both use the one that won, never two different keys.
  const temporary = `${keyFile}.${process.pid}.${randomUUID()}.tmp`;
  await writeFile(temporary, JSON.stringify(fresh), { mode: 0o600 });
  try {
    await link(temporary, keyFile);
  } catch (error) {
    if (!isErrno(error, 'EEXIST')) throw error;
    const winner = await readKeyFile(keyFile);
    if (winner === undefined) throw error;
    return await toSigningKey(winner);
  } finally {
    await unlink(temporary);
  }
  return toSigningKey(fresh);
}

async function readKeyFile(keyFile: string): Promise<JWK | undefined> {
  let text: string;
  try {
    text = await readFile(keyFile, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new Error(`The development issuer key file ${keyFile} is not JSON; delete it to make a new key.`, {
      cause,
    });
  }
  const parsed = PrivateRsaJwkSchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(
      `The development issuer key file ${keyFile} is not an RSA private JWK; delete it to make a new key.`,
      { cause: parsed.error },
    );
  }
  return parsed.data;
}

async function generatePrivateJwk(): Promise<JWK> {
  const { privateKey } = await generateKeyPair(ALG, { modulusLength: 2048, extractable: true });
  const { kty, n, e, d, p, q, dp, dq, qi } = await exportJWK(privateKey);
  return { kty, n, e, d, p, q, dp, dq, qi };
}

async function toSigningKey(privateJwk: JWK): Promise<SigningKey> {
  const { kty, n, e } = privateJwk;
  const kid = await calculateJwkThumbprint({ kty, n, e }, 'sha256');
  const privateKey = await importJWK({ ...privateJwk, alg: ALG }, ALG);
  if (privateKey instanceof Uint8Array) throw new Error('The development issuer key is not an RSA key.');
  return { kid, privateKey, publicJwk: { kty, n, e, kid, use: 'sig', alg: ALG } };
}

/** JSON the issuer's way (never cached); also the managed identity endpoint's. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  contentType = 'application/json',
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': `${contentType}; charset=utf-8`,
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

/** An RFC 9457 problem; `about:blank` because the status says all there is to say. */
function problem(status: number, title: string, detail: string): object {
  return { type: 'about:blank', title, status, detail };
}

function methodNotAllowed(res: ServerResponse, allow: string): true {
  res.setHeader('allow', allow);
  sendJson(res, 405, problem(405, 'Method Not Allowed', `Use ${allow}.`), 'application/problem+json');
  return true;
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && 'code' in error && error.code === code;
}
