import { describe, expect, it } from 'vitest';
import { type ErrorCode, isDomainError } from '#shared/domain/errors';
import {
  applyDecision,
  cancel,
  coverageRefusal,
  decisionRefusal,
  canView,
  cancelTransition,
  decideTransition,
  type DecisionInput,
  end,
  expire,
  fail,
  isApprovableBy,
  isAwaitingDecision,
  isFinal,
  isGranted,
  isLive,
  isScheduled,
  ListRequestsQuery,
  planRequest,
  type PlanSettings,
  Request,
  RequestStatus,
  RequestView,
  requireCoveringGrant,
  revoke,
  revokeTransition,
  START_LEEWAY_MS,
  SubmitRequestBody,
  type SubmitRequestInput,
  tally,
  toRequestView,
} from '#shared/domain/request';
import { effectiveTasks } from '#shared/domain/catalog';
import type { Member } from '#shared/domain/pam';
import {
  aCatalog,
  ADMIN,
  ALICE,
  anActor,
  aPolicy,
  aRequest,
  aTask,
  AUDITOR,
  BOB,
  CAROL,
  ERIN,
  GROUP,
  GROUP_MEMBERS,
  hoursAfterT0,
  inGroup,
  MEMBERS,
  idOf,
  iso,
  MAILBOX,
  MALLORY,
  minutesAfterT0,
  memberOf,
  MOVE,
  T0,
  who,
} from './builders';

/** Runs `act` and returns the DomainError code it threw (fails the test if it did not throw one). */
function messageOf(act: () => unknown): string {
  try {
    act();
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  return 'no refusal';
}

function codeOf(act: () => unknown): ErrorCode {
  try {
    act();
  } catch (error) {
    if (isDomainError(error)) return error.code;
    throw error;
  }
  throw new Error('expected a DomainError, but nothing was thrown');
}

const settings: PlanSettings = { minDurationSeconds: 60, defaultApproverGroup: 'default-approvers' };

function submit(input: SubmitRequestInput) {
  return SubmitRequestBody.parse(input);
}

function plan(body: SubmitRequestInput, policy = aPolicy(), options: Partial<PlanSettings> = {}) {
  const parsed = submit(body);
  const catalog = aCatalog();
  const target =
    parsed.task !== undefined
      ? ({ scope: 'task', name: parsed.task } as const)
      : parsed.role !== undefined
        ? ({ scope: 'role', name: parsed.role } as const)
        : ({ scope: 'roleGroup', name: parsed.roleGroup ?? '' } as const);
  return planRequest(
    {
      id: 'req-1',
      requester: 'Alice@Contoso.com',
      requesterId: idOf(ALICE),
      body: parsed,
      tasks: effectiveTasks(target, catalog),
    },
    policy,
    { ...settings, ...options },
    T0,
  );
}

describe('request statuses', () => {
  it('has exactly the eight statuses of the contract, six of them final', () => {
    // Prepare
    const all = Object.values(RequestStatus);

    // Act
    const final = all.filter(isFinal);

    // Assess
    expect(all).toEqual([
      'pending',
      'approved',
      'denied',
      'canceled',
      'expired',
      'ended',
      'revoked',
      'failed',
    ]);
    expect(final).toEqual(['denied', 'canceled', 'expired', 'ended', 'revoked', 'failed']);
  });

  it.each([
    { name: 'approved, one ms before expiresAt → live', status: 'approved', at: -1, live: true },
    {
      name: 'approved, at expiresAt exactly → not live (deadline is exclusive)',
      status: 'approved',
      at: 0,
      live: false,
    },
    {
      name: 'approved, after expiresAt but not yet ended by the timer → not live',
      status: 'approved',
      at: 60_000,
      live: false,
    },
    { name: 'revoked before expiresAt → not live', status: 'revoked', at: -60_000, live: false },
    { name: 'pending → not live', status: 'pending', at: -60_000, live: false },
  ] as const)('$name', ({ status, at, live }) => {
    // Prepare
    const request = aRequest({ status });
    const expiresAt = Date.parse(aRequest({ status: 'approved' }).expiresAt ?? '');

    // Act
    const result = isLive(request, new Date(expiresAt + at));

    // Assess
    expect(result).toBe(live);
  });

  it('a pending request awaits a decision until pendingUntil, exclusive', () => {
    // Prepare
    const request = aRequest({ status: 'pending' });

    // Act / Assess
    expect(isAwaitingDecision(request, new Date(hoursAfterT0(24).getTime() - 1))).toBe(true);
    expect(isAwaitingDecision(request, hoursAfterT0(24))).toBe(false);
  });
});

describe('submit body', () => {
  it.each([
    { name: 'no target → refused', body: { reason: 'r' } },
    { name: 'task and role together → refused', body: { task: MOVE, role: 'Mailbox Operator', reason: 'r' } },
    { name: 'blank reason → refused', body: { task: MOVE, reason: '   ' } },
    { name: 'reason over 1000 characters → refused', body: { task: MOVE, reason: 'x'.repeat(1001) } },
    {
      name: 'ticket over 128 characters → refused',
      body: { task: MOVE, reason: 'r', ticket: 'T'.repeat(129) },
    },
    { name: 'zero duration → refused', body: { task: MOVE, reason: 'r', durationHours: 0 } },
    { name: 'negative duration → refused', body: { task: MOVE, reason: 'r', durationHours: -1 } },
    { name: 'duration as a string → refused', body: { task: MOVE, reason: 'r', durationHours: '4' } },
    {
      name: 'parameter value that is an object → refused',
      body: { task: MOVE, reason: 'r', parameters: { a: {} } },
    },
    {
      name: 'clientRequestId over 128 → refused',
      body: { task: MOVE, reason: 'r', clientRequestId: 'c'.repeat(129) },
    },
    { name: 'unknown field → refused', body: { task: MOVE, reason: 'r', approver: BOB } },
  ])('$name', ({ body }) => {
    // Act
    const result = SubmitRequestBody.safeParse(body);

    // Assess
    expect(result.success).toBe(false);
  });

  it('defaults the duration to 4 hours and keeps decimal hours', () => {
    // Act
    const defaulted = submit({ task: MOVE, reason: 'r' });
    const half = submit({ task: MOVE, reason: 'r', durationHours: 0.5 });

    // Assess
    expect(defaulted.durationHours).toBe(4);
    expect(half.durationHours).toBe(0.5);
  });

  it('names the unknown field in its message', () => {
    // Act
    const result = SubmitRequestBody.safeParse({ task: MOVE, reason: 'r', approver: BOB });

    // Assess
    expect(result.error?.issues[0]?.message).toContain('approver');
  });
});

describe('planRequest', () => {
  it('manual policy → a pending request with the policy snapshotted and the deadline set', () => {
    // Act
    const request = plan(
      { task: MOVE, reason: 'INC-42', ticket: 'INC-42', durationHours: 2 },
      aPolicy({ requiredApprovals: 2 }),
    );

    // Assess
    expect(request).toMatchObject({
      requester: ALICE,
      task: MOVE,
      tasks: [MOVE],
      status: 'pending',
      approvalType: 'manual',
      approverGroup: GROUP,
      requiredApprovals: 2,
      policyId: 'policy-move',
      createdAt: iso(T0),
      pendingUntil: iso(hoursAfterT0(24)),
      decidedAt: null,
      grantedAt: null,
      expiresAt: null,
      endedAt: null,
    });
    expect(Request.safeParse(request).success).toBe(true);
  });

  it('auto policy → approved at once, the grant running durationHours from now', () => {
    // Act
    const request = plan({ task: MOVE, reason: 'r', durationHours: 1.5 }, aPolicy({ approvalType: 'auto' }));

    // Assess
    expect(request).toMatchObject({
      status: 'approved',
      requiredApprovals: 0,
      decidedAt: iso(T0),
      grantedAt: iso(T0),
      expiresAt: iso(minutesAfterT0(90)),
    });
    expect(isLive(request, T0)).toBe(true);
  });

  it('policy without a group → the default approver group', () => {
    // Act
    const request = plan({ task: MOVE, reason: 'r' }, aPolicy({ approverGroup: undefined }));

    // Assess
    expect(request.approverGroup).toBe('default-approvers');
  });

  it('role request → the role and its effective tasks', () => {
    // Act
    const request = plan(
      { role: 'Mailbox Operator', reason: 'r' },
      aPolicy({ scope: 'role', target: 'Mailbox Operator' }),
    );

    // Assess
    expect(request.role).toBe('Mailbox Operator');
    expect(request.task).toBeUndefined();
    expect(request.tasks).toEqual([MOVE, MAILBOX]);
  });

  it.each<{
    name: string;
    body: SubmitRequestInput;
    policy?: Parameters<typeof aPolicy>[0];
    options?: Partial<PlanSettings>;
    code: ErrorCode;
  }>([
    {
      name: 'duration over policy max → DURATION_TOO_LONG',
      body: { task: MOVE, reason: 'r', durationHours: 8.01 },
      policy: { maxDurationHours: 8 },
      code: 'DURATION_TOO_LONG',
    },
    {
      name: 'duration under the minimum seconds → DURATION_TOO_SHORT',
      body: { task: MOVE, reason: 'r', durationHours: 0.01 },
      code: 'DURATION_TOO_SHORT',
    },
    {
      name: 'manual policy, no group anywhere → NO_APPROVER_GROUP',
      body: { task: MOVE, reason: 'r' },
      policy: { approverGroup: undefined },
      options: { defaultApproverGroup: null },
      code: 'NO_APPROVER_GROUP',
    },
    {
      name: 'parameters on a role request → INVALID_PARAMETERS',
      body: { role: 'Mailbox Operator', reason: 'r', parameters: { Identity: 'ceo' } },
      policy: { scope: 'role', target: 'Mailbox Operator' },
      code: 'INVALID_PARAMETERS',
    },
    {
      name: 'parameters the task does not take → INVALID_PARAMETERS',
      body: { task: MOVE, reason: 'r', parameters: { Identity: 'ceo' } },
      code: 'INVALID_PARAMETERS',
    },
  ])('$name', ({ body, policy, options, code }) => {
    // Act / Assess
    expect(codeOf(() => plan(body, aPolicy(policy), options))).toBe(code);
  });

  it('duration exactly at the policy max and exactly at the minimum → accepted', () => {
    // Act / Assess
    expect(
      plan({ task: MOVE, reason: 'r', durationHours: 8 }, aPolicy({ maxDurationHours: 8 })).durationHours,
    ).toBe(8);
    expect(plan({ task: MOVE, reason: 'r', durationHours: 60 / 3600 }).durationHours).toBe(60 / 3600);
  });

  it('auto policy without any group → approved, no group needed', () => {
    // Act
    const request = plan(
      { task: MOVE, reason: 'r' },
      aPolicy({ approvalType: 'auto', approverGroup: undefined }),
      {
        defaultApproverGroup: null,
      },
    );

    // Assess
    expect(request.status).toBe('approved');
    expect(request.approverGroup).toBeNull();
  });

  it('parameters that fit the task → pinned on the request', () => {
    // Prepare
    const task = aTask({ parameters: [{ name: 'Identity', type: 'string', required: true }] });
    const body = submit({ task: MOVE, reason: 'r', parameters: { Identity: 'ceo@contoso.com' } });

    // Act
    const request = planRequest(
      { id: 'req-1', requester: ALICE, requesterId: idOf(ALICE), body, tasks: [task] },
      aPolicy(),
      settings,
      T0,
    );

    // Assess
    expect(request.parameters).toEqual({ Identity: 'ceo@contoso.com' });
  });
});

describe('decisions', () => {
  const decide = (input: DecisionInput, request = aRequest(), at = minutesAfterT0(30)) =>
    applyDecision(request, input, MEMBERS, at);

  it.each<{
    name: string;
    request: Request;
    input: DecisionInput;
    at?: Date;
    members?: readonly Member[];
    code: ErrorCode;
  }>([
    {
      name: 'requester approves own request → refused',
      request: aRequest(),
      input: { approver: who(ALICE), decision: 'approve' },
      members: [...GROUP_MEMBERS, memberOf(ALICE)],
      code: 'SELF_APPROVAL',
    },
    {
      name: 'requester approves own request under a new UPN (renamed) → refused, by key',
      request: aRequest(),
      input: { approver: { id: idOf(ALICE), upn: 'alice.new@contoso.com' }, decision: 'approve' },
      members: [...GROUP_MEMBERS, memberOf(ALICE)],
      code: 'SELF_APPROVAL',
    },
    {
      name: 'a stranger whose token names a member (same UPN, another key) approves → refused',
      request: aRequest(),
      input: { approver: { id: 'tid:stranger', upn: BOB }, decision: 'approve' },
      code: 'NOT_AN_APPROVER',
    },
    {
      name: 'a member saved before members were keyed (no key yet) approves → refused until migrated',
      request: aRequest(),
      input: { approver: who(BOB), decision: 'approve' },
      members: [{ upn: BOB, id: null }, memberOf(CAROL)],
      code: 'NOT_AN_APPROVER',
    },
    {
      name: 'approver decides twice, under a new UPN the second time → refused, by key',
      request: aRequest({
        requiredApprovals: 2,
        approvals: [
          {
            approver: BOB,
            approverId: idOf(BOB),
            decision: 'approve',
            comment: null,
            at: iso(minutesAfterT0(1)),
          },
        ],
      }),
      input: { approver: { id: idOf(BOB), upn: 'bob.new@contoso.com' }, decision: 'approve' },
      code: 'ALREADY_DECIDED',
    },
    {
      name: 'requester denies own request → refused',
      request: aRequest(),
      input: { approver: who(ALICE), decision: 'deny' },
      members: [...GROUP_MEMBERS, memberOf(ALICE)],
      code: 'SELF_APPROVAL',
    },
    {
      name: 'non-member approves → refused',
      request: aRequest(),
      input: { approver: who(MALLORY), decision: 'approve' },
      code: 'NOT_AN_APPROVER',
    },
    {
      name: 'admin who is not a member approves → refused',
      request: aRequest(),
      input: { approver: who(ADMIN), decision: 'approve' },
      code: 'NOT_AN_APPROVER',
    },
    {
      name: 'approver decides twice → refused',
      request: aRequest({
        requiredApprovals: 2,
        approvals: [{ approver: BOB, decision: 'approve', comment: null, at: iso(minutesAfterT0(1)) }],
      }),
      input: { approver: who(BOB), decision: 'approve' },
      code: 'ALREADY_DECIDED',
    },
    {
      name: 'approver changes their mind to deny → refused',
      request: aRequest({
        requiredApprovals: 2,
        approvals: [{ approver: BOB, decision: 'approve', comment: null, at: iso(minutesAfterT0(1)) }],
      }),
      input: { approver: who(BOB), decision: 'deny' },
      code: 'ALREADY_DECIDED',
    },
    {
      name: 'approval of an approved request → not pending',
      request: aRequest({ status: 'approved' }),
      input: { approver: who(CAROL), decision: 'approve' },
      code: 'REQUEST_NOT_PENDING',
    },
    {
      name: 'denial after the request was approved → not pending',
      request: aRequest({ status: 'approved' }),
      input: { approver: who(CAROL), decision: 'deny' },
      code: 'REQUEST_NOT_PENDING',
    },
    {
      name: 'approval of a canceled request → not pending',
      request: aRequest({ status: 'canceled' }),
      input: { approver: who(BOB), decision: 'approve' },
      code: 'REQUEST_NOT_PENDING',
    },
    {
      name: 'late approval after pendingUntil → refused',
      request: aRequest(),
      input: { approver: who(BOB), decision: 'approve' },
      at: hoursAfterT0(25),
      code: 'REQUEST_NOT_PENDING',
    },
    {
      name: 'approval at pendingUntil exactly → refused',
      request: aRequest(),
      input: { approver: who(BOB), decision: 'approve' },
      at: hoursAfterT0(24),
      code: 'REQUEST_NOT_PENDING',
    },
    {
      name: 'approval of a request with no approver group → refused',
      request: aRequest({ approverGroup: null }),
      input: { approver: who(BOB), decision: 'approve' },
      code: 'NOT_AN_APPROVER',
    },
  ])('$name', ({ request, input, at, members, code }) => {
    // Act / Assess
    expect(
      codeOf(() =>
        applyDecision(request, input, inGroup(members ?? GROUP_MEMBERS), at ?? minutesAfterT0(30)),
      ),
    ).toBe(code);
  });

  it('single approval of a 1-of-N policy → approved, the grant starting at the decision', () => {
    // Act
    const { outcome, request } = decide({ approver: who(BOB), decision: 'approve', comment: ' ok ' });

    // Assess
    expect(outcome).toBe('approved');
    expect(request).toMatchObject({
      status: 'approved',
      decidedAt: iso(minutesAfterT0(30)),
      grantedAt: iso(minutesAfterT0(30)),
      expiresAt: iso(minutesAfterT0(30 + 4 * 60)),
      approvals: [{ approver: BOB, decision: 'approve', comment: 'ok', at: iso(minutesAfterT0(30)) }],
    });
    expect(Request.safeParse(request).success).toBe(true);
  });

  it('first approval of a 2-of-N policy → recorded, still pending', () => {
    // Act
    const { outcome, request } = decide(
      { approver: who(BOB), decision: 'approve' },
      aRequest({ requiredApprovals: 2 }),
    );

    // Assess
    expect(outcome).toBe('recorded');
    expect(request.status).toBe('pending');
    expect(request.approvals).toHaveLength(1);
    expect(request.grantedAt).toBeNull();
  });

  it('second approval of a 2-of-N policy → approved', () => {
    // Prepare
    const first = decide(
      { approver: who(BOB), decision: 'approve' },
      aRequest({ requiredApprovals: 2 }),
      minutesAfterT0(5),
    );

    // Act
    const second = decide({ approver: who(CAROL), decision: 'approve' }, first.request, minutesAfterT0(20));

    // Assess
    expect(second.outcome).toBe('approved');
    expect(second.request.grantedAt).toBe(iso(minutesAfterT0(20)));
    expect(second.request.approvals.map((a) => a.approver)).toEqual([BOB, CAROL]);
  });

  it('denial after one approval of 2 → denied', () => {
    // Prepare
    const first = decide(
      { approver: who(BOB), decision: 'approve' },
      aRequest({ requiredApprovals: 2 }),
      minutesAfterT0(5),
    );

    // Act
    const second = decide(
      { approver: who(CAROL), decision: 'deny', comment: 'no change window' },
      first.request,
    );

    // Assess
    expect(second.outcome).toBe('denied');
    expect(second.request).toMatchObject({
      status: 'denied',
      decidedAt: iso(minutesAfterT0(30)),
      endedAt: iso(minutesAfterT0(30)),
      grantedAt: null,
      expiresAt: null,
    });
  });

  it('first denial of a 1-of-N policy → denied', () => {
    // Act
    const { outcome } = decide({ approver: who(ERIN), decision: 'deny' });

    // Assess
    expect(outcome).toBe('denied');
  });

  it('empty comment is stored as no comment', () => {
    // Act
    const { request } = decide({ approver: who(BOB), decision: 'approve', comment: '  ' });

    // Assess
    expect(request.approvals[0]?.comment).toBeNull();
  });

  it('the approver is recorded by key, and shown by the UPN lower-cased', () => {
    // Act
    const { outcome, request } = decide({
      approver: { id: idOf(BOB), upn: 'BOB@Contoso.com' },
      decision: 'approve',
    });

    // Assess
    expect(outcome).toBe('approved');
    expect(request.approvals[0]).toMatchObject({ approver: BOB, approverId: idOf(BOB) });
  });

  it('isApprovableBy agrees with the refusals', () => {
    // Prepare
    const request = aRequest();

    // Act / Assess
    expect(isApprovableBy(request, who(BOB), MEMBERS, minutesAfterT0(1))).toBe(true);
    expect(
      isApprovableBy(request, who(ALICE), inGroup([...GROUP_MEMBERS, memberOf(ALICE)]), minutesAfterT0(1)),
    ).toBe(false);
    expect(isApprovableBy(request, who(MALLORY), MEMBERS, minutesAfterT0(1))).toBe(false);
    expect(isApprovableBy(request, who(BOB), MEMBERS, hoursAfterT0(24))).toBe(false);
  });
});

describe('tally', () => {
  const review = (approver: string, decision: 'approve' | 'deny') => ({
    approver,
    decision,
    comment: null,
    at: iso(T0),
  });

  it.each([
    { name: 'no reviews → pending', reviews: [], required: 1, state: 'pending' },
    {
      name: 'one approval of one → approved',
      reviews: [review(BOB, 'approve')],
      required: 1,
      state: 'approved',
    },
    {
      name: 'one approval of two → pending',
      reviews: [review(BOB, 'approve')],
      required: 2,
      state: 'pending',
    },
    {
      name: 'the same approver twice counts once',
      reviews: [review(BOB, 'approve'), review(BOB, 'approve')],
      required: 2,
      state: 'pending',
    },
    {
      name: 'denial beats enough approvals, by rule',
      reviews: [review(BOB, 'approve'), review(CAROL, 'approve'), review(ERIN, 'deny')],
      required: 2,
      state: 'denied',
    },
    {
      name: 'denial first, approvals after → still denied',
      reviews: [review(ERIN, 'deny'), review(BOB, 'approve')],
      required: 1,
      state: 'denied',
    },
  ] as const)('$name', ({ reviews, required, state }) => {
    // Act / Assess
    expect(tally(reviews, required)).toBe(state);
  });
});

describe('cancel', () => {
  it('requester cancels while pending → canceled, ended now, by the requester', () => {
    // Act
    const request = cancel(aRequest(), anActor(ALICE), minutesAfterT0(5));

    // Assess
    expect(request).toMatchObject({ status: 'canceled', endedAt: iso(minutesAfterT0(5)), endedBy: ALICE });
  });

  it.each<{ name: string; request: Request; actor: string; at?: Date; code: ErrorCode }>([
    { name: 'someone else cancels → refused', request: aRequest(), actor: BOB, code: 'NOT_REQUESTER' },
    {
      name: 'admin cancels someone else’s request → refused',
      request: aRequest(),
      actor: ADMIN,
      code: 'NOT_REQUESTER',
    },
    {
      name: 'requester cancels an approved request → not pending (revoke instead)',
      request: aRequest({ status: 'approved' }),
      actor: ALICE,
      code: 'REQUEST_NOT_PENDING',
    },
    {
      name: 'requester cancels after pendingUntil → not pending',
      request: aRequest(),
      actor: ALICE,
      at: hoursAfterT0(24),
      code: 'REQUEST_NOT_PENDING',
    },
    {
      name: 'requester cancels twice → not pending',
      request: aRequest({ status: 'canceled' }),
      actor: ALICE,
      code: 'REQUEST_NOT_PENDING',
    },
  ])('$name', ({ request, actor, at, code }) => {
    // Act / Assess
    expect(codeOf(() => cancel(request, anActor(actor), at ?? minutesAfterT0(5)))).toBe(code);
  });
});

describe('revoke', () => {
  const during = minutesAfterT0(60);

  it.each([
    { name: 'admin revokes → revoked', actor: anActor(ADMIN, { isAdmin: true }) },
    { name: 'requester ends own access early → revoked', actor: anActor(ALICE) },
    { name: 'a member of the approver group revokes → revoked', actor: anActor(CAROL) },
    {
      name: 'the approver who approved, since removed from the group, revokes → revoked',
      actor: anActor(BOB),
      members: [memberOf(CAROL)],
    },
  ])('$name', ({ actor, members }) => {
    // Act
    const request = revoke(
      aRequest({ status: 'approved' }),
      { actor, comment: 'done' },
      inGroup(members ?? GROUP_MEMBERS),
      during,
    );

    // Assess
    expect(request).toMatchObject({
      status: 'revoked',
      endedAt: iso(during),
      endedBy: actor.upn,
      endReason: 'done',
    });
    expect(isLive(request, during)).toBe(false);
  });

  it.each<{ name: string; request: Request; actor: ReturnType<typeof anActor>; at?: Date; code: ErrorCode }>([
    {
      name: 'outsider revokes → refused',
      request: aRequest({ status: 'approved' }),
      actor: anActor(MALLORY),
      code: 'REVOKE_NOT_ALLOWED',
    },
    {
      name: 'auditor revokes → refused (auditors change nothing)',
      request: aRequest({ status: 'approved' }),
      actor: anActor(AUDITOR, { isAuditor: true }),
      code: 'REVOKE_NOT_ALLOWED',
    },
    {
      name: 'whoever holds the UPN of an approval recorded before keys were kept, removed from the group → refused',
      request: aRequest({
        status: 'approved',
        approvals: [{ approver: MALLORY, decision: 'approve', comment: null, at: iso(minutesAfterT0(1)) }],
      }),
      actor: anActor(MALLORY),
      code: 'REVOKE_NOT_ALLOWED',
    },
    {
      name: 'revoke a pending request → not live',
      request: aRequest(),
      actor: anActor(ADMIN, { isAdmin: true }),
      code: 'REQUEST_NOT_LIVE',
    },
    {
      name: 'revoke twice → not live',
      request: aRequest({ status: 'revoked' }),
      actor: anActor(ADMIN, { isAdmin: true }),
      code: 'REQUEST_NOT_LIVE',
    },
    {
      name: 'revoke after expiresAt, before the end timer ran → not live',
      request: aRequest({ status: 'approved' }),
      actor: anActor(ALICE),
      at: hoursAfterT0(5),
      code: 'REQUEST_NOT_LIVE',
    },
  ])('$name', ({ request, actor, at, code }) => {
    // Act / Assess
    expect(codeOf(() => revoke(request, { actor }, MEMBERS, at ?? during))).toBe(code);
  });
});

describe('system transitions', () => {
  it('expire a pending request at its deadline → expired, endedAt = pendingUntil', () => {
    // Act
    const { outcome, request } = expire(aRequest(), hoursAfterT0(24.5));

    // Assess
    expect(outcome).toBe('expired');
    expect(request).toMatchObject({ status: 'expired', endedAt: iso(hoursAfterT0(24)) });
  });

  it('expire a request already approved → unchanged (the decision won the race)', () => {
    // Prepare
    const approved = aRequest({ status: 'approved' });

    // Act
    const { outcome, request } = expire(approved, hoursAfterT0(24));

    // Assess
    expect(outcome).toBe('unchanged');
    expect(request).toBe(approved);
  });

  it('expire before the deadline → NOT_YET_DUE', () => {
    // Act / Assess
    expect(codeOf(() => expire(aRequest(), hoursAfterT0(23)))).toBe('NOT_YET_DUE');
  });

  it('end an approved request at expiresAt → ended, endedAt = expiresAt', () => {
    // Prepare
    const approved = aRequest({ status: 'approved' });

    // Act
    const { outcome, request } = end(approved, hoursAfterT0(6));

    // Assess
    expect(outcome).toBe('ended');
    expect(request).toMatchObject({ status: 'ended', endedAt: approved.expiresAt });
  });

  it('end a revoked request → unchanged (the revoke won the race)', () => {
    // Act / Assess
    expect(end(aRequest({ status: 'revoked' }), hoursAfterT0(6)).outcome).toBe('unchanged');
  });

  it('end before expiresAt → NOT_YET_DUE', () => {
    // Act / Assess
    expect(codeOf(() => end(aRequest({ status: 'approved' }), minutesAfterT0(60)))).toBe('NOT_YET_DUE');
  });

  it.each(['pending', 'approved'] as const)('fail a %s request → failed, reason kept', (status) => {
    // Act
    const { outcome, request } = fail(aRequest({ status }), 'activity crashed', minutesAfterT0(15));

    // Assess
    expect(outcome).toBe('failed');
    expect(request).toMatchObject({
      status: 'failed',
      endedAt: iso(minutesAfterT0(15)),
      endReason: 'activity crashed',
    });
  });

  it.each(['denied', 'canceled', 'expired', 'ended', 'revoked', 'failed'] as const)(
    'fail a %s request → unchanged',
    (status) => {
      // Act / Assess
      expect(fail(aRequest({ status }), 'late fault', hoursAfterT0(30)).outcome).toBe('unchanged');
    },
  );
});

describe('invariants over whole stories', () => {
  // Each story drives a request from submission through the transitions a user or the system
  // would apply; after every step the request must still parse and endedAt must be set exactly
  // when the status is final.
  const stories: { name: string; steps: ((r: Request) => Request)[]; final: RequestStatus }[] = [
    {
      name: 'approve then end',
      steps: [
        (r) =>
          applyDecision(r, { approver: who(BOB), decision: 'approve' }, MEMBERS, minutesAfterT0(1)).request,
        (r) => end(r, hoursAfterT0(6)).request,
      ],
      final: 'ended',
    },
    {
      name: 'approve then revoke',
      steps: [
        (r) =>
          applyDecision(r, { approver: who(BOB), decision: 'approve' }, MEMBERS, minutesAfterT0(1)).request,
        (r) => revoke(r, { actor: anActor(ALICE) }, MEMBERS, minutesAfterT0(2)),
      ],
      final: 'revoked',
    },
    {
      name: 'deny',
      steps: [
        (r) => applyDecision(r, { approver: who(BOB), decision: 'deny' }, MEMBERS, minutesAfterT0(1)).request,
      ],
      final: 'denied',
    },
    { name: 'cancel', steps: [(r) => cancel(r, anActor(ALICE), minutesAfterT0(1))], final: 'canceled' },
    { name: 'expire', steps: [(r) => expire(r, hoursAfterT0(24)).request], final: 'expired' },
  ];

  it.each(stories)('$name', ({ steps, final }) => {
    // Prepare
    let request = plan({ task: MOVE, reason: 'r' });

    // Act
    for (const step of steps) {
      request = step(request);
      // Assess (every step)
      expect(Request.safeParse(request).success).toBe(true);
      expect(request.endedAt !== null).toBe(isFinal(request.status));
    }

    // Assess
    expect(request.status).toBe(final);
  });
});

describe('visibility', () => {
  it.each([
    { name: 'requester sees it', actor: anActor(ALICE), visible: true },
    { name: 'an approver of its group sees it', actor: anActor(ERIN), visible: true },
    { name: 'an admin sees it', actor: anActor(ADMIN, { isAdmin: true }), visible: true },
    { name: 'an auditor sees it', actor: anActor(AUDITOR, { isAuditor: true }), visible: true },
    { name: 'anyone else does not', actor: anActor(MALLORY), visible: false },
  ])('$name', ({ actor, visible }) => {
    // Act / Assess
    expect(canView(aRequest(), actor, MEMBERS)).toBe(visible);
  });
});

describe('execution coverage', () => {
  const during = minutesAfterT0(60);

  it('live grant of the caller for the task → that grant', () => {
    // Prepare
    const grant = aRequest({ status: 'approved' });

    // Act
    const chosen = requireCoveringGrant(
      [grant],
      { requester: ALICE, requesterId: idOf(ALICE), task: MOVE },
      during,
    );

    // Assess
    expect(chosen).toBe(grant);
  });

  it('several covering grants → the one expiring last', () => {
    // Prepare
    const short = aRequest({ id: 'req-short', status: 'approved', durationHours: 1 });
    const long = aRequest({ id: 'req-long', status: 'approved', durationHours: 8 });

    // Act
    const chosen = requireCoveringGrant(
      [short, long],
      { requester: ALICE, requesterId: idOf(ALICE), task: MOVE },
      during,
    );

    // Assess
    expect(chosen.id).toBe('req-long');
  });

  it.each<{
    name: string;
    requests: Request[];
    query: Parameters<typeof requireCoveringGrant>[1];
    at?: Date;
    reason?: string;
  }>([
    {
      name: 'no grant at all → refused',
      requests: [],
      query: { requester: ALICE, requesterId: idOf(ALICE), task: MOVE },
    },
    {
      name: 'someone else’s grant → refused',
      requests: [aRequest({ status: 'approved' })],
      query: { requester: MALLORY, requesterId: idOf(MALLORY), task: MOVE },
    },
    {
      name: 'pending request → refused',
      requests: [aRequest()],
      query: { requester: ALICE, requesterId: idOf(ALICE), task: MOVE },
    },
    {
      name: 'grant past expiresAt, timer not yet run → refused',
      requests: [aRequest({ status: 'approved' })],
      query: { requester: ALICE, requesterId: idOf(ALICE), task: MOVE, requestId: 'req-1' },
      at: hoursAfterT0(5),
      reason: 'the grant ended',
    },
    {
      name: 'revoked grant → refused',
      requests: [aRequest({ status: 'revoked' })],
      query: { requester: ALICE, requesterId: idOf(ALICE), task: MOVE, requestId: 'req-1' },
      reason: 'revoked',
    },
    {
      name: 'task not in the grant → refused',
      requests: [aRequest({ status: 'approved' })],
      query: { requester: ALICE, requesterId: idOf(ALICE), task: MAILBOX },
    },
    {
      name: 'a different request named → refused',
      requests: [aRequest({ status: 'approved' })],
      query: { requester: ALICE, requesterId: idOf(ALICE), task: MOVE, requestId: 'req-2' },
    },
    {
      name: 'pinned parameters changed → refused',
      requests: [aRequest({ status: 'approved', parameters: { Identity: 'ceo' } })],
      query: {
        requester: ALICE,
        requesterId: idOf(ALICE),
        task: MOVE,
        parameters: { Identity: 'cfo' },
        requestId: 'req-1',
      },
      reason: 'parameters differ',
    },
    {
      name: 'pinned parameters omitted → refused',
      requests: [aRequest({ status: 'approved', parameters: { Identity: 'ceo' } })],
      query: { requester: ALICE, requesterId: idOf(ALICE), task: MOVE },
    },
    {
      name: 'pinned parameters plus an extra one → refused',
      requests: [aRequest({ status: 'approved', parameters: { Identity: 'ceo' } })],
      query: {
        requester: ALICE,
        requesterId: idOf(ALICE),
        task: MOVE,
        parameters: { Identity: 'ceo', Force: true },
      },
    },
  ])('$name', ({ requests, query, at, reason }) => {
    // Act
    const act = () => requireCoveringGrant(requests, query, at ?? during);

    // Assess
    expect(codeOf(act)).toBe('NO_ACTIVE_GRANT');
    if (reason !== undefined) expect(act).toThrow(reason);
  });

  it('naming someone else’s request is refused exactly as naming one that does not exist', () => {
    // Prepare: Alice's live grant, named by Mallory; and an id nobody has.
    const alices = [aRequest({ status: 'approved' })];
    const asMallory = { requester: MALLORY, requesterId: idOf(MALLORY), task: MOVE };

    // Act
    const named = () => requireCoveringGrant(alices, { ...asMallory, requestId: 'req-1' }, during);
    const unknown = () => requireCoveringGrant([], { ...asMallory, requestId: 'req-nobody' }, during);

    // Assess: the refusal does not confirm that the request exists, or whose it is.
    expect(messageOf(named)).toBe(messageOf(unknown));
  });

  it('pinned parameters given exactly → covered', () => {
    // Prepare
    const grant = aRequest({ status: 'approved', parameters: { Identity: 'ceo', Force: true } });

    // Act
    const chosen = requireCoveringGrant(
      [grant],
      {
        requester: ALICE,
        requesterId: idOf(ALICE),
        task: MOVE,
        parameters: { Force: true, Identity: 'ceo' },
      },
      during,
    );

    // Assess
    expect(chosen).toBe(grant);
  });
});

describe('views and queries', () => {
  it('the view is the request plus its executions, and parses as the contract says', () => {
    // Prepare
    const request = aRequest({ status: 'approved' });

    // Act
    const view = toRequestView(request, [
      { executionId: 'ex-1', task: MOVE, status: 'succeeded', executedAt: iso(during()) },
    ]);

    // Assess
    expect(RequestView.safeParse(view).success).toBe(true);
    expect(view.executions).toHaveLength(1);

    function during() {
      return minutesAfterT0(20);
    }
  });

  it('list query flags arrive as strings and become booleans; unknown parameters are refused', () => {
    // Act
    const parsed = ListRequestsQuery.parse({ status: 'pending', mine: 'true', approvable: 'false' });
    const unknown = ListRequestsQuery.safeParse({ sort: 'asc' });
    const badStatus = ListRequestsQuery.safeParse({ status: 'open' });

    // Assess
    expect(parsed).toEqual({ status: 'pending', mine: true, approvable: false });
    expect(unknown.success).toBe(false);
    expect(badStatus.success).toBe(false);
  });
});

describe('identity is the stable id, not the name', () => {
  const reused = { id: 'tid:someone-else', upn: ALICE, isAdmin: false, isAuditor: false };

  it('a different user who now holds the requester’s UPN cannot cancel the request', () => {
    expect(() => cancel(aRequest(), reused, minutesAfterT0(1))).toThrow(
      expect.objectContaining({ code: 'NOT_REQUESTER' }),
    );
  });

  it('nor use its grant', () => {
    const grant = aRequest({ status: 'approved' });
    expect(
      coverageRefusal(grant, { requester: ALICE, requesterId: reused.id, task: MOVE }, minutesAfterT0(20)),
    ).toBe('the request belongs to someone else');
  });

  it('the requester under another UPN (renamed) is still refused as an approver of their own request', () => {
    const refusal = decisionRefusal(
      aRequest(),
      { id: idOf(ALICE), upn: BOB },
      inGroup([...GROUP_MEMBERS, memberOf(ALICE)]),
      minutesAfterT0(1),
    );
    expect(refusal?.code).toBe('SELF_APPROVAL');
  });
});

describe('transitions as values: a retry finds its change already applied', () => {
  const at = minutesAfterT0(30);
  const approve = (approver: string): DecisionInput => ({ approver: who(approver), decision: 'approve' });

  it.each<{
    name: string;
    request: Request;
    act: (
      request: Request,
    ) => ReturnType<typeof decideTransition | typeof cancelTransition | typeof revokeTransition>;
    outcome: string;
    code: ErrorCode;
  }>([
    {
      name: 'Bob approves again a request his approval approved → already applied (approved)',
      request: aRequest({ status: 'approved' }),
      act: (r) => decideTransition(r, approve(BOB), MEMBERS, at),
      outcome: 'approved',
      code: 'ALREADY_DECIDED',
    },
    {
      name: 'Bob denies again a request his denial denied → already applied (denied)',
      request: aRequest({ status: 'denied' }),
      act: (r) => decideTransition(r, { approver: who(BOB), decision: 'deny' }, MEMBERS, at),
      outcome: 'denied',
      code: 'ALREADY_DECIDED',
    },
    {
      name: 'Alice cancels again her canceled request → already applied (canceled)',
      request: aRequest({ status: 'canceled' }),
      act: (r) => cancelTransition(r, anActor(ALICE), at),
      outcome: 'canceled',
      code: 'REQUEST_NOT_PENDING',
    },
    {
      name: 'Carol revokes a grant the admin revoked → already applied (revoked)',
      request: aRequest({ status: 'revoked' }),
      act: (r) => revokeTransition(r, { actor: anActor(CAROL) }, MEMBERS, at),
      outcome: 'revoked',
      code: 'REQUEST_NOT_LIVE',
    },
  ])('$name', ({ request, act, outcome, code }) => {
    // Act
    const t = act(request);

    // Assess: the row as found, the outcome it holds, and the refusal the retry still answers with
    expect(t).toMatchObject({ kind: 'alreadyApplied', outcome, request });
    expect(t).toHaveProperty('refusal.code', code);
  });

  it.each<{
    name: string;
    act: () => ReturnType<typeof decideTransition | typeof cancelTransition | typeof revokeTransition>;
    code: ErrorCode;
  }>([
    {
      name: 'Bob approves again while a second approval is still needed → refused, not a retry',
      act: () =>
        decideTransition(
          aRequest({
            requiredApprovals: 2,
            approvals: [{ approver: BOB, decision: 'approve', comment: null, at: iso(minutesAfterT0(1)) }],
          }),
          approve(BOB),
          MEMBERS,
          at,
        ),
      code: 'ALREADY_DECIDED',
    },
    {
      name: 'Carol approves a request Bob approved → refused (not her decision)',
      act: () => decideTransition(aRequest({ status: 'approved' }), approve(CAROL), MEMBERS, at),
      code: 'REQUEST_NOT_PENDING',
    },
    {
      name: 'Bob, since removed from the group, approves again → refused as not an approver',
      act: () =>
        decideTransition(aRequest({ status: 'approved' }), approve(BOB), inGroup([memberOf(CAROL)]), at),
      code: 'NOT_AN_APPROVER',
    },
    {
      name: 'Bob cancels Alice’s canceled request → refused, only she could have canceled it',
      act: () => cancelTransition(aRequest({ status: 'canceled' }), anActor(BOB), at),
      code: 'NOT_REQUESTER',
    },
    {
      name: 'Alice cancels her expired request → refused, expiry is not her cancel',
      act: () => cancelTransition(aRequest({ status: 'expired' }), anActor(ALICE), at),
      code: 'REQUEST_NOT_PENDING',
    },
    {
      name: 'an outsider revokes a revoked grant → refused, they could not have revoked it',
      act: () => revokeTransition(aRequest({ status: 'revoked' }), { actor: anActor(MALLORY) }, MEMBERS, at),
      code: 'REVOKE_NOT_ALLOWED',
    },
    {
      name: 'Alice revokes her ended grant → refused, the end is not a revoke',
      act: () => revokeTransition(aRequest({ status: 'ended' }), { actor: anActor(ALICE) }, MEMBERS, at),
      code: 'REQUEST_NOT_LIVE',
    },
  ])('$name', ({ act, code }) => {
    // Act
    const t = act();

    // Assess
    expect(t.kind).toBe('refused');
    expect(t).toHaveProperty('refusal.code', code);
  });

  it.each([
    {
      name: 'Bob approves a pending request → applied (approved), as applyDecision',
      act: () => decideTransition(aRequest(), approve(BOB), MEMBERS, at),
      expected: applyDecision(aRequest(), approve(BOB), MEMBERS, at),
    },
    {
      name: 'Alice cancels her pending request → applied (canceled), as cancel',
      act: () => cancelTransition(aRequest(), anActor(ALICE), at),
      expected: { outcome: 'canceled', request: cancel(aRequest(), anActor(ALICE), at) },
    },
    {
      name: 'Carol revokes a live grant → applied (revoked), as revoke',
      act: () => revokeTransition(aRequest({ status: 'approved' }), { actor: anActor(CAROL) }, MEMBERS, at),
      expected: {
        outcome: 'revoked',
        request: revoke(aRequest({ status: 'approved' }), { actor: anActor(CAROL) }, MEMBERS, at),
      },
    },
  ])('$name', ({ act, expected }) => {
    // Act / Assess
    expect(act()).toEqual({ kind: 'applied', ...expected });
  });
});

describe('scheduled start', () => {
  const in2h = iso(hoursAfterT0(2));

  it.each<{
    name: string;
    startAt: string;
    policy?: Parameters<typeof aPolicy>[0];
    stored?: string;
    code?: ErrorCode;
  }>([
    { name: 'two hours ahead → kept', startAt: in2h, stored: in2h },
    {
      name: 'another offset → stored in UTC',
      startAt: '2030-01-01T13:00:00+02:00',
      stored: '2030-01-01T11:00:00.000Z',
    },
    {
      name: 'four minutes ago (within the leeway) → kept; the grant runs from approval',
      startAt: iso(minutesAfterT0(-4)),
      stored: iso(minutesAfterT0(-4)),
    },
    {
      name: 'exactly the leeway ago → kept',
      startAt: iso(new Date(T0.getTime() - START_LEEWAY_MS)),
      stored: iso(new Date(T0.getTime() - START_LEEWAY_MS)),
    },
    { name: 'six minutes ago → INVALID_START', startAt: iso(minutesAfterT0(-6)), code: 'INVALID_START' },
    {
      name: 'exactly the default 168 hours ahead → kept',
      startAt: iso(hoursAfterT0(168)),
      stored: iso(hoursAfterT0(168)),
    },
    {
      name: 'a millisecond beyond the default 168 hours → INVALID_START',
      startAt: iso(new Date(hoursAfterT0(168).getTime() + 1)),
      code: 'INVALID_START',
    },
    {
      name: "beyond the policy's own maxStartDelayHours → INVALID_START",
      startAt: iso(hoursAfterT0(3)),
      policy: { maxStartDelayHours: 2 },
      code: 'INVALID_START',
    },
  ])('$name', ({ startAt, policy, stored, code }) => {
    // Act
    let request: Request | undefined;
    let error: unknown;
    try {
      request = plan({ task: MOVE, reason: 'r', startAt }, aPolicy(policy));
    } catch (e) {
      error = e;
    }

    // Assess
    if (code !== undefined) {
      expect(isDomainError(error, code), String(error)).toBe(true);
      expect(isDomainError(error) && error.errors[0]?.pointer).toBe('#/startAt');
      expect(isDomainError(error) && error.kind).toBe('validation');
    } else expect(request?.startAt).toBe(stored);
  });

  it.each([
    { name: 'a date without a time', startAt: '2030-01-02' },
    { name: 'no offset', startAt: '2030-01-02T09:00:00' },
    { name: 'a number', startAt: 1893488400000 },
  ])('refuses $name in the body', ({ startAt }) => {
    // Act / Assess
    expect(SubmitRequestBody.safeParse({ task: MOVE, reason: 'r', startAt }).success).toBe(false);
  });

  it.each([
    {
      name: 'approved before the start → the grant runs from the start',
      startAt: in2h,
      approvedAt: minutesAfterT0(30),
      grantedAt: hoursAfterT0(2),
    },
    {
      name: 'approved after the start → the grant runs from the approval',
      startAt: iso(minutesAfterT0(20)),
      approvedAt: minutesAfterT0(30),
      grantedAt: minutesAfterT0(30),
    },
    {
      name: 'no start asked → the grant runs from the approval',
      startAt: undefined,
      approvedAt: minutesAfterT0(30),
      grantedAt: minutesAfterT0(30),
    },
  ])('$name, for durationHours', ({ startAt, approvedAt, grantedAt }) => {
    // Prepare
    const request = plan({
      task: MOVE,
      reason: 'r',
      durationHours: 2,
      ...(startAt === undefined ? {} : { startAt }),
    });

    // Act
    const { outcome, request: approved } = applyDecision(
      request,
      { approver: who(BOB), decision: 'approve' },
      MEMBERS,
      approvedAt,
    );

    // Assess
    expect(outcome).toBe('approved');
    expect(approved).toMatchObject({
      status: 'approved',
      decidedAt: iso(approvedAt),
      grantedAt: iso(grantedAt),
      expiresAt: iso(new Date(grantedAt.getTime() + 2 * 3_600_000)),
    });
  });

  it('an automatic policy with a later start → approved at once, scheduled for the start', () => {
    // Act
    const request = plan(
      { task: MOVE, reason: 'r', durationHours: 1, startAt: in2h },
      aPolicy({ approvalType: 'auto' }),
    );

    // Assess
    expect(request).toMatchObject({
      status: 'approved',
      decidedAt: iso(T0),
      grantedAt: in2h,
      expiresAt: iso(hoursAfterT0(3)),
    });
  });

  /** Approved at T0+30 min for a start at T0+2 h, for 4 hours. */
  const scheduled = (overrides: Partial<Request> = {}) =>
    aRequest({
      status: 'approved',
      startAt: in2h,
      decidedAt: iso(minutesAfterT0(30)),
      grantedAt: in2h,
      expiresAt: iso(hoursAfterT0(6)),
      ...overrides,
    });

  it.each([
    {
      name: 'after approval, before the start',
      at: hoursAfterT0(1),
      granted: true,
      scheduled: true,
      live: false,
    },
    {
      name: 'a millisecond before the start',
      at: new Date(hoursAfterT0(2).getTime() - 1),
      granted: true,
      scheduled: true,
      live: false,
    },
    { name: 'at the start exactly', at: hoursAfterT0(2), granted: true, scheduled: false, live: true },
    { name: 'during the window', at: hoursAfterT0(4), granted: true, scheduled: false, live: true },
    { name: 'at the end exactly', at: hoursAfterT0(6), granted: false, scheduled: false, live: false },
  ])(
    '$name → granted $granted, scheduled $scheduled, live $live',
    ({ at, granted, scheduled: isLater, live }) => {
      // Prepare
      const request = scheduled();

      // Act / Assess
      expect([isGranted(request, at), isScheduled(request, at), isLive(request, at)]).toEqual([
        granted,
        isLater,
        live,
      ]);
    },
  );

  it('a pending request with a start is neither granted nor scheduled', () => {
    // Prepare
    const request = aRequest({ startAt: in2h });

    // Act / Assess
    expect([isGranted(request, T0), isScheduled(request, T0), isLive(request, T0)]).toEqual([
      false,
      false,
      false,
    ]);
  });

  const query = { requester: ALICE, requesterId: idOf(ALICE), task: MOVE };

  it.each<{ name: string; requests: () => Request[]; at: Date; code?: ErrorCode; chosen?: string }>([
    {
      name: 'only a scheduled grant covers, before its start → GRANT_NOT_STARTED',
      requests: () => [scheduled()],
      at: hoursAfterT0(1),
      code: 'GRANT_NOT_STARTED',
    },
    {
      name: 'the scheduled grant once started → it covers',
      requests: () => [scheduled()],
      at: hoursAfterT0(2),
      chosen: 'req-1',
    },
    {
      name: 'a live grant beside a scheduled one → the live one covers',
      requests: () => [scheduled(), aRequest({ id: 'req-live', status: 'approved' })],
      at: hoursAfterT0(1),
      chosen: 'req-live',
    },
    {
      name: 'a scheduled grant for another task → NO_ACTIVE_GRANT',
      requests: () => [scheduled({ task: MAILBOX, tasks: [MAILBOX] })],
      at: hoursAfterT0(1),
      code: 'NO_ACTIVE_GRANT',
    },
    {
      name: "someone else's scheduled grant → NO_ACTIVE_GRANT",
      requests: () => [scheduled({ requester: MALLORY, requesterId: idOf(MALLORY) })],
      at: hoursAfterT0(1),
      code: 'NO_ACTIVE_GRANT',
    },
    {
      name: 'a scheduled grant that was revoked → NO_ACTIVE_GRANT',
      requests: () => [scheduled({ status: 'revoked', endedAt: iso(hoursAfterT0(1)), endedBy: ADMIN })],
      at: hoursAfterT0(1),
      code: 'NO_ACTIVE_GRANT',
    },
  ])('$name', ({ requests, at, code, chosen }) => {
    // Act
    let grant: Request | undefined;
    let error: unknown;
    try {
      grant = requireCoveringGrant(requests(), query, at);
    } catch (e) {
      error = e;
    }

    // Assess
    if (code !== undefined) expect(isDomainError(error, code), String(error)).toBe(true);
    else expect(grant?.id).toBe(chosen);
  });

  it('GRANT_NOT_STARTED is a 403-kind refusal that says when the grant starts', () => {
    // Act
    let error: unknown;
    try {
      requireCoveringGrant([scheduled()], query, hoursAfterT0(1));
    } catch (e) {
      error = e;
    }

    // Assess
    expect(isDomainError(error) && [error.kind, error.message]).toEqual([
      'forbidden',
      `Your grant for task ${JSON.stringify(MOVE)} (request req-1) starts at ${in2h}`,
    ]);
  });

  it('the execution guard says a named scheduled grant has not started', () => {
    // Act / Assess
    expect(coverageRefusal(scheduled(), { ...query, requestId: 'req-1' }, hoursAfterT0(1))).toBe(
      `the grant starts at ${in2h}`,
    );
  });

  it.each([
    { name: 'the requester', actor: anActor(ALICE) },
    { name: 'an approver', actor: anActor(CAROL) },
    { name: 'an admin', actor: anActor(ADMIN, { isAdmin: true }) },
  ])('$name revokes a scheduled grant before its start → revoked, never starts', ({ actor }) => {
    // Act
    const t = revokeTransition(scheduled(), { actor, comment: 'not needed' }, MEMBERS, hoursAfterT0(1));

    // Assess
    expect(t.kind === 'applied' && t.request).toMatchObject({
      status: 'revoked',
      endedAt: iso(hoursAfterT0(1)),
      endReason: 'not needed',
    });
    expect(t.kind === 'applied' && isLive(t.request, hoursAfterT0(3))).toBe(false);
  });
});
