/**
 * Why a caller could not be authenticated. Codes are stable (callers and tests match on them);
 * messages are safe to show and never contain any part of the token or header.
 */
export const AuthErrorCode = {
  /** No `Authorization: Bearer` header (and no trusted platform principal). */
  MissingToken: 'MISSING_TOKEN',
  /** The bearer token is malformed, badly signed, for another audience or issuer, or lacks a claim we need. */
  InvalidToken: 'INVALID_TOKEN',
  /** The bearer token's `exp` is past, beyond the allowed clock skew. */
  TokenExpired: 'TOKEN_EXPIRED',
  /** The trusted `x-ms-client-principal` header cannot be decoded or lacks a claim we need. */
  InvalidPrincipal: 'INVALID_PRINCIPAL',
  /** Neither an issuer nor Easy Auth is configured, so nobody can be authenticated (fail closed). */
  AuthNotConfigured: 'AUTH_NOT_CONFIGURED',
  /** Authenticated, but without an app role this operation needs. */
  InsufficientRole: 'INSUFFICIENT_ROLE',
} as const;

export type AuthErrorCode = (typeof AuthErrorCode)[keyof typeof AuthErrorCode];

const statusOf = {
  MISSING_TOKEN: 401,
  INVALID_TOKEN: 401,
  TOKEN_EXPIRED: 401,
  INVALID_PRINCIPAL: 401,
  AUTH_NOT_CONFIGURED: 401,
  INSUFFICIENT_ROLE: 403,
} as const satisfies Record<AuthErrorCode, 401 | 403>;

/** Thrown when a request's caller is not authenticated (401) or lacks a required role (403). */
export class AuthError extends Error {
  override readonly name = 'AuthError';
  readonly status: 401 | 403;
  /**
   * Value for the `WWW-Authenticate` response header on a 401 (RFC 6750 §3), so clients learn
   * that a bearer token is expected; undefined for a 403.
   */
  readonly wwwAuthenticate: string | undefined;

  constructor(
    readonly code: AuthErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.status = statusOf[code];
    this.wwwAuthenticate = wwwAuthenticateFor(code);
  }
}

function wwwAuthenticateFor(code: AuthErrorCode): string | undefined {
  switch (code) {
    case 'MISSING_TOKEN':
    case 'AUTH_NOT_CONFIGURED':
    case 'INVALID_PRINCIPAL':
      return 'Bearer';
    case 'INVALID_TOKEN':
    case 'TOKEN_EXPIRED':
      return 'Bearer error="invalid_token"';
    case 'INSUFFICIENT_ROLE':
      return undefined;
  }
}

/**
 * Thrown when the token issuer's metadata or keys cannot be fetched or are unusable, so no token
 * can be checked right now. This is not the caller's fault: map it to 503 (retry later), never to
 * a 401 that would send the caller to sign in again for nothing. Fail closed either way.
 */
export class AuthUnavailableError extends Error {
  override readonly name = 'AuthUnavailableError';
  readonly status = 503;
  readonly code = 'AUTH_UNAVAILABLE';
}
