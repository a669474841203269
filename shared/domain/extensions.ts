/**
 * Extensions of a live grant: the requester asks for more hours with a reason; the extension is
 * decided like the request under the same policy (automatic, or the same stages), one at a time, at
 * most `maxExtensions` per grant. Access never drops while one waits: the grant runs to its
 * `expiresAt`, which an approval moves later; if the grant ends first, the extension expires.
 */
import { z } from 'zod';
import { DomainError } from './errors';
import { normalizeUpn } from './names';
import {
  assertDuration,
  closeWaitingExtension,
  decisionRefusal,
  isGranted,
  identityOrStepUp,
  isLive,
  MAX_REASON,
  pendingExtension,
  roundOf,
  roundOutcome,
  type Approver,
  type DecisionInput,
  type DecisionOutcome,
  type Extension,
  type Request,
  type SystemTransition,
  type Transition,
} from './request';
import type { Actor } from './pam';
import {
  currentStage,
  hasDecidedIn,
  isApproverOfAny,
  stageRefusal,
  withDecision,
  type GroupMembers,
  type Round,
} from './stages';
import { addHours, Hours, instantOf, isPast, toTimestamp } from './time';

/** Body of `POST /api/requests/{id}/extend`. */
export const ExtendBody = z.strictObject({
  hours: Hours.meta({ description: "How many more hours (at most the policy's maxDurationHours)." }),
  reason: z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(MAX_REASON)
    .meta({ description: 'Why more time is needed.' }),
});
export type ExtendBody = z.output<typeof ExtendBody>;

/** An extension id in a path: its ordinal. */
export const ExtensionId = z.string().regex(/^[1-9][0-9]?$/, 'must be an extension number such as 1');

/** A retry of an extend call within this long, with the same hours and reason, finds the first. */
const RETRY_WINDOW_MS = 60_000;

export type ExtendOutcome = 'requested' | 'approved';

/** The extension's own round: the request's stages, its own decisions. */
export function extensionRound(
  request: Pick<Request, 'stages'>,
  extension: Pick<Extension, 'approvals'>,
): Round {
  return { stages: request.stages, approvals: extension.approvals };
}

/** The grant with `hours` more: the extension approved and `expiresAt` moved. */
function approved(
  request: Request,
  extension: Extension,
  approvals: Extension['approvals'],
  now: Date,
): Request {
  const at = toTimestamp(now);
  return {
    ...request,
    expiresAt: toTimestamp(addHours(new Date(request.expiresAt ?? at), extension.hours)),
    extensions: request.extensions.map((e) =>
      e.id === extension.id ? { ...e, approvals, status: 'approved', decidedAt: at } : e,
    ),
  };
}

/**
 * The requester asks to extend their live grant. Refused: NOT_REQUESTER, REQUEST_NOT_LIVE,
 * EXTENSION_NOT_ALLOWED (the policy allows none or no more, or one waits), DURATION_TOO_LONG /
 * DURATION_TOO_SHORT. An automatic policy approves it at once; otherwise it waits for the first
 * stage, until the grant ends or the policy's pending window passes, whichever is sooner.
 * `alreadyApplied`: a retry (same hours and reason within a minute) of the call that made it.
 */
export function extendTransition(
  request: Request,
  actor: Pick<Actor, 'id' | 'upn'>,
  body: ExtendBody,
  minDurationSeconds: number,
  now: Date,
): Transition<ExtendOutcome> {
  const refuse = (refusal: DomainError): Transition<ExtendOutcome> => ({ kind: 'refused', refusal });
  if (actor.id !== request.requesterId)
    return refuse(new DomainError('NOT_REQUESTER', 'Only the requester may extend their grant'));
  const last = request.extensions.at(-1);
  if (
    last !== undefined &&
    last.hours === body.hours &&
    last.reason === body.reason &&
    now.getTime() - instantOf(last.createdAt) < RETRY_WINDOW_MS &&
    (last.status === 'pending' || last.status === 'approved')
  )
    return {
      kind: 'alreadyApplied',
      outcome: last.status === 'pending' ? 'requested' : 'approved',
      request,
      refusal: new DomainError('EXTENSION_NOT_ALLOWED', `Extension ${last.id} was already asked for`),
    };
  if (!isLive(request, now))
    return refuse(
      new DomainError(
        'REQUEST_NOT_LIVE',
        request.status === 'approved'
          ? isGranted(request, now)
            ? `The grant has not started yet (it starts at ${String(request.grantedAt)}); extend it once it runs`
            : `The grant already ended at ${String(request.expiresAt)}`
          : `The request is ${request.status}, not a live grant`,
      ),
    );
  if (request.maxExtensions === 0)
    return refuse(new DomainError('EXTENSION_NOT_ALLOWED', "This grant's policy allows no extensions"));
  const waiting = pendingExtension(request);
  if (waiting !== undefined)
    return refuse(
      new DomainError(
        'EXTENSION_NOT_ALLOWED',
        `Extension ${waiting.id} is still waiting for a decision; one extension may wait at a time`,
      ),
    );
  if (request.extensions.length >= request.maxExtensions)
    return refuse(
      new DomainError(
        'EXTENSION_NOT_ALLOWED',
        `This grant was already extended (or asked to be) ${request.extensions.length} times, the policy's maximum`,
      ),
    );
  try {
    assertDuration(
      body.hours,
      request.maxDurationHours === null ? {} : { maxDurationHours: request.maxDurationHours },
      minDurationSeconds,
    );
  } catch (e) {
    if (!(e instanceof DomainError)) throw e;
    // The body's field is `hours`, not `durationHours`.
    return refuse(
      new DomainError(e.code, e.message.replace('durationHours', 'hours'), {
        errors: e.errors.map((f) => ({ ...f, pointer: '#/hours' })),
      }),
    );
  }
  const at = toTimestamp(now);
  const expiresAt = request.expiresAt ?? at;
  const byPolicy = addHours(now, request.pendingTimeoutHours).toISOString();
  const extension: Extension = {
    id: String(request.extensions.length + 1),
    hours: body.hours,
    reason: body.reason,
    status: 'pending',
    approvals: [],
    createdAt: at,
    pendingUntil: instantOf(byPolicy) < instantOf(expiresAt) ? byPolicy : expiresAt,
    decidedAt: null,
  };
  const asked = { ...request, extensions: [...request.extensions, extension] };
  if (request.stages.length === 0)
    return { kind: 'applied', outcome: 'approved', request: approved(asked, extension, [], now) };
  return { kind: 'applied', outcome: 'requested', request: asked };
}

function findExtension(request: Request, extensionId: string): Extension | undefined {
  return request.extensions.find((e) => e.id === extensionId);
}

/**
 * Why `approver` may not decide on extension `extensionId` now, or undefined. Like a request's
 * decision: never the requester, only an approver of the open stage, once per person per extension;
 * the extension must be pending and before its deadline, and the grant still running.
 */
export function extensionDecisionRefusal(
  request: Request,
  extensionId: string,
  approver: Approver,
  members: GroupMembers,
  now: Date,
  linkStage?: number,
): DomainError | undefined {
  const extension = findExtension(request, extensionId);
  if (extension === undefined)
    return new DomainError('NOT_FOUND', `Request ${request.id} has no extension ${extensionId}`);
  const who = normalizeUpn(approver.upn);
  if (approver.id === request.requesterId)
    return new DomainError('SELF_APPROVAL', 'Requesters may not decide on their own extension');
  if (!isApproverOfAny(request.stages, members, approver.id))
    return new DomainError('NOT_AN_APPROVER', `${who} is not an approver of this request`);
  if (hasDecidedIn(extension, approver))
    return new DomainError('ALREADY_DECIDED', `${who} has already decided on extension ${extension.id}`);
  if (extension.status !== 'pending')
    return new DomainError('EXTENSION_NOT_PENDING', `Extension ${extension.id} is ${extension.status}`);
  if (isPast(extension.pendingUntil, now) || !isGranted(request, now))
    return new DomainError(
      'EXTENSION_NOT_PENDING',
      `Extension ${extension.id} expired at ${extension.pendingUntil} without a decision`,
    );
  return stageRefusal(extensionRound(request, extension), approver.id, members, linkStage);
}

/**
 * One approver's decision on an extension, as a value (outcomes as for a request's decision:
 * `approved` moves `expiresAt` later by the extension's hours). `alreadyApplied`: this approver's
 * decision is in the row and moved the extension on (decided it, or opened its next stage).
 */
export function decideExtensionTransition(
  request: Request,
  extensionId: string,
  input: DecisionInput,
  members: GroupMembers,
  now: Date,
): Transition<DecisionOutcome> {
  const refusal = extensionDecisionRefusal(
    request,
    extensionId,
    input.approver,
    members,
    now,
    input.linkStage,
  );
  // An extension is decided under the request's policy: the same step-up.
  const stepUp = identityOrStepUp(refusal, request.approverAuthContext, input.strength);
  if (stepUp !== undefined) return { kind: 'refused', refusal: stepUp };
  const extension = findExtension(request, extensionId);
  if (refusal !== undefined || extension === undefined) {
    const refused = refusal ?? new DomainError('NOT_FOUND', `No extension ${extensionId}`);
    if (refused.code === 'ALREADY_DECIDED' && extension !== undefined) {
      if (extension.status === 'approved' || extension.status === 'denied')
        return { kind: 'alreadyApplied', outcome: extension.status, request, refusal: refused };
      const own = extension.approvals.find((a) => a.approverId === input.approver.id);
      const open = currentStage(extensionRound(request, extension), extension.status === 'pending');
      if (own !== undefined && open !== null && (own.stage ?? 0) < open)
        return { kind: 'alreadyApplied', outcome: 'stageApproved', request, refusal: refused };
    }
    return { kind: 'refused', refusal: refused };
  }
  const round = extensionRound(request, extension);
  const stage = currentStage(round, true) ?? 0;
  const at = toTimestamp(now);
  const approvals = withDecision(round, input.approver, input.decision, input.comment, at, stage);
  const outcome = roundOutcome(round, { stages: request.stages, approvals });
  const replace = (next: Partial<Extension>) =>
    request.extensions.map((e) => (e.id === extension.id ? { ...e, ...next } : e));
  switch (outcome) {
    case 'recorded':
    case 'stageApproved':
      return { kind: 'applied', outcome, request: { ...request, extensions: replace({ approvals }) } };
    case 'approved':
      return { kind: 'applied', outcome, request: approved(request, extension, approvals, now) };
    case 'denied':
      return {
        kind: 'applied',
        outcome,
        request: { ...request, extensions: replace({ approvals, status: 'denied', decidedAt: at }) },
      };
  }
}

/** The requester withdraws the extension that waits. */
export function cancelExtensionTransition(
  request: Request,
  extensionId: string,
  actor: Pick<Actor, 'id'>,
  now: Date,
): Transition<'canceled'> {
  // Whose it is first: anyone else learns nothing about which extensions exist.
  if (actor.id !== request.requesterId)
    return {
      kind: 'refused',
      refusal: new DomainError('NOT_REQUESTER', 'Only the requester may cancel their extension'),
    };
  const extension = findExtension(request, extensionId);
  if (extension === undefined)
    return {
      kind: 'refused',
      refusal: new DomainError('NOT_FOUND', `Request ${request.id} has no extension ${extensionId}`),
    };
  // Past its deadline (or the grant's end) it has expired, even before the workflow records it.
  if (extension.status === 'pending' && (isPast(extension.pendingUntil, now) || !isGranted(request, now)))
    return {
      kind: 'refused',
      refusal: new DomainError(
        'EXTENSION_NOT_PENDING',
        `Extension ${extension.id} expired at ${extension.pendingUntil} without a decision`,
      ),
    };
  if (extension.status !== 'pending') {
    const refusal = new DomainError(
      'EXTENSION_NOT_PENDING',
      `Extension ${extension.id} is ${extension.status}`,
    );
    return extension.status === 'canceled'
      ? { kind: 'alreadyApplied', outcome: 'canceled', request, refusal }
      : { kind: 'refused', refusal };
  }
  return {
    kind: 'applied',
    outcome: 'canceled',
    request: { ...request, extensions: closeWaitingExtension(request, 'canceled', now) },
  };
}

/**
 * The extension that waits passed its deadline while the grant still runs: pending → expired (at
 * the deadline itself, as a request's expiry). Unchanged when none waits or it is not yet due.
 */
export function expireExtension(request: Request, now: Date): SystemTransition<'expired'> {
  const waiting = pendingExtension(request);
  if (waiting === undefined || !isPast(waiting.pendingUntil, now)) return { outcome: 'unchanged', request };
  return {
    outcome: 'expired',
    request: { ...request, extensions: closeWaitingExtension(request, 'expired', now) },
  };
}

/** Whether the request, or its waiting extension, waits for `approver`'s decision now (`approvable=true`). */
export function awaitsDecisionBy(
  request: Request,
  approver: Approver,
  members: GroupMembers,
  now: Date,
): boolean {
  if (decisionRefusal(request, approver, members, now) === undefined) return true;
  const waiting = pendingExtension(request);
  return (
    waiting !== undefined &&
    extensionDecisionRefusal(request, waiting.id, approver, members, now) === undefined
  );
}

/** The round an emailed extension link decides in, for its pages. */
export function extensionOf(request: Request, extensionId: string): Extension | undefined {
  return findExtension(request, extensionId);
}

/**
 * The next instant the grant's workflow must act at, after approval: the start (a scheduled grant),
 * the waiting extension's deadline when sooner than the end, or the end. Null once it is over.
 */
export function nextGrantDeadline(request: Request, now: Date): string | null {
  if (request.status !== 'approved' || request.expiresAt === null || request.grantedAt === null) return null;
  if (!isPast(request.grantedAt, now)) return request.grantedAt;
  const waiting = pendingExtension(request);
  if (waiting !== undefined && instantOf(waiting.pendingUntil) < instantOf(request.expiresAt))
    return waiting.pendingUntil;
  return request.expiresAt;
}

export { roundOf };
