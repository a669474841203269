/**
 * The `notify` story against real Azurite and the local Service Bus through the real SDK: who gets
 * which message, that a re-run publishes nothing twice, that approval links match the stored
 * hashes, and that the expiring-soon notice is scheduled and canceled.
 */
import { randomUUID } from 'node:crypto';
import type { ServiceBusReceivedMessage, ServiceBusSender } from '@azure/service-bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aPendingRequest, REQUESTER as ALICE, userKey } from '../../support/requests';
import { createTables, type Tables } from '#shared/adapters/tables';
import { settings } from '#shared/config';
import { Request } from '#shared/domain/request';
import { openDecisionLink } from '#shared/notifications/decisions';
import { NOTIFICATIONS_QUEUE, NotificationMessage, recipientKey } from '#shared/notifications/messages';
import { serviceBusPublisher } from '#shared/notifications/publisher';
import { publishNotification, type PublishContext } from '#shared/notifications/publish';
import { createScheduleStore, createTokenStore, type TokenStore } from '#shared/notifications/store';
import { createRequestRepository, type RequestRepository } from '#shared/requests/repository';
import { startComponentEnv, type ComponentEnv } from '../../support/component';
import { peekAll, startTestBus, type TestBus } from '../servicebus/bus';

const BASE = 'https://zsa.contoso.com';
const ANN = 'ann@contoso.com';
const BEN = 'ben@contoso.com';
const GROUP = 'publish-approvers';

let env: ComponentEnv;
let bus: TestBus;
let sender: ServiceBusSender;
let tables: Tables;
let repo: RequestRepository;
let tokens: TokenStore;

beforeAll(async () => {
  env = await startComponentEnv();
  bus = await startTestBus({ entities: [{ queue: NOTIFICATIONS_QUEUE }] });
  sender = bus.client.createSender(NOTIFICATIONS_QUEUE);
  tables = createTables(settings());
  repo = createRequestRepository(tables);
  tokens = createTokenStore(tables);
}, 60_000);

afterAll(async () => {
  await sender.close();
  await bus.close();
  await env.close();
});

function context(now = new Date(), noticeMinutes = 15): PublishContext {
  return {
    requests: repo,
    // Keyed as the support's requester is (`tid:<upn>`), so Alice is recognised as the requester.
    groupMembers: (g) =>
      Promise.resolve(g === GROUP ? [ALICE, ANN, BEN].map((upn) => ({ upn, id: userKey(upn) })) : []),
    tokens,
    schedules: createScheduleStore(tables),
    publisher: serviceBusPublisher(() => sender),
    now,
    publicBaseUrl: BASE,
    expiryNoticeMs: noticeMinutes * 60_000,
  };
}

async function stored(overrides: Partial<Request> = {}): Promise<Request> {
  const now = new Date();
  const request = aPendingRequest(
    {
      task: undefined,
      role: 'Mailbox Operator',
      tasks: ['Exchange\\New-MoveRequest', 'Exchange\\Set-Mailbox'],
      reason: 'INC-7',
      ticket: 'INC-7',
      durationHours: 2,
      approverGroup: GROUP,
      ...overrides,
    },
    now,
  );
  await repo.create(request);
  return request;
}

function approved(request: Request, expiresInMs: number): Partial<Request> {
  const now = Date.now();
  return {
    status: 'approved',
    approvals: [{ approver: ANN, decision: 'approve', comment: 'ok', at: new Date(now).toISOString() }],
    decidedAt: new Date(now).toISOString(),
    grantedAt: new Date(now).toISOString(),
    expiresAt: new Date(now + expiresInMs).toISOString(),
    pendingUntil: request.pendingUntil,
  };
}

/** The messages of one request on the queue (active or scheduled), parsed. */
async function onQueue(
  requestId: string,
): Promise<{ raw: ServiceBusReceivedMessage; message: NotificationMessage }[]> {
  const all = await peekAll(bus, NOTIFICATIONS_QUEUE);
  return all
    .filter((m) => m.applicationProperties?.requestId === requestId)
    .map((raw) => ({ raw, message: NotificationMessage.parse(raw.body) }));
}

describe('notify', () => {
  it('approval needed: one personal link per approver, never the requester, each matching its stored hash', async () => {
    // Prepare
    const request = await stored();

    // Act
    const result = await publishNotification(context(), { requestId: request.id, event: 'approvalNeeded' });

    // Assess
    const messages = await onQueue(request.id);
    expect(messages.map((m) => m.message.recipient).sort()).toEqual([ANN, BEN]);
    expect(result.published).toHaveLength(2);
    for (const { raw, message } of messages) {
      if (message.event !== 'approvalNeeded') throw new Error('unexpected event');
      expect(raw.messageId).toBe(`${request.id}:approvalNeeded:${recipientKey(message.recipient)}:1`);
      expect(raw.subject).toBe('approvalNeeded');
      expect(raw.contentType).toBe('application/json');
      expect(message.decisionUrl.startsWith(`${BASE}/api/decisions/${request.id}.`)).toBe(true);
      const token = message.decisionUrl.slice(`${BASE}/api/decisions/`.length);
      const state = await openDecisionLink(
        {
          tokens,
          requests: repo,
          now: new Date(),
          signedInAs: undefined,
          requireSignIn: false,
        },
        token,
      );
      expect(state.kind === 'open' && state.link.approver).toBe(message.recipient);
    }
  });

  it('a re-run publishes nothing more and keeps the links working', async () => {
    // Prepare
    const request = await stored();
    await publishNotification(context(), { requestId: request.id, event: 'approvalNeeded' });
    const first = await onQueue(request.id);

    // Act
    const again = await publishNotification(context(), { requestId: request.id, event: 'approvalNeeded' });

    // Assess
    expect(again.published).toEqual([]);
    expect((await onQueue(request.id)).map((m) => m.raw.messageId)).toEqual(
      first.map((m) => m.raw.messageId),
    );
  });

  it('a re-run of a plain notification is dropped by Service Bus as a duplicate', async () => {
    // Prepare
    const request = await stored({
      status: 'denied',
      approvals: [{ approver: ANN, decision: 'deny', comment: 'no', at: new Date().toISOString() }],
      decidedAt: new Date().toISOString(),
      endedAt: new Date().toISOString(),
    });

    // Act
    await publishNotification(context(), { requestId: request.id, event: 'denied' });
    await publishNotification(context(), { requestId: request.id, event: 'denied' });

    // Assess
    const messages = await onQueue(request.id);
    expect(messages.map((m) => `${m.message.audience}:${m.message.recipient}`).sort()).toEqual([
      `approver:${BEN}`,
      `requester:${ALICE}`,
    ]);
  });

  it('granted: tells the requester and schedules the expiring-soon notice, once; revoked cancels it', async () => {
    // Prepare
    const pending = await stored();
    const request = { ...pending, ...approved(pending, 30 * 60_000) };
    await repo.update(request.id, () => ({ next: request, result: undefined }));

    // Act
    const granted = await publishNotification(context(), { requestId: request.id, event: 'granted' });
    const rerun = await publishNotification(context(), { requestId: request.id, event: 'granted' });
    const afterGrant = await onQueue(request.id);
    const revoked = await publishNotification(context(), { requestId: request.id, event: 'revoked' });
    const afterRevoke = await onQueue(request.id);

    // Assess
    expect(granted.scheduled).toHaveLength(1);
    expect(rerun.scheduled).toEqual([]);
    const notice = afterGrant.find((m) => m.message.event === 'expiringSoon');
    expect(notice?.raw.state).toBe('scheduled');
    expect(notice?.raw.scheduledEnqueueTimeUtc?.getTime()).toBe(
      Date.parse(request.expiresAt ?? '') - 15 * 60_000,
    );
    expect(afterGrant.filter((m) => m.message.event === 'expiringSoon')).toHaveLength(1);
    expect(revoked.canceled).toEqual(granted.scheduled);
    expect(afterRevoke.map((m) => m.message.event).sort()).toEqual(['granted', 'revoked']);
  });

  it('granted for less time than the notice lead schedules nothing', async () => {
    // Prepare
    const pending = await stored();
    const request = { ...pending, ...approved(pending, 60_000) };
    await repo.update(request.id, () => ({ next: request, result: undefined }));

    // Act
    const result = await publishNotification(context(), { requestId: request.id, event: 'granted' });

    // Assess
    expect(result.scheduled).toEqual([]);
    expect((await onQueue(request.id)).map((m) => m.message.event)).toEqual(['granted']);
  });

  it('an unknown request fails the activity (the orchestration gives up after its retries)', async () => {
    // Act / Assess
    await expect(
      publishNotification(context(), { requestId: randomUUID(), event: 'granted' }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

// --- Stages and extensions ---------------------------------------------------------------------

const SECOND = 'publish-second-stage';
const CAT = 'cat@contoso.com';
const DAN = 'dan@contoso.com';

/** GROUP: Alice, Ann, Ben; SECOND: Ben, Cat, Dan. */
function stagedContext(now = new Date()): PublishContext {
  const second = [BEN, CAT, DAN].map((upn) => ({ upn, id: userKey(upn) }));
  const base = context(now);
  return {
    ...base,
    groupMembers: (g) => (g === SECOND ? Promise.resolve(second) : base.groupMembers(g)),
  };
}

function reader(now = new Date()) {
  return { tokens, requests: repo, now, signedInAs: undefined, requireSignIn: false };
}

function tokenOf(message: NotificationMessage): string {
  if (message.event !== 'approvalNeeded' && message.event !== 'extensionRequested')
    throw new Error(`no link in ${message.event}`);
  return message.decisionUrl.slice(`${BASE}/api/decisions/`.length);
}

describe('notify, stage by stage', () => {
  it("each stage's approvers get their links only when it opens, bound to it", async () => {
    // Prepare
    const request = await stored({
      stages: [
        { approverGroup: GROUP, requiredApprovals: 1 },
        { approverGroup: SECOND, requiredApprovals: 1 },
      ],
      requiredApprovals: 2,
    });

    // Act: stage 1 opens; stage 2 is asked for too early; Ann approves stage 1; stage 2 opens
    const first = await publishNotification(stagedContext(), {
      requestId: request.id,
      event: 'approvalNeeded',
      stage: 0,
    });
    const early = await publishNotification(stagedContext(), {
      requestId: request.id,
      event: 'approvalNeeded',
      stage: 1,
    });
    const approvedStage1 = {
      ...request,
      approvals: [
        {
          approver: ANN,
          approverId: userKey(ANN),
          decision: 'approve' as const,
          comment: null,
          at: new Date().toISOString(),
          stage: 0,
        },
      ],
    };
    await repo.update(request.id, () => ({ next: approvedStage1, result: undefined }));
    const second = await publishNotification(stagedContext(), {
      requestId: request.id,
      event: 'approvalNeeded',
      stage: 1,
    });

    // Assess: stage 1 → Ann and Ben (never Alice); stage 2 → Ben, Cat, Dan, and only once it opened
    expect(first.published).toHaveLength(2);
    expect(early.published).toEqual([]);
    expect(second.published).toHaveLength(3);
    const messages = (await onQueue(request.id)).map((m) => m.message);
    const byStage = (stage: number | undefined) =>
      messages
        .filter((m) => m.event === 'approvalNeeded' && m.stage === stage)
        .map((m) => m.recipient)
        .sort();
    expect(byStage(0)).toEqual([ANN, BEN]);
    expect(byStage(1)).toEqual([BEN, CAT, DAN]);
    // Ben's two links are two rows: his stage-1 link is over, his stage-2 link decides now.
    const bens = messages.filter((m) => m.recipient === BEN);
    const states = await Promise.all(bens.map((m) => openDecisionLink(reader(), tokenOf(m))));
    expect(states.map((s) => (s.kind === 'closed' ? s.reason : s.kind)).sort()).toEqual([
      'open',
      'stageOver',
    ]);
    const open = states.find((s) => s.kind === 'open');
    expect(open?.kind === 'open' && open.link.binding).toEqual({ stage: 1 });
  });

  it("an extension's approvers get links bound to it; its approval reschedules the expiring-soon notice", async () => {
    // Prepare: a live grant with 30 minutes left and extension 1 waiting
    const pending = await stored();
    const grant: Request = {
      ...pending,
      ...approved(pending, 30 * 60_000),
      maxExtensions: 1,
      extensions: [
        {
          id: '1',
          hours: 1,
          reason: 'Overran',
          status: 'pending',
          approvals: [],
          createdAt: new Date().toISOString(),
          pendingUntil: new Date(Date.now() + 30 * 60_000).toISOString(),
          decidedAt: null,
        },
      ],
    };
    await repo.update(grant.id, () => ({ next: grant, result: undefined }));
    const granted = await publishNotification(context(), { requestId: grant.id, event: 'granted' });

    // Act: the extension is asked for; then approved (the grant ends an hour later)
    const asked = await publishNotification(context(), {
      requestId: grant.id,
      event: 'extensionRequested',
      extensionId: '1',
      stage: 0,
    });
    const links = (await onQueue(grant.id)).filter((m) => m.message.event === 'extensionRequested');
    const states = await Promise.all(links.map((m) => openDecisionLink(reader(), tokenOf(m.message))));
    const extended: Request = {
      ...grant,
      expiresAt: new Date(Date.parse(grant.expiresAt ?? '') + 3_600_000).toISOString(),
      extensions: grant.extensions.map((e) => ({
        ...e,
        status: 'approved' as const,
        decidedAt: new Date().toISOString(),
      })),
    };
    await repo.update(grant.id, () => ({ next: extended, result: undefined }));
    const yes = await publishNotification(context(), {
      requestId: grant.id,
      event: 'extensionApproved',
      extensionId: '1',
    });
    const rerun = await publishNotification(context(), {
      requestId: grant.id,
      event: 'extensionApproved',
      extensionId: '1',
    });

    // Assess: links to Ann and Ben (Ann approved the request; an extension is a round of its own)
    expect(asked.published).toHaveLength(2);
    const all = await onQueue(grant.id);
    expect(links.map((m) => m.message.recipient).sort()).toEqual([ANN, BEN]);
    expect(states.map((st) => st.kind === 'open' && st.link.binding)).toEqual([
      { stage: 0, extensionId: '1' },
      { stage: 0, extensionId: '1' },
    ]);
    // The requester is told; the old notice canceled, a new one (a new id) scheduled for the new end.
    expect(yes.canceled).toEqual(granted.scheduled);
    expect(yes.scheduled).toHaveLength(1);
    expect(rerun.scheduled).toEqual([]);
    expect(rerun.canceled).toEqual([]);
    const notices = all.filter((m) => m.message.event === 'expiringSoon');
    expect(notices.map((m) => m.raw.scheduledEnqueueTimeUtc?.getTime())).toEqual([
      Date.parse(extended.expiresAt ?? '') - 15 * 60_000,
    ]);
    expect(notices[0]?.raw.messageId).toBe(`${grant.id}:expiringSoon:x1:${recipientKey(ALICE)}`);
    expect(all.find((m) => m.message.event === 'extensionApproved')?.message.recipient).toBe(ALICE);
  });
});
