/**
 * DNS rebinding: a page on an attacker's name that resolves to 127.0.0.1 reaches the local host with
 * its own name in `Host`. The host serves only requests addressed to itself — 127.0.0.1, localhost
 * or [::1] with its own port — and answers anything else 421, before a token is minted, an API
 * answers or the durable client API lists a workflow.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalHost, type HostProcess } from '../support/local-host';

let host: HostProcess;
let port: number;

beforeAll(async () => {
  host = await startLocalHost({ storage: 'shared' });
  port = Number(new URL(host.url).port);
}, 60_000);

afterAll(async () => {
  await host.stop();
});

/** A raw request, so the `Host` header is exactly what the test says (fetch would set its own). */
function send(
  method: string,
  path: string,
  hostHeader: string,
  body?: string,
): Promise<{ status: number; type: string; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        setHost: false,
        headers: {
          host: hostHeader,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            type: res.headers['content-type'] ?? '',
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const TOKEN_BODY = JSON.stringify({ upn: 'mallory@contoso.com', roles: ['PAM.Admin'] });
const ENDPOINTS = [
  { name: 'a development token', method: 'POST', path: '/dev/token', body: TOKEN_BODY },
  { name: 'the API', method: 'GET', path: '/api/health', body: undefined },
  {
    name: 'the durable client API',
    method: 'GET',
    path: '/runtime/webhooks/durabletask/instances',
    body: undefined,
  },
];

describe('the local host answers only requests addressed to itself', () => {
  it.each([
    { name: "an attacker's name", host: () => 'rebind.attacker.example' },
    { name: "an attacker's name with the host's port", host: () => `rebind.attacker.example:${port}` },
    { name: 'loopback on another port', host: () => `127.0.0.1:${port + 1}` },
    { name: 'localhost without the port', host: () => 'localhost' },
    { name: 'a loopback look-alike', host: () => `127.0.0.1.attacker.example:${port}` },
  ])('$name → 421 for a token, the API and the durable client API', async ({ host: forged }) => {
    for (const e of ENDPOINTS) {
      // Act
      const res = await send(e.method, e.path, forged(), e.body);

      // Assess: refused as misdirected, and nothing leaked (no token, no instance list).
      expect({ endpoint: e.name, status: res.status }).toEqual({ endpoint: e.name, status: 421 });
      expect(res.type).toContain('application/problem+json');
      expect(JSON.parse(res.text)).toMatchObject({ status: 421, title: 'Misdirected Request' });
      expect(res.text).not.toMatch(/access_token|eyJ/);
    }
  });

  it.each([
    { name: '127.0.0.1 with its port', host: () => `127.0.0.1:${port}` },
    { name: 'localhost with its port', host: () => `localhost:${port}` },
    { name: '[::1] with its port', host: () => `[::1]:${port}` },
  ])('$name is served', async ({ host: own }) => {
    const health = await send('GET', '/api/health', own());
    expect(health.status).toBe(200);
    const token = await send('POST', '/dev/token', own(), TOKEN_BODY);
    expect(token.status).toBe(200);
  });
});
