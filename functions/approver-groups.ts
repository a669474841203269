import {
  app,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
  type Timer,
} from '@azure/functions';
import { z } from 'zod';
import { getDeps } from '#shared/app/deps';
import { getApproverGroup, listApproverGroups } from '#shared/admin/approver-group-repository';
import { deleteGroup, groupNotFound, putGroup } from '#shared/admin/approver-groups';
import { adminContext } from '#shared/admin/context';
import { migrateDirectoryKeys } from '#shared/admin/directory-migration';
import { parseOrThrow } from '#shared/domain/errors';
import { ApproverGroupName } from '#shared/domain/names';
import { ApproverGroupBody, approverGroupView } from '#shared/domain/pam';
import { authenticate, requireAdmin, requireReader } from '#shared/http/auth';
import { handled, json, noContent, readJson } from '#shared/http/handler';

const GroupPath = z.object({ name: ApproverGroupName });

function groupName(request: HttpRequest): string {
  return parseOrThrow(GroupPath, { name: request.params.name }, 'approver group name in the path').name;
}

function location(name: string): string {
  return `/api/approver-groups/${encodeURIComponent(name)}`;
}

/** `GET /api/approver-groups` (admin, auditor): every group with its members. */
export const approverGroupsList = handled(async (request: HttpRequest): Promise<HttpResponseInit> => {
  const principal = await authenticate(request);
  requireReader(principal);
  return json(200, { items: (await listApproverGroups(getDeps().tables)).map(approverGroupView) });
});

/** `GET /api/approver-groups/{name}` (admin, auditor). */
export const approverGroupGet = handled(async (request: HttpRequest): Promise<HttpResponseInit> => {
  const principal = await authenticate(request);
  const name = groupName(request);
  requireReader(principal);
  const group = await getApproverGroup(getDeps().tables, name);
  if (group === undefined) throw groupNotFound(name);
  return json(200, approverGroupView(group));
});

/** `PUT /api/approver-groups/{name}` (admin): 201 when new, 200 when replaced. */
export const approverGroupPut = handled(
  async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const principal = await authenticate(request);
    const name = groupName(request);
    const body = await readJson(request, ApproverGroupBody);
    requireAdmin(principal);
    const { group, created } = await putGroup(adminContext(request, context, principal), name, body);
    const view = approverGroupView(group);
    return created ? json(201, view, { location: location(name) }) : json(200, view);
  },
);

/** `DELETE /api/approver-groups/{name}` (admin): 409 while the default group or a policy names it. */
export const approverGroupDelete = handled(
  async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const principal = await authenticate(request);
    const name = groupName(request);
    requireAdmin(principal);
    await deleteGroup(adminContext(request, context, principal), name);
    return noContent();
  },
);

/**
 * Every 10 minutes: members and system accounts saved before they were keyed are resolved through
 * the directory (shared/admin/directory-migration.ts). Until then they may not act.
 */
export async function directoryMigration(_timer: Timer, context: InvocationContext): Promise<void> {
  const deps = getDeps();
  const { migrated } = await migrateDirectoryKeys({
    tables: deps.tables,
    directory: deps.directory,
    audit: deps.audit,
    log: (m) => context.warn(m),
  });
  if (migrated.length > 0) context.log(`Directory migration: resolved members of ${migrated.join(', ')}.`);
}

const route = 'api/approver-groups/{name}';
app.http('approverGroupsList', {
  methods: ['GET'],
  route: 'api/approver-groups',
  authLevel: 'anonymous',
  handler: approverGroupsList,
});
app.http('approverGroupGet', { methods: ['GET'], route, authLevel: 'anonymous', handler: approverGroupGet });
app.http('approverGroupPut', { methods: ['PUT'], route, authLevel: 'anonymous', handler: approverGroupPut });
app.timer('directoryMigration', { schedule: '0 */10 * * * *', handler: directoryMigration });
app.http('approverGroupDelete', {
  methods: ['DELETE'],
  route,
  authLevel: 'anonymous',
  handler: approverGroupDelete,
});
