/**
 * Insights benchmark: what `GET /api/insights` costs over a large range. 100,000 audit events (16
 * chains) are written straight into a table (seedAuditTable), then, in alternating rounds:
 * - readInsights over the whole range (the audit log read a page of 1,000 at a time, every record
 *   folded), in events/s;
 * - a raw `listEntities` scan of the same table: the floor storage sets;
 * - the fold alone (aggregateInsights over the same records already in memory): its CPU share.
 * Medians over rounds.
 *
 * `node dist/test/bench/insights.js` starts its own Azurite. BENCH_INSIGHTS_EVENTS and
 * BENCH_INSIGHTS_ROUNDS change the sizes.
 */
import { startAzurite } from '@zsa/local-host';
import { createTables } from '#shared/adapters/tables';
import { createAuditLog } from '#shared/audit/log';
import { SettingsSchema } from '#shared/config';
import { aggregateInsights, type InsightsRecord } from '#shared/insights/aggregate';
import { readInsights } from '#shared/insights/story';
import { seedAuditTable } from './audit';
import { ratio } from './stats';

const HMAC_KEY = 'bench-insights-key';
const START = new Date('2030-01-01T00:00:00.000Z');
const CHAINS = 16;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.floor(sorted.length / 2)] ?? NaN);
}

async function perSecond(n: number, work: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await work();
  return n / (Number(process.hrtime.bigint() - started) / 1e9);
}

export async function benchInsights(
  connectionString: string,
  options: { events?: number; rounds?: number } = {},
): Promise<object> {
  const rounds = options.rounds ?? 3;
  const perChain = Math.ceil((options.events ?? 100_000) / CHAINS);
  const prefix = `benchins${Date.now().toString(36)}`;
  const tables = createTables(
    SettingsSchema.parse({ AzureWebJobsStorage: connectionString, ZSA_TABLE_PREFIX: prefix }),
  );
  const name = 'benchinsights';
  const table = await tables.get(name);
  const seeding = process.hrtime.bigint();
  const events = await seedAuditTable(table, { chains: CHAINS, perChain });
  const seedSeconds = Number(process.hrtime.bigint() - seeding) / 1e9;
  const range = { from: START, to: new Date(START.getTime() + (perChain + 1) * 1000 + CHAINS) };
  const log = createAuditLog({ tables, now: () => new Date(), hmacKey: HMAC_KEY, name, chains: CHAINS });

  const records: InsightsRecord[] = [];
  for await (const record of log.exportRows(range)) records.push(record);

  const results: { insights: number; raw: number; fold: number }[] = [];
  let view: Awaited<ReturnType<typeof readInsights>> | undefined;
  for (let round = 0; round < rounds; round++) {
    const insights = () =>
      perSecond(events, async () => {
        view = await readInsights(log, range);
      });
    const raw = () =>
      perSecond(events, async () => {
        let n = 0;
        for await (const _entity of table.listEntities()) n += 1;
        return n;
      });
    const fold = () => perSecond(events, () => Promise.resolve(aggregateInsights(records, range)));
    if (round % 2 === 0) results.push({ raw: await raw(), insights: await insights(), fold: await fold() });
    else results.push({ insights: await insights(), raw: await raw(), fold: await fold() });
  }
  const insights = median(results.map((r) => r.insights));
  const raw = median(results.map((r) => r.raw));
  return {
    benchmark: 'insights',
    events,
    read_events: view?.events,
    rounds,
    seed_seconds: Math.round(seedSeconds * 10) / 10,
    read_insights_events_per_s: insights,
    read_insights_seconds: Math.round((events / insights) * 10) / 10,
    raw_scan_rows_per_s: raw,
    ratio_to_raw_scan: ratio(insights, raw),
    fold_alone_events_per_s: median(results.map((r) => r.fold)),
    per_round: results.map((r) => ({
      insights: Math.round(r.insights),
      raw: Math.round(r.raw),
      fold: Math.round(r.fold),
    })),
  };
}

async function main(): Promise<void> {
  const azurite = await startAzurite({ log: () => undefined });
  try {
    const env = (key: string) => (process.env[key] ? Number(process.env[key]) : undefined);
    const report = await benchInsights(azurite.connectionString, {
      ...(env('BENCH_INSIGHTS_EVENTS') ? { events: env('BENCH_INSIGHTS_EVENTS') } : {}),
      ...(env('BENCH_INSIGHTS_ROUNDS') ? { rounds: env('BENCH_INSIGHTS_ROUNDS') } : {}),
    });
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } finally {
    await azurite.close();
  }
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  });
}
