/**
 * `zsa audit export` streams `GET /api/audit/export` to a file with a progress line (events and
 * bytes so far), and `zsa audit verify` checks such a file offline with the same verifier as
 * `npm run audit:verify` (every row's seal and link, the order, a manifest and anchors if given).
 */
import { createWriteStream, existsSync } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { chainKeysFromEnv, verifyFile } from '../infra/tools/audit-verify';
import type { Api } from './api';
import type { Context } from './commands';
import { CliError, Exit } from './errors';
import { print, table, type Out } from './output';

/** How often the progress line is redrawn on a terminal. */
const PROGRESS_EVERY_MS = 250;

export async function auditExport(
  ctx: Context,
  api: Api,
  opts: { from: string; to: string; format: 'csv' | 'jsonl'; action?: string | undefined; output: string },
  out: Out,
): Promise<void> {
  const res = await api.stream('/api/audit/export', {
    from: opts.from,
    to: opts.to,
    format: opts.format,
    action: opts.action,
  });
  if (res.body === null) throw new CliError('the export answered without a body', Exit.other);
  let bytes = 0;
  let lines = 0;
  let shown = 0;
  // A CSV export starts with its header line; every other line is one event.
  const events = () => (opts.format === 'csv' ? Math.max(0, lines - 1) : lines);
  const progress = () => `exporting… ${events()} events, ${(bytes / 1024).toFixed(0)} KiB`;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      for (const byte of chunk) if (byte === 0x0a) lines += 1;
      const now = Date.now();
      if (ctx.interactive && now - shown >= PROGRESS_EVERY_MS) {
        shown = now;
        ctx.stderr(`\r${progress()}`);
      }
      done(null, chunk);
    },
  });
  try {
    await pipeline(
      Readable.fromWeb(res.body as WebReadableStream<Uint8Array>),
      counter,
      createWriteStream(opts.output, { mode: 0o600 }),
    );
  } catch (e) {
    throw new CliError(
      `the export to ${opts.output} failed: ${e instanceof Error ? e.message : String(e)}`,
      Exit.other,
    );
  }
  if (ctx.interactive) ctx.stderr('\r\x1b[K');
  const exported = events();
  print(
    out,
    { file: opts.output, format: opts.format, events: exported, bytes },
    () => `Exported ${exported} events (${bytes} bytes) to ${opts.output}.`,
  );
}

export async function auditVerify(
  ctx: Context,
  file: string,
  opts: { manifest?: string | undefined; anchors: string[] },
  out: Out,
): Promise<void> {
  const keys = chainKeysFromEnv(ctx.env);
  if (typeof keys === 'string') throw new CliError(keys, Exit.other);
  if (!existsSync(file)) throw new CliError(`no such file: ${file}`, Exit.other);
  const { report, result, anchors } = await verifyFile(file, opts, keys);
  print(out, report, () =>
    table(
      ['rows checked', 'chains', 'anchors', 'keyed rows unchecked', 'format', 'sha256'],
      [
        [
          String(result.checked),
          String(result.chains),
          String(result.anchors),
          String(result.keyedUnchecked),
          result.format,
          result.sha256,
        ],
      ],
    ),
  );
  if (result.firstBroken !== undefined) {
    const b = result.firstBroken;
    throw new CliError(
      `BROKEN at chain ${b.chain ?? '?'} sequence ${b.sequence ?? '?'}: ${b.reason}: ${b.detail}`,
      Exit.other,
    );
  }
  if (anchors.unreadable > 0)
    throw new CliError(`${anchors.unreadable} anchor line(s) cannot be read`, Exit.other);
  if (result.keyedUnchecked > 0) {
    throw new CliError(
      `${result.keyedUnchecked} row(s) are sealed with the audit chain key and were NOT checked: set ZSA_AUDIT_CHAIN_KEYS (or ZSA_AUDIT_HMAC_KEY) and run again`,
      Exit.other,
    );
  }
  ctx.stderr(`${file}: intact (${result.checked} rows in ${result.chains} chains).\n`);
}
