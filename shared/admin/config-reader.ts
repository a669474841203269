/**
 * What the request and execution flows read of the configuration. Plain functions over `Tables`,
 * plus `configReader(tables)` bundling them for a context object.
 */
import type { Tables } from '#shared/adapters/tables';
import {
  catalogFrom,
  compareNames,
  effectiveTasks,
  type Catalog,
  type Role,
  type RoleGroup,
  type Scope,
  type Target,
  type Task,
} from '#shared/domain/catalog';
import type { ApproverGroup, Member, PamConfig } from '#shared/domain/pam';
import type { Policy } from '#shared/domain/policy';
import { getApproverGroup } from './approver-group-repository';
import {
  getCatalogEntry,
  getTask,
  listCatalogEntries,
  roleGroupsContainingRole,
  rolesContainingTask,
} from './catalog-repository';
import { getPamConfig } from './pam-repository';
import { listPolicies, policyFor } from './policy-repository';
import { mapBounded } from './store';

export { getApproverGroup, getPamConfig, getTask };

/**
 * Exactly what `resolvePolicy(target, catalog, policies, defaultGroup)` and `effectiveTasks(target, catalog)`
 * need for one target, read from storage without loading the whole catalog:
 * - `catalog` holds the target itself, what it grants (a role's tasks; a role group's roles and
 *   their tasks) and what contains it (the roles listing a task, the role groups listing those
 *   roles or the role), so `rolesContainingTask`/`roleGroupsContainingRole` answer as on the full
 *   catalog for this target;
 * - `policies` are the policies naming the target or one of its containers.
 * A target missing from the catalog yields an empty context: `effectiveTasks` then says NOT_FOUND
 * and `resolvePolicy` finds nothing.
 */
export interface PolicyContext {
  readonly catalog: Catalog;
  readonly policies: readonly Policy[];
}

function byName<T extends { name: string }>(items: readonly T[]): T[] {
  const unique = new Map(items.map((i) => [i.name, i]));
  return [...unique.values()].sort((a, b) => compareNames(a.name, b.name));
}

async function all<E>(
  names: readonly string[],
  load: (name: string) => Promise<E | undefined>,
): Promise<E[]> {
  return (await mapBounded([...new Set(names)], load)).filter((e): e is E => e !== undefined);
}

/** What one target's context holds, besides policies: the entries and the containers to look up. */
interface Slice {
  readonly tasks: readonly Task[];
  readonly roles: readonly Role[];
  readonly roleGroups: readonly RoleGroup[];
  /** Targets whose policies may govern the target (coverage flows from containers to members). */
  readonly containers: readonly Target[];
}

const asTargets = (scope: 'role' | 'roleGroup', entries: readonly { name: string }[]): Target[] =>
  entries.map((e) => ({ scope, name: e.name }));

const SLICES: Record<Scope, (tables: Tables, name: string) => Promise<Slice | undefined>> = {
  async task(tables, name) {
    const [own, roles] = await Promise.all([getTask(tables, name), rolesContainingTask(tables, name)]);
    if (own === undefined) return undefined;
    const roleGroups = byName(
      (await mapBounded(roles, (r) => roleGroupsContainingRole(tables, r.name))).flat(),
    );
    return {
      tasks: [own],
      roles,
      roleGroups,
      containers: [...asTargets('role', roles), ...asTargets('roleGroup', roleGroups)],
    };
  },
  async role(tables, name) {
    const [own, roleGroups] = await Promise.all([
      getCatalogEntry(tables, 'role', name),
      roleGroupsContainingRole(tables, name),
    ]);
    if (own === undefined) return undefined;
    const tasks = await all(own.tasks, (t) => getTask(tables, t));
    return { tasks, roles: [own], roleGroups, containers: asTargets('roleGroup', roleGroups) };
  },
  async roleGroup(tables, name) {
    const own = await getCatalogEntry(tables, 'roleGroup', name);
    if (own === undefined) return undefined;
    const roles = await all(own.roles, (r) => getCatalogEntry(tables, 'role', r));
    const tasks = await all(
      roles.flatMap((r) => r.tasks),
      (t) => getTask(tables, t),
    );
    return { tasks, roles, roleGroups: [own], containers: [] };
  },
};

export async function loadPolicyContext(tables: Tables, target: Target): Promise<PolicyContext> {
  // The target's own policy needs nothing from the slice: read it beside the slice (its pointer,
  // then the policy), one storage round trip off every submit's critical path.
  const own = policyFor(tables, target);
  own.catch(() => undefined); // awaited below; never an unhandled rejection if the slice fails first
  const slice = await SLICES[target.scope](tables, target.name);
  if (slice === undefined) return { catalog: catalogFrom({}), policies: [] };
  // A role or role-group request is never looser than its members' own policies (`resolvePolicy`).
  const members: Target[] =
    target.scope === 'task'
      ? []
      : [
          ...(target.scope === 'roleGroup' ? asTargets('role', slice.roles) : []),
          ...slice.tasks.map((t) => ({ scope: 'task' as const, name: t.name })),
        ];
  const policies = [
    await own,
    ...(await mapBounded([...slice.containers, ...members], (t) => policyFor(tables, t))),
  ];
  return {
    catalog: catalogFrom(slice),
    policies: policies.filter((p): p is Policy => p !== undefined),
  };
}

/** The tasks a target grants now (`effectiveTasks`): NOT_FOUND when the target does not exist. */
export async function effectiveTasksOf(tables: Tables, target: Target): Promise<readonly Task[]> {
  return effectiveTasks(target, (await loadPolicyContext(tables, target)).catalog);
}

/** The whole catalog, for callers that need more than one target (prefer `loadPolicyContext`). */
export async function loadCatalog(tables: Tables): Promise<Catalog> {
  const [tasks, roles, roleGroups] = await Promise.all([
    listCatalogEntries(tables, 'task'),
    listCatalogEntries(tables, 'role'),
    listCatalogEntries(tables, 'roleGroup'),
  ]);
  return catalogFrom({ tasks, roles, roleGroups });
}

/** The configuration as the request flow reads it (the shape of its `ConfigReader`). */
export interface AdminConfigReader {
  pamConfig(): Promise<PamConfig>;
  catalog(): Promise<Catalog>;
  policies(): Promise<readonly Policy[]>;
  /** Members of an approver group; empty when the group does not exist. */
  groupMembers(group: string): Promise<readonly Member[]>;
  approverGroup(group: string): Promise<ApproverGroup | undefined>;
  task(name: string): Promise<Task | undefined>;
  policyContext(target: Target): Promise<PolicyContext>;
}

export function configReader(tables: Tables): AdminConfigReader {
  return {
    pamConfig: () => getPamConfig(tables),
    catalog: () => loadCatalog(tables),
    policies: () => listPolicies(tables),
    groupMembers: async (group) => (await getApproverGroup(tables, group))?.members ?? [],
    approverGroup: (group) => getApproverGroup(tables, group),
    task: (name) => getTask(tables, name),
    policyContext: (target) => loadPolicyContext(tables, target),
  };
}
