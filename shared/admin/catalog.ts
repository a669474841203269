/** The catalog (docs/design.md §1, §7.2): tasks, roles (sets of tasks), role groups (sets of roles). */
import { AuditAction } from '#shared/audit/types';
import {
  catalogFrom,
  describeTarget,
  missingMembers,
  type Executor,
  type Role,
  type RoleGroup,
  type Scope,
  type Target,
  type Task,
  unsupportedPatterns,
} from '#shared/domain/catalog';
import { DomainError } from '#shared/domain/errors';
import {
  deleteCatalogEntry,
  getCatalogEntry,
  putCatalogEntry,
  roleGroupsContainingRole,
  rolesContainingTask,
  type CatalogEntryOf,
} from './catalog-repository';
import { auditChange, listed, type AdminContext } from './context';
import { mapBounded } from './store';
import { policyFor } from './policy-repository';

const PUT_ACTION = {
  task: AuditAction.TaskPut,
  role: AuditAction.RolePut,
  roleGroup: AuditAction.RoleGroupPut,
} as const satisfies Record<Scope, AuditAction>;

const DELETE_ACTION = {
  task: AuditAction.TaskDeleted,
  role: AuditAction.RoleDeleted,
  roleGroup: AuditAction.RoleGroupDeleted,
} as const satisfies Record<Scope, AuditAction>;

export function entryNotFound(target: Target): DomainError {
  return new DomainError('NOT_FOUND', `The catalog has no ${describeTarget(target)}`);
}

/**
 * Whether a webhook may call this URL: its host, or host:port, is on `ZSA_EXECUTOR_ALLOWED_HOSTS`
 * (the same rule the executor applies when it runs the task).
 */
export function isAllowedExecutorHost(url: URL, allowedHosts: readonly string[]): boolean {
  const host = url.hostname.toLowerCase();
  return allowedHosts.includes(host) || (url.port !== '' && allowedHosts.includes(`${host}:${url.port}`));
}

// Checked when the task is stored, so an admin learns at once, not when someone first runs it.
function assertExecutorAllowed(executor: Executor, allowedHosts: readonly string[]): void {
  if (executor.type !== 'webhook') return;
  const url = new URL(executor.url);
  if (!isAllowedExecutorHost(url, allowedHosts))
    throw new DomainError(
      'INVALID_INPUT',
      `The executor's host ${url.host} is not allowed; ask an operator to add it to ZSA_EXECUTOR_ALLOWED_HOSTS`,
      {
        errors: [
          { pointer: '#/executor/url', detail: `host ${url.host} is not in ZSA_EXECUTOR_ALLOWED_HOSTS` },
        ],
      },
    );
}

// Patterns run on a linear-time engine, which has no back-references or lookaround: refused here,
// so an admin learns at once; a task saved before this check has its values refused with a 400.
function assertPatternsSupported(task: Task): void {
  const errors = unsupportedPatterns(task.parameters);
  if (errors.length > 0)
    throw new DomainError(
      'INVALID_INPUT',
      `Task ${JSON.stringify(task.name)} has parameter patterns ZSA cannot run: ${errors.map((e) => e.detail).join('; ')}`,
      { errors },
    );
}

/** Members a role or role group names that the catalog lacks: 400 naming every one. */
async function assertMembersExist(ctx: AdminContext, entry: Role | RoleGroup): Promise<void> {
  const found =
    'tasks' in entry
      ? catalogFrom({ tasks: await loadAll(ctx, 'task', entry.tasks) })
      : catalogFrom({ roles: await loadAll(ctx, 'role', entry.roles) });
  const errors = missingMembers(entry, found);
  if (errors.length > 0)
    throw new DomainError(
      'INVALID_INPUT',
      `${'tasks' in entry ? 'Role' : 'Role group'} ${JSON.stringify(entry.name)} names what the catalog lacks: ${errors.map((e) => e.detail).join('; ')}`,
      { errors },
    );
}

async function loadAll<S extends Scope>(
  ctx: AdminContext,
  scope: S,
  names: readonly string[],
): Promise<CatalogEntryOf[S][]> {
  const entries = await mapBounded(names, (name) => getCatalogEntry(ctx.tables, scope, name));
  return entries.filter((e): e is CatalogEntryOf[S] => e !== undefined);
}

/** `PUT /api/catalog/{tasks|roles|role-groups}`: creates or replaces the entry named in the body. */
export async function putEntry<S extends Scope>(
  ctx: AdminContext,
  scope: S,
  entry: CatalogEntryOf[S],
): Promise<{ entry: CatalogEntryOf[S]; created: boolean }> {
  if ('executor' in entry) {
    assertExecutorAllowed(entry.executor, ctx.executorAllowedHosts);
    assertPatternsSupported(entry);
  } else await assertMembersExist(ctx, entry);
  const before = await putCatalogEntry(ctx.tables, scope, entry);
  await auditChange(ctx, PUT_ACTION[scope], {
    before,
    after: entry,
    ...(scope === 'task' ? { task: entry.name } : {}),
  });
  return { entry, created: before === undefined };
}

/**
 * `DELETE /api/catalog/{tasks|roles|role-groups}?name=`: refused (409) while a policy names the
 * entry, or a role lists the task, or a role group lists the role.
 */
export async function deleteEntry(ctx: AdminContext, scope: Scope, name: string): Promise<void> {
  const target: Target = { scope, name };
  if ((await getCatalogEntry(ctx.tables, scope, name)) === undefined) throw entryNotFound(target);
  const [policy, containers] = await Promise.all([
    policyFor(ctx.tables, target),
    scope === 'task'
      ? rolesContainingTask(ctx.tables, name)
      : scope === 'role'
        ? roleGroupsContainingRole(ctx.tables, name)
        : Promise.resolve([]),
  ]);
  if (policy !== undefined)
    throw new DomainError(
      'CONFLICT',
      `The ${describeTarget(target)} is governed by policy ${policy.id}; delete that policy first`,
    );
  if (containers.length > 0)
    throw new DomainError(
      'CONFLICT',
      `The ${describeTarget(target)} is listed by ${scope === 'task' ? 'role' : 'role group'}${containers.length === 1 ? '' : 's'} ${listed(containers.map((c) => JSON.stringify(c.name)))}; remove it from there first`,
    );
  const before = await deleteCatalogEntry(ctx.tables, scope, name);
  if (before === undefined) throw entryNotFound(target);
  await auditChange(ctx, DELETE_ACTION[scope], {
    before,
    after: null,
    ...(scope === 'task' ? { task: name } : {}),
  });
}
