/**
 * `GET /api/me`: the signed-in caller as ZSA decides their rights (roles, approver groups, system
 * account). Any signed-in user; authenticate → story → respond.
 */
import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { getDeps } from '#shared/app/deps';
import { authenticate } from '#shared/http/auth';
import { handled, json } from '#shared/http/handler';
import { me as meStory } from '#shared/requests/me';

export const me = handled(async (request: HttpRequest): Promise<HttpResponseInit> => {
  const principal = await authenticate(request);
  return json(200, await meStory({ config: getDeps().config }, principal));
});

app.http('me', { methods: ['GET'], route: 'api/me', authLevel: 'anonymous', handler: me });
