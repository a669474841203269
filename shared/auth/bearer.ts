import { createRemoteJWKSet, errors, jwtVerify, type JWK, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import { AuthError, AuthUnavailableError } from './errors';
import { isHttpsOrLoopback } from '#shared/domain/loopback';

export interface BearerVerifierOptions {
  /**
   * The expected `iss`; its metadata is read by OIDC discovery under it. Or `{ metadataUrl }`: the
   * metadata is read there (Bot Framework publishes its own elsewhere) and the issuer it names is
   * the one expected.
   */
  readonly issuer: string | { readonly metadataUrl: string };
  readonly audience: string;
  readonly clockToleranceSeconds: number;
  /** Shortest time between two JWKS fetches caused by an unknown `kid` (jose's cooldown). */
  readonly jwksCooldownSeconds: number;
  readonly now: () => Date;
  /**
   * What the signing key itself must allow, beyond signing (Bot Framework's keys list the channels
   * they are endorsed for): the key as the issuer's JWKS publishes it, or undefined when it cannot
   * be told apart there. Answers why the key is refused, or undefined to accept it.
   */
  readonly refuseKey?: (jwk: JWK | undefined) => string | undefined;
}

export interface BearerVerifier {
  /** Verifies signature and claims; answers the payload, or throws AuthError / AuthUnavailableError. */
  verify(token: string): Promise<JWTPayload>;
}

// RS256 only: Entra and the development issuer sign with it, and pinning one asymmetric algorithm
// is what refuses `alg:none` and HS256 tokens "signed" with our public key.
const ALGORITHMS = ['RS256'];
const FETCH_TIMEOUT_MS = 5_000;
// Entra tokens with many claims run to a few KB; anything far larger is not a token we issued.
const MAX_TOKEN_LENGTH = 32 * 1024;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

const OidcMetadataSchema = z.object({ issuer: z.string(), jwks_uri: z.url() });

/** Where OIDC discovery puts an issuer's metadata (a trailing `/` of the issuer is not doubled). */
export function metadataUrlOf(issuer: string): string {
  return `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
}

/**
 * Keys come over the network, so they are only as trustworthy as the transport: HTTPS, or plain
 * HTTP to this machine (the local host's development issuer).
 */
export function isAllowedKeyTransport(url: URL): boolean {
  return isHttpsOrLoopback(url);
}

export function createBearerVerifier(options: BearerVerifierOptions): BearerVerifier {
  // Read lazily on first use (no I/O at start-up) and kept; a failed read is not kept, so the next
  // request tries again once the issuer is reachable.
  let keys: Promise<IssuerKeys> | undefined;
  const getKeys = (): Promise<IssuerKeys> => {
    keys ??= loadKeys(options).catch((error: unknown) => {
      keys = undefined;
      throw error;
    });
    return keys;
  };

  return {
    async verify(token) {
      if (token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) {
        throw new AuthError('INVALID_TOKEN', 'The bearer token is not a well-formed JWT.');
      }
      const { issuer, getKey } = await getKeys();
      try {
        const { payload } = await jwtVerify(token, getKey, {
          issuer,
          audience: options.audience,
          algorithms: ALGORITHMS,
          clockTolerance: options.clockToleranceSeconds,
          currentDate: options.now(),
          // jose accepts a token without `exp` by default; such a token would never expire.
          requiredClaims: ['exp'],
        });
        return payload;
      } catch (error) {
        throw toAuthError(error);
      }
    },
  };
}

interface IssuerKeys {
  readonly issuer: string;
  readonly getKey: JWTVerifyGetKey;
}

async function loadKeys(options: BearerVerifierOptions): Promise<IssuerKeys> {
  const configured = options.issuer;
  const metadata = await fetchMetadata(
    typeof configured === 'string' ? metadataUrlOf(configured) : configured.metadataUrl,
  );
  // Metadata served for another issuer would make us trust that issuer's keys for ours.
  if (typeof configured === 'string' && metadata.issuer !== configured) {
    throw new AuthUnavailableError('The token issuer metadata names a different issuer than configured.');
  }
  const jwksUri = new URL(metadata.jwks_uri);
  if (!isAllowedKeyTransport(jwksUri)) {
    throw new AuthUnavailableError('The token issuer publishes its keys over an insecure transport.');
  }
  const remote = createRemoteJWKSet(jwksUri, {
    timeoutDuration: FETCH_TIMEOUT_MS,
    cooldownDuration: options.jwksCooldownSeconds * 1000,
  });
  // An unknown `kid`, or a key that does not fit the token, is the token's fault (401); failing to
  // fetch or read the key set is ours (503). Tell them apart here, where we still know which is which.
  const getKey: JWTVerifyGetKey = async (header, token) => {
    let key;
    try {
      key = await remote(header, token);
    } catch (error) {
      if (
        error instanceof errors.JWKSNoMatchingKey ||
        error instanceof errors.JWKSMultipleMatchingKeys ||
        error instanceof errors.JOSEAlgNotAllowed ||
        error instanceof errors.JOSENotSupported
      ) {
        throw error;
      }
      throw new AuthUnavailableError('The token issuer keys cannot be fetched.', { cause: error });
    }
    if (options.refuseKey !== undefined) {
      const keys = remote.jwks()?.keys ?? [];
      const jwk =
        header.kid === undefined
          ? keys.length === 1
            ? keys[0]
            : undefined
          : keys.find((k) => k.kid === header.kid);
      const refused = options.refuseKey(jwk);
      if (refused !== undefined) throw new AuthError('INVALID_TOKEN', refused);
    }
    return key;
  };
  return { issuer: metadata.issuer, getKey };
}

async function fetchMetadata(url: string): Promise<z.infer<typeof OidcMetadataSchema>> {
  let body: unknown;
  try {
    const response = await fetch(url, {
      headers: { accept: 'application/json' },
      redirect: 'error',
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    });
    if (response.status !== 200) {
      throw new Error(`OIDC metadata answered HTTP ${response.status}`);
    }
    body = await response.json();
  } catch (cause) {
    throw new AuthUnavailableError('The token issuer metadata cannot be fetched.', { cause });
  }
  const parsed = OidcMetadataSchema.safeParse(body);
  if (!parsed.success) {
    throw new AuthUnavailableError('The token issuer metadata lacks issuer or jwks_uri.', {
      cause: parsed.error,
    });
  }
  return parsed.data;
}

function toAuthError(error: unknown): Error {
  if (error instanceof AuthUnavailableError || error instanceof AuthError) return error;
  // jose's claim errors carry the whole payload; keep only its code and message for the logs.
  const cause = error instanceof errors.JOSEError ? new Error(`${error.code}: ${error.message}`) : error;
  if (error instanceof errors.JWTExpired) {
    return new AuthError('TOKEN_EXPIRED', 'The bearer token has expired.', { cause });
  }
  // Everything else jose refuses (signature, algorithm, issuer, audience, nbf, unknown key, malformed
  // parts) is the same answer to the caller.
  return new AuthError('INVALID_TOKEN', 'The bearer token is not valid for this service.', { cause });
}
