import { describe, expect, it } from 'vitest';
import { catalogFrom, type Target } from '#shared/domain/catalog';
import type { StagePlan } from '#shared/domain/stages';
import { isDomainError, type DomainError } from '#shared/domain/errors';
import {
  assertPolicyWindows,
  compareStrictness,
  approvalsNeeded,
  newPolicy,
  Policy,
  PolicyBody,
  policiesUsingGroup,
  policyGroups,
  policyStages,
  requirePolicy,
  resolvePolicy,
} from '#shared/domain/policy';
import {
  aPolicy,
  aRole,
  aRoleGroup,
  aTask,
  GROUP,
  MAILBOX,
  MOVE,
  RESET,
  SECURITY,
  twoStages,
} from './builders';

describe('policy body', () => {
  it('applies the defaults: one approval, a 24-hour pending window, a week to start, no extensions, no maximum', () => {
    // Act
    const body = PolicyBody.parse({ scope: 'task', target: MOVE, approvalType: 'manual' });
    const policy = newPolicy('p1', body);

    // Assess: the body leaves requiredApprovals out (it could come with stages instead); the stored
    // single-group policy shows its one approval
    expect(body).toEqual({
      scope: 'task',
      target: MOVE,
      approvalType: 'manual',
      pendingTimeoutHours: 24,
      maxStartDelayHours: 168,
      maxExtensions: 0,
      breakGlassMaxHours: 1,
    });
    expect(policy.requiredApprovals).toBe(1);
    expect(Policy.safeParse(policy).success).toBe(true);
  });

  it.each([
    { name: 'an unknown scope', body: { scope: 'tenant', target: 'x', approvalType: 'manual' } },
    { name: 'an unknown approval type', body: { scope: 'task', target: 'x', approvalType: 'maybe' } },
    {
      name: 'zero required approvals',
      body: { scope: 'task', target: 'x', approvalType: 'manual', requiredApprovals: 0 },
    },
    {
      name: 'fractional required approvals',
      body: { scope: 'task', target: 'x', approvalType: 'manual', requiredApprovals: 1.5 },
    },
    {
      name: 'a bad approver group name',
      body: { scope: 'task', target: 'x', approvalType: 'manual', approverGroup: 'a b' },
    },
    {
      name: 'a negative maximum',
      body: { scope: 'task', target: 'x', approvalType: 'manual', maxDurationHours: -1 },
    },
    { name: 'an unknown field', body: { scope: 'task', target: 'x', approvalType: 'manual', id: 'mine' } },
  ])('refuses $name', ({ body }) => {
    // Act / Assess
    expect(PolicyBody.safeParse(body).success).toBe(false);
  });

  it.each([
    { name: 'maximum grant under the minimum → DURATION_TOO_SHORT', policy: { maxDurationHours: 0.01 } },
    { name: 'pending window under the minimum → DURATION_TOO_SHORT', policy: { pendingTimeoutHours: 0.01 } },
  ])('$name', ({ policy }) => {
    // Act
    let error: unknown;
    try {
      assertPolicyWindows(aPolicy(policy), 60);
    } catch (e) {
      error = e;
    }

    // Assess
    expect(isDomainError(error, 'DURATION_TOO_SHORT')).toBe(true);
  });

  it('windows at the minimum are accepted', () => {
    // Act / Assess
    expect(() =>
      assertPolicyWindows(aPolicy({ maxDurationHours: 60 / 3600, pendingTimeoutHours: 60 / 3600 }), 60),
    ).not.toThrow();
  });
});

describe('policy resolution', () => {
  // MOVE and MAILBOX are in role "Mailbox Operator" (group "Exchange Operations"); MAILBOX is also
  // in "Mailbox Admin" (group "Tier 0"); RESET is in no role.
  const catalog = catalogFrom({
    tasks: [aTask(), aTask({ name: MAILBOX }), aTask({ name: RESET })],
    roles: [aRole(), aRole({ name: 'Mailbox Admin', tasks: [MAILBOX] })],
    roleGroups: [aRoleGroup(), aRoleGroup({ name: 'Tier 0', roles: ['Mailbox Admin'] })],
  });
  const onTask = aPolicy({ id: 'on-task', scope: 'task', target: MOVE, approvalType: 'auto' });
  const onRole = aPolicy({ id: 'on-role', scope: 'role', target: 'Mailbox Operator', requiredApprovals: 2 });
  const onOtherRole = aPolicy({
    id: 'on-other-role',
    scope: 'role',
    target: 'Mailbox Admin',
    requiredApprovals: 1,
  });
  const onGroup = aPolicy({ id: 'on-group', scope: 'roleGroup', target: 'Exchange Operations' });
  const onTier0 = aPolicy({ id: 'on-tier0', scope: 'roleGroup', target: 'Tier 0', requiredApprovals: 3 });
  // Stricter than every other, on the group that is visited last (groups follow their roles' names).
  const strictGroup = aPolicy({
    id: 'strict-group',
    scope: 'roleGroup',
    target: 'Exchange Operations',
    requiredApprovals: 4,
  });

  it.each<{ name: string; target: Target; policies: Policy[]; expected: string | undefined }>([
    {
      name: 'task policy beats role policy',
      target: { scope: 'task', name: MOVE },
      policies: [onRole, onTask, onGroup],
      expected: 'on-task',
    },
    {
      name: 'role policy covers its task when the task has none',
      target: { scope: 'task', name: MOVE },
      policies: [onRole, onGroup],
      expected: 'on-role',
    },
    {
      name: 'role group policy covers a task when neither task nor role has one',
      target: { scope: 'task', name: MOVE },
      policies: [onGroup],
      expected: 'on-group',
    },
    {
      name: 'task in two roles with policies → the strictest, not the first by name',
      target: { scope: 'task', name: MAILBOX },
      policies: [onOtherRole, onRole],
      expected: 'on-role',
    },
    {
      name: 'a role policy beats a stricter role group policy (most specific first)',
      target: { scope: 'task', name: MAILBOX },
      policies: [onRole, onTier0],
      expected: 'on-role',
    },
    {
      name: 'task in two role groups with policies → the strictest, not the first visited',
      target: { scope: 'task', name: MAILBOX },
      policies: [onTier0, strictGroup],
      expected: 'strict-group',
    },
    {
      name: 'task in no role and no policy → none',
      target: { scope: 'task', name: RESET },
      policies: [onRole, onGroup],
      expected: undefined,
    },
    {
      name: 'role request → the role’s own policy',
      target: { scope: 'role', name: 'Mailbox Operator' },
      policies: [onTask, onRole, onGroup],
      expected: 'on-role',
    },
    {
      name: 'role request → its group’s policy when it has none',
      target: { scope: 'role', name: 'Mailbox Operator' },
      policies: [onTask, onGroup],
      expected: 'on-group',
    },
    {
      name: 'a task policy does not cover the role',
      target: { scope: 'role', name: 'Mailbox Operator' },
      policies: [onTask],
      expected: undefined,
    },
    {
      name: 'role group request → its own policy (its roles’ own policies only add limits)',
      target: { scope: 'roleGroup', name: 'Exchange Operations' },
      policies: [onRole, onGroup],
      expected: 'on-group',
    },
    {
      name: 'a role policy does not cover the role group',
      target: { scope: 'roleGroup', name: 'Exchange Operations' },
      policies: [onRole],
      expected: undefined,
    },
  ])('$name', ({ target, policies, expected }) => {
    // Act
    const policy = resolvePolicy(target, catalog, policies, GROUP);

    // Assess
    expect(policy?.id).toBe(expected);
  });

  it('does not depend on the order policies come from storage', () => {
    // Prepare
    const a = aPolicy({ id: 'a', scope: 'role', target: 'Mailbox Operator' });
    const b = aPolicy({ id: 'b', scope: 'role', target: 'Mailbox Admin' });

    // Act
    const forward = resolvePolicy({ scope: 'task', name: MAILBOX }, catalog, [a, b], GROUP);
    const backward = resolvePolicy({ scope: 'task', name: MAILBOX }, catalog, [b, a], GROUP);

    // Assess: equally strict, so the first target by name wins both times
    expect(forward?.id).toBe('b');
    expect(backward?.id).toBe('b');
  });

  it.each([
    {
      name: 'manual is stricter than auto',
      stricter: { approvalType: 'manual' },
      looser: { approvalType: 'auto' },
    },
    {
      name: 'more approvals is stricter',
      stricter: { requiredApprovals: 3 },
      looser: { requiredApprovals: 2 },
    },
    { name: 'a maximum grant is stricter than none', stricter: { maxDurationHours: 8 }, looser: {} },
    {
      name: 'a shorter maximum is stricter',
      stricter: { maxDurationHours: 1 },
      looser: { maxDurationHours: 2 },
    },
    {
      name: 'a shorter pending window is stricter',
      stricter: { pendingTimeoutHours: 1 },
      looser: { pendingTimeoutHours: 24 },
    },
  ] as const)('$name', ({ stricter, looser }) => {
    // Act / Assess
    expect(
      compareStrictness(aPolicy({ id: 's', ...stricter }), aPolicy({ id: 'l', ...looser })),
    ).toBeLessThan(0);
    expect(
      compareStrictness(aPolicy({ id: 'l', ...looser }), aPolicy({ id: 's', ...stricter })),
    ).toBeGreaterThan(0);
  });

  it('no policy → NO_POLICY naming the target', () => {
    // Act
    const act = () => requirePolicy({ scope: 'task', name: RESET }, catalog, [], GROUP);

    // Assess
    expect(act).toThrow(/task "AD\/Reset-Password#1\?"/);
    let error: unknown;
    try {
      act();
    } catch (e) {
      error = e;
    }
    expect(isDomainError(error, 'NO_POLICY')).toBe(true);
  });

  it('finds the policies that still use an approver group', () => {
    // Act / Assess
    expect(
      policiesUsingGroup('exchange-approvers', [onTask, aPolicy({ id: 'x', approverGroup: 'other' })]).map(
        (p) => p.id,
      ),
    ).toEqual(['on-task']);
  });
});

describe('a container never loosens its members', () => {
  // "Mailbox Operator" lists MOVE and MAILBOX; "Exchange Admin" lists REMOVE; both roles sit in
  // the group "Exchange Operations".
  const REMOVE = 'Exchange\\Remove-Mailbox';
  const ADMIN_ROLE = 'Exchange Admin';
  const OPS = 'Exchange Operations';
  const catalog = catalogFrom({
    tasks: [aTask(), aTask({ name: MAILBOX }), aTask({ name: REMOVE })],
    roles: [aRole(), aRole({ name: ADMIN_ROLE, tasks: [REMOVE] })],
    roleGroups: [aRoleGroup({ roles: ['Mailbox Operator', ADMIN_ROLE] })],
  });
  const DEFAULT = 'default-approvers';
  const tier0Task = aPolicy({
    id: 'tier0-task',
    scope: 'task',
    target: REMOVE,
    approverGroup: 'tier0',
    maxDurationHours: 1,
  });
  const helpdeskRole = aPolicy({
    id: 'helpdesk-role',
    scope: 'role',
    target: ADMIN_ROLE,
    approverGroup: 'helpdesk',
    requiredApprovals: 2,
  });
  const strictTask = aPolicy({ id: 'strict-task', scope: 'task', target: MAILBOX, requiredApprovals: 2 });
  const autoRole = aPolicy({
    id: 'auto-role',
    scope: 'role',
    target: 'Mailbox Operator',
    approvalType: 'auto',
    maxDurationHours: 8,
  });
  const autoGroup = aPolicy({ id: 'auto-group', scope: 'roleGroup', target: OPS, approvalType: 'auto' });

  type Outcome = Partial<Policy> | undefined | { refused: 'APPROVER_GROUPS_CONFLICT' | 'NO_APPROVER_GROUP' };
  it.each<{
    story: string;
    target: Target;
    policies: Policy[];
    defaultGroup?: string | null;
    expected: Outcome;
  }>([
    {
      story: 'the reviewer’s exploit: a helpdesk role over a tier-0 task → refused, groups differ',
      target: { scope: 'role', name: ADMIN_ROLE },
      policies: [tier0Task, helpdeskRole],
      expected: { refused: 'APPROVER_GROUPS_CONFLICT' },
    },
    {
      story: 'same approver group → the role’s policy with every limit: 2 approvals and at most 1 h',
      target: { scope: 'role', name: ADMIN_ROLE },
      policies: [tier0Task, { ...helpdeskRole, approverGroup: 'tier0' }],
      expected: {
        id: 'helpdesk-role',
        scope: 'role',
        target: ADMIN_ROLE,
        approvalType: 'manual',
        approverGroup: 'tier0',
        requiredApprovals: 2,
        maxDurationHours: 1,
        pendingTimeoutHours: 24,
      },
    },
    {
      story: 'equal limits, different approver groups → refused, not decided by name order',
      target: { scope: 'role', name: ADMIN_ROLE },
      policies: [
        { ...tier0Task, maxDurationHours: undefined },
        { ...helpdeskRole, requiredApprovals: 1 },
      ],
      expected: { refused: 'APPROVER_GROUPS_CONFLICT' },
    },
    {
      story:
        'an auto role over a manual task → manual, approved by the task’s group, within the role’s maximum',
      target: { scope: 'role', name: 'Mailbox Operator' },
      policies: [strictTask, autoRole],
      expected: {
        id: 'auto-role',
        approvalType: 'manual',
        approverGroup: GROUP,
        requiredApprovals: 2,
        maxDurationHours: 8,
      },
    },
    {
      story: 'all auto → stays auto, with the shortest maximum and pending window',
      target: { scope: 'role', name: 'Mailbox Operator' },
      policies: [
        autoRole,
        aPolicy({
          id: 'auto-task',
          scope: 'task',
          target: MOVE,
          approvalType: 'auto',
          maxDurationHours: 2,
          pendingTimeoutHours: 4,
        }),
      ],
      expected: { id: 'auto-role', approvalType: 'auto', maxDurationHours: 2, pendingTimeoutHours: 4 },
    },
    {
      story: 'a policy without a group uses the default: it agrees with a member naming the default',
      target: { scope: 'role', name: ADMIN_ROLE },
      policies: [
        { ...tier0Task, approverGroup: DEFAULT },
        { ...helpdeskRole, approverGroup: undefined },
      ],
      defaultGroup: DEFAULT,
      expected: { id: 'helpdesk-role', approvalType: 'manual', approverGroup: DEFAULT, maxDurationHours: 1 },
    },
    {
      story: 'a policy without a group uses the default: a member naming another group → refused',
      target: { scope: 'role', name: ADMIN_ROLE },
      policies: [tier0Task, { ...helpdeskRole, approverGroup: undefined }],
      defaultGroup: DEFAULT,
      expected: { refused: 'APPROVER_GROUPS_CONFLICT' },
    },
    {
      story: 'a manual member with no group and no default group → refused, no group may approve it',
      target: { scope: 'role', name: ADMIN_ROLE },
      policies: [
        { ...tier0Task, approverGroup: undefined },
        { ...helpdeskRole, approverGroup: 'tier0' },
      ],
      defaultGroup: null,
      expected: { refused: 'NO_APPROVER_GROUP' },
    },
    {
      story: 'role group over roles and tasks → its own id with the tightest of all of them',
      target: { scope: 'roleGroup', name: OPS },
      policies: [
        { ...autoGroup, maxDurationHours: 8 },
        aPolicy({ id: 'role', scope: 'role', target: 'Mailbox Operator', pendingTimeoutHours: 4 }),
        { ...strictTask, requiredApprovals: 3, approverGroup: undefined, maxDurationHours: 2 },
        { ...tier0Task, approverGroup: GROUP, requiredApprovals: 1, maxDurationHours: 6 },
      ],
      defaultGroup: GROUP,
      expected: {
        id: 'auto-group',
        scope: 'roleGroup',
        target: OPS,
        approvalType: 'manual',
        approverGroup: GROUP,
        requiredApprovals: 3,
        maxDurationHours: 2,
        pendingTimeoutHours: 4,
      },
    },
    {
      story: 'role group whose second role holds a task approved by another group → refused',
      target: { scope: 'roleGroup', name: OPS },
      policies: [autoGroup, strictTask, tier0Task],
      expected: { refused: 'APPROVER_GROUPS_CONFLICT' },
    },
    {
      story: 'members’ policies only tighten: a role governed by nothing stays unrequestable',
      target: { scope: 'role', name: 'Mailbox Operator' },
      policies: [strictTask],
      expected: undefined,
    },
    {
      story: 'the task itself still follows its own policy alone',
      target: { scope: 'task', name: REMOVE },
      policies: [tier0Task, helpdeskRole],
      expected: tier0Task,
    },
  ])('$story', ({ target, policies, defaultGroup, expected }) => {
    // Act
    let policy: Policy | undefined;
    let error: unknown;
    try {
      policy = resolvePolicy(target, catalog, policies, defaultGroup === undefined ? GROUP : defaultGroup);
    } catch (e) {
      error = e;
    }

    // Assess
    if (expected !== undefined && 'refused' in expected) {
      expect(isDomainError(error, expected.refused), String(error)).toBe(true);
      return;
    }
    expect(error).toBeUndefined();
    if (expected === undefined) expect(policy).toBeUndefined();
    else {
      expect(policy).toMatchObject(expected);
      expect(Policy.safeParse(policy).success).toBe(true);
    }
  });

  it('a conflict names the groups and the policies’ targets, and says what to do', () => {
    // Act
    const act = () =>
      requirePolicy({ scope: 'role', name: ADMIN_ROLE }, catalog, [tier0Task, helpdeskRole], DEFAULT);

    // Assess
    expect(act).toThrow(
      'The role "Exchange Admin" cannot be requested as a whole: its policies name different approver ' +
        'groups (the policy on the role "Exchange Admin": "helpdesk"; the policy on the task ' +
        '"Exchange\\\\Remove-Mailbox": "tier0"), and no single sequence of approvals satisfies all of ' +
        'them. Request its tasks separately, or ask an admin to give these policies the same approver ' +
        'groups in the same order',
    );
  });

  it('a conflict is a 409-kind error with its own stable code', () => {
    // Act
    let error: unknown;
    try {
      resolvePolicy({ scope: 'role', name: ADMIN_ROLE }, catalog, [tier0Task, helpdeskRole], DEFAULT);
    } catch (e) {
      error = e;
    }

    // Assess
    expect(isDomainError(error, 'APPROVER_GROUPS_CONFLICT')).toBe(true);
    expect((error as DomainError).kind).toBe('conflict');
  });

  it('does not depend on the order policies come from storage', () => {
    // Prepare
    const policies = [autoGroup, strictTask, { ...tier0Task, approverGroup: GROUP }];

    // Act
    const forward = resolvePolicy({ scope: 'roleGroup', name: OPS }, catalog, policies, GROUP);
    const backward = resolvePolicy(
      { scope: 'roleGroup', name: OPS },
      catalog,
      [...policies].reverse(),
      GROUP,
    );

    // Assess
    expect(forward).toEqual(backward);
  });
});

describe('policies with stages, counted uses, a start delay and extensions', () => {
  const base = { scope: 'task', target: MOVE, approvalType: 'manual' } as const;
  const stages = [{ approverGroup: GROUP }, { approverGroup: SECURITY, requiredApprovals: 2 }];

  it.each<{ name: string; body: Record<string, unknown>; path?: string }>([
    { name: 'stages', body: { ...base, stages } },
    {
      name: 'stages and approverGroup',
      body: { ...base, stages, approverGroup: GROUP },
      path: 'approverGroup',
    },
    {
      name: 'stages and requiredApprovals',
      body: { ...base, stages, requiredApprovals: 2 },
      path: 'requiredApprovals',
    },
    {
      name: 'stages on an automatic policy',
      body: { ...base, approvalType: 'auto', stages },
      path: 'stages',
    },
    { name: 'an empty list of stages', body: { ...base, stages: [] }, path: 'stages' },
    {
      name: 'stages needing 21 approvals in all',
      body: {
        ...base,
        stages: [
          { approverGroup: GROUP, requiredApprovals: 10 },
          { approverGroup: SECURITY, requiredApprovals: 10 },
          { approverGroup: GROUP },
        ],
      },
      path: 'stages',
    },
    { name: 'maxUses 1 (one-shot)', body: { ...base, maxUses: 1 } },
    { name: 'maxUses 1000', body: { ...base, maxUses: 1000 } },
    { name: 'maxUses 0', body: { ...base, maxUses: 0 }, path: 'maxUses' },
    { name: 'maxUses 1001', body: { ...base, maxUses: 1001 }, path: 'maxUses' },
    { name: 'maxUses 1.5', body: { ...base, maxUses: 1.5 }, path: 'maxUses' },
    { name: 'maxExtensions 10', body: { ...base, maxExtensions: 10 } },
    { name: 'maxExtensions 11', body: { ...base, maxExtensions: 11 }, path: 'maxExtensions' },
    { name: 'maxExtensions -1', body: { ...base, maxExtensions: -1 }, path: 'maxExtensions' },
    { name: 'maxStartDelayHours 0.5', body: { ...base, maxStartDelayHours: 0.5 } },
    { name: 'maxStartDelayHours 0', body: { ...base, maxStartDelayHours: 0 }, path: 'maxStartDelayHours' },
  ])('$name → refused at: $path', ({ body, path }) => {
    // Act
    const result = PolicyBody.safeParse(body);

    // Assess
    expect(result.success).toBe(path === undefined);
    if (path !== undefined) expect(result.error?.issues.map((i) => i.path[0])).toContain(path);
  });

  it.each([
    {
      name: 'stages → its stages, the approvals of all of them, their groups once each',
      policy: () =>
        aPolicy({
          approverGroup: undefined,
          requiredApprovals: undefined,
          stages: [...twoStages(), { approverGroup: GROUP, requiredApprovals: 1 }],
        }),
      stages: [...twoStages(), { approverGroup: GROUP, requiredApprovals: 1 }],
      needed: 3,
      groups: [GROUP, SECURITY],
    },
    {
      name: 'one group → one stage',
      policy: () => aPolicy({ requiredApprovals: 2 }),
      stages: [{ approverGroup: GROUP, requiredApprovals: 2 }],
      needed: 2,
      groups: [GROUP],
    },
    {
      name: 'no group → the default group as one stage; it names none itself',
      policy: () => aPolicy({ approverGroup: undefined }),
      stages: [{ approverGroup: 'default-approvers', requiredApprovals: 1 }],
      needed: 1,
      groups: [],
    },
    {
      name: 'automatic → no stages, no approvals',
      policy: () => aPolicy({ approvalType: 'auto' }),
      stages: [],
      needed: 0,
      groups: [GROUP],
    },
  ])('$name', ({ policy, stages: expected, needed, groups }) => {
    // Act / Assess
    expect(policyStages(policy(), 'default-approvers')).toEqual(expected);
    expect(approvalsNeeded(policy())).toBe(needed);
    expect(policyGroups(policy())).toEqual(groups);
  });

  it('a policy naming a group only in its second stage keeps that group from being deleted', () => {
    // Prepare
    const staged = aPolicy({ approverGroup: undefined, requiredApprovals: undefined, stages: twoStages() });

    // Act / Assess
    expect(policiesUsingGroup(SECURITY, [staged])).toEqual([staged]);
  });
});

describe('role requests combine their policies stage by stage', () => {
  const ROLE = 'Mailbox Operator';
  const OPS = 'Exchange Operations';
  const catalog = catalogFrom({
    tasks: [aTask(), aTask({ name: MAILBOX })],
    roles: [aRole()],
    roleGroups: [aRoleGroup()],
  });
  const staged = (
    id: string,
    scope: 'task' | 'role' | 'roleGroup',
    target: string,
    plans: StagePlan[],
    more: Partial<Policy> = {},
  ) =>
    aPolicy({
      id,
      scope,
      target,
      approverGroup: undefined,
      requiredApprovals: undefined,
      stages: plans,
      ...more,
    });
  const single = (
    id: string,
    scope: 'task' | 'role' | 'roleGroup',
    target: string,
    group: string,
    more: Partial<Policy> = {},
  ) => aPolicy({ id, scope, target, approverGroup: group, requiredApprovals: 1, ...more });
  const s = (approverGroup: string, requiredApprovals = 1): StagePlan => ({
    approverGroup,
    requiredApprovals,
  });

  it.each<{
    name: string;
    target: Target;
    policies: Policy[];
    expected: Partial<Policy> | { refused: 'APPROVER_GROUPS_CONFLICT' };
  }>([
    {
      name: "a role's two stages, a task's single group that is their first → the two stages",
      target: { scope: 'role', name: ROLE },
      policies: [staged('role', 'role', ROLE, [s(GROUP), s(SECURITY)]), single('task', 'task', MOVE, GROUP)],
      expected: { stages: [s(GROUP), s(SECURITY)] },
    },
    {
      name: "a role's single group, a task's two stages that start with it → the task's two stages",
      target: { scope: 'role', name: ROLE },
      policies: [
        single('role', 'role', ROLE, GROUP),
        staged('task', 'task', MAILBOX, [s(GROUP), s(SECURITY)]),
      ],
      expected: { stages: [s(GROUP), s(SECURITY)] },
    },
    {
      name: 'each stage asks the most approvals any policy asks of it',
      target: { scope: 'role', name: ROLE },
      policies: [
        staged('role', 'role', ROLE, [s(GROUP, 1), s(SECURITY, 2)]),
        staged('task', 'task', MOVE, [s(GROUP, 3), s(SECURITY, 1)]),
      ],
      expected: { stages: [s(GROUP, 3), s(SECURITY, 2)] },
    },
    {
      name: 'a role group over its role and tasks, all with a prefix of the same sequence',
      target: { scope: 'roleGroup', name: OPS },
      policies: [
        single('group', 'roleGroup', OPS, GROUP),
        staged('role', 'role', ROLE, [s(GROUP), s(SECURITY)]),
        single('task', 'task', MAILBOX, GROUP, { requiredApprovals: 2 }),
      ],
      expected: { id: 'group', stages: [s(GROUP, 2), s(SECURITY)] },
    },
    {
      name: "a task's single group that is the role's second stage, not its first → 409",
      target: { scope: 'role', name: ROLE },
      policies: [
        staged('role', 'role', ROLE, [s(GROUP), s(SECURITY)]),
        single('task', 'task', MOVE, SECURITY),
      ],
      expected: { refused: 'APPROVER_GROUPS_CONFLICT' },
    },
    {
      name: 'the same groups in another order → 409',
      target: { scope: 'role', name: ROLE },
      policies: [
        staged('role', 'role', ROLE, [s(GROUP), s(SECURITY)]),
        staged('task', 'task', MOVE, [s(SECURITY), s(GROUP)]),
      ],
      expected: { refused: 'APPROVER_GROUPS_CONFLICT' },
    },
    {
      name: "an automatic member never adds stages; the manual policy's stages hold",
      target: { scope: 'role', name: ROLE },
      policies: [
        staged('role', 'role', ROLE, [s(GROUP), s(SECURITY)]),
        single('task', 'task', MOVE, GROUP, { approvalType: 'auto' }),
      ],
      expected: { approvalType: 'manual', stages: [s(GROUP), s(SECURITY)] },
    },
    {
      name: 'the fewest uses, the fewest extensions and the shortest start delay of them all',
      target: { scope: 'role', name: ROLE },
      policies: [
        single('role', 'role', ROLE, GROUP, { maxUses: 5, maxExtensions: 3, maxStartDelayHours: 48 }),
        single('move', 'task', MOVE, GROUP, { maxUses: 2, maxExtensions: 4 }),
        single('mailbox', 'task', MAILBOX, GROUP, { maxExtensions: 1, maxStartDelayHours: 12 }),
      ],
      expected: {
        maxUses: 2,
        maxExtensions: 1,
        maxStartDelayHours: 12,
        approverGroup: GROUP,
        requiredApprovals: 1,
      },
    },
    {
      name: 'a counted member makes the role counted; an uncounted one never lifts a count',
      target: { scope: 'role', name: ROLE },
      policies: [single('role', 'role', ROLE, GROUP), single('move', 'task', MOVE, GROUP, { maxUses: 1 })],
      expected: { maxUses: 1 },
    },
  ])('$name', ({ target, policies, expected }) => {
    // Act
    let policy: Policy | undefined;
    let error: unknown;
    try {
      policy = resolvePolicy(target, catalog, policies, GROUP);
    } catch (e) {
      error = e;
    }

    // Assess
    if ('refused' in expected) {
      expect(isDomainError(error, expected.refused), String(error)).toBe(true);
      return;
    }
    expect(error).toBeUndefined();
    expect(policy).toMatchObject(expected);
    if ('stages' in expected) {
      // Stages instead of the single group, never both (the body's rule)
      expect(policy?.stages).toEqual(expected.stages);
      expect([policy?.approverGroup, policy?.requiredApprovals]).toEqual([undefined, undefined]);
    }
    expect(Policy.safeParse(policy).success).toBe(true);
  });

  it('combined stages never need more than 20 approvals in all (the bound every policy keeps)', () => {
    // Prepare: each policy needs 20; stage by stage, the most of each would need 25
    const policies = [
      staged('role', 'role', ROLE, [s(GROUP, 10), s(SECURITY, 5), s(GROUP, 5)]),
      staged('task', 'task', MOVE, [s(GROUP, 5), s(SECURITY, 10), s(GROUP, 5)]),
    ];

    // Act
    let policy: Policy | undefined;
    let error: unknown;
    try {
      policy = resolvePolicy({ scope: 'role', name: ROLE }, catalog, policies, GROUP);
    } catch (e) {
      error = e;
    }

    // Assess: refused, or a policy that stays within the bound
    if (error === undefined)
      expect(policy === undefined ? 0 : approvalsNeeded(policy)).toBeLessThanOrEqual(20);
    else expect(isDomainError(error)).toBe(true);
  });
});
