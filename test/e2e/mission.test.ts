/**
 * The mission end to end, through the local host over real HTTP: real tokens from the development
 * issuer, real Azurite, the real Durable engine, a real webhook target that checks signatures.
 * Each story uses its own task, group and users so stories never interfere.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caller, type Caller } from '../support/api';
import { startLocalHost, type HostProcess } from '../support/local-host';
import { startWebhookTarget, type WebhookTarget } from '../support/webhook-target';

const KEY = 'e2e-webhook-signing-key';
const SECONDS = 1 / 3600;

let host: HostProcess;
let hook: WebhookTarget;
let admin: Caller;
let auditor: Caller;

beforeAll(async () => {
  hook = await startWebhookTarget(KEY);
  host = await startLocalHost({
    storage: 'shared',
    env: {
      ZSA_MIN_DURATION_SECONDS: '1',
      ZSA_EXECUTOR_ALLOWED_HOSTS: '127.0.0.1',
      ZSA_WEBHOOK_SIGNING_KEY: KEY,
      // One user files 56 requests (55 to fill the listing's pages), past the default submit limit (30
      // per 10 minutes); the limit stays on, and its refusals are tested in the component tests.
      ZSA_SUBMIT_RATE_LIMIT: '100',
    },
  });
  admin = await caller(host.url, 'admin@contoso.com', ['PAM.Admin']);
  auditor = await caller(host.url, 'auditor@contoso.com', ['PAM.Auditor']);
  await expectOk(admin.put('/api/approver-groups/default-approvers', { members: ['boss@contoso.com'] }));
  await expectOk(
    admin.post('/api/pam/enable', {
      defaultApproverGroup: 'default-approvers',
      systemAccounts: ['svc-automation@contoso.com'],
    }),
  );
}, 90_000);

afterAll(async () => {
  await host.stop();
  await hook.close();
});

async function expectOk<T>(p: Promise<{ status: number; body: T; text: string }>): Promise<T> {
  const res = await p;
  if (res.status >= 300) throw new Error(`expected success, got ${res.status}: ${res.text}`);
  return res.body;
}

interface View {
  id: string;
  status: string;
  approvals: unknown[];
  expiresAt: string | null;
  executions: unknown[];
}

let seq = 0;
/** A task with its own approver group and policy; returns the names. */
async function setup(opts: {
  approvalType?: 'manual' | 'auto';
  requiredApprovals?: number;
  approvers?: string[];
  maxDurationHours?: number;
  pendingTimeoutHours?: number;
  parameters?: unknown[];
}): Promise<{ task: string; group: string }> {
  seq++;
  const task = `Exchange\\New-MoveRequest #${seq}`;
  const group = `approvers-${seq}`;
  await expectOk(
    admin.put(`/api/approver-groups/${group}`, {
      members: opts.approvers ?? ['ann@contoso.com', 'ben@contoso.com', 'cat@contoso.com'],
    }),
  );
  await expectOk(
    admin.put('/api/catalog/tasks', {
      name: task,
      description: 'Move a mailbox',
      executor: { type: 'webhook', url: hook.url },
      ...(opts.parameters ? { parameters: opts.parameters } : {}),
    }),
  );
  await expectOk(
    admin.post('/api/policies', {
      scope: 'task',
      target: task,
      approvalType: opts.approvalType ?? 'manual',
      ...(opts.approvalType === 'auto' ? {} : { approverGroup: group }),
      requiredApprovals: opts.requiredApprovals ?? 1,
      ...(opts.maxDurationHours ? { maxDurationHours: opts.maxDurationHours } : {}),
      ...(opts.pendingTimeoutHours ? { pendingTimeoutHours: opts.pendingTimeoutHours } : {}),
    }),
  );
  return { task, group };
}

async function waitForStatus(who: Caller, id: string, status: string, timeoutMs = 15_000): Promise<View> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await who.get<View>(`/api/requests/${id}`);
    if (res.body.status === status) return res.body;
    if (Date.now() > deadline) throw new Error(`request ${id} is ${res.body.status}, expected ${status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Retries execute until the grant is usable (the orchestration mirrors approval within milliseconds). */
async function executeWhenLive(
  who: Caller,
  body: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const res = await who.post<Record<string, unknown>>('/api/execute', body);
    // 503 (Retry-After: 1): the workflow is still catching up with the decision.
    if ((res.status !== 403 && res.status !== 503) || Date.now() > deadline) return res;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the Microsoft 365 flow, end to end', () => {
  it('group → enable → task + policy → request → approve → execute twice → window ends on time → refused → audited', async () => {
    const { task } = await setup({ approvers: ['boss@contoso.com', 'ann@contoso.com'] });
    const alice = await caller(host.url, 'alice@contoso.com');
    const ann = await caller(host.url, 'ann@contoso.com');

    const submitted = await alice.post<View>('/api/requests', {
      task,
      reason: 'Migrate mailbox',
      ticket: 'INC-1',
      durationHours: 3 * SECONDS,
    });
    expect(submitted.status).toBe(202);
    expect(submitted.headers.get('location')).toBe(`/api/requests/${submitted.body.id}`);
    expect(submitted.body.status).toBe('pending');
    const id = submitted.body.id;

    expect((await alice.post('/api/execute', { task })).status).toBe(403);

    const approved = await ann.post<View>(`/api/requests/${id}/approve`, { comment: 'ok' });
    expect(approved.status).toBe(200);
    expect(approved.body.status).toBe('approved');

    const first = await executeWhenLive(alice, { task, requestId: id });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      requestId: id,
      task,
      status: 'succeeded',
      result: { ok: true, ran: task },
    });
    const second = await alice.post<Record<string, unknown>>('/api/execute', { task });
    expect(second.status).toBe(200);
    const calls = hook.received.filter((r) => r.body.task === task);
    expect(calls).toHaveLength(2);
    expect(calls.every((c) => c.signatureValid)).toBe(true);
    expect(calls[0]?.body).toMatchObject({
      requestId: id,
      requestedBy: 'alice@contoso.com',
      approvedBy: ['ann@contoso.com'],
    });

    const expiresAt = Date.parse(approved.body.expiresAt ?? '');
    const ended = await waitForStatus(alice, id, 'ended', 10_000);
    expect(Date.now() - expiresAt).toBeLessThan(2500);
    expect(ended.executions).toHaveLength(2);

    // Named, so the refusal is audited under this request.
    const refused = await alice.post<{ code: string; type: string }>('/api/execute', { task, requestId: id });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('NO_ACTIVE_GRANT');
    expect(refused.headers.get('content-type')).toContain('application/problem+json');

    const audit = await auditor.get<{ items: { action: string }[] }>(`/api/audit?requestId=${id}`);
    expect(audit.status).toBe(200);
    const actions = audit.body.items.map((i) => i.action);
    for (const a of [
      'request.submitted',
      'request.approved',
      'grant.started',
      'execution.started',
      'execution.succeeded',
      'grant.ended',
      'execution.refused',
    ]) {
      expect(actions).toContain(a);
    }
  });
});

describe('approval stories', () => {
  it('auto approval grants at once', async () => {
    const { task } = await setup({ approvalType: 'auto' });
    const dan = await caller(host.url, 'dan@contoso.com');
    const res = await dan.post<View>('/api/requests', { task, reason: 'Automated fix' });
    expect(res.body.status).toBe('approved');
    expect((await executeWhenLive(dan, { task })).status).toBe(200);
  });

  it('2-of-3: the first approval is recorded, the second approves', async () => {
    const { task } = await setup({ requiredApprovals: 2 });
    const eve = await caller(host.url, 'eve@contoso.com');
    const [ann, ben] = await Promise.all([
      caller(host.url, 'ann@contoso.com'),
      caller(host.url, 'ben@contoso.com'),
    ]);
    const { body } = await eve.post<View>('/api/requests', { task, reason: 'needs two' });
    const one = await ann.post<View>(`/api/requests/${body.id}/approve`, {});
    expect(one.body.status).toBe('pending');
    expect(one.body.approvals).toHaveLength(1);
    expect((await ann.post(`/api/requests/${body.id}/approve`, {})).status).toBe(409);
    const two = await ben.post<View>(`/api/requests/${body.id}/approve`, {});
    expect(two.body.status).toBe('approved');
  });

  it('one denial denies', async () => {
    const { task } = await setup({ requiredApprovals: 2 });
    const fay = await caller(host.url, 'fay@contoso.com');
    const [ann, ben] = await Promise.all([
      caller(host.url, 'ann@contoso.com'),
      caller(host.url, 'ben@contoso.com'),
    ]);
    const { body } = await fay.post<View>('/api/requests', { task, reason: 'x' });
    await ann.post(`/api/requests/${body.id}/approve`, {});
    const denied = await ben.post<View>(`/api/requests/${body.id}/deny`, { comment: 'no' });
    expect(denied.body.status).toBe('denied');
    expect((await fay.post('/api/execute', { task })).status).toBe(403);
  });

  it('the requester cancels while pending; a late approval is refused with 409', async () => {
    const { task } = await setup({});
    const gil = await caller(host.url, 'gil@contoso.com');
    const ann = await caller(host.url, 'ann@contoso.com');
    const { body } = await gil.post<View>('/api/requests', { task, reason: 'x' });
    const canceled = await gil.post<View>(`/api/requests/${body.id}/cancel`);
    expect(canceled.body.status).toBe('canceled');
    const late = await ann.post<{ code: string }>(`/api/requests/${body.id}/approve`, {});
    expect(late.status).toBe(409);
    expect(late.body.code).toBe('REQUEST_NOT_PENDING');
  });

  it('no decision before pendingUntil → expired, and a late approval gets 409', async () => {
    const { task } = await setup({ pendingTimeoutHours: 2 * SECONDS });
    const hal = await caller(host.url, 'hal@contoso.com');
    const ann = await caller(host.url, 'ann@contoso.com');
    const { body } = await hal.post<View>('/api/requests', { task, reason: 'x' });
    await waitForStatus(hal, body.id, 'expired', 10_000);
    expect((await ann.post(`/api/requests/${body.id}/approve`, {})).status).toBe(409);
  });

  it('revoke ends access at once', async () => {
    const { task } = await setup({});
    const ivy = await caller(host.url, 'ivy@contoso.com');
    const ann = await caller(host.url, 'ann@contoso.com');
    const { body } = await ivy.post<View>('/api/requests', { task, reason: 'x', durationHours: 1 });
    await ann.post(`/api/requests/${body.id}/approve`, {});
    expect((await executeWhenLive(ivy, { task })).status).toBe(200);
    const revoked = await ann.post<View>(`/api/requests/${body.id}/revoke`, { comment: 'done' });
    expect(revoked.body.status).toBe('revoked');
    expect((await ivy.post('/api/execute', { task })).status).toBe(403);
  });

  it('refuses self-approval and non-members', async () => {
    const { task } = await setup({ approvers: ['jon@contoso.com', 'ann@contoso.com'] });
    const jon = await caller(host.url, 'jon@contoso.com');
    const stranger = await caller(host.url, 'stranger@contoso.com');
    const { body } = await jon.post<View>('/api/requests', { task, reason: 'x' });
    const self = await jon.post<{ code: string }>(`/api/requests/${body.id}/approve`, {});
    expect(self.status).toBe(403);
    expect(self.body.code).toBe('SELF_APPROVAL');
    expect((await stranger.post(`/api/requests/${body.id}/approve`, {})).status).toBeGreaterThanOrEqual(403);
    expect((await jon.get<View>(`/api/requests/${body.id}`)).body.status).toBe('pending');
  });

  it('the auditor reads everything and changes nothing', async () => {
    const { task } = await setup({});
    const kim = await caller(host.url, 'kim@contoso.com');
    const { body } = await kim.post<View>('/api/requests', { task, reason: 'x' });
    expect((await auditor.get(`/api/requests/${body.id}`)).status).toBe(200);
    expect((await auditor.post(`/api/requests/${body.id}/approve`, {})).status).toBe(403);
    expect((await auditor.put('/api/approver-groups/x', { members: ['a@b.c'] })).status).toBe(403);
    expect((await auditor.post('/api/pam/disable')).status).toBe(403);
  });

  it("another user can neither read nor use someone's request", async () => {
    const { task } = await setup({});
    const lee = await caller(host.url, 'lee@contoso.com');
    const mo = await caller(host.url, 'mo@contoso.com');
    const ann = await caller(host.url, 'ann@contoso.com');
    const { body } = await lee.post<View>('/api/requests', { task, reason: 'x' });
    await ann.post(`/api/requests/${body.id}/approve`, {});
    await executeWhenLive(lee, { task });
    expect((await mo.get(`/api/requests/${body.id}`)).status).toBe(404);
    expect((await mo.post('/api/execute', { task, requestId: body.id })).status).toBe(403);
    expect((await mo.post(`/api/requests/${body.id}/cancel`)).status).toBe(404);
  });

  it('a system account executes without a request while enabled', async () => {
    const { task } = await setup({});
    const svc = await caller(host.url, 'svc-automation@contoso.com');
    const res = await svc.post<Record<string, unknown>>('/api/execute', { task });
    expect(res.status).toBe(200);
    expect(res.body.requestId).toBeNull();
  });

  it('submitting twice with the same clientRequestId returns the same request', async () => {
    const { task } = await setup({});
    const ned = await caller(host.url, 'ned@contoso.com');
    const body = { task, reason: 'ServiceNow INC-42', clientRequestId: 'INC-42' };
    const [a, b] = await Promise.all([
      ned.post<View>('/api/requests', body),
      ned.post<View>('/api/requests', body),
    ]);
    expect(a.body.id).toBe(b.body.id);
    const c = await ned.post<View>('/api/requests', body);
    expect(c.status).toBe(200);
    expect(c.body.id).toBe(a.body.id);
  });

  it('50 concurrent approve/deny calls yield exactly one outcome and no 5xx', async () => {
    const approvers = Array.from({ length: 10 }, (_, i) => `appr${i}@contoso.com`);
    const { task } = await setup({ approvers, requiredApprovals: 3 });
    const oz = await caller(host.url, 'oz@contoso.com');
    const { body } = await oz.post<View>('/api/requests', { task, reason: 'burst' });
    const callers = await Promise.all(approvers.map((a) => caller(host.url, a)));
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => {
        const who = callers[i % callers.length] as Caller;
        return who.post<View>(`/api/requests/${body.id}/${i % 7 === 3 ? 'deny' : 'approve'}`, {});
      }),
    );
    expect(results.filter((r) => r.status >= 500)).toEqual([]);
    const final = await oz.get<View>(`/api/requests/${body.id}`);
    expect(['approved', 'denied']).toContain(final.body.status);
    const winners = results.filter(
      (r) => r.status === 200 && r.body.status === final.body.status && r.body.status !== 'pending',
    );
    // Exactly one call made the transition (others saw pending, or 409 after it).
    const transitions = winners.filter((r) => r.body.approvals.length === final.body.approvals.length);
    expect(transitions).toHaveLength(1);
  });
});

describe('listing requests', () => {
  it('pages an approver’s own and approvable requests without repeats, never over the page size', async () => {
    // Prepare: Dot approves for the group and has requests of her own in it; Pat fills the group.
    const { task } = await setup({ approvers: ['dot@contoso.com', 'eve@contoso.com'] });
    const dot = await caller(host.url, 'dot@contoso.com');
    const pat = await caller(host.url, 'pat@contoso.com');
    const own: string[] = [];
    for (let i = 0; i < 3; i++)
      own.push((await expectOk(dot.post<View>('/api/requests', { task, reason: `dot ${i}` }))).id);
    for (let i = 0; i < 55; i++)
      await expectOk(pat.post<View>('/api/requests', { task, reason: `pat ${i}` }));

    // Act: every page of Dot's default listing (hers and those she may decide)
    const ids: string[] = [];
    const sizes: number[] = [];
    let token: string | undefined;
    do {
      const query = token ? `?continuationToken=${encodeURIComponent(token)}` : '';
      const page = await expectOk(
        dot.get<{ items: View[]; continuationToken?: string }>(`/api/requests${query}`),
      );
      ids.push(...page.items.map((r) => r.id));
      sizes.push(page.items.length);
      token = page.continuationToken;
    } while (token !== undefined && sizes.length < 10);

    // Assess: her 3 and Pat's 55, each once, in pages of at most 50
    expect(token).toBeUndefined();
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(58);
    for (const id of own) expect(ids).toContain(id);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(50);
  }, 60_000);
});

describe('a role never loosens the tasks it grants', () => {
  it('a helpdesk-approved role over a tier-0 task is refused (409); aligned, it carries the task’s limits', async () => {
    // Prepare: the reviewer's exploit. The tier-0 task allows 1 hour, approved by tier0; the role
    // that lists it wants 2 approvals from helpdesk and sets no maximum.
    const { task, group: tier0 } = await setup({ maxDurationHours: 1 });
    const helpdesk = `helpdesk-${seq}`;
    const role = `Exchange Admin #${seq}`;
    await expectOk(
      admin.put(`/api/approver-groups/${helpdesk}`, { members: ['hd1@contoso.com', 'hd2@contoso.com'] }),
    );
    await expectOk(admin.put('/api/catalog/roles', { name: role, tasks: [task] }));
    const rolePolicy = await expectOk(
      admin.post<{ id: string }>('/api/policies', {
        scope: 'role',
        target: role,
        approvalType: 'manual',
        approverGroup: helpdesk,
        requiredApprovals: 2,
      }),
    );
    const quinn = await caller(host.url, 'quinn@contoso.com');

    // Act
    const viaTask = await quinn.post<{ code: string }>('/api/requests', {
      task,
      reason: 'x',
      durationHours: 100,
    });
    const viaRole = await quinn.post<{ code: string; detail: string }>('/api/requests', {
      role,
      reason: 'x',
      durationHours: 100,
    });

    // Assess: refused, naming both groups and both targets; nothing was created to approve
    expect(viaTask.status).toBe(400);
    expect(viaTask.body.code).toBe('DURATION_TOO_LONG');
    expect(viaRole.status).toBe(409);
    expect(viaRole.body.code).toBe('APPROVER_GROUPS_CONFLICT');
    for (const name of [tier0, helpdesk, JSON.stringify(task), JSON.stringify(role), 'separately'])
      expect(viaRole.body.detail).toContain(name);
    const mine = await quinn.get<{ items: unknown[] }>('/api/requests?mine=true');
    expect(mine.body.items).toEqual([]);
    expect((await quinn.post('/api/execute', { task })).status).toBe(403);

    // Act: an admin aligns the role's approver group with the task's
    await expectOk(
      admin.put(`/api/policies/${rolePolicy.id}`, {
        scope: 'role',
        target: role,
        approvalType: 'manual',
        approverGroup: tier0,
        requiredApprovals: 2,
      }),
    );
    const tooLong = await quinn.post<{ code: string }>('/api/requests', {
      role,
      reason: 'x',
      durationHours: 100,
    });
    const accepted = await quinn.post<
      View & { policyId: string; approverGroup: string; requiredApprovals: number }
    >('/api/requests', { role, reason: 'x', durationHours: 0.5 });

    // Assess: the task's maximum and the role's approvals both apply, under the role's policy id
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.code).toBe('DURATION_TOO_LONG');
    expect(accepted.status).toBe(202);
    expect(accepted.body).toMatchObject({
      status: 'pending',
      policyId: rolePolicy.id,
      approverGroup: tier0,
      requiredApprovals: 2,
    });
  });
});

describe('disabled mode', () => {
  it('refuses requests (409) and lets only admins execute while disabled', async () => {
    const { task } = await setup({});
    const pat = await caller(host.url, 'pat@contoso.com');
    expect((await admin.post('/api/pam/disable')).status).toBe(200);
    try {
      const refused = await pat.post<{ code: string }>('/api/requests', { task, reason: 'x' });
      expect(refused.status).toBe(409);
      expect(refused.body.code).toBe('PAM_DISABLED');
      expect((await pat.post('/api/execute', { task })).status).toBe(403);
      expect((await admin.post('/api/execute', { task })).status).toBe(200);
    } finally {
      await expectOk(
        admin.post('/api/pam/enable', {
          defaultApproverGroup: 'default-approvers',
          systemAccounts: ['svc-automation@contoso.com'],
        }),
      );
    }
  });
});
