/**
 * The request's orchestration, seen from HTTP handlers: start it, tell it about decisions, read the
 * state it mirrors in its custom status. Wraps the `durable-functions` client so use cases depend
 * on this small interface only.
 */
import { OrchestrationRuntimeStatus, type DurableClient } from 'durable-functions';
import { z } from 'zod';
import { DomainError, isDomainError } from '#shared/domain/errors';
import { ExtensionStatusSchema, RequestStatusSchema } from '#shared/domain/request';
import { currentTraceparent } from '#shared/telemetry/spans';

export const ORCHESTRATOR = 'accessRequest';

/** External events the orchestration waits for. */
export const RequestEvent = {
  /** The pending phase is over: approved, denied or canceled (already written to the request row). */
  Decided: 'RequestDecided',
  /** The grant was revoked (already written to the request row). */
  Revoked: 'GrantRevoked',
  /**
   * Something in the live grant changed (already written to the request row): an extension was
   * asked for, decided (a stage or all of it) or canceled, or a counted grant's last use ran. Like
   * every event it only says "look again"; waited for by shape 3 and later.
   */
  GrantChanged: 'GrantChanged',
} as const;
export type RequestEvent = (typeof RequestEvent)[keyof typeof RequestEvent];

/** An extension as the workflow last handled it: which one, its status, the stage it waits in. */
export const ExtensionMark = z.strictObject({
  id: z.string().min(1).max(2),
  status: ExtensionStatusSchema,
  /** The stage that decides it now; null once decided. */
  stage: z.int().min(0).nullable(),
});
export type ExtensionMark = z.infer<typeof ExtensionMark>;

/**
 * The orchestration's custom status: the request's live state, mirrored for the execution guard.
 * Shape 3 adds what it has acted on, so the reconciler can tell a lost event (./reconcile.ts):
 * `stage`, the stage whose approvers it asked, and `extensions`, each extension as it handled it.
 * Read leniently: the guard needs only the status, so a part that does not parse (a mirror written
 * by another version) is dropped rather than the mirror refused, and unknown keys are ignored.
 */
export const OrchestrationMirror = z.object({
  status: RequestStatusSchema,
  expiresAt: z.string().nullable().optional(),
  pendingUntil: z.string().nullable().optional(),
  grantedAt: z.string().nullable().optional(),
  stage: z.int().min(0).nullable().optional().catch(undefined),
  extensions: z.array(ExtensionMark).max(10).optional().catch(undefined),
});
export type OrchestrationMirror = z.infer<typeof OrchestrationMirror>;

/**
 * `shape`: which sequence of steps this instance follows. A replayed instance must schedule exactly
 * what its history holds, so a change of steps applies only to instances started with the new shape;
 * absent = 1, instances started before shapes were numbered. 2: the pending phase and the grant
 * also sweep the audit outbox once a dead caller's claim runs out (functions/access-request.ts).
 * 3: approval stages, scheduled starts and extensions — the workflow looks again at every event
 * and deadline, and tells each stage, the start and each extension's steps.
 */
export const OrchestrationInput = z.strictObject({
  requestId: z.string().min(1).max(64),
  shape: z.int().min(1).max(3).optional(),
  /**
   * The W3C trace context of the submit that started the workflow, when telemetry is on: its
   * activities' spans are the submit's children (one trace from the HTTP call to the webhook).
   * Input data, so replays see the same value; instances started without it run as before.
   */
  traceparent: z.string().max(128).optional(),
});
/**
 * What the workflow hands an activity that works on one request: the request id alone (as every
 * instance started before traces did), or with the trace context the workflow carries.
 */
export const RequestActivityInput = z.union([
  z.string().min(1).max(64),
  z.strictObject({ requestId: z.string().min(1).max(64), traceparent: z.string().max(128) }),
]);
export type RequestActivityInput = z.infer<typeof RequestActivityInput>;

/** The activity input for `requestId`: the bare id unless there is a trace context to carry. */
export function requestActivityInput(
  requestId: string,
  traceparent: string | undefined,
): RequestActivityInput {
  return traceparent === undefined ? requestId : { requestId, traceparent };
}

/** The request id and trace context of an activity's input (throws on anything else: a permanent fault). */
export function readRequestActivityInput(input: unknown): { requestId: string; traceparent?: string } {
  const parsed = RequestActivityInput.parse(input);
  return typeof parsed === 'string' ? { requestId: parsed } : parsed;
}

/** The shape new instances start with. */
export const ORCHESTRATION_SHAPE = 3;
export type OrchestrationInput = z.infer<typeof OrchestrationInput>;

export interface OrchestrationState {
  running: boolean;
  mirror: OrchestrationMirror | undefined;
  /**
   * What the workflow says when it is over for good (Failed, Terminated or Completed: the failure,
   * the termination's reason, or its result), for a request that may not be over; absent while the
   * workflow runs or waits to start.
   */
  fault?: string | undefined;
}

/**
 * An activity's answer when its step can never succeed, however often it is retried: a request row
 * that does not exist, input or a stored row that fails its schema, a rule that refuses. Durable
 * Functions' RetryOptions cannot tell errors apart (it retries every throw for as long as it is
 * told), so the activity does not throw these: it returns this outcome and the orchestrator stops
 * at once instead of retrying for an hour.
 */
export const PermanentFault = z.strictObject({ permanent: z.string().min(1).max(1000) });
export type PermanentFault = z.infer<typeof PermanentFault>;

/**
 * Whether retrying `error` cannot help. Transient: storage, the bus or the engine not answering
 * (UNAVAILABLE), a deadline the activity's clock has not reached yet (NOT_YET_DUE: its clock may run
 * behind the orchestration's), and anything unknown (an SDK's network error), which is retried.
 */
export function isPermanent(error: unknown): boolean {
  if (error instanceof z.ZodError) return true;
  return isDomainError(error) && error.kind !== 'unavailable' && error.code !== 'NOT_YET_DUE';
}

/** Runs an activity's work: a permanent failure becomes a `PermanentFault` answer, a transient one is thrown (and retried). */
export async function classified<T>(work: () => Promise<T>): Promise<T | PermanentFault> {
  try {
    return await work();
  } catch (e) {
    if (!isPermanent(e)) throw e;
    const text = isDomainError(e) ? `${e.code}: ${e.message}` : `invalid input: ${String(e)}`;
    return { permanent: text.slice(0, 1000) };
  }
}

export interface Orchestrations {
  start(requestId: string): Promise<void>;
  state(requestId: string): Promise<OrchestrationState | undefined>;
  raise(requestId: string, event: RequestEvent, payload: unknown): Promise<void>;
}

function unavailable(what: string, cause: unknown): DomainError {
  return new DomainError('UNAVAILABLE', `The workflow engine did not answer (${what}); try again shortly.`, {
    cause,
  });
}

/** The reason an instance that is over gives: its output is the failure's message, the termination's reason, or its result. */
function faultOf(runtimeStatus: string, output: unknown): string {
  const text = typeof output === 'string' ? output : output === undefined ? '' : JSON.stringify(output);
  // The first line: a failure's output carries the stack after it.
  const detail = text.split('\n')[0]?.trim() ?? '';
  return `workflow ${runtimeStatus.toLowerCase()}${detail ? `: ${detail}` : ''}`.slice(0, 1000);
}

export function durableOrchestrations(client: DurableClient): Orchestrations {
  return {
    async start(requestId) {
      try {
        const traceparent = currentTraceparent();
        const input: OrchestrationInput = {
          requestId,
          shape: ORCHESTRATION_SHAPE,
          ...(traceparent === undefined ? {} : { traceparent }),
        };
        await client.startNew(ORCHESTRATOR, { instanceId: requestId, input });
      } catch (e) {
        // Starting is idempotent: a concurrent retry of the same submit may have started it first.
        const existing = await client.getStatus(requestId).catch(() => undefined);
        if (existing?.runtimeStatus !== undefined) return;
        throw unavailable('start', e);
      }
    },
    async state(requestId) {
      let status;
      try {
        status = await client.getStatus(requestId, { showInput: false });
      } catch (e) {
        // The client throws on 404 with this text; anything else is an outage.
        if (e instanceof Error && /404/.test(e.message)) return undefined;
        throw unavailable('status', e);
      }
      const mirror = OrchestrationMirror.safeParse(status.customStatus);
      return {
        running: status.runtimeStatus === OrchestrationRuntimeStatus.Running,
        mirror: mirror.success ? mirror.data : undefined,
        ...(status.runtimeStatus === OrchestrationRuntimeStatus.Failed ||
        status.runtimeStatus === OrchestrationRuntimeStatus.Terminated ||
        status.runtimeStatus === OrchestrationRuntimeStatus.Completed
          ? { fault: faultOf(status.runtimeStatus, status.output) }
          : {}),
      };
    },
    async raise(requestId, event, payload) {
      // Retried: the decision is already committed; the orchestration must hear of it.
      for (let attempt = 1; ; attempt++) {
        try {
          await client.raiseEvent(requestId, event, payload);
          return;
        } catch (e) {
          if (attempt >= 3) throw unavailable('event', e);
          await new Promise((r) => setTimeout(r, 100 * attempt));
        }
      }
    },
  };
}
