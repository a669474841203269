import { describe, expect, it } from 'vitest';
import {
  buildMessage,
  MAX_SUMMARY_TASKS,
  MAX_SUMMARY_VALUE,
  messageId,
  NotificationMessage,
  recipientKey,
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
  GROUP,
  GROUP_MEMBERS,
  MALLORY,
  T0,
  aRequest,
  idOf,
  inGroup,
  iso,
  memberOf,
  minutesAfterT0,
} from '../domain/builders';
import type { Member } from '#shared/domain/pam';
import type { Extension, Request } from '#shared/domain/request';
import type { GroupMembers } from '#shared/domain/stages';

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
    {
      name: 'agent requested → its sponsor, while it waits',
      event: 'agentRequested',
      request: aRequest({ agent: { mode: 'ownIdentity', appId: 'agent-1', name: null, sponsor: CAROL } }),
      members: [...GROUP_MEMBERS],
      expected: [`requester:${CAROL}`],
    },
    {
      name: 'agent requested → nobody for an agent acting for its user (no sponsor)',
      event: 'agentRequested',
      request: aRequest({ agent: { mode: 'onBehalfOf', appId: 'agent-1', name: null, sponsor: null } }),
      members: [...GROUP_MEMBERS],
      expected: [],
    },
    {
      name: 'agent requested → nobody once decided',
      event: 'agentRequested',
      request: aRequest({
        status: 'approved',
        agent: { mode: 'ownIdentity', appId: 'agent-1', name: null, sponsor: CAROL },
      }),
      members: [...GROUP_MEMBERS],
      expected: [],
    },
  ];
  it.each(scenarios)('$name', ({ event, request, members, expected }) => {
    // Act
    const recipients = recipientsFor(event, request, inGroup(members));

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

// --- Stages, extensions, counted and scheduled grants ----------------------------------------

const SECOND = 'security-approvers';
const DAVE = 'dave@contoso.com';
/** Stage 1: GROUP (Bob, Carol, Erin); stage 2: SECOND (Carol, Dave, Mallory). */
const STAGED_MEMBERS: GroupMembers = new Map([
  [GROUP, [BOB, CAROL, ERIN].map(memberOf)],
  [SECOND, [CAROL, DAVE, MALLORY].map(memberOf)],
]);

function decision(
  upn: string,
  stage: number,
  d: 'approve' | 'deny' = 'approve',
): Request['approvals'][number] {
  return {
    approver: upn,
    approverId: idOf(upn),
    decision: d,
    comment: null,
    at: iso(minutesAfterT0(5)),
    stage,
  };
}

function staged(overrides: Partial<Request> = {}): Request {
  return aRequest({
    stages: [
      { approverGroup: GROUP, requiredApprovals: 1 },
      { approverGroup: SECOND, requiredApprovals: 1 },
    ],
    requiredApprovals: 2,
    ...overrides,
  });
}

function anExtension(overrides: Partial<Extension> = {}): Extension {
  return {
    id: '1',
    hours: 2,
    reason: 'The migration overran',
    status: 'pending',
    approvals: [],
    createdAt: iso(minutesAfterT0(60)),
    pendingUntil: iso(minutesAfterT0(250)),
    decidedAt: null,
    ...overrides,
  };
}

/** Alice's single-stage grant, live, with extension 1 (pending unless overridden). */
function extended(extension: Partial<Extension> = {}, overrides: Partial<Request> = {}): Request {
  return aRequest({
    status: 'approved',
    maxExtensions: 2,
    extensions: [anExtension(extension)],
    ...overrides,
  });
}

describe('who hears of what, stage by stage', () => {
  const scenarios: {
    name: string;
    event: NotificationEvent;
    request: Request;
    about?: Parameters<typeof recipientsFor>[3];
    expected: string[];
  }[] = [
    {
      name: 'approval needed, stage 1 → its group only',
      event: 'approvalNeeded',
      request: staged(),
      about: { stage: 0 },
      expected: [`approver:${BOB}`, `approver:${CAROL}`, `approver:${ERIN}`],
    },
    {
      name: 'approval needed, stage 2 while stage 1 is open → nobody yet',
      event: 'approvalNeeded',
      request: staged(),
      about: { stage: 1 },
      expected: [],
    },
    {
      name: 'approval needed, stage 2 once open → its group, not the requester, not who decided in stage 1',
      event: 'approvalNeeded',
      request: staged({ approvals: [decision(CAROL, 0)] }),
      about: { stage: 1 },
      expected: [`approver:${DAVE}`, `approver:${MALLORY}`],
    },
    {
      name: 'approval needed, stage 1 after it was approved → nobody (over)',
      event: 'approvalNeeded',
      request: staged({ approvals: [decision(BOB, 0)] }),
      about: { stage: 0 },
      expected: [],
    },
    {
      name: 'approved → the requester and the last stage’s approvers who did not decide',
      event: 'approved',
      request: staged({
        status: 'approved',
        approvals: [decision(BOB, 0), decision(DAVE, 1)],
        decidedAt: iso(minutesAfterT0(5)),
        grantedAt: iso(minutesAfterT0(5)),
        expiresAt: iso(minutesAfterT0(245)),
      }),
      expected: [`requester:${ALICE}`, `approver:${CAROL}`, `approver:${MALLORY}`],
    },
    {
      name: 'denied in stage 2 → the requester and the other approvers of stage 2',
      event: 'denied',
      request: staged({
        status: 'denied',
        approvals: [decision(BOB, 0), decision(MALLORY, 1, 'deny')],
        decidedAt: iso(minutesAfterT0(5)),
        endedAt: iso(minutesAfterT0(5)),
      }),
      expected: [`requester:${ALICE}`, `approver:${CAROL}`, `approver:${DAVE}`],
    },
    {
      name: 'failed → the requester and every member of every stage, once each',
      event: 'failed',
      request: staged({ status: 'failed', endedAt: iso(minutesAfterT0(1)), endReason: 'fault' }),
      expected: [
        `requester:${ALICE}`,
        `approver:${BOB}`,
        `approver:${CAROL}`,
        `approver:${ERIN}`,
        `approver:${DAVE}`,
        `approver:${MALLORY}`,
      ],
    },
    {
      name: 'extension requested, stage 1 → its group',
      event: 'extensionRequested',
      request: extended(),
      about: { stage: 0, extension: anExtension() },
      expected: [`approver:${BOB}`, `approver:${CAROL}`, `approver:${ERIN}`],
    },
    {
      name: 'extension requested → not the approvers who already decided on that extension',
      event: 'extensionRequested',
      // Two approvals needed: Bob's leaves the stage open.
      request: extended({}, { requiredApprovals: 2 }),
      about: {
        stage: 0,
        extension: anExtension({ approvals: [decision(BOB, 0)] }),
      },
      expected: [`approver:${CAROL}`, `approver:${ERIN}`],
    },
    {
      name: 'extension requested, an extension no longer pending → nobody',
      event: 'extensionRequested',
      request: extended({ status: 'canceled' }),
      about: { stage: 0, extension: anExtension({ status: 'canceled' }) },
      expected: [],
    },
    ...(
      ['extensionApproved', 'extensionDenied', 'extensionExpired', 'extensionCanceled', 'started'] as const
    ).map((event) => ({
      name: `${event} → the requester`,
      event,
      request: extended(),
      about: { extension: anExtension() },
      expected: [`requester:${ALICE}`],
    })),
  ];
  it.each(scenarios)('$name', ({ event, request, about, expected }) => {
    // Act
    const recipients = recipientsFor(event, request, STAGED_MEMBERS, about);

    // Assess
    expect(recipients.map((r) => `${r.audience}:${r.upn}`)).toEqual(expected);
  });
});

describe('messages of stages, extensions, counted and scheduled grants', () => {
  /** The summary's fields in version 1, before stages, uses, starts and extensions. */
  const V1_SUMMARY_KEYS = [
    'approvalType',
    'approvals',
    'createdAt',
    'decidedAt',
    'durationHours',
    'endReason',
    'endedAt',
    'endedBy',
    'expiresAt',
    'grantedAt',
    'id',
    'parameters',
    'pendingUntil',
    'reason',
    'requester',
    'requiredApprovals',
    'status',
    'target',
    'taskCount',
    'tasks',
    'ticket',
  ];

  it('a single-stage request’s messages are exactly what version 1 wrote (no new field, approvals untagged)', () => {
    // Prepare: decided after stages existed, so its approval carries `stage: 0` in the row
    const request = aRequest({ status: 'approved', approvals: [decision(BOB, 0)] });

    // Act
    const message = buildMessage({ event: 'approved' }, request, { upn: ALICE, audience: 'requester' }, T0);

    // Assess
    expect(Object.keys(message.request).sort()).toEqual(V1_SUMMARY_KEYS);
    expect(Object.keys(message).sort()).toEqual([
      'audience',
      'event',
      'id',
      'occurredAt',
      'recipient',
      'request',
      'requestId',
      'schema',
      'version',
    ]);
    expect(message.request.approvals).toEqual([
      {
        approver: BOB,
        approverId: idOf(BOB),
        decision: 'approve',
        comment: null,
        at: iso(minutesAfterT0(5)),
      },
    ]);
    expect(message.version).toBe(1);
  });

  it('a later stage’s link message says its stage, carries every stage, and has an id of its own', () => {
    // Prepare
    const request = staged({ approvals: [decision(BOB, 0)] });
    const to = { upn: DAVE, audience: 'approver' as const };

    // Act
    const second = buildMessage(
      { event: 'approvalNeeded', decisionUrl: LINK, generation: 1, stage: 1 },
      request,
      to,
      T0,
    );
    const first = buildMessage(
      { event: 'approvalNeeded', decisionUrl: LINK, generation: 1, stage: 0 },
      request,
      to,
      T0,
    );

    // Assess
    expect(NotificationMessage.parse(second)).toEqual(second);
    expect(second).toMatchObject({
      stage: 1,
      request: { stages: [{ status: 'approved' }, { status: 'open' }] },
    });
    expect(second.request.approvals[0]?.stage).toBe(0);
    expect(second.id).toBe(`req-1:approvalNeeded:s1:${recipientKey(DAVE)}:1`);
    expect(first.id).toBe(`req-1:approvalNeeded:${recipientKey(DAVE)}:1`);
  });

  it('extension messages carry the extension and ids scoped to it', () => {
    // Prepare
    const request = extended();
    const extension = anExtension();

    // Act
    const asked = buildMessage(
      { event: 'extensionRequested', decisionUrl: LINK, generation: 2, stage: 0, extension },
      request,
      { upn: BOB, audience: 'approver' },
      T0,
    );
    const approved = buildMessage(
      { event: 'extensionApproved', extension: { ...extension, status: 'approved' } },
      request,
      { upn: ALICE, audience: 'requester' },
      T0,
    );

    // Assess
    expect(NotificationMessage.parse(asked)).toEqual(asked);
    expect(NotificationMessage.parse(approved)).toEqual(approved);
    expect(asked.id).toBe(`req-1:extensionRequested:x1:${recipientKey(BOB)}:2`);
    expect(approved.id).toBe(`req-1:extensionApproved:x1:${recipientKey(ALICE)}`);
    expect(asked).toMatchObject({
      stage: 0,
      extension: { id: '1', hours: 2, reason: 'The migration overran' },
    });
  });

  it('counted and scheduled grants carry their uses and start', () => {
    // Prepare
    const request = aRequest({ maxUses: 3, uses: 1, startAt: iso(minutesAfterT0(120)) });

    // Act
    const summary = summarize(request);

    // Assess
    expect(summary).toMatchObject({ maxUses: 3, uses: 1, startAt: iso(minutesAfterT0(120)) });
  });

  it('the worst case (five stages, every comment and reason at its maximum) stays far below Service Bus’s limit', () => {
    // Prepare
    const groups = ['g-a', 'g-b', 'g-c', 'g-d', 'g-e'];
    const long = 'x'.repeat(1000);
    const approvals = Array.from({ length: 20 }, (_, i) => ({
      ...decision(`approver-${i}@contoso.com`, Math.floor(i / 4)),
      comment: long,
    }));
    const request = aRequest({
      stages: groups.map((approverGroup) => ({ approverGroup, requiredApprovals: 4 })),
      requiredApprovals: 20,
      approvals,
      status: 'approved',
      decidedAt: iso(minutesAfterT0(5)),
      grantedAt: iso(minutesAfterT0(5)),
      expiresAt: iso(minutesAfterT0(245)),
      maxExtensions: 10,
      extensions: [anExtension({ reason: long, approvals, status: 'approved' })],
      reason: long,
      parameters: { Mailbox: 'x'.repeat(8000) },
    });

    // Act
    const message = buildMessage(
      { event: 'extensionApproved', extension: request.extensions[0] ?? anExtension() },
      request,
      { upn: ALICE, audience: 'requester' },
      T0,
    );

    // Assess
    expect(NotificationMessage.parse(message)).toEqual(message);
    expect(JSON.stringify(message).length).toBeLessThan(64 * 1024);
  });

  it('notify takes the stage and the extension the orchestration names', () => {
    // Act / Assess
    expect(NotifyInput.safeParse({ requestId: 'req-1', event: 'approvalNeeded', stage: 1 }).success).toBe(
      true,
    );
    expect(
      NotifyInput.safeParse({ requestId: 'req-1', event: 'extensionRequested', stage: 0, extensionId: '3' })
        .success,
    ).toBe(true);
    expect(NotifyInput.safeParse({ requestId: 'req-1', event: 'approvalNeeded', stage: 5 }).success).toBe(
      false,
    );
    expect(
      NotifyInput.safeParse({ requestId: 'req-1', event: 'extensionApproved', extensionId: '0' }).success,
    ).toBe(false);
  });
});
