import { z } from 'zod';
import { compareNames, describeTarget, type Catalog, Scope, ScopeSchema, type Target } from './catalog';
import { DomainError } from './errors';
import { ApproverGroupName, CatalogName, Id } from './names';
import { Hours, hoursToSeconds } from './time';

export const ApprovalType = {
  manual: 'manual',
  auto: 'auto',
} as const;
export type ApprovalType = (typeof ApprovalType)[keyof typeof ApprovalType];
export const ApprovalTypeSchema = z.enum(ApprovalType);

export const MAX_REQUIRED_APPROVALS = 10;

const policyShape = {
  scope: ScopeSchema,
  target: CatalogName,
  approvalType: ApprovalTypeSchema,
  /** Falls back to the configured default approver group when absent. */
  approverGroup: ApproverGroupName.optional(),
  requiredApprovals: z.int().min(1).max(MAX_REQUIRED_APPROVALS).default(1),
  /** No maximum beyond `MAX_HOURS` when absent. */
  maxDurationHours: Hours.optional(),
  /** How long a request may wait for a decision before it expires. */
  pendingTimeoutHours: Hours.default(24),
};

/** Body of `POST /api/policies` and `PUT /api/policies/{id}` (defaults applied on parse). */
export const PolicyBody = z.strictObject(policyShape);
export type PolicyBody = z.output<typeof PolicyBody>;
export type PolicyInput = z.input<typeof PolicyBody>;

/** A stored policy: the body with its defaults applied, plus its id. */
export const Policy = z.strictObject({
  id: Id,
  ...policyShape,
  requiredApprovals: z.int().min(1).max(MAX_REQUIRED_APPROVALS),
  pendingTimeoutHours: Hours,
});
export type Policy = z.output<typeof Policy>;

export function newPolicy(id: string, body: PolicyBody): Policy {
  return { id, ...body };
}

export function policyTarget(policy: Pick<Policy, 'scope' | 'target'>): Target {
  return { scope: policy.scope, name: policy.target };
}

/**
 * Refuses policy windows shorter than the configured minimum (`ZSA_MIN_DURATION_SECONDS`), at
 * creation rather than at request time, so a requester never pays for an admin's typo.
 */
export function assertPolicyWindows(
  policy: Pick<Policy, 'maxDurationHours' | 'pendingTimeoutHours'>,
  minDurationSeconds: number,
): void {
  const short = (field: string, hours: number) =>
    new DomainError(
      'DURATION_TOO_SHORT',
      `${field} is ${hours} hours (${hoursToSeconds(hours)} s); the minimum is ${minDurationSeconds} s`,
      { errors: [{ pointer: `#/${field}`, detail: `must be at least ${minDurationSeconds} seconds` }] },
    );
  if (policy.maxDurationHours !== undefined && hoursToSeconds(policy.maxDurationHours) < minDurationSeconds)
    throw short('maxDurationHours', policy.maxDurationHours);
  if (hoursToSeconds(policy.pendingTimeoutHours) < minDurationSeconds)
    throw short('pendingTimeoutHours', policy.pendingTimeoutHours);
}

/**
 * Orders policies strictest first: manual before auto, then more required approvals, then the
 * shorter maximum grant (none = longest), then the shorter pending window, then by target name
 * and id so the choice never depends on storage order.
 */
export function compareStrictness(a: Policy, b: Policy): number {
  const manual = (p: Policy) => (p.approvalType === 'manual' ? 0 : 1);
  const maxGrant = (p: Policy) => p.maxDurationHours ?? Number.POSITIVE_INFINITY;
  return (
    manual(a) - manual(b) ||
    b.requiredApprovals - a.requiredApprovals ||
    Math.sign(maxGrant(a) - maxGrant(b)) ||
    Math.sign(a.pendingTimeoutHours - b.pendingTimeoutHours) ||
    compareNames(a.target, b.target) ||
    compareNames(a.id, b.id)
  );
}

function strictestOf(policies: readonly Policy[]): Policy | undefined {
  return [...policies].sort(compareStrictness)[0];
}

/**
 * The policy that governs a request for `target`, or undefined when none does.
 *
 * Coverage flows from containers to members. The most specific level that has a policy governs: a
 * task's own policy, else its roles' policies, else its role groups' (the groups of any role that
 * lists the task); a role's own policy, else its role groups'; a role group's own only. When one
 * level holds several (a task in two roles that both have policies) the strictest governs
 * (`compareStrictness`).
 *
 * Strictness flows back up: a role or role-group request grants every member, so it must not be
 * looser than any member's own policy. Its answer combines the governing policy with its members'
 * own policies (the roles of a role group, the tasks of the role or roles): manual if any is
 * manual, the most approvals of the manual ones, the shortest maximum grant and pending window.
 * Members' policies only tighten: they never make an ungoverned container requestable.
 *
 * @param defaultApproverGroup the configured default approver group (`PamConfig`), which a manual
 *   policy without `approverGroup` falls back to; null when none is configured.
 * @throws DomainError `APPROVER_GROUPS_CONFLICT` when the manual policies combined for a role or
 *   role-group request name different approver groups (after the default is substituted), and
 *   `NO_APPROVER_GROUP` when one of them names none and no default is configured: no single group
 *   could then approve for all of them, so the request is refused rather than decided by one.
 */
export function resolvePolicy(
  target: Target,
  catalog: Catalog,
  policies: readonly Policy[],
  defaultApproverGroup: string | null,
): Policy | undefined {
  const policyOf = (scope: Scope, name: string) =>
    policies.filter((p) => p.scope === scope && p.target === name);
  const governing = governingPolicy(target, catalog, policyOf);
  if (target.scope === 'task' || governing === undefined) return governing;
  // Picking one policy here (even the strictest) would drop the others' limits and approver group:
  // a role holding a tier-0 task with a 1-hour maximum could be asked for 100 hours and approved
  // by the role's helpdesk group. So every applicable policy's limits apply at once.
  const memberRoles = target.scope === 'roleGroup' ? (catalog.roleGroup(target.name)?.roles ?? []) : [];
  const memberTasks =
    target.scope === 'role'
      ? (catalog.role(target.name)?.tasks ?? [])
      : memberRoles.flatMap((r) => catalog.role(r)?.tasks ?? []);
  return combinePolicies(
    target,
    governing,
    [...memberRoles.flatMap((r) => policyOf('role', r)), ...memberTasks.flatMap((t) => policyOf('task', t))],
    defaultApproverGroup,
  );
}

function governingPolicy(
  target: Target,
  catalog: Catalog,
  policyOf: (scope: Scope, name: string) => Policy[],
): Policy | undefined {
  const own = strictestOf(policyOf(target.scope, target.name));
  if (own !== undefined || target.scope === 'roleGroup') return own;

  const roles =
    target.scope === 'role' ? [target.name] : catalog.rolesContainingTask(target.name).map((r) => r.name);
  if (target.scope === 'task') {
    const viaRole = strictestOf(roles.flatMap((r) => policyOf('role', r)));
    if (viaRole !== undefined) return viaRole;
  }
  const groups = new Set(roles.flatMap((r) => catalog.roleGroupsContainingRole(r).map((g) => g.name)));
  return strictestOf([...groups].flatMap((g) => policyOf('roleGroup', g)));
}

/**
 * The governing policy with the limits of every applicable policy at once. It keeps the governing
 * policy's `id`, `scope` and `target`: the request records that id as `policyId`, the policy an
 * admin set for what was asked for, while the limits it carries may come from its members.
 */
function combinePolicies(
  target: Target,
  governing: Policy,
  members: readonly Policy[],
  defaultApproverGroup: string | null,
): Policy {
  const all = [governing, ...members];
  const manual = all.filter((p) => p.approvalType === 'manual');
  const maxima = all.flatMap((p) => (p.maxDurationHours === undefined ? [] : [p.maxDurationHours]));
  const limits = {
    ...(maxima.length > 0 ? { maxDurationHours: Math.min(...maxima) } : {}),
    // A pending window only means something where someone approves: the manual policies' (if any).
    pendingTimeoutHours: Math.min(...(manual.length > 0 ? manual : all).map((p) => p.pendingTimeoutHours)),
  };
  if (manual.length === 0) return { ...governing, ...limits };
  return {
    ...governing,
    ...limits,
    approvalType: 'manual',
    requiredApprovals: Math.max(...manual.map((p) => p.requiredApprovals)),
    approverGroup: commonApproverGroup(target, manual, defaultApproverGroup),
  };
}

/** The one approver group every manual policy falls to, or a refusal that says how to get access. */
function commonApproverGroup(
  target: Target,
  manual: readonly Policy[],
  defaultApproverGroup: string | null,
): string {
  const byGroup = new Map<string, Policy[]>();
  const ungrouped: Policy[] = [];
  for (const p of manual) {
    const group = p.approverGroup ?? defaultApproverGroup;
    if (group === null) ungrouped.push(p);
    else byGroup.set(group, [...(byGroup.get(group) ?? []), p]);
  }
  const describe = (p: Policy) =>
    `the policy on the ${describeTarget(policyTarget(p))}${p.approverGroup === undefined ? ' (by default)' : ''}`;
  if (ungrouped.length > 0)
    throw new DomainError(
      'NO_APPROVER_GROUP',
      `The ${describeTarget(target)} cannot be requested: ${ungrouped.map(describe).join(', ')} names no ` +
        'approver group and no default group is configured; ask an admin to set one',
    );
  const groups = [...byGroup.entries()].sort(([a], [b]) => compareNames(a, b));
  const [only, ...others] = groups;
  if (only !== undefined && others.length === 0) return only[0];
  const named = groups.map(([group, ps]) => `${JSON.stringify(group)} by ${ps.map(describe).join(', ')}`);
  throw new DomainError(
    'APPROVER_GROUPS_CONFLICT',
    `The ${describeTarget(target)} cannot be requested as a whole: its policies name different ` +
      `approver groups (${named.join('; ')}), and no single group may approve for all of them. ` +
      `Request its ${target.scope === 'roleGroup' ? 'roles or tasks' : 'tasks'} separately, or ask an ` +
      'admin to give these policies the same approver group',
  );
}

/** `resolvePolicy` that throws `NO_POLICY` (a 400: the requester asked for something nobody governs). */
export function requirePolicy(
  target: Target,
  catalog: Catalog,
  policies: readonly Policy[],
  defaultApproverGroup: string | null,
): Policy {
  const policy = resolvePolicy(target, catalog, policies, defaultApproverGroup);
  if (policy === undefined)
    throw new DomainError(
      'NO_POLICY',
      `No access policy covers the ${describeTarget(target)}; ask an admin to add one`,
    );
  return policy;
}

/** Policies that name this approver group: the group may not be deleted while any does (409). */
export function policiesUsingGroup(group: string, policies: readonly Policy[]): readonly Policy[] {
  return policies.filter((p) => p.approverGroup === group);
}
