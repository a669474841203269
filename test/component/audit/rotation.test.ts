/**
 * Rotating the audit key against real Azurite: rows written under key A, the key rotated to B with A
 * retired, and the whole log still verifies, in the app and offline; without A in the ring, its rows
 * are reported as sealed by an unknown key (named), never as changed; and a row sealed by a key the
 * deployment never had is reported too.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBlobs } from '#shared/adapters/blobs';
import { createTables } from '#shared/adapters/tables';
import { toEntity } from '#shared/audit/entity';
import { toJsonLine } from '#shared/audit/format';
import { AuditKeyPurpose, auditSubkey, chainKeyId } from '#shared/audit/keys';
import { createAuditLog, type AuditLog } from '#shared/audit/log';
import { sealRecord, type AuditRecord } from '#shared/audit/record';
import { BreakReason } from '#shared/audit/verify';
import { settings } from '#shared/config';
import { runAuditVerify } from '../../../infra/tools/audit-verify';
import { startComponentEnv, type ComponentEnv } from '../../support/component';
import { aContent } from '../../unit/audit/builders';
import { anEvent, collect, testClock } from './support';

const KEY_A = 'audit key before the rotation';
const KEY_B = 'audit key after the rotation';
const KID_A = chainKeyId(auditSubkey(KEY_A, AuditKeyPurpose.chain));
const KID_B = chainKeyId(auditSubkey(KEY_B, AuditKeyPurpose.chain));

let env: ComponentEnv;
let dir: string;
const clock = testClock('2030-05-01T08:00:00.000Z');
const name = `auditrot${Date.now().toString(36)}`;
let table: TableClient;

/** The app's log over one table, as configured with these keys (one chain: the rotation falls mid-chain). */
function logWith(hmacKey: string, retiredHmacKeys: string[] = []): AuditLog {
  const s = settings();
  return createAuditLog({
    tables: createTables(s),
    blobs: createBlobs(s),
    now: clock.now,
    hmacKey,
    retiredHmacKeys,
    name,
    chains: 1,
  });
}

beforeAll(async () => {
  env = await startComponentEnv();
  dir = await mkdtemp(join(tmpdir(), 'zsa-rotation-'));
  const before = logWith(KEY_A);
  for (let i = 0; i < 3; i++) await before.append(anEvent(i));
  await before.anchor();
  clock.advance(60_000);
  // The rotation: B is the audit key, A is retired.
  const after = logWith(KEY_B, [KEY_A]);
  for (let i = 3; i < 6; i++) await after.append(anEvent(i));
  table = await createTables(settings()).get(name);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await env.close();
});

describe('after rotating the audit key from A to B', () => {
  it('rows name the key that sealed them', async () => {
    const rows = await collect(logWith(KEY_B, [KEY_A]).exportRows());
    expect(rows.map((r) => r.kid)).toEqual([KID_A, KID_A, KID_A, KID_B, KID_B, KID_B]);
  });

  it('the whole log verifies with A retired', async () => {
    expect(await logWith(KEY_B, [KEY_A]).verify()).toMatchObject({ ok: true, checked: 6 });
  });

  it('without A in the ring, its first row is unknown-key, naming A', async () => {
    const result = await logWith(KEY_B).verify();
    expect(result.firstBroken).toMatchObject({ chain: 0, sequence: 1, reason: BreakReason.UnknownKey });
    expect(result.firstBroken?.detail).toContain(KID_A);
  });

  it('a row sealed with a key the deployment never had is reported, and not once it is gone', async () => {
    // Prepare: someone who can write the table appends a row keyed under a key of their own.
    const rows = await collect(logWith(KEY_B, [KEY_A]).exportRows());
    const last = rows.at(-1) as AuditRecord;
    const foreign = Buffer.alloc(32, 9);
    const forged = sealRecord(
      aContent(99, { id: 'forged', actorUpn: 'mallory@contoso.com' }),
      { chain: 0, sequence: last.sequence + 1, at: clock.now().toISOString(), prevHash: last.hash },
      foreign,
    );

    // Act
    await table.createEntity(toEntity(forged));
    const result = await logWith(KEY_B, [KEY_A]).verify();
    await table.deleteEntity(toEntity(forged).partitionKey, toEntity(forged).rowKey);

    // Assess
    expect(result.firstBroken).toMatchObject({ sequence: forged.sequence, reason: BreakReason.UnknownKey });
    expect(result.firstBroken?.detail).toContain(chainKeyId(foreign));
    expect(await logWith(KEY_B, [KEY_A]).verify()).toMatchObject({ ok: true });
  });

  it('npm run audit:verify checks the export with both keys, and says per key id what it checked', async () => {
    // Prepare: the export as downloaded, and the chain keys an operator derives for an auditor.
    const file = join(dir, 'all.jsonl');
    await writeFile(file, (await collect(logWith(KEY_B).exportRows())).map(toJsonLine).join(''));
    const hex = (key: string) => auditSubkey(key, AuditKeyPurpose.chain).toString('hex');
    const out: string[] = [];

    // Act
    const both = await runAuditVerify([file], (l) => out.push(l), {
      ZSA_AUDIT_CHAIN_KEYS: `${hex(KEY_B)},${hex(KEY_A)}`,
    });
    const currentOnly = await runAuditVerify([file], (l) => out.push(l), { ZSA_AUDIT_HMAC_KEY: KEY_B });

    // Assess
    expect(both).toBe(0);
    expect(JSON.parse(out[0] ?? '{}')).toMatchObject({
      ok: true,
      chainKeys: [{ kid: KID_B }, { kid: KID_A }],
      keyIds: { [KID_A]: { rows: 3, checked: 3 }, [KID_B]: { rows: 3, checked: 3 } },
    });
    expect(currentOnly).toBe(1);
    const partial = JSON.parse(out[1] ?? '{}') as { firstBroken: unknown; message: string };
    expect(partial.firstBroken).toMatchObject({ sequence: 1, reason: 'unknown-key' });
    expect(partial.message).toContain(KID_A);
  });
});
