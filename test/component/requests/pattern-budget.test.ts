/**
 * A task saved before catastrophic patterns were refused may still hold one: a submit against it
 * holds the worker for one pattern budget, not one per value. Real Azurite holds the task (written
 * straight to storage, past the check on save), and the real `POST /api/requests` handler answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { putCatalogEntry } from '#shared/admin/catalog-repository';
import { createTables } from '#shared/adapters/tables';
import { settings } from '#shared/config';
import { MAX_PARAMETERS, PATTERN_BUDGET_MS, type Task } from '#shared/domain/catalog';
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

describe('a stored catastrophic pattern', () => {
  it(`costs a ${MAX_PARAMETERS}-value submit one budget (${PATTERN_BUDGET_MS} ms), not one per value`, async () => {
    // Prepare: the same submit with a value that needs no pattern check, for the cost of everything else.
    const names = Array.from({ length: MAX_PARAMETERS }, (_, i) => `p${i}`);
    const baseline = await submit({ unknown: 'x' });
    expect(baseline.status).toBe(400);

    // Act: every value a near miss, the worst case for `(a+)+b`.
    const res = await submit(Object.fromEntries(names.map((n) => [n, 'a'.repeat(30)])));

    // Assess: refused, every value named, and within about one budget beyond the baseline (fifty
    // budgets of the old rule took 2.5 s; the margin is for other test files sharing the cores).
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'INVALID_PARAMETERS' });
    expect((res.body as { errors: { pointer: string }[] }).errors.map((e) => e.pointer)).toEqual(
      names.map((n) => `#/parameters/${n}`),
    );
    expect(res.ms - baseline.ms).toBeLessThan(PATTERN_BUDGET_MS + 850);
  });
});
