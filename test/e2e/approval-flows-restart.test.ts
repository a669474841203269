/**
 * Approval flows survive a crash: the local host is killed with SIGKILL while one request waits in
 * its second stage, one approved grant waits for its scheduled start, and one live grant has an
 * extension waiting; the host is restarted on the same storage (storage outlives the host, as in
 * Azure). After the restart each request goes on where it was, and every deadline holds: the
 * scheduled start and each grant's end (the extended one at its new end) are reached at most a
 * second late, measured by the audit's own clock against the later of the deadline and the host's
 * return (nothing can happen while it is down). One restart serves the three scenarios.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caller, type Caller } from '../support/api';
import { sharedStorageEnv, startLocalHost, type HostProcess } from '../support/local-host';
import { startWebhookTarget, type WebhookTarget } from '../support/webhook-target';

const KEY = 'flows-restart-signing-key';
const SECONDS = 1 / 3600;
const ANN = 'ann@contoso.com';
const BEN = 'ben@contoso.com';
const ALICE = 'alice@contoso.com';
const STAGED = 'Flows\\Staged';
const SCHEDULED = 'Flows\\Scheduled';
const EXTENDED = 'Flows\\Extended';
let host: HostProcess;
let hook: WebhookTarget;
const env = {
  ...sharedStorageEnv(),
  ZSA_MIN_DURATION_SECONDS: '1',
  ZSA_EXECUTOR_ALLOWED_HOSTS: '127.0.0.1',
  ZSA_WEBHOOK_SIGNING_KEY: KEY,
  // The same audit key after the restart (a host with no data folder would make a new one).
  ZSA_AUDIT_HMAC_KEY: 'flows-restart-audit-key',
};

beforeAll(async () => {
  hook = await startWebhookTarget(KEY);
  host = await startLocalHost({ env });
}, 90_000);

afterAll(async () => {
  await host.stop();
  await hook.close();
});

interface View {
  id: string;
  status: string;
  currentStage: number | null;
  grantedAt: string | null;
  expiresAt: string | null;
  extensions: { id: string; status: string }[];
}

interface AuditItem {
  action: string;
  at: string;
  actorKind: string;
}

const as = (upn: string, roles: string[] = []): Promise<Caller> => caller(host.url, upn, roles);

function ok<T>(r: { status: number; body: T }): T {
  expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
  return r.body;
}

/** The audit event `action` of request `id`, once it is there (polled for up to `ms`). */
async function audited(auditor: Caller, id: string, action: string, ms = 20_000): Promise<AuditItem> {
  const deadline = Date.now() + ms;
  for (;;) {
    const page = await auditor.get<{ items: AuditItem[] }>(`/api/audit?requestId=${id}`);
    const found = page.body.items.find((i) => i.action === action);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no ${action} for ${id}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('approval flows across kill -9', () => {
  it('a request in its second stage, a scheduled start and a pending extension all go on after a crash, on time', async () => {
    // Prepare: two single-member groups; a two-stage task, an automatic one, a one-stage one with extensions
    const admin = await as('admin@contoso.com', ['PAM.Admin']);
    ok(await admin.put('/api/approver-groups/flows-one', { members: [ANN] }));
    ok(await admin.put('/api/approver-groups/flows-two', { members: [BEN] }));
    ok(await admin.post('/api/pam/enable', { defaultApproverGroup: 'flows-one' }));
    for (const name of [STAGED, SCHEDULED, EXTENDED])
      ok(
        await admin.put('/api/catalog/tasks', {
          name,
          description: 'd',
          executor: { type: 'webhook', url: hook.url },
        }),
      );
    ok(
      await admin.post('/api/policies', {
        scope: 'task',
        target: STAGED,
        approvalType: 'manual',
        stages: [{ approverGroup: 'flows-one' }, { approverGroup: 'flows-two' }],
      }),
    );
    ok(await admin.post('/api/policies', { scope: 'task', target: SCHEDULED, approvalType: 'auto' }));
    ok(
      await admin.post('/api/policies', {
        scope: 'task',
        target: EXTENDED,
        approvalType: 'manual',
        approverGroup: 'flows-one',
        maxExtensions: 1,
      }),
    );
    let alice = await as(ALICE);
    let ann = await as(ANN);

    // Stage 1 approved: stage 2 is open.
    const staged = ok(
      await alice.post<View>('/api/requests', { task: STAGED, reason: 'r', durationHours: 3 * SECONDS }),
    );
    expect(ok(await ann.post<View>(`/api/requests/${staged.id}/approve`, {})).currentStage).toBe(1);
    // Approved at once, to start in 6 seconds (after the restart, on a machine that is not too busy).
    const scheduled = ok(
      await alice.post<View>('/api/requests', {
        task: SCHEDULED,
        reason: 'r',
        durationHours: 2 * SECONDS,
        startAt: new Date(Date.now() + 6000).toISOString(),
      }),
    );
    expect(scheduled.status).toBe('approved');
    // Live for 15 seconds, with an extension of 2 more waiting: long enough that the extension still
    // waits after a restart on a busy machine (a grant that ends first takes its extension with it).
    const extended = ok(
      await alice.post<View>('/api/requests', { task: EXTENDED, reason: 'r', durationHours: 15 * SECONDS }),
    );
    const live = ok(await ann.post<View>(`/api/requests/${extended.id}/approve`, {}));
    expect(
      ok(
        await alice.post<View>(`/api/requests/${extended.id}/extend`, { hours: 2 * SECONDS, reason: 'more' }),
      ).extensions,
    ).toMatchObject([{ id: '1', status: 'pending' }]);
    // Let the workflows hear of it all before the crash.
    await new Promise((r) => setTimeout(r, 500));

    // Act: crash and come back on the same storage
    await host.kill();
    host = await startLocalHost({ env });
    const back = Date.now();
    alice = await as(ALICE);
    ann = await as(ANN);
    const ben = await as(BEN);
    const auditor = await as('auditor@contoso.com', ['PAM.Auditor']);

    // Stage 2 decides after the restart; the grant goes live and ends on time.
    const approved = ok(await ben.post<View>(`/api/requests/${staged.id}/approve`, {}));
    // The extension is approved after the restart: the grant ends at its new end, not the old.
    const longer = ok(await ann.post<View>(`/api/requests/${extended.id}/extensions/1/approve`, {}));

    // Assess
    expect(approved.status).toBe('approved');
    expect(Date.parse(longer.expiresAt ?? '')).toBe(Date.parse(live.expiresAt ?? '') + 2000);
    const lateness = (item: AuditItem, deadline: string | null) =>
      Date.parse(item.at) - Math.max(Date.parse(deadline ?? ''), back);

    const started = await audited(auditor, scheduled.id, 'grant.started');
    expect(started.actorKind).toBe('system');
    expect(lateness(started, scheduled.grantedAt)).toBeLessThan(1000);
    expect(lateness(started, scheduled.grantedAt)).toBeGreaterThanOrEqual(0);
    const ends = await Promise.all([
      audited(auditor, staged.id, 'grant.ended'),
      audited(auditor, scheduled.id, 'grant.ended'),
      audited(auditor, extended.id, 'grant.ended'),
    ]);
    const deadlines = [approved.expiresAt, scheduled.expiresAt, longer.expiresAt];
    for (const [i, end] of ends.entries()) {
      expect(lateness(end, deadlines[i] ?? null), `grant ${i} ended late`).toBeLessThan(1000);
      expect(lateness(end, deadlines[i] ?? null)).toBeGreaterThanOrEqual(0);
    }
    expect((await alice.get<View>(`/api/requests/${extended.id}`)).body).toMatchObject({
      status: 'ended',
      extensions: [{ id: '1', status: 'approved' }],
    });
    const verify = await auditor.get<{ ok: boolean }>('/api/audit/verify');
    expect(verify.body, JSON.stringify(verify.body).slice(0, 600)).toMatchObject({ ok: true });
  }, 90_000);
});
