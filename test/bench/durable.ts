/**
 * Issue 2 benchmark: orchestration start → first activity completed, and raise event → orchestration
 * resumed past its wait, each over N runs, next to the floor measured in the same run on the same
 * Azurite: the latency of one raw entity insert. Run through `npm run bench`.
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { TableClient } from '@azure/data-tables';
import { OrchestrationRuntimeStatus } from 'durable-functions';
import { startHost } from '@zsa/local-host';
import { zsaHostOptions } from '../../infra/tools/local-host';
import { durableClientFor } from '../support/durable-client';
import { now, ratio, summarize } from './stats';

const RUNS = Number(process.env.BENCH_RUNS ?? 200);

async function main(): Promise<void> {
  const host = await startHost({
    ...zsaHostOptions(),
    root: resolve(__dirname, '..', '..', '..'),
    port: 0,
    inMemory: true,
    main: 'dist/test/fixtures/durable-app/*.js',
    env: { ...process.env, ZSA_TASK_HUB: 'Bench' },
    log: () => undefined,
  });
  try {
    const client = durableClientFor(host.url, 'Bench');
    const storage = host.settings.AzureWebJobsStorage ?? '';
    const floorTable = TableClient.fromConnectionString(storage, 'BenchFloor', {
      allowInsecureConnection: true,
    });
    await floorTable.createTable();

    // Warm-up: first calls pay for connections and JIT.
    for (let i = 0; i < 10; i++) {
      await floorTable.createEntity({ partitionKey: 'warm', rowKey: randomUUID(), v: i });
      const id = await client.startNew('benchStart');
      await waitDone(client, id);
    }

    const floor: number[] = [];
    const start: number[] = [];
    const resume: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      // Interleave the floor with the measurements so machine noise hits both alike.
      let t = now();
      await floorTable.createEntity({
        partitionKey: 'floor',
        rowKey: randomUUID(),
        payload: 'x'.repeat(200),
      });
      floor.push(now() - t);

      t = now();
      const id = await client.startNew('benchStart');
      const stamped = Number(await waitDone(client, id));
      start.push(stamped - t);

      const ev = await client.startNew('benchEvent');
      await waitCustom(client, ev, (s) => s.waiting === true);
      t = now();
      await client.raiseEvent(ev, 'Go', null);
      const resumedAt = Number(
        (await waitCustom(client, ev, (s) => typeof s.resumedAt === 'number')).resumedAt,
      );
      // resumedAt has millisecond resolution (the orchestration clock); keep sub-ms t honest by flooring it.
      resume.push(Math.max(0, resumedAt - Math.floor(t)));
      await client.raiseEvent(ev, 'End', null);
    }
    const f = summarize(floor);
    const s = summarize(start);
    const r = summarize(resume);
    const report = {
      benchmark: 'durable-local-host',
      runs: RUNS,
      unit: 'ms',
      floor_azurite_insert: f,
      start_to_first_activity_completed: s,
      raise_event_to_resumed: r,
      p95_over_floor_p95: { start: ratio(s.p95, f.p95), resume: ratio(r.p95, f.p95) },
      target: 'each p95 within 10x the floor p95',
      met: s.p95 <= 10 * f.p95 && r.p95 <= 10 * f.p95,
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } finally {
    await host.close();
  }
}

async function waitDone(client: ReturnType<typeof durableClientFor>, id: string): Promise<unknown> {
  for (;;) {
    const s = await client.getStatus(id);
    if (s.runtimeStatus === OrchestrationRuntimeStatus.Completed) return s.output;
    if (s.runtimeStatus === OrchestrationRuntimeStatus.Failed)
      throw new Error(`bench orchestration failed: ${String(s.output)}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

async function waitCustom(
  client: ReturnType<typeof durableClientFor>,
  id: string,
  test: (s: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>> {
  for (;;) {
    const s = await client.getStatus(id);
    const c = (s.customStatus ?? {}) as Record<string, unknown>;
    if (test(c)) return c;
    await new Promise((r) => setTimeout(r, 1));
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
