/**
 * What the portal reads before anyone acts, through the real handlers against real Azurite and the
 * real development issuer and directory: who the caller is (`GET /api/me`), what a request would
 * do (`GET /api/policy-preview`, by the submit story's rules, refused as a submit is, writing
 * nothing) and what an approver decided before (`GET /api/requests?decided=true`, from the
 * caller's approver-group index partitions, by stable id, paged). Requests for the last are
 * stored through the repository as the stories store them, with decisions made by the domain's
 * own rule (`applyDecision`), since no workflow is needed to list them.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getDeps } from '#shared/app/deps';
import { applyDecision, type Request, type RequestView } from '#shared/domain/request';
import { approverGroupPut } from '../../../functions/approver-groups';
import { catalogRolePut, catalogTaskPut } from '../../../functions/catalog';
import { me } from '../../../functions/me';
import { pamDisable } from '../../../functions/pam';
import { policyCreate } from '../../../functions/policies';
import { policyPreview } from '../../../functions/policy-preview';
import { listRequests, submitRequest } from '../../../functions/requests';
import { enablePam } from '../../support/admin';
import { call, startComponentEnv, type ComponentEnv } from '../../support/component';
import { aPendingRequest, userKey } from '../../support/requests';

const MOVE = 'Portal\\Move-Mailbox';
const QUOTA = 'Portal\\Set-Quota';
const ORPHAN = 'Portal\\Ungoverned';
const ROLE = 'Portal Mailbox Operator';
const BOB = 'bob@contoso.com';
const DUAL = 'dual@contoso.com';
const ALICE = 'alice@contoso.com';
const SVC = 'svc-portal@contoso.com';

let env: ComponentEnv;
let admin: string;

const ok = (what: string, r: { status: number; body: unknown }) =>
  expect(r.status, `${what}: ${JSON.stringify(r.body)}`).toBeLessThan(300);

beforeAll(async () => {
  env = await startComponentEnv();
  admin = await env.token('admin@contoso.com', ['PAM.Admin']);
  await enablePam(admin, { group: 'approvers', members: [BOB, DUAL], systemAccounts: [SVC] });
  for (const [name, members] of [
    ['glass', [ALICE]],
    ['security', ['carol@contoso.com']],
  ] as const)
    ok(
      name,
      await call(approverGroupPut, {
        method: 'PUT',
        path: '/x',
        token: admin,
        params: { name },
        body: { members },
      }),
    );
  const webhook = { type: 'webhook', url: 'https://127.0.0.1:8443/hooks/run' };
  for (const [name, parameters] of [
    [MOVE, [{ name: 'mailbox', type: 'string', required: true }]],
    [QUOTA, undefined],
    [ORPHAN, undefined],
  ] as const)
    ok(
      name,
      await call(catalogTaskPut, {
        method: 'PUT',
        path: '/x',
        token: admin,
        body: { name, description: `Runs ${name}`, executor: webhook, ...(parameters ? { parameters } : {}) },
      }),
    );
  ok(
    'role',
    await call(catalogRolePut, {
      method: 'PUT',
      path: '/x',
      token: admin,
      body: { name: ROLE, tasks: [MOVE, QUOTA] },
    }),
  );
  for (const body of [
    {
      scope: 'task',
      target: MOVE,
      approvalType: 'manual',
      maxDurationHours: 8,
      maxExtensions: 1,
      breakGlassGroup: 'glass',
      breakGlassMaxHours: 2,
      approverAuthContext: 'c1',
    },
    { scope: 'task', target: QUOTA, approvalType: 'auto', maxUses: 3, maxDurationHours: 12 },
    // The role's own policy is looser: its members' policies tighten it.
    { scope: 'role', target: ROLE, approvalType: 'auto', maxDurationHours: 24, maxStartDelayHours: 48 },
  ])
    ok(body.target, await call(policyCreate, { method: 'POST', path: '/x', token: admin, body }));
}, 60_000);

afterAll(async () => {
  await env.close();
});

const getMe = async (token?: string) => call(me, { path: '/api/me', ...(token ? { token } : {}) });

async function preview(upn: string, query: string, roles: string[] = []) {
  const token = await env.token(upn, roles);
  const url = new URL(`http://x/api/policy-preview?${query}`);
  return call(policyPreview, { path: `/api/policy-preview${url.search}`, token });
}

function expectProblem(
  answer: { status: number; headers: Headers; body: unknown },
  status: number,
  code: string,
) {
  expect({ status: answer.status, code: (answer.body as { code?: string }).code }).toEqual({ status, code });
  expect(answer.headers.get('content-type')).toBe('application/problem+json');
}

describe('GET /api/me', () => {
  it('answers the stable id, roles, approver groups and system account, decided by object id', async () => {
    // Act
    const bob = await getMe(await env.token(BOB));
    const alice = await getMe(await env.token(ALICE, ['PAM.Auditor']));
    const svc = await getMe(await env.token(SVC));
    const strong = await getMe(await env.issuer.mint({ upn: BOB, acrs: ['c1'], amr: ['pwd', 'mfa'] }));
    // Bob's name on a stranger's object id: no group, no right.
    const impostor = await getMe(
      await env.issuer.mint({ upn: BOB, overrides: { oid: '00000000-0000-4000-8000-00000000b0b0' } }),
    );

    // Assess
    expect(bob).toMatchObject({ status: 200 });
    expect(bob.body).toEqual({
      id: userKey(BOB),
      upn: BOB,
      name: BOB,
      roles: [],
      approverGroups: ['approvers'],
      systemAccount: false,
    });
    // Break-glass membership is not approving: glass is named by no policy's approvers.
    expect(alice.body).toMatchObject({ roles: ['PAM.Auditor'], approverGroups: [], systemAccount: false });
    expect(svc.body).toMatchObject({ id: userKey(SVC), systemAccount: true, approverGroups: [] });
    expect(strong.body).toMatchObject({ strength: { acrs: ['c1'], amr: ['pwd', 'mfa'] } });
    expect(impostor.body).toMatchObject({ upn: BOB, approverGroups: [], systemAccount: false });
    expect((impostor.body as { id: string }).id).not.toBe(userKey(BOB));
  });

  it('refuses a caller without a token with 401 problem+json', async () => {
    expectProblem(await getMe(), 401, 'MISSING_TOKEN');
  });
});

describe('GET /api/policy-preview', () => {
  it('shows a manual task: its group, limits, step-up, parameters, and emergency access only to the break-glass group', async () => {
    // Act
    const alice = await preview(ALICE, `task=${encodeURIComponent(MOVE)}`);
    const bob = await preview(BOB, `task=${encodeURIComponent(MOVE)}`);

    // Assess
    expect(alice.status).toBe(200);
    expect(alice.body).toEqual({
      target: { kind: 'task', name: MOVE },
      description: `Runs ${MOVE}`,
      approval: 'manual',
      exempt: false,
      stages: [{ approverGroup: 'approvers', requiredApprovals: 1 }],
      maxDurationHours: 8,
      defaultDurationHours: 4,
      maxPendingHours: 24,
      maxUses: null,
      maxStartDelayHours: 168,
      maxExtensions: 1,
      breakGlass: { maxDurationHours: 2 },
      approverAuthContext: 'c1',
      parameters: [{ name: 'mailbox', type: 'string', required: true }],
    });
    expect(bob.body).toMatchObject({ breakGlass: null });
  });

  it('shows an automatic task, a role combined with its tasks, and a system account as exempt', async () => {
    // Act
    const quota = await preview(ALICE, `task=${encodeURIComponent(QUOTA)}`);
    const role = await preview(ALICE, `role=${encodeURIComponent(ROLE)}`);
    const svc = await preview(SVC, `task=${encodeURIComponent(QUOTA)}`);

    // Assess
    expect(quota.body).toMatchObject({
      approval: 'automatic',
      stages: [],
      maxPendingHours: null,
      maxUses: 3,
      breakGlass: null,
      approverAuthContext: null,
    });
    expect(quota.body).not.toHaveProperty('parameters');
    // The role's automatic policy is tightened by its tasks': manual, 8 h, 3 uses, step-up c1.
    expect(role.body).toEqual({
      target: { kind: 'role', name: ROLE },
      approval: 'manual',
      exempt: false,
      stages: [{ approverGroup: 'approvers', requiredApprovals: 1 }],
      maxDurationHours: 8,
      defaultDurationHours: 4,
      maxPendingHours: 24,
      maxUses: 3,
      maxStartDelayHours: 48,
      maxExtensions: 0,
      breakGlass: null,
      approverAuthContext: 'c1',
    });
    expect(svc.body).toMatchObject({ exempt: true, approval: 'automatic' });
  });

  it('refuses as submit does (unknown target 404, no policy, bad query 400) and writes nothing', async () => {
    // Act
    const unknown = await preview(ALICE, 'task=Portal%5CNope');
    const orphan = await preview(ALICE, `task=${encodeURIComponent(ORPHAN)}`);
    const submitted = await call(submitRequest, {
      method: 'POST',
      path: '/api/requests',
      token: await env.token(ALICE),
      body: { task: ORPHAN, reason: 'r' },
      durableClient: true,
    });
    const none = await preview(ALICE, '');
    const two = await preview(ALICE, `task=${encodeURIComponent(MOVE)}&role=${encodeURIComponent(ROLE)}`);
    const stranger = await preview(ALICE, 'task=x&extra=1');
    const anonymous = await call(policyPreview, { path: '/api/policy-preview?task=x' });
    const mine = await call(listRequests, {
      path: '/api/requests?mine=true',
      token: await env.token(ALICE),
      durableClient: true,
    });

    // Assess
    expectProblem(unknown, 404, 'NOT_FOUND');
    expectProblem(orphan, 400, 'NO_POLICY');
    expectProblem(submitted, 400, 'NO_POLICY');
    expectProblem(none, 400, 'INVALID_INPUT');
    expectProblem(two, 400, 'INVALID_INPUT');
    expectProblem(stranger, 400, 'INVALID_INPUT');
    expectProblem(anonymous, 401, 'MISSING_TOKEN');
    expect(mine.body).toEqual({ items: [] });
  });
});

describe('GET /api/requests?decided=true', () => {
  const members = () =>
    new Map([
      [
        'approvers',
        [
          { upn: BOB, id: userKey(BOB) },
          { upn: DUAL, id: userKey(DUAL) },
        ],
      ],
    ]);
  const stage = {
    stages: [{ approverGroup: 'approvers', requiredApprovals: 1 }],
    approverGroup: 'approvers',
  };

  function decided(who: string, decision: 'approve' | 'deny', at: Date): Request {
    const pending = aPendingRequest(stage, at);
    return applyDecision(pending, { approver: { id: userKey(who), upn: who }, decision }, members(), at)
      .request;
  }

  async function list(token: string, query: string) {
    return call(listRequests, { path: `/api/requests?${query}`, token, durableClient: true });
  }

  it("lists the requests and extensions the caller decided, newest first, paged, by stable id, and nobody else's", async () => {
    // Prepare: 52 decided by bob (approved and denied), one where only dual decided, one still
    // pending, one whose extension bob approved, and one "by bob" in name only.
    const repo = getDeps().requests;
    const t0 = Date.now() - 3_600_000;
    const at = (i: number) => new Date(t0 + i * 1000);
    const bobs = Array.from({ length: 52 }, (_, i) => decided(BOB, i % 2 === 0 ? 'approve' : 'deny', at(i)));
    const duals = decided(DUAL, 'approve', at(60));
    const open = aPendingRequest(stage, at(61));
    const granted = decided(DUAL, 'approve', at(62));
    const extended: Request = {
      ...granted,
      extensions: [
        {
          id: '1',
          hours: 1,
          reason: 'more',
          status: 'approved',
          approvals: [
            {
              approver: BOB,
              approverId: userKey(BOB),
              decision: 'approve',
              comment: null,
              at: at(63).toISOString(),
              stage: 0,
            },
          ],
          createdAt: at(63).toISOString(),
          pendingUntil: at(3663).toISOString(),
          decidedAt: at(63).toISOString(),
        },
      ],
    };
    const namesake: Request = {
      ...duals,
      id: randomUUID(),
      // Bob's name on someone else's decision: not his.
      approvals: duals.approvals.map((a) => ({
        ...a,
        approver: BOB,
        approverId: userKey('someone-else@contoso.com'),
      })),
    };
    await Promise.all([...bobs, duals, open, extended, namesake].map((r) => repo.create(r)));
    const bob = await env.token(BOB);

    // Act: every page, as the portal pages (a page holds at most 50, and may hold fewer: it
    // reads at most 50 index rows and keeps the caller's decisions among them).
    const pages: { body: unknown }[] = [];
    let token: string | undefined;
    do {
      const query = `decided=true${token ? `&continuationToken=${encodeURIComponent(token)}` : ''}`;
      const page = await list(bob, query);
      expect(page.status, JSON.stringify(page.body)).toBe(200);
      pages.push(page);
      token = (page.body as { continuationToken?: string }).continuationToken;
    } while (token !== undefined && pages.length < 10);
    const denied = await list(bob, 'decided=true&status=denied');
    const dual = await list(await env.token(DUAL), 'decided=true');
    const adminDecided = await list(admin, 'decided=true');
    const combined = await list(bob, 'decided=true&approvable=true');

    // Assess
    const ids = (a: { body: unknown }) => (a.body as { items: RequestView[] }).items.map((r) => r.id);
    const expected = [extended, ...bobs]
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
      .map((r) => r.id);
    expect(pages.length).toBeGreaterThan(1);
    expect(pages.every((p) => ids(p).length <= 50)).toBe(true);
    expect(pages.flatMap(ids)).toEqual(expected);
    const deniedItems = (denied.body as { items: RequestView[] }).items;
    expect(deniedItems.length).toBeGreaterThan(0);
    expect(deniedItems.every((r) => r.status === 'denied')).toBe(true);
    expect(new Set(ids(dual))).toEqual(new Set([duals.id, extended.id]));
    expect(ids(adminDecided)).toEqual([]);
    expectProblem(combined, 400, 'INVALID_INPUT');
  });

  it('refuses while privileged access is disabled in the preview as submit does (409 PAM_DISABLED)', async () => {
    // Prepare
    ok('disable', await call(pamDisable, { method: 'POST', path: '/x', token: admin }));

    // Act
    const answer = await preview(ALICE, `task=${encodeURIComponent(QUOTA)}`);

    // Assess
    expectProblem(answer, 409, 'PAM_DISABLED');
  });
});
