/**
 * The request stories: submit, read, list, decide, cancel, revoke. Each reads like the feature:
 * load what the rule needs → apply the pure rule → compare-and-swap the request, with the
 * transition's audit events in its outbox → tell the orchestration → flush the outbox to the audit.
 *
 * Whatever fails after the compare-and-swap, the transition's audit events wait in the row, and
 * the next touch of the request (a retried call, the orchestration's activities, a repeated submit)
 * appends them (./outbox.ts; at-least-once, duplicates carry the same id). A retry that finds the
 * transition already made also tells the orchestration again: events only say "look again", so a
 * repeated one is harmless and a lost one must not strand the request.
 */
import { randomUUID } from 'node:crypto';
import {
  AuditAction,
  SYSTEM_ACTOR,
  type AuditActor,
  type AuditEventInput,
  type AuditOrigin,
  type AuditSink,
} from '#shared/audit/types';
import type { Principal } from '#shared/auth/index';
import { effectiveTasks, type Catalog, type Target, type Task } from '#shared/domain/catalog';
import { DomainError } from '#shared/domain/errors';
import { assertPamEnabled, type PamConfig } from '#shared/domain/pam';
import { requirePolicy, type Policy } from '#shared/domain/policy';
import {
  applyDecision,
  canView,
  isLive,
  cancel as cancelRule,
  decisionRefusal,
  end as endRule,
  expire as expireRule,
  planRequest,
  revoke as revokeRule,
  targetOf,
  toRequestView,
  type Decision,
  type ListRequestsQuery,
  type Request,
  type RequestView,
  type SubmitRequestBody,
  type SystemTransition,
} from '#shared/domain/request';
import { RequestEvent, type Orchestrations } from './orchestrations';
import {
  flushAudit,
  lifecycleEventId,
  ownEvents,
  pending,
  type FlushResult,
  type FlushScope,
  type PendingAudit,
} from './outbox';
import { indexKeys, type RequestRepository } from './repository';

/** What the request flow reads of the configuration (implemented by the admin repositories). */
export interface ConfigReader {
  pamConfig(): Promise<PamConfig>;
  /** Every policy (to find the approver groups a user belongs to). */
  policies(): Promise<readonly Policy[]>;
  /** Members (lower-cased UPNs) of an approver group; empty when the group does not exist. */
  groupMembers(group: string): Promise<readonly string[]>;
  task(name: string): Promise<Task | undefined>;
  /** What `resolvePolicy`/`effectiveTasks` need for one target, without loading the whole catalog. */
  policyContext(target: Target): Promise<{ catalog: Catalog; policies: readonly Policy[] }>;
}

export interface RequestContext {
  repo: RequestRepository;
  config: ConfigReader;
  orchestrations: Orchestrations;
  audit: AuditSink;
  now: Date;
  minDurationSeconds: number;
}

export interface Caller {
  principal: Principal;
  actor: AuditActor;
  origin: AuditOrigin;
}

function actorOf(p: Principal): { id: string; upn: string; isAdmin: boolean; isAuditor: boolean } {
  return { id: p.id, upn: p.upn, isAdmin: p.isAdmin, isAuditor: p.isAuditor };
}

const notFound = (id: string) => new DomainError('NOT_FOUND', `No request with id ${id}`);

async function membersOf(ctx: RequestContext, request: Request): Promise<readonly string[]> {
  return request.approverGroup === null ? [] : ctx.config.groupMembers(request.approverGroup);
}

async function view(ctx: RequestContext, request: Request): Promise<RequestView> {
  return toRequestView(request, await ctx.repo.executions(request.id));
}

/** `POST /api/requests`. Answers the new (or, for a repeated clientRequestId, the earlier) request. */
export async function submitRequest(
  ctx: RequestContext,
  caller: Caller,
  body: SubmitRequestBody,
): Promise<{ view: RequestView; created: boolean }> {
  const target = targetOf(body);
  const [config, { catalog, policies }] = await Promise.all([
    ctx.config.pamConfig(),
    ctx.config.policyContext(target),
  ]);
  try {
    assertPamEnabled(config);
    const tasks = effectiveTasks(target, catalog);
    const policy = requirePolicy(target, catalog, policies, config.defaultApproverGroup);
    let request = planRequest(
      { id: randomUUID(), requester: caller.principal.upn, requesterId: caller.principal.id, body, tasks },
      policy,
      { minDurationSeconds: ctx.minDurationSeconds, defaultApproverGroup: config.defaultApproverGroup },
      ctx.now,
    );
    let events = submitEvents(request, caller, ctx.now);
    const stored = await ctx.repo.create(request, events);
    if (!stored.created) {
      // A retry of an earlier submit (Power Automate retries): answer that request. The earlier
      // attempt may still be writing it, so give it a moment before deciding it died.
      const earlier = await settle(() => ctx.repo.get(stored.id));
      if (earlier) {
        await ensureStarted(ctx, earlier);
        // The earlier attempt may have died before its follow-ups; they are idempotent.
        await afterCommit([
          ...(isLive(earlier, ctx.now) ? [() => ctx.repo.syncLiveIndex(earlier)] : []),
          // A retry: what its first attempt recorded, once that attempt's claim has run out.
          () => flushAudit(ctx.repo, ctx.audit, earlier.id, 'claimable', ctx.now),
        ]);
        return { view: await view(ctx, earlier), created: false };
      }
      // The earlier attempt claimed the id but stopped before storing the request: finish it now.
      request = { ...request, id: stored.id };
      events = submitEvents(request, caller, ctx.now);
      await ctx.repo.create({ ...request, clientRequestId: null }, events);
    }
    try {
      await ctx.orchestrations.start(request.id);
    } catch (e) {
      await ctx.repo.remove(request); // never leave a request no workflow will ever end
      throw e;
    }
    // After the start (a request removed because its workflow could not start was never audited).
    // An execution waits for these events (execute.ts), so a grant is in the log before any use.
    const started = request;
    await afterCommit([
      ...(started.status === 'approved' ? [() => ctx.repo.syncLiveIndex(started)] : []),
      () => flushAudit(ctx.repo, ctx.audit, started.id, ownEvents(events), ctx.now),
    ]);
    return { view: toRequestView(request, []), created: true };
  } catch (e) {
    if (e instanceof DomainError && e.kind !== 'unavailable') {
      await ctx.audit.append({
        action: AuditAction.RequestRefused,
        actor: caller.actor,
        outcome: 'refused',
        task: body.task,
        reason: `${e.code}: ${e.message}`,
        detail: { role: body.role, roleGroup: body.roleGroup, durationHours: body.durationHours },
        origin: caller.origin,
      });
    }
    throw e;
  }
}

/** Reads until a value appears, for up to ~2 s. */
async function settle<T>(read: () => Promise<T | undefined>): Promise<T | undefined> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const value = await read();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

/** A retried submit finds its request; make sure its workflow exists (the first attempt may have died). */
async function ensureStarted(ctx: RequestContext, request: Request): Promise<void> {
  if ((await ctx.orchestrations.state(request.id)) === undefined) await ctx.orchestrations.start(request.id);
}

/** The audit events of a new request: submitted, and granted at once when the policy is automatic. */
function submitEvents(request: Request, caller: Caller, at: Date): PendingAudit[] {
  const submitted = pending(
    request.id,
    {
      action: AuditAction.RequestSubmitted,
      actor: caller.actor,
      outcome: 'success',
      requestId: request.id,
      task: request.task,
      detail: {
        target: targetOf(request),
        tasks: request.tasks,
        durationHours: request.durationHours,
        ticket: request.ticket,
        reason: request.reason,
        parameters: request.parameters,
        approvalType: request.approvalType,
        approverGroup: request.approverGroup,
        requiredApprovals: request.requiredApprovals,
        pendingUntil: request.pendingUntil,
      },
      origin: caller.origin,
    },
    at,
  );
  return request.status === 'approved'
    ? [submitted, grantStarted(request, caller.actor, at, caller.origin)]
    : [submitted];
}

function grantStarted(request: Request, actor: AuditActor, at: Date, origin?: AuditOrigin): PendingAudit {
  return pending(
    request.id,
    {
      action: AuditAction.GrantStarted,
      actor,
      outcome: 'success',
      requestId: request.id,
      task: request.task,
      detail: { tasks: request.tasks, grantedAt: request.grantedAt, expiresAt: request.expiresAt },
      origin,
    },
    at,
  );
}

/** `GET /api/requests/{id}`: the requester, its approvers, admins and auditors; others get 404. */
export async function getRequest(
  ctx: RequestContext,
  principal: Principal,
  id: string,
): Promise<RequestView> {
  const request = await ctx.repo.get(id);
  // Someone who may not see a request learns nothing about it, not even that it exists.
  if (!request || !canView(request, actorOf(principal), await membersOf(ctx, request))) throw notFound(id);
  return view(ctx, request);
}

const PAGE = 50;

interface ListToken {
  /** Which index partition (or `all` for the table scan) the continuation belongs to. */
  p: string;
  t: string;
}

function encodeToken(token: ListToken): string {
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

/**
 * The storage SDK's own continuation token is base64 JSON `{nextPartitionKey, nextRowKey?}`; anything
 * else would make the SDK throw mid-query (a 503 the client would retry for ever), so refuse it here.
 */
function isStorageToken(token: string): boolean {
  if (token === '') return true;
  try {
    const value = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as unknown;
    return (
      typeof value === 'object' &&
      value !== null &&
      'nextPartitionKey' in value &&
      typeof value.nextPartitionKey === 'string' &&
      (!('nextRowKey' in value) || typeof value.nextRowKey === 'string' || value.nextRowKey === undefined)
    );
  } catch {
    return false;
  }
}

function decodeToken(text: string | undefined): ListToken | undefined {
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown;
    if (
      typeof value === 'object' &&
      value !== null &&
      'p' in value &&
      't' in value &&
      typeof value.p === 'string' &&
      typeof value.t === 'string' &&
      isStorageToken(value.t)
    ) {
      return { p: value.p, t: value.t };
    }
  } catch {
    // fall through
  }
  throw new DomainError('INVALID_INPUT', 'The continuationToken is not one this service issued', {
    errors: [{ pointer: '#/continuationToken', detail: 'not a valid continuation token' }],
  });
}

/**
 * `GET /api/requests`. Admins and auditors see all; others see their own (`mine`) and those they
 * may decide (`approvable`) — both by default.
 */
export async function listRequests(
  ctx: RequestContext,
  principal: Principal,
  query: ListRequestsQuery,
): Promise<{ items: RequestView[]; continuationToken?: string }> {
  const token = decodeToken(query.continuationToken);
  const seesAll = principal.isAdmin || principal.isAuditor;
  const mineOnly = query.mine === true;
  const approvableOnly = query.approvable === true;

  // Where to look: one index partition per source, walked in order; the token says where we are.
  const sources: string[] = [];
  if (seesAll && !mineOnly && !approvableOnly) sources.push('all');
  else {
    if (!approvableOnly) sources.push(indexKeys.requester(principal.id));
    if (!mineOnly) {
      const groups = await groupsOf(ctx, principal.upn);
      for (const g of groups) sources.push(indexKeys.group(g));
    }
  }
  const start = token ? sources.indexOf(token.p) : 0;
  if (start < 0) {
    // A token from another listing (other filters, or another caller's groups).
    throw new DomainError('INVALID_INPUT', 'The continuationToken does not belong to this listing', {
      errors: [{ pointer: '#/continuationToken', detail: 'does not match the other query parameters' }],
    });
  }

  const items: RequestView[] = [];
  const seen = new Set<string>();
  // The caller's own requests are listed under `mine`: the group sources skip them (an approver's
  // own request sits in their group's index too), so no page repeats one across sources.
  const listsMine = sources.includes(indexKeys.requester(principal.id));
  for (let i = start; i < sources.length; i++) {
    const source = sources[i] ?? 'all';
    const cont = token && i === start ? token.t : undefined;
    // Only as many as the page has room for: a page never exceeds PAGE, and the storage token of
    // the last source read says exactly where the next page starts.
    const room = PAGE - items.length;
    let requests: Request[];
    let next: string | undefined;
    if (source === 'all') {
      const page = await ctx.repo.scan(query.status ? `Status eq '${query.status}'` : undefined, room, cont);
      requests = page.requests;
      next = page.continuationToken;
    } else {
      const page = await ctx.repo.page(source, room, cont);
      requests = (await Promise.all(page.ids.map((id) => ctx.repo.get(id)))).filter(
        (r): r is Request => r !== undefined,
      );
      next = page.continuationToken;
    }
    for (const r of requests) {
      if (seen.has(r.id)) continue;
      if (query.status && r.status !== query.status) continue;
      if (source.startsWith('group:')) {
        if (listsMine && r.requesterId === principal.id) continue;
        if (
          approvableOnly &&
          decisionRefusal(r, principal.upn, await membersOf(ctx, r), ctx.now, principal.id) !== undefined
        )
          continue;
        if (!canView(r, actorOf(principal), await membersOf(ctx, r))) continue;
      }
      seen.add(r.id);
      items.push(toRequestView(r, []));
    }
    if (next) return { items, continuationToken: encodeToken({ p: source, t: next }) };
    if (items.length >= PAGE && i + 1 < sources.length) {
      return { items, continuationToken: encodeToken({ p: sources[i + 1] ?? 'all', t: '' }) };
    }
  }
  return { items };
}

async function groupsOf(ctx: RequestContext, upn: string): Promise<string[]> {
  const policies = await ctx.config.policies();
  const config = await ctx.config.pamConfig();
  const names = new Set<string>(policies.flatMap((p) => (p.approverGroup ? [p.approverGroup] : [])));
  if (config.defaultApproverGroup) names.add(config.defaultApproverGroup);
  const out: string[] = [];
  for (const g of [...names].sort()) if ((await ctx.config.groupMembers(g)).includes(upn)) out.push(g);
  return out;
}

/** `POST /api/requests/{id}/approve|deny`: one decision per approver; the transition is told to the orchestration once. */
export async function decide(
  ctx: RequestContext,
  caller: Caller,
  id: string,
  decision: Decision,
  comment: string | undefined,
): Promise<RequestView> {
  const current = await ctx.repo.get(id);
  if (!current) throw notFound(id);
  const members = await membersOf(ctx, current);
  if (!canView(current, actorOf(caller.principal), members) && current.requester !== caller.principal.upn) {
    await auditDecisionRefused(ctx, caller, current, 'NOT_AN_APPROVER');
    throw notFound(id);
  }
  let outcome: 'recorded' | 'approved' | 'denied';
  let next: Request;
  // The row the rule last saw: what a refusal was about; and the events of the committed transition.
  let seen = current;
  let own: PendingAudit[] = [];
  try {
    ({ outcome, next } = await ctx.repo.update(id, (request) => {
      seen = request;
      const result = applyDecision(
        request,
        { approver: caller.principal.upn, approverId: caller.principal.id, decision, comment },
        members,
        ctx.now,
      );
      return {
        next: result.request,
        result: { outcome: result.outcome, next: result.request },
        audit: (own = decisionEvents(result.outcome, result.request, caller, decision, comment, ctx.now)),
      };
    }));
  } catch (e) {
    if (e instanceof DomainError && e.kind !== 'unavailable') {
      const decided = seen;
      // This approver's decision is already in the row (a retry, perhaps after a lost answer):
      // finish what its first attempt may not have, then say so.
      const retried =
        e.code === 'ALREADY_DECIDED' && (decided.status === 'approved' || decided.status === 'denied');
      await afterCommit([
        ...(retried && isLive(decided, ctx.now) ? [() => ctx.repo.syncLiveIndex(decided)] : []),
        () => flushAudit(ctx.repo, ctx.audit, id, 'claimable', ctx.now),
        ...(retried
          ? [() => ctx.orchestrations.raise(id, RequestEvent.Decided, { status: decided.status })]
          : []),
        () => auditDecisionRefused(ctx, caller, current, e.code, e.message),
      ]);
    }
    throw e;
  }
  await afterCommit([
    ...(outcome === 'approved' ? [() => ctx.repo.syncLiveIndex(next)] : []),
    // The audit before the orchestration, whose `approved` lets executions run: a grant is in the
    // log before anything runs under it. A failed append still lets the orchestration hear.
    () => flushAudit(ctx.repo, ctx.audit, id, ownEvents(own), ctx.now),
    ...(outcome !== 'recorded'
      ? [() => ctx.orchestrations.raise(id, RequestEvent.Decided, { status: next.status })]
      : []),
  ]);
  return view(ctx, next);
}

function decisionEvents(
  outcome: 'recorded' | 'approved' | 'denied',
  next: Request,
  caller: Caller,
  decision: Decision,
  comment: string | undefined,
  at: Date,
): PendingAudit[] {
  const event = {
    actor: caller.actor,
    outcome: 'success',
    requestId: next.id,
    task: next.task,
    detail: {
      decision,
      comment: comment ?? null,
      approvals: next.approvals.length,
      requiredApprovals: next.requiredApprovals,
    },
    origin: caller.origin,
  } as const;
  switch (outcome) {
    case 'recorded':
      // One per approval: numbered by its place among the request's approvals.
      return [
        pending(
          next.id,
          { ...event, action: AuditAction.RequestApprovalRecorded },
          at,
          next.approvals.length,
        ),
      ];
    case 'approved':
      return [
        pending(next.id, { ...event, action: AuditAction.RequestApproved }, at),
        grantStarted(next, caller.actor, at, caller.origin),
      ];
    case 'denied':
      return [pending(next.id, { ...event, action: AuditAction.RequestDenied }, at)];
  }
}

/**
 * The follow-ups of a committed transition. Every step is attempted even when one fails — a lost
 * audit append must not also leave the orchestration uninformed — and the first failure is then
 * reported (a 503: the transition itself stands, as a re-read shows).
 */
async function afterCommit(steps: (() => Promise<unknown>)[]): Promise<void> {
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

async function auditDecisionRefused(
  ctx: RequestContext,
  caller: Caller,
  request: Request,
  code: string,
  message?: string,
): Promise<void> {
  await ctx.audit.append({
    action: AuditAction.DecisionRefused,
    actor: caller.actor,
    outcome: 'refused',
    requestId: request.id,
    task: request.task,
    reason: message ? `${code}: ${message}` : code,
    origin: caller.origin,
  });
}

/** `POST /api/requests/{id}/cancel`: the requester, while pending. */
export async function cancelRequest(ctx: RequestContext, caller: Caller, id: string): Promise<RequestView> {
  const current = await ctx.repo.get(id);
  if (!current || !canView(current, actorOf(caller.principal), await membersOf(ctx, current)))
    throw notFound(id);
  let seen = current;
  let own: PendingAudit[] = [];
  let next: Request;
  try {
    next = await ctx.repo.update(id, (request) => {
      seen = request;
      const canceled = cancelRule(request, caller.principal, ctx.now);
      const event = pending(
        id,
        {
          action: AuditAction.RequestCanceled,
          actor: caller.actor,
          outcome: 'success',
          requestId: id,
          task: canceled.task,
          origin: caller.origin,
        },
        ctx.now,
      );
      return { next: canceled, result: canceled, audit: (own = [event]) };
    });
  } catch (e) {
    if (e instanceof DomainError && e.kind !== 'unavailable') {
      // The requester's cancel is already in the row (a retry): finish what it may not have.
      const retried = e.code === 'REQUEST_NOT_PENDING' && seen.status === 'canceled';
      const status = seen.status;
      await afterCommit([
        () => flushAudit(ctx.repo, ctx.audit, id, 'claimable', ctx.now),
        ...(retried ? [() => ctx.orchestrations.raise(id, RequestEvent.Decided, { status })] : []),
      ]);
    }
    throw e;
  }
  const canceled = next;
  await afterCommit([
    () => flushAudit(ctx.repo, ctx.audit, id, ownEvents(own), ctx.now),
    () => ctx.orchestrations.raise(id, RequestEvent.Decided, { status: canceled.status }),
  ]);
  return view(ctx, next);
}

/** `POST /api/requests/{id}/revoke`: effective at once (the guard reads the row), then the orchestration ends the grant. */
export async function revokeRequest(
  ctx: RequestContext,
  caller: Caller,
  id: string,
  comment: string | undefined,
): Promise<RequestView> {
  const current = await ctx.repo.get(id);
  if (!current) throw notFound(id);
  const members = await membersOf(ctx, current);
  if (!canView(current, actorOf(caller.principal), members)) throw notFound(id);
  let seen = current;
  let own: PendingAudit[] = [];
  let next: Request;
  try {
    next = await ctx.repo.update(id, (request) => {
      seen = request;
      const revoked = revokeRule(request, { actor: actorOf(caller.principal), comment }, members, ctx.now);
      const event = pending(
        id,
        {
          action: AuditAction.GrantRevoked,
          actor: caller.actor,
          outcome: 'success',
          requestId: id,
          task: revoked.task,
          reason: comment,
          origin: caller.origin,
        },
        ctx.now,
      );
      return { next: revoked, result: revoked, audit: (own = [event]) };
    });
  } catch (e) {
    if (e instanceof DomainError && e.kind !== 'unavailable') {
      // Already revoked (REQUEST_NOT_LIVE comes after the may-revoke check): finish what the revoke
      // may not have.
      const revoked = seen;
      const retried = e.code === 'REQUEST_NOT_LIVE' && revoked.status === 'revoked';
      await afterCommit([
        ...(retried ? [() => ctx.repo.syncLiveIndex(revoked)] : []),
        () => flushAudit(ctx.repo, ctx.audit, id, 'claimable', ctx.now),
        ...(retried
          ? [() => ctx.orchestrations.raise(id, RequestEvent.Revoked, { status: revoked.status })]
          : []),
      ]);
    }
    throw e;
  }
  const revoked = next;
  await afterCommit([
    () => ctx.repo.syncLiveIndex(revoked),
    () => flushAudit(ctx.repo, ctx.audit, id, ownEvents(own), ctx.now),
    () => ctx.orchestrations.raise(id, RequestEvent.Revoked, { status: revoked.status }),
  ]);
  return view(ctx, next);
}

// ---- system transitions, run by the orchestration's activities (idempotent) ----

export interface SystemContext {
  repo: RequestRepository;
  audit: AuditSink;
  now: Date;
}

/**
 * The request as the orchestration sees it after an event, with the audit events it can claim
 * appended (those whose claim ran out: the call that recorded them died). Best effort: the
 * orchestration's final sweep makes sure of them, so an audit outage does not hold the workflow (or
 * its notifications) here.
 */
export async function loadRequest(ctx: SystemContext, id: string): Promise<Request> {
  const request = await ctx.repo.get(id);
  if (!request) throw notFound(id);
  await flushAudit(ctx.repo, ctx.audit, id, 'claimable', ctx.now).catch(() => undefined);
  return request;
}

/**
 * The orchestration's last step for a finished request: appends the audit events it can claim and
 * says when the earliest claim on what still waits runs out (null: nothing waits), so the sweep can
 * come back then. Fails (and is retried) while the audit is down.
 */
export async function sweepAudit(ctx: SystemContext, id: string): Promise<FlushResult> {
  return flushAudit(ctx.repo, ctx.audit, id, 'claimable', ctx.now);
}

/** The pending window passed: pending → expired, or, if a decision won the race, whatever it decided. */
export async function expireRequest(ctx: SystemContext, id: string): Promise<Request> {
  const { request, own } = await systemTransition(
    ctx,
    id,
    AuditAction.RequestExpired,
    expireRule,
    () => ({}),
  );
  // Also on a retry (the activity's) that finds the request already expired: its own event, by id.
  await flushAudit(ctx.repo, ctx.audit, id, own, ctx.now);
  return request;
}

/** The grant window passed: approved → ended (idempotent: a revoked or already ended request stays). */
export async function endGrant(ctx: SystemContext, id: string): Promise<Request> {
  const { request, own } = await systemTransition(ctx, id, AuditAction.GrantEnded, endRule, (ended) => ({
    detail: { expiresAt: ended.expiresAt },
  }));
  await afterCommit([
    () => ctx.repo.syncLiveIndex(request),
    // Also on a retry (the activity's) that finds the grant already ended: its own event, by id.
    () => flushAudit(ctx.repo, ctx.audit, id, own, ctx.now),
  ]);
  return request;
}

/**
 * A transition the orchestration makes when a deadline passes: the rule applied by compare-and-swap,
 * audited as the system. Its event's id is fixed by the request and the action, so a retried
 * activity flushes the event its first attempt recorded.
 */
async function systemTransition(
  ctx: SystemContext,
  id: string,
  action: AuditAction,
  rule: (current: Request, now: Date) => SystemTransition<string>,
  extra: (next: Request) => Pick<AuditEventInput, 'detail'>,
): Promise<{ request: Request; own: FlushScope }> {
  const event = (next: Request) =>
    pending(
      id,
      { action, actor: SYSTEM_ACTOR, outcome: 'success', requestId: id, task: next.task, ...extra(next) },
      ctx.now,
    );
  const { request, outcome } = await ctx.repo.update(id, (current) => {
    const t = rule(current, ctx.now);
    if (t.outcome === 'unchanged') return { result: t };
    return { next: t.request, result: t, audit: [event(t.request)] };
  });
  // Only the call whose write made the transition holds its event's claim. A retry (or a second
  // copy of the activity: activities run at least once) that finds it made claims like anyone.
  return { request, own: outcome === 'unchanged' ? 'claimable' : { own: [lifecycleEventId(id, action)] } };
}
