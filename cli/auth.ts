/**
 * Signing in, and keeping a usable access token. Two authorities, told apart by the service's own
 * `/portal-config.json` (what the portal signs in with):
 *
 * - `azure`: Entra ID with MSAL's device-code flow (a terminal has no browser redirect). The portal's
 *   app registration must allow public client flows for it. MSAL keeps its token cache in the
 *   profile (0600) and renews silently from the refresh token.
 * - `local`: the local host's development issuer, `POST /dev/token` with the UPN and roles given on
 *   the command line. It mints a token for anyone, so it is only ever called on loopback.
 *
 * A claims challenge (401 `insufficient_claims`, a policy's `approverAuthContext`) is answered by
 * signing in again with those claims; the caller retries once.
 */
import type {
  AuthenticationResult,
  ICachePlugin,
  PublicClientApplication,
  TokenCacheContext,
} from '@azure/msal-node';
import { z } from 'zod';
import { isHttpsOrLoopback, isLoopbackHost } from '#shared/domain/loopback';
import { PortalConfig } from '#shared/portal/config';
import { CliError, Exit, SIGN_IN_HINT } from './errors';
import {
  MSAL_CACHE_FILE,
  readPrivate,
  saveSession,
  writePrivate,
  type EntraSignIn,
  type LocalSignIn,
  type Session,
} from './session';

/** A token this close to expiry is renewed before use, so it does not expire in flight. */
const RENEW_MARGIN_MS = 60_000;

export interface LoginOptions {
  url: string;
  upn?: string | undefined;
  roles?: string[] | undefined;
  authority?: string | undefined;
  clientId?: string | undefined;
  scope?: string | undefined;
}

export interface AuthIo {
  dir: string;
  /** Where instructions for the person go (the device code); never stdout, which scripts read. */
  tell: (line: string) => void;
  fetch: typeof fetch;
}

/** The service's base URL, without a trailing slash; http only to this machine. */
export function serviceUrl(raw: string): string {
  if (!URL.canParse(raw)) throw new CliError(`not a URL: ${raw}`, Exit.other);
  const url = new URL(raw);
  if (!isHttpsOrLoopback(url)) {
    throw new CliError(`${raw}: use https (plain http only to this machine)`, Exit.other);
  }
  return url.href.replace(/\/+$/, '');
}

async function portalConfig(io: AuthIo, url: string): Promise<PortalConfig> {
  const res = await io.fetch(`${url}/portal-config.json`, { headers: { accept: 'application/json' } });
  if (!res.ok) throw new CliError(`${url}/portal-config.json answered ${res.status}`, Exit.other);
  const parsed = PortalConfig.safeParse(await res.json());
  if (!parsed.success)
    throw new CliError(`${url}/portal-config.json is not a ZSA sign-in configuration`, Exit.other);
  return parsed.data;
}

export async function login(opts: LoginOptions, io: AuthIo): Promise<Session> {
  const url = serviceUrl(opts.url);
  const config = await portalConfig(io, url);
  const authority = opts.authority ?? config.signIn?.authority;
  const clientId = opts.clientId ?? config.signIn?.clientId;
  const scope = opts.scope ?? config.signIn?.scope;
  if (authority === undefined || clientId === undefined || scope === undefined) {
    const reason = config.signIn === null ? config.reason : 'sign-in is not configured';
    throw new CliError(`${reason} (or give --authority, --client-id and --scope)`, Exit.other);
  }
  if (config.environment === 'local') return loginLocal(url, authority, opts, io);
  return deviceCode(url, { authority, clientId, scope }, io);
}

// ---- the local host's development issuer -------------------------------------------------------

const DevTokenAnswer = z.object({ access_token: z.string().min(1), expires_in: z.number().positive() });

async function loginLocal(url: string, authority: string, opts: LoginOptions, io: AuthIo): Promise<Session> {
  const tokenEndpoint = new URL('/dev/token', authority);
  // The development issuer signs whatever it is asked: a service that says `local` from anywhere
  // but this machine is not to be believed, and no UPN is sent there.
  if (!isLoopbackHost(new URL(url).hostname) || !isLoopbackHost(tokenEndpoint.hostname)) {
    throw new CliError(
      `${url} says it signs in at a development issuer, which only a local host on this machine may: refusing`,
      Exit.other,
    );
  }
  if (opts.upn === undefined)
    throw new CliError('the local host needs --upn <user@domain> to sign in as', Exit.other);
  const signIn: LocalSignIn = {
    kind: 'local',
    tokenEndpoint: tokenEndpoint.href,
    upn: opts.upn,
    roles: opts.roles ?? [],
    acrs: [],
    amr: [],
  };
  return mintLocal(url, signIn, io);
}

async function mintLocal(url: string, signIn: LocalSignIn, io: AuthIo): Promise<Session> {
  const res = await io.fetch(signIn.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      upn: signIn.upn,
      roles: signIn.roles,
      ...(signIn.acrs.length > 0 ? { acrs: signIn.acrs } : {}),
      ...(signIn.amr.length > 0 ? { amr: signIn.amr } : {}),
    }),
  });
  const text = await res.text();
  if (!res.ok) throw new CliError(`the development issuer refused: ${res.status} ${text}`, Exit.signIn);
  const answer = DevTokenAnswer.parse(JSON.parse(text));
  const session: Session = {
    url,
    signIn,
    accessToken: answer.access_token,
    expiresAt: new Date(Date.now() + answer.expires_in * 1000).toISOString(),
  };
  saveSession(io.dir, session);
  return session;
}

// ---- Entra ID (MSAL, device code) ---------------------------------------------------------------

/** MSAL's token cache in the profile, readable by the user alone. */
function cachePlugin(dir: string): ICachePlugin {
  return {
    beforeCacheAccess(context: TokenCacheContext): Promise<void> {
      const text = readPrivate(dir, MSAL_CACHE_FILE);
      if (text !== undefined) context.tokenCache.deserialize(text);
      return Promise.resolve();
    },
    afterCacheAccess(context: TokenCacheContext): Promise<void> {
      if (context.cacheHasChanged) writePrivate(dir, MSAL_CACHE_FILE, context.tokenCache.serialize());
      return Promise.resolve();
    },
  };
}

async function msalClient(
  signIn: Pick<EntraSignIn, 'authority' | 'clientId'>,
  dir: string,
): Promise<PublicClientApplication> {
  // Loaded only for Entra ID: a local host's sign-in, and every command's start, do without it.
  const { PublicClientApplication } = await import('@azure/msal-node');
  // The portal's authority is the OIDC issuer (`…/<tenant>/v2.0`); MSAL wants the tenant's authority.
  const authority = signIn.authority.replace(/\/v2\.0\/?$/, '');
  return new PublicClientApplication({
    auth: { clientId: signIn.clientId, authority },
    cache: { cachePlugin: cachePlugin(dir) },
  });
}

async function deviceCode(
  url: string,
  signIn: Pick<EntraSignIn, 'authority' | 'clientId' | 'scope'>,
  io: AuthIo,
  claims?: string,
): Promise<Session> {
  const client = await msalClient(signIn, io.dir);
  let result: AuthenticationResult | null;
  try {
    result = await client.acquireTokenByDeviceCode({
      scopes: [signIn.scope],
      deviceCodeCallback: (r) => io.tell(r.message),
      ...(claims === undefined ? {} : { claims }),
    });
  } catch (e) {
    throw new CliError(`sign-in failed: ${e instanceof Error ? e.message : String(e)}`, Exit.signIn);
  }
  if (result?.account == null) throw new CliError('sign-in returned no account', Exit.signIn);
  return entraSession(
    url,
    {
      kind: 'entra',
      ...signIn,
      homeAccountId: result.account.homeAccountId,
      username: result.account.username,
    },
    result,
    io.dir,
  );
}

function entraSession(url: string, signIn: EntraSignIn, result: AuthenticationResult, dir: string): Session {
  const session: Session = {
    url,
    signIn,
    accessToken: result.accessToken,
    expiresAt: (result.expiresOn ?? new Date(Date.now() + 5 * 60_000)).toISOString(),
  };
  saveSession(dir, session);
  return session;
}

// ---- a usable token, and step-up -------------------------------------------------------------------

/** The session with an access token good for at least a minute more, renewed if need be. */
export async function freshSession(session: Session, io: AuthIo): Promise<Session> {
  if (Date.parse(session.expiresAt) - Date.now() > RENEW_MARGIN_MS) return session;
  const signIn = session.signIn;
  if (signIn.kind === 'local') return mintLocal(session.url, signIn, io);
  const client = await msalClient(signIn, io.dir);
  const account = await client.getTokenCache().getAccountByHomeId(signIn.homeAccountId);
  if (account === null) throw new CliError(`the sign-in has expired: ${SIGN_IN_HINT}`, Exit.signIn);
  try {
    const result = await client.acquireTokenSilent({ account, scopes: [signIn.scope] });
    return entraSession(session.url, signIn, result, io.dir);
  } catch {
    throw new CliError(`the sign-in has expired: ${SIGN_IN_HINT}`, Exit.signIn);
  }
}

/** Entra's claims request, as the challenge carries it (base64 of JSON). */
const ClaimsRequest = z.object({
  access_token: z.object({
    acrs: z.object({ value: z.string().optional(), values: z.array(z.string()).optional() }).optional(),
    amr: z.object({ value: z.string().optional(), values: z.array(z.string()).optional() }).optional(),
  }),
});

/** Signs in again proving what the challenge asks (`claims`: base64 JSON from `WWW-Authenticate`). */
export async function stepUp(session: Session, claimsBase64: string, io: AuthIo): Promise<Session> {
  let json: string;
  try {
    json = Buffer.from(claimsBase64, 'base64').toString('utf8');
    JSON.parse(json);
  } catch {
    throw new CliError(
      'the service asked for a stronger sign-in with a claims challenge that cannot be read',
      Exit.other,
    );
  }
  const signIn = session.signIn;
  if (signIn.kind === 'entra') {
    io.tell('This needs a stronger sign-in (the policy asks for an authentication context).');
    return deviceCode(session.url, signIn, io, json);
  }
  const parsed = ClaimsRequest.safeParse(JSON.parse(json));
  if (!parsed.success)
    throw new CliError('the claims challenge asks for nothing the development issuer knows', Exit.other);
  const values = (c: { value?: string | undefined; values?: string[] | undefined } | undefined) => [
    ...(c?.value === undefined ? [] : [c.value]),
    ...(c?.values ?? []),
  ];
  const acrs = [...new Set([...signIn.acrs, ...values(parsed.data.access_token.acrs)])];
  const amr = [...new Set([...signIn.amr, ...values(parsed.data.access_token.amr)])];
  return mintLocal(session.url, { ...signIn, acrs, amr }, io);
}
