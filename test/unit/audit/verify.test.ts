import { describe, expect, it } from 'vitest';
import { GENESIS_HASH, sealRecord, type AuditRecord } from '#shared/audit/record';
import { toEntity, fromEntity } from '#shared/audit/entity';
import {
  BreakReason,
  createVerifier,
  type AnchoredHead,
  type VerifierOptions,
  type VerifyResult,
} from '#shared/audit/verify';
import { aContent, aLog, seeded } from './builders';

const tableOptions: VerifierOptions = { requireStart: true, checkOrder: false, checkKeys: true };

/** Rows as the table returns them: through the entity mapping, in key order. */
function verifyTable(rows: readonly AuditRecord[], options: Partial<VerifierOptions> = {}): VerifyResult {
  const verifier = createVerifier({ ...tableOptions, ...options });
  const entities = rows
    .map((r) => toEntity(r))
    .sort((a, b) =>
      a.partitionKey === b.partitionKey
        ? a.rowKey.localeCompare(b.rowKey)
        : a.partitionKey.localeCompare(b.partitionKey),
    );
  for (const e of entities) {
    const raw: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(e))
      raw[k] =
        typeof v === 'string' && k !== 'partitionKey' && k !== 'rowKey' ? { value: v, type: 'String' } : v;
    verifier.push(fromEntity(raw));
  }
  return verifier.finish();
}

function headsOf(rows: readonly AuditRecord[]): AnchoredHead[] {
  const heads = new Map<number, AnchoredHead>();
  for (const r of rows) heads.set(r.chain, { chain: r.chain, sequence: r.sequence, hash: r.hash, at: r.at });
  return [...heads.values()];
}

/** Re-seals rows from `index` on (an attacker who recomputes the chain after a change). */
function resealFrom(rows: AuditRecord[], index: number): AuditRecord[] {
  const out = [...rows];
  for (let i = index; i < out.length; i++) {
    const r = out[i];
    if (!r) continue;
    const prev = out[i - 1];
    const prevHash =
      prev && prev.chain === r.chain ? prev.hash : r.sequence === 1 ? GENESIS_HASH : r.prevHash;
    const { v: _v, chain, sequence, at, prevHash: _p, hash: _h, ...content } = r;
    out[i] = sealRecord(content, { chain, sequence, at, prevHash });
  }
  return out;
}

describe('an untouched log', () => {
  it('is never flagged, whatever its shape', () => {
    const random = seeded(7);
    for (let trial = 0; trial < 50; trial++) {
      const rows = aLog(1 + Math.floor(random() * 5), 1 + Math.floor(random() * 40));
      const result = verifyTable(rows, { anchors: headsOf(rows) });
      expect(result).toMatchObject({ ok: true, checked: rows.length });
      expect(result.firstBroken).toBeUndefined();
    }
  });
});

describe('tampering with the table', () => {
  const rows = aLog(2, 10);
  const at = (i: number) => rows[i] as AuditRecord;

  it.each<[string, () => AuditRecord[], BreakReason, number]>([
    [
      'a modified column',
      () => rows.map((r, i) => (i === 3 ? { ...r, actorUpn: 'mallory@contoso.com' } : r)),
      BreakReason.HashMismatch,
      4,
    ],
    ['a deleted row', () => rows.filter((_, i) => i !== 3), BreakReason.SequenceGap, 5],
    ['the first row deleted', () => rows.filter((_, i) => i !== 0), BreakReason.SequenceGap, 2],
    [
      'an inserted row (sequences shifted, hashes recomputed)',
      () => {
        const shifted = rows.map((r, i) =>
          i >= 3 && r.chain === 0 ? { ...r, sequence: r.sequence + 1 } : r,
        );
        const forged = { ...at(2), id: 'forged', sequence: 4, actorUpn: 'mallory@contoso.com' };
        return resealFrom([...shifted.slice(0, 3), forged, ...shifted.slice(3)], 3);
      },
      BreakReason.AnchorMismatch,
      10,
    ],
    [
      'two rows swapped in place',
      () =>
        rows.map((r, i) => (i === 3 ? { ...at(4), sequence: 4 } : i === 4 ? { ...at(3), sequence: 5 } : r)),
      BreakReason.HashMismatch,
      4,
    ],
    [
      'a row rewritten with the hashes after it recomputed',
      () =>
        resealFrom(
          rows.map((r, i) => (i === 2 ? { ...r, outcome: 'refused' } : r)),
          2,
        ),
      BreakReason.AnchorMismatch,
      10,
    ],
    [
      'the chain cut back',
      () => rows.filter((r) => !(r.chain === 1 && r.sequence > 6)),
      BreakReason.Truncated,
      10,
    ],
  ])('%s is detected', (_name, tamper, reason, sequence) => {
    // Act
    const result = verifyTable(tamper(), { anchors: headsOf(rows) });

    // Assess
    expect(result.ok).toBe(false);
    expect(result.firstBroken).toMatchObject({ reason, sequence });
  });

  it('a row moved under other keys is detected', () => {
    const verifier = createVerifier(tableOptions);
    verifier.push({ ok: true, record: at(0), partitionKey: 'c00-00000000', rowKey: '000000000001' });
    verifier.push({ ok: true, record: at(1), partitionKey: 'c00-00000001', rowKey: '000000000002' });
    expect(verifier.finish().firstBroken).toMatchObject({ reason: BreakReason.KeyMismatch, sequence: 2 });
  });

  it('a row earlier than its predecessor is detected', () => {
    const early = sealRecord(aContent(9), {
      chain: 0,
      sequence: 2,
      at: '2030-01-01T09:00:00.000Z',
      prevHash: at(0).hash,
    });
    expect(verifyTable([at(0), early]).firstBroken).toMatchObject({ reason: BreakReason.TimeReversed });
  });

  it('a malformed row is reported with the keys it has', () => {
    const verifier = createVerifier(tableOptions);
    verifier.push({ ok: false, chain: 3, sequence: 9, problem: 'unexpected column x' });
    expect(verifier.finish().firstBroken).toMatchObject({
      chain: 3,
      sequence: 9,
      reason: BreakReason.Malformed,
    });
  });

  it('without an anchor, a recomputed rewrite of the newest rows cannot be told from the truth (why anchors exist)', () => {
    const rewritten = resealFrom(
      rows.map((r, i) => (i === 8 ? { ...r, outcome: 'refused' } : r)),
      8,
    );
    expect(verifyTable(rewritten).ok).toBe(true);
  });

  it('a range check starts anywhere, but links to an anchored head before it', () => {
    const tail = rows.filter((r) => r.chain === 0 && r.sequence > 4);
    const from = new Date(tail[0]?.at ?? 0);
    expect(verifyTable(tail, { requireStart: false, from }).ok).toBe(true);
    expect(verifyTable(tail).firstBroken).toMatchObject({ reason: BreakReason.SequenceGap, sequence: 5 });
    const badLink = [{ ...at(4), prevHash: 'b'.repeat(64) }];
    const resealed = resealFrom(badLink, 0);
    expect(
      verifyTable(resealed, {
        requireStart: false,
        from,
        anchors: [{ ...(headsOf([at(3)])[0] as AnchoredHead) }],
      }).firstBroken,
    ).toMatchObject({ reason: BreakReason.PrevHashMismatch });
  });
});
