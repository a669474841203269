/**
 * RFC 9457 problem details, and the ONE place where failures become HTTP statuses.
 */
import type { HttpResponseInit } from '@azure/functions';
import { DomainError, type ErrorKind, type FieldError } from '#shared/domain/errors';
import { AuthError, AuthUnavailableError } from '#shared/auth/index';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code?: string;
  errors?: readonly FieldError[];
  correlationId?: string;
  /** RFC 9457 extension members (e.g. `executionId`). */
  [extension: string]: unknown;
}

const STATUS_OF_KIND: Record<ErrorKind, number> = {
  validation: 400,
  'not-found': 404,
  conflict: 409,
  forbidden: 403,
  unauthenticated: 401,
  unavailable: 503,
};

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  410: 'Gone',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/** Problem `type`: a stable URN per code, e.g. `urn:zsa:problem:no-active-grant`. */
export function problemType(code: string): string {
  return `urn:zsa:problem:${code.toLowerCase().replace(/_/g, '-')}`;
}

/** Raised by the HTTP edge itself (body too large, wrong media type, malformed JSON). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function problem(status: number, code: string, detail: string, extra: Partial<Problem> = {}): Problem {
  return { type: problemType(code), title: TITLES[status] ?? 'Error', status, detail, code, ...extra };
}

export function problemResponse(p: Problem, headers: Record<string, string> = {}): HttpResponseInit {
  return {
    status: p.status,
    headers: { 'content-type': 'application/problem+json', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(p),
  };
}

/**
 * Maps any failure to a problem. Known failures keep their message (written for people); anything
 * else is a 500 with only a correlation id — never a stack, a message or an internal name.
 */
export function toProblem(
  error: unknown,
  correlationId: string,
): { problem: Problem; headers: Record<string, string>; unexpected: boolean } {
  if (error instanceof DomainError) {
    const status = STATUS_OF_KIND[error.kind];
    return {
      problem: problem(
        status,
        error.code,
        error.message,
        error.errors.length > 0 ? { errors: error.errors } : {},
      ),
      // An outage always says when to retry; another refusal only when its rule knows (uses still in flight).
      headers: {
        ...(status === 503
          ? { 'retry-after': String(error.retryAfterSeconds ?? 5) }
          : error.retryAfterSeconds === undefined
            ? {}
            : { 'retry-after': String(error.retryAfterSeconds) }),
        // A step-up refusal says which sign-in would do (RFC 6750 §3, Entra's claims challenge).
        ...(error.challenge === undefined ? {} : { 'www-authenticate': error.challenge }),
      },
      unexpected: false,
    };
  }
  if (error instanceof AuthError) {
    return {
      problem: problem(error.status, error.code, error.message),
      headers: error.wwwAuthenticate ? { 'www-authenticate': error.wwwAuthenticate } : {},
      unexpected: false,
    };
  }
  if (error instanceof AuthUnavailableError) {
    return {
      problem: problem(503, error.code, error.message),
      headers: { 'retry-after': '5' },
      unexpected: false,
    };
  }
  if (error instanceof HttpError) {
    return {
      problem: problem(error.status, error.code, error.message),
      headers: error.headers,
      unexpected: false,
    };
  }
  return {
    problem: problem(500, 'INTERNAL', `An unexpected error occurred. Correlation id: ${correlationId}.`, {
      correlationId,
    }),
    headers: {},
    unexpected: true,
  };
}
