/**
 * Exported files and their manifests: what a day export records about itself, and the offline
 * verification of an export (JSONL or CSV) against it. Streaming: the file is read in chunks and
 * only one row per chain is remembered. No storage access: an auditor runs this on a copy.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import {
  createCsvParser,
  csvColumnsOf,
  ExportFormat,
  recordFromCsvColumns,
  recordFromJsonLine,
} from './format';
import type { KeyRing } from './keys';
import { RECORD_FIELDS, type AuditRecord, type RecordField } from './record';
import {
  BreakReason,
  createVerifier,
  type AnchoredHead,
  type ChainStart,
  type KeyIdTally,
  type VerifyResult,
} from './verify';

const Hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const Instant = z.iso.datetime();

export const MANIFEST_VERSION = 1;

export const ChainSummarySchema = z.strictObject({
  chain: z.number().int().min(0),
  rows: z.number().int().min(1),
  firstSequence: z.number().int().min(1),
  firstPrevHash: Hex64,
  lastSequence: z.number().int().min(1),
  lastHash: Hex64,
});
export type ChainSummary = z.output<typeof ChainSummarySchema>;

/** What a day export says about itself; written beside the data blob, after it. */
export const ManifestSchema = z.strictObject({
  v: z.literal(MANIFEST_VERSION),
  /** The UTC day, YYYY-MM-DD. */
  day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  /** The range exported: `from` inclusive, `to` exclusive. */
  from: Instant,
  to: Instant,
  format: z.literal(ExportFormat.Jsonl),
  /** Name of the data blob in the same container. */
  blob: z.string().min(1),
  rows: z.number().int().min(0),
  bytes: z.number().int().min(0),
  /** SHA-256 of the data blob's bytes. */
  sha256: Hex64,
  /** Each chain's first and last row in the file: the day's chain heads. */
  chains: z.array(ChainSummarySchema),
  exportedAt: Instant,
});
export type Manifest = z.output<typeof ManifestSchema>;

/** Accumulates a manifest while rows are being written. */
export interface ManifestBuilder {
  add(record: AuditRecord, line: string): void;
  build(meta: Pick<Manifest, 'day' | 'from' | 'to' | 'blob' | 'exportedAt'>): Manifest;
}

export function createManifestBuilder(): ManifestBuilder {
  const digest = createHash('sha256');
  const chains = new Map<number, ChainSummary>();
  let rows = 0;
  let bytes = 0;
  return {
    add(record, line) {
      digest.update(line, 'utf8');
      bytes += Buffer.byteLength(line, 'utf8');
      rows += 1;
      const known = chains.get(record.chain);
      if (known) {
        known.rows += 1;
        known.lastSequence = record.sequence;
        known.lastHash = record.hash;
      } else {
        chains.set(record.chain, {
          chain: record.chain,
          rows: 1,
          firstSequence: record.sequence,
          firstPrevHash: record.prevHash,
          lastSequence: record.sequence,
          lastHash: record.hash,
        });
      }
    },
    build(meta) {
      return {
        v: MANIFEST_VERSION,
        ...meta,
        format: ExportFormat.Jsonl,
        rows,
        bytes,
        sha256: digest.digest('hex'),
        chains: [...chains.values()].sort((a, b) => a.chain - b.chain),
      };
    },
  };
}

export interface ExportCheckOptions {
  /** Detected from the first character when absent (`{` → JSONL). */
  format?: ExportFormat | undefined;
  manifest?: Manifest | undefined;
  /** Anchored heads (lines of the anchors blob), to check rows against. */
  anchors?: readonly AnchoredHead[] | undefined;
  /** What the anchor lines declared keyed (`collectAnchors`): a plain row there is a downgrade. */
  keyedAfter?: ReadonlyMap<number, number> | undefined;
  /**
   * The chain keys (current and retired, by id); without any, keyed rows are counted in
   * `keyedUnchecked` instead of checked, and a row naming a key not among them is `unknown-key`.
   */
  chainKeys?: KeyRing | undefined;
  /** Skip the whole-file digest (so the tamper tests show the row checks alone catch every change). */
  ignoreDigest?: boolean | undefined;
}

export interface ExportCheckResult extends VerifyResult {
  /**
   * Keyed rows whose seal could not be checked (no chain key was given). Their links were checked,
   * but any of them could have been written by someone without the key: the file is not shown intact.
   */
  keyedUnchecked: number;
  /** Per key id the keyed rows name: rows naming it, and how many of them were checked and sealed by it. */
  keyIds: Record<string, KeyIdTally>;
  format: ExportFormat;
  /** SHA-256 of the bytes read. */
  sha256: string;
  bytes: number;
}

/** Verifies an exported file read as chunks; never throws for bad content, only reports it. */
export async function verifyExport(
  source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
  options: ExportCheckOptions = {},
): Promise<ExportCheckResult> {
  const manifest = options.manifest;
  const starts = new Map<number, ChainStart>(
    (manifest?.chains ?? []).map((c) => [c.chain, { sequence: c.firstSequence, prevHash: c.firstPrevHash }]),
  );
  const verifier = createVerifier({
    from: manifest ? new Date(manifest.from) : undefined,
    to: manifest ? new Date(manifest.to) : undefined,
    anchors: options.anchors ?? [],
    keyedAfter: options.keyedAfter,
    chainKeys: options.chainKeys,
    starts,
    requireStart: false,
    checkOrder: true,
    checkKeys: false,
  });
  const digest = createHash('sha256');
  const decoder = new TextDecoder('utf-8', { fatal: false });
  let bytes = 0;
  let format = options.format;
  let pending = '';
  let rows = 0;
  let headerSeen = false;
  let columns: readonly RecordField[] = RECORD_FIELDS;
  const csv = createCsvParser();
  const outside = (record: AuditRecord) =>
    manifest !== undefined && (record.at < manifest.from || record.at >= manifest.to);

  const pushRecord = (row: ReturnType<typeof recordFromJsonLine>) => {
    rows += 1;
    if (row.ok && outside(row.record)) {
      verifier.report({
        chain: row.record.chain,
        sequence: row.record.sequence,
        reason: BreakReason.ManifestMismatch,
        detail: 'The row lies outside the exported day.',
      });
    }
    verifier.push(row);
  };
  const onCsvRecords = (records: string[][]) => {
    for (const cells of records) {
      if (!headerSeen) {
        headerSeen = true;
        const named = csvColumnsOf(cells);
        columns = named ?? RECORD_FIELDS;
        if (!named) {
          verifier.report({
            chain: null,
            sequence: null,
            reason: BreakReason.Malformed,
            detail: 'The CSV header is not the audit header.',
          });
        }
        continue;
      }
      pushRecord(recordFromCsvColumns(cells, columns));
    }
  };
  const onText = (text: string) => {
    if (format === undefined) {
      const firstChar = (pending + text).trimStart()[0];
      if (firstChar === undefined) {
        pending += text;
        return;
      }
      format = firstChar === '{' ? ExportFormat.Jsonl : ExportFormat.Csv;
      text = pending + text;
      pending = '';
    }
    if (format === ExportFormat.Csv) {
      onCsvRecords(csv.push(text));
      return;
    }
    pending += text;
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      const line = pending.slice(0, newline).replace(/\r$/, '');
      pending = pending.slice(newline + 1);
      if (line.length > 0) pushRecord(recordFromJsonLine(line));
      newline = pending.indexOf('\n');
    }
  };

  for await (const chunk of source) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    digest.update(buffer);
    bytes += buffer.length;
    onText(decoder.decode(buffer, { stream: true }));
  }
  onText(decoder.decode());
  if (format === ExportFormat.Csv) onCsvRecords(csv.end());
  else if (pending.trim().length > 0) pushRecord(recordFromJsonLine(pending.replace(/\r$/, '')));
  const sha256 = digest.digest('hex');

  if (manifest)
    compareWithManifest(manifest, rows, verifier.chainsSeen(), (detail, chain, sequence) =>
      verifier.report({ chain, sequence, reason: BreakReason.ManifestMismatch, detail }),
    );
  if (manifest && !options.ignoreDigest && (manifest.sha256 !== sha256 || manifest.bytes !== bytes)) {
    verifier.report({
      chain: null,
      sequence: null,
      reason: BreakReason.ManifestMismatch,
      detail: 'The file digest differs from the manifest.',
    });
  }
  const keyedUnchecked = verifier.unchecked();
  const result = verifier.finish();
  return {
    ...result,
    ok: result.ok && keyedUnchecked === 0,
    keyedUnchecked,
    keyIds: Object.fromEntries(verifier.keyIds()),
    format: format ?? ExportFormat.Jsonl,
    sha256,
    bytes,
  };
}

function compareWithManifest(
  manifest: Manifest,
  rows: number,
  seen: ReadonlyMap<number, { firstSequence: number; lastSequence: number; lastHash: string }>,
  report: (detail: string, chain: number | null, sequence: number | null) => void,
): void {
  const expected = new Map(manifest.chains.map((c) => [c.chain, c]));
  for (const [chain, summary] of expected) {
    const actual = seen.get(chain);
    if (!actual) {
      report(`Chain ${chain} is missing from the file.`, chain, summary.firstSequence);
    } else if (actual.lastSequence !== summary.lastSequence || actual.lastHash !== summary.lastHash) {
      report(`Chain ${chain} does not end at the head the manifest records.`, chain, summary.lastSequence);
    }
  }
  for (const [chain, actual] of seen) {
    if (!expected.has(chain)) report(`Chain ${chain} is not in the manifest.`, chain, actual.firstSequence);
  }
  if (rows !== manifest.rows)
    report(`The file has ${rows} rows; the manifest says ${manifest.rows}.`, null, null);
}
