/**
 * Rotating the audit key: keyed rows name the chain key that sealed them, and verification checks
 * each with the key it names from a ring of the current and retired keys. Pure parts only; the
 * log written, rotated and verified in storage is test/component/audit/rotation.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, filtersFingerprint } from '#shared/audit/cursor';
import { fromEntity, toEntity } from '#shared/audit/entity';
import { verifyExport } from '#shared/audit/export-file';
import { CSV_HEADER, recordFromJsonLine, toCsvLine } from '#shared/audit/format';
import {
  AuditKeyPurpose,
  auditKeyRing,
  auditSubkey,
  chainKeyId,
  keyRing,
  type KeyRing,
} from '#shared/audit/keys';
import {
  GENESIS_HASH,
  LEGACY_RECORD_FIELDS,
  RecordVersion,
  canonicalRecord,
  sealRecord,
  type AuditRecord,
} from '#shared/audit/record';
import { BreakReason, createVerifier, type VerifyResult } from '#shared/audit/verify';
import { isDomainError } from '#shared/domain/errors';
import { chainKeysFromEnv } from '../../../infra/tools/audit-verify';
import { aContent } from './builders';

const A = auditSubkey('audit key A', AuditKeyPurpose.chain);
const B = auditSubkey('audit key B', AuditKeyPurpose.chain);
const START = Date.UTC(2030, 0, 1, 10);

/** One chain sealed under `keys[i]` for row i + 1 (undefined: plain). */
function aChain(keys: readonly (Uint8Array | undefined)[]): AuditRecord[] {
  const out: AuditRecord[] = [];
  keys.forEach((key, i) => {
    const sequence = i + 1;
    const at = new Date(START + sequence * 1000).toISOString();
    out.push(
      sealRecord(
        aContent(sequence),
        { chain: 0, sequence, at, prevHash: out.at(-1)?.hash ?? GENESIS_HASH },
        key,
      ),
    );
  });
  return out;
}

function verify(rows: readonly AuditRecord[], ring: KeyRing | undefined) {
  const verifier = createVerifier({
    requireStart: true,
    checkOrder: true,
    checkKeys: false,
    chainKeys: ring,
  });
  for (const record of rows) verifier.push({ ok: true, record });
  const result: VerifyResult = verifier.finish();
  return { result, tallies: Object.fromEntries(verifier.keyIds()), unchecked: verifier.unchecked() };
}

/** Rows 1–3 plain (an old release), 4–6 under A, then the key rotated: 7–9 under B. */
const ROTATED = aChain([undefined, undefined, undefined, A, A, A, B, B, B]);

describe('key ids', () => {
  it('are 16 hex digits of an HMAC under the chain key: stable, distinct per key, no part of the key', () => {
    const kid = chainKeyId(A);
    expect(kid).toMatch(/^[0-9a-f]{16}$/);
    expect(chainKeyId(Buffer.from(A))).toBe(kid);
    expect(chainKeyId(B)).not.toBe(kid);
    expect(A.toString('hex')).not.toContain(kid);
  });

  it('are recorded by keyed rows only, and hashed with them', () => {
    const [plain] = aChain([undefined]);
    const [keyed] = aChain([A]);
    if (!plain || !keyed) throw new Error('no rows');
    expect(plain.kid).toBeUndefined();
    expect(keyed).toMatchObject({ v: RecordVersion.Keyed, kid: chainKeyId(A) });
    expect(canonicalRecord(keyed)).toContain(`"kid":"${chainKeyId(A)}"`);
    // A plain row hashes exactly the columns it was written with before key ids existed.
    expect(canonicalRecord(plain)).not.toContain('kid');
  });

  it('the app ring holds the current key and every retired one', () => {
    const ring = auditKeyRing('audit key B', ['audit key A']);
    expect([...ring.keys()].sort()).toEqual([chainKeyId(A), chainKeyId(B)].sort());
  });
});

describe('verifying across a rotation', () => {
  it('checks every row with the key it names when the ring holds both keys', () => {
    const { result, tallies } = verify(ROTATED, keyRing([B, A]));
    expect(result).toMatchObject({ ok: true, checked: 9 });
    expect(tallies).toEqual({
      [chainKeyId(A)]: { rows: 3, checked: 3 },
      [chainKeyId(B)]: { rows: 3, checked: 3 },
    });
  });

  it('reports the first row of a key missing from the ring as unknown-key, naming it', () => {
    const { result } = verify(ROTATED, keyRing([B]));
    expect(result.firstBroken).toMatchObject({ chain: 0, sequence: 4, reason: BreakReason.UnknownKey });
    expect(result.firstBroken?.detail).toContain(chainKeyId(A));
  });

  it('without any key counts keyed rows as unchecked, not as unknown', () => {
    const { result, unchecked } = verify(ROTATED, undefined);
    expect(result.ok).toBe(true);
    expect(unchecked).toBe(6);
  });

  it('finds a row whose key id was changed to another key of the ring', () => {
    const swapped = ROTATED.map((r) => (r.sequence === 5 ? { ...r, kid: chainKeyId(B) } : r));
    expect(verify(swapped, keyRing([A, B])).result.firstBroken).toMatchObject({
      sequence: 5,
      reason: BreakReason.HashMismatch,
    });
  });

  it('refuses a keyed row without a key id and a plain row with one, in files and in the table', () => {
    const keyed = ROTATED[3];
    const plain = ROTATED[0];
    if (!keyed || !plain) throw new Error('no rows');
    const { kid: _kid, ...unnamed } = keyed;
    const named = { ...plain, kid: chainKeyId(A) };
    for (const bad of [unnamed, named]) {
      expect(recordFromJsonLine(JSON.stringify(bad))).toMatchObject({ ok: false });
      const raw: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(toEntity(bad as AuditRecord))) {
        raw[k] =
          typeof v === 'string' && k !== 'partitionKey' && k !== 'rowKey' ? { value: v, type: 'String' } : v;
      }
      expect(fromEntity(raw)).toMatchObject({ ok: false });
    }
  });
});

describe('exports', () => {
  it('report per key id what they checked', async () => {
    const text = ROTATED.map((r) => JSON.stringify(r)).join('\n');
    const result = await verifyExport([text], { chainKeys: keyRing([B]) });
    expect(result.firstBroken).toMatchObject({ sequence: 4, reason: BreakReason.UnknownKey });
    expect(result.keyIds[chainKeyId(A)]).toEqual({ rows: 1, checked: 0 });
  });

  it('an export written before key ids (no kid column) still verifies', async () => {
    const plain = aChain([undefined, undefined]);
    const header = `${LEGACY_RECORD_FIELDS.join(',')}\r\n`;
    // Today's line without its (empty) kid cell is the line an earlier release wrote.
    const lines = plain.map((r) => toCsvLine(r).replace(/^1,,/, '1,'));
    expect(header).not.toBe(CSV_HEADER);
    expect(await verifyExport([header + lines.join('')])).toMatchObject({ ok: true, checked: 2 });
  });
});

describe('continuation tokens', () => {
  it('signed with a retired key are refused as invalid input (the caller starts the query again)', () => {
    const f = filtersFingerprint({});
    const token = encodeCursor({ v: 1, f, a: [], x: [] }, 'audit key A');
    let error: unknown;
    try {
      decodeCursor(token, 'audit key B', f);
    } catch (e) {
      error = e;
    }
    expect(isDomainError(error, 'INVALID_INPUT')).toBe(true);
  });
});

describe('audit:verify keys from the environment', () => {
  it('joins chain keys and audit keys into one ring, naming each by id and source', () => {
    const keys = chainKeysFromEnv({
      ZSA_AUDIT_CHAIN_KEYS: `${A.toString('hex')}, ${B.toString('hex')}`,
      ZSA_AUDIT_HMAC_KEY: 'audit key B',
      ZSA_AUDIT_HMAC_KEYS_RETIRED: 'audit key C',
    });
    if (typeof keys === 'string') throw new Error(keys);
    expect(keys.given).toEqual([
      { kid: chainKeyId(A), source: 'ZSA_AUDIT_CHAIN_KEYS[0]' },
      { kid: chainKeyId(B), source: 'ZSA_AUDIT_CHAIN_KEYS[1]' },
      {
        kid: chainKeyId(auditSubkey('audit key C', AuditKeyPurpose.chain)),
        source: 'ZSA_AUDIT_HMAC_KEYS_RETIRED[0]',
      },
    ]);
    expect(keys.ring.size).toBe(3);
  });

  it('refuses a chain key that is not 64 hex digits', () => {
    expect(chainKeysFromEnv({ ZSA_AUDIT_CHAIN_KEYS: `${A.toString('hex')},abc` })).toMatch(/64 hex digits/);
  });
});
