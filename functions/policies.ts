import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { getDeps } from '#shared/app/deps';
import { adminContext } from '#shared/admin/context';
import { createPolicy, deletePolicy, policyNotFound, updatePolicy } from '#shared/admin/policies';
import { getPolicy, listPolicies } from '#shared/admin/policy-repository';
import { parseOrThrow } from '#shared/domain/errors';
import { Id } from '#shared/domain/names';
import { PolicyBody } from '#shared/domain/policy';
import { authenticate, requireAdmin, requireReader } from '#shared/http/auth';
import { handled, json, noContent, readJson } from '#shared/http/handler';

const PolicyPath = z.object({ id: Id });

function policyId(request: HttpRequest): string {
  return parseOrThrow(PolicyPath, { id: request.params.id }, 'policy id in the path').id;
}

/** `GET /api/policies` (admin, auditor): every policy, ordered by target. */
export const policiesList = handled(async (request: HttpRequest): Promise<HttpResponseInit> => {
  const principal = await authenticate(request);
  requireReader(principal);
  return json(200, { items: await listPolicies(getDeps().tables) });
});

/** `POST /api/policies` (admin): 201 with the new policy; 409 when its scope and target have one. */
export const policyCreate = handled(
  async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const principal = await authenticate(request);
    const body = await readJson(request, PolicyBody);
    requireAdmin(principal);
    const policy = await createPolicy(adminContext(request, context, principal), body);
    return json(201, policy, { location: `/api/policies/${policy.id}` });
  },
);

/** `GET /api/policies/{id}` (admin, auditor). */
export const policyGet = handled(async (request: HttpRequest): Promise<HttpResponseInit> => {
  const principal = await authenticate(request);
  const id = policyId(request);
  requireReader(principal);
  const policy = await getPolicy(getDeps().tables, id);
  if (policy === undefined) throw policyNotFound(id);
  return json(200, policy);
});

/** `PUT /api/policies/{id}` (admin): replaces the whole policy. */
export const policyUpdate = handled(
  async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const principal = await authenticate(request);
    const id = policyId(request);
    const body = await readJson(request, PolicyBody);
    requireAdmin(principal);
    return json(200, await updatePolicy(adminContext(request, context, principal), id, body));
  },
);

/** `DELETE /api/policies/{id}` (admin). */
export const policyDelete = handled(
  async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const principal = await authenticate(request);
    const id = policyId(request);
    requireAdmin(principal);
    await deletePolicy(adminContext(request, context, principal), id);
    return noContent();
  },
);

const route = 'api/policies/{id}';
app.http('policiesList', {
  methods: ['GET'],
  route: 'api/policies',
  authLevel: 'anonymous',
  handler: policiesList,
});
app.http('policyCreate', {
  methods: ['POST'],
  route: 'api/policies',
  authLevel: 'anonymous',
  handler: policyCreate,
});
app.http('policyGet', { methods: ['GET'], route, authLevel: 'anonymous', handler: policyGet });
app.http('policyUpdate', { methods: ['PUT'], route, authLevel: 'anonymous', handler: policyUpdate });
app.http('policyDelete', { methods: ['DELETE'], route, authLevel: 'anonymous', handler: policyDelete });
