/**
 * What a failed webhook call says the executor may have done, which decides whether a counted
 * grant's use goes back: a call that never connected, or a non-2xx answer, did nothing (`none`); a
 * 2xx whose answer could not be taken ran (`ran`); a call sent and never answered may have
 * (`unknown`). A real HTTP server on loopback, and a port nobody listens on.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callWebhook, type ExecutionPayload } from '#shared/executors/webhook';

const ANSWERS: Record<string, (res: ServerResponse) => void> = {
  '/failed': (res) => res.writeHead(500).end('runbook failed'),
  '/oversized': (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ blob: 'x'.repeat(300 * 1024) }));
  },
  '/cut-off': (res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
    res.write('{"partial":');
    setTimeout(() => res.destroy(), 20);
  },
  '/slow': (res) => {
    setTimeout(() => {
      if (!res.destroyed) res.writeHead(200).end('done');
    }, 500);
  },
};

let server: Server;
let base: string;
let closedPort: number;

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => ANSWERS[req.url ?? '']?.(res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  // A port that was free a moment ago and that nobody listens on now.
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const probed = probe.address();
  closedPort = typeof probed === 'object' && probed ? probed.port : 1;
  await new Promise<void>((r) => probe.close(() => r()));
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

const payload: ExecutionPayload = {
  executionId: 'e1',
  requestId: 'r1',
  task: 'T',
  parameters: {},
  requestedBy: 'alice@contoso.com',
  approvedBy: [],
  grantExpiresAt: null,
};

describe('the effect of a failed webhook call', () => {
  it.each([
    ['nobody listening', () => `http://127.0.0.1:${closedPort}/x`, 'none'],
    ['a non-2xx answer', () => `${base}/failed`, 'none'],
    ['a 2xx answer too large to take', () => `${base}/oversized`, 'ran'],
    ['a 2xx answer cut off', () => `${base}/cut-off`, 'ran'],
    ['sent, and no answer in time', () => `${base}/slow`, 'unknown'],
  ])('%s → %s', async (_name, url, effect) => {
    const outcome = await callWebhook(url(), payload, {
      allowedHosts: ['127.0.0.1'],
      signingKey: 'k',
      timeoutMs: 200,
      now: new Date(),
    });
    expect(outcome).toMatchObject({ ok: false, effect });
  });
});
