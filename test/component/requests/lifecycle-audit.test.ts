/**
 * The request lifecycle's audit is never lost: every transition writes its audit events into the
 * request row with the state (the outbox), and whoever touches the request next appends them. Real
 * Azurite, the real request repository, the real configuration and the real audit log; faults are
 * injected around them (an audit append, a live-index write, an orchestration event or the outbox
 * clear fails once), as a host restart at that moment would. The orchestration client is a
 * stand-in that records events and mirrors the decision as the real orchestration would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTables } from '#shared/adapters/tables';
import { getDeps } from '#shared/app/deps';
import { createAuditLog, type AuditLog } from '#shared/audit/log';
import type { AuditSink } from '#shared/audit/types';
import type { Principal } from '#shared/auth/index';
import { settings } from '#shared/config';
import { DomainError } from '#shared/domain/errors';
import type { Request } from '#shared/domain/request';
import { toProblem } from '#shared/http/problem';
import { execute, type ExecuteContext } from '#shared/requests/execute';
import type { OrchestrationState, Orchestrations } from '#shared/requests/orchestrations';
import { ABANDONED_AFTER_MS } from '#shared/requests/outbox';
import { createRequestRepository, type RequestRepository } from '#shared/requests/repository';
import {
  cancelRequest,
  decide,
  endGrant,
  expireRequest,
  loadRequest,
  sweepAudit,
  revokeRequest,
  submitRequest,
  type Caller,
  type RequestContext,
  type SystemContext,
} from '#shared/requests/usecases';
import { approverGroupPut } from '../../../functions/approver-groups';
import { catalogTaskPut } from '../../../functions/catalog';
import { pamEnable } from '../../../functions/pam';
import { policyCreate } from '../../../functions/policies';
import { call, startComponentEnv, type ComponentEnv } from '../../support/component';
import { aPendingRequest, REQUESTER } from '../../support/requests';
import { startWebhookTarget, type WebhookTarget } from '../../support/webhook-target';

const ANN = 'ann@contoso.com';
const BEN = 'ben@contoso.com';
const GROUP = 'lifecycle-approvers';
const MANUAL = 'Lifecycle\\Manual';
const AUTO = 'Lifecycle\\Auto';

let env: ComponentEnv;
let hook: WebhookTarget;
let repo: RequestRepository;
let log: AuditLog;

/** Faults armed for the next call of each step (each fires once per count). */
const faults = { audit: 0, sync: 0, raise: 0, clear: 0 };
function fires(step: keyof typeof faults): boolean {
  if (faults[step] === 0) return false;
  faults[step] -= 1;
  return true;
}
const outage = (what: string) => new DomainError('UNAVAILABLE', `${what} is down (injected)`);

/** The orchestrations' state as the stand-in mirrors it: pending until told of a decision. */
const mirrors = new Map<string, OrchestrationState>();
const raised: { id: string; event: string }[] = [];

beforeAll(async () => {
  env = await startComponentEnv();
  hook = await startWebhookTarget('component-test-signing-key');
  const tables = createTables(settings());
  repo = createRequestRepository(tables);
  log = createAuditLog({ tables, now: () => new Date(), hmacKey: 'k', name: 'lifecycleaudit' });
  const token = await env.token('admin@contoso.com', ['PAM.Admin']);
  const ok = (r: { status: number; body: unknown }) =>
    expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
  ok(
    await call(approverGroupPut, {
      method: 'PUT',
      path: '/x',
      token,
      params: { name: GROUP },
      body: { members: [ANN, BEN] },
    }),
  );
  ok(await call(pamEnable, { method: 'POST', path: '/x', token, body: { defaultApproverGroup: GROUP } }));
  for (const name of [MANUAL, AUTO]) {
    ok(
      await call(catalogTaskPut, {
        method: 'PUT',
        path: '/x',
        token,
        body: { name, description: 'd', executor: { type: 'webhook', url: hook.url } },
      }),
    );
  }
  ok(
    await call(policyCreate, {
      method: 'POST',
      path: '/x',
      token,
      body: { scope: 'task', target: MANUAL, approvalType: 'manual' },
    }),
  );
  ok(
    await call(policyCreate, {
      method: 'POST',
      path: '/x',
      token,
      body: { scope: 'task', target: AUTO, approvalType: 'auto' },
    }),
  );
}, 60_000);

afterAll(async () => {
  await hook.close();
  await env.close();
});

const audit: AuditSink = {
  append: (event) => (fires('audit') ? Promise.reject(outage('the audit log')) : log.append(event)),
};

/** The real repository, with the live-index write and the outbox clear able to fail once. */
function faultyRepo(): RequestRepository {
  return {
    ...repo,
    syncLiveIndex: (r) => (fires('sync') ? Promise.reject(outage('the index')) : repo.syncLiveIndex(r)),
    // A crash after the append, before the row is cleared.
    clearAudit: (id, ids) =>
      fires('clear') ? Promise.reject(outage('the process')) : repo.clearAudit(id, ids),
  };
}

const orchestrations: Orchestrations = {
  start: (id) => {
    mirrors.set(id, { running: true, mirror: { status: 'pending' } });
    return Promise.resolve();
  },
  state: (id) => Promise.resolve(mirrors.get(id)),
  raise: async (id, event) => {
    if (fires('raise')) throw outage('the workflow engine');
    raised.push({ id, event });
    // The real orchestration re-reads the row on any event; its mirror then says the row's state.
    const row = await repo.get(id);
    if (row) mirrors.set(id, { running: true, mirror: { status: row.status } });
  },
};

function requestContext(): RequestContext {
  return {
    repo: faultyRepo(),
    config: getDeps().config,
    orchestrations,
    audit,
    now: new Date(),
    minDurationSeconds: 1,
  };
}

function systemContext(now = new Date()): SystemContext {
  return { repo: faultyRepo(), audit, now };
}

function userOf(upn: string): Caller {
  const principal: Principal = {
    id: `tid:${upn}`,
    upn,
    roles: [],
    isAdmin: false,
    isAuditor: false,
    authMethod: 'bearer',
  };
  return {
    principal,
    actor: { kind: 'user', id: principal.id, upn, roles: [] },
    origin: { correlationId: 'c1' },
  };
}

/**
 * The request's audit rows as `action id`, sorted (rows appended within one millisecond may come
 * back in chain order); refusals, which have a random id, as their action alone.
 */
async function auditOf(requestId: string): Promise<string[]> {
  const page = await log.query({ requestId });
  return page.items
    .map((r) => (r.action === 'request.decisionRefused' ? r.action : `${r.action} ${r.id}`))
    .sort();
}

const sorted = (rows: string[]) => [...rows].sort();

async function stored(overrides: Partial<Request>): Promise<Request> {
  const request = aPendingRequest({ approverGroup: GROUP, task: MANUAL, tasks: [MANUAL], ...overrides });
  await repo.create(request);
  mirrors.set(request.id, { running: true, mirror: { status: request.status } });
  return request;
}

async function rejection(promise: Promise<unknown>): Promise<DomainError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DomainError);
  return error as DomainError;
}

const live = (now = Date.now()): Partial<Request> => ({
  status: 'approved',
  decidedAt: new Date(now - 60_000).toISOString(),
  grantedAt: new Date(now - 60_000).toISOString(),
  expiresAt: new Date(now + 3_600_000).toISOString(),
  approvals: [
    { approver: ANN, decision: 'approve', comment: null, at: new Date(now - 60_000).toISOString() },
  ],
});

/** Pending, created two hours ago, its decision window over an hour ago. */
const overdue = (): Partial<Request> => ({
  createdAt: new Date(Date.now() - 7_200_000).toISOString(),
  pendingUntil: new Date(Date.now() - 3_600_000).toISOString(),
});

describe('lifecycle audit survives a failure after the state change', () => {
  it('submit (auto-approved): the audit fails once, the retried submit writes each row once', async () => {
    // Prepare
    const body = { task: AUTO, reason: 'r', durationHours: 1, clientRequestId: `c-${Date.now()}` };
    faults.audit = 1;

    // Act
    const first = await rejection(submitRequest(requestContext(), userOf(REQUESTER), body));
    const retry = await submitRequest(requestContext(), userOf(REQUESTER), body);

    // Assess
    expect(first.kind).toBe('unavailable');
    expect(retry.created).toBe(false);
    const id = retry.view.id;
    expect(await auditOf(id)).toEqual(
      sorted([`request.submitted ${id}:request.submitted`, `grant.started ${id}:grant.started`]),
    );
    expect(await repo.pendingAudit(id)).toEqual([]);
    expect(await repo.liveIds(`tid:${REQUESTER}`)).toContain(id);
  });

  it('decide: the audit fails once, the approver retries (409) and the rows appear once; the event is raised again', async () => {
    // Prepare
    const request = await stored({});
    faults.audit = 1;

    // Act
    const first = await rejection(decide(requestContext(), userOf(ANN), request.id, 'approve', 'ok'));
    const retry = await rejection(decide(requestContext(), userOf(ANN), request.id, 'approve', 'ok'));

    // Assess
    expect(first.kind).toBe('unavailable');
    expect(retry.code).toBe('ALREADY_DECIDED');
    expect((await repo.get(request.id))?.status).toBe('approved');
    expect(await auditOf(request.id)).toEqual(
      sorted([
        `request.approved ${request.id}:request.approved`,
        `grant.started ${request.id}:grant.started`,
        'request.decisionRefused',
      ]),
    );
    expect(raised.filter((e) => e.id === request.id).map((e) => e.event)).toEqual([
      'RequestDecided',
      'RequestDecided',
    ]);
  });

  it('decide: recorded approvals of a two-approver request each keep their own id', async () => {
    // Prepare
    const request = await stored({ requiredApprovals: 2 });

    // Act
    await decide(requestContext(), userOf(ANN), request.id, 'approve', undefined);
    await decide(requestContext(), userOf(BEN), request.id, 'approve', undefined);

    // Assess
    expect(await auditOf(request.id)).toEqual(
      sorted([
        `request.approvalRecorded ${request.id}:request.approvalRecorded:1`,
        `request.approved ${request.id}:request.approved`,
        `grant.started ${request.id}:grant.started`,
      ]),
    );
  });

  it('deny: the audit fails once and nobody retries; the workflow appends it once the event is abandoned', async () => {
    // Prepare
    const request = await stored({});
    faults.audit = 1;

    // Act: the orchestration loads the denied request at once, and sweeps it later
    await rejection(decide(requestContext(), userOf(ANN), request.id, 'deny', 'no'));
    const loaded = await loadRequest(systemContext(), request.id);
    const early = await auditOf(request.id);
    const first = await sweepAudit(systemContext(), request.id);
    const late = await sweepAudit(systemContext(new Date(Date.now() + ABANDONED_AFTER_MS)), request.id);

    // Assess: a young event is left to the call that made it; an abandoned one is appended, once
    expect(loaded.status).toBe('denied');
    expect(early).toEqual([]);
    expect(first.abandonedAt).not.toBeNull();
    expect(late.abandonedAt).toBeNull();
    expect(await auditOf(request.id)).toEqual([`request.denied ${request.id}:request.denied`]);
  });

  it('the call that made a transition and the workflow loading it never append the same event twice', async () => {
    // Prepare
    const request = await stored({});

    // Act: the decision's own flush and the orchestration's load, side by side
    await Promise.all([
      decide(requestContext(), userOf(ANN), request.id, 'approve', undefined),
      loadRequest(systemContext(), request.id),
      loadRequest(systemContext(), request.id),
    ]);
    await loadRequest(systemContext(), request.id);

    // Assess
    expect(await auditOf(request.id)).toEqual(
      sorted([
        `request.approved ${request.id}:request.approved`,
        `grant.started ${request.id}:grant.started`,
      ]),
    );
  });

  it('cancel: the audit fails once, the requester retries (409) and the row appears once', async () => {
    // Prepare
    const request = await stored({});
    faults.audit = 1;

    // Act
    await rejection(cancelRequest(requestContext(), userOf(REQUESTER), request.id));
    const retry = await rejection(cancelRequest(requestContext(), userOf(REQUESTER), request.id));

    // Assess
    expect(retry.code).toBe('REQUEST_NOT_PENDING');
    expect(await auditOf(request.id)).toEqual([`request.canceled ${request.id}:request.canceled`]);
    expect(raised.filter((e) => e.id === request.id)).toHaveLength(2);
  });

  it('revoke: the live-index write fails once, the retry (409) heals the index and the audit', async () => {
    // Prepare
    const request = await stored(live());
    await repo.syncLiveIndex(request);
    faults.sync = 1;

    // Act
    const first = await rejection(revokeRequest(requestContext(), userOf(ANN), request.id, 'done'));
    const retry = await rejection(revokeRequest(requestContext(), userOf(ANN), request.id, 'done'));

    // Assess
    expect(first.kind).toBe('unavailable');
    expect(retry.code).toBe('REQUEST_NOT_LIVE');
    expect(await auditOf(request.id)).toEqual([`grant.revoked ${request.id}:grant.revoked`]);
    expect(await repo.liveIds(`tid:${REQUESTER}`)).not.toContain(request.id);
    expect(raised.filter((e) => e.id === request.id).map((e) => e.event)).toEqual([
      'GrantRevoked',
      'GrantRevoked',
    ]);
  });

  it('expire: the audit fails once, the retried activity writes the row once', async () => {
    // Prepare
    const request = await stored(overdue());
    faults.audit = 1;

    // Act
    await rejection(expireRequest(systemContext(), request.id));
    const retried = await expireRequest(systemContext(), request.id);

    // Assess
    expect(retried.status).toBe('expired');
    expect(await auditOf(request.id)).toEqual([`request.expired ${request.id}:request.expired`]);
  });

  it('end: the live-index delete fails once, the retried activity writes the row once', async () => {
    // Prepare
    const now = Date.now();
    const request = await stored({ ...live(now - 7_200_000), expiresAt: new Date(now - 1000).toISOString() });
    faults.sync = 1;

    // Act
    await rejection(endGrant(systemContext(), request.id));
    const retried = await endGrant(systemContext(), request.id);

    // Assess
    expect(retried.status).toBe('ended');
    expect(await auditOf(request.id)).toEqual([`grant.ended ${request.id}:grant.ended`]);
  });

  it('a crash after the append, before the row is cleared, appends the event again under the same id', async () => {
    // Prepare
    const request = await stored(overdue());
    faults.clear = 1;

    // Act
    await rejection(expireRequest(systemContext(), request.id));
    await expireRequest(systemContext(), request.id);

    // Assess: at-least-once; the id says it is one event.
    const id = `${request.id}:request.expired`;
    expect(await auditOf(request.id)).toEqual([`request.expired ${id}`, `request.expired ${id}`]);
    expect(await repo.pendingAudit(request.id)).toEqual([]);
    expect((await log.verify()).ok).toBe(true);
  });
});

describe('a lost decision event does not strand the grant', () => {
  function executeContext(): ExecuteContext {
    const deps = getDeps();
    return {
      repo,
      config: deps.config,
      orchestrations,
      audit,
      bus: () => deps.bus,
      now: () => new Date(),
      webhook: { allowedHosts: ['127.0.0.1'], signingKey: 'component-test-signing-key', timeoutMs: 5000 },
    };
  }

  it("the approver's retry raises the lost event again, and the grant goes live", async () => {
    // Prepare
    const request = await stored({});
    faults.raise = 1;

    // Act
    const first = await rejection(decide(requestContext(), userOf(ANN), request.id, 'approve', undefined));
    const stranded = mirrors.get(request.id)?.mirror?.status;
    const retry = await rejection(decide(requestContext(), userOf(ANN), request.id, 'approve', undefined));

    // Assess
    expect(first.kind).toBe('unavailable');
    expect(stranded).toBe('pending');
    expect(retry.code).toBe('ALREADY_DECIDED');
    expect(mirrors.get(request.id)?.mirror?.status).toBe('approved');
    // The decision's audit did land the first time (the failed event does not stop it).
    expect(await auditOf(request.id)).toEqual(
      sorted([
        `request.approved ${request.id}:request.approved`,
        `grant.started ${request.id}:grant.started`,
        'request.decisionRefused',
      ]),
    );
  });

  it('an execution nudges the workflow that missed the decision and then runs', async () => {
    // Prepare
    const request = await stored({});
    faults.raise = 1;
    await rejection(decide(requestContext(), userOf(ANN), request.id, 'approve', undefined));
    const hits = hook.received.length;

    // Act
    const result = await execute(executeContext(), userOf(REQUESTER), {
      task: MANUAL,
      requestId: request.id,
    });

    // Assess
    expect(result.status).toBe('succeeded');
    expect(hook.received).toHaveLength(hits + 1);
    expect(mirrors.get(request.id)?.mirror?.status).toBe('approved');
  });

  it('an execution answers 503 with Retry-After: 1 while the workflow still has not caught up', async () => {
    // Prepare: a workflow that never hears (every event is lost).
    const request = await stored({});
    faults.raise = 1;
    await rejection(decide(requestContext(), userOf(ANN), request.id, 'approve', undefined));
    const deaf: Orchestrations = { ...orchestrations, raise: () => Promise.resolve() };
    const hits = hook.received.length;

    // Act
    const error = await execute({ ...executeContext(), orchestrations: deaf }, userOf(REQUESTER), {
      task: MANUAL,
      requestId: request.id,
    }).catch((e: unknown) => e);

    // Assess
    const answer = toProblem(error, 'test');
    expect(answer.problem).toMatchObject({ status: 503, code: 'UNAVAILABLE' });
    expect(answer.headers).toEqual({ 'retry-after': '1' });
    expect(hook.received).toHaveLength(hits);
  });
});
