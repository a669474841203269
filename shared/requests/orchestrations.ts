/**
 * The request's orchestration, seen from HTTP handlers: start it, tell it about decisions, read the
 * state it mirrors in its custom status. Wraps the `durable-functions` client so use cases depend
 * on this small interface only.
 */
import { OrchestrationRuntimeStatus, type DurableClient } from 'durable-functions';
import { z } from 'zod';
import { DomainError } from '#shared/domain/errors';
import { RequestStatusSchema } from '#shared/domain/request';

export const ORCHESTRATOR = 'accessRequest';

/** External events the orchestration waits for. */
export const RequestEvent = {
  /** The pending phase is over: approved, denied or canceled (already written to the request row). */
  Decided: 'RequestDecided',
  /** The grant was revoked (already written to the request row). */
  Revoked: 'GrantRevoked',
} as const;
export type RequestEvent = (typeof RequestEvent)[keyof typeof RequestEvent];

/** The orchestration's custom status: the request's live state, mirrored for the execution guard. */
export const OrchestrationMirror = z.object({
  status: RequestStatusSchema,
  expiresAt: z.string().nullable().optional(),
  pendingUntil: z.string().nullable().optional(),
});
export type OrchestrationMirror = z.infer<typeof OrchestrationMirror>;

export const OrchestrationInput = z.strictObject({ requestId: z.string().min(1).max(64) });
export type OrchestrationInput = z.infer<typeof OrchestrationInput>;

export interface OrchestrationState {
  running: boolean;
  mirror: OrchestrationMirror | undefined;
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

export function durableOrchestrations(client: DurableClient): Orchestrations {
  return {
    async start(requestId) {
      try {
        await client.startNew(ORCHESTRATOR, { instanceId: requestId, input: { requestId } });
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
