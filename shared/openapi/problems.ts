/**
 * The catalogue of problem types the API answers with: every stable code, its HTTP status and what
 * it means. Statuses and bodies come from `toProblem`, the one error → status mapping, so the
 * document cannot disagree with what a handler sends; only the edge's own codes (thrown with an
 * explicit status) are listed here with theirs.
 */
import { AuthError, AuthErrorCode, AuthUnavailableError } from '#shared/auth/index';
import { DomainError, ERROR_CODES, type ErrorCode } from '#shared/domain/errors';
import { HttpError, problemType, toProblem, type Problem } from '#shared/http/problem';

/** Codes raised by the HTTP edge and handlers themselves, with the status they are raised with. */
const EDGE_STATUS = {
  MALFORMED_JSON: 400,
  BODY_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  /** `POST /api/requests`: the user's submit allowance is spent (shared/requests/rate-limit.ts). */
  RATE_LIMITED: 429,
  /** `POST /api/execute`: the task ran and its executor failed (functions/execute.ts). */
  EXECUTION_FAILED: 502,
} as const;
type EdgeCode = keyof typeof EDGE_STATUS;

export type ProblemCode = ErrorCode | AuthErrorCode | 'AUTH_UNAVAILABLE' | EdgeCode | 'INTERNAL';

/** What each code means to a caller. A new code that is missing here fails to compile. */
const MEANING = {
  INVALID_INPUT: 'A body, query or path value failed its schema; `errors` lists each field.',
  INVALID_PARAMETERS: "The parameters do not fit the task's parameter description.",
  NO_POLICY: 'No access policy covers the requested task, role or role group.',
  DURATION_TOO_LONG: "The requested duration exceeds the policy's maximum.",
  DURATION_TOO_SHORT: 'A duration or window is shorter than the configured minimum.',
  NOT_FOUND: 'The addressed request, policy, group or catalog entry does not exist (or is not yours to see).',
  CONFLICT: 'The change contradicts existing state (a duplicate policy, or deleting something in use).',
  PAM_DISABLED: 'Privileged access is disabled: no request may be submitted.',
  NO_APPROVER_GROUP: 'The policy names no approver group and no default group is configured.',
  APPROVER_GROUPS_CONFLICT:
    'A role or role-group request combines manual policies that name different approver groups: request its members separately, or have an admin align the groups.',
  REQUEST_NOT_PENDING: 'The request is no longer pending (decided, canceled or expired).',
  ALREADY_DECIDED: 'This approver has already decided on this request.',
  REQUEST_NOT_LIVE: 'The request has no live grant to revoke.',
  NOT_YET_DUE: 'A system transition was asked for before its deadline.',
  FORBIDDEN: 'The caller may not perform this operation.',
  SELF_APPROVAL: 'Requesters may not decide on their own request.',
  NOT_AN_APPROVER: "The caller is not a member of the request's approver group.",
  NOT_REQUESTER: 'Only the requester may cancel a request.',
  REVOKE_NOT_ALLOWED: 'Only an admin, an approver of the request or its requester may revoke it.',
  NO_ACTIVE_GRANT: 'No live grant of the caller covers this task (and the caller is no system account).',
  UNAVAILABLE:
    'A dependency (storage, bus, executor) cannot be reached right now; retry after `Retry-After`.',
  MISSING_TOKEN: 'No `Authorization: Bearer` token was sent.',
  INVALID_TOKEN: 'The token is malformed, badly signed, or for another audience, issuer or tenant.',
  TOKEN_EXPIRED: 'The token has expired: get a new one.',
  INVALID_PRINCIPAL: 'The App Service Authentication principal header cannot be read.',
  AUTH_NOT_CONFIGURED: 'The deployment has no token issuer configured, so nobody can sign in.',
  STAGE_NOT_OPEN:
    'The decision is for a stage that is not the open one: an earlier stage still decides, the stage of the link is over, or the caller approves only in a later stage.',
  INVALID_START: "`startAt` is in the past or further ahead than the policy's `maxStartDelayHours`.",
  GRANT_NOT_STARTED:
    'The grant that covers this execution is approved but its scheduled start has not come yet.',
  USES_IN_FLIGHT:
    'Every remaining use of the counted grant is held by executions still running; retry once they finish.',
  EXTENSION_NOT_ALLOWED:
    'The policy allows no (more) extensions of this grant, or another extension is still waiting for a decision.',
  EXTENSION_NOT_PENDING: 'The extension is no longer waiting for a decision (decided, expired or canceled).',
  STEP_UP_REQUIRED:
    "The decision needs a stronger sign-in (the policy's `approverAuthContext`); `WWW-Authenticate` carries the claims challenge to sign in with.",
  BREAK_GLASS_NOT_ALLOWED: 'Emergency access was asked for, but the policy names no break-glass group.',
  NOT_BREAK_GLASS_MEMBER: "Emergency access was asked for by someone outside the policy's break-glass group.",
  REVIEW_NOT_OPEN: 'The request was no emergency, or its review is already closed.',
  AGENT_NOT_ALLOWED:
    'An AI agent asked for a target whose policy does not let agents (or agents of this kind) request it.',
  AGENT_CANNOT_APPROVE: 'An AI agent with its own identity may not decide on requests: only people approve.',
  INSUFFICIENT_ROLE: 'The token lacks the app role this operation needs (PAM.Admin, or PAM.Auditor to read).',
  AUTH_UNAVAILABLE: "The token issuer's keys cannot be fetched right now; retry.",
  MALFORMED_JSON: 'The body is not valid JSON.',
  BODY_TOO_LARGE: 'The body is larger than 64 KiB.',
  UNSUPPORTED_MEDIA_TYPE: 'The body is not `application/json`.',
  RATE_LIMITED:
    'The user submitted more requests than the per-user limit allows in its window; retry after `Retry-After` seconds.',
  EXECUTION_FAILED: 'The task ran but its executor failed; `executionId` names the audited execution.',
  INTERNAL: 'An unexpected failure; quote `correlationId` to support.',
} as const satisfies Record<ProblemCode, string>;

export interface ProblemEntry {
  readonly code: ProblemCode;
  readonly status: number;
  readonly meaning: string;
  /** Exactly what the API sends for it (with `meaning` as the detail). */
  readonly example: Problem;
}

const EXAMPLE_CORRELATION_ID = '0f8fad5b-d9cb-469f-a165-70867728950e';

function exampleOf(code: ProblemCode): Problem {
  const meaning = MEANING[code];
  const error = errorOf(code, meaning);
  return toProblem(error, EXAMPLE_CORRELATION_ID).problem;
}

function errorOf(code: ProblemCode, meaning: string): unknown {
  if (code === 'INTERNAL') return new Error('an unexpected failure');
  if (code === 'AUTH_UNAVAILABLE') return new AuthUnavailableError(meaning);
  if (isEdgeCode(code)) return new HttpError(EDGE_STATUS[code], code, meaning);
  if (isAuthCode(code)) return new AuthError(code, meaning);
  return new DomainError(code, meaning);
}

function isEdgeCode(code: string): code is EdgeCode {
  return code in EDGE_STATUS;
}

function isAuthCode(code: string): code is AuthErrorCode {
  return (Object.values(AuthErrorCode) as readonly string[]).includes(code);
}

let catalogue: ReadonlyMap<ProblemCode, ProblemEntry> | undefined;

/** Every problem code, in a stable order: domain codes, then authentication, then the edge's. */
export function problemCatalogue(): ReadonlyMap<ProblemCode, ProblemEntry> {
  if (catalogue === undefined) {
    const codes: readonly ProblemCode[] = [
      ...ERROR_CODES,
      ...Object.values(AuthErrorCode),
      'AUTH_UNAVAILABLE',
      ...(Object.keys(EDGE_STATUS) as EdgeCode[]),
      'INTERNAL',
    ];
    catalogue = new Map(
      codes.map((code) => {
        const example = exampleOf(code);
        return [code, { code, status: example.status, meaning: MEANING[code], example }];
      }),
    );
  }
  return catalogue;
}

export function problemEntry(code: ProblemCode): ProblemEntry {
  const entry = problemCatalogue().get(code);
  if (entry === undefined) throw new Error(`Unknown problem code ${code}`);
  return entry;
}

/** The name of a problem's example in the document: the type URN's last part (`no-active-grant`). */
export function problemExampleName(code: ProblemCode): string {
  return problemType(code).slice('urn:zsa:problem:'.length);
}
