import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import type { z } from 'zod';
import { getDeps } from '#shared/app/deps';
import { deleteEntry, entryNotFound, putEntry } from '#shared/admin/catalog';
import { getCatalogEntry, listCatalogEntries, type CatalogEntryOf } from '#shared/admin/catalog-repository';
import { adminContext } from '#shared/admin/context';
import type { Principal } from '#shared/auth/index';
import {
  CatalogDeleteQuery,
  CatalogGetQuery,
  Role,
  RoleGroup,
  type Scope,
  Task,
  toTaskSummary,
} from '#shared/domain/catalog';
import { authenticate, requireAdmin } from '#shared/http/auth';
import { handled, json, noContent, readJson, readQuery } from '#shared/http/handler';

const PATHS = { task: 'tasks', role: 'roles', roleGroup: 'role-groups' } as const satisfies Record<
  Scope,
  string
>;

/**
 * What a caller sees of an entry. Every signed-in user may browse the catalog to know what to
 * request, but a task's executor (a webhook URL often carries a secret token) is for admins and
 * auditors only.
 */
function visible(principal: Principal, entry: CatalogEntryOf[Scope]): unknown {
  return 'executor' in entry && !principal.isAdmin && !principal.isAuditor ? toTaskSummary(entry) : entry;
}

/** `GET /api/catalog/{kind}[?name=]`: the list, or one entry (404 when absent). Any signed-in user. */
function getHandler(scope: Scope) {
  return handled(async (request: HttpRequest): Promise<HttpResponseInit> => {
    const principal = await authenticate(request);
    const { name } = readQuery(request, CatalogGetQuery);
    const tables = getDeps().tables;
    if (name === undefined) {
      const items = await listCatalogEntries(tables, scope);
      return json(200, { items: items.map((e) => visible(principal, e)) });
    }
    const entry = await getCatalogEntry(tables, scope, name);
    if (entry === undefined) throw entryNotFound({ scope, name });
    return json(200, visible(principal, entry));
  });
}

/** `PUT /api/catalog/{kind}` (admin): creates (201) or replaces (200) the entry named in the body. */
function putHandler<S extends Scope>(scope: S, schema: z.ZodType<CatalogEntryOf[S]>) {
  return handled(async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const principal = await authenticate(request);
    const body = await readJson(request, schema);
    requireAdmin(principal);
    const { entry, created } = await putEntry(adminContext(request, context, principal), scope, body);
    return created
      ? json(201, entry, { location: `/api/catalog/${PATHS[scope]}?name=${encodeURIComponent(entry.name)}` })
      : json(200, entry);
  });
}

/** `DELETE /api/catalog/{kind}?name=` (admin): 409 while a policy, role or role group uses it. */
function deleteHandler(scope: Scope) {
  return handled(async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const principal = await authenticate(request);
    const { name } = readQuery(request, CatalogDeleteQuery);
    requireAdmin(principal);
    await deleteEntry(adminContext(request, context, principal), scope, name);
    return noContent();
  });
}

export const catalogTasksGet = getHandler('task');
export const catalogTaskPut = putHandler('task', Task);
export const catalogTaskDelete = deleteHandler('task');
export const catalogRolesGet = getHandler('role');
export const catalogRolePut = putHandler('role', Role);
export const catalogRoleDelete = deleteHandler('role');
export const catalogRoleGroupsGet = getHandler('roleGroup');
export const catalogRoleGroupPut = putHandler('roleGroup', RoleGroup);
export const catalogRoleGroupDelete = deleteHandler('roleGroup');

const registrations = [
  ['task', catalogTasksGet, catalogTaskPut, catalogTaskDelete, 'Tasks', 'Task'],
  ['role', catalogRolesGet, catalogRolePut, catalogRoleDelete, 'Roles', 'Role'],
  ['roleGroup', catalogRoleGroupsGet, catalogRoleGroupPut, catalogRoleGroupDelete, 'RoleGroups', 'RoleGroup'],
] as const;
for (const [scope, get, put, remove, plural, singular] of registrations) {
  const route = `api/catalog/${PATHS[scope]}`;
  app.http(`catalog${plural}Get`, { methods: ['GET'], route, authLevel: 'anonymous', handler: get });
  app.http(`catalog${singular}Put`, { methods: ['PUT'], route, authLevel: 'anonymous', handler: put });
  app.http(`catalog${singular}Delete`, {
    methods: ['DELETE'],
    route,
    authLevel: 'anonymous',
    handler: remove,
  });
}
