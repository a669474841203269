import type { z } from 'zod';

/**
 * The closed set of failure kinds. The HTTP layer derives the status from the kind alone
 * (validation → 400, not-found → 404, conflict → 409, forbidden → 403, unavailable → 503), so a
 * new code never needs a new mapping.
 */
export const ErrorKind = {
  validation: 'validation',
  notFound: 'not-found',
  conflict: 'conflict',
  forbidden: 'forbidden',
  /** Signed in, but not strongly enough for this operation: 401 with a claims challenge. */
  unauthenticated: 'unauthenticated',
  unavailable: 'unavailable',
} as const;

export type ErrorKind = (typeof ErrorKind)[keyof typeof ErrorKind];

/** Every stable error code, with the kind it belongs to. Codes are part of the contract. */
const kindOf = {
  /** A body, query, stored row or message failed its schema (details in `errors`). */
  INVALID_INPUT: 'validation',
  /** Parameters do not match the task's parameter description (unknown, missing, wrong type, pattern). */
  INVALID_PARAMETERS: 'validation',
  /** No access policy covers the requested task, role or role group. */
  NO_POLICY: 'validation',
  /** The requested duration exceeds the policy's `maxDurationHours`. */
  DURATION_TOO_LONG: 'validation',
  /** A duration or window is shorter than `ZSA_MIN_DURATION_SECONDS`. */
  DURATION_TOO_SHORT: 'validation',
  /** The addressed request, policy, group or catalog entry does not exist. */
  NOT_FOUND: 'not-found',
  /** A write would contradict existing state (duplicate policy for a target, deleting something in use). */
  CONFLICT: 'conflict',
  /** Privileged access is disabled, so no request may be submitted. */
  PAM_DISABLED: 'conflict',
  /** A manual policy names no approver group and no default approver group is configured. */
  NO_APPROVER_GROUP: 'conflict',
  /**
   * A role or role-group request would combine manual policies (the container's and its members')
   * that name different approver groups, so no one group may approve it (request the members separately).
   */
  APPROVER_GROUPS_CONFLICT: 'conflict',
  /** A decision or cancel arrived for a request that is no longer pending (decided, canceled, or past `pendingUntil`). */
  REQUEST_NOT_PENDING: 'conflict',
  /** This approver has already decided on this request (or extension). */
  ALREADY_DECIDED: 'conflict',
  /**
   * A decision for a stage that is not the open one: an earlier stage still decides, the link's
   * stage is over, or the caller belongs only to a later stage's group.
   */
  STAGE_NOT_OPEN: 'conflict',
  /** `startAt` lies further ahead than the policy's `maxStartDelayHours`, or in the past. */
  INVALID_START: 'validation',
  /** An execution under an approved grant whose scheduled start has not come yet (problem type `grant-not-started`). */
  GRANT_NOT_STARTED: 'forbidden',
  /** Every remaining use of a counted grant is taken by executions still running. */
  USES_IN_FLIGHT: 'conflict',
  /** An extension the policy does not allow: none at all, or more than `maxExtensions`, or one while another waits. */
  EXTENSION_NOT_ALLOWED: 'conflict',
  /** A decision or cancel for an extension that is no longer pending. */
  EXTENSION_NOT_PENDING: 'conflict',
  /** A revoke arrived for a request whose grant is not live (never approved, already over). */
  REQUEST_NOT_LIVE: 'conflict',
  /** A system transition (expire, end) was asked for before its deadline: a caller bug, never a user's. */
  NOT_YET_DUE: 'conflict',
  /** The caller may not perform this operation (generic; prefer a specific code). */
  FORBIDDEN: 'forbidden',
  /** The requester tried to decide on their own request. */
  SELF_APPROVAL: 'forbidden',
  /** The caller is not a member of the request's approver group. */
  NOT_AN_APPROVER: 'forbidden',
  /** Someone other than the requester tried to cancel a request. */
  NOT_REQUESTER: 'forbidden',
  /** The caller is neither an admin, an approver of the request, nor its requester. */
  REVOKE_NOT_ALLOWED: 'forbidden',
  /** An execution is not covered by a live grant of the caller (problem type `no-active-grant`). */
  NO_ACTIVE_GRANT: 'forbidden',
  /**
   * The decision needs a stronger sign-in (the policy's `approverAuthContext`): 401 with the claims
   * challenge in `WWW-Authenticate`.
   */
  STEP_UP_REQUIRED: 'unauthenticated',
  /** `emergency: true` on a request whose policy names no break-glass group. */
  BREAK_GLASS_NOT_ALLOWED: 'validation',
  /** `emergency: true` from someone outside the policy's break-glass group. */
  NOT_BREAK_GLASS_MEMBER: 'forbidden',
  /** A review of a request that was no emergency, or whose review is closed. */
  REVIEW_NOT_OPEN: 'conflict',
  /** An AI agent asked for a target whose policy does not let agents (or this kind of agent) request it. */
  AGENT_NOT_ALLOWED: 'forbidden',
  /** An AI agent with its own identity tried to decide on a request: only people approve. */
  AGENT_CANNOT_APPROVE: 'forbidden',
  /** A dependency (storage, bus, executor) cannot be reached right now; thrown by adapters, never by pure rules. */
  UNAVAILABLE: 'unavailable',
} as const satisfies Record<string, ErrorKind>;

export type ErrorCode = keyof typeof kindOf;

export const ERROR_CODES = Object.keys(kindOf) as readonly ErrorCode[];

export function errorKindOf(code: ErrorCode): ErrorKind {
  return kindOf[code];
}

/** One field-level problem, shaped like RFC 9457's `errors` members (`pointer` is a JSON Pointer fragment). */
export interface FieldError {
  readonly pointer: string;
  readonly detail: string;
}

/** The one error class of the domain: a stable `code`, the `kind` derived from it, and a message a person can act on. */
export class DomainError extends Error {
  override readonly name = 'DomainError';
  readonly kind: ErrorKind;
  readonly errors: readonly FieldError[];
  /** For `unavailable` errors: when a retry may succeed, in seconds (the HTTP layer's default otherwise). */
  readonly retryAfterSeconds: number | undefined;
  /** For `unauthenticated` errors: the `WWW-Authenticate` challenge that says what sign-in is needed. */
  readonly challenge: string | undefined;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: {
      readonly errors?: readonly FieldError[];
      readonly cause?: unknown;
      readonly retryAfterSeconds?: number;
      readonly challenge?: string;
    },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kindOf[code];
    this.errors = options?.errors ?? [];
    this.retryAfterSeconds = options?.retryAfterSeconds;
    this.challenge = options?.challenge;
  }
}

export function isDomainError(error: unknown, code?: ErrorCode): error is DomainError {
  return error instanceof DomainError && (code === undefined || error.code === code);
}

/** RFC 6901 pointer fragment for a zod issue path: `['approvals', 0, 'at']` → `#/approvals/0/at`. */
export function pointerOf(path: readonly PropertyKey[]): string {
  const escape = (segment: PropertyKey) => String(segment).replaceAll('~', '~0').replaceAll('/', '~1');
  return path.length === 0 ? '#' : `#/${path.map(escape).join('/')}`;
}

/** Turns a zod failure into `INVALID_INPUT`, keeping the zod error as `cause` for logs. */
export function invalidInput(what: string, error: z.ZodError): DomainError {
  const errors = error.issues.map((issue) => ({ pointer: pointerOf(issue.path), detail: issue.message }));
  const summary = errors.map((e) => (e.pointer === '#' ? e.detail : `${e.pointer.slice(2)}: ${e.detail}`));
  return new DomainError('INVALID_INPUT', `Invalid ${what}: ${summary.join('; ')}`, { errors, cause: error });
}

/**
 * Parses `input` with `schema` or throws `INVALID_INPUT` naming `what` (e.g. "request body").
 * The one way edges should validate, so every bad input becomes the same kind of 400.
 */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw invalidInput(what, result.error);
  return result.data;
}
