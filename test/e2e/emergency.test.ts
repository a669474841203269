/**
 * Emergency access and step-up, end to end through the local host over HTTP and email. A member of
 * the break-glass group is granted at once; every approver (and the default group) is emailed at
 * once; the grant executes; an open review is reminded; the host is killed with -9 and comes back on
 * the same storage with the review still open; an approver without the policy's authentication
 * context is answered 401 with the claims challenge and changes nothing, then closes the review
 * with it; the audit export's filter finds the use. Then every decision path (approve, deny, an
 * extension's decision, the emailed link) refuses a token without the context the same way, and
 * decides with it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caller, send, type ApiResponse, type Caller } from '../support/api';
import { sharedStorageEnv, startLocalHost, type HostProcess } from '../support/local-host';
import { mailsAbout, waitForMail as waitForMailOn, type Mail } from '../support/mailbox';
import { startWebhookTarget, type WebhookTarget } from '../support/webhook-target';

const KEY = 'e2e-emergency-signing-key';
const ALICE = 'alice@contoso.com'; // on call: may break the glass
const ANN = 'ann@contoso.com'; // approver
const BEN = 'ben@contoso.com'; // approver
const CAT = 'cat@contoso.com'; // neither
const BOSS = 'boss@contoso.com'; // the default approver group
const TASK = 'Exchange\\Remove-Mailbox emergency';
const REASON = 'Compromised mailbox is sending phishing to customers (INC-4711)';

const env = {
  ...sharedStorageEnv(),
  ZSA_MIN_DURATION_SECONDS: '1',
  ZSA_EXECUTOR_ALLOWED_HOSTS: '127.0.0.1',
  ZSA_WEBHOOK_SIGNING_KEY: KEY,
  ZSA_AUDIT_HMAC_KEY: 'e2e-emergency-audit-key',
  // One second: the open review is reminded within the test.
  ZSA_REVIEW_REMINDER_HOURS: String(1 / 3600),
};
/** The app with its review reminder every second instead of every hour (the fixture says why). */
const MAIN = 'dist/test/fixtures/emergency-app/*.js';

let host: HostProcess;
let hook: WebhookTarget;

interface View {
  id: string;
  status: string;
  emergency: boolean;
  review: { status: string; reviewer: string | null; comment: string | null } | null;
  approvals: { approver: string }[];
  expiresAt: string | null;
  extensions: { id: string; status: string }[];
}

interface Problem {
  code: string;
}

beforeAll(async () => {
  hook = await startWebhookTarget(KEY);
  host = await startLocalHost({ env, main: MAIN });
  const admin = await caller(host.url, 'admin@contoso.com', ['PAM.Admin']);
  ok(await admin.put('/api/approver-groups/em-default', { members: [BOSS] }));
  ok(await admin.put('/api/approver-groups/em-approvers', { members: [ANN, BEN] }));
  ok(await admin.put('/api/approver-groups/em-oncall', { members: [ALICE] }));
  ok(await admin.post('/api/pam/enable', { defaultApproverGroup: 'em-default' }));
  ok(
    await admin.put('/api/catalog/tasks', {
      name: TASK,
      description: 'Remove a mailbox',
      executor: { type: 'webhook', url: hook.url },
    }),
  );
  ok(
    await admin.post('/api/policies', {
      scope: 'task',
      target: TASK,
      approvalType: 'manual',
      approverGroup: 'em-approvers',
      maxExtensions: 1,
      breakGlassGroup: 'em-oncall',
      breakGlassMaxHours: 1,
      approverAuthContext: 'c1',
    }),
  );
}, 90_000);

afterAll(async () => {
  await host.stop();
  await hook.close();
});

function ok<T>(r: ApiResponse<T>): T {
  if (r.status >= 300) throw new Error(`expected success, got ${r.status}: ${r.text}`);
  return r.body;
}

/** A caller whose token proves `strength` (the dev issuer's `acrs` / `amr`). */
async function signedIn(upn: string, strength: { acrs?: string[]; amr?: string[] } = {}): Promise<Caller> {
  const res = await send<{ access_token: string }>(`${host.url}/dev/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ upn, roles: [], ...strength }),
  });
  const token = ok(res).access_token;
  const call = <T>(method: string, path: string, body?: unknown) =>
    send<T>(`${host.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  return {
    upn,
    token,
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body),
    put: (path, body) => call('PUT', path, body),
    delete: (path) => call('DELETE', path),
    raw: (path, init) => send(`${host.url}${path}`, init),
  };
}

const strong = (upn: string) => signedIn(upn, { acrs: ['c1'], amr: ['pwd', 'mfa'] });

const mailsOf = (requestId: string): Promise<Mail[]> => mailsAbout(host.url, requestId);

const waitForMail = (requestId: string, event: string, to: string): Promise<Mail> =>
  waitForMailOn(host.url, requestId, event, to);

/** The step-up refusal: 401 STEP_UP_REQUIRED with Entra's claims challenge for `c1`. */
function expectChallenge(r: ApiResponse): void {
  expect(r.status, r.text).toBe(401);
  const challenge = r.headers.get('www-authenticate') ?? '';
  expect(challenge).toContain('error="insufficient_claims"');
  const claims = /claims="([^"]+)"/.exec(challenge)?.[1] ?? '';
  expect(JSON.parse(Buffer.from(claims, 'base64').toString('utf8'))).toEqual({
    access_token: { acrs: { essential: true, value: 'c1' } },
  });
}

/** Polls `done` every 100 ms for up to `ms`. */
async function waitFor(done: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** How many reminder emails Ann got for `requestId`. */
async function reminders(requestId: string): Promise<number> {
  return (await mailsOf(requestId)).filter(
    (m) => m.headers['x-zsa-event'] === 'reviewReminder' && m.to.includes(ANN),
  ).length;
}

const submit = async (who: Caller, extra: Record<string, unknown> = {}): Promise<View> =>
  ok(await who.post<View>('/api/requests', { task: TASK, reason: REASON, durationHours: 0.5, ...extra }));

/**
 * Retries a call while it answers 503 (Retry-After): the grant is live, but the record of it is still
 * being written to the audit, which a loaded machine can leave a moment behind; the API tells its
 * clients to try again. Anything else, or a 503 that lasts, is the answer.
 */
async function whenRecorded<T extends { status: number }>(call: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await call();
    if (res.status !== 503 || Date.now() > deadline) return res;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('emergency access, end to end', () => {
  it('granted at once, broadcast, executed, reminded, survives kill -9 with the review open, closed only with step-up, found by the export filter', async () => {
    // Prepare
    const alice = await signedIn(ALICE);
    const cat = await signedIn(CAT);
    const from = new Date(Date.now() - 60_000).toISOString();

    // Act: the on-call member breaks the glass; someone outside the group tries too
    const refused = await cat.post<Problem>('/api/requests', {
      task: TASK,
      reason: REASON,
      durationHours: 0.5,
      emergency: true,
    });
    const since = Date.now();
    const used = await submit(alice, { emergency: true });

    // Assess: granted at once with an open review; the approvers and the default group are told now
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('NOT_BREAK_GLASS_MEMBER');
    expect(used).toMatchObject({ status: 'approved', emergency: true, review: { status: 'open' } });
    const told = await Promise.all([ANN, BEN, BOSS].map((to) => waitForMail(used.id, 'emergencyUsed', to)));
    for (const mail of told) {
      expect(mail.text).toContain(ALICE);
      expect(mail.text).toContain(REASON);
      expect(mail.text).toContain(`/api/requests/${used.id}/review`);
    }

    // Act: the grant executes at once
    const run = await whenRecorded(() => alice.post('/api/execute', { task: TASK, requestId: used.id }));

    // Assess: it ran; the reviewers are reminded while the review is open
    expect(run.status, run.text).toBe(200);
    expect(hook.received.some((r) => r.body.requestId === used.id)).toBe(true);
    const reminded = await waitForMail(used.id, 'reviewReminder', ANN);
    expect(reminded.text).toContain(ALICE);

    // Act: crash, and come back on the same storage
    await host.kill();
    host = await startLocalHost({ env, main: MAIN });
    // Reminders go on after the restart (the period is a second).
    await waitFor(async () => (await reminders(used.id)) >= 2);
    const ann = await signedIn(ANN);
    const auditor = await caller(host.url, 'auditor@contoso.com', ['PAM.Auditor']);
    const [self, weak] = [
      await (await strong(ALICE)).post<Problem>(`/api/requests/${used.id}/review`, { outcome: 'justified' }),
      await ann.post(`/api/requests/${used.id}/review`, { outcome: 'justified' }),
    ];
    const stillOpen = ok(await ann.get<View>(`/api/requests/${used.id}`));
    const reviewed = await (
      await strong(ANN)
    ).post<View>(`/api/requests/${used.id}/review`, {
      outcome: 'justified',
      comment: 'Phishing stopped within minutes',
    });

    // Assess: the requester may not review; a weak token is challenged and changes nothing; the
    // strong one closes it and the requester hears the outcome
    expect(self.status).toBe(403);
    expect(self.body.code).toBe('SELF_APPROVAL');
    expectChallenge(weak);
    expect(stillOpen.review?.status).toBe('open');
    expect(ok(reviewed).review).toMatchObject({ status: 'justified', reviewer: ANN });
    await waitForMail(used.id, 'reviewed', ALICE);
    const open = ok(await auditor.get<{ items: { id: string }[] }>('/api/reviews?status=open'));
    expect(open.items.map((i) => i.id)).not.toContain(used.id);

    // Assess: the export's filter finds the emergency use, and only emergency uses
    const exported = await auditor.get<string>(
      `/api/audit/export?format=jsonl&from=${encodeURIComponent(from)}&action=emergency.used`,
    );
    expect(exported.status, exported.text).toBe(200);
    const rows = exported.text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { action: string; requestId: string; detail: string });
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((r) => r.action === 'emergency.used')).toBe(true);
    expect(JSON.parse(rows.find((r) => r.requestId === used.id)?.detail ?? '{}')).toMatchObject({
      reason: REASON,
      breakGlassGroup: 'em-oncall',
    });
    const trail = ok(
      await auditor.get<{ items: { action: string }[] }>(`/api/audit?requestId=${used.id}&pageSize=1000`),
    ).items.map((i) => i.action);
    expect(trail).toEqual(
      expect.arrayContaining(['emergency.used', 'emergency.reminded', 'emergency.reviewed']),
    );
    expect(trail.filter((a) => a === 'emergency.reviewed')).toHaveLength(1);
    // At most one reminder per period (a second; the timer also runs every second, and the host
    // was down for part of it): the compare-and-swap decides who reminds. None after the review closed.
    const sent = await reminders(used.id);
    expect(sent).toBeLessThanOrEqual(Math.ceil((Date.now() - since) / 1000));
    await new Promise((r) => setTimeout(r, 1500));
    expect(await reminders(used.id)).toBe(sent);
  }, 60_000);
});

describe('step-up on every decision path', () => {
  it('approve, deny and an extension decision refuse a token without the context (401, nothing changes), and decide with it', async () => {
    // Prepare
    const alice = await signedIn(ALICE);
    const [ann, ben, cat] = await Promise.all([
      signedIn(ANN),
      signedIn(BEN, { amr: ['pwd', 'mfa'] }),
      signedIn(CAT),
    ]);
    const [toApprove, toDeny] = [await submit(alice), await submit(alice)];

    // Act + Assess: who may not decide at all is refused as such, never challenged (the requester
    // 403; someone unrelated does not even see the request); a weak approver is challenged
    const self = await alice.post<Problem>(`/api/requests/${toApprove.id}/approve`, {});
    expect(self.status).toBe(403);
    expect(self.body.code).toBe('SELF_APPROVAL');
    expect([403, 404]).toContain((await cat.post(`/api/requests/${toApprove.id}/approve`, {})).status);
    expectChallenge(await ann.post(`/api/requests/${toApprove.id}/approve`, {}));
    // MFA is not the context c1: still challenged.
    expectChallenge(await ben.post(`/api/requests/${toDeny.id}/deny`, { comment: 'no' }));
    for (const id of [toApprove.id, toDeny.id])
      expect(ok(await alice.get<View>(`/api/requests/${id}`))).toMatchObject({
        status: 'pending',
        approvals: [],
      });

    // Act: with the context
    const approved = ok(await (await strong(ANN)).post<View>(`/api/requests/${toApprove.id}/approve`, {}));
    const denied = ok(
      await (await strong(BEN)).post<View>(`/api/requests/${toDeny.id}/deny`, { comment: 'no' }),
    );
    expect(approved.status).toBe('approved');
    expect(denied.status).toBe('denied');

    // Act + Assess: the extension's decision
    ok(await alice.post<View>(`/api/requests/${toApprove.id}/extend`, { hours: 0.25, reason: 'more time' }));
    expectChallenge(await ann.post(`/api/requests/${toApprove.id}/extensions/1/approve`, {}));
    expect(ok(await alice.get<View>(`/api/requests/${toApprove.id}`)).extensions).toMatchObject([
      { id: '1', status: 'pending' },
    ]);
    const extended = ok(
      await (await strong(ANN)).post<View>(`/api/requests/${toApprove.id}/extensions/1/approve`, {}),
    );
    expect(extended.extensions).toMatchObject([{ id: '1', status: 'approved' }]);
  }, 30_000);

  it('an emailed link never decides alone: the page says so, a POST without the right signed-in approver is 401, with it the link decides', async () => {
    // Prepare
    const alice = await signedIn(ALICE);
    const { id } = await submit(alice);
    const link = (await waitForMail(id, 'approvalNeeded', ANN)).links.find((l) =>
      l.startsWith(`${host.url}/api/decisions/`),
    );
    if (link === undefined) throw new Error('no decision link');
    const form = (headers: Record<string, string> = {}) =>
      send<string>(link, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams({ decision: 'approve' }).toString(),
      });
    const bearer = async (upn: string, strength?: { acrs: string[] }) => ({
      authorization: `Bearer ${(await signedIn(upn, strength)).token}`,
    });

    // Act
    const page = await send<string>(link, {});
    const alone = await form();
    const weak = await form(await bearer(ANN));
    const otherApprover = await form(await bearer(BEN, { acrs: ['c1'] }));
    const pending = ok(await alice.get<View>(`/api/requests/${id}`));
    const decided = await form(await bearer(ANN, { acrs: ['c1'] }));

    // Assess
    // Opening the link is the step-up page itself: the challenge, and how to meet it.
    expectChallenge(page);
    expect(page.text).toContain('A stronger sign-in is needed to decide');
    expect(page.text).toContain('/dev/token');
    expectChallenge(alone);
    expectChallenge(weak);
    expect(otherApprover.status).toBeGreaterThanOrEqual(400);
    expect(otherApprover.status).toBeLessThan(500);
    expect(pending).toMatchObject({ status: 'pending', approvals: [] });
    expect(decided.status, decided.text).toBe(200);
    expect(ok(await alice.get<View>(`/api/requests/${id}`)).status).toBe('approved');
  }, 30_000);
});
