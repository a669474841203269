import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approverGroupDelete, approverGroupPut } from '../../../functions/approver-groups';
import {
  catalogRoleGroupPut,
  catalogRolePut,
  catalogTaskDelete,
  catalogTaskPut,
} from '../../../functions/catalog';
import {
  policiesList,
  policyCreate,
  policyDelete,
  policyGet,
  policyUpdate,
} from '../../../functions/policies';
import { getDeps } from '#shared/app/deps';
import { configReader, effectiveTasksOf, loadPolicyContext } from '#shared/admin/config-reader';
import { resolvePolicy, type Policy } from '#shared/domain/policy';
import { aTaskBody, HOSTILE_NAMES, query, startAdminEnv, type AdminTestEnv } from './support';
import { userKey } from '../../support/requests';

let t: AdminTestEnv;
const [MOVE, ODD, UMLAUT] = HOSTILE_NAMES as [string, string, string];
const ROLE = 'Mailbox Operator';
const GROUP = 'Exchange #Ops';

beforeAll(async () => {
  t = await startAdminEnv();
  // A task in a role in a role group, two stand-alone tasks, and two approver groups.
  for (const name of [MOVE, ODD, UMLAUT, 'Lonely'])
    await t.call(catalogTaskPut, { method: 'PUT', path: '/api/x', body: aTaskBody(name) });
  await t.call(catalogRolePut, { method: 'PUT', path: '/api/x', body: { name: ROLE, tasks: [MOVE, ODD] } });
  await t.call(catalogRoleGroupPut, { method: 'PUT', path: '/api/x', body: { name: GROUP, roles: [ROLE] } });
  for (const name of ['approvers', 'seniors'])
    await t.call(approverGroupPut, {
      method: 'PUT',
      path: '/api/x',
      params: { name },
      body: { members: [`${name}1@contoso.com`, `${name}2@contoso.com`] },
    });
});
afterAll(async () => {
  await t.close();
});

const create = (body: unknown) => t.call(policyCreate, { method: 'POST', path: '/api/policies', body });
const read = (id: string) =>
  t.call(policyGet, { path: `/api/policies/${id}`, params: { id }, as: 'auditor' });
const update = (id: string, body: unknown) =>
  t.call(policyUpdate, { method: 'PUT', path: `/api/policies/${id}`, params: { id }, body });
const remove = (id: string) =>
  t.call(policyDelete, { method: 'DELETE', path: `/api/policies/${id}`, params: { id } });

describe('who may call the policy endpoints', () => {
  it.each([
    ['GET /api/policies', policiesList, 'GET', {}, undefined, true],
    ['GET /api/policies/{id}', policyGet, 'GET', { id: 'p1' }, undefined, true],
    [
      'POST /api/policies',
      policyCreate,
      'POST',
      {},
      { scope: 'task', target: 'Lonely', approvalType: 'auto' },
      false,
    ],
    [
      'PUT /api/policies/{id}',
      policyUpdate,
      'PUT',
      { id: 'p1' },
      { scope: 'task', target: 'Lonely', approvalType: 'auto' },
      false,
    ],
    ['DELETE /api/policies/{id}', policyDelete, 'DELETE', { id: 'p1' }, undefined, false],
  ] as const)(
    '%s: nobody → 401, plain user → 403, auditor → %s',
    async (_name, handler, method, params, body, readers) => {
      const before = await t.snapshot();
      const opts = { method, path: '/api/policies', params, ...(body ? { body } : {}) };
      expect((await t.call(handler, { ...opts, as: 'nobody' })).status).toBe(401);
      expect((await t.call(handler, { ...opts, as: 'user' })).status).toBe(403);
      const auditor = await t.call(handler, { ...opts, as: 'auditor' });
      if (readers) expect([200, 404]).toContain(auditor.status);
      else expect(auditor.status).toBe(403);
      expect(await t.snapshot()).toBe(before);
    },
  );
});

describe('policies', () => {
  it('creates a policy (201) with its defaults applied, readable by id and in the list; audited', async () => {
    // Prepare
    const auditBefore = t.audit.events.length;

    // Act
    const created = await create({
      scope: 'task',
      target: UMLAUT,
      approvalType: 'manual',
      maxDurationHours: 8,
    });
    const policy = created.body as Policy;
    const one = await read(policy.id);
    const list = await t.call(policiesList, { path: '/api/policies' });

    // Assess
    const expected = {
      scope: 'task',
      target: UMLAUT,
      approvalType: 'manual',
      requiredApprovals: 1,
      maxDurationHours: 8,
      pendingTimeoutHours: 24,
      // The defaults of the approval-flow limits: a week to schedule a start, no extensions.
      maxStartDelayHours: 168,
      maxExtensions: 0,
      breakGlassMaxHours: 1,
    };
    expect(created.status).toBe(201);
    expect(policy).toEqual({
      id: expect.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]*$/) as unknown,
      ...expected,
    });
    expect(created.headers.get('location')).toBe(`/api/policies/${policy.id}`);
    expect(one.body).toEqual(policy);
    expect((list.body as { items: Policy[] }).items).toContainEqual(policy);
    expect(t.audit.events.slice(auditBefore)).toEqual([
      expect.objectContaining({ action: 'policy.created', detail: { before: null, after: policy } }),
    ]);
  });

  it('refuses a second policy for the same scope and target (409), even when asked concurrently', async () => {
    // Prepare
    const body = {
      scope: 'role',
      target: ROLE,
      approvalType: 'manual',
      approverGroup: 'approvers',
      requiredApprovals: 2,
    };

    // Act
    const results = await Promise.all(Array.from({ length: 6 }, () => create(body)));
    const list = await t.call(policiesList, { path: '/api/policies' });

    // Assess
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
    expect((results.find((r) => r.status === 409)?.body as { detail: string }).detail).toContain(
      'already has a policy',
    );
    expect(
      (list.body as { items: Policy[] }).items.filter((p) => p.scope === 'role' && p.target === ROLE),
    ).toHaveLength(1);
  });

  it.each([
    [
      'a target the catalog lacks',
      { scope: 'task', target: 'Ghost\\Task', approvalType: 'auto' },
      '#/target',
    ],
    [
      'a role group that is really a task name',
      { scope: 'roleGroup', target: 'Lonely', approvalType: 'auto' },
      '#/target',
    ],
    [
      'an approver group that does not exist',
      { scope: 'task', target: 'Lonely', approvalType: 'manual', approverGroup: 'ghosts' },
      '#/approverGroup',
    ],
    [
      'a pending window shorter than the minimum',
      { scope: 'task', target: 'Lonely', approvalType: 'manual', pendingTimeoutHours: 0.0001 },
      '#/pendingTimeoutHours',
    ],
    [
      'too many required approvals',
      { scope: 'task', target: 'Lonely', approvalType: 'manual', requiredApprovals: 11 },
      '#/requiredApprovals',
    ],
    ['an unknown scope', { scope: 'tenant', target: 'Lonely', approvalType: 'manual' }, '#/scope'],
  ])('refuses a policy with %s (400 at %s), writing nothing', async (_label, body, pointer) => {
    const before = await t.snapshot();
    const res = await create(body);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      errors: expect.arrayContaining([expect.objectContaining({ pointer })]) as unknown,
    });
    expect(await t.snapshot()).toBe(before);
  });

  it('replaces a policy, moving it to another target: the old target is free, the new one taken', async () => {
    // Prepare
    const { body } = await create({ scope: 'task', target: 'Lonely', approvalType: 'auto' });
    const id = (body as Policy).id;
    const auditBefore = t.audit.events.length;

    // Act
    const moved = await update(id, {
      scope: 'task',
      target: ODD,
      approvalType: 'manual',
      approverGroup: 'seniors',
      pendingTimeoutHours: 2,
    });
    const readBack = await read(id);
    const reuseOld = await create({ scope: 'task', target: 'Lonely', approvalType: 'auto' });
    const clash = await update(id, { scope: 'task', target: UMLAUT, approvalType: 'auto' });

    // Assess
    const after = {
      id,
      scope: 'task',
      target: ODD,
      approvalType: 'manual',
      approverGroup: 'seniors',
      requiredApprovals: 1,
      pendingTimeoutHours: 2,
      maxStartDelayHours: 168,
      maxExtensions: 0,
      breakGlassMaxHours: 1,
    };
    expect(moved).toMatchObject({ status: 200, body: after });
    expect(readBack.body).toEqual(after);
    expect(reuseOld.status).toBe(201);
    expect(clash.status).toBe(409);
    expect((await read(id)).body).toEqual(after);
    expect(t.audit.events.slice(auditBefore)[0]).toMatchObject({
      action: 'policy.updated',
      detail: { before: { id, target: 'Lonely', approvalType: 'auto' }, after },
    });
  });

  it('stores a two-stage policy with its limits, refuses a stage naming no group (400 at its pointer), and protects a group used only in a later stage', async () => {
    // Prepare: a group named only by stage 2 of the policy.
    await t.call(approverGroupPut, {
      method: 'PUT',
      path: '/api/x',
      params: { name: 'security' },
      body: { members: ['security1@contoso.com'] },
    });
    const stages = [
      { approverGroup: 'approvers', requiredApprovals: 1 },
      { approverGroup: 'security', requiredApprovals: 1 },
    ];

    // Act
    const missing = await create({
      scope: 'task',
      target: MOVE,
      approvalType: 'manual',
      stages: [stages[0], { approverGroup: 'nobody-such' }],
    });
    const both = await create({
      scope: 'task',
      target: MOVE,
      approvalType: 'manual',
      approverGroup: 'approvers',
      stages,
    });
    const created = await create({
      scope: 'task',
      target: MOVE,
      approvalType: 'manual',
      stages,
      maxUses: 3,
      maxExtensions: 2,
      maxStartDelayHours: 24,
    });
    const policy = created.body as Policy;
    const readBack = await read(policy.id);
    const deleteStageGroup = await t.call(approverGroupDelete, {
      method: 'DELETE',
      path: '/api/x',
      params: { name: 'security' },
    });
    const cleanup = await remove(policy.id);

    // Assess
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ errors: [{ pointer: '#/stages/1/approverGroup' }] });
    expect(both.status).toBe(400);
    expect(created.status).toBe(201);
    expect(policy).toMatchObject({ stages, maxUses: 3, maxExtensions: 2, maxStartDelayHours: 24 });
    expect(policy).not.toHaveProperty('approverGroup');
    expect(readBack.body).toEqual(policy);
    expect(deleteStageGroup.status).toBe(409);
    expect(cleanup.status).toBe(204);
  });

  it('answers 404 for unknown ids and 400 for malformed ones', async () => {
    expect((await read('no-such-policy')).status).toBe(404);
    expect(
      (await update('no-such-policy', { scope: 'task', target: 'Lonely', approvalType: 'auto' })).status,
    ).toBe(404);
    expect((await remove('no-such-policy')).status).toBe(404);
    expect((await read('../etc')).status).toBe(400);
  });

  it('refuses to delete what a policy uses (409): its target task, its approver group', async () => {
    const before = await t.snapshot();
    const task = await t.call(catalogTaskDelete, {
      method: 'DELETE',
      path: `/api/catalog/tasks${query(UMLAUT)}`,
    });
    const group = await t.call(approverGroupDelete, {
      method: 'DELETE',
      path: '/api/x',
      params: { name: 'seniors' },
    });
    expect(task.status).toBe(409);
    expect((task.body as { detail: string }).detail).toContain('policy');
    expect(group.status).toBe(409);
    expect(await t.snapshot()).toBe(before);
  });

  it('deletes a policy (204): gone, its target free again, audited with what it was', async () => {
    // Prepare
    const { body } = await create({ scope: 'roleGroup', target: GROUP, approvalType: 'auto' });
    const policy = body as Policy;
    const auditBefore = t.audit.events.length;

    // Act
    const deleted = await remove(policy.id);
    const again = await create({ scope: 'roleGroup', target: GROUP, approvalType: 'auto' });

    // Assess
    expect(deleted.status).toBe(204);
    expect((await read(policy.id)).status).toBe(404);
    expect(again.status).toBe(201);
    expect(t.audit.events.slice(auditBefore)[0]).toMatchObject({
      action: 'policy.deleted',
      detail: { before: policy, after: null },
    });
    await remove((again.body as Policy).id);
  });
});

describe('what the request flow reads', () => {
  it('resolves a task by its own policy, else its role’s, else its role group’s', async () => {
    // Prepare: MOVE is in ROLE in GROUP; the role already has a policy (created above).
    const tables = getDeps().tables;
    const target = { scope: 'task' as const, name: MOVE };
    const roleCtx = await loadPolicyContext(tables, target);

    // Act: a role-group policy, then no role policy, then the task's own.
    const roleGroupPolicy = (await create({ scope: 'roleGroup', target: GROUP, approvalType: 'auto' }))
      .body as Policy;
    const { items } = (await t.call(policiesList, { path: '/api/policies' })).body as { items: Policy[] };
    await remove(items.find((p) => p.scope === 'role' && p.target === ROLE)?.id ?? '');
    const viaGroupCtx = await loadPolicyContext(tables, target);
    const own = (
      await create({ scope: 'task', target: MOVE, approvalType: 'manual', approverGroup: 'seniors' })
    ).body as Policy;
    const ownCtx = await loadPolicyContext(tables, target);

    // Assess
    expect(resolvePolicy(target, roleCtx.catalog, roleCtx.policies, null)).toMatchObject({
      scope: 'role',
      target: ROLE,
    });
    expect(resolvePolicy(target, viaGroupCtx.catalog, viaGroupCtx.policies, null)).toEqual(roleGroupPolicy);
    expect(resolvePolicy(target, ownCtx.catalog, ownCtx.policies, null)).toEqual(own);
    expect(ownCtx.catalog.rolesContainingTask(MOVE).map((r) => r.name)).toEqual([ROLE]);
    expect(ownCtx.catalog.roleGroupsContainingRole(ROLE).map((g) => g.name)).toEqual([GROUP]);
  });

  it('gives the effective tasks of a role group, in order, and an empty context for a missing target', async () => {
    const tables = getDeps().tables;
    const tasks = await effectiveTasksOf(tables, { scope: 'roleGroup', name: GROUP });
    const missing = await loadPolicyContext(tables, { scope: 'role', name: 'No Such Role' });
    expect(tasks.map((task) => task.name)).toEqual([MOVE, ODD]);
    expect(missing.policies).toEqual([]);
    expect(missing.catalog.role('No Such Role')).toBeUndefined();
  });

  it('reads configuration, members and tasks through configReader', async () => {
    const reader = configReader(getDeps().tables);
    expect(await reader.groupMembers('seniors')).toEqual(
      ['seniors1@contoso.com', 'seniors2@contoso.com'].map((upn) => ({ upn, id: userKey(upn) })),
    );
    expect(await reader.groupMembers('nobody')).toEqual([]);
    expect((await reader.task(MOVE))?.executor).toMatchObject({ type: 'webhook' });
    expect((await reader.catalog()).role(ROLE)?.tasks).toEqual([MOVE, ODD]);
    expect((await reader.pamConfig()).enabled).toBe(false);
    expect((await reader.policies()).length).toBeGreaterThan(0);
  });
});
