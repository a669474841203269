/**
 * Approvers decide from email, end to end through the local host: the orchestration's `notify`
 * publishes on Service Bus, the `sendEmail` trigger mails the host's mailbox, and the tests click
 * the links in those emails over real HTTP, as a person (or a mail scanner) would.
 *
 * The main host runs everything of its own, its Service Bus endpoint included. A second host sends
 * its email to a closed port, to watch retries and dead-lettering while its grants still start and
 * end on time; its Service Bus endpoint is started here and handed over as `ServiceBusConnection`,
 * so the test can read the dead-letter queue with the real SDK.
 */
import { createServer } from 'node:net';
import { ServiceBusClient, type ServiceBusReceivedMessage } from '@azure/service-bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServiceBus, type ServiceBusHandle } from '@zsa/local-host/servicebus';
import { NOTIFICATIONS_QUEUE } from '#shared/notifications/messages';
import { caller, send, type ApiResponse, type Caller } from '../support/api';
import { startLocalHost, type HostProcess } from '../support/local-host';
import { mailsAbout, waitForMail, type Mail } from '../support/mailbox';
import { userKey } from '../support/requests';

const SECONDS = 1 / 3600;

interface View {
  id: string;
  status: string;
  approvals: { approver: string; decision: string; comment: string | null }[];
  expiresAt: string | null;
  endedAt: string | null;
}

interface Env {
  host: HostProcess;
  /** Only when the test runs the host's Service Bus endpoint. */
  bus: ServiceBusHandle | undefined;
  admin: Caller;
  seq: number;
}

let main: Env;
let broken: Env;

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

async function startEnv(env: Record<string, string>, options: { ownBus: boolean }): Promise<Env> {
  const bus = options.ownBus
    ? await startServiceBus({ entities: [{ queue: NOTIFICATIONS_QUEUE }] })
    : undefined;
  const host = await startLocalHost({
    storage: 'shared',
    env: {
      ZSA_MIN_DURATION_SECONDS: '1',
      ZSA_EXECUTOR_ALLOWED_HOSTS: '127.0.0.1',
      ZSA_WEBHOOK_SIGNING_KEY: 'e2e-email-key',
      ...(bus ? { ServiceBusConnection: bus.connectionString } : {}),
      ...env,
    },
  });
  const admin = await caller(host.url, 'admin@contoso.com', ['PAM.Admin']);
  await ok(admin.put('/api/approver-groups/default-approvers', { members: ['boss@contoso.com'] }));
  await ok(admin.post('/api/pam/enable', { defaultApproverGroup: 'default-approvers' }));
  return { host, bus, admin, seq: 0 };
}

beforeAll(async () => {
  [main, broken] = await Promise.all([
    startEnv({ ZSA_EXPIRY_NOTICE_MINUTES: String(3 / 60) }, { ownBus: false }),
    closedPort().then((port) => startEnv({ ZSA_SMTP_URL: `smtp://127.0.0.1:${port}` }, { ownBus: true })),
  ]);
}, 120_000);

afterAll(async () => {
  for (const env of [main, broken] as (Env | undefined)[]) {
    if (!env) continue;
    await env.host.stop();
    await env.bus?.close();
  }
});

async function ok<T>(p: Promise<ApiResponse<T>>): Promise<T> {
  const res = await p;
  if (res.status >= 300) throw new Error(`expected success, got ${res.status}: ${res.text}`);
  return res.body;
}

/** A task whose manual policy names its own group: [the requester, ann, ben] unless told otherwise. */
async function setup(
  env: Env,
  opts: { members?: string[]; pendingTimeoutHours?: number; requiredApprovals?: number } = {},
): Promise<string> {
  env.seq++;
  const task = `Exchange\\Set-Mailbox #${env.seq}`;
  const group = `email-approvers-${env.seq}`;
  await ok(
    env.admin.put(`/api/approver-groups/${group}`, {
      members: opts.members ?? ['alice@contoso.com', 'ann@contoso.com', 'ben@contoso.com'],
    }),
  );
  await ok(
    env.admin.put('/api/catalog/tasks', {
      name: task,
      description: 'Change a mailbox',
      executor: { type: 'webhook', url: 'http://127.0.0.1:9/never' },
    }),
  );
  await ok(
    env.admin.post('/api/policies', {
      scope: 'task',
      target: task,
      approvalType: 'manual',
      approverGroup: group,
      requiredApprovals: opts.requiredApprovals ?? 1,
      ...(opts.pendingTimeoutHours ? { pendingTimeoutHours: opts.pendingTimeoutHours } : {}),
    }),
  );
  return task;
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

interface AuditItem {
  action: string;
  actorId: string;
  actorUpn: string;
  detail?: string;
}

/** Audit records of a request with this action, as an auditor reads them (waiting for stragglers). */
async function audited(env: Env, requestId: string, action: string, count: number): Promise<AuditItem[]> {
  const auditor = await caller(env.host.url, 'auditor@contoso.com', ['PAM.Auditor']);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await ok(
      auditor.get<{ items: AuditItem[] }>(`/api/audit?requestId=${requestId}&action=${action}`),
    );
    if (res.items.length >= count || Date.now() > deadline) return res.items;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function linkOf(env: Env, mail: Mail): string {
  const link = mail.links.find((l) => l.startsWith(`${env.host.url}/api/decisions/`));
  if (!link) throw new Error(`no decision link in ${mail.subject}`);
  return link;
}

const open = (link: string, method: 'GET' | 'HEAD' = 'GET', headers: Record<string, string> = {}) =>
  send<string>(link, { method, headers });

const post = (link: string, form: Record<string, string>) =>
  send<string>(link, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });

describe('deciding from email', () => {
  it('submit → every approver but the requester is mailed → GET changes nothing → approve → the requester hears → the link is spent', async () => {
    // Prepare
    const task = await setup(main);
    const alice = await caller(main.host.url, 'alice@contoso.com');

    // Act: submit
    const submitted = await ok(
      alice.post<View>('/api/requests', {
        task,
        reason: 'Fix quota for <CEO>',
        ticket: 'INC-77',
        durationHours: 8 * SECONDS,
      }),
    );
    const id = submitted.id;

    // Assess: one personal link each for Ann and Ben, nothing for Alice
    const [toAnn, toBen] = await Promise.all([
      waitForMail(main.host.url, id, 'approvalNeeded', 'ann@contoso.com'),
      waitForMail(main.host.url, id, 'approvalNeeded', 'ben@contoso.com'),
    ]);
    expect((await mailsAbout(main.host.url, id)).filter((m) => m.to.includes('alice@contoso.com'))).toEqual(
      [],
    );
    expect(toAnn.subject).toBe(`[ZSA] Approval needed: alice@contoso.com requests task "${task}"`);
    expect(toAnn.text).toContain('Reason: Fix quota for <CEO>');
    expect(toAnn.html).toContain('Fix quota for &lt;CEO&gt;');
    const annLink = linkOf(main, toAnn);
    const benLink = linkOf(main, toBen);
    expect(annLink).not.toBe(benLink);

    // Act: open the link (GET and HEAD)
    const page = await open(annLink);
    const head = await open(annLink, 'HEAD');

    // Assess: a confirmation page, and still pending
    expect(page.status).toBe(200);
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(page.text).toContain(`<form method="post" action="${annLink}">`);
    expect(page.text).toContain('INC-77');
    expect(page.text).not.toMatch(/<script|http-equiv/i);
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
    expect((await alice.get<View>(`/api/requests/${id}`)).body.status).toBe('pending');

    // Act: approve
    const approved = await post(annLink, { decision: 'approve', comment: 'Go ahead' });

    // Assess
    expect(approved.status).toBe(200);
    expect(approved.text).toContain('You approved the request');
    const view = (await alice.get<View>(`/api/requests/${id}`)).body;
    expect(view.status).toBe('approved');
    expect(view.approvals).toEqual([
      expect.objectContaining({ approver: 'ann@contoso.com', decision: 'approve', comment: 'Go ahead' }),
    ]);
    const decided = await waitForMail(main.host.url, id, 'approved', 'alice@contoso.com');
    expect(decided.text).toContain('Approved by ann@contoso.com. Comment: "Go ahead"');
    await waitForMail(main.host.url, id, 'approved', 'ben@contoso.com');

    // Assess: the same link again, and Ben's now useless link
    const again = await post(annLink, { decision: 'deny' });
    expect(again.status).toBe(410);
    expect(again.text).toContain('already been used');
    expect((await open(annLink)).status).toBe(410);
    expect((await open(benLink)).status).toBe(410);
    expect((await alice.get<View>(`/api/requests/${id}`)).body.approvals).toHaveLength(1);

    // Assess: the rest of the grant's life reaches the requester
    await waitForMail(main.host.url, id, 'granted', 'alice@contoso.com');
    await waitForMail(main.host.url, id, 'expiringSoon', 'alice@contoso.com');
    await waitForMail(main.host.url, id, 'ended', 'alice@contoso.com');

    // Assess: the decision is audited as Ann's, through her link; every email sent is audited
    const [approval] = await audited(main, id, 'request.approved', 1);
    // Ann by the key her group resolved her to; the link was the credential.
    expect(approval).toMatchObject({ actorUpn: 'ann@contoso.com', actorId: userKey('ann@contoso.com') });
    expect(JSON.parse(approval?.detail ?? '{}')).toMatchObject({ via: 'decisionLink' });
    const sent = await audited(main, id, 'notification.sent', 7);
    expect(
      sent
        .map((a) => JSON.parse(a.detail ?? '{}') as { event: string; recipient: string })
        .map((d) => `${d.event}:${d.recipient}`)
        .sort(),
    ).toEqual([
      'approvalNeeded:ann@contoso.com',
      'approvalNeeded:ben@contoso.com',
      'approved:alice@contoso.com',
      'approved:ben@contoso.com',
      'ended:alice@contoso.com',
      'expiringSoon:alice@contoso.com',
      'granted:alice@contoso.com',
    ]);
  });

  it('100 scanner-style GET/HEAD hits change nothing, and the link still works', async () => {
    // Prepare
    const task = await setup(main);
    const alice = await caller(main.host.url, 'alice@contoso.com');
    const { id } = await ok(alice.post<View>('/api/requests', { task, reason: 'scanned' }));
    const link = linkOf(main, await waitForMail(main.host.url, id, 'approvalNeeded', 'ann@contoso.com'));
    const scanners = [
      'Mozilla/5.0 (compatible; Microsoft Safe Links)',
      'Proofpoint URL Defense',
      'Mimecast URL Protect',
      'BarracudaCentral',
    ];

    // Act
    const hits = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        open(link, i % 2 === 0 ? 'GET' : 'HEAD', { 'user-agent': scanners[i % scanners.length] ?? '' }),
      ),
    );

    // Assess
    expect(hits.every((h) => h.status === 200)).toBe(true);
    const view = (await alice.get<View>(`/api/requests/${id}`)).body;
    expect(view.status).toBe('pending');
    expect(view.approvals).toEqual([]);
    const decided = await post(link, { decision: 'approve' });
    expect(decided.status).toBe(200);
    expect((await alice.get<View>(`/api/requests/${id}`)).body.status).toBe('approved');
  });

  it('a tampered link, or one pointed at another request, gets a 4xx and decides nothing', async () => {
    // Prepare
    const task = await setup(main);
    const alice = await caller(main.host.url, 'alice@contoso.com');
    const [a, b] = [
      await ok(alice.post<View>('/api/requests', { task, reason: 'a' })),
      await ok(alice.post<View>('/api/requests', { task, reason: 'b' })),
    ];
    const link = linkOf(main, await waitForMail(main.host.url, a.id, 'approvalNeeded', 'ann@contoso.com'));
    const secret = link.slice(link.lastIndexOf('.') + 1);
    const tampered = `${link.slice(0, -1)}${link.endsWith('A') ? 'B' : 'A'}`;
    const crossed = `${main.host.url}/api/decisions/${b.id}.${secret}`;

    // Act
    const results = await Promise.all([
      open(tampered),
      post(tampered, { decision: 'approve' }),
      open(crossed),
      post(crossed, { decision: 'approve' }),
    ]);

    // Assess
    expect(results.map((r) => r.status)).toEqual([404, 404, 404, 404]);
    expect((await alice.get<View>(`/api/requests/${a.id}`)).body.status).toBe('pending');
    expect((await alice.get<View>(`/api/requests/${b.id}`)).body.status).toBe('pending');
    expect((await open(link)).status).toBe(200);
  });

  it('deny from email', async () => {
    // Prepare
    const task = await setup(main);
    const alice = await caller(main.host.url, 'alice@contoso.com');
    const { id } = await ok(alice.post<View>('/api/requests', { task, reason: 'please' }));
    const link = linkOf(main, await waitForMail(main.host.url, id, 'approvalNeeded', 'ben@contoso.com'));

    // Act
    const denied = await post(link, { decision: 'deny', comment: 'No ticket' });

    // Assess
    expect(denied.status).toBe(200);
    expect(denied.text).toContain('You denied the request');
    expect((await alice.get<View>(`/api/requests/${id}`)).body).toMatchObject({
      status: 'denied',
      approvals: [expect.objectContaining({ approver: 'ben@contoso.com', decision: 'deny' })],
    });
    const mail = await waitForMail(main.host.url, id, 'denied', 'alice@contoso.com');
    expect(mail.text).toContain('Denied by ben@contoso.com. Comment: "No ticket"');
  });

  it('a late click after the request expired gets a 4xx and decides nothing', async () => {
    // Prepare
    const task = await setup(main, { pendingTimeoutHours: 2 * SECONDS });
    const alice = await caller(main.host.url, 'alice@contoso.com');
    const { id } = await ok(alice.post<View>('/api/requests', { task, reason: 'slow approvers' }));
    const link = linkOf(main, await waitForMail(main.host.url, id, 'approvalNeeded', 'ann@contoso.com'));
    await waitForStatus(alice, id, 'expired');

    // Act
    const late = await post(link, { decision: 'approve' });

    // Assess
    expect(late.status).toBe(410);
    expect(late.text).toContain('no longer needs a decision');
    expect((await open(link)).status).toBe(410);
    expect((await alice.get<View>(`/api/requests/${id}`)).body).toMatchObject({
      status: 'expired',
      approvals: [],
    });
    await waitForMail(main.host.url, id, 'expired', 'alice@contoso.com');
  });

  it('the requester approving from a forwarded link is refused', async () => {
    // Prepare: Alice requests; Ann forwards her link to Alice, who opens it signed in as herself.
    const task = await setup(main);
    const alice = await caller(main.host.url, 'alice@contoso.com');
    const { id } = await ok(alice.post<View>('/api/requests', { task, reason: 'mine' }));
    const link = linkOf(main, await waitForMail(main.host.url, id, 'approvalNeeded', 'ann@contoso.com'));

    // Act
    const res = await send<string>(link, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Bearer ${alice.token}`,
      },
      body: 'decision=approve',
    });

    // Assess
    expect(res.status).toBe(403);
    expect((await alice.get<View>(`/api/requests/${id}`)).body.status).toBe('pending');
  });
});

describe('a failing mail server', () => {
  it('retries, then dead-letters the emails, while the grant still starts and ends on time', async () => {
    // Prepare
    const task = await setup(broken);
    const alice = await caller(broken.host.url, 'alice@contoso.com');
    const ann = await caller(broken.host.url, 'ann@contoso.com');

    // Act
    const { id } = await ok(
      alice.post<View>('/api/requests', { task, reason: 'mail is down', durationHours: 3 * SECONDS }),
    );
    const approved = await ok(ann.post<View>(`/api/requests/${id}/approve`, {}));
    const ended = await waitForStatus(alice, id, 'ended', 15_000);
    const endedSeenAt = Date.now();

    // Assess: on time
    expect(approved.status).toBe('approved');
    expect(ended.endedAt).toBe(approved.expiresAt);
    expect(endedSeenAt - Date.parse(approved.expiresAt ?? '')).toBeLessThan(3000);

    // Assess: every email of this grant's life ends in the dead-letter queue after 10 deliveries
    if (!broken.bus) throw new Error("the failing host runs on the test's Service Bus endpoint");
    const dead = await waitForDeadLetters(broken.bus, id, ['granted', 'ended']);
    for (const m of dead) {
      expect(m.deadLetterReason).toBe('MaxDeliveryCountExceeded');
      expect(m.deliveryCount).toBe(10);
    }
    const log = broken.host.output();
    expect(log).toMatch(/delivery 1 of 10\), Service Bus will retry: .*ECONNREFUSED/);
    expect(log).toMatch(/delivery 10 of 10\); it goes to the dead-letter queue: .*ECONNREFUSED/);
    expect(await mailsAbout(broken.host.url, id)).toEqual([]);
    const failed = await audited(broken, id, 'notification.failed', 2);
    expect(failed.map((a) => a.detail ?? '')).toEqual(
      expect.arrayContaining([expect.stringContaining(':granted:'), expect.stringContaining(':ended:')]),
    );
  });
});

async function waitForDeadLetters(
  bus: ServiceBusHandle,
  requestId: string,
  events: string[],
  timeoutMs = 20_000,
): Promise<ServiceBusReceivedMessage[]> {
  const client = new ServiceBusClient(bus.connectionString);
  const receiver = client.createReceiver(NOTIFICATIONS_QUEUE, { subQueueType: 'deadLetter' });
  // Peeking continues after the last sequence number this client saw: keep what each peek brings.
  const seen: ServiceBusReceivedMessage[] = [];
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      seen.push(...(await receiver.peekMessages(500)));
      const mine = seen.filter(
        (m) => m.applicationProperties?.requestId === requestId && events.includes(m.subject ?? ''),
      );
      if (events.every((e) => mine.some((m) => m.subject === e))) return mine;
      if (Date.now() > deadline)
        throw new Error(`dead letters of ${requestId}: ${mine.map((m) => m.subject).join(', ') || 'none'}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await receiver.close();
    await client.close();
  }
}
