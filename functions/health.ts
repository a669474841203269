import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { appVersion } from '#shared/app/version';
import { handled, json } from '#shared/http/handler';

/** Liveness for load balancers and humans: anonymous, no I/O, no secrets. */
export const health = handled(
  (_request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> =>
    Promise.resolve(json(200, { status: 'ok', version: appVersion() })),
);

app.http('health', { methods: ['GET'], route: 'api/health', authLevel: 'anonymous', handler: health });
