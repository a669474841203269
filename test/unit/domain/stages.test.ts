// Approval stages (AND): who may decide in which stage, the outcomes, the stage views, the retries,
// and the combination of several policies' stages for a role request.
import { describe, expect, it } from 'vitest';
import type { ErrorCode } from '#shared/domain/errors';
import {
  decideTransition,
  type DecisionInput,
  type DecisionOutcome,
  type Request,
  toRequestView,
} from '#shared/domain/request';
import {
  combineStages,
  MAX_TOTAL_APPROVALS,
  type StagePlan,
  StagePlans,
  type StageStatus,
  tallyRound,
} from '#shared/domain/stages';
import {
  aDecision,
  ALICE,
  aRequest,
  aStagedRequest,
  BOB,
  CAROL,
  DANA,
  ERIN,
  FRANK,
  GROUP,
  GROUP_MEMBERS,
  hoursAfterT0,
  idOf,
  iso,
  MALLORY,
  memberOf,
  minutesAfterT0,
  SECURITY,
  SECURITY_MEMBERS,
  STAGED_MEMBERS,
  twoStages,
  who,
} from './builders';

const at = minutesAfterT0(30);

const approve = (upn: string, linkStage?: number): DecisionInput => ({
  approver: who(upn),
  decision: 'approve',
  ...(linkStage === undefined ? {} : { linkStage }),
});
const deny = (upn: string): DecisionInput => ({ approver: who(upn), decision: 'deny', comment: 'no' });

/** Stage 1 approved by Bob: stage 2 (Dana, Frank, Erin) is open. */
const secondOpen = () => aStagedRequest({ approvals: [aDecision(BOB, 0)] });

/** Alice is a member of both groups too: only her being the requester stops her. */
const withAlice = new Map([
  [GROUP, [...GROUP_MEMBERS, memberOf(ALICE)]],
  [SECURITY, [...SECURITY_MEMBERS, memberOf(ALICE)]],
]);

describe('who may decide in which stage', () => {
  it.each<{
    name: string;
    request: () => Request;
    input: DecisionInput;
    members?: typeof withAlice;
    when?: Date;
    code?: ErrorCode;
    outcome?: DecisionOutcome;
  }>([
    {
      name: 'a first-stage approver approves the open first stage → stage approved, the second opens',
      request: () => aStagedRequest(),
      input: approve(BOB),
      outcome: 'stageApproved',
    },
    {
      name: 'a second-stage approver approves while the first stage is open → STAGE_NOT_OPEN',
      request: () => aStagedRequest(),
      input: approve(DANA),
      code: 'STAGE_NOT_OPEN',
    },
    {
      name: 'a second-stage approver denies while the first stage is open → STAGE_NOT_OPEN (a denial too)',
      request: () => aStagedRequest(),
      input: deny(DANA),
      code: 'STAGE_NOT_OPEN',
    },
    {
      name: 'a second-stage approver approves the open second stage → approved',
      request: secondOpen,
      input: approve(FRANK),
      outcome: 'approved',
    },
    {
      name: 'a first-stage approver who did not decide approves once the second stage is open → STAGE_NOT_OPEN',
      request: secondOpen,
      input: approve(CAROL),
      code: 'STAGE_NOT_OPEN',
    },
    {
      name: 'the first-stage approver decides again in the second stage → ALREADY_DECIDED',
      request: secondOpen,
      input: approve(BOB),
      code: 'ALREADY_DECIDED',
    },
    {
      name: 'a member of both groups who approved the first stage approves the second → ALREADY_DECIDED (once per person)',
      request: () => aStagedRequest({ approvals: [aDecision(ERIN, 0)] }),
      input: approve(ERIN),
      code: 'ALREADY_DECIDED',
    },
    {
      name: 'a member of both groups approves the open first stage → counts in the first stage',
      request: () => aStagedRequest(),
      input: approve(ERIN),
      outcome: 'stageApproved',
    },
    {
      name: 'the requester, a member of both groups, approves → SELF_APPROVAL',
      request: () => aStagedRequest(),
      input: approve(ALICE),
      members: withAlice,
      code: 'SELF_APPROVAL',
    },
    {
      name: 'the requester, a member of both groups, approves the second stage → SELF_APPROVAL',
      request: secondOpen,
      input: approve(ALICE),
      members: withAlice,
      code: 'SELF_APPROVAL',
    },
    {
      name: 'someone in neither group → NOT_AN_APPROVER',
      request: () => aStagedRequest(),
      input: approve(MALLORY),
      code: 'NOT_AN_APPROVER',
    },
    {
      name: 'a first-stage approver denies → denied',
      request: () => aStagedRequest(),
      input: deny(CAROL),
      outcome: 'denied',
    },
    {
      name: 'a second-stage approver denies after the first stage approved → denied',
      request: secondOpen,
      input: deny(DANA),
      outcome: 'denied',
    },
    {
      name: 'one of two approvals the first stage needs → recorded, the first stage still open',
      request: () => aStagedRequest({ stages: twoStages(2, 1) }),
      input: approve(BOB),
      outcome: 'recorded',
    },
    {
      name: 'the second of two approvals the first stage needs → stage approved',
      request: () => aStagedRequest({ stages: twoStages(2, 1), approvals: [aDecision(CAROL, 0)] }),
      input: approve(BOB),
      outcome: 'stageApproved',
    },
    {
      name: 'a second-stage approver after a denial in the first stage → REQUEST_NOT_PENDING',
      request: () =>
        aStagedRequest({
          status: 'denied',
          approvals: [aDecision(BOB, 0, 'deny')],
          decidedAt: iso(minutesAfterT0(1)),
          endedAt: iso(minutesAfterT0(1)),
        }),
      input: approve(DANA),
      code: 'REQUEST_NOT_PENDING',
    },
    {
      name: 'the second stage past the pending window (timer not run yet) → REQUEST_NOT_PENDING',
      request: secondOpen,
      input: approve(DANA),
      when: hoursAfterT0(24),
      code: 'REQUEST_NOT_PENDING',
    },
    {
      name: "an emailed link of the first stage, used once the second is open → STAGE_NOT_OPEN (the link's stage is over)",
      request: secondOpen,
      input: approve(ERIN, 0),
      code: 'STAGE_NOT_OPEN',
    },
    {
      name: 'an emailed link of the second stage, used while the first is open → STAGE_NOT_OPEN (not open yet)',
      request: () => aStagedRequest(),
      input: approve(ERIN, 1),
      code: 'STAGE_NOT_OPEN',
    },
    {
      name: 'an emailed link of the open second stage → approved',
      request: secondOpen,
      input: approve(DANA, 1),
      outcome: 'approved',
    },
    {
      name: 'an emailed link of the open first stage → stage approved',
      request: () => aStagedRequest(),
      input: approve(CAROL, 0),
      outcome: 'stageApproved',
    },
  ])('$name', ({ request, input, members, when, code, outcome }) => {
    // Act
    const t = decideTransition(request(), input, members ?? STAGED_MEMBERS, when ?? at);

    // Assess
    if (code !== undefined) {
      // Refused, or (a decision that moved the round on, asked again) found already applied: never written
      expect(t.kind).not.toBe('applied');
      if (t.kind !== 'applied') expect(t.refusal.code).toBe(code);
    } else {
      expect(t.kind).toBe('applied');
      if (t.kind === 'applied') expect(t.outcome).toBe(outcome);
    }
  });

  it('a decision is recorded in the stage that was open, with the approver and the time', () => {
    // Act
    const t = decideTransition(secondOpen(), approve(DANA), STAGED_MEMBERS, at);

    // Assess
    expect(t.kind === 'applied' && t.request.approvals).toEqual([
      aDecision(BOB, 0),
      { approver: DANA, approverId: idOf(DANA), decision: 'approve', comment: null, at: iso(at), stage: 1 },
    ]);
  });

  it('the last stage approved → the grant is set from the decision; a stage approved → still pending, no grant', () => {
    // Act
    const first = decideTransition(aStagedRequest(), approve(BOB), STAGED_MEMBERS, at);
    const last = decideTransition(secondOpen(), approve(DANA), STAGED_MEMBERS, at);

    // Assess
    expect(first.kind === 'applied' && first.request).toMatchObject({
      status: 'pending',
      decidedAt: null,
      grantedAt: null,
      expiresAt: null,
    });
    expect(last.kind === 'applied' && last.request).toMatchObject({
      status: 'approved',
      decidedAt: iso(at),
      grantedAt: iso(at),
      expiresAt: iso(new Date(at.getTime() + 4 * 3_600_000)),
    });
  });

  it('a refusal names the open stage, its group, and says the caller will be emailed when theirs opens', () => {
    // Act
    const early = decideTransition(aStagedRequest(), approve(DANA), STAGED_MEMBERS, at);
    const overLink = decideTransition(secondOpen(), approve(ERIN, 0), STAGED_MEMBERS, at);

    // Assess
    expect(early.kind === 'refused' && early.refusal.message).toBe(
      'Stage 1 of 2 decides now, by the approver group "exchange-approvers", of which you are not a member; ' +
        "your stage's approvers are emailed when it opens",
    );
    expect(overLink.kind === 'refused' && overLink.refusal.message).toBe(
      'Stage 1 of 2 is already over; stage 2 decides now',
    );
  });
});

describe('one denial denies, by rule and not by arrival order', () => {
  it.each([
    { name: 'a denial in the first stage', approvals: [aDecision(BOB, 0, 'deny')], stage: 0 },
    {
      name: 'a denial in the second stage after the first approved',
      approvals: [aDecision(BOB, 0), aDecision(DANA, 1, 'deny')],
      stage: 1,
    },
    {
      name: 'a denial among approvals that would otherwise approve every stage',
      approvals: [aDecision(BOB, 0), aDecision(CAROL, 0, 'deny'), aDecision(DANA, 1)],
      stage: 0,
    },
  ])('$name → denied in that stage', ({ approvals, stage }) => {
    // Act
    const tally = tallyRound({ stages: twoStages(), approvals });

    // Assess
    expect(tally).toEqual({ state: 'denied', stage });
  });

  it('approvals count once per person: the same approver twice does not make two', () => {
    // Act
    const tally = tallyRound({
      stages: twoStages(2, 1),
      approvals: [aDecision(BOB, 0, 'approve', 1), aDecision(BOB, 0, 'approve', 2)],
    });

    // Assess
    expect(tally).toEqual({ state: 'pending', stage: 0 });
  });
});

describe('stage views and currentStage', () => {
  const denied = (approvals: Request['approvals']) =>
    aStagedRequest({
      status: 'denied',
      approvals,
      decidedAt: iso(minutesAfterT0(2)),
      endedAt: iso(minutesAfterT0(2)),
    });

  it.each<{ name: string; request: () => Request; statuses: StageStatus[]; current: number | null }>([
    {
      name: 'nothing decided yet',
      request: () => aStagedRequest(),
      statuses: ['open', 'waiting'],
      current: 0,
    },
    { name: 'first stage approved', request: secondOpen, statuses: ['approved', 'open'], current: 1 },
    {
      name: 'one of two first-stage approvals in',
      request: () => aStagedRequest({ stages: twoStages(2, 1), approvals: [aDecision(BOB, 0)] }),
      statuses: ['open', 'waiting'],
      current: 0,
    },
    {
      name: 'every stage approved',
      request: () =>
        aStagedRequest({
          status: 'approved',
          approvals: [aDecision(BOB, 0), aDecision(DANA, 1)],
          decidedAt: iso(minutesAfterT0(1)),
          grantedAt: iso(minutesAfterT0(1)),
          expiresAt: iso(minutesAfterT0(241)),
        }),
      statuses: ['approved', 'approved'],
      current: null,
    },
    {
      name: 'denied in the first stage',
      request: () => denied([aDecision(BOB, 0, 'deny')]),
      statuses: ['denied', 'waiting'],
      current: null,
    },
    {
      name: 'denied in the second stage',
      request: () => denied([aDecision(BOB, 0), aDecision(DANA, 1, 'deny')]),
      statuses: ['approved', 'denied'],
      current: null,
    },
    {
      name: 'expired with the first stage half approved (no stage is open once it stopped)',
      request: () =>
        aStagedRequest({
          stages: twoStages(2, 1),
          status: 'expired',
          approvals: [aDecision(BOB, 0)],
          endedAt: iso(hoursAfterT0(24)),
        }),
      statuses: ['waiting', 'waiting'],
      current: null,
    },
    {
      name: 'canceled while the second stage was open',
      request: () =>
        aStagedRequest({
          status: 'canceled',
          approvals: [aDecision(BOB, 0)],
          endedAt: iso(minutesAfterT0(5)),
          endedBy: ALICE,
        }),
      statuses: ['approved', 'waiting'],
      current: null,
    },
    {
      name: 'a single-group request shows as one stage',
      request: () => aRequest(),
      statuses: ['open'],
      current: 0,
    },
    {
      name: 'an automatic request has no stages',
      request: () =>
        aRequest({ approvalType: 'auto', approverGroup: null, requiredApprovals: 0, status: 'approved' }),
      statuses: [],
      current: null,
    },
  ])('$name → $statuses, currentStage $current', ({ request, statuses, current }) => {
    // Act
    const view = toRequestView(request(), []);

    // Assess
    expect(view.stages.map((s) => s.status)).toEqual(statuses);
    expect(view.currentStage).toBe(current);
  });

  it('each stage shows its group, its approvals needed and its own decisions; the flat list keeps them all', () => {
    // Act
    const view = toRequestView(secondOpen(), []);

    // Assess
    expect(view.stages).toEqual([
      { approverGroup: GROUP, requiredApprovals: 1, status: 'approved', approvals: [aDecision(BOB, 0)] },
      { approverGroup: SECURITY, requiredApprovals: 1, status: 'open', approvals: [] },
    ]);
    expect(view.approvals).toEqual([aDecision(BOB, 0)]);
    expect(view.requiredApprovals).toBe(2);
    expect('inFlight' in view).toBe(false);
  });
});

describe('retries of a decision', () => {
  it.each<{
    name: string;
    request: () => Request;
    input: DecisionInput;
    kind: 'alreadyApplied' | 'refused';
    outcome?: DecisionOutcome;
  }>([
    {
      name: 'the approval that closed the first stage, retried → already applied (the next stage is told again)',
      request: secondOpen,
      input: approve(BOB),
      kind: 'alreadyApplied',
      outcome: 'stageApproved',
    },
    {
      name: 'an approval that left its stage open, retried → refused, nothing to do again',
      request: () => aStagedRequest({ stages: twoStages(2, 1), approvals: [aDecision(BOB, 0)] }),
      input: approve(BOB),
      kind: 'refused',
    },
    {
      name: 'the approval of the last stage, retried → already applied as approved',
      request: () =>
        aStagedRequest({
          status: 'approved',
          approvals: [aDecision(BOB, 0), aDecision(DANA, 1)],
          decidedAt: iso(minutesAfterT0(1)),
          grantedAt: iso(minutesAfterT0(1)),
          expiresAt: iso(minutesAfterT0(241)),
        }),
      input: approve(DANA),
      kind: 'alreadyApplied',
      outcome: 'approved',
    },
    {
      name: 'a denial, retried → already applied as denied',
      request: () =>
        aStagedRequest({
          status: 'denied',
          approvals: [aDecision(BOB, 0), aDecision(DANA, 1, 'deny')],
          decidedAt: iso(minutesAfterT0(1)),
          endedAt: iso(minutesAfterT0(1)),
        }),
      input: deny(DANA),
      kind: 'alreadyApplied',
      outcome: 'denied',
    },
  ])('$name', ({ request, input, kind, outcome }) => {
    // Prepare
    const before = request();

    // Act
    const t = decideTransition(before, input, STAGED_MEMBERS, at);

    // Assess: the row is never written twice, and the caller hears ALREADY_DECIDED either way
    expect(t.kind).toBe(kind);
    if (t.kind === 'alreadyApplied') {
      expect(t.outcome).toBe(outcome);
      expect(t.request).toBe(before);
    }
    if (t.kind !== 'applied') expect(t.refusal.code).toBe('ALREADY_DECIDED');
  });
});

describe('policy stages (StagePlans)', () => {
  const stage = (requiredApprovals?: number, approverGroup = GROUP) =>
    requiredApprovals === undefined ? { approverGroup } : { approverGroup, requiredApprovals };

  it.each([
    { name: 'one stage, its approvals defaulting to 1', stages: [stage()], ok: true },
    { name: 'five stages', stages: [1, 2, 3, 4, 5].map(() => stage()), ok: true },
    { name: `${MAX_TOTAL_APPROVALS} approvals in all`, stages: [stage(10), stage(10, SECURITY)], ok: true },
    { name: 'no stage', stages: [], ok: false },
    { name: 'six stages', stages: [1, 2, 3, 4, 5, 6].map(() => stage()), ok: false },
    {
      name: `${MAX_TOTAL_APPROVALS + 1} approvals in all`,
      stages: [stage(10), stage(10, SECURITY), stage(1)],
      ok: false,
    },
    { name: 'a stage needing 11 approvals', stages: [stage(11)], ok: false },
    { name: 'a stage needing none', stages: [stage(0)], ok: false },
    { name: 'a stage with a bad group name', stages: [stage(1, 'a b')], ok: false },
  ])('$name → valid: $ok', ({ stages, ok }) => {
    // Act
    const result = StagePlans.safeParse(stages);

    // Assess
    expect(result.success).toBe(ok);
    if (result.success) expect(result.data.every((s) => s.requiredApprovals >= 1)).toBe(true);
  });
});

describe('combining stages for a role request (prefix rule)', () => {
  const s = (approverGroup: string, requiredApprovals = 1): StagePlan => ({
    approverGroup,
    requiredApprovals,
  });

  it.each<{ name: string; sequences: StagePlan[][]; combined: StagePlan[] | undefined }>([
    { name: 'one policy → its own stages', sequences: [[s('a'), s('b')]], combined: [s('a'), s('b')] },
    {
      name: 'a single group that is the first stage of the other → the longer sequence',
      sequences: [[s('a')], [s('a'), s('b')]],
      combined: [s('a'), s('b')],
    },
    {
      name: 'the longer given first → the same',
      sequences: [[s('a'), s('b')], [s('a')]],
      combined: [s('a'), s('b')],
    },
    {
      name: 'the most approvals any policy asks of a stage',
      sequences: [[s('a', 3)], [s('a', 1), s('b', 2)], [s('a', 2), s('b', 1)]],
      combined: [s('a', 3), s('b', 2)],
    },
    {
      name: 'a group that is a later stage of the other, not its first → cannot combine',
      sequences: [[s('b')], [s('a'), s('b')]],
      combined: undefined,
    },
    {
      name: 'the same length, another group in a stage → cannot combine',
      sequences: [
        [s('a'), s('b')],
        [s('a'), s('c')],
      ],
      combined: undefined,
    },
    {
      name: 'the same groups in another order → cannot combine',
      sequences: [
        [s('a'), s('b')],
        [s('b'), s('a')],
      ],
      combined: undefined,
    },
    { name: 'no policy → nothing', sequences: [], combined: undefined },
  ])('$name', ({ sequences, combined }) => {
    // Act / Assess
    expect(combineStages(sequences)).toEqual(combined);
  });
});
