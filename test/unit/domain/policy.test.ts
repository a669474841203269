import { describe, expect, it } from 'vitest';
import { catalogFrom, type Target } from '#shared/domain/catalog';
import { isDomainError } from '#shared/domain/errors';
import {
  assertPolicyWindows,
  compareStrictness,
  newPolicy,
  Policy,
  PolicyBody,
  policiesUsingGroup,
  requirePolicy,
  resolvePolicy,
} from '#shared/domain/policy';
import { aPolicy, aRole, aRoleGroup, aTask, MAILBOX, MOVE, RESET } from './builders';

describe('policy body', () => {
  it('applies the defaults: one approval, a 24-hour pending window, no maximum', () => {
    // Act
    const body = PolicyBody.parse({ scope: 'task', target: MOVE, approvalType: 'manual' });

    // Assess
    expect(body).toEqual({
      scope: 'task',
      target: MOVE,
      approvalType: 'manual',
      requiredApprovals: 1,
      pendingTimeoutHours: 24,
    });
    expect(Policy.safeParse(newPolicy('p1', body)).success).toBe(true);
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
      name: 'role group request → the stricter of its own policy and its roles’ own (never looser than a member)',
      target: { scope: 'roleGroup', name: 'Exchange Operations' },
      policies: [onRole, onGroup],
      expected: 'on-role',
    },
    {
      name: 'a role policy does not cover the role group',
      target: { scope: 'roleGroup', name: 'Exchange Operations' },
      policies: [onRole],
      expected: undefined,
    },
  ])('$name', ({ target, policies, expected }) => {
    // Act
    const policy = resolvePolicy(target, catalog, policies);

    // Assess
    expect(policy?.id).toBe(expected);
  });

  it('does not depend on the order policies come from storage', () => {
    // Prepare
    const a = aPolicy({ id: 'a', scope: 'role', target: 'Mailbox Operator' });
    const b = aPolicy({ id: 'b', scope: 'role', target: 'Mailbox Admin' });

    // Act
    const forward = resolvePolicy({ scope: 'task', name: MAILBOX }, catalog, [a, b]);
    const backward = resolvePolicy({ scope: 'task', name: MAILBOX }, catalog, [b, a]);

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
    const act = () => requirePolicy({ scope: 'task', name: RESET }, catalog, []);

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
  // "Mailbox Operator" lists MOVE and MAILBOX and sits in group "Exchange Operations".
  const catalog = catalogFrom({
    tasks: [aTask(), aTask({ name: MAILBOX })],
    roles: [aRole()],
    roleGroups: [aRoleGroup()],
  });
  const strictTask = aPolicy({ id: 'strict-task', scope: 'task', target: MAILBOX, requiredApprovals: 2 });
  const autoRole = aPolicy({
    id: 'auto-role',
    scope: 'role',
    target: 'Mailbox Operator',
    approvalType: 'auto',
  });
  const autoGroup = aPolicy({
    id: 'auto-group',
    scope: 'roleGroup',
    target: 'Exchange Operations',
    approvalType: 'auto',
  });

  it.each([
    {
      story: 'requesting the role of a task with a stricter own policy → the task policy',
      target: { scope: 'role', name: 'Mailbox Operator' },
      policies: [strictTask, autoRole],
      expected: 'strict-task',
    },
    {
      story: 'requesting the role group → its members’ stricter policies too',
      target: { scope: 'roleGroup', name: 'Exchange Operations' },
      policies: [strictTask, autoGroup],
      expected: 'strict-task',
    },
    {
      story: 'a stricter role policy beats an auto role-group policy for the group request',
      target: { scope: 'roleGroup', name: 'Exchange Operations' },
      policies: [autoGroup, aPolicy({ id: 'manual-role', scope: 'role', target: 'Mailbox Operator' })],
      expected: 'manual-role',
    },
    {
      story: 'members’ policies only tighten: a role governed by nothing stays unrequestable',
      target: { scope: 'role', name: 'Mailbox Operator' },
      policies: [strictTask],
      expected: undefined,
    },
    {
      story: 'the task itself still follows its own policy',
      target: { scope: 'task', name: MAILBOX },
      policies: [strictTask, autoRole],
      expected: 'strict-task',
    },
  ] as {
    story: string;
    target: Target;
    policies: Parameters<typeof resolvePolicy>[2];
    expected: string | undefined;
  }[])('$story', ({ target, policies, expected }) => {
    // Act
    const policy = resolvePolicy(target, catalog, policies);
    // Assess
    expect(policy?.id).toBe(expected);
  });
});
