/**
 * Keyed chains: rows sealed with an HMAC under the chain key, verified beside the plain rows older
 * releases wrote, and never followed by a plain row again (a writer without the key can compute
 * only plain rows, so that is what a forged row looks like).
 */
import { describe, expect, it } from 'vitest';
import { collectAnchors } from '#shared/audit/archive';
import { fromEntity, toEntity } from '#shared/audit/entity';
import { createManifestBuilder, verifyExport } from '#shared/audit/export-file';
import { toJsonLine } from '#shared/audit/format';
import { AuditKeyPurpose, auditSubkey, chainKeyId, keyRing } from '#shared/audit/keys';
import {
  GENESIS_HASH,
  RecordVersion,
  canonicalRecord,
  chainHash,
  hashMatches,
  sealRecord,
  type AuditRecord,
} from '#shared/audit/record';
import { BreakReason, createVerifier, type VerifierOptions, type VerifyResult } from '#shared/audit/verify';
import { aContent } from './builders';

const KEY = auditSubkey('the audit key', AuditKeyPurpose.chain);
const OTHER_KEY = auditSubkey('another audit key', AuditKeyPurpose.chain);
const START = Date.UTC(2030, 0, 1, 10);

/**
 * One chain of `rows` rows: plain up to `keyedFrom - 1` (written by an older release), keyed from
 * `keyedFrom` on (Infinity: all plain).
 */
function aChain(rows: number, keyedFrom: number, chain = 0): AuditRecord[] {
  const out: AuditRecord[] = [];
  let prevHash = GENESIS_HASH;
  for (let sequence = 1; sequence <= rows; sequence++) {
    const record = sealRecord(
      aContent(chain * 100 + sequence),
      { chain, sequence, at: new Date(START + sequence * 1000).toISOString(), prevHash },
      sequence >= keyedFrom ? KEY : undefined,
    );
    prevHash = record.hash;
    out.push(record);
  }
  return out;
}

/** A row appended after `last` by someone who can write the table: plain, or keyed under another key. */
function forgedAfter(last: AuditRecord, key?: Uint8Array): AuditRecord {
  return sealRecord(
    aContent(999, { actorUpn: 'mallory@contoso.com' }),
    {
      chain: last.chain,
      sequence: last.sequence + 1,
      at: new Date(Date.parse(last.at) + 1000).toISOString(),
      prevHash: last.hash,
    },
    key,
  );
}

/** Rows as the table returns them (through the entity mapping), checked as the log checks them. */
function verifyStored(rows: readonly AuditRecord[], options: Partial<VerifierOptions> = {}): VerifyResult {
  const verifier = createVerifier({
    requireStart: true,
    checkOrder: false,
    checkKeys: true,
    chainKeys: keyRing([KEY]),
    ...options,
  });
  for (const record of rows) {
    const raw: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(toEntity(record))) {
      raw[k] =
        typeof v === 'string' && k !== 'partitionKey' && k !== 'rowKey' ? { value: v, type: 'String' } : v;
    }
    verifier.push(fromEntity(raw));
  }
  return verifier.finish();
}

describe('sealing', () => {
  it('with the chain key gives a version 2 row whose hash is HMAC-SHA256(key, canonical ‖ prevHash)', () => {
    // Act
    const [keyed] = aChain(1, 1);
    const [plain] = aChain(1, Infinity);

    // Assess
    expect(keyed?.v).toBe(RecordVersion.Keyed);
    expect(plain?.v).toBe(RecordVersion.Plain);
    if (!keyed || !plain) throw new Error('no rows');
    expect(keyed.hash).toBe(chainHash(canonicalRecord(keyed), GENESIS_HASH, KEY));
    expect(keyed.hash).not.toBe(chainHash(canonicalRecord(keyed), GENESIS_HASH));
    expect(canonicalRecord(keyed)).toContain('"v":2');
  });

  it('is checked with the key; without it nothing can be said about a keyed row', () => {
    const [keyed] = aChain(1, 1);
    const [plain] = aChain(1, Infinity);
    if (!keyed || !plain) throw new Error('no rows');
    expect(hashMatches(keyed, KEY)).toBe(true);
    expect(hashMatches(keyed, OTHER_KEY)).toBe(false);
    expect(hashMatches(keyed)).toBeUndefined();
    expect(hashMatches(plain)).toBe(true);
    expect(hashMatches(plain, KEY)).toBe(true);
  });

  it('derives the chain key for its own purpose, apart from the redaction and cursor keys', () => {
    const keys = Object.values(AuditKeyPurpose).map((p) => auditSubkey('the audit key', p).toString('hex'));
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('verifying a keyed chain', () => {
  it.each<[string, number]>([
    ['all keyed', 1],
    ['old plain rows, then keyed ones (an upgraded log)', 6],
    ['all plain (written before keyed chains)', Infinity],
  ])('%s verifies', (_name, keyedFrom) => {
    const rows = aChain(10, keyedFrom);
    expect(verifyStored(rows)).toMatchObject({ ok: true, checked: 10 });
  });

  it.each<[string, number]>([
    ['a keyed chain', 1],
    ['a chain that moved from plain to keyed', 6],
  ])('a plain row appended to %s by someone without the key is a downgrade', (_name, keyedFrom) => {
    // Prepare
    const rows = aChain(10, keyedFrom);
    const last = rows.at(-1);
    if (!last) throw new Error('no rows');

    // Act
    const result = verifyStored([...rows, forgedAfter(last)]);

    // Assess
    expect(result.ok).toBe(false);
    expect(result.firstBroken).toMatchObject({ chain: 0, sequence: 11, reason: BreakReason.Downgrade });
  });

  it('a keyed row appended under another key names a key the ring lacks: unknown-key, naming it', () => {
    const rows = aChain(10, 1);
    const last = rows.at(-1);
    if (!last) throw new Error('no rows');
    const broken = verifyStored([...rows, forgedAfter(last, OTHER_KEY)]).firstBroken;
    expect(broken).toMatchObject({ sequence: 11, reason: BreakReason.UnknownKey });
    expect(broken?.detail).toContain(chainKeyId(OTHER_KEY));
  });

  it('a keyed row sealed under another key but naming the real key does not match its hash', () => {
    const rows = aChain(10, 1);
    const last = rows.at(-1);
    if (!last) throw new Error('no rows');
    const forged = sealRecord(
      aContent(999),
      { chain: 0, sequence: 11, at: new Date(Date.parse(last.at) + 1000).toISOString(), prevHash: last.hash },
      { kid: chainKeyId(KEY), key: OTHER_KEY },
    );
    expect(verifyStored([...rows, forged]).firstBroken).toMatchObject({
      sequence: 11,
      reason: BreakReason.HashMismatch,
    });
  });

  it('keyed rows rewritten as plain rows, every hash recomputed, are a downgrade', () => {
    // Prepare: rows 6–10 were keyed; the writer re-seals them without the key.
    const rows = aChain(10, 6);
    const rewritten = [...rows.slice(0, 5)];
    for (const original of rows.slice(5)) {
      const { v: _v, kid: _k, hash: _h, prevHash: _p, chain, sequence, at, ...content } = original;
      const prev = rewritten.at(-1)?.hash ?? GENESIS_HASH;
      rewritten.push(sealRecord({ ...content, outcome: 'refused' }, { chain, sequence, at, prevHash: prev }));
    }

    // Act: the keyed rows are gone, so only the anchors' declaration can tell.
    const withoutAnchors = verifyStored(rewritten);
    const withAnchors = verifyStored(rewritten, { keyedAfter: new Map([[0, 5]]) });

    // Assess
    expect(withoutAnchors.ok).toBe(true);
    expect(withAnchors.firstBroken).toMatchObject({ sequence: 6, reason: BreakReason.Downgrade });
  });

  it('a plain chain started by someone else on a chain declared keyed from its beginning is a downgrade', () => {
    const rows = aChain(3, Infinity, 5);
    expect(verifyStored(rows, { keyedAfter: new Map([[5, 0]]) }).firstBroken).toMatchObject({
      chain: 5,
      sequence: 1,
      reason: BreakReason.Downgrade,
    });
    expect(verifyStored(rows, { keyedAfter: new Map([[4, 0]]) }).ok).toBe(true);
  });

  it('without the key, counts keyed rows as unchecked but still finds a downgrade and a broken link', () => {
    // Prepare
    const rows = aChain(10, 4);
    const last = rows.at(-1);
    if (!last) throw new Error('no rows');
    const verifier = createVerifier({ requireStart: true, checkOrder: true, checkKeys: false });

    // Act
    for (const record of rows) verifier.push({ ok: true, record });
    const unchecked = verifier.unchecked();
    const intact = verifier.finish();
    const downgraded = verifyStored([...rows, forgedAfter(last)], { chainKeys: undefined });
    const unlinked = verifyStored(
      rows.map((r) => (r.sequence === 7 ? { ...r, prevHash: 'a'.repeat(64) } : r)),
      { chainKeys: undefined },
    );

    // Assess
    expect(unchecked).toBe(7);
    expect(intact.ok).toBe(true);
    expect(downgraded.firstBroken).toMatchObject({ sequence: 11, reason: BreakReason.Downgrade });
    expect(unlinked.firstBroken).toMatchObject({ sequence: 7, reason: BreakReason.PrevHashMismatch });
  });
});

describe('anchor lines', () => {
  const head = (chain: number, sequence: number) => ({
    chain,
    sequence,
    hash: String(chain).repeat(64).slice(0, 64),
    at: '2030-01-01T10:00:00.000Z',
  });
  const line = (value: unknown) => JSON.stringify(value);

  it('declare every chain keyed after its head (from its beginning when it has none); the earliest declaration holds', () => {
    // Act
    const read = collectAnchors([
      line({ v: 1, anchoredAt: '2030-01-01T09:00:00.000Z', heads: [head(0, 3)] }),
      line({
        v: 2,
        anchoredAt: '2030-01-01T10:00:00.000Z',
        seal: 'hmac-sha256',
        chains: 3,
        heads: [head(0, 7)],
      }),
      '',
      line({
        v: 2,
        anchoredAt: '2030-01-01T10:01:00.000Z',
        seal: 'hmac-sha256',
        chains: 3,
        heads: [head(0, 9), head(2, 4)],
      }),
      '{"v":2,"anchoredAt":"2030-01-01T10:02:00.000Z","heads":[]}',
      'not json',
    ]);

    // Assess
    expect(read.heads.map((h) => `${h.chain}:${h.sequence}`)).toEqual(['0:3', '0:7', '0:9', '2:4']);
    expect([...read.keyedAfter.entries()].sort()).toEqual([
      [0, 7],
      [1, 0],
      [2, 0],
    ]);
    expect(read.unreadable).toBe(2);
  });
});

describe('verifying an exported file with keyed rows', () => {
  const rows = [...aChain(6, 3, 0), ...aChain(4, 1, 1)];
  const builder = createManifestBuilder();
  for (const r of rows) builder.add(r, toJsonLine(r));
  const manifest = builder.build({
    day: '2030-01-01',
    from: '2030-01-01T00:00:00.000Z',
    to: '2030-01-02T00:00:00.000Z',
    blob: 'audit/2030/01/01.jsonl',
    exportedAt: '2030-01-02T00:15:00.000Z',
  });
  const text = rows.map(toJsonLine).join('');

  it('passes with the key and is not shown intact without it', async () => {
    const keyed = await verifyExport([text], { manifest, chainKeys: keyRing([KEY]) });
    const unkeyed = await verifyExport([text], { manifest });
    expect(keyed).toMatchObject({ ok: true, checked: 10, keyedUnchecked: 0 });
    expect(unkeyed).toMatchObject({ ok: false, checked: 10, keyedUnchecked: 8 });
    expect(unkeyed.firstBroken).toBeUndefined();
  });

  it('reports a plain row where the anchors declared the chain keyed', async () => {
    const plainChain = aChain(4, Infinity, 1);
    const file = [...rows.filter((r) => r.chain === 0), ...plainChain].map(toJsonLine).join('');
    const result = await verifyExport([file], { chainKeys: keyRing([KEY]), keyedAfter: new Map([[1, 2]]) });
    expect(result.firstBroken).toMatchObject({ chain: 1, sequence: 3, reason: BreakReason.Downgrade });
  });
});
