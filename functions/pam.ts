import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { getDeps } from '#shared/app/deps';
import { adminContext } from '#shared/admin/context';
import { disablePrivilegedAccess, enablePrivilegedAccess } from '#shared/admin/pam';
import { getPamConfig } from '#shared/admin/pam-repository';
import { EmptyBody } from '#shared/domain/empty';
import { EnablePamBody, pamView } from '#shared/domain/pam';
import { authenticate, requireAdmin, requireReader } from '#shared/http/auth';
import { handled, json, readJson } from '#shared/http/handler';

/** `GET /api/pam` (admin, auditor): the configuration. */
export const pamRead = handled(async (request: HttpRequest): Promise<HttpResponseInit> => {
  const principal = await authenticate(request);
  requireReader(principal);
  return json(200, pamView(await getPamConfig(getDeps().tables)));
});

/** `POST /api/pam/enable` (admin): on, with a default approver group and system accounts. */
export const pamEnable = handled(
  async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const principal = await authenticate(request);
    const body = await readJson(request, EnablePamBody);
    requireAdmin(principal);
    return json(200, pamView(await enablePrivilegedAccess(adminContext(request, context, principal), body)));
  },
);

/** `POST /api/pam/disable` (admin): off, keeping groups, policies, default group and system accounts. */
export const pamDisable = handled(
  async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const principal = await authenticate(request);
    await readJson(request, EmptyBody);
    requireAdmin(principal);
    return json(200, pamView(await disablePrivilegedAccess(adminContext(request, context, principal))));
  },
);

app.http('pamRead', { methods: ['GET'], route: 'api/pam', authLevel: 'anonymous', handler: pamRead });
app.http('pamEnable', {
  methods: ['POST'],
  route: 'api/pam/enable',
  authLevel: 'anonymous',
  handler: pamEnable,
});
app.http('pamDisable', {
  methods: ['POST'],
  route: 'api/pam/disable',
  authLevel: 'anonymous',
  handler: pamDisable,
});
