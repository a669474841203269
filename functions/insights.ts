/**
 * `GET /api/insights?from=&to=` (admins and auditors): usage and outcomes over a time range, computed
 * from the audit log (shared/insights). authenticate → parse → authorize → story → respond.
 */
import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { getDeps } from '#shared/app/deps';
import { authenticate, requireReader } from '#shared/http/auth';
import { handled, json, readQuery } from '#shared/http/handler';
import { InsightsQuery } from '#shared/insights/schemas';
import { insightsRange, readInsights } from '#shared/insights/story';

export const insights = handled(async (request: HttpRequest): Promise<HttpResponseInit> => {
  const principal = await authenticate(request);
  const query = readQuery(request, InsightsQuery);
  requireReader(principal);
  const deps = getDeps();
  return json(200, await readInsights(deps.audit, insightsRange(query, deps.now())));
});

app.http('insights', { methods: ['GET'], route: 'api/insights', authLevel: 'anonymous', handler: insights });
