/**
 * The reconciler's story (run every few minutes by functions/reconciler.ts): finds requests that
 * are not final while their workflow is over for good (failed, terminated, or completed without
 * finishing them) or was never started, and closes them as `failed` with the reason, so nothing
 * stays pending forever or approved with nothing to end it. The workflow marks its own request
 * failed when it can (functions/access-request.ts); this is the backstop for when it could not
 * (storage down past its retries, a terminated instance, a host that died between storing a
 * request and starting its workflow).
 *
 * How it finds them without scanning everything: the `open` index (./repository.ts) holds one row
 * per request not yet seen final, each with the time it is next due a look (`CheckAt`). A run asks
 * that one partition for the rows due now, a query the table service filters: with nothing due it
 * reads nothing. The Durable client's instance query by runtime status was the other candidate,
 * but on the Azure Storage provider it filters the whole instance table (every request ever made:
 * nothing is purged), on every run, and it cannot see a workflow that never started.
 *
 * Each request that is due costs a row read and, while it is not final, a status read of its
 * workflow; a live one is looked at again `RECHECK_MS` later. So the work per run is bounded by the
 * open requests (pending and live grants), never by the history.
 *
 * Safe to run on several instances at once, and after a crash at any point: the transition is a
 * compare-and-swap (only one run makes it; the others find it made), its audit event has a fixed id,
 * and the open row is removed last, so a run that dies leaves the request due for the next one.
 *
 * It is also the backstop for a lost event. A story tells the workflow of a change it committed
 * (a decision, a stage approved, an extension, a revoke, a counted grant's last use) with an event
 * that only says "look again"; if the caller died before raising it, the workflow waits for its next
 * deadline. A running workflow whose mirror (its custom status) is behind the row for longer than
 * `LOST_EVENT_AFTER_MS` is told again (`lostEvent`): a duplicate is harmless, the row decides.
 */
import type { AuditSink } from '#shared/audit/types';
import { isFinal, roundOf, USES_EXHAUSTED, type Request } from '#shared/domain/request';
import { currentStage } from '#shared/domain/stages';
import { flushAudit } from './audit-outbox';
import { RequestEvent, type OrchestrationMirror, type Orchestrations } from './orchestrations';
import type { OpenEntry, RequestRepository } from './repository';
import { extensionMarks } from './settle';
import { failRequest, START_GRACE_MS } from './usecases';

/** How often a request whose workflow runs is looked at again (a workflow can fail at any step). */
export const RECHECK_MS = 30 * 60_000;
/** Requests looked at per run, at most; the rest are still due on the next run. */
export const MAX_PER_RUN = 200;
/** Requests looked at side by side. */
const CONCURRENCY = 8;
/** A change this old that the workflow's mirror does not show lost its event; a younger one is in flight. */
export const LOST_EVENT_AFTER_MS = 2000;

export interface ReconcileContext {
  repo: RequestRepository;
  audit: AuditSink;
  orchestrations: Pick<Orchestrations, 'state' | 'raise'>;
  /** Tells the requester and the approver group that the request failed (the `failed` notification). */
  alert(requestId: string): Promise<void>;
  now: Date;
  log(message: string): void;
}

export interface ReconcileReport {
  /** Requests due and looked at. */
  looked: number;
  /** Requests this run marked failed. */
  failed: string[];
  /** Requests no longer watched (seen final, or never stored). */
  closed: number;
  /** Requests whose look failed (storage or the engine not answering); still due next run. */
  errors: number;
  /** Requests whose workflow was told again of a change whose event was lost. */
  nudged: string[];
}

export async function reconcile(ctx: ReconcileContext): Promise<ReconcileReport> {
  const due = await ctx.repo.dueOpen(ctx.now, MAX_PER_RUN);
  const report: ReconcileReport = { looked: due.length, failed: [], closed: 0, errors: 0, nudged: [] };
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let entry = due[next++]; entry !== undefined; entry = due[next++]) {
      try {
        const verdict = await reconcileOne(ctx, entry, (id) => report.nudged.push(id));
        if (verdict === 'failed') report.failed.push(entry.id);
        if (verdict !== 'watching') report.closed += 1;
      } catch (e) {
        report.errors += 1;
        ctx.log(
          `reconciler: request ${entry.id} not reconciled: ${e instanceof Error ? e.message : String(e)}`,
        );
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, due.length) }, worker));
  return report;
}

const later = (at: Date | string, ms: number): string =>
  new Date((typeof at === 'string' ? Date.parse(at) : at.getTime()) + ms).toISOString();

async function reconcileOne(
  ctx: ReconcileContext,
  entry: OpenEntry,
  nudged: (id: string) => void,
): Promise<'failed' | 'closed' | 'watching'> {
  const young = ctx.now.getTime() - Date.parse(entry.createdAt) < START_GRACE_MS;
  const stored = await ctx.repo.read(entry.id);
  if (stored === undefined) {
    // The submit stopped between its index rows and its row (or removed a request whose workflow
    // could not start): nothing to close but the entries pointing at it, once it cannot still come.
    if (young) return recheck(ctx, entry, later(entry.createdAt, START_GRACE_MS));
    await ctx.repo.closeOpen(entry, true);
    return 'closed';
  }
  const { request, audit } = stored;
  if (isFinal(request.status)) {
    // Its workflow's sweep appends what waits; one that died before sweeping leaves it to us.
    if (audit.length > 0) await flushAudit(ctx.repo, ctx.audit, request.id, 'claimable', ctx.now);
    // Ended by a caller (a revoke, the last use) rather than by the workflow: it may not have heard.
    if (request.status === 'revoked' || request.endReason === USES_EXHAUSTED) {
      const state = await ctx.orchestrations.state(request.id);
      const lost = state?.running === true ? lostEvent(request, state.mirror, ctx.now) : undefined;
      if (lost?.event !== undefined) await nudge(ctx, request, lost.event, nudged);
      else if (lost !== undefined) return recheck(ctx, entry, later(ctx.now, LOST_EVENT_AFTER_MS));
    }
    await ctx.repo.closeOpen(entry, false);
    return 'closed';
  }
  const state = await ctx.orchestrations.state(request.id);
  let reason: string;
  if (state === undefined) {
    if (young) return recheck(ctx, entry, later(entry.createdAt, START_GRACE_MS));
    reason = 'its workflow never started';
  } else if (state.fault !== undefined) {
    reason = state.fault;
  } else {
    const lost = state.running ? lostEvent(request, state.mirror, ctx.now) : undefined;
    if (lost?.event !== undefined) await nudge(ctx, request, lost.event, nudged);
    // A change still in flight: looked at again once its event would count as lost.
    else if (lost !== undefined) return recheck(ctx, entry, later(ctx.now, LOST_EVENT_AFTER_MS));
    return recheck(ctx, entry, later(ctx.now, RECHECK_MS));
  }
  const outcome = await failRequest(ctx, request.id, reason);
  if (outcome === undefined) return 'watching'; // gone meanwhile: the next run closes it
  if (outcome.made) {
    ctx.log(`reconciler: request ${request.id} was ${request.status}; marked failed: ${reason}`);
    // Only the run that made the transition alerts, and once: a lost alert is logged, and the
    // fault stays in the request and its audit (`request.failed`).
    await ctx.alert(request.id).catch((e: unknown) => {
      ctx.log(
        `reconciler: alert for request ${request.id} not sent: ${e instanceof Error ? e.message : String(e)}`,
      );
    });
  }
  await ctx.repo.closeOpen(entry, false);
  return outcome.made ? 'failed' : 'closed';
}

async function recheck(ctx: ReconcileContext, entry: OpenEntry, at: string): Promise<'watching'> {
  await ctx.repo.recheckOpen(entry.id, at);
  return 'watching';
}

async function nudge(
  ctx: ReconcileContext,
  request: Request,
  event: RequestEvent,
  nudged: (id: string) => void,
): Promise<void> {
  await ctx.orchestrations.raise(request.id, event, { status: request.status });
  ctx.log(`reconciler: request ${request.id} moved on without its workflow hearing; raised ${event} again`);
  nudged(request.id);
}

/** The latest instant the row records a change at: a decision, an approval, an extension's step, the end. */
function changedAt(request: Request): number {
  const times = [
    request.decidedAt,
    request.endedAt,
    ...request.approvals.map((a) => a.at),
    ...request.extensions.flatMap((e) => [e.createdAt, e.decidedAt, ...e.approvals.map((a) => a.at)]),
  ].filter((t): t is string => t !== null);
  return Math.max(0, ...times.map((t) => Date.parse(t)));
}

/**
 * Whether the row has moved on while the running workflow's mirror has not, and which event says
 * "look again": `Decided` for a pending request decided, or whose next stage opened; `GrantChanged`
 * for a grant whose end or extension changed, or that its last use ended; `Revoked` for a revoke.
 * `event` is absent while the change is younger than `LOST_EVENT_AFTER_MS` (its event may be on
 * its way); undefined when the mirror is not behind. Stages and extensions are compared only with
 * a mirror that records them (shape 3 and later).
 */
export function lostEvent(
  request: Request,
  mirror: OrchestrationMirror | undefined,
  now: Date,
): { event?: RequestEvent } | undefined {
  if (mirror === undefined) return undefined;
  const event = ((): RequestEvent | undefined => {
    if (mirror.status === 'pending') {
      if (request.status === 'approved' || request.status === 'denied' || request.status === 'canceled')
        return RequestEvent.Decided;
      const stage = currentStage(roundOf(request), request.status === 'pending');
      if (mirror.stage !== undefined && stage !== null && stage > (mirror.stage ?? -1))
        return RequestEvent.Decided;
      return undefined;
    }
    if (mirror.status !== 'approved') return undefined;
    if (request.status === 'revoked') return RequestEvent.Revoked;
    if (request.status === 'ended' && request.endReason === USES_EXHAUSTED) return RequestEvent.GrantChanged;
    if (request.status !== 'approved' || mirror.extensions === undefined) return undefined;
    // Every extension, not only the last: each step the workflow has not seen is a notice it owes.
    const marks = extensionMarks(request);
    const seen = mirror.extensions;
    const same =
      request.expiresAt === mirror.expiresAt &&
      marks.length === seen.length &&
      marks.every(
        (mark, i) =>
          mark.id === seen[i]?.id && mark.status === seen[i].status && mark.stage === seen[i].stage,
      );
    return same ? undefined : RequestEvent.GrantChanged;
  })();
  if (event === undefined) return undefined;
  return now.getTime() - changedAt(request) >= LOST_EVENT_AFTER_MS ? { event } : {};
}
