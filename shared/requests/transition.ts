/**
 * The one shape of every transition a caller asks for (decide, cancel, revoke, and those to come):
 * read the request → apply the pure rule → compare-and-swap it, with the transition's audit events
 * in its outbox → tell the orchestration → flush the outbox to the audit.
 *
 * Whatever fails after the compare-and-swap, the transition's audit events wait in the row, and
 * the next touch of the request (a retried call, the orchestration's activities, a repeated submit)
 * appends them (./audit-outbox.ts; at-least-once, duplicates carry the same id). A retry that finds
 * the transition already made (the rule says `alreadyApplied`) runs the follow-ups again and is then
 * refused as the first answer would now be: events only say "look again", so a repeated one is
 * harmless and a lost one must not strand the request.
 */
import type { AuditAction } from '#shared/audit/types';
import { DomainError, type ErrorCode } from '#shared/domain/errors';
import {
  canView,
  toRequestView,
  type GroupMembers,
  type Request,
  type RequestView,
  type Transition,
} from '#shared/domain/request';
import { flushAudit, ownEvents, type PendingAudit } from './audit-outbox';
import { actorOf, membersOf, notFound, type Caller, type RequestContext } from './context';
import { record } from '#shared/telemetry/metrics';
import type { RequestEvent } from './orchestrations';

/** One kind of caller transition, as the stories declare it; `O` is the set of the rule's outcomes. */
export interface CallerTransition<O extends string> {
  /**
   * Who may address the request at all (default: who may see it). Anyone else is answered 404,
   * learning nothing about the request, not even that it exists.
   */
  addressable?: (request: Request, members: GroupMembers) => boolean;
  /** The pure rule over the row as it is now (run again on every compare-and-swap attempt). */
  rule: (request: Request, members: GroupMembers) => Transition<O>;
  /** The audit events of an applied outcome, recorded by the same write as the transition. */
  events: (outcome: O, next: Request) => PendingAudit[];
  /**
   * What follows an outcome, whether this call made it or a retry found it made: whether the
   * live-grant index must follow the request, and the event the orchestration waits for (none when
   * the outcome leaves its wait as it was).
   */
  follow: (outcome: O, request: Request) => { liveIndex: boolean; event?: RequestEvent };
  /**
   * When refusals of this transition are audited: as which action, and with which code a caller
   * who may not address the request is refused (they are answered 404).
   */
  refusals?: { audited: AuditAction; unaddressable: ErrorCode };
  /**
   * A retry that finds its change made is answered with the request as it is now (200), not
   * refused: for calls that create something (an extension), where a client's retry after a lost
   * answer must find what its first attempt made.
   */
  answersRetries?: boolean;
}

/** Runs `transition` on request `id` for `caller`: the new view, or the rule's refusal thrown. */
export async function runTransition<O extends string>(
  ctx: RequestContext,
  caller: Caller,
  id: string,
  transition: CallerTransition<O>,
): Promise<RequestView> {
  const current = (await ctx.repo.read(id))?.request;
  if (!current) throw notFound(id);
  const members = await membersOf(ctx, current);
  const addressable = transition.addressable ?? ((r, m) => canView(r, actorOf(caller.principal), m));
  const { refusals } = transition;
  if (!addressable(current, members)) {
    if (refusals) await auditRefusal(ctx, caller, refusals.audited, current, refusals.unaddressable);
    throw notFound(id);
  }
  // What the rule said of the row the write was made against, and the events that write recorded.
  // `was`: that row's status (a retried write may be made against a newer row than the first read).
  type Outcome = { verdict: Transition<O>; own: readonly PendingAudit[]; was?: string };
  const { verdict, own, was } = await ctx.repo
    .update<Outcome>(id, (request) => {
      const verdict = transition.rule(request, members);
      if (verdict.kind !== 'applied') return { result: { verdict, own: [] } };
      const audit = transition.events(verdict.outcome, verdict.request);
      return { next: verdict.request, result: { verdict, own: audit, was: request.status }, audit };
    })
    .catch((e: unknown): Outcome => {
      // The row itself refused (gone since the first read): answered like the rule's refusals.
      if (e instanceof DomainError && e.kind !== 'unavailable')
        return { verdict: { kind: 'refused', refusal: e }, own: [] };
      throw e;
    });

  if (verdict.kind === 'applied') {
    const next = verdict.request;
    if (next.status !== was) record.requestStatus(next.status, next.task);
    const { liveIndex, event } = transition.follow(verdict.outcome, next);
    // The index and the audit before the orchestration, whose `approved` lets executions run: a
    // grant is in the log before anything runs under it. A failed append still lets it hear.
    // The index and the audit are independent of each other: side by side.
    await afterCommit([
      together([
        ...(liveIndex ? [() => ctx.repo.syncLiveIndex(next)] : []),
        () => flushAudit(ctx.repo, ctx.audit, id, ownEvents(own), ctx.now),
      ]),
      ...(event ? [() => ctx.orchestrations.raise(id, event, { status: next.status })] : []),
    ]);
    return toRequestView(next, await ctx.repo.executions(id));
  }

  // Refused, or already applied by an earlier attempt: finish what that attempt may not have (its
  // events wait, claimable once its claim has run out), then refuse as the rule says.
  const found = verdict.kind === 'alreadyApplied' ? verdict : undefined;
  const { liveIndex, event } = found ? transition.follow(found.outcome, found.request) : { liveIndex: false };
  await afterCommit([
    ...(found && liveIndex ? [() => ctx.repo.syncLiveIndex(found.request)] : []),
    () => flushAudit(ctx.repo, ctx.audit, id, 'claimable', ctx.now),
    ...(found && event ? [() => ctx.orchestrations.raise(id, event, { status: found.request.status })] : []),
    ...(refusals && !(found && transition.answersRetries)
      ? [() => auditRefusal(ctx, caller, refusals.audited, current, verdict.refusal)]
      : []),
  ]);
  if (found && transition.answersRetries) return toRequestView(found.request, await ctx.repo.executions(id));
  throw verdict.refusal;
}

/**
 * The follow-ups of a committed transition. Every step is attempted even when one fails — a lost
 * audit append must not also leave the orchestration uninformed — and the first failure is then
 * reported (a 503: the transition itself stands, as a re-read shows).
 */
export async function afterCommit(steps: (() => Promise<unknown>)[]): Promise<void> {
  let failure: Error | undefined;
  for (const step of steps) {
    try {
      await step();
    } catch (e) {
      failure ??= e instanceof Error ? e : new Error(String(e));
    }
  }
  if (failure !== undefined) throw failure;
}

/** One step of `afterCommit` made of steps run side by side: each runs to its end, the first failure is reported. */
export function together(steps: (() => Promise<unknown>)[]): () => Promise<void> {
  return async () => {
    const settled = await Promise.allSettled(steps.map((step) => step()));
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined)
      throw failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason));
  };
}

/** A refusal in the audit: the rule's, with its message, or the bare code of one answered 404. */
async function auditRefusal(
  ctx: RequestContext,
  caller: Caller,
  action: AuditAction,
  request: Request,
  refusal: DomainError | ErrorCode,
): Promise<void> {
  await ctx.audit.append({
    action,
    actor: caller.actor,
    outcome: 'refused',
    requestId: request.id,
    task: request.task,
    reason: typeof refusal === 'string' ? refusal : `${refusal.code}: ${refusal.message}`,
    origin: caller.origin,
  });
}
