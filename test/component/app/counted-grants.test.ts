/**
 * Counted grants at the execution guard: a policy's `maxUses` is never exceeded, however many
 * executions race for the last uses; a failed execution gives its use back; the last use ends the
 * grant (audited once, out of the live index, the workflow told); a scheduled grant refuses until
 * its start; and a use is only spent where no unlimited grant covers the task. Real Azurite, the
 * real repository, configuration and audit log, a real signed webhook on loopback. The workflow
 * client is a stand-in that records the events it is told and mirrors the row, as the real
 * orchestration does (its own behaviour is tested under test/component/durable/).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { getDeps } from '#shared/app/deps';
import { AuditAction } from '#shared/audit/types';
import { DomainError } from '#shared/domain/errors';
import { USES_EXHAUSTED, type Request } from '#shared/domain/request';
import { execute as executeStory, ExecutionFailedError, type ExecuteContext } from '#shared/requests/execute';
import { RequestEvent, type OrchestrationState, type Orchestrations } from '#shared/requests/orchestrations';
import { catalogTaskPut } from '../../../functions/catalog';
import { execute as executeHandler } from '../../../functions/execute';
import { enablePam } from '../../support/admin';
import { call, startComponentEnv, type ComponentEnv } from '../../support/component';
import { aPendingRequest, callerOf, REQUESTER, userKey } from '../../support/requests';
import { startWebhookTarget, type WebhookTarget } from '../../support/webhook-target';

const TASK = 'Counted\\Run';
const KEY = 'component-test-signing-key';
const BOB = 'bob@contoso.com';

let env: ComponentEnv;
let hook: WebhookTarget;

/** The workflows' state as the stand-in mirrors it, and the events it was told. */
const mirrors = new Map<string, OrchestrationState>();
const raised: { id: string; event: string }[] = [];
const orchestrations: Orchestrations = {
  start: () => Promise.resolve(),
  state: (id) => Promise.resolve(mirrors.get(id)),
  raise: async (id, event) => {
    raised.push({ id, event });
    const row = (await getDeps().requests.read(id))?.request;
    if (row) mirrors.set(id, { running: true, mirror: { status: row.status } });
  },
};

function context(): ExecuteContext {
  const deps = getDeps();
  return {
    repo: deps.requests,
    config: deps.config,
    orchestrations,
    audit: deps.audit,
    bus: () => deps.bus,
    now: () => new Date(),
    webhook: { allowedHosts: ['127.0.0.1'], signingKey: KEY, timeoutMs: 5000 },
    adminsExecuteWhileDisabled: true,
  };
}

beforeAll(async () => {
  env = await startComponentEnv();
  hook = await startWebhookTarget(KEY);
  const admin = await env.token('admin@contoso.com', ['PAM.Admin']);
  await enablePam(admin, { group: 'counted-approvers', members: ['ann@contoso.com'] });
  const put = await call(catalogTaskPut, {
    method: 'PUT',
    path: '/x',
    token: admin,
    body: { name: TASK, description: 'd', executor: { type: 'webhook', url: hook.url } },
  });
  expect(put.status, JSON.stringify(put.body)).toBeLessThan(300);
}, 60_000);

afterAll(async () => {
  await hook.close();
  await env.close();
});

beforeEach(() => {
  hook.received.length = 0;
  hook.failWith(0);
  hook.delayBy(0);
});

/** An approved grant of TASK (Alice's unless overridden), live for an hour (or as overridden), in the live index and its workflow approved. */
async function aGrant(overrides: Partial<Request>): Promise<Request> {
  const now = Date.now();
  const request = aPendingRequest({
    task: TASK,
    tasks: [TASK],
    approverGroup: 'counted-approvers',
    status: 'approved',
    decidedAt: new Date(now - 60_000).toISOString(),
    grantedAt: new Date(now - 60_000).toISOString(),
    expiresAt: new Date(now + 3_600_000).toISOString(),
    approvals: [
      {
        approver: 'ann@contoso.com',
        decision: 'approve',
        comment: null,
        at: new Date(now - 60_000).toISOString(),
      },
    ],
    ...overrides,
  });
  await getDeps().requests.create(request);
  await getDeps().requests.syncLiveIndex(request);
  mirrors.set(request.id, { running: true, mirror: { status: 'approved' } });
  return request;
}

const alice = callerOf(REQUESTER);

async function auditOf(requestId: string) {
  return (await getDeps().audit.query({ requestId })).items;
}

describe('counted grants', () => {
  it('a call sent without an answer (a timeout) keeps its use held: a one-shot grant never runs twice', async () => {
    // Prepare: the executor finishes after the guard has stopped waiting for it.
    const grant = await aGrant({ maxUses: 1 });
    hook.delayBy(600);
    const impatient = { ...context(), webhook: { ...context().webhook, timeoutMs: 200 } };

    // Act
    const first = await executeStory(impatient, alice, { task: TASK, requestId: grant.id }).catch(
      (e: unknown) => e,
    );
    const again = await executeStory(impatient, alice, { task: TASK, requestId: grant.id }).catch(
      (e: unknown) => e,
    );
    await new Promise((r) => setTimeout(r, 700)); // the executor's late answer arrives and is ignored

    // Assess
    expect(first).toBeInstanceOf(ExecutionFailedError);
    expect(again).toMatchObject({ code: 'USES_IN_FLIGHT' });
    expect(hook.received).toHaveLength(1);
    const row = (await getDeps().requests.read(grant.id))?.request;
    expect(row).toMatchObject({ status: 'approved', uses: 0 });
    expect(row?.inFlight).toHaveLength(1);
  });

  it('the last use cancels an extension still waiting, audited once by the system with the reason', async () => {
    // Prepare: a one-use grant whose extension waits for a decision.
    const now = Date.now();
    const grant = await aGrant({
      maxUses: 1,
      maxExtensions: 1,
      extensions: [
        {
          id: '1',
          hours: 1,
          reason: 'more time',
          status: 'pending',
          approvals: [],
          createdAt: new Date(now - 1000).toISOString(),
          pendingUntil: new Date(now + 600_000).toISOString(),
          decidedAt: null,
        },
      ],
    });

    // Act
    await executeStory(context(), alice, { task: TASK, requestId: grant.id });

    // Assess
    const row = (await getDeps().requests.read(grant.id))?.request;
    expect(row).toMatchObject({ status: 'ended', endReason: USES_EXHAUSTED });
    expect(row?.extensions[0]?.status).toBe('canceled');
    const canceled = (await auditOf(grant.id)).filter((e) => e.action === AuditAction.ExtensionCanceled);
    expect(canceled).toHaveLength(1);
    expect(canceled[0]).toMatchObject({ reason: USES_EXHAUSTED, actorKind: 'system' });
  });

  it('20 executions racing for 3 uses: exactly 3 run, and the last ends the grant once', async () => {
    // Prepare
    const grant = await aGrant({ maxUses: 3 });

    // Act
    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, () => executeStory(context(), alice, { task: TASK, requestId: grant.id })),
    );

    // Assess: three ran, at the webhook and by the answers; the others were refused as such.
    expect(hook.received).toHaveLength(3);
    expect(hook.received.every((r) => r.signatureValid)).toBe(true);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(3);
    const refusals = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
    expect(refusals).toHaveLength(17);
    for (const r of refusals) {
      expect(r).toBeInstanceOf(DomainError);
      expect(['USES_IN_FLIGHT', 'NO_ACTIVE_GRANT']).toContain((r as DomainError).code);
    }
    // The new state: every use counted, nothing held, the grant over for that reason.
    const row = (await getDeps().requests.read(grant.id))?.request;
    expect(row).toMatchObject({ uses: 3, inFlight: [], status: 'ended', endReason: USES_EXHAUSTED });
    expect(row?.endedAt).not.toBeNull();
    expect(await getDeps().requests.liveIds(grant.requesterId)).not.toContain(grant.id);
    expect(raised.filter((e) => e.id === grant.id)).toEqual([
      { id: grant.id, event: RequestEvent.GrantChanged },
    ]);
    const executions = await getDeps().requests.executions(grant.id);
    expect(executions.map((e) => e.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    // The audit: three counted uses (1, 2, 3), one end, every refusal, nothing left in the row.
    const items = await auditOf(grant.id);
    const counted = items.filter((r) => r.action === AuditAction.UseCounted);
    expect(
      counted
        .map((r) => JSON.parse(r.detail ?? '{}') as { uses: number })
        .map((d) => d.uses)
        .sort(),
    ).toEqual([1, 2, 3]);
    expect(counted.every((r) => (JSON.parse(r.detail ?? '{}') as { maxUses: number }).maxUses === 3)).toBe(
      true,
    );
    const ended = items.filter((r) => r.action === AuditAction.GrantEnded);
    expect(ended).toHaveLength(1);
    expect(ended[0]).toMatchObject({ id: `${grant.id}:grant.ended`, reason: USES_EXHAUSTED });
    expect(items.filter((r) => r.action === AuditAction.ExecutionRefused)).toHaveLength(17);
    expect((await getDeps().requests.read(grant.id))?.audit).toEqual([]);
  }, 20_000);

  it('a failed execution gives its use back', async () => {
    // Prepare
    const grant = await aGrant({ maxUses: 1 });
    hook.failWith(500);

    // Act
    const failed = await executeStory(context(), alice, { task: TASK, requestId: grant.id }).catch(
      (e: unknown) => e,
    );

    // Assess: it ran and failed, and the one use is free again.
    expect(failed).toBeInstanceOf(ExecutionFailedError);
    expect(hook.received).toHaveLength(1);
    const after = (await getDeps().requests.read(grant.id))?.request;
    expect(after).toMatchObject({ uses: 0, inFlight: [], status: 'approved' });
    expect((await getDeps().requests.executions(grant.id)).map((e) => e.status)).toEqual(['failed']);
    expect((await auditOf(grant.id)).map((r) => r.action)).not.toContain(AuditAction.UseCounted);

    // Act: the runbook is fixed; the use it gave back runs, and it was the last.
    hook.failWith(0);
    const result = await executeStory(context(), alice, { task: TASK, requestId: grant.id });

    // Assess
    expect(result.status).toBe('succeeded');
    expect((await getDeps().requests.read(grant.id))?.request).toMatchObject({
      uses: 1,
      status: 'ended',
      endReason: USES_EXHAUSTED,
    });
  }, 20_000);

  it('an intent that cannot be audited runs nothing and gives the use back', async () => {
    // Prepare: the audit refuses the intent (an outage at that moment), nothing else.
    const grant = await aGrant({ maxUses: 1 });
    const real = getDeps().audit;
    const audit: ExecuteContext['audit'] = {
      append: (event) =>
        event.action === AuditAction.ExecutionStarted
          ? Promise.reject(new DomainError('UNAVAILABLE', 'the audit log is down (injected)'))
          : real.append(event),
    };

    // Act
    const error = await executeStory({ ...context(), audit }, alice, {
      task: TASK,
      requestId: grant.id,
    }).catch((e: unknown) => e);

    // Assess: refused as unavailable, nothing ran, the use is free again.
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).kind).toBe('unavailable');
    expect(hook.received).toHaveLength(0);
    expect((await getDeps().requests.read(grant.id))?.request).toMatchObject({
      uses: 0,
      inFlight: [],
      status: 'approved',
    });
  }, 20_000);

  it('an unlimited grant covering the task is used before a counted one', async () => {
    // Prepare: the counted grant would otherwise be chosen (it lasts longer).
    const counted = await aGrant({ maxUses: 2, expiresAt: new Date(Date.now() + 7_200_000).toISOString() });
    const unlimited = await aGrant({});

    // Act
    const result = await executeStory(context(), alice, { task: TASK });

    // Assess
    expect(result.requestId).toBe(unlimited.id);
    expect((await getDeps().requests.read(counted.id))?.request).toMatchObject({ uses: 0, inFlight: [] });
    expect((await auditOf(counted.id)).map((r) => r.action)).toEqual([]);
  }, 20_000);

  it('a scheduled grant refuses with 403 grant-not-started until its start, audited', async () => {
    // Prepare: Bob's grant of the task (he has no other), approved, starting in an hour.
    const start = Date.now() + 3_600_000;
    const grant = await aGrant({
      requester: BOB,
      requesterId: userKey(BOB),
      maxUses: 2,
      startAt: new Date(start).toISOString(),
      grantedAt: new Date(start).toISOString(),
      expiresAt: new Date(start + 3_600_000).toISOString(),
    });

    // Act: through the HTTP handler (the grant is found through the live index).
    const res = await call(executeHandler, {
      method: 'POST',
      path: '/api/execute',
      token: await env.token(BOB),
      body: { task: TASK },
      durableClient: true,
    });

    // Assess
    expect(res.status, JSON.stringify(res.body)).toBe(403);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body).toMatchObject({ type: 'urn:zsa:problem:grant-not-started', code: 'GRANT_NOT_STARTED' });
    expect(hook.received).toHaveLength(0);
    expect((await getDeps().requests.read(grant.id))?.request).toMatchObject({ uses: 0, inFlight: [] });
    const refused = (await getDeps().audit.query({ task: TASK })).items.filter(
      (r) => r.action === AuditAction.ExecutionRefused && r.reason?.startsWith('GRANT_NOT_STARTED'),
    );
    expect(refused).toHaveLength(1);
  }, 20_000);
});
