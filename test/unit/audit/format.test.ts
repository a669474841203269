import { describe, expect, it } from 'vitest';
import {
  CSV_HEADER,
  createCsvParser,
  csvCell,
  csvValue,
  exportBody,
  openExport,
  isCsvHeader,
  recordFromCsv,
  recordFromJsonLine,
  toCsvLine,
  toJsonLine,
} from '#shared/audit/format';
import { aLog } from './builders';

function parseAll(text: string, chunk = 7): string[][] {
  const parser = createCsvParser();
  const out: string[][] = [];
  for (let i = 0; i < text.length; i += chunk) out.push(...parser.push(text.slice(i, i + chunk)));
  out.push(...parser.end());
  return out;
}

describe('CSV cells', () => {
  it.each([
    ['plain', 'plain'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['two\r\nlines', '"two\r\nlines"'],
    ['=1+2', "'=1+2"],
    ['+SUM(A1)', "'+SUM(A1)"],
    ['-2', "'-2"],
    ['@cmd', "'@cmd"],
    ['\tx', "'\tx"],
    ['\rx', '"\'\rx"'],
    ["'=already", "''=already"],
    ["it's", "it's"],
  ])('%j → %j', (value, cell) => {
    expect(csvCell(value)).toBe(cell);
  });

  it('numbers and absent values', () => {
    expect(csvCell(42)).toBe('42');
    expect(csvCell(undefined)).toBe('');
  });

  it.each(['=1+2', "'=x", "''@y", '-', "'", 'plain', '@'])('%j round-trips through a cell', (value) => {
    const [cells] = parseAll(`${csvCell(value)}\r\n`);
    expect(csvValue(cells?.[0] ?? '')).toBe(value);
  });
});

describe('the CSV parser', () => {
  it('reads RFC 4180: quoted commas, doubled quotes, line breaks in fields, CRLF or LF, in any chunking', () => {
    const text = 'a,b,c\r\n"1,5","say ""x""","l1\r\nl2"\n,,\r\n';
    for (const chunk of [1, 2, 3, 5, 100]) {
      expect(parseAll(text, chunk)).toEqual([
        ['a', 'b', 'c'],
        ['1,5', 'say "x"', 'l1\r\nl2'],
        ['', '', ''],
      ]);
    }
  });
});

describe('the CSV parser on a damaged file', () => {
  it('keeps stray quotes as text and any number of cells, so the record check sees every row', () => {
    // Act
    const records = parseAll('a"b,c\r\nonly one\r\n', 3);

    // Assess
    expect(records).toEqual([['a"b', 'c'], ['only one']]);
    expect(recordFromCsv(records[1] ?? []).ok).toBe(false);
  });

  it('a quoted field never closed ends the file with one record the check refuses', () => {
    // Act
    const records = parseAll('a,b\r\n"never closed,x\r\n');

    // Assess
    expect(records[0]).toEqual(['a', 'b']);
    expect(records).toHaveLength(2);
    expect(records[1]?.[0]).toMatch(/^unreadable CSV: /);
    expect(recordFromCsv(records[1] ?? []).ok).toBe(false);
  });

  it('a chunk that ends inside a surrogate pair loses nothing', () => {
    // Act / Assess
    expect(parseAll('"é😀",x\r\n', 1)).toEqual([['é😀', 'x']]);
  });
});

describe('exports', () => {
  const rows = aLog(3, 6);

  it('CSV has the header, then one record per row, and parses back to the same rows', () => {
    // Prepare
    const text = CSV_HEADER + rows.map(toCsvLine).join('');

    // Act
    const [header, ...records] = parseAll(text, 13);

    // Assess
    expect(header && isCsvHeader(header)).toBe(true);
    expect(records.map(recordFromCsv)).toEqual(rows.map((record) => ({ ok: true, record })));
  });

  it('JSONL has one object per line and parses back to the same rows', () => {
    const lines = rows.map(toJsonLine);
    expect(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n'))).toBe(true);
    expect(lines.map((l) => recordFromJsonLine(l.trim()))).toEqual(
      rows.map((record) => ({ ok: true, record })),
    );
  });

  it('refuses rows with extra, missing or retyped columns', () => {
    const [first] = rows;
    if (!first) throw new Error('no rows');
    const line = JSON.parse(toJsonLine(first)) as Record<string, unknown>;
    expect(recordFromJsonLine(JSON.stringify({ ...line, extra: 1 })).ok).toBe(false);
    expect(recordFromJsonLine(JSON.stringify({ ...line, hash: undefined })).ok).toBe(false);
    expect(recordFromJsonLine(JSON.stringify({ ...line, sequence: '1' })).ok).toBe(false);
    expect(recordFromJsonLine('not json').ok).toBe(false);
  });

  it('the body streams in chunks and starts with the CSV header', async () => {
    async function* source() {
      for (const r of aLog(4, 300)) yield await Promise.resolve(r);
    }
    const chunks: Uint8Array[] = [];
    for await (const chunk of exportBody(source(), 'csv')) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(1);
    expect(Buffer.concat(chunks).toString('utf8').startsWith(CSV_HEADER)).toBe(true);
  });

  it("an export is opened by reading its first row: a failure then is the caller's to report, not a cut-off body", async () => {
    async function* failing(): AsyncGenerator<never> {
      await Promise.resolve();
      throw new Error('storage unreachable');
    }
    async function* none(): AsyncGenerator<never> {
      await Promise.resolve();
    }
    await expect(openExport(failing(), 'csv')).rejects.toThrow('storage unreachable');
    const chunks: Uint8Array[] = [];
    for await (const chunk of await openExport(none(), 'csv')) chunks.push(chunk);
    expect(Buffer.concat(chunks).toString('utf8')).toBe(CSV_HEADER);
  });
});
