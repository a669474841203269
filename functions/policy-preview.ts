/**
 * `GET /api/policy-preview?task=|role=|roleGroup=`: what a request for the target would do if the
 * caller submitted it now (automatic or manual, who approves, the limits), computed by the submit
 * story's own rules. Any signed-in user; authenticate → parse → story → respond. Never writes.
 */
import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { getDeps } from '#shared/app/deps';
import { authenticate } from '#shared/http/auth';
import { handled, json, readQuery } from '#shared/http/handler';
import { PolicyPreviewQuery, previewPolicy } from '#shared/requests/preview';

export const policyPreview = handled(async (request: HttpRequest): Promise<HttpResponseInit> => {
  const principal = await authenticate(request);
  const query = readQuery(request, PolicyPreviewQuery);
  return json(200, await previewPolicy({ config: getDeps().config }, principal, query));
});

app.http('policyPreview', {
  methods: ['GET'],
  route: 'api/policy-preview',
  authLevel: 'anonymous',
  handler: policyPreview,
});
