/**
 * A decision whose event to the orchestration was lost (the approver's call died after the row was
 * written) does not strand the grant: the approver's retry, or the requester's execution, tells the
 * real orchestration again and the grant goes live. The loss is made exactly: the test approves by
 * writing the request row itself, as `decide` does, and raises nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTables } from '#shared/adapters/tables';
import { resetSettingsCache, settings } from '#shared/config';
import { applyDecision } from '#shared/domain/request';
import { createRequestRepository, type RequestRepository } from '#shared/requests/repository';
import { caller, type Caller } from '../support/api';
import { sharedStorageEnv, startLocalHost, type HostProcess } from '../support/local-host';
import { startWebhookTarget, type WebhookTarget } from '../support/webhook-target';
import { userKey } from '../support/requests';

const KEY = 'lost-event-signing-key';
const TASK = 'Lost\\Event';
const ANN = 'ann@contoso.com';
let host: HostProcess;
let hook: WebhookTarget;
let repo: RequestRepository;
let alice: Caller;
let ann: Caller;

beforeAll(async () => {
  hook = await startWebhookTarget(KEY);
  const storageEnv = sharedStorageEnv();
  host = await startLocalHost({
    env: {
      ...storageEnv,
      ZSA_MIN_DURATION_SECONDS: '1',
      ZSA_EXECUTOR_ALLOWED_HOSTS: '127.0.0.1',
      ZSA_WEBHOOK_SIGNING_KEY: KEY,
    },
  });
  Object.assign(process.env, {
    AzureWebJobsStorage: storageEnv.AzureWebJobsStorage,
    ZSA_TABLE_PREFIX: storageEnv.ZSA_TABLE_PREFIX,
  });
  resetSettingsCache();
  repo = createRequestRepository(createTables(settings()));
  const admin = await caller(host.url, 'admin@contoso.com', ['PAM.Admin']);
  await admin.put('/api/approver-groups/lost-approvers', { members: [ANN] });
  await admin.post('/api/pam/enable', { defaultApproverGroup: 'lost-approvers' });
  await admin.put('/api/catalog/tasks', {
    name: TASK,
    description: 'd',
    executor: { type: 'webhook', url: hook.url },
  });
  await admin.post('/api/policies', { scope: 'task', target: TASK, approvalType: 'manual' });
  alice = await caller(host.url, 'alice@contoso.com');
  ann = await caller(host.url, ANN);
}, 90_000);

afterAll(async () => {
  await host.stop();
  await hook.close();
});

async function mirrorOf(id: string): Promise<string | undefined> {
  const res = await fetch(`${host.url}/runtime/webhooks/durabletask/instances/${id}`);
  // 202 while the instance runs, 200 once it completed.
  if (res.status !== 200 && res.status !== 202) return undefined;
  const body = (await res.json()) as { customStatus?: { status?: string } | null };
  return body.customStatus?.status;
}

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A pending request whose workflow waits, then approved in the row only: the event is lost. */
async function approvedWithoutEvent(): Promise<string> {
  const submitted = await alice.post<{ id: string }>('/api/requests', {
    task: TASK,
    reason: 'r',
    durationHours: 1,
  });
  expect(submitted.status).toBe(202);
  const id = submitted.body.id;
  expect(
    await until(
      () => mirrorOf(id),
      (s) => s === 'pending',
    ),
  ).toBe('pending');
  // Decided 3 s ago: long enough for the decision's event to count as lost, not in flight.
  const approved = await repo.update(id, (r) => {
    const result = applyDecision(
      r,
      { approver: { id: userKey(ANN), upn: ANN }, decision: 'approve' },
      new Map([['lost-approvers', [{ upn: ANN, id: userKey(ANN) }]]]),
      new Date(Date.now() - 3000),
    );
    return { next: result.request, result: result.request };
  });
  await repo.syncLiveIndex(approved);
  return id;
}

describe('a lost decision event', () => {
  it("the approver's retry (409) raises it again and the grant goes live", async () => {
    // Prepare
    const id = await approvedWithoutEvent();
    await new Promise((r) => setTimeout(r, 300));
    const stranded = await mirrorOf(id);

    // Act
    const retry = await ann.post<{ code: string }>(`/api/requests/${id}/approve`, {});
    const mirror = await until(
      () => mirrorOf(id),
      (s) => s === 'approved',
    );
    const run = await alice.post<{ status: string }>('/api/execute', { task: TASK, requestId: id });

    // Assess
    expect(stranded).toBe('pending');
    expect(retry.status).toBe(409);
    expect(retry.body.code).toBe('ALREADY_DECIDED');
    expect(mirror).toBe('approved');
    expect(run.status).toBe(200);
  }, 30_000);

  it('an execution nudges the workflow and runs', async () => {
    // Prepare
    const id = await approvedWithoutEvent();
    const calls = hook.received.length;

    // Act
    const run = await alice.post<{ status: string }>('/api/execute', { task: TASK, requestId: id });

    // Assess
    expect(run.status).toBe(200);
    expect(run.body.status).toBe('succeeded');
    expect(hook.received).toHaveLength(calls + 1);
    expect(await mirrorOf(id)).toBe('approved');
  }, 30_000);
});
