/**
 * Latency as a cloud region has it (`npm run bench -- --rtt 10`): the local host with a TCP proxy
 * that adds `rtt / 2` each way in front of storage, Service Bus and the webhook target
 * (./cloud-host.ts). For each story — submit, approval → usable, execute, a decision by emailed link —
 * it reports the time with the latency, the time on plain loopback (same run, same host, proxies at
 * 0), and the critical-path round trips: time ÷ rtt, and (time − loopback time) ÷ rtt, the part the
 * latency added. It also counts the storage requests each story makes: during the call, and in all
 * until storage is quiet again (the workflow's work included).
 *
 * Execute is also compared with its floor under the same latency: its I/O done directly (the reads
 * side by side, the intent, the webhook, the outcome and the execution row side by side); and an
 * execution under a counted grant (`maxUses`) with the one under an uncounted grant.
 *
 * BENCH_RTT_MS (default 10) and BENCH_RTT_RUNS (default 20) set the round trip and the samples.
 */
import { randomUUID } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import { signature } from '#shared/executors/webhook';
import { caller, send, type Caller } from '../support/api';
import {
  APPROVER,
  BENCH_KEY,
  MANUAL,
  countOps,
  startCloudHost,
  type CloudHost,
  type OpCount,
} from './cloud-host';
import type { ProxiedRequest } from './latency-proxy';
import { now, ratio, summarize } from './stats';

const RTT = Number(process.env.BENCH_RTT_MS ?? 10);
const RUNS = Number(process.env.BENCH_RTT_RUNS ?? 20);
const WARM = 3;
/** A task under an automatic policy with `maxUses`: its executions are counted. */
const COUNTED = 'Bench\\Counted';
/** BENCH_TRACE=1: print the storage requests of each story's last sample (to stderr). */
const TRACE = process.env.BENCH_TRACE === '1';

function trace(story: string, requests: readonly ProxiedRequest[]): void {
  const t0 = requests[0]?.sentAt ?? 0;
  const lines = requests.map(
    (r) =>
      `  ${(r.sentAt - t0).toFixed(1).padStart(7)} → ${((r.answeredAt ?? NaN) - t0).toFixed(1).padStart(7)}  ${r.method} ${r.path.split('?')[0]?.slice(0, 110) ?? ''}`,
  );
  process.stderr.write(`${story}:\n${lines.join('\n')}\n`);
}

interface StorySamples {
  ms: number[];
  /** Storage requests while the call ran. */
  during: OpCount[];
  /** Storage requests until storage was quiet again (the workflow's own work included). */
  total: OpCount[];
}

const empty = (): StorySamples => ({ ms: [], during: [], total: [] });

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? NaN;
}

function opsSummary(counts: readonly OpCount[]) {
  const tables: Record<string, number> = {};
  for (const c of counts)
    for (const [t, n] of Object.entries(c.byTable)) tables[t] = (tables[t] ?? 0) + n / counts.length;
  return {
    median: median(counts.map((c) => c.total)),
    sequential_median: median(counts.map((c) => c.depth)),
    reads: median(counts.map((c) => c.reads)),
    writes: median(counts.map((c) => c.writes)),
    mean_by_table: Object.fromEntries(Object.entries(tables).map(([t, n]) => [t, Math.round(n * 10) / 10])),
  };
}

async function ok<T>(p: Promise<{ status: number; text: string; body: T }>, what: string): Promise<T> {
  const r = await p;
  if (r.status >= 300) throw new Error(`${what}: ${r.status} ${r.text}`);
  return r.body;
}

interface Mail {
  headers: Record<string, string>;
  to: string[];
  links: string[];
}

async function approvalLink(env: CloudHost, requestId: string): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const mails = await ok(send<Mail[]>(`${env.host.url}/dev/mailbox/messages`, {}), 'mailbox');
    const mail = mails.find(
      (m) =>
        m.headers['x-zsa-request-id'] === requestId &&
        m.headers['x-zsa-event'] === 'approvalNeeded' &&
        m.to.includes(APPROVER),
    );
    const link = mail?.links.find((l) => l.startsWith(`${env.host.url}/api/decisions/`));
    if (link) return link;
    if (Date.now() > deadline) throw new Error(`no approval email for ${requestId}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function untilUsable(user: Caller, task: string, requestId: string): Promise<void> {
  for (let i = 0; ; i++) {
    const r = await user.post('/api/execute', { task, requestId });
    if (r.status === 200) return;
    if ((r.status !== 403 && r.status !== 503) || i > 500) throw new Error(`execute: ${r.status} ${r.text}`);
  }
}

async function measureStories(env: CloudHost, user: Caller, runs: number) {
  const stories = {
    submit: empty(),
    approve_call: empty(),
    approval_to_usable: empty(),
    execute: empty(),
    execute_floor: empty(),
    execute_counted: empty(),
    decision_by_link: empty(),
  };
  const floorTable = TableClient.fromConnectionString(env.storage, 'BenchCloudFloor', {
    allowInsecureConnection: true,
  });
  await floorTable.createTable();
  for (const rowKey of ['config', 'task', 'request'])
    await floorTable.upsertEntity({ partitionKey: 'p', rowKey, v: 1, detail: 'x'.repeat(300) }, 'Replace');
  const row = () => ({ partitionKey: 'floor', rowKey: randomUUID(), detail: 'x'.repeat(600) });

  let grant = '';
  // A counted grant (automatic, at most 1000 uses), used by every sample of this call.
  const counted = (
    await ok(user.post<{ id: string }>('/api/requests', { task: COUNTED, reason: 'bench' }), 'submit')
  ).id;
  await untilUsable(user, COUNTED, counted);
  for (let i = 0; i < runs + WARM; i++) {
    const keep = i >= WARM;
    const record = async (name: keyof typeof stories, work: () => Promise<unknown>) => {
      const story = stories[name];
      await env.quiet(150, 3000);
      const counted = env.mark();
      const t = now();
      await work();
      const ms = now() - t;
      const during = counted();
      await env.quiet(150, 3000);
      if (keep) {
        story.ms.push(ms);
        story.during.push(countOps(during));
        story.total.push(countOps(counted()));
      }
      if (TRACE && i === runs + WARM - 1) trace(name, during);
    };

    // Submit (a request that needs an approval), then its approval through the API until it is usable.
    let id = '';
    await record('submit', async () => {
      id = (await ok(user.post<{ id: string }>('/api/requests', { task: MANUAL, reason: 'bench' }), 'submit'))
        .id;
    });
    await approvalLink(env, id);
    await record('approval_to_usable', async () => {
      const t = now();
      await ok(env.approver.post(`/api/requests/${id}/approve`, {}), 'approve');
      if (keep) stories.approve_call.ms.push(now() - t);
      await untilUsable(user, MANUAL, id);
    });
    grant = id;

    // Execute under that live grant, next to its floor under the same latency.
    await record('execute', () =>
      ok(user.post('/api/execute', { task: MANUAL, requestId: grant }), 'execute'),
    );
    await record('execute_counted', () =>
      ok(user.post('/api/execute', { task: COUNTED, requestId: counted }), 'execute counted'),
    );
    await record('execute_floor', async () => {
      await Promise.all([
        floorTable.getEntity('p', 'config'),
        floorTable.getEntity('p', 'task'),
        floorTable.getEntity('p', 'request'),
        fetch(`${env.host.url}/durabletask/instances/${grant}?showInput=false`).then((r) => r.text()),
      ]);
      await floorTable.createEntity(row());
      const body = JSON.stringify({ task: 'floor', parameters: {} });
      const t = Math.floor(Date.now() / 1000);
      const res = await fetch(env.hookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-zsa-signature': signature(BENCH_KEY, t, body) },
        body,
      });
      await res.text();
      await Promise.all([floorTable.createEntity(row()), floorTable.upsertEntity(row(), 'Replace')]);
    });

    // A decision by the emailed link (the approver's click on "approve").
    const other = await ok(
      user.post<{ id: string }>('/api/requests', { task: MANUAL, reason: 'bench link' }),
      'submit',
    );
    const link = await approvalLink(env, other.id);
    await record('decision_by_link', async () => {
      const r = await send<string>(link, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ decision: 'approve' }).toString(),
      });
      if (r.status !== 200) throw new Error(`decision by link: ${r.status} ${r.text.slice(0, 200)}`);
    });
  }
  return stories;
}

export async function benchCloud(rtt = RTT, runs = RUNS): Promise<object> {
  const env = await startCloudHost({ rttMs: 0 });
  try {
    const user = await caller(env.host.url, 'user@contoso.com');
    await ok(
      env.admin.put('/api/catalog/tasks', {
        name: COUNTED,
        description: 'bench',
        executor: { type: 'webhook', url: env.hookUrl },
      }),
      'counted task',
    );
    await ok(
      env.admin.post('/api/policies', {
        scope: 'task',
        target: COUNTED,
        approvalType: 'auto',
        maxUses: 1000,
      }),
      'counted policy',
    );
    // Loopback first (proxies count only), then the same stories with the latency.
    const loopback = await measureStories(env, user, runs);
    env.setRtt(rtt);
    const cloud = await measureStories(env, user, runs);

    // In sequential storage round trips (the count the proxy makes, which the machine's speed does
    // not change); execute's webhook is its own round trip, outside the 3.
    const targets: Record<string, number | undefined> = {
      submit: 6,
      approval_to_usable: 8,
      execute: 3,
    };
    const report: Record<string, unknown> = {};
    for (const name of Object.keys(cloud) as (keyof typeof cloud)[]) {
      const c = summarize(cloud[name].ms);
      const l = summarize(loopback[name].ms);
      const target = targets[name];
      const roundTrips = Math.round((c.p50 / rtt) * 10) / 10;
      report[name] = {
        with_rtt_ms: c,
        loopback_ms: l,
        critical_path_round_trips_p50: roundTrips,
        added_by_latency_round_trips_p50: Math.round(((c.p50 - l.p50) / rtt) * 10) / 10,
        ...(cloud[name].during.length > 0
          ? {
              storage_requests_during_call: opsSummary(cloud[name].during),
              storage_requests_until_quiet: opsSummary(cloud[name].total),
            }
          : {}),
        ...(target === undefined
          ? {}
          : {
              target_round_trips: target,
              met: median(cloud[name].during.map((c) => c.depth)) <= target,
              met_by:
                'sequential storage round trips in the call (time ÷ round trip adds CPU: see its floor)',
            }),
      };
    }
    const e = summarize(cloud.execute.ms);
    const f = summarize(cloud.execute_floor.ms);
    const c = summarize(cloud.execute_counted.ms);
    return {
      benchmark: 'cloud-latency',
      rtt_ms: rtt,
      runs,
      unit: 'ms',
      note: 'proxies delay storage (table, blob, queue), Service Bus and the webhook; the API call itself is not delayed',
      ...report,
      execute_over_floor_with_rtt: { p50: ratio(e.p50, f.p50), p95: ratio(e.p95, f.p95) },
      execute_counted_over_execute_with_rtt: { p50: ratio(c.p50, e.p50), p95: ratio(c.p95, e.p95) },
    };
  } finally {
    await env.close();
  }
}

if (require.main === module) {
  benchCloud()
    .then((report) => process.stdout.write(`${JSON.stringify(report, null, 2)}\n`))
    .catch((e: unknown) => {
      process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    });
}
