// @vitest-environment node
/**
 * The portal's API client against a real HTTP server on loopback: bearer tokens, problem+json,
 * retries of safe reads only, renewal on an expired token, and the claims challenge that starts a
 * stronger sign-in carrying the call to replay.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApi, parseChallenge, withQuery, type PendingCall } from '../../portal/src/api/client';
import { ApiError, NetworkError, SignInRequired, StepUpNotSatisfied } from '../../portal/src/api/errors';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;
let server: Server;
let base: string;
let handler: Handler;
let seen: { method: string; url: string; auth: string | undefined; body: string }[];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization, body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  seen = [];
});

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const type = status >= 400 ? 'application/problem+json' : 'application/json';
  res.writeHead(status, { 'content-type': type, ...headers });
  res.end(JSON.stringify(body));
}

function api(overrides: Partial<Parameters<typeof createApi>[0]> = {}) {
  const steps: { claims: string; pending: PendingCall }[] = [];
  let token = 'token-1';
  const client = createApi({
    accessToken: () => Promise.resolve(token),
    renew: () => {
      token = 'token-2';
      return Promise.resolve(true);
    },
    stepUp: (claims, pending) => {
      steps.push({ claims, pending });
      return Promise.reject(new Error('navigating away'));
    },
    fetch: (input, init) => fetch(new URL(input as string, base), init),
    sleep: () => Promise.resolve(),
    ...overrides,
  });
  return { client, steps };
}

/** An API that answers every call with a claims challenge for `claims` (base64 JSON). */
function challenging(claims: string, extra = ''): typeof handler {
  return (_req, res) =>
    json(
      res,
      401,
      { type: 'x', title: 'Unauthorized', status: 401, detail: 'step up' },
      { 'www-authenticate': `Bearer error="insufficient_claims", ${extra}claims="${claims}"` },
    );
}

describe('the portal API client', () => {
  it('sends the bearer token and reads JSON', async () => {
    handler = (_req, res) => json(res, 200, { ok: true });
    const { client } = api();
    await expect(client.get('/api/me')).resolves.toEqual({ ok: true });
    expect(seen[0]).toMatchObject({ method: 'GET', url: '/api/me', auth: 'Bearer token-1' });
  });

  it('turns problem+json into an ApiError with field messages keyed by path', async () => {
    handler = (_req, res) =>
      json(res, 400, {
        type: 'urn:zsa:problem:invalid-input',
        title: 'Bad Request',
        status: 400,
        detail: 'The request body is not valid.',
        code: 'INVALID_INPUT',
        errors: [
          { pointer: '#/durationHours', detail: 'must be at most 8' },
          { pointer: '#/stages/0/approverGroup', detail: 'unknown group' },
        ],
      });
    const { client } = api();
    const error = await client
      .send('POST', '/api/requests', { durationHours: 99 }, 'Submit')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    const e = error as ApiError;
    expect(e.status).toBe(400);
    expect(e.code).toBe('INVALID_INPUT');
    expect(e.fieldErrors).toEqual({
      durationHours: 'must be at most 8',
      'stages.0.approverGroup': 'unknown group',
    });
    expect(seen[0]?.body).toBe('{"durationHours":99}');
  });

  it('retries a read the service could not answer (503), and never a change', async () => {
    let calls = 0;
    handler = (_req, res) => {
      calls++;
      if (calls < 3)
        json(
          res,
          503,
          { type: 'x', title: 'Service Unavailable', status: 503, detail: 'busy' },
          { 'retry-after': '1' },
        );
      else json(res, 200, { items: [] });
    };
    const { client } = api();
    await expect(client.get('/api/requests')).resolves.toEqual({ items: [] });
    expect(calls).toBe(3);

    calls = 0;
    handler = (_req, res) => {
      calls++;
      json(res, 503, { type: 'x', title: 'Service Unavailable', status: 503, detail: 'busy' });
    };
    await expect(client.send('POST', '/api/requests/r1/approve', {}, 'Approve')).rejects.toBeInstanceOf(
      ApiError,
    );
    expect(calls).toBe(1);
  });

  it('gives up on a read after three attempts and says the service is unreachable', async () => {
    const { client } = api({ fetch: () => Promise.reject(new TypeError('fetch failed')) });
    await expect(client.get('/api/me')).rejects.toBeInstanceOf(NetworkError);
  });

  it('renews an expired token once, then asks for a new sign-in', async () => {
    handler = (req, res) => {
      if (req.headers.authorization === 'Bearer token-2') json(res, 200, { ok: 2 });
      else
        json(
          res,
          401,
          { type: 'x', title: 'Unauthorized', status: 401, detail: 'expired' },
          { 'www-authenticate': 'Bearer error="invalid_token"' },
        );
    };
    const { client } = api();
    await expect(client.get('/api/me')).resolves.toEqual({ ok: 2 });

    handler = (_req, res) => json(res, 401, { type: 'x', title: 'Unauthorized', status: 401, detail: 'no' });
    const { client: other } = api({ renew: () => Promise.resolve(false) });
    await expect(other.get('/api/me')).rejects.toBeInstanceOf(SignInRequired);
  });

  it('starts a stronger sign-in on a claims challenge, carrying the call to replay', async () => {
    const claims = Buffer.from('{"access_token":{"acrs":{"essential":true,"value":"c1"}}}').toString(
      'base64',
    );
    handler = challenging(claims, 'error_description="stronger", ');
    const { client, steps } = api();
    await expect(
      client.send('POST', '/api/requests/r1/approve', { comment: 'ok' }, 'Approve r1'),
    ).rejects.toThrow('navigating away');
    expect(steps).toEqual([
      {
        claims,
        pending: {
          method: 'POST',
          path: '/api/requests/r1/approve',
          body: { comment: 'ok' },
          label: 'Approve r1',
        },
      },
    ]);
  });
});

describe('the replay after a stronger sign-in', () => {
  it('says the sign-in was not enough when the API challenges again, instead of signing in again', async () => {
    // Prepare: the API keeps asking (an authority that cannot give what was asked would loop).
    const claims = Buffer.from('{"access_token":{"amr":{"essential":true,"values":["mfa"]}}}').toString(
      'base64',
    );
    handler = challenging(claims);
    const { client, steps } = api();

    // Act
    const replayed = client.send('POST', '/api/requests/r1/approve', {}, 'Approve r1', { replay: true });

    // Assess
    await expect(replayed).rejects.toBeInstanceOf(StepUpNotSatisfied);
    expect(steps).toEqual([]);
  });
});

describe('query strings and challenges', () => {
  it.each([
    { query: undefined, want: '/api/audit' },
    { query: { a: 'x y', b: undefined, c: '', d: 2, e: true }, want: '/api/audit?a=x+y&d=2&e=true' },
  ])('withQuery($query)', ({ query, want }) => {
    expect(withQuery('/api/audit', query)).toBe(want);
  });

  it.each([
    { header: null, want: {} },
    { header: 'Basic realm="x"', want: {} },
    { header: 'Bearer error="invalid_token"', want: { error: 'invalid_token' } },
    {
      header: 'Bearer error="insufficient_claims", claims="eyJ9"',
      want: { error: 'insufficient_claims', claims: 'eyJ9' },
    },
  ])('parseChallenge($header)', ({ header, want }) => {
    expect(parseChallenge(header)).toEqual(want);
  });
});
