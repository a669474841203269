/**
 * Peak RSS of a fresh Node process that streams a whole audit table out as JSONL (or, for
 * reference, scans it with the bare SDK). Run compiled, as a child: `measureExportRss` spawns this
 * file from `dist/` with the Node flags asked for, optionally after loading every function of the
 * app as the Functions worker does at start-up, and reads back one JSON line.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createTables } from '#shared/adapters/tables';
import { exportBody } from '#shared/audit/format';
import { createAuditLog } from '#shared/audit/log';
import { SettingsSchema } from '#shared/config';

export interface ExportRss {
  rows: number;
  /** JSONL bytes written (0 for a scan). */
  bytes: number;
  seconds: number;
  /** Function modules loaded before the export (0 without `withApp`). */
  functions_loaded: number;
  rss_before_mb: number;
  peak_rss_mb: number;
}

export interface ExportRssOptions {
  connectionString: string;
  /** The table prefix (`ZSA_TABLE_PREFIX`) and the audit log's name under it. */
  prefix: string;
  name: string;
  /** The audit HMAC key the table was written with (exports do not check it, but the log wants one). */
  hmacKey: string;
  nodeFlags: readonly string[];
  /** `export` (the audit log's JSONL export) or `scan` (a bare SDK `listEntities`). */
  mode: 'export' | 'scan';
  /** Load every compiled function module first, as a Functions worker does. */
  withApp: boolean;
}

/** The compiled child: tests run from TypeScript sources, so they need `npm run build` first. */
const CHILD = join(__dirname, '..', '..', 'dist', 'test', 'support', 'export-rss.js');

export function measureExportRss(options: ExportRssOptions): Promise<ExportRss> {
  const script = __filename.endsWith('.js') ? __filename : CHILD;
  if (!existsSync(script)) {
    return Promise.reject(new Error(`${script} is missing: run npm run build (npm test does) first`));
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...options.nodeFlags, script, JSON.stringify(options)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Only the flags given: an inherited NODE_OPTIONS would change what is measured.
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    child.on('error', reject);
    // 'close', not 'exit': only then has all of the child's output been read.
    child.on('close', (code) => {
      if (code === 0) {
        resolve(JSON.parse(out) as ExportRss);
        return;
      }
      // Loaded outside a Functions worker, the app's registrations only warn: keep what is not that.
      const why = err
        .split('\n')
        .filter((line) => line.trim() !== '' && !line.includes('package is in test mode'))
        .join('\n');
      reject(new Error(`the export child exited with ${String(code)}: ${why}`));
    });
  });
}

async function loadApp(): Promise<number> {
  const functions = join(__dirname, '..', '..', 'functions');
  const files = readdirSync(functions).filter((f) => f.endsWith('.js'));
  for (const file of files) await import(pathToFileURL(join(functions, file)).href);
  return files.length;
}

async function child(options: ExportRssOptions): Promise<void> {
  const functionsLoaded = options.withApp ? await loadApp() : 0;
  const tables = createTables(
    SettingsSchema.parse({ AzureWebJobsStorage: options.connectionString, ZSA_TABLE_PREFIX: options.prefix }),
  );
  const baseline = process.memoryUsage().rss;
  const started = performance.now();
  let rows = 0;
  let bytes = 0;
  if (options.mode === 'scan') {
    const table = await tables.get(options.name);
    for await (const _entity of table.listEntities()) rows += 1;
  } else {
    const log = createAuditLog({
      tables,
      now: () => new Date(),
      hmacKey: options.hmacKey,
      name: options.name,
    });
    async function* counted<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
      for await (const item of source) {
        rows += 1;
        yield item;
      }
    }
    for await (const chunk of exportBody(counted(log.exportRows()), 'jsonl')) bytes += chunk.length;
  }
  const result: ExportRss = {
    rows,
    bytes,
    functions_loaded: functionsLoaded,
    seconds: Math.round(performance.now() - started) / 1000,
    rss_before_mb: Math.round(baseline / 1e6),
    peak_rss_mb: Math.round((process.resourceUsage().maxRSS * 1024) / 1e6),
  };
  process.stdout.write(JSON.stringify(result));
}

if (require.main === module) {
  child(JSON.parse(process.argv[2] ?? '{}') as ExportRssOptions).catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  });
}
