/**
 * Approval stages and extensions decided from email, end to end through the local host: the
 * orchestration asks each stage's approvers only when their stage opens, with links bound to that
 * stage, and the tests click those links over real HTTP as the approvers would. The requester
 * hears of an approved extension with the grant's new end. The same host then serves the API-level
 * races: concurrent executions under a counted grant, concurrent approvals across two stages, and
 * an execution before a scheduled start.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caller, send, type ApiResponse, type Caller } from '../support/api';
import { startLocalHost, type HostProcess } from '../support/local-host';
import { mailsAbout, waitForMail as waitForMailOn, type Mail } from '../support/mailbox';
import { startWebhookTarget, type WebhookTarget } from '../support/webhook-target';

const HOOK_KEY = 'e2e-flows-email-key';

const SECONDS = 1 / 3600;
const ALICE = 'alice@contoso.com';
const ANN = 'ann@contoso.com';
const BEN = 'ben@contoso.com';
const CAT = 'cat@contoso.com';

interface View {
  id: string;
  status: string;
  currentStage: number | null;
  approvals: { approver: string; decision: string; stage?: number }[];
  expiresAt: string | null;
  extensions: { id: string; status: string; currentStage: number | null }[];
}

let host: HostProcess;
let hook: WebhookTarget;
let admin: Caller;
let alice: Caller;
let seq = 0;

beforeAll(async () => {
  hook = await startWebhookTarget(HOOK_KEY);
  host = await startLocalHost({
    storage: 'shared',
    env: {
      ZSA_MIN_DURATION_SECONDS: '1',
      ZSA_EXECUTOR_ALLOWED_HOSTS: '127.0.0.1',
      ZSA_WEBHOOK_SIGNING_KEY: HOOK_KEY,
    },
  });
  admin = await caller(host.url, 'admin@contoso.com', ['PAM.Admin']);
  alice = await caller(host.url, ALICE);
  await ok(admin.put('/api/approver-groups/default-approvers', { members: ['boss@contoso.com'] }));
  await ok(admin.post('/api/pam/enable', { defaultApproverGroup: 'default-approvers' }));
}, 120_000);

afterAll(async () => {
  await host.stop();
  await hook.close();
});

async function ok<T>(p: Promise<ApiResponse<T>>): Promise<T> {
  const res = await p;
  if (res.status >= 300) throw new Error(`expected success, got ${res.status}: ${res.text}`);
  return res.body;
}

/**
 * A task under a two-stage policy: stage 1 by a group of Alice and Ann (so Ann alone decides
 * Alice's requests), stage 2 by Ben and Cat, one approval each; one extension allowed.
 */
async function setup(): Promise<string> {
  seq++;
  const task = `Exchange\\Set-Mailbox flows #${seq}`;
  const [first, second] = [`flows-first-${seq}`, `flows-second-${seq}`];
  await ok(admin.put(`/api/approver-groups/${first}`, { members: [ALICE, ANN] }));
  await ok(admin.put(`/api/approver-groups/${second}`, { members: [BEN, CAT] }));
  await ok(
    admin.put('/api/catalog/tasks', {
      name: task,
      description: 'Change a mailbox',
      executor: { type: 'webhook', url: 'http://127.0.0.1:9/never' },
    }),
  );
  await ok(
    admin.post('/api/policies', {
      scope: 'task',
      target: task,
      approvalType: 'manual',
      stages: [
        { approverGroup: first, requiredApprovals: 1 },
        { approverGroup: second, requiredApprovals: 1 },
      ],
      maxExtensions: 1,
    }),
  );
  return task;
}

const mailsOf = (requestId: string): Promise<Mail[]> => mailsAbout(host.url, requestId);

const waitForMail = (requestId: string, event: string, to: string): Promise<Mail> =>
  waitForMailOn(host.url, requestId, event, to);

function linkOf(mail: Mail): string {
  const link = mail.links.find((l) => l.startsWith(`${host.url}/api/decisions/`));
  if (!link) throw new Error(`no decision link in ${mail.subject}`);
  return link;
}

const open = (link: string) => send<string>(link, {});

const post = (link: string, form: Record<string, string>) =>
  send<string>(link, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });

/** The approval emails of a request, as `event:recipient`. */
async function asked(requestId: string, event: string): Promise<string[]> {
  return (await mailsOf(requestId))
    .filter((m) => m.headers['x-zsa-event'] === event)
    .flatMap((m) => m.to)
    .sort();
}

describe('two stages decided from email', () => {
  it("stage 1's approver decides from the email; only then are stage 2's approvers emailed, and one of them decides", async () => {
    // Prepare
    const task = await setup();

    // Act: submit
    const { id } = await ok(
      alice.post<View>('/api/requests', { task, reason: 'Two keys', durationHours: 60 * SECONDS }),
    );

    // Assess: Ann (stage 1) is asked; Ben and Cat are not, yet
    const toAnn = await waitForMail(id, 'approvalNeeded', ANN);
    expect(toAnn.subject).toContain('(stage 1 of 2)');
    expect(toAnn.text).toContain('This is stage 1 of 2');
    const annLink = linkOf(toAnn);
    const page = await open(annLink);
    expect(page.status).toBe(200);
    expect(page.text).toContain('You decide in stage 1 of 2');
    expect(await asked(id, 'approvalNeeded')).toEqual([ANN]);

    // Act: Ann approves stage 1 from her email
    const approved1 = await post(annLink, { decision: 'approve', comment: 'first key' });

    // Assess: the page says stage 2 is asked now; Ben and Cat get their stage-2 emails
    expect(approved1.status).toBe(200);
    expect(approved1.text).toContain('Stage 1 of 2 of the request');
    expect(approved1.text).toContain('the approvers of stage 2');
    const [toBen, toCat] = await Promise.all([
      waitForMail(id, 'approvalNeeded', BEN),
      waitForMail(id, 'approvalNeeded', CAT),
    ]);
    expect(toBen.subject).toContain('(stage 2 of 2)');
    expect(toBen.text).toContain(`Already approved: stage 1 by ${ANN}.`);
    expect((await alice.get<View>(`/api/requests/${id}`)).body).toMatchObject({
      status: 'pending',
      currentStage: 1,
    });
    // Ann's stage-1 link is spent; her decision stands.
    expect((await open(annLink)).status).toBe(410);

    // Act: Ben approves stage 2 from his email
    const benPage = await open(linkOf(toBen));
    const approved2 = await post(linkOf(toBen), { decision: 'approve' });

    // Assess: approved; the requester hears; Cat's stage-2 link no longer works
    expect(benPage.text).toContain('You decide in stage 2 of 2');
    expect(approved2.status).toBe(200);
    expect(approved2.text).toContain('You approved the request');
    const view = (await alice.get<View>(`/api/requests/${id}`)).body;
    expect(view.status).toBe('approved');
    expect(view.approvals.map((a) => [a.approver, a.stage])).toEqual([
      [ANN, 0],
      [BEN, 1],
    ]);
    const toAlice = await waitForMail(id, 'approved', ALICE);
    expect(toAlice.text).toContain(`Approved by ${ANN}, ${BEN}.`);
    expect((await open(linkOf(toCat))).status).toBe(410);
    expect(await asked(id, 'approvalNeeded')).toEqual([ANN, BEN, CAT]);
  });
});

describe('an extension decided from email', () => {
  it('asked by the requester, emailed stage by stage, approved from the links; the requester hears the new end', async () => {
    // Prepare: a live two-stage grant of a minute, approved through the API
    const task = await setup();
    const { id } = await ok(
      alice.post<View>('/api/requests', { task, reason: 'Long job', durationHours: 60 * SECONDS }),
    );
    const [ann, ben] = await Promise.all([caller(host.url, ANN), caller(host.url, BEN)]);
    await ok(ann.post<View>(`/api/requests/${id}/approve`, {}));
    const granted = await ok(ben.post<View>(`/api/requests/${id}/approve`, {}));
    expect(granted.status).toBe('approved');

    // Act: Alice asks for 30 seconds more
    const extending = await ok(
      alice.post<View>(`/api/requests/${id}/extend`, {
        hours: 30 * SECONDS,
        reason: 'The copy is slower than planned',
      }),
    );

    // Assess: Ann (the extension's stage 1) is emailed with a link showing the extension
    expect(extending.extensions).toEqual([
      expect.objectContaining({ id: '1', status: 'pending', currentStage: 0 }),
    ]);
    const toAnn = await waitForMail(id, 'extensionRequested', ANN);
    expect(toAnn.subject).toContain('Extension needs approval (stage 1 of 2)');
    expect(toAnn.text).toContain('Extension reason: The copy is slower than planned');
    const annLink = linkOf(toAnn);
    const page = await open(annLink);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Approve or deny this extension');
    expect(page.text).toContain('30 seconds more (extension 1)');
    expect(await asked(id, 'extensionRequested')).toEqual([ANN]);

    // Act: Ann approves stage 1; then Ben, emailed for stage 2, approves from his email
    expect((await post(annLink, { decision: 'approve' })).status).toBe(200);
    const toBen = await waitForMail(id, 'extensionRequested', BEN);
    const approved = await post(linkOf(toBen), { decision: 'approve', comment: 'ok, finish it' });

    // Assess: extended by 30 seconds; the requester is told the new end
    expect(approved.status).toBe(200);
    expect(approved.text).toContain('You approved the extension');
    const view = (await alice.get<View>(`/api/requests/${id}`)).body;
    expect(view.extensions[0]?.status).toBe('approved');
    expect(Date.parse(view.expiresAt ?? '') - Date.parse(granted.expiresAt ?? '')).toBe(30_000);
    const told = await waitForMail(id, 'extensionApproved', ALICE);
    expect(told.text).toContain(`was approved by ${ANN}, ${BEN}. Comment: "ok, finish it"`);
    expect(told.text).toContain(
      `Your access now lasts until ${(view.expiresAt ?? '').slice(0, 19).replace('T', ' ')} UTC.`,
    );
    // Ann's link is spent; Cat's stage-2 link no longer works.
    expect((await open(annLink)).status).toBe(410);
    expect((await open(linkOf(await waitForMail(id, 'extensionRequested', CAT)))).status).toBe(410);
  });
});

/** A task that runs on the test's webhook, under a policy made of `policy` (the task is the target). */
async function aTask(name: string, policy: Record<string, unknown>): Promise<string> {
  seq++;
  const task = `${name} #${seq}`;
  await ok(
    admin.put('/api/catalog/tasks', {
      name: task,
      description: 'd',
      executor: { type: 'webhook', url: hook.url },
    }),
  );
  await ok(admin.post('/api/policies', { scope: 'task', target: task, ...policy }));
  return task;
}

describe('through the API', () => {
  it('20 executions at once under maxUses 3: exactly 3 reach the executor; the grant ends, its workflow finishes, the requester is told', async () => {
    // Prepare
    const task = await aTask('Counted', { approvalType: 'auto', maxUses: 3 });
    const grant = await ok(alice.post<View>('/api/requests', { task, reason: 'r', durationHours: 0.5 }));
    hook.received.length = 0;

    // Act
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => alice.post('/api/execute', { task, requestId: grant.id })),
    );

    // Assess
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(3);
    expect(statuses.filter((s) => s !== 200).every((s) => s === 403 || s === 409)).toBe(true);
    expect(hook.received.filter((r) => r.body.requestId === grant.id)).toHaveLength(3);
    const ended = await waitForMail(grant.id, 'ended', ALICE);
    expect(ended.text).toContain('uses');
    const view = (await alice.get<View & { uses: number; endReason: string }>(`/api/requests/${grant.id}`))
      .body;
    expect(view).toMatchObject({ status: 'ended', uses: 3, endReason: 'uses exhausted' });
  });

  it('20 approvals at once across two stages: the row, the answers and the stages agree', async () => {
    // Prepare: ten approvers per stage, two approvals needed in each
    seq++;
    const ones = Array.from({ length: 10 }, (_, i) => `one${i}-${seq}@contoso.com`);
    const twos = Array.from({ length: 10 }, (_, i) => `two${i}-${seq}@contoso.com`);
    await ok(admin.put(`/api/approver-groups/race-one-${seq}`, { members: ones }));
    await ok(admin.put(`/api/approver-groups/race-two-${seq}`, { members: twos }));
    const task = await aTask('Raced', {
      approvalType: 'manual',
      stages: [
        { approverGroup: `race-one-${seq}`, requiredApprovals: 2 },
        { approverGroup: `race-two-${seq}`, requiredApprovals: 2 },
      ],
    });
    const request = await ok(alice.post<View>('/api/requests', { task, reason: 'r' }));
    const approvers = await Promise.all([...ones, ...twos].map((upn) => caller(host.url, upn)));

    // Act
    const answers = await Promise.all(
      approvers.map((a) => a.post(`/api/requests/${request.id}/approve`, {})),
    );

    // Assess: every approval the row holds was answered 200, every other call 409; stage 1 took
    // exactly two; the request is approved exactly when stage 2 got its two.
    const view = (await alice.get<View>(`/api/requests/${request.id}`)).body;
    const accepted = approvers.filter((_a, i) => answers[i]?.status === 200).map((a) => a.upn);
    expect(answers.every((a) => a.status === 200 || a.status === 409)).toBe(true);
    expect(view.approvals.map((a) => a.approver).sort()).toEqual(accepted.sort());
    const inStage = (n: number) => view.approvals.filter((a) => (a.stage ?? 0) === n);
    expect(inStage(0)).toHaveLength(2);
    expect(inStage(0).every((a) => ones.includes(a.approver))).toBe(true);
    expect(inStage(1).every((a) => twos.includes(a.approver))).toBe(true);
    expect(view.status).toBe(inStage(1).length === 2 ? 'approved' : 'pending');
    expect(view.currentStage).toBe(view.status === 'pending' ? 1 : null);
  });

  it('an execution before a scheduled start is refused as grant-not-started, then runs once it starts', async () => {
    // Prepare: approved at once, to start in 2 seconds
    const task = await aTask('Scheduled', { approvalType: 'auto' });
    const grant = await ok(
      alice.post<View & { grantedAt: string }>('/api/requests', {
        task,
        reason: 'r',
        durationHours: 60 * SECONDS,
        startAt: new Date(Date.now() + 2000).toISOString(),
      }),
    );

    // Act
    const early = await alice.post<{ type: string; detail: string }>('/api/execute', { task });
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(grant.grantedAt) - Date.now()) + 100));
    const onTime = await alice.post('/api/execute', { task });

    // Assess
    expect(early.status).toBe(403);
    expect(early.body.type).toBe('urn:zsa:problem:grant-not-started');
    expect(early.body.detail).toContain(grant.grantedAt);
    expect(onTime.status).toBe(200);
  });
});
