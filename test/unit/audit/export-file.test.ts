import { describe, expect, it } from 'vitest';
import { createManifestBuilder, verifyExport, type Manifest } from '#shared/audit/export-file';
import { CSV_HEADER, toCsvLine, toJsonLine } from '#shared/audit/format';
import { BreakReason } from '#shared/audit/verify';
import type { AuditRecord } from '#shared/audit/record';
import { aLog, seeded } from './builders';
import { TamperKind, tamperLines } from './tamper';

function manifestOf(rows: readonly AuditRecord[]): Manifest {
  const builder = createManifestBuilder();
  for (const r of rows) builder.add(r, toJsonLine(r));
  return builder.build({
    day: '2030-01-01',
    from: '2030-01-01T00:00:00.000Z',
    to: '2030-01-02T00:00:00.000Z',
    blob: 'audit/2030/01/01.jsonl',
    exportedAt: '2030-01-02T00:15:00.000Z',
  });
}

function* chunks(text: string, size = 4096): Generator<string> {
  for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
}

describe('verifying an exported file', () => {
  const rows = aLog(4, 25);
  const manifest = manifestOf(rows);
  const jsonl = rows.map(toJsonLine).join('');

  it('accepts the untouched file, JSONL or CSV, with or without its manifest', async () => {
    expect(await verifyExport(chunks(jsonl, 333), { manifest })).toMatchObject({
      ok: true,
      checked: 100,
      chains: 4,
      format: 'jsonl',
    });
    expect(await verifyExport(chunks(jsonl))).toMatchObject({ ok: true });
    const csv = CSV_HEADER + rows.map(toCsvLine).join('');
    expect(await verifyExport(chunks(csv, 101), { manifest, ignoreDigest: true })).toMatchObject({
      ok: true,
      format: 'csv',
      checked: 100,
    });
  });

  it('reports a digest that differs from the manifest', async () => {
    const result = await verifyExport(chunks(jsonl.replace('}\n', '} \n')), { manifest });
    expect(result.firstBroken).toMatchObject({ reason: BreakReason.ManifestMismatch });
  });

  it('detects every one of 1,000 random tamperings (JSONL and CSV) from the rows and manifest alone', async () => {
    // Prepare
    const random = seeded(2030);
    const missed: string[] = [];
    const kinds = new Map<string, number>();

    // Act
    for (let trial = 0; trial < 1000; trial++) {
      const csv = trial % 4 === 3;
      const { lines, kind, description } = tamperLines(random, rows, csv ? toCsvLine : toJsonLine);
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      const text = (csv ? CSV_HEADER : '') + lines.join('');
      const result = await verifyExport(chunks(text, 997), { manifest, ignoreDigest: true });
      if (result.ok) missed.push(`trial ${trial} (${csv ? 'csv' : 'jsonl'}): ${description}`);
    }

    // Assess
    expect(missed).toEqual([]);
    expect([...kinds.keys()].sort()).toEqual(Object.values(TamperKind).sort());
  });
});
