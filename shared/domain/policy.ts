import { z } from 'zod';
import { compareNames, describeTarget, type Catalog, Scope, ScopeSchema, type Target } from './catalog';
import { DomainError } from './errors';
import { ApproverGroupName, CatalogName, Id } from './names';
import {
  combineStages,
  MAX_REQUIRED_APPROVALS,
  MAX_TOTAL_APPROVALS,
  StagePlans,
  totalApprovals,
  type StagePlan,
} from './stages';
import { AgentsPolicy } from './agents';
import { DEFAULT_BREAK_GLASS_MAX_HOURS } from './emergency';
import { AuthContext } from './step-up';
import { Hours, hoursToSeconds } from './time';

export const ApprovalType = {
  manual: 'manual',
  auto: 'auto',
} as const;
export type ApprovalType = (typeof ApprovalType)[keyof typeof ApprovalType];
export const ApprovalTypeSchema = z.enum(ApprovalType);

export { MAX_REQUIRED_APPROVALS };

/** The most uses a counted grant may allow. */
export const MAX_USES = 1000;
/** The most extensions a policy may allow per grant. */
export const MAX_EXTENSIONS = 10;
/** How far ahead a request may schedule its start when the policy does not say. */
export const DEFAULT_MAX_START_DELAY_HOURS = 168;

const policyShape = {
  scope: ScopeSchema,
  target: CatalogName,
  approvalType: ApprovalTypeSchema,
  /** Falls back to the configured default approver group when absent. Not with `stages`. */
  approverGroup: ApproverGroupName.optional(),
  /** 1 when absent (and no `stages`). Not with `stages`. */
  requiredApprovals: z.int().min(1).max(MAX_REQUIRED_APPROVALS).optional(),
  /** Approval stages, approved in order (AND); instead of `approverGroup`/`requiredApprovals`. Manual only. */
  stages: StagePlans.optional(),
  /** No maximum beyond `MAX_HOURS` when absent. Also the most one extension may add. */
  maxDurationHours: Hours.optional(),
  /** How long a request (or an extension) may wait for a decision before it expires. */
  pendingTimeoutHours: Hours.default(24),
  /** A counted grant: it ends after this many successful executions. Unlimited when absent. */
  maxUses: z.int().min(1).max(MAX_USES).optional(),
  /** How far ahead a request's `startAt` may be. */
  maxStartDelayHours: Hours.default(DEFAULT_MAX_START_DELAY_HOURS),
  /** How many extensions a grant may be asked for (0: none). */
  maxExtensions: z.int().min(0).max(MAX_EXTENSIONS).default(0),
  /** Members of this approver group may ask for emergency access (granted at once, reviewed after). */
  breakGlassGroup: ApproverGroupName.optional(),
  /** The longest emergency grant. */
  breakGlassMaxHours: Hours.default(DEFAULT_BREAK_GLASS_MAX_HOURS),
  /** Decisions on this policy's requests need a token proving this context (`c1` … `c99`) or `mfa`. */
  approverAuthContext: AuthContext.optional(),
  /** Whether AI agents may request this target through the MCP tools (absent: they may not). */
  agents: AgentsPolicy.optional(),
};

type PolicyFields = {
  approvalType: ApprovalType;
  approverGroup?: string | undefined;
  requiredApprovals?: number | undefined;
  stages?: readonly unknown[] | undefined;
};

/** `stages` replaces the single group: both at once is ambiguous, and stages only mean something when people approve. */
function stagesOrGroup(value: PolicyFields, ctx: z.RefinementCtx): void {
  if (value.stages === undefined) return;
  for (const field of ['approverGroup', 'requiredApprovals'] as const)
    if (value[field] !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: [field],
        message: 'give either stages or approverGroup/requiredApprovals, not both',
      });
  if (value.approvalType === 'auto')
    ctx.addIssue({
      code: 'custom',
      path: ['stages'],
      message: 'stages need manual approval (approvalType "manual")',
    });
}

/** An agent's action always waits for a person: agents may only be let in where approval is manual. */
function agentsNeedManual(
  value: PolicyFields & { agents?: { mode: string } | undefined },
  ctx: z.RefinementCtx,
): void {
  if (value.agents !== undefined && value.agents.mode !== 'none' && value.approvalType !== 'manual')
    ctx.addIssue({
      code: 'custom',
      path: ['agents'],
      message: 'agents may only request targets whose policy needs manual approval (approvalType "manual")',
    });
}

/**
 * Body of `POST /api/policies` and `PUT /api/policies/{id}` (defaults applied on parse). Stored
 * rows are not held to `agentsNeedManual` (an older row must still read); admitAgent refuses them.
 */
export const PolicyBody = z
  .strictObject(policyShape)
  .superRefine(stagesOrGroup)
  .superRefine(agentsNeedManual);
export type PolicyBody = z.output<typeof PolicyBody>;
export type PolicyInput = z.input<typeof PolicyBody>;

/**
 * A stored policy: the body with its defaults applied, plus its id. Rows written before a field
 * existed read with its default (no stages, unlimited uses, 168 h start delay, no extensions).
 */
export const Policy = z
  .strictObject({
    id: Id,
    ...policyShape,
    pendingTimeoutHours: Hours,
  })
  .superRefine(stagesOrGroup);
export type Policy = z.output<typeof Policy>;

export function newPolicy(id: string, body: PolicyBody): Policy {
  // A single-group policy keeps showing its requiredApprovals, as it always has.
  return {
    id,
    ...body,
    ...(body.stages === undefined ? { requiredApprovals: body.requiredApprovals ?? 1 } : {}),
  };
}

/**
 * The stages a policy's requests go through: its `stages`, or its one group (the default group
 * when it names none) as a single stage; none for an automatic policy. Undefined when a manual
 * policy names no group and no default is configured.
 */
export function policyStages(
  policy: Pick<Policy, 'approvalType' | 'approverGroup' | 'requiredApprovals' | 'stages'>,
  defaultApproverGroup: string | null,
): StagePlan[] | undefined {
  if (policy.approvalType === 'auto') return [];
  if (policy.stages !== undefined) return policy.stages.map((s) => ({ ...s }));
  const group = policy.approverGroup ?? defaultApproverGroup;
  return group === null
    ? undefined
    : [{ approverGroup: group, requiredApprovals: policy.requiredApprovals ?? 1 }];
}

/** Approvals a manual policy needs in all (0 for an automatic one). */
export function approvalsNeeded(
  policy: Pick<Policy, 'approvalType' | 'requiredApprovals' | 'stages'>,
): number {
  if (policy.approvalType === 'auto') return 0;
  return policy.stages === undefined ? (policy.requiredApprovals ?? 1) : totalApprovals(policy.stages);
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
  const stages = (p: Policy) => p.stages?.length ?? 1;
  return (
    manual(a) - manual(b) ||
    approvalsNeeded(b) - approvalsNeeded(a) ||
    stages(b) - stages(a) ||
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
 * manual, their approval stages combined stage by stage (`combineStages`), the shortest maximum
 * grant, pending window and start delay, the fewest uses and extensions.
 * Members' policies only tighten: they never make an ungoverned container requestable.
 *
 * @param defaultApproverGroup the configured default approver group (`PamConfig`), which a manual
 *   policy without `approverGroup` falls back to; null when none is configured.
 * @throws DomainError `APPROVER_GROUPS_CONFLICT` when the manual policies combined for a role or
 *   role-group request name different approver groups for the same stage (after the default is
 *   substituted; a shorter sequence of stages must be a prefix of the longest), and
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
  const least = (values: readonly (number | undefined)[]) => {
    const given = values.filter((v): v is number => v !== undefined);
    return given.length > 0 ? Math.min(...given) : undefined;
  };
  const maxDurationHours = least(all.map((p) => p.maxDurationHours));
  const maxUses = least(all.map((p) => p.maxUses));
  const limits = {
    ...(maxDurationHours === undefined ? {} : { maxDurationHours }),
    ...(maxUses === undefined ? {} : { maxUses }),
    // A pending window only means something where someone approves: the manual policies' (if any).
    pendingTimeoutHours: Math.min(...(manual.length > 0 ? manual : all).map((p) => p.pendingTimeoutHours)),
    maxStartDelayHours: Math.min(...all.map((p) => p.maxStartDelayHours)),
    maxExtensions: Math.min(...all.map((p) => p.maxExtensions)),
    breakGlassMaxHours: Math.min(...all.map((p) => p.breakGlassMaxHours)),
    // Emergency access for the whole only where every policy names the same break-glass group.
    breakGlassGroup: commonValue(all.map((p) => p.breakGlassGroup)),
    approverAuthContext: strongestContext(target, all),
  };
  if (manual.length === 0) return { ...governing, ...limits };
  const stages = commonStages(target, manual, defaultApproverGroup);
  const { approverGroup: _group, requiredApprovals: _required, ...rest } = governing;
  // One stage reads as the single-group policy it is; more keep their stages.
  const approval =
    stages.length === 1 && stages[0] !== undefined
      ? { approverGroup: stages[0].approverGroup, requiredApprovals: stages[0].requiredApprovals }
      : { stages };
  return { ...rest, stages: undefined, ...limits, approvalType: 'manual', ...approval };
}

/** The value every entry has, or undefined when any lacks it or two differ. */
function commonValue(values: readonly (string | undefined)[]): string | undefined {
  const [first, ...rest] = values;
  return first !== undefined && rest.every((v) => v === first) ? first : undefined;
}

/**
 * The authentication context a combined request's decisions need: the one its policies ask (any of
 * them asking is enough). Two different ones cannot both be proved by one token as policies
 * describe them, so that is refused like conflicting approver groups.
 */
function strongestContext(target: Target, all: readonly Policy[]): string | undefined {
  const asked = [
    ...new Set(all.flatMap((p) => (p.approverAuthContext === undefined ? [] : [p.approverAuthContext]))),
  ];
  if (asked.length <= 1) return asked[0];
  throw new DomainError(
    'APPROVER_GROUPS_CONFLICT',
    `The ${describeTarget(target)} cannot be requested as a whole: its policies ask approvers for different ` +
      `sign-ins (${asked.sort().join(', ')}). Request its parts separately, or ask an admin to align them`,
  );
}

/** The one sequence of stages every manual policy falls to, or a refusal that says how to get access. */
function commonStages(
  target: Target,
  manual: readonly Policy[],
  defaultApproverGroup: string | null,
): StagePlan[] {
  const describe = (p: Policy) =>
    `the policy on the ${describeTarget(policyTarget(p))}${p.approverGroup === undefined && p.stages === undefined ? ' (by default)' : ''}`;
  const ungrouped = manual.filter((p) => policyStages(p, defaultApproverGroup) === undefined);
  if (ungrouped.length > 0)
    throw new DomainError(
      'NO_APPROVER_GROUP',
      `The ${describeTarget(target)} cannot be requested: ${ungrouped.map(describe).join(', ')} names no ` +
        'approver group and no default group is configured; ask an admin to set one',
    );
  const sequences = manual.map((p) => ({ p, stages: policyStages(p, defaultApproverGroup) ?? [] }));
  const combined = combineStages(sequences.map((s) => s.stages));
  if (combined !== undefined && totalApprovals(combined) > MAX_TOTAL_APPROVALS)
    // Each policy keeps within the bound, but taking the most of each stage can exceed it.
    throw new DomainError(
      'APPROVER_GROUPS_CONFLICT',
      `The ${describeTarget(target)} cannot be requested as a whole: its policies combined would need ` +
        `${totalApprovals(combined)} approvals, more than ${MAX_TOTAL_APPROVALS}. Request its ` +
        `${target.scope === 'roleGroup' ? 'roles or tasks' : 'tasks'} separately`,
    );
  if (combined !== undefined) return combined;
  const named = sequences
    .map(
      ({ p, stages }) =>
        `${describe(p)}: ${stages.map((s) => JSON.stringify(s.approverGroup)).join(' then ')}`,
    )
    .sort(compareNames);
  throw new DomainError(
    'APPROVER_GROUPS_CONFLICT',
    `The ${describeTarget(target)} cannot be requested as a whole: its policies name different ` +
      `approver groups (${named.join('; ')}), and no single sequence of approvals satisfies all of them. ` +
      `Request its ${target.scope === 'roleGroup' ? 'roles or tasks' : 'tasks'} separately, or ask an ` +
      'admin to give these policies the same approver groups in the same order',
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
  return policies.filter((p) => policyGroups(p).includes(group) || p.breakGlassGroup === group);
}

/** The approver groups a policy names itself (its group, or its stages' groups). */
export function policyGroups(policy: Pick<Policy, 'approverGroup' | 'stages'>): string[] {
  return policy.stages !== undefined
    ? [...new Set(policy.stages.map((s) => s.approverGroup))]
    : policy.approverGroup === undefined
      ? []
      : [policy.approverGroup];
}
