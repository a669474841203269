/**
 * Export of 100,000 rows streams in constant memory. Measured here as the memory the export keeps
 * (the heap after a full collection, sampled as rows flow): it must stay small and must not grow
 * with the number of rows exported. The process's RSS is reported too, but this vitest worker
 * starts near 100 MiB and V8 collects lazily, so the RSS limit of 150 MB is checked in a fresh
 * process by the bench (`benchAudit` → `exportRss`).
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
import { seedChains, testClock, testLog } from './support';

const ROWS = 100_000;
const CHAINS = 16;
const MiB = 2 ** 20;

let env: ComponentEnv;
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

describe('exporting 100,000 rows', () => {
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
        if (rows % 10_000 === 0) {
          peakRss = Math.max(peakRss, process.memoryUsage().rss);
          gc();
          retained.push(process.memoryUsage().heapUsed - baseline);
        }
        yield item;
      }
    }
    for await (const chunk of exportBody(counted(log.exportRows()), 'jsonl')) bytes += chunk.length;
    const seconds = (Date.now() - started) / 1000;

    // Assess: what the export holds is a page or two of rows, at 10,000 rows as at 100,000.
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
});
