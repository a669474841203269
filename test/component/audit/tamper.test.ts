/**
 * Tamper trials against real Azurite: a thousand random modifications, deletions, insertions and
 * reorderings made directly in the audit table (as someone with write access to the storage account
 * would), each followed by GET-verify-equivalent `log.verify()`; every one must be reported, and the
 * restored log never. Then the same over an exported day file.
 */
import type { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromEntity, toEntity } from '#shared/audit/entity';
import { verifyExport, ManifestSchema } from '#shared/audit/export-file';
import { toJsonLine } from '#shared/audit/format';
import type { AuditLog } from '#shared/audit/log';
import { keyRing } from '#shared/audit/keys';
import { sealRecord, type AuditRecord } from '#shared/audit/record';
import { startComponentEnv, type ComponentEnv } from '../../support/component';
import { seeded } from '../../unit/audit/builders';
import { changeColumn, tamperLines } from '../../unit/audit/tamper';
import { CHAIN_KEY, anEvent, collect, testClock, testLog } from './support';
import { createBlobs } from '#shared/adapters/blobs';
import { settings } from '#shared/config';

/**
 * Four chains (more than one, so a row can be moved across chains) of four rows: a first, a last and
 * rows between them, which is every position a tamper can take. Each trial verifies the whole log
 * (a read per chain and its anchor), so its size is the cost of every one of the thousand trials;
 * more chains or longer ones would prove nothing more.
 */
const CHAINS = 4;
const EVENTS = 16;
const TRIALS = 1000;

type Raw = Record<string, unknown> & { partitionKey: string; rowKey: string };

let env: ComponentEnv;
let log: AuditLog;
let table: TableClient;
let name: string;
const clock = testClock('2030-03-01T08:00:00.000Z');
/** The untouched rows, by key. */
const original = new Map<string, Raw>();
/** The untouched rows of each chain, in sequence order (as records), parsed once for every trial. */
const byChain = new Map<number, { raw: Raw; record: AuditRecord }[]>();

const keyOf = (r: { partitionKey: string; rowKey: string }) => `${r.partitionKey}|${r.rowKey}`;

function writable(raw: Raw): Raw {
  const { etag: _e, timestamp: _t, ...rest } = raw;
  return rest;
}

beforeAll(async () => {
  env = await startComponentEnv();
  const made = testLog(clock, { chains: CHAINS });
  log = made.log;
  name = made.name;
  // Appends in parallel, so they spread over every chain.
  for (let i = 0; i < EVENTS; i += CHAINS) {
    await Promise.all(Array.from({ length: CHAINS }, (_, k) => log.append(anEvent(i + k))));
    clock.advance(1500);
  }
  await log.anchor();
  table = await made.tables.get(name);
  for await (const entity of table.listEntities({ disableTypeConversion: true })) {
    const raw = { ...entity, partitionKey: entity.partitionKey ?? '', rowKey: entity.rowKey ?? '' };
    original.set(keyOf(raw), writable(raw));
  }
  for (const raw of original.values()) {
    const row = fromEntity(raw);
    if (!row.ok) continue;
    byChain.set(row.record.chain, [...(byChain.get(row.record.chain) ?? []), { raw, record: row.record }]);
  }
  for (const rows of byChain.values()) rows.sort((a, b) => a.record.sequence - b.record.sequence);
}, 120_000);

afterAll(async () => {
  await env.close();
});

describe('the untouched log', () => {
  it('verifies, with every chain and its anchor', async () => {
    const result = await log.verify();
    expect(result).toEqual({ ok: true, checked: EVENTS, chains: CHAINS, anchors: CHAINS });
  });
});

/** The untouched rows of one chain, in sequence order (as records). */
function chainRows(chain: number): { raw: Raw; record: AuditRecord }[] {
  return byChain.get(chain) ?? [];
}

/** Entities as `toEntity` makes them, as a raw row (the shape the trials write). */
function rawOf(record: AuditRecord): Raw {
  return toEntity(record);
}

/** Re-seals records so each links to the one before it (an attacker recomputing hashes, key in hand). */
function reseal(records: AuditRecord[], prevHash: string): AuditRecord[] {
  let prev = prevHash;
  return records.map((r) => {
    const { v: _v, chain, sequence, at, prevHash: _p, hash: _h, ...content } = r;
    const sealed = sealRecord(content, { chain, sequence, at, prevHash: prev }, CHAIN_KEY);
    prev = sealed.hash;
    return sealed;
  });
}

interface Change {
  /** Rows to write (insert or replace). */
  put: Raw[];
  /** Keys to delete. */
  remove: string[];
  description: string;
}

const TableTamper = {
  ModifyColumn: 'modify-column',
  RetypeColumn: 'retype-column',
  AddColumn: 'add-column',
  DropColumn: 'drop-column',
  ModifyResealed: 'modify-resealed',
  Delete: 'delete',
  CutBack: 'cut-back',
  InsertShifted: 'insert-shifted',
  InsertForeignChain: 'insert-foreign-chain',
  InsertStray: 'insert-stray',
  SwapContents: 'swap-contents',
  SwapResealed: 'swap-resealed',
} as const;
type TableTamper = (typeof TableTamper)[keyof typeof TableTamper];

function planTamper(random: () => number, kind: TableTamper): Change {
  const chain = Math.floor(random() * CHAINS);
  const rows = chainRows(chain);
  const i = Math.floor(random() * rows.length);
  const target = rows[i];
  if (!target) throw new Error(`chain ${chain} is empty`);
  const { raw, record } = target;
  const replace = (next: Raw, description: string): Change => ({ put: [next], remove: [], description });
  switch (kind) {
    case TableTamper.ModifyColumn: {
      const changed = changeColumn(random, record);
      const entity = rawOf(changed);
      // Keep the row where it was: only its content changes.
      return replace(
        { ...entity, partitionKey: raw.partitionKey, rowKey: raw.rowKey },
        `column of ${keyOf(raw)} changed`,
      );
    }
    case TableTamper.RetypeColumn: {
      const column = random() < 0.5 ? 'chain' : 'sequence';
      return replace(
        { ...raw, [column]: String(record[column]) },
        `${column} of ${keyOf(raw)} stored as text`,
      );
    }
    case TableTamper.AddColumn:
      return replace({ ...raw, note: 'approved by phone' }, `column added to ${keyOf(raw)}`);
    case TableTamper.DropColumn: {
      const { correlationId: _c, actorUpn: _u, ...rest } = raw;
      return replace(rest, `column dropped from ${keyOf(raw)}`);
    }
    case TableTamper.ModifyResealed: {
      const tail = rows.slice(i).map((r) => r.record);
      const first = tail[0];
      if (!first) throw new Error('no tail');
      tail[0] = { ...first, outcome: first.outcome === 'success' ? 'refused' : 'success' };
      const sealed = reseal(tail, record.prevHash);
      return {
        put: sealed.map(rawOf),
        remove: [],
        description: `${keyOf(raw)} changed, chain resealed after it`,
      };
    }
    case TableTamper.Delete:
      return { put: [], remove: [keyOf(raw)], description: `${keyOf(raw)} deleted` };
    case TableTamper.CutBack: {
      const cut = rows.slice(Math.max(1, i));
      return {
        put: [],
        remove: cut.map((r) => keyOf(r.raw)),
        description: `chain ${chain} cut back to ${Math.max(1, i)}`,
      };
    }
    case TableTamper.InsertShifted: {
      const forged: AuditRecord = { ...record, id: 'forged', actorUpn: 'mallory@contoso.com' };
      const shifted = [forged, ...rows.slice(i).map((r) => r.record)].map((r, k) => ({
        ...r,
        sequence: record.sequence + k,
      }));
      const sealed = reseal(shifted, record.prevHash);
      return {
        put: sealed.map(rawOf),
        remove: [],
        description: `forged row inserted at ${keyOf(raw)}, chain shifted and resealed`,
      };
    }
    case TableTamper.InsertForeignChain: {
      const sealed = reseal(
        [{ ...record, chain: CHAINS + Math.floor(random() * 4), sequence: 1 }],
        '0'.repeat(64),
      );
      return { put: sealed.map(rawOf), remove: [], description: 'forged chain started' };
    }
    case TableTamper.InsertStray: {
      const stray =
        random() < 0.5
          ? { ...raw, partitionKey: `c0${chain}-00000009` }
          : { ...raw, rowKey: `${raw.rowKey}a` };
      return { put: [stray], remove: [], description: `copy of ${keyOf(raw)} stored at ${keyOf(stray)}` };
    }
    case TableTamper.SwapContents: {
      const other = rows[(i + 1 + Math.floor(random() * (rows.length - 1))) % rows.length];
      if (!other || other === target) throw new Error('chain too short');
      return {
        put: [
          { ...other.raw, partitionKey: raw.partitionKey, rowKey: raw.rowKey },
          { ...raw, partitionKey: other.raw.partitionKey, rowKey: other.raw.rowKey },
        ],
        remove: [],
        description: `contents of ${keyOf(raw)} and ${keyOf(other.raw)} swapped`,
      };
    }
    case TableTamper.SwapResealed: {
      const j = i + 1 < rows.length ? i + 1 : i - 1;
      const [a, b] = i < j ? [i, j] : [j, i];
      const tail = rows.slice(a).map((r) => r.record);
      const swapped = [tail[1], tail[0], ...tail.slice(2)].flatMap((r, k) =>
        r ? [{ ...r, sequence: (rows[a]?.record.sequence ?? 1) + k }] : [],
      );
      const sealed = reseal(swapped, rows[a]?.record.prevHash ?? '');
      return {
        put: sealed.map(rawOf),
        remove: [],
        description: `rows ${a + 1} and ${b + 1} of chain ${chain} reordered, resealed`,
      };
    }
  }
}

async function apply(change: Change): Promise<void> {
  for (const key of change.remove) {
    const [pk = '', rk = ''] = key.split('|');
    await table.deleteEntity(pk, rk);
  }
  for (const row of change.put) await table.upsertEntity(row, 'Replace');
}

async function restore(change: Change): Promise<void> {
  for (const key of new Set([...change.remove, ...change.put.map(keyOf)])) {
    const before = original.get(key);
    const [pk = '', rk = ''] = key.split('|');
    if (before) await table.upsertEntity(before, 'Replace');
    else await table.deleteEntity(pk, rk);
  }
}

describe('tampering directly in the table', () => {
  it(`is reported every time over ${TRIALS} random trials, and the restored log never`, async () => {
    // Prepare
    const random = seeded(42);
    const kinds = Object.values(TableTamper);
    const missed: string[] = [];
    const reasons = new Map<string, number>();
    const falseAlarms: string[] = [];

    for (let trial = 0; trial < TRIALS; trial++) {
      const kind = kinds[trial % kinds.length] ?? TableTamper.Delete;
      const change = planTamper(random, kind);

      // Act
      await apply(change);
      const result = await log.verify();
      await restore(change);

      // Assess (collected, reported together)
      if (result.ok) missed.push(`trial ${trial}: ${change.description}`);
      const reason = result.firstBroken?.reason ?? 'none';
      reasons.set(`${kind} → ${reason}`, (reasons.get(`${kind} → ${reason}`) ?? 0) + 1);
      if (trial % 100 === 99) {
        const clean = await log.verify();
        if (!clean.ok) falseAlarms.push(`after trial ${trial}: ${JSON.stringify(clean.firstBroken)}`);
      }
    }

    expect(missed).toEqual([]);
    expect(falseAlarms).toEqual([]);
    console.log(
      `Table tamper trials: ${TRIALS}, all detected. Kind → first reason:`,
      Object.fromEntries(reasons),
    );
  }, 240_000);
});

describe('tampering with an exported day file', () => {
  it('is reported every time over 1,000 random trials, and the real file never', async () => {
    // Prepare: the day's export, as the timer writes it to Blob storage.
    clock.set('2030-03-02T00:30:00.000Z');
    const exported = await log.exportDay('2030-03-01');
    const container = await createBlobs(settings()).container(name);
    const text = (await container.getBlobClient(exported.blob).downloadToBuffer()).toString('utf8');
    const manifest = ManifestSchema.parse(
      JSON.parse((await container.getBlobClient(exported.manifestBlob).downloadToBuffer()).toString('utf8')),
    );
    expect(manifest.rows).toBe(EVENTS);
    expect(await verifyExport([text], { manifest, chainKeys: keyRing([CHAIN_KEY]) })).toMatchObject({
      ok: true,
      checked: EVENTS,
    });
    const records = await collect(
      log.exportRows({ from: new Date(manifest.from), to: new Date(manifest.to) }),
    );
    expect(records.map(toJsonLine).join('')).toBe(text);

    // Act
    const random = seeded(99);
    const missed: string[] = [];
    for (let trial = 0; trial < 1000; trial++) {
      const { lines, description } = tamperLines(random, records, toJsonLine);
      const result = await verifyExport([lines.join('')], {
        manifest,
        ignoreDigest: true,
        chainKeys: keyRing([CHAIN_KEY]),
      });
      if (result.ok) missed.push(`trial ${trial}: ${description}`);
    }

    // Assess
    expect(missed).toEqual([]);
    // Pure computation, about 10 s here; several files share the machine's two cores.
  }, 120_000);
});
