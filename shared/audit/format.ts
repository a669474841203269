/**
 * Export formats: JSONL (one record per line) and CSV (RFC 4180, with a header), both carrying
 * exactly the stored columns so a row can be re-hashed from either. Pure.
 *
 * CSV cells that a spreadsheet would run as a formula (starting with = + - @, tab or carriage
 * return) are prefixed with `'` (OWASP CSV injection guidance). To keep the export reversible, a cell
 * that already starts with quotes before such a character gets one more, and `csvValue` removes
 * exactly one: every value round-trips. The writer is ours (its quoting is part of what is hashed);
 * reading is csv-parse's.
 */
import { Parser } from 'csv-parse';
import { z } from 'zod';
import {
  AuditRecordSchema,
  LEGACY_RECORD_FIELDS,
  RECORD_FIELDS,
  type AuditRecord,
  type RecordField,
} from './record';
import type { VerifiableRow } from './verify';

export const ExportFormat = { Csv: 'csv', Jsonl: 'jsonl' } as const;
export type ExportFormat = (typeof ExportFormat)[keyof typeof ExportFormat];

export const CONTENT_TYPES: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  jsonl: 'application/x-ndjson; charset=utf-8',
};

/** One JSON object per line, columns in export order, absent optional columns omitted. */
export function toJsonLine(record: AuditRecord): string {
  const ordered: Record<string, unknown> = {};
  for (const field of RECORD_FIELDS) {
    const value = record[field];
    if (value !== undefined) ordered[field] = value;
  }
  return `${JSON.stringify(ordered)}\n`;
}

const FORMULA_START = /^'*[=+\-@\t\r]/;
const NEUTRALISED = /^'+[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

/** The cell text for a value: neutralised against formula injection, quoted when RFC 4180 needs it. */
export function csvCell(value: string | number | undefined): string {
  if (value === undefined) return '';
  const text = typeof value === 'number' ? String(value) : FORMULA_START.test(value) ? `'${value}` : value;
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export const CSV_HEADER = `${RECORD_FIELDS.join(',')}\r\n`;

/** Columns whose values can never need quoting or neutralising (numbers, hex, catalogued codes, ISO times). */
const PLAIN_COLUMNS = new Set<RecordField>([
  'v',
  'kid',
  'chain',
  'sequence',
  'at',
  'action',
  'outcome',
  'actorKind',
  'prevHash',
  'hash',
]);

export function toCsvLine(record: AuditRecord): string {
  const cells = RECORD_FIELDS.map((field) => {
    const value = record[field];
    return PLAIN_COLUMNS.has(field) ? String(value ?? '') : csvCell(value);
  });
  return `${cells.join(',')}\r\n`;
}

export function serializer(format: ExportFormat): { header: string; line: (record: AuditRecord) => string } {
  return format === ExportFormat.Csv
    ? { header: CSV_HEADER, line: toCsvLine }
    : { header: '', line: toJsonLine };
}

/**
 * An RFC 4180 parser that takes the text in chunks (a record may span chunks and lines) and hands
 * back complete records; CRLF, LF or CR end a record, and empty lines are skipped. Lenient, like a
 * reader of a file that may have been tampered with: stray quotes are kept as text and records may
 * have any number of cells, so that every row reaches the record check, which refuses bad ones. A
 * file the parser cannot read past (a quoted field never closed) ends with one record of a single
 * cell saying so, which the record check refuses too.
 */
export interface CsvParser {
  push(chunk: string): string[][];
  end(): string[][];
}

export function createCsvParser(): CsvParser {
  let records: string[][] = [];
  let failure: string | undefined;
  const parser = new Parser({
    relax_quotes: true,
    relax_column_count: true,
    skip_empty_lines: true,
    record_delimiter: ['\r\n', '\n', '\r'],
    // Records are collected here, as they are parsed, rather than read from the stream.
    on_record: (record: string[]) => {
      records.push(record);
      return null;
    },
  });
  const settle = (error: Error | null | undefined) => {
    if (error && failure === undefined) failure = error.message;
  };
  const take = (): string[][] => {
    const out = records;
    records = [];
    return out;
  };
  // A chunk may end inside a surrogate pair; its first half waits for the next chunk.
  let held = '';
  // The parser's own steps are driven directly, so that records come back synchronously, chunk by chunk.
  return {
    push(chunk) {
      let text = held + chunk;
      const last = text.charCodeAt(text.length - 1);
      held = last >= 0xd800 && last <= 0xdbff ? text.slice(-1) : '';
      if (held !== '') text = text.slice(0, -1);
      if (failure === undefined) parser._transform(Buffer.from(text, 'utf8'), 'utf8', settle);
      return take();
    },
    end() {
      if (failure === undefined && held !== '') parser._transform(Buffer.from(held, 'utf8'), 'utf8', settle);
      if (failure === undefined) parser._flush(settle);
      const out = take();
      if (failure !== undefined) out.push([`unreadable CSV: ${failure}`]);
      return out;
    },
  };
}

/** Reverses `csvCell`'s neutralisation (quoting is undone by the parser). */
export function csvValue(cell: string): string {
  return NEUTRALISED.test(cell) ? cell.slice(1) : cell;
}

const NUMERIC_FIELDS = new Set<RecordField>(['v', 'chain', 'sequence']);

function positionOf(input: Record<string, unknown>): {
  chain: number | undefined;
  sequence: number | undefined;
} {
  const n = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) ? v : undefined);
  return { chain: n(input.chain), sequence: n(input.sequence) };
}

function checked(input: Record<string, unknown>): VerifiableRow {
  const parsed = AuditRecordSchema.safeParse(input);
  if (parsed.success) return { ok: true, record: parsed.data };
  const issue = parsed.error.issues[0];
  const where = issue ? `${issue.path.join('.') || 'row'}: ${issue.message}` : 'invalid';
  return { ok: false, ...positionOf(input), problem: where };
}

/** A CSV record (after a header of this release) → a record, or why not. */
export function recordFromCsv(cells: readonly string[]): VerifiableRow {
  return recordFromCsvColumns(cells, RECORD_FIELDS);
}

/**
 * A CSV record → a record, or why not, read by the columns its header named: an export written
 * before keyed rows named their key has no `kid` column (`csvColumnsOf`).
 */
export function recordFromCsvColumns(
  cells: readonly string[],
  columns: readonly RecordField[],
): VerifiableRow {
  if (cells.length !== columns.length) {
    return {
      ok: false,
      chain: undefined,
      sequence: undefined,
      problem: `${cells.length} cells instead of ${columns.length}`,
    };
  }
  const input: Record<string, unknown> = {};
  columns.forEach((field, i) => {
    const cell = cells[i] ?? '';
    if (cell === '') return;
    if (NUMERIC_FIELDS.has(field)) {
      input[field] = /^(0|[1-9]\d{0,14})$/.test(cell) ? Number(cell) : cell;
    } else {
      input[field] = csvValue(cell);
    }
  });
  return checked(input);
}

/** The columns a CSV header names: today's, or those of an export written before `kid`; else undefined. */
export function csvColumnsOf(cells: readonly string[]): readonly RecordField[] | undefined {
  const same = (columns: readonly RecordField[]) =>
    cells.length === columns.length && columns.every((f, i) => cells[i] === f);
  if (same(RECORD_FIELDS)) return RECORD_FIELDS;
  return same(LEGACY_RECORD_FIELDS) ? LEGACY_RECORD_FIELDS : undefined;
}

/** True for the header this release writes. */
export function isCsvHeader(cells: readonly string[]): boolean {
  return csvColumnsOf(cells) === RECORD_FIELDS;
}

/** Built once: a schema built per line was a tenth of a large export's verification time. */
const JsonObject = z.record(z.string(), z.unknown());

/** A JSONL line → a record, or why not. */
export function recordFromJsonLine(line: string): VerifiableRow {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { ok: false, chain: undefined, sequence: undefined, problem: 'the line is not JSON' };
  }
  const object = JsonObject.safeParse(value);
  if (!object.success)
    return { ok: false, chain: undefined, sequence: undefined, problem: 'the line is not an object' };
  return checked(object.data);
}

const BODY_CHUNK_CHARS = 64 * 1024;

/**
 * An export as bytes, produced while rows are read (chunks of about 64 KiB): memory stays flat
 * whatever the range, wherever the platform streams the response.
 */
export async function* exportBody(
  rows: AsyncIterable<AuditRecord>,
  format: ExportFormat,
): AsyncGenerator<Uint8Array> {
  const { header, line } = serializer(format);
  let pending = header;
  for await (const record of rows) {
    pending += line(record);
    if (pending.length >= BODY_CHUNK_CHARS) {
      yield Buffer.from(pending, 'utf8');
      pending = '';
    }
  }
  if (pending.length > 0) yield Buffer.from(pending, 'utf8');
}

/**
 * Starts an export: reads up to the first row before answering, so that storage being unreachable
 * is an error the caller can still turn into a 503 problem, not a response that breaks off.
 */
export async function openExport(
  rows: AsyncIterable<AuditRecord>,
  format: ExportFormat,
): Promise<AsyncIterable<Uint8Array>> {
  const iterator = rows[Symbol.asyncIterator]();
  const first = await iterator.next();
  async function* all(): AsyncGenerator<AuditRecord> {
    if (first.done) return;
    yield first.value;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  }
  return exportBody(all(), format);
}
