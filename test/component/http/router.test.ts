/**
 * The HTTP trigger router over real loopback HTTP: the fixture app's functions are registered
 * through the real `@azure/functions` library into the local host's registry and invoked through
 * its real programming model.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FunctionRegistry, installCoreModule } from '@zsa/local-host/core';
import { createHttpTriggerRouter, type HttpTriggerRouter } from '@zsa/local-host/http';

type Fixture = typeof import('../../fixtures/http-app/index');

const MAX_BODY = 64 * 1024;
const GUID = '0f8fad5b-d9cb-469f-a165-70867728950e';

let fixture: Fixture;
let router: HttpTriggerRouter;
let server: Server;
let origin = '';
const logLines: string[] = [];

beforeAll(async () => {
  const registry = new FunctionRegistry(() => undefined);
  installCoreModule(registry);
  fixture = await import('../../fixtures/http-app/index.js');
  await registry.start(process.cwd());
  router = createHttpTriggerRouter({
    registry,
    routePrefix: 'api',
    maxRequestBodyBytes: MAX_BODY,
    extraInputs: (_fn, _name, binding) =>
      binding.type === 'hostSupplied' ? { json: JSON.stringify({ from: 'host' }) } : undefined,
    log: (line) => logLines.push(line),
  });
  server = createServer((req, res) => {
    void router.handle(req, res).then((handled) => {
      if (!handled) res.writeHead(418, { 'content-type': 'text/plain' }).end('not a function route');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
});

interface Echo {
  method: string;
  url: string;
  params: Record<string, string>;
  query: { x: string | null; all: string[]; y: string | null };
  headers: { test: string | null; contentType: string | null };
  body: unknown;
}

async function json<T>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

describe('routing', () => {
  it('binds route parameters, percent-decoded (%5C is a backslash)', async () => {
    // Act
    const response = await fetch(`${origin}/api/echo/Exchange%5CNew-MoveRequest/two%20words`);

    // Assess
    expect(response.status).toBe(200);
    const echo = await json<Echo>(response);
    expect(echo.params).toEqual({ a: 'Exchange\\New-MoveRequest', b: 'two words' });
  });

  it('leaves an absent optional parameter out of params', async () => {
    // Act
    const response = await fetch(`${origin}/api/echo/only`);

    // Assess
    expect((await json<Echo>(response)).params).toEqual({ a: 'only' });
  });

  it('answers 404 when the path has more segments than the route', async () => {
    // Act
    const response = await fetch(`${origin}/api/echo/a/b/c`);

    // Assess
    expect(response.status).toBe(404);
  });

  it('matches literals case-insensitively, prefix included', async () => {
    // Act
    const response = await fetch(`${origin}/API/Things/LATEST`);

    // Assess
    expect(await response.json()).toEqual({ kind: 'literal' });
  });

  it.each([
    { scenario: 'a literal wins over parameters', path: 'things/latest', expected: { kind: 'literal' } },
    {
      scenario: 'a guid goes to the guid route',
      path: `things/${GUID}`,
      expected: { kind: 'guid', id: GUID },
    },
    { scenario: 'an int goes to the int route', path: 'things/42', expected: { kind: 'int', id: '42' } },
  ])('$scenario', async ({ path, expected }) => {
    // Act
    const response = await fetch(`${origin}/api/${path}`);

    // Assess
    expect(await response.json()).toEqual(expected);
  });

  it('answers 404 when no constraint accepts the value', async () => {
    // Act
    const response = await fetch(`${origin}/api/things/not-a-guid-nor-int`);

    // Assess
    expect(response.status).toBe(404);
  });

  it.each([
    { scenario: 'catch-all with a deep path', path: 'files/a/b/c.txt', expected: { path: 'a/b/c.txt' } },
    { scenario: 'catch-all with nothing after it', path: 'files', expected: { path: null } },
  ])('$scenario', async ({ path, expected }) => {
    // Act
    const response = await fetch(`${origin}/api/${path}`);

    // Assess
    expect(await response.json()).toEqual(expected);
  });

  it('serves a function without a route at its name', async () => {
    // Act
    const response = await fetch(`${origin}/api/defaultroute`);

    // Assess
    expect(await response.text()).toBe('default');
  });

  it('answers 404 as problem+json, with a correlation id', async () => {
    // Act
    const response = await fetch(`${origin}/api/nope`);

    // Assess
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(response.headers.get('x-correlation-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(await response.json()).toMatchObject({ type: 'about:blank', title: 'Not Found', status: 404 });
  });

  it('leaves paths outside the route prefix to the host', async () => {
    // Act
    const response = await fetch(`${origin}/dev/token`);

    // Assess
    expect(response.status).toBe(418);
  });

  it('answers 405 with Allow when the path matches but the method does not', async () => {
    // Act
    const response = await fetch(`${origin}/api/only-put`);

    // Assess
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('DELETE, PUT');
    expect(await response.json()).toMatchObject({ title: 'Method Not Allowed', status: 405 });
  });

  it('lists HEAD in Allow when GET is allowed', async () => {
    // Act
    const response = await fetch(`${origin}/api/things/latest`, { method: 'POST' });

    // Assess
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, HEAD');
  });

  it('lists every route', () => {
    // Act
    const routes = router.routes();

    // Assess
    expect(routes).toContainEqual({
      functionName: 'echo',
      route: '/api/echo/{a}/{b?}',
      methods: ['DELETE', 'GET', 'PATCH', 'POST', 'PUT'],
    });
    expect(routes).toContainEqual({
      functionName: 'defaultRoute',
      route: '/api/defaultRoute',
      methods: ['GET'],
    });
  });
});

describe('request conversion', () => {
  it('hands the function method, absolute url, query, headers and a JSON body', async () => {
    // Act
    const response = await fetch(`${origin}/api/echo/p?x=1&x=2&y=z&read=json`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'X-Test': 'abc' },
      body: JSON.stringify({ hello: 'world' }),
    });

    // Assess
    const echo = await json<Echo>(response);
    expect(echo).toEqual({
      method: 'POST',
      url: `${origin}/api/echo/p?x=1&x=2&y=z&read=json`,
      params: { a: 'p' },
      // Azure joins repeated query keys with ',' (azure-functions-nodejs-library#168).
      query: { x: '1,2', all: ['1,2'], y: 'z' },
      headers: { test: 'abc', contentType: 'application/json' },
      body: { hello: 'world' },
    });
  });

  it('reads a body as text and as bytes', async () => {
    // Act
    const asText = await fetch(`${origin}/api/echo/t`, { method: 'PUT', body: 'plain text' });
    const asBytes = await fetch(`${origin}/api/echo/t?read=arrayBuffer`, {
      method: 'PATCH',
      body: new Uint8Array(10),
    });

    // Assess
    expect((await json<Echo>(asText)).body).toBe('plain text');
    expect((await json<Echo>(asBytes)).body).toBe(10);
  });

  it('accepts a body of exactly the limit', async () => {
    // Act
    const response = await fetch(`${origin}/api/echo/big?read=arrayBuffer`, {
      method: 'POST',
      body: Buffer.alloc(MAX_BODY, 1),
    });

    // Assess
    expect((await json<Echo>(response)).body).toBe(MAX_BODY);
  });

  it('supplies extra input bindings through extraInputs', async () => {
    // Act
    const response = await fetch(`${origin}/api/with-input`);

    // Assess
    expect(await response.json()).toEqual({ supplied: { from: 'host' } });
  });
});

describe('body limit', () => {
  it('answers 413 for a declared length above the limit, before any body is sent', async () => {
    // Prepare
    const before = fixture.invocations.get('echo') ?? 0;
    const url = new URL(`${origin}/api/echo/x`);

    // Act: send the headers only, announcing 10 MB.
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(url, { method: 'POST', headers: { 'content-length': 10_000_000 } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on('error', reject);
      req.flushHeaders();
    });

    // Assess
    expect(status).toBe(413);
    expect(fixture.invocations.get('echo') ?? 0).toBe(before);
  });

  it('answers 413 problem for a sized body over the limit', async () => {
    // Act
    const response = await fetch(`${origin}/api/echo/x`, {
      method: 'POST',
      body: Buffer.alloc(MAX_BODY + 1),
    });

    // Assess
    expect(response.status).toBe(413);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(await response.json()).toMatchObject({ status: 413, title: 'Content Too Large' });
  });

  it('answers 413 for a chunked body that grows over the limit, without invoking the function', async () => {
    // Prepare
    const before = fixture.invocations.get('echo') ?? 0;
    const chunk = new Uint8Array(16 * 1024);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= MAX_BODY + chunk.length) {
          controller.close();
          return;
        }
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });

    // Act
    const response = await fetch(`${origin}/api/echo/x`, {
      method: 'POST',
      body,
      duplex: 'half',
    });

    // Assess
    expect(response.status).toBe(413);
    expect(response.headers.get('transfer-encoding')).toBeNull();
    await response.body?.cancel();
    expect(fixture.invocations.get('echo') ?? 0).toBe(before);
  });
});

describe('responses', () => {
  it('writes jsonBody with its content type', async () => {
    // Act
    const response = await fetch(`${origin}/api/json`);

    // Assess
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.json()).toEqual({ hello: 'world', n: 1 });
  });

  it('writes status, custom headers and cookies', async () => {
    // Act
    const response = await fetch(`${origin}/api/cookies`, { method: 'POST' });

    // Assess
    expect(response.status).toBe(201);
    expect(response.headers.get('x-custom')).toBe('yes');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.getSetCookie()).toEqual([
      'session=a%20b%3Bc; max-age=3600; path=/; secure; samesite=strict; httponly',
      'theme=dark; expires=Tue, 01 Jan 2030 00:00:00 GMT; domain=example.test; path=/api',
      'cross=1; path=/; secure; samesite=none',
    ]);
    expect(await response.text()).toBe('made');
  });

  it('answers 204 when the handler returns nothing', async () => {
    // Act
    const response = await fetch(`${origin}/api/nothing`, { method: 'POST' });

    // Assess
    expect(response.status).toBe(204);
    expect(await response.text()).toBe('');
    expect(response.headers.get('x-correlation-id')).not.toBeNull();
  });

  it('answers 200 empty when the return binding is not http', async () => {
    // Act
    const response = await fetch(`${origin}/api/queue-return`, { method: 'POST' });

    // Assess
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('');
  });

  it('answers HEAD like GET without a body', async () => {
    // Act
    const head = await fetch(`${origin}/api/json`, { method: 'HEAD' });

    // Assess
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('application/json');
    expect(head.headers.get('content-length')).toBe(String(JSON.stringify({ hello: 'world', n: 1 }).length));
    expect(await head.text()).toBe('');
  });

  it('answers 500 problem with a correlation id, logs the error, and leaks nothing', async () => {
    // Act
    const response = await fetch(`${origin}/api/boom`);

    // Assess
    expect(response.status).toBe(500);
    const id = response.headers.get('x-correlation-id') ?? '';
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({
      type: 'about:blank',
      title: 'Internal Server Error',
      status: 500,
      detail: `An unexpected error occurred. Correlation id: ${id}`,
      correlationId: id,
    });
    expect(text).not.toContain(fixture.SECRET_ERROR_TEXT);
    expect(text).not.toMatch(/\bat \S+ \(|\.ts:\d+/);
    const logged = logLines.find((line) => line.includes(id));
    expect(logged).toContain(fixture.SECRET_ERROR_TEXT);
  });
});
