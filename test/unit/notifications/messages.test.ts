import { describe, expect, it } from 'vitest';
import {
  buildMessage,
  MAX_SUMMARY_TASKS,
  MAX_SUMMARY_VALUE,
  messageId,
  NotificationMessage,
  NotifyInput,
  recipientsFor,
  summarize,
  type NotificationEvent,
} from '#shared/notifications/messages';
import { parseNotification, UndeliverableNotification } from '#shared/notifications/deliver';
import { expiryNoticeAt } from '#shared/notifications/publish';
import {
  ALICE,
  BOB,
  CAROL,
  ERIN,
  GROUP_MEMBERS,
  T0,
  aRequest,
  idOf,
  iso,
  memberOf,
  minutesAfterT0,
} from '../domain/builders';
import type { Member } from '#shared/domain/pam';

const LINK = 'https://zsa.contoso.com/api/decisions/req-1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

describe('who hears of what', () => {
  const bobApproved = {
    approver: BOB,
    approverId: idOf(BOB),
    decision: 'approve' as const,
    comment: null,
    at: iso(minutesAfterT0(10)),
  };
  const scenarios: {
    name: string;
    event: NotificationEvent;
    request: ReturnType<typeof aRequest>;
    members: Member[];
    expected: string[];
  }[] = [
    {
      name: 'approval needed → every approver',
      event: 'approvalNeeded',
      request: aRequest(),
      members: [...GROUP_MEMBERS],
      expected: [`approver:${BOB}`, `approver:${CAROL}`, `approver:${ERIN}`],
    },
    {
      name: 'approval needed → never the requester, even as a group member',
      event: 'approvalNeeded',
      request: aRequest(),
      members: [ALICE, BOB].map(memberOf),
      expected: [`approver:${BOB}`],
    },
    {
      name: 'approval needed → once per person (key), never a member not yet keyed',
      event: 'approvalNeeded',
      request: aRequest(),
      members: [memberOf(BOB), { upn: 'bob.old@contoso.com', id: idOf(BOB) }, { upn: CAROL, id: null }],
      expected: [`approver:${BOB}`],
    },
    {
      name: 'approval needed → not those who already decided (2-of-N)',
      event: 'approvalNeeded',
      request: aRequest({ requiredApprovals: 2, approvals: [bobApproved] }),
      members: [...GROUP_MEMBERS],
      expected: [`approver:${CAROL}`, `approver:${ERIN}`],
    },
    {
      name: 'approval needed for a request already decided → nobody',
      event: 'approvalNeeded',
      request: aRequest({ status: 'approved' }),
      members: [...GROUP_MEMBERS],
      expected: [],
    },
    {
      name: 'approved → the requester and the approvers who did not decide',
      event: 'approved',
      request: aRequest({ status: 'approved' }),
      members: [...GROUP_MEMBERS],
      expected: [`requester:${ALICE}`, `approver:${CAROL}`, `approver:${ERIN}`],
    },
    {
      name: 'denied → the requester and the other approvers',
      event: 'denied',
      request: aRequest({ status: 'denied' }),
      members: [...GROUP_MEMBERS],
      expected: [`requester:${ALICE}`, `approver:${CAROL}`, `approver:${ERIN}`],
    },
    {
      name: 'canceled → the approvers only (the requester canceled)',
      event: 'canceled',
      request: aRequest({ status: 'canceled' }),
      members: [...GROUP_MEMBERS],
      expected: [`approver:${BOB}`, `approver:${CAROL}`, `approver:${ERIN}`],
    },
    {
      name: 'expired → the requester',
      event: 'expired',
      request: aRequest({ status: 'expired' }),
      members: [...GROUP_MEMBERS],
      expected: [`requester:${ALICE}`],
    },
    {
      name: 'granted → the requester',
      event: 'granted',
      request: aRequest({ status: 'approved' }),
      members: [...GROUP_MEMBERS],
      expected: [`requester:${ALICE}`],
    },
    {
      name: 'expiring soon → the requester',
      event: 'expiringSoon',
      request: aRequest({ status: 'approved' }),
      members: [...GROUP_MEMBERS],
      expected: [`requester:${ALICE}`],
    },
    {
      name: 'ended → the requester',
      event: 'ended',
      request: aRequest({ status: 'ended' }),
      members: [...GROUP_MEMBERS],
      expected: [`requester:${ALICE}`],
    },
    {
      name: 'revoked → the requester',
      event: 'revoked',
      request: aRequest({ status: 'revoked' }),
      members: [...GROUP_MEMBERS],
      expected: [`requester:${ALICE}`],
    },
  ];
  it.each(scenarios)('$name', ({ event, request, members, expected }) => {
    // Act
    const recipients = recipientsFor(event, request, members);

    // Assess
    expect(recipients.map((r) => `${r.audience}:${r.upn}`)).toEqual(expected);
  });
});

describe('messages', () => {
  it('an approval message validates against the versioned schema', () => {
    // Prepare
    const request = aRequest();

    // Act
    const message = buildMessage(
      { event: 'approvalNeeded', decisionUrl: LINK, generation: 1 },
      request,
      { upn: BOB, audience: 'approver' },
      T0,
    );

    // Assess
    expect(NotificationMessage.parse(message)).toEqual(message);
    expect(message).toMatchObject({
      schema: 'zsa.notification',
      version: 1,
      event: 'approvalNeeded',
      recipient: BOB,
      decisionUrl: LINK,
      requestId: 'req-1',
    });
  });

  it('ids are deterministic per request, event and recipient, and fit a Service Bus messageId', () => {
    // Prepare
    const longUpn = `${'x'.repeat(240)}@contoso.com`;

    // Act
    const a = messageId('0b6f5c1e-3c1a-4a59-9d58-2b6a1b9f0e11', 'approved', BOB);
    const again = messageId('0b6f5c1e-3c1a-4a59-9d58-2b6a1b9f0e11', 'approved', 'Bob@Contoso.com');
    const other = messageId('0b6f5c1e-3c1a-4a59-9d58-2b6a1b9f0e11', 'approved', CAROL);
    const link = messageId('0b6f5c1e-3c1a-4a59-9d58-2b6a1b9f0e11', 'approvalNeeded', longUpn, 12);

    // Assess
    expect(again).toBe(a);
    expect(other).not.toBe(a);
    expect(a).toMatch(/^0b6f5c1e-3c1a-4a59-9d58-2b6a1b9f0e11:approved:[0-9a-f]{16}$/);
    expect(link.endsWith(':12')).toBe(true);
    expect(link.length).toBeLessThanOrEqual(128);
  });

  it('the summary stays bounded whatever the request holds', () => {
    // Prepare
    const tasks = Array.from({ length: 200 }, (_, i) => `Task ${i}`);
    const request = aRequest({
      task: undefined,
      roleGroup: 'Everything',
      tasks,
      parameters: { Mailbox: 'x'.repeat(8000), Force: true },
    });

    // Act
    const summary = summarize(request);

    // Assess
    expect(summary.tasks).toHaveLength(MAX_SUMMARY_TASKS);
    expect(summary.taskCount).toBe(200);
    expect(summary.parameters).toEqual([
      { name: 'Mailbox', value: `${'x'.repeat(MAX_SUMMARY_VALUE - 1)}…`, truncated: true },
      { name: 'Force', value: 'true', truncated: false },
    ]);
    expect(
      JSON.stringify(buildMessage({ event: 'granted' }, request, { upn: ALICE, audience: 'requester' }, T0))
        .length,
    ).toBeLessThan(64 * 1024);
  });

  it.each([
    ['not JSON', '{"schema":'],
    ['not a notification', { hello: 'world' }],
    ['a version this sender does not read', { schema: 'zsa.notification', version: 2 }],
  ])('a message that is %s is undeliverable', (_name, body) => {
    // Act / Assess
    expect(() => parseNotification(body)).toThrow(UndeliverableNotification);
  });

  it('a message with an unknown field, an unknown event or a script link is undeliverable', () => {
    // Prepare
    const good = buildMessage(
      { event: 'approvalNeeded', decisionUrl: LINK, generation: 1 },
      aRequest(),
      { upn: BOB, audience: 'approver' },
      T0,
    );

    // Act / Assess
    expect(parseNotification(JSON.stringify(good))).toEqual(good);
    expect(() => parseNotification({ ...good, extra: 1 })).toThrow(UndeliverableNotification);
    expect(() => parseNotification({ ...good, event: 'exploded' })).toThrow(UndeliverableNotification);
    expect(() => parseNotification({ ...good, decisionUrl: 'javascript:alert(1)' })).toThrow(
      UndeliverableNotification,
    );
  });

  it('notify accepts only the events the orchestration sends', () => {
    // Act / Assess
    expect(NotifyInput.safeParse({ requestId: 'req-1', event: 'granted' }).success).toBe(true);
    expect(NotifyInput.safeParse({ requestId: 'req-1', event: 'expiringSoon' }).success).toBe(false);
    expect(NotifyInput.safeParse({ requestId: 'req/1', event: 'granted' }).success).toBe(false);
  });
});

describe('when the expiring-soon notice goes out', () => {
  const approved = aRequest({ status: 'approved' }); // expires 4 h after T0 + 10 min
  const expiresAt = Date.parse(approved.expiresAt ?? '');
  it.each([
    ['15 minutes before the end of a 4-hour grant', approved, 15, T0, new Date(expiresAt - 15 * 60_000)],
    ['never for a grant shorter than the notice', approved, 5 * 60, T0, undefined],
    ['never once the notice time has passed', approved, 15, new Date(expiresAt - 60_000), undefined],
    ['never for a request that is not a live grant', aRequest({ status: 'revoked' }), 15, T0, undefined],
  ])('%s', (_name, request, minutes, now, expected) => {
    // Act / Assess
    expect(expiryNoticeAt(request, minutes * 60_000, now)).toEqual(expected);
  });
});
