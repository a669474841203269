/**
 * Audit benchmark, measured in one run on the same storage:
 * - append throughput of the audit log versus raw single-entity inserts of rows of the same shape,
 *   at the same concurrency (target: ≥ 0.5×);
 * - export rows/s (read, map, serialize to JSONL) versus a raw `listEntities` scan of the same table
 *   (target: ≥ 0.7×), for the whole log and for an explicit time range;
 * - the peak RSS of a fresh worker (the whole app loaded, Node flags as deployed) exporting the
 *   whole table (target: < 150 MB; only when run compiled, as `npm run bench` does).
 * Medians over rounds, alternating which side goes first.
 *
 * `node dist/test/bench/audit.js` starts its own Azurite; `benchAudit(connectionString)` runs against
 * any storage. BENCH_AUDIT_APPENDS, BENCH_AUDIT_EXPORT_ROWS and BENCH_AUDIT_ROUNDS change the sizes.
 */
import { TableTransaction, type TableClient } from '@azure/data-tables';
import { startAzurite } from '@zsa/local-host';
import { createTables, type Tables } from '#shared/adapters/tables';
import { toEntity } from '#shared/audit/entity';
import { exportBody } from '#shared/audit/format';
import { createAuditLog, type AuditLog } from '#shared/audit/log';
import { GENESIS_HASH, sealRecord } from '#shared/audit/record';
import { AuditAction, AuditOutcome, type AuditEventInput } from '#shared/audit/types';
import { SettingsSchema } from '#shared/config';
import { ratio } from './stats';
import { measureExportRss } from '../support/export-rss';
import { DEPLOYED_WORKER_NODE_FLAGS } from '../support/worker-flags';

export interface AuditBenchOptions {
  rounds?: number;
  appends?: number;
  concurrency?: number;
  exportRows?: number;
  chains?: number;
}

const HMAC_KEY = 'bench-audit-key';
const START = new Date('2030-01-01T00:00:00.000Z');

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const value = sorted.length % 2 === 1 ? sorted[mid] : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
  return Math.round(value ?? NaN);
}

function tablesFor(connectionString: string, prefix: string): Tables {
  return createTables(
    SettingsSchema.parse({ AzureWebJobsStorage: connectionString, ZSA_TABLE_PREFIX: prefix }),
  );
}

/** A realistic event: an execution by a user, with parameters (one secret to digest). */
function benchEvent(i: number): AuditEventInput {
  return {
    action: AuditAction.ExecutionSucceeded,
    actor: {
      kind: 'user',
      id: `tenant:user-${i % 50}`,
      upn: `user${i % 50}@contoso.com`,
      roles: [],
      tenantId: 'tenant',
    },
    outcome: AuditOutcome.Success,
    requestId: `req-${i % 500}`,
    task: 'Exchange\\New-MoveRequest',
    detail: {
      parameters: { identity: `mailbox${i}@contoso.com`, targetDatabase: 'DB02', password: `p${i}` },
    },
    origin: { correlationId: `corr-${i}`, clientIp: '10.1.2.3', userAgent: 'PowerAutomate/1.0' },
  };
}

/**
 * Writes a valid log of `chains` × `perChain` rows straight into `table` with batch transactions
 * (a hundred rows a request): far faster than appends, for export tests and benchmarks.
 */
export async function seedAuditTable(
  table: TableClient,
  opts: { chains: number; perChain: number; start?: Date; stepMs?: number; detailBytes?: number },
): Promise<number> {
  const start = (opts.start ?? START).getTime();
  const step = opts.stepMs ?? 1000;
  const filler = 'x'.repeat(opts.detailBytes ?? 200);
  let written = 0;
  for (let chain = 0; chain < opts.chains; chain++) {
    let prevHash = GENESIS_HASH;
    let batch = new TableTransaction();
    let inBatch = 0;
    let partition = '';
    for (let sequence = 1; sequence <= opts.perChain; sequence++) {
      const record = sealRecord(
        {
          id: `seed-${chain}-${sequence}`,
          action: AuditAction.ExecutionSucceeded,
          outcome: AuditOutcome.Success,
          actorKind: 'user',
          actorId: `tenant:user-${sequence % 13}`,
          actorUpn: `user${sequence % 13}@contoso.com`,
          actorRoles: '[]',
          requestId: `req-${sequence % 97}`,
          task: 'Exchange\\New-MoveRequest',
          detail: JSON.stringify({ filler, n: sequence }),
          correlationId: `c-${chain}-${sequence}`,
        },
        { chain, sequence, at: new Date(start + sequence * step + chain).toISOString(), prevHash },
      );
      prevHash = record.hash;
      const entity = toEntity(record);
      if (entity.partitionKey !== partition || inBatch === 100) {
        if (inBatch > 0) await table.submitTransaction(batch.actions);
        batch = new TableTransaction();
        inBatch = 0;
        partition = entity.partitionKey;
      }
      batch.createEntity(entity);
      inBatch += 1;
      written += 1;
    }
    if (inBatch > 0) await table.submitTransaction(batch.actions);
  }
  return written;
}

/** Runs operations `from`…`to`-1 with `concurrency` workers; answers the seconds it took. */
async function timed(
  from: number,
  to: number,
  concurrency: number,
  op: (i: number) => Promise<unknown>,
): Promise<number> {
  let next = from;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < to; i = next++) await op(i);
    }),
  );
  return (performance.now() - started) / 1000;
}

/** Slices per append round: the two sides alternate slice by slice, so drift in machine load hits both alike. */
const APPEND_SLICES = 10;

async function drain(source: AsyncIterable<Uint8Array>): Promise<number> {
  let bytes = 0;
  for await (const chunk of source) bytes += chunk.length;
  return bytes;
}

async function rowsPerSecond(work: () => Promise<number>): Promise<number> {
  const started = performance.now();
  const rows = await work();
  return rows / ((performance.now() - started) / 1000);
}

async function appendRound(
  tables: Tables,
  round: number,
  appends: number,
  concurrency: number,
): Promise<{ audit: number; raw: number }> {
  const log = createAuditLog({ tables, now: () => new Date(), hmacKey: HMAC_KEY, name: `benchlog${round}` });
  const raw = await tables.get(`benchraw${round}`);
  // The raw side inserts rows of the audit's exact shape and size, one request each.
  const rows = Array.from({ length: appends + concurrency }, (_, i) =>
    toEntity(
      sealRecord(
        {
          id: `raw-${i}`,
          action: AuditAction.ExecutionSucceeded,
          outcome: AuditOutcome.Success,
          actorKind: 'user',
          actorId: `tenant:user-${i % 50}`,
          actorUpn: `user${i % 50}@contoso.com`,
          actorRoles: '[]',
          tenantId: 'tenant',
          requestId: `req-${i % 500}`,
          task: 'Exchange\\New-MoveRequest',
          detail: JSON.stringify(benchEvent(i).detail),
          correlationId: `corr-${i}`,
          clientIp: '10.1.2.3',
          userAgent: 'PowerAutomate/1.0',
        },
        {
          chain: i % 16,
          sequence: Math.floor(i / 16) + 1,
          at: new Date().toISOString(),
          prevHash: GENESIS_HASH,
        },
      ),
    ),
  );
  const row = (i: number) => {
    const entity = rows[i];
    if (!entity) throw new Error(`no raw row ${i}`);
    return entity;
  };
  // Warm both (tables created, connections open, every chain's head known) before measuring.
  await timed(appends, appends + concurrency, concurrency, (i) => raw.createEntity(row(i)));
  await timed(appends, appends + concurrency, concurrency, (i) => log.append(benchEvent(i)));
  let auditSeconds = 0;
  let rawSeconds = 0;
  const slice = Math.ceil(appends / APPEND_SLICES);
  for (let from = 0; from < appends; from += slice) {
    const to = Math.min(appends, from + slice);
    const auditSide = async () =>
      (auditSeconds += await timed(from, to, concurrency, (i) => log.append(benchEvent(i))));
    const rawSide = async () =>
      (rawSeconds += await timed(from, to, concurrency, (i) => raw.createEntity(row(i))));
    if ((round + from / slice) % 2 === 0) {
      await auditSide();
      await rawSide();
    } else {
      await rawSide();
      await auditSide();
    }
  }
  return { audit: appends / auditSeconds, raw: appends / rawSeconds };
}

async function exportRound(log: AuditLog, table: TableClient, round: number, end: Date) {
  const rawScan = () =>
    rowsPerSecond(async () => {
      let n = 0;
      for await (const _entity of table.listEntities()) n += 1;
      return n;
    });
  const exportAll = () =>
    rowsPerSecond(async () => {
      let n = 0;
      await drain(exportBody(count(log.exportRows()), 'jsonl'));
      return n;
      async function* count<T>(source: AsyncIterable<T>) {
        for await (const item of source) {
          n += 1;
          yield item;
        }
      }
    });
  const exportRange = () =>
    rowsPerSecond(async () => {
      let n = 0;
      for await (const _record of log.exportRows({ from: START, to: end })) n += 1;
      return n;
    });
  if (round % 2 === 0) {
    const raw = await rawScan();
    return { raw, all: await exportAll(), range: await exportRange() };
  }
  const all = await exportAll();
  const range = await exportRange();
  return { raw: await rawScan(), all, range };
}

/**
 * Peak RSS of fresh processes exporting the whole table. The target is judged on the worker as
 * deployed: Node with the flags infra gives it and the whole app loaded, as the Functions worker
 * loads it, before the export starts. For reference: the export alone (only the modules it needs);
 * the worker with Node's default heap on this machine (V8 sizes it from the RAM it sees and collects
 * lazily); the export with the old generation capped at 48 MiB (it could not finish if its memory
 * grew with the rows); and a bare SDK scan. Only from the compiled bench (`npm run bench`).
 */
async function exportRss(connectionString: string, prefix: string, name: string): Promise<object> {
  if (!__filename.endsWith('.js'))
    return { skipped: 'measured only when the bench runs compiled (npm run bench)' };
  const run = (nodeFlags: readonly string[], mode: 'export' | 'scan', withApp: boolean) =>
    measureExportRss({ connectionString, prefix, name, hmacKey: HMAC_KEY, nodeFlags, mode, withApp });
  const deployed = await run(DEPLOYED_WORKER_NODE_FLAGS, 'export', true);
  return {
    target_peak_rss_mb: 150,
    node_flags_as_deployed: DEPLOYED_WORKER_NODE_FLAGS.join(' '),
    export_in_worker_as_deployed: deployed,
    export_alone_as_deployed: await run(DEPLOYED_WORKER_NODE_FLAGS, 'export', false),
    export_in_worker_default_heap_on_this_machine: await run([], 'export', true),
    export_alone_old_generation_capped_48_mib: await run(['--max-old-space-size=48'], 'export', false),
    raw_sdk_scan_as_deployed: await run(DEPLOYED_WORKER_NODE_FLAGS, 'scan', false),
    met: deployed.peak_rss_mb < 150,
  };
}

export async function benchAudit(connectionString: string, options: AuditBenchOptions = {}): Promise<object> {
  const rounds = options.rounds ?? 3;
  const appends = options.appends ?? 2000;
  const concurrency = options.concurrency ?? 16;
  const exportRows = options.exportRows ?? 100_000;
  const chains = options.chains ?? 16;
  const prefix = `bench${Date.now().toString(36)}`;
  const tables = tablesFor(connectionString, prefix);

  const appendRounds: { audit: number; raw: number }[] = [];
  for (let round = 0; round < rounds; round++)
    appendRounds.push(await appendRound(tables, round, appends, concurrency));

  const name = 'benchexport';
  const table = await tables.get(name);
  const perChain = Math.ceil(exportRows / chains);
  const seeded = await seedAuditTable(table, { chains, perChain, detailBytes: 300 });
  const end = new Date(START.getTime() + (perChain + 1) * 1000 + chains);
  const log = createAuditLog({ tables, now: () => new Date(), hmacKey: HMAC_KEY, name, chains });
  const exportRounds: { raw: number; all: number; range: number }[] = [];
  for (let round = 0; round < rounds; round++) exportRounds.push(await exportRound(log, table, round, end));
  const rss = await exportRss(connectionString, prefix, name);

  const audit = median(appendRounds.map((r) => r.audit));
  const raw = median(appendRounds.map((r) => r.raw));
  const rawScan = median(exportRounds.map((r) => r.raw));
  const all = median(exportRounds.map((r) => r.all));
  const range = median(exportRounds.map((r) => r.range));
  return {
    benchmark: 'audit',
    rounds,
    append: {
      events: appends,
      concurrency,
      audit_appends_per_s: audit,
      raw_inserts_per_s: raw,
      ratio: ratio(audit, raw),
      target: 0.5,
      met: audit >= 0.5 * raw,
      per_round: appendRounds.map((r) => ({ audit: Math.round(r.audit), raw: Math.round(r.raw) })),
    },
    export: {
      rows: seeded,
      raw_scan_rows_per_s: rawScan,
      export_jsonl_rows_per_s: all,
      ratio: ratio(all, rawScan),
      target: 0.7,
      met: all >= 0.7 * rawScan,
      ranged_export_rows_per_s: range,
      ranged_ratio: ratio(range, rawScan),
      per_round: exportRounds.map((r) => ({
        raw: Math.round(r.raw),
        all: Math.round(r.all),
        range: Math.round(r.range),
      })),
    },
    export_rss: rss,
  };
}

async function main(): Promise<void> {
  const azurite = await startAzurite({ log: () => undefined });
  try {
    const env = (key: string) => (process.env[key] ? Number(process.env[key]) : undefined);
    const report = await benchAudit(azurite.connectionString, {
      ...(env('BENCH_AUDIT_APPENDS') ? { appends: env('BENCH_AUDIT_APPENDS') } : {}),
      ...(env('BENCH_AUDIT_EXPORT_ROWS') ? { exportRows: env('BENCH_AUDIT_EXPORT_ROWS') } : {}),
      ...(env('BENCH_AUDIT_ROUNDS') ? { rounds: env('BENCH_AUDIT_ROUNDS') } : {}),
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
