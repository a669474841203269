// Extensions of a live grant: who may ask, when, how many, for how long; how they are decided
// (automatic, one group, or the request's stages), withdrawn and expired; and the grant's next deadline.
import { describe, expect, it } from 'vitest';
import type { ErrorCode } from '#shared/domain/errors';
import {
  awaitsDecisionBy,
  cancelExtensionTransition,
  decideExtensionTransition,
  ExtendBody,
  type ExtendOutcome,
  expireExtension,
  extendTransition,
  nextGrantDeadline,
} from '#shared/domain/extensions';
import {
  type DecisionInput,
  type DecisionOutcome,
  end,
  type Extension,
  type Request,
  revokeTransition,
  toRequestView,
} from '#shared/domain/request';
import {
  aDecision,
  ALICE,
  anActor,
  aRequest,
  aStagedGrant,
  BOB,
  CAROL,
  DANA,
  ERIN,
  hoursAfterT0,
  iso,
  MALLORY,
  MEMBERS,
  minutesAfterT0,
  STAGED_MEMBERS,
  who,
} from './builders';

const MIN_SECONDS = 60;
/** While the grants below run (they run from T0+10 min to T0+250 min). */
const at = minutesAfterT0(60);
const grantEnd = minutesAfterT0(250);

/** Alice's single-group grant (Bob approved), live from T0+10 min for 4 hours, allowing `max` extensions. */
const grant = (overrides: Partial<Request> = {}) =>
  aRequest({ status: 'approved', maxExtensions: 3, expiresAt: iso(grantEnd), ...overrides });

const anExtension = (overrides: Partial<Extension> = {}): Extension => ({
  id: '1',
  hours: 2,
  reason: 'the migration overran',
  status: 'pending',
  approvals: [],
  createdAt: iso(minutesAfterT0(50)),
  pendingUntil: iso(grantEnd),
  decidedAt: null,
  ...overrides,
});

const body = (hours = 2, reason = 'the migration overran') => ExtendBody.parse({ hours, reason });

const extend = (request: Request, who = ALICE, hours = 2, when = at) =>
  extendTransition(request, anActor(who), body(hours), MIN_SECONDS, when);

describe('the extend body', () => {
  it.each([
    { name: 'hours and a reason', input: { hours: 1.5, reason: 'r' }, ok: true },
    { name: 'no reason', input: { hours: 1 }, ok: false },
    { name: 'a blank reason', input: { hours: 1, reason: '  ' }, ok: false },
    { name: 'zero hours', input: { hours: 0, reason: 'r' }, ok: false },
    { name: 'hours as a string', input: { hours: '1', reason: 'r' }, ok: false },
    { name: 'an unknown field', input: { hours: 1, reason: 'r', durationHours: 1 }, ok: false },
  ])('$name → valid: $ok', ({ input, ok }) => {
    // Act / Assess
    expect(ExtendBody.safeParse(input).success).toBe(ok);
  });
});

describe('asking for an extension', () => {
  it.each<{
    name: string;
    request: () => Request;
    who?: string;
    hours?: number;
    when?: Date;
    code: ErrorCode;
  }>([
    {
      name: 'someone other than the requester → NOT_REQUESTER',
      request: () => grant(),
      who: BOB,
      code: 'NOT_REQUESTER',
    },
    {
      name: 'a pending request → REQUEST_NOT_LIVE',
      request: () => aRequest({ maxExtensions: 3 }),
      code: 'REQUEST_NOT_LIVE',
    },
    {
      name: 'a scheduled grant before its start → REQUEST_NOT_LIVE',
      request: () =>
        grant({
          startAt: iso(hoursAfterT0(2)),
          grantedAt: iso(hoursAfterT0(2)),
          expiresAt: iso(hoursAfterT0(6)),
        }),
      code: 'REQUEST_NOT_LIVE',
    },
    {
      name: 'a grant past its end (timer not run yet) → REQUEST_NOT_LIVE',
      request: () => grant(),
      when: grantEnd,
      code: 'REQUEST_NOT_LIVE',
    },
    {
      name: 'a revoked grant → REQUEST_NOT_LIVE',
      request: () => grant({ status: 'revoked', endedAt: iso(minutesAfterT0(30)), endedBy: BOB }),
      code: 'REQUEST_NOT_LIVE',
    },
    {
      name: 'a policy that allows none → EXTENSION_NOT_ALLOWED',
      request: () => grant({ maxExtensions: 0 }),
      code: 'EXTENSION_NOT_ALLOWED',
    },
    {
      name: 'one already waiting → EXTENSION_NOT_ALLOWED (one at a time)',
      request: () => grant({ extensions: [anExtension({ hours: 3 })] }),
      code: 'EXTENSION_NOT_ALLOWED',
    },
    {
      name: 'as many asked as allowed, even though one was denied → EXTENSION_NOT_ALLOWED',
      request: () =>
        grant({
          maxExtensions: 2,
          extensions: [
            anExtension({ status: 'approved', decidedAt: iso(minutesAfterT0(51)), hours: 1 }),
            anExtension({ id: '2', status: 'denied', decidedAt: iso(minutesAfterT0(52)), hours: 1 }),
          ],
        }),
      code: 'EXTENSION_NOT_ALLOWED',
    },
    {
      name: "more hours than the policy's maximum grant → DURATION_TOO_LONG",
      request: () => grant({ maxDurationHours: 4 }),
      hours: 4.5,
      code: 'DURATION_TOO_LONG',
    },
    {
      name: 'fewer hours than the minimum → DURATION_TOO_SHORT',
      request: () => grant(),
      hours: 30 / 3600,
      code: 'DURATION_TOO_SHORT',
    },
  ])('$name', ({ request, who: caller, hours, when, code }) => {
    // Act
    const t = extend(request(), caller, hours, when);

    // Assess
    expect(t.kind).toBe('refused');
    if (t.kind === 'refused') expect(t.refusal.code).toBe(code);
  });

  it('hours out of bounds point at the body field `hours`', () => {
    // Act
    const t = extend(grant({ maxDurationHours: 4 }), ALICE, 5);

    // Assess
    expect(t.kind === 'refused' && t.refusal.errors).toEqual([
      { pointer: '#/hours', detail: 'must be at most 4' },
    ]);
    expect(t.kind === 'refused' && t.refusal.message).toContain('hours 5 exceeds');
  });

  it('a policy that allows none says so, rather than that the maximum was reached', () => {
    // Act
    const t = extend(grant({ maxExtensions: 0 }));

    // Assess
    expect(t.kind === 'refused' && t.refusal.message).toBe("This grant's policy allows no extensions");
  });

  it('hours exactly at the maximum → asked', () => {
    // Act / Assess
    expect(extend(grant({ maxDurationHours: 4 }), ALICE, 4).kind).toBe('applied');
  });

  it.each<{
    name: string;
    request: () => Request;
    outcome: ExtendOutcome;
    id: string;
    pendingUntil: Date;
    expiresAt: Date;
  }>([
    {
      name: 'a manual grant → requested; it waits until the grant ends when that is sooner than the pending window',
      request: () => grant(),
      outcome: 'requested',
      id: '1',
      pendingUntil: grantEnd,
      expiresAt: grantEnd,
    },
    {
      name: 'a manual grant with a short pending window → requested; it waits for that window',
      request: () => grant({ pendingTimeoutHours: 1 }),
      outcome: 'requested',
      id: '1',
      pendingUntil: minutesAfterT0(120),
      expiresAt: grantEnd,
    },
    {
      name: 'an automatic grant → approved at once, the end moved by the hours',
      request: () =>
        grant({ approvalType: 'auto', approverGroup: null, requiredApprovals: 0, approvals: [] }),
      outcome: 'approved',
      id: '1',
      pendingUntil: grantEnd,
      expiresAt: minutesAfterT0(370),
    },
    {
      name: 'after an approved one → the next ordinal',
      request: () =>
        grant({ extensions: [anExtension({ status: 'approved', decidedAt: iso(minutesAfterT0(51)) })] }),
      outcome: 'requested',
      id: '2',
      pendingUntil: grantEnd,
      expiresAt: grantEnd,
    },
  ])('$name', ({ request, outcome, id, pendingUntil, expiresAt }) => {
    // Act
    const t = extend(request());

    // Assess
    expect(t.kind).toBe('applied');
    if (t.kind !== 'applied') return;
    expect(t.outcome).toBe(outcome);
    expect(t.request.expiresAt).toBe(iso(expiresAt));
    expect(t.request.extensions.at(-1)).toEqual({
      id,
      hours: 2,
      reason: 'the migration overran',
      status: outcome === 'approved' ? 'approved' : 'pending',
      approvals: [],
      createdAt: iso(at),
      pendingUntil: iso(pendingUntil),
      decidedAt: outcome === 'approved' ? iso(at) : null,
    });
  });

  it('the same ask retried within a minute → already applied, no second extension', () => {
    // Prepare
    const first = extend(grant());
    const asked = first.kind === 'applied' ? first.request : grant();

    // Act
    const retry = extend(asked, ALICE, 2, new Date(at.getTime() + 30_000));
    const later = extend(asked, ALICE, 2, new Date(at.getTime() + 61_000));

    // Assess
    expect(retry.kind).toBe('alreadyApplied');
    expect(retry.kind === 'alreadyApplied' && retry.outcome).toBe('requested');
    expect(retry.kind === 'alreadyApplied' && retry.request.extensions).toHaveLength(1);
    expect(later.kind === 'refused' && later.refusal.code).toBe('EXTENSION_NOT_ALLOWED');
  });
});

describe('deciding on an extension', () => {
  /** The single-group grant with extension 1 waiting. */
  const waiting = (overrides: Partial<Extension> = {}) => grant({ extensions: [anExtension(overrides)] });
  /** The two-stage grant (Bob, then Dana approved it) with extension 1 waiting. */
  const stagedWaiting = (overrides: Partial<Extension> = {}) =>
    aStagedGrant({ maxExtensions: 3, extensions: [anExtension(overrides)] });

  const approve = (upn: string, linkStage?: number): DecisionInput => ({
    approver: who(upn),
    decision: 'approve',
    ...(linkStage === undefined ? {} : { linkStage }),
  });

  it.each<{
    name: string;
    request: () => Request;
    input: DecisionInput;
    extensionId?: string;
    staged?: boolean;
    when?: Date;
    code?: ErrorCode;
    outcome?: DecisionOutcome;
  }>([
    {
      name: 'an approver of the group approves → approved',
      request: () => waiting(),
      input: approve(CAROL),
      outcome: 'approved',
    },
    {
      name: 'the approver who approved the request approves its extension → approved (another round)',
      request: () => waiting(),
      input: approve(BOB),
      outcome: 'approved',
    },
    {
      name: 'an approver denies → denied',
      request: () => waiting(),
      input: { approver: who(CAROL), decision: 'deny' },
      outcome: 'denied',
    },
    {
      name: 'the requester → SELF_APPROVAL',
      request: () => waiting(),
      input: approve(ALICE),
      code: 'SELF_APPROVAL',
    },
    {
      name: 'someone in no group → NOT_AN_APPROVER',
      request: () => waiting(),
      input: approve(MALLORY),
      code: 'NOT_AN_APPROVER',
    },
    {
      name: 'an approver who decided on this extension already → ALREADY_DECIDED',
      request: () => waiting({ approvals: [aDecision(CAROL, 0)] }),
      input: approve(CAROL),
      code: 'ALREADY_DECIDED',
    },
    {
      name: 'an extension that does not exist → NOT_FOUND',
      request: () => waiting(),
      input: approve(CAROL),
      extensionId: '2',
      code: 'NOT_FOUND',
    },
    {
      name: 'a canceled extension → EXTENSION_NOT_PENDING',
      request: () => waiting({ status: 'canceled', decidedAt: iso(minutesAfterT0(55)) }),
      input: approve(CAROL),
      code: 'EXTENSION_NOT_PENDING',
    },
    {
      name: 'an extension past its deadline (timer not run yet) → EXTENSION_NOT_PENDING',
      request: () => waiting({ pendingUntil: iso(minutesAfterT0(59)) }),
      input: approve(CAROL),
      code: 'EXTENSION_NOT_PENDING',
    },
    {
      name: 'a grant past its end (timer not run yet) → EXTENSION_NOT_PENDING',
      request: () => waiting(),
      input: approve(CAROL),
      when: grantEnd,
      code: 'EXTENSION_NOT_PENDING',
    },
    {
      name: 'two stages: a first-stage approver → the first stage approved',
      request: () => stagedWaiting(),
      input: approve(BOB),
      staged: true,
      outcome: 'stageApproved',
    },
    {
      name: 'two stages: a second-stage approver while the first is open → STAGE_NOT_OPEN',
      request: () => stagedWaiting(),
      input: approve(DANA),
      staged: true,
      code: 'STAGE_NOT_OPEN',
    },
    {
      name: 'two stages: a second-stage approver once the first approved → approved',
      request: () => stagedWaiting({ approvals: [aDecision(CAROL, 0)] }),
      input: approve(DANA),
      staged: true,
      outcome: 'approved',
    },
    {
      name: 'two stages: a member of both who approved the first stage → ALREADY_DECIDED (once per round)',
      request: () => stagedWaiting({ approvals: [aDecision(ERIN, 0)] }),
      input: approve(ERIN),
      staged: true,
      code: 'ALREADY_DECIDED',
    },
    {
      name: 'two stages: a link of the first stage once the second is open → STAGE_NOT_OPEN',
      request: () => stagedWaiting({ approvals: [aDecision(CAROL, 0)] }),
      input: approve(ERIN, 0),
      staged: true,
      code: 'STAGE_NOT_OPEN',
    },
  ])('$name', ({ request, input, extensionId, staged, when, code, outcome }) => {
    // Act
    const t = decideExtensionTransition(
      request(),
      extensionId ?? '1',
      input,
      staged === true ? STAGED_MEMBERS : MEMBERS,
      when ?? at,
    );

    // Assess
    if (code !== undefined) {
      expect(t.kind).not.toBe('applied');
      if (t.kind !== 'applied') expect(t.refusal.code).toBe(code);
    } else {
      expect(t.kind).toBe('applied');
      if (t.kind === 'applied') expect(t.outcome).toBe(outcome);
    }
  });

  it.each([
    {
      name: 'approved → the end moves later by its hours',
      decision: 'approve',
      status: 'approved',
      expiresAt: minutesAfterT0(370),
    },
    { name: 'denied → the end stays', decision: 'deny', status: 'denied', expiresAt: grantEnd },
  ] as const)('$name, the grant still live', ({ decision, status, expiresAt }) => {
    // Act
    const t = decideExtensionTransition(waiting(), '1', { approver: who(CAROL), decision }, MEMBERS, at);

    // Assess
    expect(t.kind === 'applied' && t.request).toMatchObject({
      status: 'approved',
      expiresAt: iso(expiresAt),
      extensions: [
        { id: '1', status, decidedAt: iso(at), approvals: [{ approver: CAROL, decision, stage: 0 }] },
      ],
    });
  });

  it('a first-stage decision keeps the extension pending and the end where it was', () => {
    // Act
    const t = decideExtensionTransition(stagedWaiting(), '1', approve(BOB), STAGED_MEMBERS, at);

    // Assess
    expect(t.kind === 'applied' && t.request.expiresAt).toBe(iso(grantEnd));
    expect(t.kind === 'applied' && t.request.extensions[0]?.status).toBe('pending');
  });

  it.each([
    {
      name: 'the approval that closed its first stage, retried → already applied as stageApproved',
      request: () => stagedWaiting({ approvals: [aDecision(BOB, 0)] }),
      upn: BOB,
      outcome: 'stageApproved',
    },
    {
      name: 'the approval that approved it, retried → already applied as approved',
      request: () =>
        stagedWaiting({
          approvals: [aDecision(BOB, 0), aDecision(DANA, 1)],
          status: 'approved',
          decidedAt: iso(minutesAfterT0(55)),
        }),
      upn: DANA,
      outcome: 'approved',
    },
  ])('$name', ({ request, upn, outcome }) => {
    // Act
    const t = decideExtensionTransition(request(), '1', approve(upn), STAGED_MEMBERS, at);

    // Assess
    expect(t.kind).toBe('alreadyApplied');
    expect(t.kind === 'alreadyApplied' && [t.outcome, t.refusal.code]).toEqual([outcome, 'ALREADY_DECIDED']);
  });

  it('an approver of the waiting extension sees the request as approvable; the requester does not', () => {
    // Prepare
    const request = waiting();

    // Act / Assess
    expect(awaitsDecisionBy(request, who(CAROL), MEMBERS, at)).toBe(true);
    expect(awaitsDecisionBy(request, who(ALICE), MEMBERS, at)).toBe(false);
    expect(awaitsDecisionBy(grant(), who(CAROL), MEMBERS, at)).toBe(false);
  });

  it('the view shows each extension with its stages and the stage that decides now', () => {
    // Act
    const view = toRequestView(stagedWaiting({ approvals: [aDecision(BOB, 0)] }), []);

    // Assess
    expect(view.extensions[0]?.stages.map((s) => s.status)).toEqual(['approved', 'open']);
    expect(view.extensions[0]?.currentStage).toBe(1);
  });
});

describe('an extension withdrawn, expired, or closed with its grant', () => {
  const waiting = () => grant({ extensions: [anExtension()] });

  it.each<{
    name: string;
    request: () => Request;
    who?: string;
    id?: string;
    kind: string;
    code?: ErrorCode;
  }>([
    { name: 'the requester withdraws the waiting one → canceled', request: waiting, kind: 'applied' },
    {
      name: 'an approver withdraws it → NOT_REQUESTER',
      request: waiting,
      who: BOB,
      kind: 'refused',
      code: 'NOT_REQUESTER',
    },
    {
      name: 'withdrawn again (a retry) → already applied',
      request: () =>
        grant({ extensions: [anExtension({ status: 'canceled', decidedAt: iso(minutesAfterT0(55)) })] }),
      kind: 'alreadyApplied',
      code: 'EXTENSION_NOT_PENDING',
    },
    {
      name: 'an approved one → EXTENSION_NOT_PENDING',
      request: () =>
        grant({ extensions: [anExtension({ status: 'approved', decidedAt: iso(minutesAfterT0(55)) })] }),
      kind: 'refused',
      code: 'EXTENSION_NOT_PENDING',
    },
    {
      name: 'one that does not exist → NOT_FOUND',
      request: waiting,
      id: '7',
      kind: 'refused',
      code: 'NOT_FOUND',
    },
  ])('$name', ({ request, who: caller, id, kind, code }) => {
    // Act
    const t = cancelExtensionTransition(request(), id ?? '1', anActor(caller ?? ALICE), at);

    // Assess
    expect(t.kind).toBe(kind);
    if (t.kind === 'applied')
      expect(t.request.extensions[0]).toMatchObject({ status: 'canceled', decidedAt: iso(at) });
    else expect(t.refusal.code).toBe(code);
  });

  it.each([
    {
      name: 'before its deadline → unchanged',
      when: minutesAfterT0(119),
      outcome: 'unchanged',
      status: 'pending',
    },
    {
      name: 'at its deadline → expired at the deadline itself',
      when: minutesAfterT0(120),
      outcome: 'expired',
      status: 'expired',
    },
    {
      name: 'a late timer → expired at the deadline itself',
      when: minutesAfterT0(200),
      outcome: 'expired',
      status: 'expired',
    },
  ])('a waiting extension $name', ({ when, outcome, status }) => {
    // Prepare: it waits until T0+120 min, the grant runs on to T0+250 min
    const request = grant({ extensions: [anExtension({ pendingUntil: iso(minutesAfterT0(120)) })] });

    // Act
    const t = expireExtension(request, when);

    // Assess
    expect(t.outcome).toBe(outcome);
    expect(t.request.extensions[0]?.status).toBe(status);
    expect(t.request.extensions[0]?.decidedAt).toBe(status === 'expired' ? iso(minutesAfterT0(120)) : null);
    expect(t.request.status).toBe('approved');
  });

  it('no extension waits → expiring changes nothing', () => {
    // Act / Assess
    expect(expireExtension(grant(), hoursAfterT0(3)).outcome).toBe('unchanged');
  });

  it('the grant ends while one waits → the extension expires with it', () => {
    // Act
    const t = end(waiting(), grantEnd);

    // Assess
    expect(t.outcome).toBe('ended');
    expect(t.request.extensions[0]).toMatchObject({ status: 'expired', decidedAt: iso(grantEnd) });
  });

  it('the grant is revoked while one waits → the extension is canceled', () => {
    // Act
    const t = revokeTransition(waiting(), { actor: anActor(BOB) }, MEMBERS, at);

    // Assess
    expect(t.kind === 'applied' && t.request.extensions[0]).toMatchObject({
      status: 'canceled',
      decidedAt: iso(at),
    });
  });
});

describe("the grant's next deadline", () => {
  it.each<{ name: string; request: () => Request; when?: Date; next: Date | null }>([
    {
      name: 'a scheduled grant → its start',
      request: () =>
        grant({
          startAt: iso(hoursAfterT0(2)),
          grantedAt: iso(hoursAfterT0(2)),
          expiresAt: iso(hoursAfterT0(6)),
        }),
      next: hoursAfterT0(2),
    },
    { name: 'a live grant, nothing waiting → its end', request: () => grant(), next: grantEnd },
    {
      name: 'an extension waiting until before the end → its deadline',
      request: () => grant({ extensions: [anExtension({ pendingUntil: iso(minutesAfterT0(120)) })] }),
      next: minutesAfterT0(120),
    },
    {
      name: 'an extension waiting until the end itself → the end',
      request: () => grant({ extensions: [anExtension()] }),
      next: grantEnd,
    },
    {
      name: 'a decided extension → the (moved) end',
      request: () =>
        grant({
          expiresAt: iso(minutesAfterT0(370)),
          extensions: [anExtension({ status: 'approved', decidedAt: iso(minutesAfterT0(55)) })],
        }),
      next: minutesAfterT0(370),
    },
    { name: 'a pending request → none', request: () => aRequest(), next: null },
    {
      name: 'a grant that ended → none',
      request: () => grant({ status: 'ended', endedAt: iso(grantEnd) }),
      when: grantEnd,
      next: null,
    },
  ])('$name', ({ request, when, next }) => {
    // Act / Assess
    expect(nextGrantDeadline(request(), when ?? at)).toBe(next === null ? null : iso(next));
  });
});
