/**
 * Extensions of a live grant through the real handlers: only the requester asks, one waits at a
 * time, at most `maxExtensions`, never more hours than the policy's maximum; an approval moves
 * `expiresAt`, a denial keeps it; an automatic policy approves at once; the requester may withdraw
 * one; a two-stage policy decides it stage by stage. Real Azurite, the real development issuer and
 * directory, the real Durable engine and client (approval-flows.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestView } from '#shared/domain/request';
import { conformanceIssues } from '../../contract/conformance';
import { configure, expectProblem, startFlowEnv, type Answer, type FlowEnv } from './approval-flows';

const ALICE = 'alice@contoso.com';
const ANN = 'ann@contoso.com';
const BEN = 'ben@contoso.com';
const SAM = 'sam@contoso.com';
const MANUAL = 'Extend\\Move-Mailbox';
const AUTO = 'Extend\\Read-Mailbox';
const STAGED = 'Extend\\Export-Mailbox';
const NONE = 'Extend\\Set-Quota';
const HOUR = 3_600_000;

let flow: FlowEnv;

beforeAll(async () => {
  flow = await startFlowEnv();
  await configure(flow, {
    groups: { owners: [ANN, BEN], security: [SAM] },
    tasks: [MANUAL, AUTO, STAGED, NONE],
    policies: [
      { scope: 'task', target: MANUAL, approvalType: 'manual', maxDurationHours: 4, maxExtensions: 2 },
      { scope: 'task', target: AUTO, approvalType: 'auto', maxExtensions: 1 },
      {
        scope: 'task',
        target: STAGED,
        approvalType: 'manual',
        stages: [{ approverGroup: 'owners' }, { approverGroup: 'security' }],
        maxExtensions: 1,
      },
      { scope: 'task', target: NONE, approvalType: 'auto' },
    ],
  });
}, 60_000);

afterAll(async () => {
  await flow.close();
});

/** Alice's live grant of `task` (approved by ann, and sam for the two-stage task). */
async function aLiveGrant(task: string): Promise<RequestView> {
  const submitted = await flow.call(flow.fn.submitRequest, {
    token: await flow.token(ALICE),
    body: { task, reason: 'INC-9', durationHours: 1 },
  });
  expect(submitted.status, JSON.stringify(submitted.body)).toBe(202);
  let view = submitted.body as RequestView;
  for (const upn of [ANN, SAM]) {
    if (view.status !== 'pending') break;
    const decided = await flow.call(flow.fn.approveRequest, {
      token: await flow.token(upn),
      params: { id: view.id },
    });
    expect(decided.status, JSON.stringify(decided.body)).toBe(200);
    view = decided.body as RequestView;
  }
  expect(view.status).toBe('approved');
  return view;
}

async function extend(id: string, body: unknown, upn = ALICE): Promise<Answer> {
  return flow.call(flow.fn.extendRequest, { token: await flow.token(upn), params: { id }, body });
}

async function decideExtension(
  upn: string,
  id: string,
  extensionId: string,
  decision: 'approve' | 'deny' = 'approve',
): Promise<Answer> {
  return flow.call(decision === 'approve' ? flow.fn.approveExtension : flow.fn.denyExtension, {
    token: await flow.token(upn),
    params: { id, extensionId },
    body: { comment: 'fine' },
  });
}

async function cancelExtension(upn: string, id: string, extensionId: string): Promise<Answer> {
  return flow.call(flow.fn.cancelExtension, { token: await flow.token(upn), params: { id, extensionId } });
}

const later = (iso: string | null, ms: number) => new Date(Date.parse(iso ?? '') + ms).toISOString();

describe('extending a live grant', () => {
  it('asks the approvers; approving moves expiresAt, denying keeps it; one at a time, at most maxExtensions', async () => {
    // Prepare
    const grant = await aLiveGrant(MANUAL);
    const { id } = grant;

    // Act
    const byApprover = await extend(id, { hours: 2, reason: 'more' }, ANN);
    const tooLong = await extend(id, { hours: 5, reason: 'much more' });
    const asked = await extend(id, { hours: 2, reason: 'still copying' });
    const second = await extend(id, { hours: 1, reason: 'and more' });
    const approved = await decideExtension(ANN, id, '1');
    const asked2 = await extend(id, { hours: 3, reason: 'again' });
    const denied = await decideExtension(BEN, id, '2', 'deny');
    const third = await extend(id, { hours: 1, reason: 'once more' });

    // Assess
    expectProblem(byApprover, 403, 'NOT_REQUESTER');
    expectProblem(tooLong, 400, 'DURATION_TOO_LONG');
    expect((tooLong.body as { errors: unknown[] }).errors).toEqual([
      expect.objectContaining({ pointer: '#/hours' }),
    ]);
    expect(asked.status).toBe(200);
    const waiting = asked.body as RequestView;
    // Access never drops while it waits: the grant keeps its end.
    expect(waiting.expiresAt).toBe(grant.expiresAt);
    expect(waiting.extensions).toEqual([
      expect.objectContaining({ id: '1', hours: 2, status: 'pending', currentStage: 0, decidedAt: null }),
    ]);
    expectProblem(second, 409, 'EXTENSION_NOT_ALLOWED');
    expect(approved.status).toBe(200);
    const extended = approved.body as RequestView;
    expect(extended.expiresAt).toBe(later(grant.expiresAt, 2 * HOUR));
    expect(extended.extensions[0]).toMatchObject({ status: 'approved', currentStage: null });
    expect(asked2.status).toBe(200);
    expect(denied.status).toBe(200);
    expect(denied.body).toMatchObject({
      expiresAt: extended.expiresAt,
      extensions: [{ status: 'approved' }, { id: '2', status: 'denied' }],
    });
    expectProblem(third, 409, 'EXTENSION_NOT_ALLOWED');
    // Every answer, success or refusal, is one the contract documents.
    const documented = [
      ...[byApprover, tooLong, asked, second, asked2, third].map((a) => ['ExtendRequest', a] as const),
      ['ApproveExtension', approved] as const,
      ['DenyExtension', denied] as const,
    ].flatMap(([op, a]) => conformanceIssues(op, a.status, a.body));
    expect(documented).toEqual([]);
    // Each step told the workflow to look again; the audit has every step, with its extension.
    expect((await flow.raised(id)).map((e) => e.name)).toEqual([
      'RequestDecided',
      'GrantChanged',
      'GrantChanged',
      'GrantChanged',
      'GrantChanged',
    ]);
    const steps = (await flow.audit(id))
      .filter((r) => r.action.startsWith('extension.'))
      .map((r) => [r.action, r.parsed.extensionId, r.parsed.expiresAt]);
    expect(steps).toEqual([
      ['extension.requested', '1', grant.expiresAt],
      ['extension.approved', '1', extended.expiresAt],
      ['extension.requested', '2', extended.expiresAt],
      ['extension.denied', '2', extended.expiresAt],
    ]);
  });

  it('is approved at once under an automatic policy', async () => {
    const grant = await aLiveGrant(AUTO);

    const res = await extend(grant.id, { hours: 1, reason: 'more' });
    // A client's retry (its first answer lost) finds the extension it made: no second one.
    const retry = await extend(grant.id, { hours: 1, reason: 'more' });

    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      expiresAt: later(grant.expiresAt, HOUR),
      extensions: [{ id: '1', status: 'approved', stages: [], currentStage: null }],
    });
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({
      expiresAt: later(grant.expiresAt, HOUR),
      extensions: [{ id: '1', status: 'approved' }],
    });
    const actions = (await flow.audit(grant.id))
      .map((r) => r.action)
      .filter((a) => a.startsWith('extension.'));
    expect(actions).toEqual(['extension.requested', 'extension.approved']);
  });

  it('is refused where the policy allows none', async () => {
    const grant = await aLiveGrant(NONE);

    expectProblem(await extend(grant.id, { hours: 1, reason: 'more' }), 409, 'EXTENSION_NOT_ALLOWED');
  });

  it('may be withdrawn by the requester alone while it waits', async () => {
    const grant = await aLiveGrant(MANUAL);
    await extend(grant.id, { hours: 1, reason: 'more' });

    const byApprover = await cancelExtension(ANN, grant.id, '1');
    const canceled = await cancelExtension(ALICE, grant.id, '1');
    const late = await decideExtension(ANN, grant.id, '1');

    expectProblem(byApprover, 403, 'NOT_REQUESTER');
    expect(canceled.status).toBe(200);
    expect(canceled.body).toMatchObject({ expiresAt: grant.expiresAt, extensions: [{ status: 'canceled' }] });
    expectProblem(late, 409, 'EXTENSION_NOT_PENDING');
    expect([
      ...conformanceIssues('CancelExtension', byApprover.status, byApprover.body),
      ...conformanceIssues('CancelExtension', canceled.status, canceled.body),
      ...conformanceIssues('ApproveExtension', late.status, late.body),
    ]).toEqual([]);
  });

  it('is canceled, and audited so, when the grant is revoked while it waits', async () => {
    const grant = await aLiveGrant(MANUAL);
    await extend(grant.id, { hours: 1, reason: 'more' });

    const revoked = await flow.call(flow.fn.revokeRequest, {
      token: await flow.token(ANN),
      params: { id: grant.id },
      body: { comment: 'done early' },
    });

    expect(revoked.body).toMatchObject({ status: 'revoked', extensions: [{ status: 'canceled' }] });
    const canceled = (await flow.audit(grant.id)).filter((r) => r.action === 'extension.canceled');
    expect(canceled.map((r) => r.parsed)).toEqual([
      expect.objectContaining({ extensionId: '1', hours: 1, status: 'revoked' }),
    ]);
  });

  it('is decided stage by stage under a two-stage policy, never by its requester', async () => {
    const grant = await aLiveGrant(STAGED);
    await extend(grant.id, { hours: 1, reason: 'more' });

    const own = await decideExtension(ALICE, grant.id, '1');
    const early = await decideExtension(SAM, grant.id, '1');
    const first = await decideExtension(BEN, grant.id, '1');
    const second = await decideExtension(SAM, grant.id, '1');

    expectProblem(own, 403, 'SELF_APPROVAL');
    expectProblem(early, 409, 'STAGE_NOT_OPEN');
    expect(first.body).toMatchObject({
      expiresAt: grant.expiresAt,
      extensions: [{ status: 'pending', currentStage: 1 }],
    });
    expect(second.body).toMatchObject({
      expiresAt: later(grant.expiresAt, HOUR),
      extensions: [{ status: 'approved', currentStage: null }],
    });
    const actions = (await flow.audit(grant.id))
      .map((r) => r.action)
      .filter((a) => a.startsWith('extension.'));
    expect(actions).toEqual([
      'extension.requested',
      'extension.approvalRecorded',
      'extension.stageApproved',
      'extension.approved',
    ]);
  });

  it.each([
    ['hours of zero', { hours: 0, reason: 'r' }],
    ['no reason', { hours: 1 }],
    ['an unknown field', { hours: 1, reason: 'r', extra: true }],
    ['hours as text', { hours: 'two', reason: 'r' }],
  ])('answers 400 for a body with %s, and changes nothing', async (_name, body) => {
    const grant = await aLiveGrant(AUTO);

    const res = await extend(grant.id, body);

    expectProblem(res, 400, 'INVALID_INPUT');
    const read = await flow.call(flow.fn.getRequest, {
      method: 'GET',
      token: await flow.token(ALICE),
      params: { id: grant.id },
    });
    expect(read.body).toMatchObject({ expiresAt: grant.expiresAt, extensions: [] });
  });

  it('answers 400 for an extension id that is no number, and 404 for one that does not exist', async () => {
    const grant = await aLiveGrant(MANUAL);

    expectProblem(await decideExtension(ANN, grant.id, 'abc'), 400, 'INVALID_INPUT');
    expectProblem(await decideExtension(ANN, grant.id, '3'), 404, 'NOT_FOUND');
  });
});
