/**
 * The review reminder's story against real Azurite (request rows, their `review:open` index, the
 * audit log) and the local Service Bus through the real SDK and the real notify story: an open
 * review past its period is reminded once, however many runs find it at once; a closed review and
 * a recent one are not.
 */
import type { ServiceBusSender } from '@azure/service-bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aPendingRequest, REQUESTER as ALICE, userKey } from '../../support/requests';
import { createTables, type Tables } from '#shared/adapters/tables';
import { createAuditLog, type AuditLog } from '#shared/audit/log';
import { settings } from '#shared/config';
import { OPEN_REVIEW } from '#shared/domain/emergency';
import type { Request } from '#shared/domain/request';
import { deliverNotification } from '#shared/notifications/deliver';
import { smtpMailer } from '#shared/notifications/mailer';
import { NOTIFICATIONS_QUEUE, NotificationMessage } from '#shared/notifications/messages';
import { serviceBusPublisher } from '#shared/notifications/publisher';
import { publishNotification, type PublishContext } from '#shared/notifications/publish';
import { publishReminder, remindOpenReviews, type ReminderContext } from '#shared/notifications/reminders';
import { createScheduleStore, createTokenStore } from '#shared/notifications/store';
import { createRequestRepository, type RequestRepository } from '#shared/requests/repository';
import { startComponentEnv, type ComponentEnv } from '../../support/component';
import { peekAll, startTestBus, type TestBus } from '../servicebus/bus';

const HOUR = 3_600_000;
const ANN = 'ann@contoso.com';
const BEN = 'ben@contoso.com';
const DORA = 'dora@contoso.com';
const GROUP = 'reminder-approvers';
const DEFAULT_GROUP = 'reminder-default';

let env: ComponentEnv;
let bus: TestBus;
let sender: ServiceBusSender;
let tables: Tables;
let repo: RequestRepository;
let log: AuditLog;

beforeAll(async () => {
  env = await startComponentEnv();
  bus = await startTestBus({ entities: [{ queue: NOTIFICATIONS_QUEUE }] });
  sender = bus.client.createSender(NOTIFICATIONS_QUEUE);
  tables = createTables(settings());
  repo = createRequestRepository(tables);
  log = createAuditLog({ tables, now: () => new Date(), hmacKey: 'k', name: 'reminderaudit' });
}, 60_000);

afterAll(async () => {
  await sender.close();
  await bus.close();
  await env.close();
});

const members = new Map([
  // The requester is a member too: she must never be asked to review her own use.
  [GROUP, [ALICE, ANN, BEN]],
  [DEFAULT_GROUP, [BEN, DORA]],
]);

function publishContext(now: Date): PublishContext {
  return {
    requests: repo,
    groupMembers: (g) => Promise.resolve((members.get(g) ?? []).map((upn) => ({ upn, id: userKey(upn) }))),
    defaultApproverGroup: () => Promise.resolve(DEFAULT_GROUP),
    tokens: createTokenStore(tables),
    schedules: createScheduleStore(tables),
    publisher: serviceBusPublisher(() => sender),
    now,
    publicBaseUrl: 'https://zsa.contoso.com',
    expiryNoticeMs: 15 * 60_000,
  };
}

function context(now: Date): ReminderContext {
  const publish = publishContext(now);
  return {
    repo,
    audit: log,
    remind: (id, since) => publishReminder(publish, id, since),
    now,
    reminderMs: 24 * HOUR,
    log: () => undefined,
  };
}

/** An emergency use granted `ageHours` ago, stored with its `review:open` entry. */
async function emergencyUse(ageHours: number, overrides: Partial<Request> = {}): Promise<Request> {
  const granted = new Date(Date.now() - ageHours * HOUR);
  const request = aPendingRequest(
    {
      approverGroup: GROUP,
      approvalType: 'auto',
      requiredApprovals: 0,
      status: 'approved',
      reason: 'INC-9: the mail flow is down for the whole tenant',
      ticket: 'INC-9',
      decidedAt: granted.toISOString(),
      grantedAt: granted.toISOString(),
      expiresAt: new Date(granted.getTime() + HOUR).toISOString(),
      emergency: true,
      review: OPEN_REVIEW,
      ...overrides,
    },
    granted,
  );
  await repo.create(request);
  return request;
}

async function remindersOf(id: string): Promise<NotificationMessage[]> {
  return (await peekAll(bus, NOTIFICATIONS_QUEUE))
    .map((m) => NotificationMessage.parse(m.body))
    .filter((m) => m.requestId === id && m.event === 'reviewReminder');
}

async function remindedAudit(id: string) {
  return (await log.query({ requestId: id })).items.filter((e) => e.action === 'emergency.reminded');
}

describe('the emergency use notice', () => {
  it('goes at once to every member of its groups and of the default group, not the requester, once however often it runs', async () => {
    // Arrange
    const use = await emergencyUse(0);

    // Act: the activity, retried.
    await publishNotification(publishContext(new Date()), { requestId: use.id, event: 'emergencyUsed' });
    await publishNotification(publishContext(new Date()), { requestId: use.id, event: 'emergencyUsed' });

    // Assess
    const sent = (await peekAll(bus, NOTIFICATIONS_QUEUE))
      .map((m) => NotificationMessage.parse(m.body))
      .filter((m) => m.requestId === use.id);
    expect(sent.map((m) => `${m.event}:${m.recipient}`).sort()).toEqual(
      [ANN, BEN, DORA].map((u) => `emergencyUsed:${u}`),
    );
    expect(
      sent.every(
        (m) => m.event === 'emergencyUsed' && m.apiUrl === `https://zsa.contoso.com/api/requests/${use.id}`,
      ),
    ).toBe(true);
  }, 30_000);
});

describe('the review reminder', () => {
  it('reminds an open review past its period once, however many runs find it at once', async () => {
    // Arrange
    const use = await emergencyUse(25);
    const now = new Date();

    // Act: three instances' timers at the same moment.
    const reports = await Promise.all([1, 2, 3].map(() => remindOpenReviews(context(now))));

    // Assess: one run claimed it; its reviewers (groups and default group, not the requester) each got one.
    expect(reports.filter((r) => r.reminded.includes(use.id))).toHaveLength(1);
    const sent = await remindersOf(use.id);
    expect(sent.map((m) => m.recipient).sort()).toEqual([ANN, BEN, DORA]);
    expect(
      sent.every((m) => m.event === 'reviewReminder' && m.apiUrl?.endsWith(`/api/requests/${use.id}`)),
    ).toBe(true);
    const row = await repo.read(use.id);
    expect(row?.request.review?.remindedAt).toBe(now.toISOString());
    const audited = await remindedAudit(use.id);
    expect(audited).toHaveLength(1);
    expect(JSON.parse(String(audited[0]?.detail))).toMatchObject({ reviewers: [ANN, BEN, DORA], n: 3 });

    // Act: a restart an hour later finds it reminded recently.
    const later = await remindOpenReviews(context(new Date(now.getTime() + HOUR)));

    // Assess
    expect(later.reminded).not.toContain(use.id);
    expect(await remindersOf(use.id)).toHaveLength(3);

    // Act: a period after the reminder, the reviewers are reminded again, with new messages.
    const again = await remindOpenReviews(context(new Date(now.getTime() + 24 * HOUR)));

    // Assess
    expect(again.reminded).toContain(use.id);
    expect(await remindersOf(use.id)).toHaveLength(6);
    expect(await remindedAudit(use.id)).toHaveLength(2);
  }, 30_000);

  it('a run that died after publishing is finished by the next one, without a second email', async () => {
    // Arrange: the dead run's publish, with no claim after it.
    const use = await emergencyUse(26);
    const now = new Date();
    await context(now).remind(use.id, null);

    // Act: the next run.
    const report = await remindOpenReviews(context(new Date(now.getTime() + 60_000)));

    // Assess
    expect(report.reminded).toContain(use.id);
    expect(await remindersOf(use.id)).toHaveLength(3);
    expect(await remindedAudit(use.id)).toHaveLength(1);
  }, 30_000);

  it("a run that read the review before another's claim publishes that run's very messages, not a second reminder", async () => {
    // Arrange: run B reminds and claims; run A read the row before B's claim (remindedAt null then).
    const use = await emergencyUse(27);
    const now = new Date();
    const b = await remindOpenReviews(context(now));
    expect(b.reminded).toContain(use.id);

    // Act: A's publish, late, for the period it saw.
    await context(now).remind(use.id, null);

    // Assess: the same message ids, dropped as duplicates: one reminder per reviewer.
    expect(await remindersOf(use.id)).toHaveLength(3);
  }, 30_000);

  it('reminds no closed review', async () => {
    // Arrange: closed by Ann (its index entry left behind, as a close interrupted before the index moves).
    const use = await emergencyUse(48, {
      review: {
        ...OPEN_REVIEW,
        status: 'justified',
        reviewer: ANN,
        reviewerId: userKey(ANN),
        at: new Date().toISOString(),
      },
    });
    const open = await emergencyUse(48);
    await repo.update(open.id, (current) => ({
      next: {
        ...current,
        review: {
          ...OPEN_REVIEW,
          status: 'unjustified',
          reviewer: BEN,
          reviewerId: userKey(BEN),
          comment: 'no incident',
          at: new Date().toISOString(),
        },
      },
      result: undefined,
    }));

    // Act
    const report = await remindOpenReviews(context(new Date()));

    // Assess
    expect(report.reminded).not.toContain(use.id);
    expect(report.reminded).not.toContain(open.id);
    expect(await remindersOf(use.id)).toEqual([]);
    expect(await remindersOf(open.id)).toEqual([]);
    expect((await repo.read(open.id))?.request.review?.remindedAt).toBeNull();
  }, 30_000);

  it('a reminder whose review was closed before it was sent is dropped by the sender', async () => {
    // Arrange: reminded, then closed by Ben before the sender reads the message.
    const use = await emergencyUse(30);
    await remindOpenReviews(context(new Date()));
    const [message] = await remindersOf(use.id);
    await repo.update(use.id, (current) => ({
      next: { ...current, review: { ...OPEN_REVIEW, ...current.review, status: 'justified', reviewer: BEN } },
      result: undefined,
    }));

    // Act: a mailer nobody listens to: reaching it would fail the test.
    const outcome = await deliverNotification(
      { mailer: smtpMailer('smtp://127.0.0.1:1', 'ZSA <zsa@localhost>'), requests: repo, now: new Date() },
      message,
    );

    // Assess
    expect(outcome).toMatchObject({ kind: 'skipped', reason: 'the review is no longer open' });
  }, 30_000);

  it('lets a recent review wait for its period', async () => {
    // Arrange
    const use = await emergencyUse(23);

    // Act
    const report = await remindOpenReviews(context(new Date()));

    // Assess
    expect(report.reminded).not.toContain(use.id);
    expect(await remindersOf(use.id)).toEqual([]);
    expect((await repo.read(use.id))?.request.review?.remindedAt).toBeNull();
    expect(await remindedAudit(use.id)).toEqual([]);
  }, 30_000);
});
