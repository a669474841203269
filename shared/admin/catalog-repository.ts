/**
 * The catalog: a table per kind (tasks, roles, role groups), a partition per entry
 * (`encodeKey(name)`), a head row with the entry's own fields and a row per member: a task's
 * parameters, a role's tasks, a role group's roles (see store.ts). Member rows keep the order the
 * admin gave, which `effectiveTasks` preserves.
 */
import { z } from 'zod';
import type { Tables } from '#shared/adapters/tables';
import { compareNames, Role, RoleGroup, type Scope, Task } from '#shared/domain/catalog';
import { decodeKey, encodeKey } from '#shared/domain/names';
import {
  AdminTable,
  corruptRow,
  listEntries,
  partitionsWithItem,
  putEntry,
  readEntry,
  removeEntry,
  type StoredEntry,
} from './store';

/** The stored shape of each scope's entries. */
export interface CatalogEntryOf {
  task: Task;
  role: Role;
  roleGroup: RoleGroup;
}
export type CatalogEntry = CatalogEntryOf[Scope];

interface KindSpec<E> {
  readonly table: AdminTable;
  readonly label: string;
  split(entry: E): { data: object; items: readonly string[] };
  join(name: string, data: unknown, items: readonly string[]): unknown;
  readonly schema: z.ZodType<E>;
}

const TaskData = z.object({ description: z.string(), executor: z.unknown(), hasParameters: z.boolean() });
const NoData = z.object({});

const taskSpec: KindSpec<Task> = {
  table: AdminTable.tasks,
  label: 'Task',
  split: (task) => ({
    data: {
      description: task.description,
      executor: task.executor,
      hasParameters: task.parameters !== undefined,
    },
    items: (task.parameters ?? []).map((p) => JSON.stringify(p)),
  }),
  join: (name, data, items) => {
    const fields = TaskData.safeParse(data);
    if (!fields.success) return undefined;
    let parameters: unknown;
    try {
      parameters = items.map((item): unknown => JSON.parse(item));
    } catch {
      return undefined;
    }
    return {
      name,
      description: fields.data.description,
      executor: fields.data.executor,
      ...(fields.data.hasParameters ? { parameters } : {}),
    };
  },
  schema: Task,
};

const roleSpec: KindSpec<Role> = {
  table: AdminTable.roles,
  label: 'Role',
  split: (role) => ({ data: {}, items: role.tasks }),
  join: (name, data, items) => (NoData.safeParse(data).success ? { name, tasks: items } : undefined),
  schema: Role,
};

const roleGroupSpec: KindSpec<RoleGroup> = {
  table: AdminTable.roleGroups,
  label: 'Role group',
  split: (group) => ({ data: {}, items: group.roles }),
  join: (name, data, items) => (NoData.safeParse(data).success ? { name, roles: items } : undefined),
  schema: RoleGroup,
};

const specs: { readonly [S in Scope]: KindSpec<CatalogEntryOf[S]> } = {
  task: taskSpec,
  role: roleSpec,
  roleGroup: roleGroupSpec,
};

function fromStored<E>(spec: KindSpec<E>, stored: StoredEntry): E {
  const parsed = spec.schema.safeParse(spec.join(decodeKey(stored.partitionKey), stored.data, stored.items));
  if (!parsed.success) throw corruptRow(spec.table, stored.partitionKey, parsed.error);
  return parsed.data;
}

export async function getCatalogEntry<S extends Scope>(
  tables: Tables,
  scope: S,
  name: string,
): Promise<CatalogEntryOf[S] | undefined> {
  const spec: KindSpec<CatalogEntryOf[S]> = specs[scope];
  const stored = await readEntry(await tables.get(spec.table), encodeKey(name));
  return stored && fromStored(spec, stored);
}

/** Every entry of a scope, ordered by name. */
export async function listCatalogEntries<S extends Scope>(
  tables: Tables,
  scope: S,
): Promise<CatalogEntryOf[S][]> {
  const spec: KindSpec<CatalogEntryOf[S]> = specs[scope];
  const stored = await listEntries(await tables.get(spec.table));
  return stored.map((s) => fromStored(spec, s)).sort((a, b) => compareNames(a.name, b.name));
}

/** Creates or replaces an entry; answers the entry it replaced, if any. */
export async function putCatalogEntry<S extends Scope>(
  tables: Tables,
  scope: S,
  entry: CatalogEntryOf[S],
): Promise<CatalogEntryOf[S] | undefined> {
  const spec: KindSpec<CatalogEntryOf[S]> = specs[scope];
  const { data, items } = spec.split(entry);
  const before = await putEntry(
    await tables.get(spec.table),
    encodeKey(entry.name),
    data,
    items,
    `${spec.label} ${JSON.stringify(entry.name)}`,
  );
  return before && fromStored(spec, before);
}

/** Removes an entry; answers what it was, or undefined when there was none. */
export async function deleteCatalogEntry<S extends Scope>(
  tables: Tables,
  scope: S,
  name: string,
): Promise<CatalogEntryOf[S] | undefined> {
  const spec: KindSpec<CatalogEntryOf[S]> = specs[scope];
  const before = await removeEntry(
    await tables.get(spec.table),
    encodeKey(name),
    `${spec.label} ${JSON.stringify(name)}`,
  );
  return before && fromStored(spec, before);
}

export function getTask(tables: Tables, name: string): Promise<Task | undefined> {
  return getCatalogEntry(tables, 'task', name);
}

/** Roles that list the task now, ordered by name. */
export async function rolesContainingTask(tables: Tables, task: string): Promise<Role[]> {
  const table = await tables.get(AdminTable.roles);
  const candidates = await Promise.all(
    (await partitionsWithItem(table, task)).map((pk) => getCatalogEntry(tables, 'role', decodeKey(pk))),
  );
  return candidates
    .filter((r): r is Role => r !== undefined && r.tasks.includes(task))
    .sort((a, b) => compareNames(a.name, b.name));
}

/** Role groups that list the role now, ordered by name. */
export async function roleGroupsContainingRole(tables: Tables, role: string): Promise<RoleGroup[]> {
  const table = await tables.get(AdminTable.roleGroups);
  const candidates = await Promise.all(
    (await partitionsWithItem(table, role)).map((pk) => getCatalogEntry(tables, 'roleGroup', decodeKey(pk))),
  );
  return candidates
    .filter((g): g is RoleGroup => g !== undefined && g.roles.includes(role))
    .sort((a, b) => compareNames(a.name, b.name));
}
