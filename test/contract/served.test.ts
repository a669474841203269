/**
 * The contract against the compiled app (`npm test` builds first): every HTTP route the app
 * registers is documented, every documented operation is served, the served document is the file
 * the build wrote, and CORS answers browsers as promised. The app is loaded the way the local
 * host loads it (the `@azure/functions-core` seam, every `dist/functions/**` entry point) and
 * served over real loopback HTTP; no storage is touched.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entryPoints, readHostJson } from '@zsa/local-host';
import { FunctionRegistry, installCoreModule } from '@zsa/local-host/core';
import {
  compareRoutePrecedence,
  compileRouteTemplate,
  parseRequestPath,
  stripPrefix,
  type CompiledRoute,
  createHttpTriggerRouter,
  type HttpRouteInfo,
} from '@zsa/local-host/http';
import { connectorJson } from '#shared/openapi/connector';
import { OPERATIONS, SAMPLE_PATH_VALUES } from '#shared/openapi/operations';
import { ROOT } from '../support/local-host';

const PORTAL = 'https://portal.contoso.com';
/**
 * Functions that are infrastructure, not operations: documented in prose, not as paths. The Teams
 * bot's endpoint speaks Bot Framework's protocol to Azure Bot Service only (docs/teams.md).
 */
const UNDOCUMENTED = new Set(['corsPreflight', 'portal', 'teamsMessages']);

let server: Server;
let origin = '';
let routes: (HttpRouteInfo & { compiled: CompiledRoute })[] = [];
let prefix: string[] = [];

beforeAll(async () => {
  // Read once by the app on first use, so set before anything runs.
  process.env.ZSA_CORS_ORIGINS = `${PORTAL}, http://localhost:5173`;
  const registry = new FunctionRegistry(() => undefined);
  installCoreModule(registry);
  const requireApp = createRequire(join(ROOT, 'package.json'));
  for (const file of entryPoints(ROOT)) requireApp(file);
  await registry.start(ROOT);
  const routePrefix = readHostJson(ROOT).extensions?.http?.routePrefix ?? 'api';
  prefix = routePrefix === '' ? [] : routePrefix.split('/').map((s) => s.toLowerCase());
  const router = createHttpTriggerRouter({ registry, routePrefix, log: () => undefined });
  routes = router
    .routes()
    .map((r) => ({ ...r, compiled: compileRouteTemplate(withoutPrefix(r.route, routePrefix)) }))
    .sort((a, b) => compareRoutePrecedence(a.compiled, b.compiled));
  server = createServer((req, res) => {
    void router.handle(req, res).then((handled) => {
      if (!handled) res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}, 60_000);

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** `/api/requests/{id}` → `requests/{id}`: the template as registered. */
function withoutPrefix(route: string, routePrefix: string): string {
  return routePrefix === '' ? route.slice(1) : route.slice(routePrefix.length + 2);
}

/** A documented path with its parameters filled in, as a request would carry it. */
function samplePath(path: string): string {
  return path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(SAMPLE_PATH_VALUES[name] ?? 'x'));
}

/** The route the host dispatches `method path` to, as the router chooses it (most specific first). */
function routeServing(method: string, path: string) {
  const stripped = stripPrefix(parseRequestPath(path), prefix);
  if (stripped === undefined) return undefined;
  return routes.find((r) => r.methods.includes(method) && r.compiled.match(stripped) !== undefined);
}

describe('routes and document', () => {
  it('documents every registered HTTP route', () => {
    // Act
    const undocumented = routes
      .filter((r) => !UNDOCUMENTED.has(r.functionName))
      .flatMap((r) =>
        r.methods
          // HEAD is GET without a body: the host serves it wherever GET is.
          .filter((m) => m !== 'HEAD')
          .filter((m) => {
            const documented = OPERATIONS.filter((op) => op.method.toUpperCase() === m);
            return !documented.some((op) => {
              const stripped = stripPrefix(parseRequestPath(samplePath(op.path)), prefix);
              return stripped !== undefined && r.compiled.match(stripped) !== undefined;
            });
          })
          .map((m) => `${m} ${r.route} (function ${r.functionName})`),
      );

    // Assess
    expect(undocumented, 'registered but missing from shared/openapi/operations.ts').toEqual([]);
  });

  it('serves every documented operation', () => {
    // Act
    const unserved = OPERATIONS.filter((op) => {
      const route = routeServing(op.method.toUpperCase(), samplePath(op.path));
      return route === undefined || UNDOCUMENTED.has(route.functionName);
    }).map((op) => `${op.method.toUpperCase()} ${op.path} (${op.operationId})`);

    // Assess
    expect(unserved, 'documented in shared/openapi/operations.ts but no function serves it').toEqual([]);
  });
});

describe('GET /api/openapi.json', () => {
  it('serves the document the build wrote, byte for byte, anonymously', async () => {
    // Prepare
    const built = join(ROOT, 'dist', 'openapi.json');

    // Act
    const res = await fetch(`${origin}/api/openapi.json`);
    const served = await res.text();

    // Assess
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(JSON.parse(served)).toMatchObject({ openapi: '3.1.0' });
    expect(existsSync(built), 'npm run build must run dist/infra/tools/write-openapi.js').toBe(true);
    expect(served).toBe(readFileSync(built, 'utf8'));
  });

  it('answers 304 to a client that already has it', async () => {
    // Prepare
    const first = await fetch(`${origin}/api/openapi.json`);
    const etag = first.headers.get('etag') ?? '';
    await first.text();

    // Act
    const again = await fetch(`${origin}/api/openapi.json`, { headers: { 'if-none-match': etag } });

    // Assess
    expect(etag).toMatch(/^".+"$/);
    expect(again.status).toBe(304);
  });

  it('the built connector definition is the one derived from the served document', async () => {
    // Prepare
    const built = join(ROOT, 'dist', 'connector', 'apiDefinition.swagger.json');
    const served: unknown = await (await fetch(`${origin}/api/openapi.json`)).json();
    expect(existsSync(built), 'npm run build must run dist/infra/tools/write-openapi.js').toBe(true);
    const text = readFileSync(built, 'utf8');
    const { host } = JSON.parse(text) as { host: string };

    // Act
    const derived = connectorJson(served as Parameters<typeof connectorJson>[0], host);

    // Assess
    expect(text).toBe(derived);
  });
});

describe('CORS through the host', () => {
  it('answers a preflight from a listed origin with the allowed methods and headers, no credentials', async () => {
    // Act
    const res = await fetch(`${origin}/api/requests/${SAMPLE_PATH_VALUES.id ?? 'x'}/approve`, {
      method: 'OPTIONS',
      headers: {
        origin: PORTAL,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });

    // Assess
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(PORTAL);
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('content-type');
    expect(Number(res.headers.get('access-control-max-age'))).toBeGreaterThan(0);
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    expect(res.headers.get('vary')).toContain('Origin');
  });

  it('gives a preflight from any other origin no CORS header, so the browser refuses', async () => {
    // Act
    const res = await fetch(`${origin}/api/execute`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });

    // Assess
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.headers.get('access-control-allow-methods')).toBeNull();
  });

  it('lets a listed origin read an actual answer, and nobody else', async () => {
    // Act
    const allowed = await fetch(`${origin}/api/health`, { headers: { origin: PORTAL } });
    const other = await fetch(`${origin}/api/health`, { headers: { origin: 'https://evil.example' } });

    // Assess
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(PORTAL);
    expect(allowed.headers.get('access-control-expose-headers')).toContain('Location');
    expect(allowed.headers.get('vary')).toContain('Origin');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('never shadows a route: OPTIONS reaches the preflight, other methods their own functions', () => {
    // Act
    const preflight = routeServing('OPTIONS', '/api/requests/abc/approve');
    const approve = routeServing('POST', '/api/requests/abc/approve');

    // Assess
    expect(preflight?.functionName).toBe('corsPreflight');
    expect(approve?.functionName).not.toBe('corsPreflight');
  });
});

describe('the portal at / (catch-all) next to the API', () => {
  // The host prefers specific routes to catch-alls, as ASP.NET does: the portal's `{*path}` never
  // takes an API path, and its function refuses the ones no operation serves. Needs the built
  // portal (npm test builds it).
  it('leaves the API its routes, answers an unknown API path with a problem, and a portal route with the page', async () => {
    // Act
    const health = await fetch(`${origin}/api/health`);
    const nope = await fetch(`${origin}/api/nope`);
    const page = await fetch(`${origin}/requests`);

    // Assess
    expect(routeServing('GET', '/api/health')?.functionName).toBe('health');
    expect(routeServing('GET', '/requests')?.functionName).toBe('portal');
    expect(await health.json()).toMatchObject({ status: 'ok' });
    expect([nope.status, nope.headers.get('content-type')]).toEqual([404, 'application/problem+json']);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(await page.text()).toContain('<div id="root">');
  });
});
