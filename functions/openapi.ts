import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { handled } from '#shared/http/handler';
import { openApiResponse } from '#shared/http/openapi';

/** The machine-readable contract (OpenAPI 3.1): anonymous, since it describes and grants nothing. */
export const openapi = handled((request: HttpRequest): Promise<HttpResponseInit> =>
  Promise.resolve(openApiResponse(request)),
);

app.http('openapi', {
  methods: ['GET'],
  route: 'api/openapi.json',
  authLevel: 'anonymous',
  handler: openapi,
});
