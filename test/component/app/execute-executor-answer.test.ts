/**
 * An executor that answers badly (too much, or a body cut off half-way) is a failed execution like
 * any other: the caller gets 502 with the execution id, and the audit holds `execution.failed`
 * after `execution.started` — never a 500 with the outcome missing from the log. Real Azurite, a
 * real webhook server on loopback, and the real `POST /api/execute` handler.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getDeps } from '#shared/app/deps';
import { AuditAction } from '#shared/audit/types';
import { catalogTaskPut } from '../../../functions/catalog';
import { execute } from '../../../functions/execute';
import { enablePam } from '../../support/admin';
import { call, startComponentEnv, type ComponentEnv } from '../../support/component';

/** How the webhook misbehaves, by path. */
const ANSWERS: Record<string, (res: ServerResponse) => void> = {
  // 300 KB of valid JSON, in several chunks, with a 200.
  '/oversized': (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ blob: 'x'.repeat(300 * 1024) }));
  },
  // Headers and a first chunk, then the connection dies.
  '/cut-off': (res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
    res.write('{"partial":');
    setTimeout(() => res.destroy(), 20);
  },
};

let env: ComponentEnv;
let webhook: Server;
let svcToken: string;

beforeAll(async () => {
  env = await startComponentEnv();
  webhook = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const answer = ANSWERS[req.url ?? ''];
      if (answer) answer(res);
      else res.writeHead(404).end();
    });
  });
  await new Promise<void>((r) => webhook.listen(0, '127.0.0.1', () => r()));
  const address = webhook.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

  const admin = await env.token('admin@contoso.com', ['PAM.Admin']);
  svcToken = await env.token('svc@contoso.com');
  const ok = (r: { status: number }) => expect(r.status).toBeLessThan(300);
  // A system account runs tasks without a request, so no workflow is involved.
  await enablePam(admin, { group: 'g', members: ['a@contoso.com'], systemAccounts: ['svc@contoso.com'] });
  for (const path of Object.keys(ANSWERS))
    ok(
      await call(catalogTaskPut, {
        method: 'PUT',
        path: '/x',
        token: admin,
        body: {
          name: `Hook${path.replace('/', '-')}`,
          description: 'd',
          executor: { type: 'webhook', url: base + path },
        },
      }),
    );
}, 60_000);

afterAll(async () => {
  await new Promise<void>((r) => webhook.close(() => r()));
  await env.close();
});

async function runTask(task: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await call(execute, {
    method: 'POST',
    path: '/api/execute',
    token: svcToken,
    body: { task },
    durableClient: true,
  });
  return { status: res.status, body: res.body as Record<string, unknown> };
}

describe('an executor answer that cannot be used is an audited failure', () => {
  it.each([
    { name: 'an answer over 64 KiB', task: 'Hook-oversized', detail: /larger than 64 KiB/ },
    { name: 'an answer cut off half-way', task: 'Hook-cut-off', detail: /answer could not be read/ },
  ])(
    '$name → 502 and execution.failed in the audit',
    async ({ task, detail }) => {
      // Act
      const res = await runTask(task);

      // Assess: the caller learns the execution failed, and which one.
      expect(res.status).toBe(502);
      expect(res.body.code).toBe('EXECUTION_FAILED');
      expect(res.body.detail).toMatch(detail);
      const executionId = res.body.executionId;
      expect(typeof executionId).toBe('string');

      // Assess: the new state — the intent and the outcome of this execution are both in the log.
      const { items } = await getDeps().audit.query({ task });
      const ofThis = items.filter((r) => r.detail?.includes(String(executionId)));
      expect(ofThis.map((r) => r.action)).toEqual([
        AuditAction.ExecutionStarted,
        AuditAction.ExecutionFailed,
      ]);
      expect(ofThis[1]?.outcome).toBe('failure');
      expect(ofThis[1]?.reason).toMatch(detail);
    },
    20_000,
  );
});
