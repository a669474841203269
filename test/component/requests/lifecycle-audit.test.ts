/**
 * The request lifecycle's audit is never lost: every transition writes its audit events into the
 * request row with the state (the outbox), and whoever touches the request next appends them. Real
 * Azurite, the real request repository, the real configuration and the real audit log; faults are
 * injected around them (an audit append, a live-index write, an orchestration event or the outbox
 * clear fails once), as a host restart at that moment would. The orchestration client is a
 * stand-in that records events and mirrors the decision as the real orchestration would.
 */
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTables } from '#shared/adapters/tables';
import { getDeps } from '#shared/app/deps';
import { createAuditLog, type AuditLog } from '#shared/audit/log';
import { SYSTEM_ACTOR, type AuditSink } from '#shared/audit/types';
import { settings } from '#shared/config';
import { DomainError } from '#shared/domain/errors';
import type { Request } from '#shared/domain/request';
import { toProblem } from '#shared/http/problem';
import { execute, type ExecuteContext } from '#shared/requests/execute';
import type { OrchestrationState, Orchestrations } from '#shared/requests/orchestrations';
import { CLAIM_MS, pending } from '#shared/requests/audit-outbox';
import { createRequestRepository, indexKeys, type RequestRepository } from '#shared/requests/repository';
import {
  cancelRequest,
  decide,
  endGrant,
  expireRequest,
  loadRequest,
  sweepAudit,
  revokeRequest,
  submitRequest,
} from '#shared/requests/usecases';
import type { Caller, RequestContext, SystemContext } from '#shared/requests/context';
import { catalogTaskPut } from '../../../functions/catalog';
import { policyCreate } from '../../../functions/policies';
import { enablePam } from '../../support/admin';
import { call, startComponentEnv, type ComponentEnv } from '../../support/component';
import { aPendingRequest, REQUESTER, callerOf, userKey } from '../../support/requests';
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
  await enablePam(token, { group: GROUP, members: [ANN, BEN] });
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
    clearAudit: (id, ids, release) =>
      fires('clear') ? Promise.reject(outage('the process')) : repo.clearAudit(id, ids, release),
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
    const row = (await repo.read(id))?.request;
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

const userOf = (upn: string): Caller => callerOf(upn);

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
    expect((await repo.read(id))?.audit).toEqual([]);
    expect(await repo.liveIds(userKey(REQUESTER))).toContain(id);
  });

  it('submit: the row write fails after the list rows; the retried submit is listed once, as of the first attempt', async () => {
    // Prepare: a repository whose request table does not exist, so the first attempt writes its
    // claim and its list rows, then fails on the row.
    const real = createTables(settings());
    const gone = TableClient.fromConnectionString(
      env.azurite.connectionString,
      `${settings().ZSA_TABLE_PREFIX}gone`,
      {
        allowInsecureConnection: true,
      },
    );
    const failing = createRequestRepository({
      get: (name) => (name === 'Requests' ? Promise.resolve(gone) : real.get(name)),
    });
    const body = { task: MANUAL, reason: 'r', durationHours: 1, clientRequestId: `row-${Date.now()}` };

    // Act
    const first = await rejection(
      submitRequest({ ...requestContext(), repo: failing }, userOf(REQUESTER), body),
    );
    await new Promise((r) => setTimeout(r, 20)); // a later instant: the retry's own createdAt differs
    const retry = await submitRequest(requestContext(), userOf(REQUESTER), body);

    // Assess
    expect(first.kind).toBe('unavailable');
    const id = retry.view.id;
    const listed = (await repo.page(indexKeys.requester(userKey(REQUESTER)), 1000)).ids;
    expect(listed.filter((i) => i === id)).toHaveLength(1);
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
    expect((await repo.read(request.id))?.request.status).toBe('approved');
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

  it('deny: the audit fails once and nobody retries; the claim is given up and the workflow appends it', async () => {
    // Prepare
    const request = await stored({});
    faults.audit = 1;

    // Act: the orchestration loads the denied request
    await rejection(decide(requestContext(), userOf(ANN), request.id, 'deny', 'no'));
    const loaded = await loadRequest(systemContext(), request.id);

    // Assess
    expect(loaded.status).toBe('denied');
    expect(await auditOf(request.id)).toEqual([`request.denied ${request.id}:request.denied`]);
  });

  it('a caller that died after its transition leaves its events to whoever comes 30 s later, once', async () => {
    // Prepare: the row written with its event, as a caller would, which then died before appending.
    const request = await stored({});
    const at = new Date();
    await repo.update(request.id, (current) => ({
      next: { ...current, status: 'canceled' as const, decidedAt: at.toISOString() },
      result: undefined,
      audit: [
        pending(
          request.id,
          { action: 'request.canceled', actor: SYSTEM_ACTOR, outcome: 'success', requestId: request.id },
          at,
        ),
      ],
    }));

    // Act: the workflow loads it at once, sweeps, then sweeps again when the claim has run out
    await loadRequest(systemContext(at), request.id);
    const first = await sweepAudit(systemContext(at), request.id);
    const early = await auditOf(request.id);
    const later = new Date(at.getTime() + CLAIM_MS);
    const second = await sweepAudit(systemContext(later), request.id);
    const third = await sweepAudit(systemContext(later), request.id);

    // Assess: nothing while the dead caller's claim holds; then appended once, and nothing waits
    expect(early).toEqual([]);
    expect(first.claimableAt).toBe(later.toISOString());
    expect(second.claimableAt).toBeNull();
    expect(third.claimableAt).toBeNull();
    expect(await auditOf(request.id)).toEqual([`request.canceled ${request.id}:request.canceled`]);
  });

  it.each([
    {
      name: 'an approval and the workflow loading it',
      race: (id: string) => [
        decide(requestContext(), userOf(ANN), id, 'approve', undefined),
        loadRequest(systemContext(), id),
        loadRequest(systemContext(), id),
      ],
      expected: (id: string) => [
        `grant.started ${id}:grant.started`,
        `request.approved ${id}:request.approved`,
      ],
    },
    {
      name: 'an approval and a second approver clicking too (409)',
      race: (id: string) => [
        decide(requestContext(), userOf(ANN), id, 'approve', undefined),
        decide(requestContext(), userOf(BEN), id, 'approve', undefined),
      ],
      expected: (id: string) => [
        'request.decisionRefused',
        `grant.started ${id}:grant.started`,
        `request.approved ${id}:request.approved`,
      ],
    },
  ])('$name never append the same event twice', async ({ race, expected }) => {
    // Prepare
    const request = await stored({});

    // Act: side by side, as they happen
    await Promise.allSettled(race(request.id));
    await loadRequest(systemContext(), request.id);

    // Assess
    expect(await auditOf(request.id)).toEqual(sorted(expected(request.id)));
  });

  it('two revokes side by side audit one revocation', async () => {
    // Prepare: a live grant
    const request = await stored({});
    await decide(requestContext(), userOf(ANN), request.id, 'approve', undefined);

    // Act
    await Promise.allSettled([
      revokeRequest(requestContext(), userOf(ANN), request.id, 'r1'),
      revokeRequest(requestContext(), userOf(BEN), request.id, 'r2'),
    ]);
    await loadRequest(systemContext(), request.id);

    // Assess
    const revoked = (await auditOf(request.id)).filter((r) => r.startsWith('grant.revoked'));
    expect(revoked).toEqual([`grant.revoked ${request.id}:grant.revoked`]);
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
    expect(await repo.liveIds(userKey(REQUESTER))).not.toContain(request.id);
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

    // Act: the activity dies before clearing the row; its retry comes once the claim has run out
    await rejection(expireRequest(systemContext(), request.id));
    await expireRequest(systemContext(new Date(Date.now() + CLAIM_MS)), request.id);

    // Assess: at-least-once; the id says it is one event.
    const id = `${request.id}:request.expired`;
    expect(await auditOf(request.id)).toEqual([`request.expired ${id}`, `request.expired ${id}`]);
    expect((await repo.read(request.id))?.audit).toEqual([]);
    expect((await log.verify()).ok).toBe(true);
  });
});

describe('no duplicate without a crash', () => {
  it('twenty requests with side-by-side approvals, revokes, and an end activity run twice', async () => {
    // Prepare: two-approver requests, so the approvals race to be the one that grants
    const requests = await Promise.all(Array.from({ length: 20 }, () => stored({ requiredApprovals: 2 })));

    // Act
    for (const r of requests) {
      await Promise.allSettled([
        decide(requestContext(), userOf(ANN), r.id, 'approve', undefined),
        decide(requestContext(), userOf(BEN), r.id, 'approve', undefined),
        loadRequest(systemContext(), r.id),
      ]);
    }
    await Promise.allSettled(
      requests.flatMap((r, i): Promise<unknown>[] =>
        i % 2 === 0
          ? [
              revokeRequest(requestContext(), userOf(ANN), r.id, 'a'),
              revokeRequest(requestContext(), userOf(BEN), r.id, 'b'),
            ]
          : [
              // Activities run at least once: two copies of the end of the grant, after it expired
              endGrant(systemContext(new Date(Date.now() + 2 * 3_600_000)), r.id),
              endGrant(systemContext(new Date(Date.now() + 2 * 3_600_000)), r.id),
            ],
      ),
    );

    // Assess: every lifecycle event once, nothing left waiting
    for (const r of requests) {
      const ids = (await log.query({ requestId: r.id })).items
        .map((row) => row.id)
        .filter((id) => id.startsWith(`${r.id}:`));
      expect(new Set(ids).size, JSON.stringify(ids)).toBe(ids.length);
      expect(ids.length, JSON.stringify(ids)).toBe(4); // recorded, approved, granted, revoked or ended
      expect((await repo.read(r.id))?.audit).toEqual([]);
    }
  }, 60_000);
});

describe('a lost decision event does not strand the grant', () => {
  /** `lateByMs`: how long after the decision the execution comes (a lost event shows after 2 s). */
  function executeContext(lateByMs = 0): ExecuteContext {
    const deps = getDeps();
    return {
      repo,
      config: deps.config,
      orchestrations,
      audit,
      bus: () => deps.bus,
      now: () => new Date(Date.now() + lateByMs),
      webhook: { allowedHosts: ['127.0.0.1'], signingKey: 'component-test-signing-key', timeoutMs: 5000 },
      adminsExecuteWhileDisabled: true,
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

    // Act: 3 s after the decision, when its event is presumed lost
    const result = await execute(executeContext(3000), userOf(REQUESTER), {
      task: MANUAL,
      requestId: request.id,
    });

    // Assess
    expect(result.status).toBe('succeeded');
    expect(hook.received).toHaveLength(hits + 1);
    expect(mirrors.get(request.id)?.mirror?.status).toBe('approved');
  });

  it('an execution soon after the decision waits for the workflow without raising the event again', async () => {
    // Prepare: the decision's event is in flight (raised, not yet handled)
    const request = await stored({});
    faults.raise = 1;
    await rejection(decide(requestContext(), userOf(ANN), request.id, 'approve', undefined));
    const raisedBefore = raised.length;

    // Act: at once; the workflow catches up while the execution waits
    setTimeout(() => mirrors.set(request.id, { running: true, mirror: { status: 'approved' } }), 30);
    const result = await execute(executeContext(), userOf(REQUESTER), {
      task: MANUAL,
      requestId: request.id,
    });

    // Assess
    expect(result.status).toBe('succeeded');
    expect(raised).toHaveLength(raisedBefore);
  });

  it('an execution answers 503 with Retry-After: 1 while the workflow still has not caught up', async () => {
    // Prepare: a workflow that never hears (every event is lost).
    const request = await stored({});
    faults.raise = 1;
    await rejection(decide(requestContext(), userOf(ANN), request.id, 'approve', undefined));
    const deaf: Orchestrations = { ...orchestrations, raise: () => Promise.resolve() };
    const hits = hook.received.length;

    // Act
    const error = await execute({ ...executeContext(3000), orchestrations: deaf }, userOf(REQUESTER), {
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
