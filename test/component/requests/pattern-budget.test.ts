/**
 * Patterns that backtrack catastrophically in JavaScript (`(a+)+b`) are matched in linear time, so
 * a submit with fifty crafted values against them never blocks the worker: `/api/health` answers
 * while it runs. Real Azurite holds the task (written straight to storage, as a task saved before
 * any check on save would be), and the real `POST /api/requests` handler answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { putCatalogEntry } from '#shared/admin/catalog-repository';
import { createTables } from '#shared/adapters/tables';
import { settings } from '#shared/config';
import { MAX_PARAMETERS, type Task } from '#shared/domain/catalog';
import { health } from '../../../functions/health';
import { policyCreate } from '../../../functions/policies';
import { submitRequest } from '../../../functions/requests';
import { enablePam } from '../../support/admin';
import { call, startComponentEnv, type ComponentEnv } from '../../support/component';

const TASK = 'Legacy\\Stalling';

let env: ComponentEnv;
let requester: string;

beforeAll(async () => {
  env = await startComponentEnv();
  const admin = await env.token('admin@contoso.com', ['PAM.Admin']);
  requester = await env.token('user@contoso.com');
  const task: Task = {
    name: TASK,
    description: 'Saved before patterns were checked',
    executor: { type: 'webhook', url: 'http://127.0.0.1:9/hooks/run' },
    parameters: Array.from({ length: MAX_PARAMETERS }, (_, i) => ({
      name: `p${i}`,
      type: 'string' as const,
      required: true,
      pattern: '(a+)+b',
    })),
  };
  await putCatalogEntry(createTables(settings()), 'task', task);
  const ok = (r: { status: number; body: unknown }) =>
    expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
  await enablePam(admin, { group: 'g', members: ['a@contoso.com'] });
  ok(
    await call(policyCreate, {
      method: 'POST',
      path: '/x',
      token: admin,
      body: { scope: 'task', target: TASK, approvalType: 'manual' },
    }),
  );
}, 60_000);

afterAll(async () => {
  await env.close();
});

/** The submit handler as the runtime calls it (its durable client is never reached: the body is refused first). */
async function submit(
  parameters: Record<string, string>,
): Promise<{ status: number; body: unknown; ms: number }> {
  const started = performance.now();
  const res = await call(submitRequest, {
    method: 'POST',
    path: '/api/requests',
    token: requester,
    body: { task: TASK, reason: 'r', parameters },
    durableClient: true,
  });
  return { status: res.status, body: res.body, ms: performance.now() - started };
}

/** Calls `/api/health` every few milliseconds until `until` settles; answers each call's latency. */
async function probeHealth(until: Promise<unknown>): Promise<number[]> {
  const latencies: number[] = [];
  const state = { done: false };
  void until.finally(() => (state.done = true));
  while (!state.done) {
    const started = performance.now();
    const res = await call(health, { method: 'GET', path: '/api/health' });
    expect(res.status).toBe(200);
    latencies.push(performance.now() - started);
    await new Promise((r) => setTimeout(r, 2));
  }
  return latencies;
}

describe('a catastrophic-looking pattern', () => {
  it(`costs a ${MAX_PARAMETERS}-value submit next to nothing, and /api/health answers meanwhile`, async () => {
    // Prepare: the same submit with a value that needs no pattern check, for the cost of everything
    // else; and the near misses, as long as a 64 KiB body allows (the worst case for `(a+)+b`).
    const names = Array.from({ length: MAX_PARAMETERS }, (_, i) => `p${i}`);
    const baseline = await submit({ unknown: 'x' });
    expect(baseline.status).toBe(400);
    const nearMisses = Object.fromEntries(names.map((n) => [n, 'a'.repeat(1200)]));

    // Act
    const submitted = submit(nearMisses);
    const [res, healthLatencies] = await Promise.all([submitted, probeHealth(submitted)]);

    // Assess: refused, every value named; no slower than the baseline by more than a blink (the old
    // per-value time budget took 2.5 s; the margin is for other test files sharing the cores); and
    // the worker answered health checks throughout.
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'INVALID_PARAMETERS' });
    // Each value judged, not given up on as before (`could not be checked … in time`).
    expect((res.body as { errors: { pointer: string; detail: string }[] }).errors).toEqual(
      names.map((n) => ({ pointer: `#/parameters/${n}`, detail: `${n} must match (a+)+b` })),
    );
    expect(res.ms - baseline.ms).toBeLessThan(400);
    expect(healthLatencies.length).toBeGreaterThan(0);
    expect(Math.max(...healthLatencies)).toBeLessThan(250);
  });
});
