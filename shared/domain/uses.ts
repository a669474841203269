/**
 * Counted grants: a policy's `maxUses` ends the grant after that many successful executions. The
 * count is taken by the same compare-and-swap on the request row that admits an execution — each
 * admitted execution holds a use until its outcome is recorded — so concurrent executions can never
 * exceed it. A failed execution gives its use back; the last successful one ends the grant
 * (`ended`, "uses exhausted"). An execution whose outcome is never recorded (the host died while it
 * ran) keeps its use: unknown is not "failed", and the count must never be exceeded.
 */
import { DomainError } from './errors';
import {
  closeWaitingExtension,
  isLive,
  MAX_IN_FLIGHT,
  USES_EXHAUSTED,
  type Request,
  type SystemTransition,
  type Transition,
} from './request';
import { instantOf, toTimestamp } from './time';

/** Uses left to admit: the maximum less the successful ones and those running; null when unlimited. */
export function usesLeft(request: Pick<Request, 'maxUses' | 'uses' | 'inFlight'>): number | null {
  return request.maxUses === null
    ? null
    : Math.max(0, request.maxUses - request.uses - request.inFlight.length);
}

/**
 * Admits execution `executionId` under a counted grant: it takes a use. Refused NO_ACTIVE_GRANT when
 * the grant is not live (or every use ran), USES_IN_FLIGHT when the uses left are held by executions
 * still running. `alreadyApplied`: this execution holds a use already.
 */
export function admitUse(request: Request, executionId: string, now: Date): Transition<'admitted'> {
  if (request.inFlight.some((c) => c.executionId === executionId))
    return {
      kind: 'alreadyApplied',
      outcome: 'admitted',
      request,
      refusal: new DomainError('CONFLICT', `Execution ${executionId} was already admitted`),
    };
  if (!isLive(request, now))
    return {
      kind: 'refused',
      refusal: new DomainError(
        'NO_ACTIVE_GRANT',
        request.endReason === USES_EXHAUSTED
          ? `Request ${request.id} was used ${request.uses} times, its maximum`
          : `The grant of request ${request.id} is not live`,
      ),
    };
  const left = usesLeft(request);
  if (left === null) return { kind: 'applied', outcome: 'admitted', request }; // unlimited: nothing to count
  if (left === 0 || request.inFlight.length >= MAX_IN_FLIGHT)
    return {
      kind: 'refused',
      refusal: new DomainError(
        'USES_IN_FLIGHT',
        `All ${String(request.maxUses)} uses of request ${request.id} are taken: ${request.uses} ran, ` +
          `${request.inFlight.length} held by executions still running or whose outcome never came back ` +
          '(those stay held until the grant ends); try again once running ones finish',
        { retryAfterSeconds: 1 },
      ),
    };
  return {
    kind: 'applied',
    outcome: 'admitted',
    request: { ...request, inFlight: [...request.inFlight, { executionId, at: toTimestamp(now) }] },
  };
}

/**
 * Records the outcome of an admitted execution: a success counts its use (`counted`, or `exhausted`
 * when it was the last: the grant ends now, and an extension still waiting is canceled), a failure
 * gives it back (`returned`). `unchanged`: the outcome is recorded already (a retry) or the execution
 * was never admitted.
 */
export function settleUse(
  request: Request,
  executionId: string,
  succeeded: boolean,
  now: Date,
): SystemTransition<'counted' | 'exhausted' | 'returned'> {
  if (!request.inFlight.some((c) => c.executionId === executionId)) return { outcome: 'unchanged', request };
  const inFlight = request.inFlight.filter((c) => c.executionId !== executionId);
  if (!succeeded) return { outcome: 'returned', request: { ...request, inFlight } };
  const uses = request.uses + 1;
  const counted = { ...request, inFlight, uses };
  if (request.status !== 'approved' || request.maxUses === null || uses < request.maxUses)
    return { outcome: 'counted', request: counted };
  return {
    outcome: 'exhausted',
    request: {
      ...counted,
      status: 'ended',
      // Admitted just before the end, it may finish after it: the grant ended no later than its expiry.
      endedAt:
        request.expiresAt !== null && instantOf(request.expiresAt) < now.getTime()
          ? request.expiresAt
          : toTimestamp(now),
      endReason: USES_EXHAUSTED,
      extensions: closeWaitingExtension(request, 'canceled', now),
    },
  };
}
