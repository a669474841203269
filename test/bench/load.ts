/**
 * Load that grows, on the local host (storage behind counting proxies with no delay:
 * ./cloud-host.ts), each figure next to a floor measured in the same run:
 *
 * 1. Submit throughput with 25 concurrent clients, against the raw storage throughput of the
 *    storage requests one submit causes (counted at the proxies, the workflow's work included), made
 *    by 25 concurrent raw clients on the same storage: floor submits/s = raw requests/s ÷ requests
 *    per submit. Target ≥ 0.6× the floor.
 * 2. Many live grants with timers at once (1,000 by default): each must be recorded `ended` within
 *    1 s of its `expiresAt` (p99), and the host's heap grows by a flat amount per live grant
 *    (reported in bytes; measured after a forced collection, so run with --expose-gc).
 * 3. 100 concurrent executions over 100 of those grants: no 5xx, and p95 within 2× the p95 of one
 *    client executing alone.
 *
 * BENCH_LOAD_SUBMITS (default 250), BENCH_LOAD_GRANTS (default 1000), BENCH_LOAD_EXECUTORS (default
 * 100) and BENCH_LOAD_ROUNDS (default 5) change the sizes.
 */
import { randomUUID } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { caller, type Caller } from '../support/api';
import { signature } from '#shared/executors/webhook';
import { AUTO, BENCH_KEY, MANUAL, startCloudHost, type CloudHost } from './cloud-host';
import { now, percentile, ratio, summarize } from './stats';

const SUBMITS = Number(process.env.BENCH_LOAD_SUBMITS ?? 250);
const GRANTS = Number(process.env.BENCH_LOAD_GRANTS ?? 1000);
const EXECUTORS = Number(process.env.BENCH_LOAD_EXECUTORS ?? 100);
const ROUNDS = Number(process.env.BENCH_LOAD_ROUNDS ?? 5);
const CLIENTS = 25;

/** Runs `op(0…n-1)` with `concurrency` workers; answers the seconds it took. */
async function timed(n: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      for (let i = next++; i < n; i = next++) await op(i);
    }),
  );
  return (now() - started) / 1000;
}

async function ok<T>(p: Promise<{ status: number; text: string; body: T }>, what: string): Promise<T> {
  const r = await p;
  if (r.status >= 300) throw new Error(`${what}: ${r.status} ${r.text}`);
  return r.body;
}

/** Connections the client saw fail (a reset kept-alive socket), each retried once. */
let networkRetries = 0;

/**
 * A submit as Power Automate makes it: with a clientRequestId, so that a retry after a failed
 * connection answers the same request instead of making a second one.
 */
async function submitOnce<T>(user: Caller, body: Record<string, unknown>, what: string): Promise<T> {
  const withId = { ...body, clientRequestId: randomUUID() };
  try {
    return await ok(user.post<T>('/api/requests', withId), what);
  } catch (e) {
    if (!(e instanceof TypeError)) throw e;
    networkRetries += 1;
    return ok(user.post<T>('/api/requests', withId), what);
  }
}

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect) {
    collect();
    collect();
  }
}

function heapMb(): { heap_used_mb: number; rss_mb: number } {
  const m = process.memoryUsage();
  return {
    heap_used_mb: Math.round(m.heapUsed / 1e5) / 10,
    rss_mb: Math.round(m.rss / 1e5) / 10,
  };
}

function userAt(users: readonly Caller[], i: number): Caller {
  const user = users[i % users.length];
  if (!user) throw new Error('no users');
  return user;
}

async function submitThroughput(env: CloudHost, users: Caller[]) {
  const submit = (i: number, reason: string) =>
    submitOnce(userAt(users, i), { task: MANUAL, reason }, 'submit');
  // Warm: every user's first call, tables, connections.
  await timed(CLIENTS, CLIENTS, (i) => submit(i, 'warm'));
  await env.quiet(500, 15_000);
  const before = env.storageRequests();
  const seconds = await timed(SUBMITS, CLIENTS, (i) => submit(i, `load ${i}`));
  const callsDone = now();
  const during = env.storageRequests() - before;
  await env.quiet(500, 60_000);
  const drainedAfter = (now() - callsDone - 500) / 1000;
  const total = env.storageRequests() - before;
  const perSubmit = total / SUBMITS;

  // The floor: the same number of storage requests per submit, made raw by 25 concurrent clients
  // on the same storage (through the same proxy): half point reads of a 1 KB row, half inserts of one.
  const table = TableClient.fromConnectionString(env.storage, 'BenchLoadFloor', {
    allowInsecureConnection: true,
  });
  await table.createTable();
  await table.upsertEntity({ partitionKey: 'p', rowKey: 'r', detail: 'x'.repeat(1000) }, 'Replace');
  const rawOps = Math.round(perSubmit * SUBMITS);
  const raw = (i: number) =>
    i % 2 === 0
      ? table.getEntity('p', 'r')
      : table.createEntity({
          partitionKey: `f${i % CLIENTS}`,
          rowKey: randomUUID(),
          detail: 'x'.repeat(1000),
        });
  await timed(CLIENTS * 4, CLIENTS, raw);
  const rawSeconds = await timed(rawOps, CLIENTS, raw);
  const rawPerSecond = rawOps / rawSeconds;
  const floor = rawPerSecond / perSubmit;
  const rate = SUBMITS / seconds;
  return {
    submits: SUBMITS,
    clients: CLIENTS,
    submits_per_s: Math.round(rate * 10) / 10,
    storage_requests_per_submit_during_the_calls: Math.round((during / SUBMITS) * 10) / 10,
    storage_requests_per_submit_until_quiet: Math.round(perSubmit * 10) / 10,
    workflows_busy_after_the_last_call_s: Math.round(drainedAfter * 10) / 10,
    raw_storage_requests_per_s: Math.round(rawPerSecond),
    floor_submits_per_s: Math.round(floor * 10) / 10,
    ratio: ratio(rate, floor),
    target: 0.6,
    met: rate >= 0.6 * floor,
  };
}

export async function benchLoad(): Promise<object> {
  const env = await startCloudHost({ rttMs: 0 });
  try {
    const users = await Promise.all(
      Array.from({ length: CLIENTS }, (_, i) => caller(env.host.url, `load${i}@contoso.com`)),
    );
    // Requests are counted, not kept: the heap must show the app, not the bench.
    env.setRecording(false);
    const submit = await submitThroughput(env, users);

    // 2. Live grants: create them all, so that they expire one after another over the last 10 s of a
    // window long enough to create them, measure the heap, execute under 100 of them, then wait.
    await env.quiet(500, 30_000);
    gc();
    const baseline = process.memoryUsage().heapUsed;
    const baselineMb = heapMb();
    const perSecond = Math.max(2, submit.submits_per_s);
    const createWindowMs = Math.ceil((GRANTS / perSecond) * 1.3 * 1000) + 30_000;
    const phaseStart = Date.now();
    const grants: { id: string; user: Caller; expiresAt: string }[] = [];
    const createSeconds = await timed(GRANTS, CLIENTS, async (i) => {
      const user = userAt(users, i);
      const expiresAt = phaseStart + createWindowMs + Math.round((i / GRANTS) * 10_000);
      const durationHours = (expiresAt - Date.now()) / 3_600_000;
      const body = await submitOnce<{ id: string; status: string; expiresAt: string }>(
        user,
        { task: AUTO, reason: `grant ${i}`, durationHours },
        'grant',
      );
      if (body.status !== 'approved') throw new Error(`grant ${i} is ${body.status}`);
      grants.push({ id: body.id, user, expiresAt: body.expiresAt });
    });
    await env.quiet(500, 30_000);
    gc();
    const live = process.memoryUsage().heapUsed;
    const liveMb = heapMb();
    const firstExpiry = Math.min(...grants.map((g) => Date.parse(g.expiresAt)));
    const allLiveAtOnce = Date.now() < firstExpiry;

    // 3. Executions: one client alone, then EXECUTORS at once, each on its own grant.
    const chosen = grants.slice(0, EXECUTORS);
    const execute = async (g: (typeof grants)[number]) => {
      const t = now();
      // A failed connection is counted as such (never retried: an execution is not idempotent).
      let status: string;
      try {
        status = String((await g.user.post('/api/execute', { task: AUTO, requestId: g.id })).status);
      } catch (e) {
        if (!(e instanceof TypeError)) throw e;
        status = 'connection failed';
      }
      return { ms: now() - t, status };
    };
    const single: number[] = [];
    for (let i = 0; i < Math.max(50, EXECUTORS); i++) {
      const g = chosen[i % chosen.length];
      if (!g) break;
      const r = await execute(g);
      if (r.status !== '200') throw new Error(`single execute: ${r.status}`);
      if (i >= 5) single.push(r.ms);
    }
    const concurrent: number[] = [];
    const statuses: Record<string, number> = {};
    const concurrentStart = now();
    for (let round = 0; round < ROUNDS; round++) {
      const results = await Promise.all(chosen.map(execute));
      for (const r of results) {
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        concurrent.push(r.ms);
      }
    }
    const concurrentSeconds = (now() - concurrentStart) / 1000;
    const executionsDoneBeforeExpiry = Date.now() < firstExpiry;

    // The floor under the same concurrency: execute's own I/O done directly (the reads side by side,
    // the intent, the webhook, the outcome and the execution row side by side), EXECUTORS at once.
    const floorTable = TableClient.fromConnectionString(env.storage, 'BenchLoadExecFloor', {
      allowInsecureConnection: true,
    });
    await floorTable.createTable();
    for (const rowKey of ['config', 'task', 'request'])
      await floorTable.upsertEntity({ partitionKey: 'p', rowKey, detail: 'x'.repeat(300) }, 'Replace');
    const row = () => ({ partitionKey: 'floor', rowKey: randomUUID(), detail: 'x'.repeat(600) });
    const floorOnce = async (g: (typeof grants)[number]) => {
      const t = now();
      await Promise.all([
        floorTable.getEntity('p', 'config'),
        floorTable.getEntity('p', 'task'),
        floorTable.getEntity('p', 'request'),
        fetch(`${env.host.url}/durabletask/instances/${g.id}?showInput=false`).then((r) => r.text()),
      ]);
      await floorTable.createEntity(row());
      const body = JSON.stringify({ task: 'floor', parameters: {} });
      const signed = signature(BENCH_KEY, Math.floor(Date.now() / 1000), body);
      const res = await fetch(env.hookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-zsa-signature': signed },
        body,
      });
      await res.text();
      await Promise.all([floorTable.createEntity(row()), floorTable.upsertEntity(row(), 'Replace')]);
      return now() - t;
    };
    const floorSingle: number[] = [];
    for (let i = 0; i < 30; i++) {
      const g = chosen[i % chosen.length];
      if (g) floorSingle.push(await floorOnce(g));
    }
    const floorConcurrent: number[] = [];
    const floorStart = now();
    for (let round = 0; round < ROUNDS; round++)
      floorConcurrent.push(...(await Promise.all(chosen.map(floorOnce))));
    const floorSeconds = (now() - floorStart) / 1000;

    // Wait for every grant's end, then read when each was recorded. The storage requests made from
    // here on are the ends' (and their emails'): their count, at the raw rate measured above, is the
    // floor of how long the ends must take, next to the 10 s they are spread over.
    await env.quiet(500, 60_000);
    const beforeEnds = env.storageRequests();
    const lastExpiry = Math.max(...grants.map((g) => Date.parse(g.expiresAt)));
    await new Promise((r) => setTimeout(r, Math.max(0, lastExpiry - Date.now()) + 3000));
    await env.quiet(500, 120_000);
    const perEnd = (env.storageRequests() - beforeEnds) / grants.length;
    const endsAtRawRate = (perEnd * grants.length) / submit.raw_storage_requests_per_s;
    // When each end was recorded: the `grant.ended` audit row's time (written after the request row
    // changed), against the grant's expiresAt. The row's own endedAt is expiresAt by rule.
    const lags: number[] = [];
    let notEnded = 0;
    const endedAt = new Map<string, number>();
    const audit = TableClient.fromConnectionString(env.storage, 'zsaaudit', {
      allowInsecureConnection: true,
    });
    for await (const row of audit.listEntities<{ requestId?: string; at?: Date }>({
      queryOptions: { filter: "action eq 'grant.ended'", select: ['requestId', 'at'] },
    })) {
      if (row.requestId && row.at instanceof Date && !endedAt.has(row.requestId))
        endedAt.set(row.requestId, row.at.getTime());
    }
    for (const g of grants) {
      const at = endedAt.get(g.id);
      if (at === undefined) notEnded += 1;
      else lags.push(at - Date.parse(g.expiresAt));
    }
    const sortedLags = [...lags].sort((a, b) => a - b);
    const s = summarize(single);
    const c = summarize(concurrent);
    const fs = summarize(floorSingle.slice(5));
    const fc = summarize(floorConcurrent);
    const fiveXx = Object.entries(statuses)
      .filter(([k]) => !(Number(k) < 500))
      .reduce((n, [, v]) => n + v, 0);
    return {
      benchmark: 'load',
      submit_connections_retried: networkRetries,
      submit_throughput: submit,
      live_grants: {
        grants: grants.length,
        created_per_s: Math.round((grants.length / createSeconds) * 10) / 10,
        all_live_at_once: allLiveAtOnce,
        heap_before: baselineMb,
        heap_all_live: liveMb,
        heap_bytes_per_live_grant: Math.round((live - baseline) / grants.length),
        gc_forced: typeof (globalThis as { gc?: unknown }).gc === 'function',
        ended_recorded_after_expiry_ms: {
          n: lags.length,
          p50: percentile(sortedLags, 50),
          p99: percentile(sortedLags, 99),
          max: sortedLags[sortedLags.length - 1] ?? NaN,
          min: sortedLags[0] ?? NaN,
        },
        not_ended: notEnded,
        storage_requests_per_end: Math.round(perEnd * 10) / 10,
        floor_seconds_for_all_ends_at_raw_storage_rate: Math.round(endsAtRawRate * 10) / 10,
        ends_spread_over_s: 10,
        target_p99_ms: 1000,
        met: notEnded === 0 && percentile(sortedLags, 99) <= 1000,
      },
      concurrent_executions: {
        clients: chosen.length,
        rounds: ROUNDS,
        done_while_grants_live: executionsDoneBeforeExpiry,
        single_client_ms: s,
        concurrent_ms: c,
        executions_per_s: Math.round(concurrent.length / concurrentSeconds),
        floor_runs_per_s: Math.round(floorConcurrent.length / floorSeconds),
        floor_single_ms: fs,
        floor_concurrent_ms: fc,
        floor_concurrent_p95_over_floor_single_p95: ratio(fc.p95, fs.p95),
        concurrent_p95_over_floor_concurrent_p95: ratio(c.p95, fc.p95),
        statuses,
        p95_over_single_p95: ratio(c.p95, s.p95),
        target: 'no 5xx, p95 ≤ 2× single',
        met: fiveXx === 0 && c.p95 <= 2 * s.p95,
      },
    };
  } finally {
    await env.close();
  }
}

if (require.main === module) {
  benchLoad()
    .then((report) => process.stdout.write(`${JSON.stringify(report, null, 2)}\n`))
    .catch((e: unknown) => {
      process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    });
}
