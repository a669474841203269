/**
 * Emergency access and step-up through the real handlers: a member of the policy's break-glass
 * group is granted at once (audited as `emergency.used`, listed for review), every refusal answers
 * 400/403 and writes nothing; the review is closed by a reviewer (never the requester), once, with a
 * comment when unjustified; a decision on a request whose policy asks for step-up is refused 401
 * with the claims challenge and changes nothing without it, and counts with it. Real Azurite, the
 * real development issuer and directory, the real Durable engine and client (approval-flows.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestView } from '#shared/domain/request';
import { getDeps } from '#shared/app/deps';
import { call } from '../../support/component';
import { configure, expectProblem, startFlowEnv, type FlowEnv } from './approval-flows';

const ALICE = 'alice@contoso.com'; // on call: in the break-glass group
const BOB = 'bob@contoso.com'; // not on call
const ANN = 'ann@contoso.com'; // approver (owners)
const SAM = 'sam@contoso.com'; // approver of nothing here (security)
const GLASS = 'Emergency\\Restart-Service';
const NO_GLASS = 'Emergency\\Read-Log';
const STEP_UP = 'Emergency\\Wipe-Device';
const REASON = 'INC-4711: the payment service is down';

let flow: FlowEnv;

beforeAll(async () => {
  flow = await startFlowEnv();
  await configure(flow, {
    groups: { owners: [ANN], oncall: [ALICE], security: [SAM] },
    tasks: [GLASS, NO_GLASS, STEP_UP],
    policies: [
      {
        scope: 'task',
        target: GLASS,
        approvalType: 'manual',
        approverGroup: 'owners',
        breakGlassGroup: 'oncall',
        breakGlassMaxHours: 2,
        approverAuthContext: 'c1',
      },
      { scope: 'task', target: NO_GLASS, approvalType: 'manual', approverGroup: 'owners' },
      {
        scope: 'task',
        target: STEP_UP,
        approvalType: 'manual',
        approverGroup: 'owners',
        approverAuthContext: 'c1',
        maxExtensions: 1,
      },
    ],
  });
}, 60_000);

afterAll(async () => {
  await flow.close();
});

const stepped = (upn: string) => flow.env.issuer.mint({ upn, acrs: ['c1'] });

async function submit(upn: string, body: Record<string, unknown>) {
  return flow.call(flow.fn.submitRequest, { token: await flow.token(upn), body });
}

async function anEmergency(): Promise<RequestView> {
  const answer = await submit(ALICE, { task: GLASS, reason: REASON, durationHours: 1, emergency: true });
  expect(answer.status, JSON.stringify(answer.body)).toBe(202);
  return answer.body as RequestView;
}

describe('an emergency submit', () => {
  it('grants a break-glass member at once, audits emergency.used with the grant, and lists it for review', async () => {
    // Act
    const view = await anEmergency();

    // Assess: granted, open review, the audit trail and the open-review index.
    expect(view).toMatchObject({ status: 'approved', emergency: true, review: { status: 'open' } });
    const actions = (await flow.audit(view.id)).map((r) => r.action);
    expect(actions).toEqual(expect.arrayContaining(['request.submitted', 'grant.started', 'emergency.used']));
    const used = (await flow.audit(view.id)).find((r) => r.action === 'emergency.used');
    expect(used?.parsed).toMatchObject({ reason: REASON, durationHours: 1, breakGlassGroup: 'oncall' });
    expect(await getDeps().requests.openReviews(1000)).toContain(view.id);
    expect(await getDeps().requests.liveIds(view.requesterId)).toContain(view.id);
  });

  it.each([
    {
      scenario: 'a policy without a break-glass group',
      upn: ALICE,
      body: { task: NO_GLASS, reason: REASON, durationHours: 1 },
      status: 400,
      code: 'BREAK_GLASS_NOT_ALLOWED',
    },
    {
      scenario: 'a requester outside the break-glass group',
      upn: BOB,
      body: { task: GLASS, reason: REASON, durationHours: 1 },
      status: 403,
      code: 'NOT_BREAK_GLASS_MEMBER',
    },
    {
      scenario: 'a reason too short to say what is on fire',
      upn: ALICE,
      body: { task: GLASS, reason: 'INC-1', durationHours: 1 },
      status: 400,
      code: 'INVALID_INPUT',
    },
    {
      scenario: 'more hours than the emergency maximum',
      upn: ALICE,
      body: { task: GLASS, reason: REASON, durationHours: 3 },
      status: 400,
      code: 'DURATION_TOO_LONG',
    },
    {
      scenario: 'a scheduled start',
      upn: ALICE,
      body: { task: GLASS, reason: REASON, durationHours: 1, startAt: '2099-01-01T00:00:00Z' },
      status: 400,
      code: 'INVALID_START',
    },
  ])('refuses $scenario ($status $code) and grants nothing', async ({ upn, body, status, code }) => {
    // Prepare
    const before = await getDeps().requests.openReviews(1000);

    // Act
    const answer = await submit(upn, { ...body, emergency: true });

    // Assess
    expectProblem(answer, status, code);
    expect(await getDeps().requests.openReviews(1000)).toEqual(before);
  });
});

describe('an emergency grant', () => {
  it('is revoked like any other grant, and its review stays open until someone reviews it', async () => {
    // Prepare
    const { id } = await anEmergency();

    // Act: an approver of the request ends it early
    const revoked = await flow.call(flow.fn.revokeRequest, {
      token: await flow.token(ANN),
      params: { id },
      body: { comment: 'fixed, closing access' },
    });

    // Assess
    expect(revoked.status, JSON.stringify(revoked.body)).toBe(200);
    expect(revoked.body).toMatchObject({ status: 'revoked', emergency: true, review: { status: 'open' } });
    expect(await getDeps().requests.liveIds((revoked.body as RequestView).requesterId)).not.toContain(id);
    expect(await getDeps().requests.openReviews(1000)).toContain(id);
  });
});

describe('the review', () => {
  it('is closed by a reviewer with step-up, audited, and moved off the open list; never by the requester or a stranger', async () => {
    // Prepare
    const { id } = await anEmergency();
    const review = async (token: string, body: unknown) =>
      flow.call(flow.fn.reviewRequest, { token, params: { id }, body });

    // Act + Assess: the requester, a stranger, no comment on unjustified, no step-up.
    expectProblem(await review(await stepped(ALICE), { outcome: 'justified' }), 403, 'SELF_APPROVAL');
    expectProblem(await review(await stepped(SAM), { outcome: 'justified' }), 404, 'NOT_FOUND');
    expectProblem(await review(await stepped(ANN), { outcome: 'unjustified' }), 400, 'INVALID_INPUT');
    const weak = await review(await flow.token(ANN), { outcome: 'justified' });
    expectProblem(weak, 401, 'STEP_UP_REQUIRED');
    expect(weak.headers.get('www-authenticate')).toContain('insufficient_claims');
    expect(await getDeps().requests.openReviews(1000)).toContain(id);

    // Act: the reviewer, signed in strongly enough.
    const closed = await review(await stepped(ANN), { outcome: 'unjustified', comment: 'no incident filed' });

    // Assess
    expect(closed.status, JSON.stringify(closed.body)).toBe(200);
    expect((closed.body as RequestView).review).toMatchObject({
      status: 'unjustified',
      reviewer: ANN,
      comment: 'no incident filed',
    });
    const reviewed = (await flow.audit(id)).find((r) => r.action === 'emergency.reviewed');
    expect(reviewed?.parsed).toMatchObject({ outcome: 'unjustified', comment: 'no incident filed' });
    expect(await getDeps().requests.openReviews(1000)).not.toContain(id);
    // Once closed, another outcome is a conflict; the same reviewer's same outcome a harmless retry.
    expectProblem(await review(await stepped(ANN), { outcome: 'justified' }), 409, 'REVIEW_NOT_OPEN');
    expect((await review(await stepped(ANN), { outcome: 'unjustified', comment: 'x' })).status).toBe(200);
  });

  it('lists open reviews to their reviewers and admins, not to strangers', async () => {
    // Prepare
    const { id } = await anEmergency();
    const list = async (token: string) =>
      (await flow.call(flow.fn.listReviews, { token, method: 'GET' })).body as { items: RequestView[] };

    // Act + Assess
    expect((await list(await flow.token(ANN))).items.map((r) => r.id)).toContain(id);
    expect((await list(flow.admin)).items.map((r) => r.id)).toContain(id);
    expect((await list(await flow.token(SAM))).items.map((r) => r.id)).not.toContain(id);
  });

  it('lists closed reviews with ?status=closed, and refuses a continuation token it did not issue', async () => {
    // Prepare
    const { id } = await anEmergency();
    const closed = await flow.call(flow.fn.reviewRequest, {
      token: await stepped(ANN),
      params: { id },
      body: { outcome: 'justified' },
    });
    expect(closed.status).toBe(200);
    const list = async (query: string) =>
      call(flow.fn.listReviews, {
        path: `/api/reviews?${query}`,
        token: await flow.token(ANN),
        durableClient: true,
      });

    // Act
    const [open, done, bogus] = await Promise.all([
      list('status=open'),
      list('status=closed'),
      list('continuationToken=bm90LWEtdG9rZW4'),
    ]);

    // Assess
    const ids = (answer: { body: unknown }) =>
      (answer.body as { items: RequestView[] }).items.map((r) => r.id);
    expect(ids(open)).not.toContain(id);
    expect(ids(done)).toContain(id);
    expect(bogus.status).toBe(400);
  });
});

describe('step-up on a decision', () => {
  it('refuses an approval without the context (401 with the claims challenge, nothing written), counts it with', async () => {
    // Prepare
    const submitted = await submit(BOB, { task: STEP_UP, reason: 'INC-9', durationHours: 1 });
    expect(submitted.status).toBe(202);
    const { id } = submitted.body as RequestView;
    const approve = async (token: string) =>
      flow.call(flow.fn.approveRequest, { token, params: { id }, body: {} });

    // Act
    const weak = await approve(await flow.token(ANN));

    // Assess: refused with the challenge, the request untouched.
    expectProblem(weak, 401, 'STEP_UP_REQUIRED');
    expect(weak.headers.get('www-authenticate')).toMatch(/claims="/);
    const row = (await getDeps().requests.read(id))?.request;
    expect(row).toMatchObject({ status: 'pending', approvals: [] });

    // Act: with the context.
    const strong = await approve(await stepped(ANN));

    // Assess
    expect(strong.status, JSON.stringify(strong.body)).toBe(200);
    expect((strong.body as RequestView).status).toBe('approved');
  });

  it('asks the same of an extension decision, and a review of no emergency is 409', async () => {
    // Prepare: a live grant of the step-up task, with an extension waiting.
    const submitted = await submit(BOB, { task: STEP_UP, reason: 'INC-10', durationHours: 1 });
    const { id } = submitted.body as RequestView;
    const approved = await flow.call(flow.fn.approveRequest, {
      token: await stepped(ANN),
      params: { id },
      body: {},
    });
    expect(approved.status).toBe(200);
    const extended = await flow.call(flow.fn.extendRequest, {
      token: await flow.token(BOB),
      params: { id },
      body: { hours: 1, reason: 'INC-10 runs long' },
    });
    expect(extended.status, JSON.stringify(extended.body)).toBe(200);
    const decide = async (token: string) =>
      flow.call(flow.fn.approveExtension, { token, params: { id, extensionId: '1' }, body: {} });

    // Act + Assess
    const weak = await decide(await flow.token(ANN));
    expectProblem(weak, 401, 'STEP_UP_REQUIRED');
    expect(weak.headers.get('www-authenticate')).toMatch(/claims="/);
    expect((await getDeps().requests.read(id))?.request.extensions[0]?.status).toBe('pending');
    const strong = await decide(await stepped(ANN));
    expect(strong.status, JSON.stringify(strong.body)).toBe(200);
    expect((strong.body as RequestView).extensions[0]?.status).toBe('approved');
    expectProblem(
      await flow.call(flow.fn.reviewRequest, {
        token: await stepped(ANN),
        params: { id },
        body: { outcome: 'justified' },
      }),
      409,
      'REVIEW_NOT_OPEN',
    );
  });
});
