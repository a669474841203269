/**
 * Approval stages (AND) through the real handlers: a request under a two-stage policy is decided
 * stage by stage, only the open stage's members decide, one denial denies, nobody decides twice,
 * concurrent approvals across both stages reach one consistent outcome, and role requests combine
 * their members' stages or are refused. Real Azurite, the real development issuer and directory,
 * the real Durable engine and client (approval-flows.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestView } from '#shared/domain/request';
import { conformanceIssues } from '../../contract/conformance';
import { configure, expectProblem, members, startFlowEnv, type FlowEnv } from './approval-flows';

const ALICE = 'alice@contoso.com';
/** Stage 1: the mailbox owners; stage 2: security. Each group has ten members. */
const OWNERS = members('owner', 10);
const SECURITY = members('sec', 10);
/** In both groups: may decide in either stage, but only once per request. */
const DUAL = 'dual@contoso.com';
const STAGED = 'Stages\\Move-Mailbox';
/** Stage 2 needs two approvals (the concurrency scenario). */
const STAGED_TWO = 'Stages\\Export-Mailbox';
const SINGLE = 'Stages\\Set-Mailbox';
const OTHER = 'Stages\\Set-Quota';
const ROLE = 'Stages Operator';
const CONFLICTING_ROLE = 'Stages Conflict';

let flow: FlowEnv;

beforeAll(async () => {
  flow = await startFlowEnv();
  await configure(flow, {
    groups: { owners: [...OWNERS, DUAL], security: [...SECURITY, DUAL] },
    tasks: [STAGED, STAGED_TWO, SINGLE, OTHER],
    roles: { [ROLE]: [STAGED, SINGLE], [CONFLICTING_ROLE]: [STAGED, OTHER] },
    policies: [
      {
        scope: 'task',
        target: STAGED,
        approvalType: 'manual',
        stages: [{ approverGroup: 'owners' }, { approverGroup: 'security' }],
      },
      {
        scope: 'task',
        target: STAGED_TWO,
        approvalType: 'manual',
        stages: [
          { approverGroup: 'owners', requiredApprovals: 1 },
          { approverGroup: 'security', requiredApprovals: 2 },
        ],
      },
      // A prefix of the two stages: combines with them.
      {
        scope: 'task',
        target: SINGLE,
        approvalType: 'manual',
        approverGroup: 'owners',
        requiredApprovals: 2,
      },
      // Security first: no one sequence satisfies it and the two-stage policy.
      { scope: 'task', target: OTHER, approvalType: 'manual', approverGroup: 'security' },
      { scope: 'role', target: ROLE, approvalType: 'manual', approverGroup: 'owners' },
      { scope: 'role', target: CONFLICTING_ROLE, approvalType: 'manual', approverGroup: 'owners' },
    ],
  });
}, 60_000);

afterAll(async () => {
  await flow.close();
});

async function submit(body: Record<string, unknown>): Promise<RequestView> {
  const res = await flow.call(flow.fn.submitRequest, {
    token: await flow.token(ALICE),
    body: { reason: 'INC-7', ...body },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body as RequestView;
}

async function decide(upn: string, id: string, decision: 'approve' | 'deny' = 'approve') {
  return flow.call(decision === 'approve' ? flow.fn.approveRequest : flow.fn.denyRequest, {
    token: await flow.token(upn),
    params: { id },
    body: {},
  });
}

async function read(id: string): Promise<RequestView> {
  const res = await flow.call(flow.fn.getRequest, {
    method: 'GET',
    token: await flow.token(ALICE),
    params: { id },
  });
  expect(res.status).toBe(200);
  return res.body as RequestView;
}

const statuses = (view: RequestView) => view.stages.map((s) => s.status);

describe('a request under two stages', () => {
  it('is decided stage by stage: a stage-2 member waits for stage 1, then decides', async () => {
    // Prepare
    const submitted = await submit({ task: STAGED });
    const { id } = submitted;

    // Act: security before its stage opens, then the owners, then security.
    const early = await decide(SECURITY[0] ?? '', id);
    const first = await decide(OWNERS[0] ?? '', id);
    const again = await decide(OWNERS[1] ?? '', id);
    const second = await decide(SECURITY[0] ?? '', id);

    // Assess
    expect(submitted).toMatchObject({ status: 'pending', currentStage: 0, requiredApprovals: 2 });
    expect(statuses(submitted)).toEqual(['open', 'waiting']);
    expectProblem(early, 409, 'STAGE_NOT_OPEN');
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ status: 'pending', currentStage: 1 });
    expect(statuses(first.body as RequestView)).toEqual(['approved', 'open']);
    // Stage 1 is over: another owner is not of the stage that decides now.
    expectProblem(again, 409, 'STAGE_NOT_OPEN');
    expect(second.body).toMatchObject({ status: 'approved', currentStage: null });
    expect(statuses(second.body as RequestView)).toEqual(['approved', 'approved']);
    // The workflow heard "look again" after stage 1 (still pending), then the decision.
    expect(await flow.raised(id)).toEqual([
      { name: 'RequestDecided', input: { status: 'pending' } },
      { name: 'RequestDecided', input: { status: 'approved' } },
    ]);
    const audit = await flow.audit(id);
    expect(audit.filter((r) => r.outcome === 'success').map((r) => [r.action, r.parsed.stage])).toEqual([
      ['request.submitted', undefined],
      ['request.approvalRecorded', 0],
      ['request.stageApproved', 0],
      ['request.stageOpened', 1],
      ['request.approved', 1],
      ['grant.started', undefined],
    ]);
    expect(audit.find((r) => r.action === 'request.stageOpened')?.parsed).toMatchObject({
      stage: 1,
      approverGroup: 'security',
    });
    expect(audit.filter((r) => r.action === 'request.decisionRefused')).toHaveLength(2);
    expect(
      [early, first, again, second].flatMap((a) => conformanceIssues('ApproveRequest', a.status, a.body)),
    ).toEqual([]);
  });

  it('is denied by one denial in stage 2, which the audit records with its stage', async () => {
    const { id } = await submit({ task: STAGED });
    await decide(OWNERS[2] ?? '', id);

    const denied = await decide(SECURITY[1] ?? '', id, 'deny');

    expect(denied.body).toMatchObject({ status: 'denied', currentStage: null });
    expect(statuses(denied.body as RequestView)).toEqual(['approved', 'denied']);
    const audit = await flow.audit(id);
    expect(audit.find((r) => r.action === 'request.denied')?.parsed).toMatchObject({
      stage: 1,
      approverGroup: 'security',
      decision: 'deny',
    });
  });

  it('takes one decision per person across stages: a member of both groups decides only once', async () => {
    const { id } = await submit({ task: STAGED });
    const first = await decide(DUAL, id);

    const twice = await decide(DUAL, id);

    expect(first.body).toMatchObject({ status: 'pending', currentStage: 1 });
    expectProblem(twice, 409, 'ALREADY_DECIDED');
    expect(await read(id)).toMatchObject({ status: 'pending', currentStage: 1, approvals: [{ stage: 0 }] });
  });

  it('twenty approvals at once across two stages reach one consistent outcome', async () => {
    // Prepare: stage 1 needs one owner, stage 2 two of security; all twenty approve at once.
    const { id } = await submit({ task: STAGED_TWO });
    const everyone = [...OWNERS, ...SECURITY];

    // Act
    const answers = await Promise.all(everyone.map((upn) => decide(upn, id)));

    // Assess: exactly the approvals the row took succeeded; every other answer is a 409 saying why.
    const row = await read(id);
    const succeeded = everyone.filter((_, i) => answers[i]?.status === 200);
    const refused = answers.filter((a) => a.status !== 200);
    expect(row.approvals.map((a) => a.approver).sort()).toEqual([...succeeded].sort());
    for (const a of refused)
      expect(['STAGE_NOT_OPEN', 'REQUEST_NOT_PENDING']).toContain((a.body as { code: string }).code);
    expect(refused.every((a) => a.status === 409)).toBe(true);
    // Stage 1 took exactly one owner; stage 2 at most two of security; approved iff it got both.
    const byStage = (s: number) => row.approvals.filter((a) => a.stage === s);
    expect(byStage(0)).toHaveLength(1);
    expect(OWNERS).toContain(byStage(0)[0]?.approver);
    expect(byStage(1).length).toBeLessThanOrEqual(2);
    expect(byStage(1).every((a) => SECURITY.includes(a.approver))).toBe(true);
    expect(row.status).toBe(byStage(1).length === 2 ? 'approved' : 'pending');
    // The audit tells the same story, once each.
    const audit = await flow.audit(id);
    const count = (action: string) => audit.filter((r) => r.action === action).length;
    expect(count('request.stageApproved')).toBe(1);
    expect(count('request.stageOpened')).toBe(1);
    expect(count('request.approvalRecorded') + count('request.approved')).toBe(row.approvals.length);
    expect(count('request.approved')).toBe(row.status === 'approved' ? 1 : 0);
    expect(count('request.decisionRefused')).toBe(refused.length);

    // Act again: whatever is left of stage 2 completes it.
    for (const upn of SECURITY.filter((u) => !succeeded.includes(u))) {
      if ((await read(id)).status !== 'pending') break;
      expect((await decide(upn, id)).status).toBe(200);
    }
    expect(await read(id)).toMatchObject({ status: 'approved', currentStage: null });
  });
});

describe('a role request', () => {
  it('combines a two-stage task policy with a single-group one stage by stage', async () => {
    const view = await submit({ role: ROLE });

    // The role's and SINGLE's group is stage 1 of STAGED's: stage 1 takes the most approvals asked.
    expect(view.stages.map((s) => [s.approverGroup, s.requiredApprovals, s.status])).toEqual([
      ['owners', 2, 'open'],
      ['security', 1, 'waiting'],
    ]);
    expect(view.requiredApprovals).toBe(3);
  });

  it('is refused with 409 when its members name different groups for the same stage', async () => {
    const res = await flow.call(flow.fn.submitRequest, {
      token: await flow.token(ALICE),
      body: { role: CONFLICTING_ROLE, reason: 'INC-8' },
    });

    expectProblem(res, 409, 'APPROVER_GROUPS_CONFLICT');
  });
});

describe('a request with a scheduled start', () => {
  it('is approved before its start: the grant is scheduled, and the audit says so', async () => {
    // Prepare
    const startAt = new Date(Date.now() + 2 * 3_600_000);
    startAt.setUTCMilliseconds(0);
    const submitted = await submit({ task: STAGED, startAt: startAt.toISOString().replace('Z', '+00:00') });

    // Act
    await decide(OWNERS[3] ?? '', submitted.id);
    const approved = await decide(SECURITY[3] ?? '', submitted.id);

    // Assess: the window runs from the start asked for, stored in UTC.
    expect(submitted.startAt).toBe(startAt.toISOString());
    expect(approved.body).toMatchObject({ status: 'approved', grantedAt: startAt.toISOString() });
    const audit = await flow.audit(submitted.id);
    expect(audit.find((r) => r.action === 'request.submitted')?.parsed).toMatchObject({
      startAt: startAt.toISOString(),
      stages: [
        { approverGroup: 'owners', requiredApprovals: 1 },
        { approverGroup: 'security', requiredApprovals: 1 },
      ],
      maxUses: null,
    });
    const actions = audit.map((r) => r.action);
    expect(actions).toContain('grant.scheduled');
    expect(actions).not.toContain('grant.started');
  });

  it.each([
    ['in the past', -24],
    ['beyond the policy’s start delay', 200],
  ])('is refused with 400 when its start is %s', async (_name, hours) => {
    const startAt = new Date(Date.now() + hours * 3_600_000).toISOString();

    const res = await flow.call(flow.fn.submitRequest, {
      token: await flow.token(ALICE),
      body: { task: STAGED, reason: 'INC-9', startAt },
    });

    expectProblem(res, 400, 'INVALID_START');
  });
});
