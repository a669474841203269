/**
 * `OPTIONS /api/{*path}`: the CORS preflight for every route (shared/http/cors.ts). Anonymous,
 * since browsers never send credentials on a preflight. A catch-all is matched after every
 * specific route (ASP.NET route precedence), and only OPTIONS reaches it, so it never shadows one.
 * In Azure the platform's CORS answers preflights before they get here (infra/).
 */
import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { settings } from '#shared/config';
import { preflightHeaders } from '#shared/http/cors';
import { handled } from '#shared/http/handler';

/** 204 with the allow headers for a listed origin; 204 without them otherwise, so the browser refuses. */
export const corsPreflight = handled((request: HttpRequest): Promise<HttpResponseInit> =>
  Promise.resolve({
    status: 204,
    headers: preflightHeaders(request.headers.get('origin'), settings().ZSA_CORS_ORIGINS),
  }),
);

app.http('corsPreflight', {
  methods: ['OPTIONS'],
  route: 'api/{*path}',
  authLevel: 'anonymous',
  handler: corsPreflight,
});
