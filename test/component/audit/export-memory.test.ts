/**
 * Export streams in constant memory, checked two ways on one seeded table of 20,000 rows (`npm run
 * bench` measures the same at 100,000; here the rows only need to outnumber a page many times over):
 * - the memory the export keeps (the heap after a full collection, sampled as rows flow) stays
 *   small and does not grow with the number of rows exported;
 * - a fresh worker (Node with the flags infra deploys, every function of the compiled app loaded)
 *   exporting the whole table stays under 150 MB of RSS. Not this vitest worker: it starts near
 *   100 MiB with test tooling loaded, under Node's default heap.
 *
 * Seeded with batch transactions (a valid log written straight to the table), which is most of this
 * test's time on Azurite.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTables } from '#shared/adapters/tables';
import { exportBody } from '#shared/audit/format';
import { settings } from '#shared/config';
import { startComponentEnv, type ComponentEnv } from '../../support/component';
import { measureExportRss } from '../../support/export-rss';
import { DEPLOYED_WORKER_NODE_FLAGS } from '../../support/worker-flags';
import { HMAC_KEY, seedChains, testClock, testLog } from './support';

const ROWS = 20_000;
/** Ten samples: the first after 2,000 rows (a couple of pages), the last after all of them. */
const SAMPLE_EVERY = ROWS / 10;
const CHAINS = 16;
const MiB = 2 ** 20;

let env: ComponentEnv;
/** The seeded log, shared by both checks (seeding is most of this file's time). */
let seededLog: { name: string; rows: number } | undefined;
beforeAll(async () => {
  env = await startComponentEnv();
});
afterAll(async () => {
  await env.close();
});

/** A full collection on demand (the flag only makes `gc` reachable; it changes no other behaviour). */
function collector(): () => void {
  setFlagsFromString('--expose_gc');
  return runInNewContext('gc') as () => void;
}

describe(`exporting ${ROWS.toLocaleString('en')} rows`, () => {
  it('keeps a constant amount of memory, whatever the number of rows', async () => {
    // Prepare
    const tables = createTables(settings());
    const { log, name } = testLog(testClock(), { chains: CHAINS, tables });
    const seeded = await seedChains(await tables.get(name), {
      chains: CHAINS,
      perChain: ROWS / CHAINS,
      start: new Date('2030-01-01T00:00:00Z'),
      stepMs: 500,
      detailBytes: 300,
    });
    expect(seeded).toBe(ROWS);
    seededLog = { name, rows: seeded };
    const gc = collector();
    gc();
    const baseline = process.memoryUsage().heapUsed;
    const retained: number[] = [];
    let peakRss = process.memoryUsage().rss;
    let rows = 0;

    // Act
    const started = Date.now();
    let bytes = 0;
    async function* counted<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
      for await (const item of source) {
        rows += 1;
        if (rows % SAMPLE_EVERY === 0) {
          peakRss = Math.max(peakRss, process.memoryUsage().rss);
          gc();
          retained.push(process.memoryUsage().heapUsed - baseline);
        }
        yield item;
      }
    }
    for await (const chunk of exportBody(counted(log.exportRows()), 'jsonl')) bytes += chunk.length;
    const seconds = (Date.now() - started) / 1000;

    // Assess: what the export holds is a page or two of rows, after a tenth of the rows as after all.
    expect(rows).toBe(ROWS);
    const [first = 0] = retained;
    const worst = Math.max(...retained);
    expect(worst).toBeLessThan(32 * MiB);
    expect(worst - first).toBeLessThan(8 * MiB);
    console.log(
      `Exported ${rows} rows (${(bytes / 1e6).toFixed(1)} MB JSONL) in ${seconds.toFixed(1)} s; ` +
        `heap kept by the export ${(first / MiB).toFixed(1)}–${(worst / MiB).toFixed(1)} MiB; ` +
        `worker RSS peak ${(peakRss / MiB).toFixed(0)} MiB (worker baseline ~100 MiB)`,
    );
  }, 240_000);

  it('stays under 150 MB of RSS in a fresh worker, as deployed', async () => {
    // Prepare: the table the first check seeded.
    expect(seededLog, 'the first check seeds the table').toBeDefined();
    const s = settings();

    // Act
    const result = await measureExportRss({
      connectionString: s.AzureWebJobsStorage ?? '',
      prefix: s.ZSA_TABLE_PREFIX,
      name: seededLog?.name ?? '',
      hmacKey: HMAC_KEY,
      nodeFlags: DEPLOYED_WORKER_NODE_FLAGS,
      mode: 'export',
      withApp: true,
    });

    // Assess: every row, with the app loaded before the export, under the limit.
    expect(result.rows).toBe(ROWS);
    expect(result.functions_loaded).toBeGreaterThanOrEqual(10);
    expect(result.peak_rss_mb).toBeLessThan(150);
    console.log(
      `Fresh worker (${DEPLOYED_WORKER_NODE_FLAGS.join(' ')}, app loaded at ${result.rss_before_mb} MB) ` +
        `exported ${result.rows} rows in ${result.seconds} s, peak RSS ${result.peak_rss_mb} MB`,
    );
  }, 120_000);
});
