/**
 * Emergency access (break glass) and step-up for approvers, as pure rules: who may ask, within what
 * caps, what the grant looks like; who closes the review and how; which tokens may decide on a
 * request whose policy asks for an authentication context.
 */
import { describe, expect, it } from 'vitest';
import { DomainError } from '#shared/domain/errors';
import { reviewTransition, ReviewBody, MIN_EMERGENCY_REASON } from '#shared/domain/emergency';
import { decideTransition, planRequest, SubmitRequestBody, type Request } from '#shared/domain/request';
import { claimsRequest, meetsAuthContext, stepUpRefusal, AuthContext } from '#shared/domain/step-up';
import { decideExtensionTransition } from '#shared/domain/extensions';
import {
  ALICE,
  BOB,
  MALLORY,
  MEMBERS,
  MOVE,
  T0,
  aPolicy,
  aRequest,
  aTask,
  hoursAfterT0,
  idOf,
  iso,
  minutesAfterT0,
  who,
} from './builders';

const ON_FIRE = 'INC-9: production mail flow is down';

function emergency(
  body: Record<string, unknown>,
  member = true,
  policy = aPolicy({ breakGlassGroup: 'on-call' }),
) {
  return planRequest(
    {
      id: 'req-e',
      requester: ALICE,
      requesterId: idOf(ALICE),
      body: SubmitRequestBody.parse({
        task: MOVE,
        reason: ON_FIRE,
        durationHours: 1,
        emergency: true,
        ...body,
      }),
      tasks: [aTask()],
      isBreakGlassMember: member,
    },
    policy,
    { minDurationSeconds: 60, defaultApproverGroup: null },
    T0,
  );
}

function refusal(f: () => unknown): DomainError {
  try {
    f();
  } catch (e) {
    if (e instanceof DomainError) return e;
    throw e;
  }
  throw new Error('not refused');
}

describe('asking for emergency access', () => {
  it('grants at once, from now, with an open review and no approval', () => {
    const r = emergency({});
    expect(r).toMatchObject({
      status: 'approved',
      emergency: true,
      approvals: [],
      grantedAt: iso(T0),
      expiresAt: iso(hoursAfterT0(1)),
      review: { status: 'open', reviewer: null },
    });
  });

  it.each([
    [
      'a policy without a break-glass group',
      () => emergency({}, true, aPolicy()),
      'BREAK_GLASS_NOT_ALLOWED',
      400,
    ],
    ['someone outside the break-glass group', () => emergency({}, false), 'NOT_BREAK_GLASS_MEMBER', 403],
    [
      `a reason under ${MIN_EMERGENCY_REASON} characters`,
      () => emergency({ reason: 'prod down' }),
      'INVALID_INPUT',
      400,
    ],
    [
      'more than breakGlassMaxHours (1 by default)',
      () => emergency({ durationHours: 2 }),
      'DURATION_TOO_LONG',
      400,
    ],
    ['a scheduled start', () => emergency({ startAt: iso(minutesAfterT0(30)) }), 'INVALID_START', 400],
    [
      'an automatic policy with no group to review it (and no default group)',
      () =>
        emergency(
          {},
          true,
          aPolicy({ approvalType: 'auto', approverGroup: undefined, breakGlassGroup: 'on-call' }),
        ),
      'BREAK_GLASS_NOT_ALLOWED',
      400,
    ],
  ])('is refused for %s', (_name, ask, code) => {
    expect(refusal(ask).code).toBe(code);
  });

  it('a request without emergency is unaffected by the break-glass group', () => {
    const r = emergency({ emergency: false }, false);
    expect(r).toMatchObject({ status: 'pending', emergency: false, review: null });
  });
});

describe('closing the review', () => {
  const used: Request = aRequest({
    status: 'approved',
    emergency: true,
    review: { status: 'open', reviewer: null, reviewerId: null, comment: null, at: null, remindedAt: null },
  });
  const at = minutesAfterT0(90);

  it('an approver of the request closes it, with the reviewer and the time', () => {
    const t = reviewTransition(used, who(BOB), ReviewBody.parse({ outcome: 'justified' }), MEMBERS, at);
    expect(t).toMatchObject({
      kind: 'applied',
      outcome: 'justified',
      request: { review: { status: 'justified', reviewer: BOB, reviewerId: idOf(BOB), at: iso(at) } },
    });
  });

  it.each([
    ['the requester', ALICE, used, 'SELF_APPROVAL'],
    ['someone outside its groups', MALLORY, used, 'NOT_AN_APPROVER'],
    ['a request that was no emergency', BOB, aRequest({ status: 'approved' }), 'REVIEW_NOT_OPEN'],
  ])('is refused for %s', (_name, upn, request, code) => {
    const t = reviewTransition(request, who(upn), ReviewBody.parse({ outcome: 'justified' }), MEMBERS, at);
    expect(t.kind === 'refused' && t.refusal.code).toBe(code);
  });

  it('needs a comment to call a use unjustified', () => {
    expect(ReviewBody.safeParse({ outcome: 'unjustified' }).success).toBe(false);
    expect(ReviewBody.safeParse({ outcome: 'unjustified', comment: 'no incident on record' }).success).toBe(
      true,
    );
  });

  it('is closed once: a second reviewer is refused, the same one retrying finds it closed as applied', () => {
    const closed = reviewTransition(used, who(BOB), ReviewBody.parse({ outcome: 'justified' }), MEMBERS, at);
    if (closed.kind !== 'applied') throw new Error('not applied');
    const again = reviewTransition(
      closed.request,
      who(BOB),
      ReviewBody.parse({ outcome: 'justified' }),
      MEMBERS,
      at,
    );
    const other = reviewTransition(
      closed.request,
      who('carol@contoso.com'),
      ReviewBody.parse({ outcome: 'justified' }),
      MEMBERS,
      at,
    );
    expect(again.kind).toBe('alreadyApplied');
    expect(other.kind === 'refused' && other.refusal.code).toBe('REVIEW_NOT_OPEN');
  });
});

describe('step-up for approvers', () => {
  it.each([
    ['c1', { acrs: ['c1'], amr: [] }, true],
    ['c1', { acrs: ['c2'], amr: ['mfa'] }, false],
    ['mfa', { acrs: [], amr: ['pwd', 'mfa'] }, true],
    ['mfa', { acrs: ['c1'], amr: ['pwd'] }, false],
  ])('%s is met by %j: %s', (required, strength, met) => {
    expect(meetsAuthContext(required, strength)).toBe(met);
  });

  it('accepts only c1 … c99 and mfa as contexts', () => {
    for (const ok of ['c1', 'c9', 'c42', 'c99', 'mfa']) expect(AuthContext.safeParse(ok).success).toBe(true);
    for (const bad of ['c0', 'c100', 'C1', 'c01', 'MFA', '', 'c'])
      expect(AuthContext.safeParse(bad).success).toBe(false);
  });

  it('answers the claims challenge Entra and MSAL understand', () => {
    const refused = stepUpRefusal('c1', { acrs: [], amr: [] });
    expect(refused).toMatchObject({ code: 'STEP_UP_REQUIRED', kind: 'unauthenticated' });
    expect(refused?.challenge).toBe(
      `Bearer error="insufficient_claims", error_description="This decision needs a stronger sign-in", claims="${claimsRequest('c1')}"`,
    );
    expect(JSON.parse(atob(claimsRequest('c1')))).toEqual({
      access_token: { acrs: { essential: true, value: 'c1' } },
    });
  });

  const guarded = aRequest({ approverAuthContext: 'c1' });
  it.each([
    ['approve without the context', { acrs: [], amr: ['mfa'] }, 'STEP_UP_REQUIRED'],
    ['approve with it', { acrs: ['c1'], amr: [] }, undefined],
  ])('a decision to %s', (_name, strength, code) => {
    const t = decideTransition(
      guarded,
      { approver: who(BOB), decision: 'approve', strength },
      MEMBERS,
      minutesAfterT0(5),
    );
    expect(t.kind === 'refused' ? t.refusal.code : undefined).toBe(code);
  });

  it('tells a stranger or the requester who they are before asking for a stronger sign-in', () => {
    for (const [upn, code] of [
      [ALICE, 'SELF_APPROVAL'],
      [MALLORY, 'NOT_AN_APPROVER'],
    ] as const) {
      const t = decideTransition(
        guarded,
        { approver: who(upn), decision: 'approve' },
        MEMBERS,
        minutesAfterT0(5),
      );
      expect(t.kind === 'refused' && t.refusal.code).toBe(code);
    }
  });

  it('applies to extension decisions and reviews too', () => {
    const grant = aRequest({
      status: 'approved',
      approverAuthContext: 'mfa',
      maxExtensions: 1,
      emergency: true,
      review: { status: 'open', reviewer: null, reviewerId: null, comment: null, at: null, remindedAt: null },
      extensions: [
        {
          id: '1',
          hours: 1,
          reason: 'more',
          status: 'pending',
          approvals: [],
          createdAt: iso(minutesAfterT0(20)),
          pendingUntil: iso(minutesAfterT0(60)),
          decidedAt: null,
        },
      ],
    });
    const extension = decideExtensionTransition(
      grant,
      '1',
      { approver: who(BOB), decision: 'approve' },
      MEMBERS,
      minutesAfterT0(30),
    );
    const review = reviewTransition(
      grant,
      who(BOB),
      ReviewBody.parse({ outcome: 'justified' }),
      MEMBERS,
      minutesAfterT0(30),
    );
    const strong = reviewTransition(
      grant,
      who(BOB),
      ReviewBody.parse({ outcome: 'justified' }),
      MEMBERS,
      minutesAfterT0(30),
      {
        acrs: [],
        amr: ['mfa'],
      },
    );
    expect(extension.kind === 'refused' && extension.refusal.code).toBe('STEP_UP_REQUIRED');
    // An extension that does not exist is not found, whatever the sign-in.
    const missing = decideExtensionTransition(
      grant,
      '2',
      { approver: who(BOB), decision: 'approve' },
      MEMBERS,
      minutesAfterT0(30),
    );
    expect(missing.kind === 'refused' && missing.refusal.code).toBe('NOT_FOUND');
    expect(review.kind === 'refused' && review.refusal.code).toBe('STEP_UP_REQUIRED');
    expect(strong.kind).toBe('applied');
  });
});
