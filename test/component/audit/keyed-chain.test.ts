/**
 * The keyed chain against real Azurite: someone who can write the audit table but does not hold the
 * audit key appends rows; verification must report each one. And a log written by an older release
 * (plain rows) goes on keyed and still verifies as a whole.
 */
import type { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromEntity, toEntity } from '#shared/audit/entity';
import type { AuditLog } from '#shared/audit/log';
import { RecordVersion, sealRecord, type AuditRecord } from '#shared/audit/record';
import { BreakReason } from '#shared/audit/verify';
import { startComponentEnv, type ComponentEnv } from '../../support/component';
import { aContent } from '../../unit/audit/builders';
import { anEvent, collect, seedChains, testClock, testLog } from './support';

let env: ComponentEnv;
const clock = testClock('2030-04-01T08:00:00.000Z');

beforeAll(async () => {
  env = await startComponentEnv();
});

afterAll(async () => {
  await env.close();
});

/** A row after `last`, as a table writer without the key makes it: plain, or keyed under a guessed key. */
function forgedAfter(last: AuditRecord, key?: Uint8Array): AuditRecord {
  return sealRecord(
    aContent(7, { id: 'forged', actorUpn: 'mallory@contoso.com' }),
    {
      chain: last.chain,
      sequence: last.sequence + 1,
      at: new Date(Date.parse(last.at) + 1).toISOString(),
      prevHash: last.hash,
    },
    key,
  );
}

async function newestOf(table: TableClient, chain: number): Promise<AuditRecord> {
  let newest: AuditRecord | undefined;
  for await (const raw of table.listEntities({ disableTypeConversion: true })) {
    const row = fromEntity(raw);
    if (row.ok && row.record.chain === chain && (!newest || row.record.sequence > newest.sequence)) {
      newest = row.record;
    }
  }
  if (!newest) throw new Error(`chain ${chain} is empty`);
  return newest;
}

describe('a table writer without the audit key', () => {
  let log: AuditLog;
  let table: TableClient;

  beforeAll(async () => {
    const made = testLog(clock, { chains: 1 });
    log = made.log;
    for (let i = 0; i < 6; i++) await log.append(anEvent(i));
    table = await made.tables.get(made.name);
  });

  it.each<[string, Uint8Array | undefined, BreakReason]>([
    ['a plain row (the only kind it can compute)', undefined, BreakReason.Downgrade],
    ['a row keyed under a key of its own', Buffer.alloc(32, 7), BreakReason.UnknownKey],
  ])('appends %s: verification reports it, and not once it is gone', async (_name, key, reason) => {
    // Prepare
    const intact = await log.verify();
    const head = await newestOf(table, 0);
    const forged = forgedAfter(head, key);

    // Act
    await table.createEntity(toEntity(forged));
    const result = await log.verify();
    await table.deleteEntity(toEntity(forged).partitionKey, toEntity(forged).rowKey);

    // Assess
    expect(intact.ok).toBe(true);
    expect(result.ok).toBe(false);
    expect(result.firstBroken).toMatchObject({ chain: 0, sequence: forged.sequence, reason });
    expect(await log.verify()).toMatchObject({ ok: true });
  });
});

describe('a log written by an older release (plain rows)', () => {
  let log: AuditLog;
  let table: TableClient;
  /** One instance's sequential appends all go to its first chain: that one turns keyed, the other stays plain. */
  let keyedChain = 0;
  let plainChain = 1;

  beforeAll(async () => {
    const made = testLog(clock, { chains: 2 });
    log = made.log;
    table = await made.tables.get(made.name);
    // Rows as the release before keyed chains wrote them, on both chains, an hour before now.
    await seedChains(table, { chains: 2, perChain: 5, start: new Date(clock.now().getTime() - 3_600_000) });
  });

  it('goes on keyed, and the mixed chain verifies', async () => {
    // Act
    for (let i = 0; i < 4; i++) await log.append(anEvent(i));

    // Assess
    const rows = await collect(log.exportRows());
    keyedChain = rows.find((r) => r.v === RecordVersion.Keyed)?.chain ?? 0;
    plainChain = 1 - keyedChain;
    const versions = rows.filter((r) => r.chain === keyedChain).map((r) => r.v);
    expect(versions.slice(0, 5)).toEqual(Array(5).fill(RecordVersion.Plain));
    expect(versions.slice(5).length).toBeGreaterThan(0);
    expect(versions.slice(5).every((v) => v === RecordVersion.Keyed)).toBe(true);
    expect(await log.verify()).toMatchObject({ ok: true, checked: rows.length });
  });

  it('never goes back: a plain row after a keyed one is a downgrade', async () => {
    const forged = forgedAfter(await newestOf(table, keyedChain));
    await table.createEntity(toEntity(forged));
    const result = await log.verify();
    await table.deleteEntity(toEntity(forged).partitionKey, toEntity(forged).rowKey);
    expect(result.firstBroken).toMatchObject({ sequence: forged.sequence, reason: BreakReason.Downgrade });
  });

  it('a chain still plain is declared keyed by the next anchor, so a plain row appended to it is reported', async () => {
    // Prepare: the chain of old rows only.
    const chain = plainChain;
    expect(
      (await collect(log.exportRows())).filter((r) => r.chain === chain && r.v === RecordVersion.Keyed),
    ).toEqual([]);
    const before = forgedAfter(await newestOf(table, chain));
    await table.createEntity(toEntity(before));
    const beforeAnchor = await log.verify();
    await table.deleteEntity(toEntity(before).partitionKey, toEntity(before).rowKey);

    // Act
    await log.anchor();
    const forged = forgedAfter(await newestOf(table, chain));
    await table.createEntity(toEntity(forged));
    const afterAnchor = await log.verify();
    await table.deleteEntity(toEntity(forged).partitionKey, toEntity(forged).rowKey);

    // Assess: before any anchor, a plain chain can be extended unseen (what the declaration closes).
    expect(beforeAnchor.ok).toBe(true);
    expect(afterAnchor.firstBroken).toMatchObject({
      chain,
      sequence: forged.sequence,
      reason: BreakReason.Downgrade,
    });
    expect(await log.verify()).toMatchObject({ ok: true });
  });
});
