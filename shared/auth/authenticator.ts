import { createBearerVerifier, isAllowedKeyTransport, type BearerVerifier } from './bearer';
import { claimsFromEasyAuthHeader, EASY_AUTH_PRINCIPAL_HEADER } from './easy-auth';
import { AuthError } from './errors';
import {
  claimsFromJwtPayload,
  principalFromClaims,
  type AuthMethod,
  type IdentityClaims,
  type Principal,
} from './principal';

export interface AuthConfig {
  /** `ZSA_AUTH_ISSUER`: exact expected `iss`; OIDC metadata is read from it. */
  readonly issuer?: string | undefined;
  /** `ZSA_AUTH_AUDIENCE`: exact expected `aud`. */
  readonly audience?: string | undefined;
  /** `ZSA_TRUST_EASY_AUTH`: true only behind App Service Authentication. */
  readonly trustEasyAuth: boolean;
  /** Allowed clock skew for `exp`/`nbf`; 60 s by default. */
  readonly clockToleranceSeconds?: number | undefined;
  /** Shortest time between JWKS refetches triggered by an unknown `kid`; 30 s by default. */
  readonly jwksCooldownSeconds?: number | undefined;
  /** Clock for token lifetimes (tests pin it); the system clock by default. */
  readonly now?: (() => Date) | undefined;
}

/** What we need from request headers; `HttpRequest.headers` (a fetch `Headers`) fits. */
export interface HeaderReader {
  get(name: string): string | null;
}

export interface Authenticator {
  /**
   * Who is calling. Throws AuthError (401) when the caller is not authenticated, and
   * AuthUnavailableError (503) when the issuer's metadata or keys cannot be read.
   */
  authenticate(headers: HeaderReader): Promise<Principal>;
  /**
   * The verified claims of the caller, by the same rules as `authenticate` (platform principal or
   * bearer token), without requiring them to name a user: for the MCP tools, whose callers may be
   * AI agents with app-only tokens (shared/agents/identity.ts decides what they may do).
   */
  claims(headers: HeaderReader): Promise<{ claims: IdentityClaims; method: AuthMethod }>;
}

const BEARER = /^Bearer +(\S+) *$/i;

/**
 * Which identity wins:
 * - `trustEasyAuth` and the platform sent `x-ms-client-principal`: the platform principal (App
 *   Service has already validated whatever the client presented, bearer or cookie).
 * - otherwise a bearer token is required and validated here; the header is then ignored, never
 *   trusted, because without the platform in front any client can forge it.
 * - neither an issuer nor Easy Auth configured: every request is refused (AUTH_NOT_CONFIGURED).
 *
 * Throws at creation (start-up) when the settings are inconsistent, naming the setting. Does no I/O
 * until the first bearer token arrives.
 */
export function createAuthenticator(config: AuthConfig): Authenticator {
  const bearer = createBearer(config);

  const claims = async (headers: HeaderReader): Promise<{ claims: IdentityClaims; method: AuthMethod }> => {
    if (config.trustEasyAuth) {
      const platformPrincipal = headers.get(EASY_AUTH_PRINCIPAL_HEADER);
      if (platformPrincipal !== null)
        return { claims: claimsFromEasyAuthHeader(platformPrincipal), method: 'easyAuth' };
    }
    return { claims: claimsFromJwtPayload(await verifiedPayload(headers)), method: 'bearer' };
  };

  const verifiedPayload = async (headers: HeaderReader) => {
    if (bearer === undefined) {
      if (config.trustEasyAuth) {
        throw new AuthError('MISSING_TOKEN', 'Sign-in is required.');
      }
      throw new AuthError('AUTH_NOT_CONFIGURED', 'Authentication is not configured on this service.');
    }
    const authorization = headers.get('authorization');
    if (authorization === null || !/^Bearer(\s|$)/i.test(authorization)) {
      throw new AuthError('MISSING_TOKEN', 'An Authorization: Bearer token is required.');
    }
    const token = BEARER.exec(authorization)?.[1];
    if (token === undefined) {
      throw new AuthError('INVALID_TOKEN', 'The Authorization header is not a single bearer token.');
    }
    return bearer.verify(token);
  };

  return {
    claims,
    async authenticate(headers) {
      const { claims: found, method } = await claims(headers);
      const result = principalFromClaims(found, method);
      if (result.ok) return result.principal;
      throw method === 'easyAuth'
        ? new AuthError('INVALID_PRINCIPAL', `The platform principal is not usable: ${result.reason}.`)
        : new AuthError('INVALID_TOKEN', `The bearer token is not usable: ${result.reason}.`);
    },
  };
}

function createBearer(config: AuthConfig): BearerVerifier | undefined {
  const issuer = blankToUndefined(config.issuer);
  const audience = blankToUndefined(config.audience);
  if (issuer === undefined && audience === undefined) return undefined;
  if (issuer === undefined) throw new Error('ZSA_AUTH_ISSUER is required when ZSA_AUTH_AUDIENCE is set.');
  if (audience === undefined) throw new Error('ZSA_AUTH_AUDIENCE is required when ZSA_AUTH_ISSUER is set.');
  if (!URL.canParse(issuer) || !isAllowedKeyTransport(new URL(issuer))) {
    throw new Error('ZSA_AUTH_ISSUER must be an https URL (or http on loopback for the local host).');
  }
  const clockToleranceSeconds = config.clockToleranceSeconds ?? 60;
  const jwksCooldownSeconds = config.jwksCooldownSeconds ?? 30;
  if (!isNonNegativeFinite(clockToleranceSeconds) || !isNonNegativeFinite(jwksCooldownSeconds)) {
    throw new Error('Clock tolerance and JWKS cooldown must be non-negative numbers of seconds.');
  }
  return createBearerVerifier({
    issuer,
    audience,
    clockToleranceSeconds,
    jwksCooldownSeconds,
    now: config.now ?? (() => new Date()),
  });
}

function blankToUndefined(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}

function isNonNegativeFinite(value: number): boolean {
  return Number.isFinite(value) && value >= 0;
}
