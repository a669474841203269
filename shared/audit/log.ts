/**
 * ZSA's audit log on Table Storage: append-only, hash-chained, queryable by time, verifiable,
 * exportable.
 *
 * Layout (table `<prefix>audit`): N chains (16 by default), each a linear hash chain. A row's
 * PartitionKey is `c<chain>-<block of 1000 sequences>` and its RowKey the zero-padded sequence, so
 * keys follow from (chain, sequence) alone and the conditional insert of the next sequence is
 * the whole concurrency control: a lost race is a 409, never a fork. Time ranges are served by a
 * search over each chain's blocks (a chain's rows are in time order, so a block's first row bounds
 * it), cached because written rows never change. Head hints (`<prefix>auditheads`) save a cold
 * instance from scanning a chain to find its end.
 *
 * Rows are sealed with an HMAC under a key derived from the audit key, so a writer of the table
 * without it cannot add rows that verify; chain heads are anchored to Blob storage at most a minute
 * (the timer calls `anchorIfMoved`) or ANCHOR_AFTER_ROWS rows (appends start an anchor) behind, so
 * nobody can rewrite more than that unseen. ADR 0009 explains both.
 */
import { randomUUID } from 'node:crypto';
import { odata, type TableClient } from '@azure/data-tables';
import { DomainError } from '#shared/domain/errors';
import { statusOf, unavailable, type Tables } from '#shared/adapters/tables';
import type { Blobs } from '#shared/adapters/blobs';
import { record } from '#shared/telemetry/metrics';
import { anchorLagSeconds, unanchoredChains } from './maintenance';
import type { AuditAction, AuditEventInput, AuditSink } from './types';
import { createArchive, type Anchor, type AnchorsRead, type DayExport } from './archive';
import { createChainPool, type ChainHead, type ChainSlot } from './chains';
import { cap, recordContent } from './content';
import { decodeCursor, encodeCursor, filtersFingerprint, type Cursor } from './cursor';
import { fromEntity, toEntity, type ReadRow } from './entity';
import { AuditKeyPurpose, auditKeyRing, auditSubkey, chainKeyOf } from './keys';
import {
  COLUMN_LIMITS,
  GENESIS_HASH,
  MAX_CHAINS,
  bucketKeyOf,
  bucketOf,
  chainEndOf,
  chainPrefixOf,
  normalizeInstant,
  partitionKeyOf,
  rowKeyOf,
  sealRecord,
  type AuditRecord,
} from './record';
import { createRedactor } from './redact';
import { BreakReason, createVerifier, type VerifyResult } from './verify';

export type { ChainHead } from './chains';
export type { Anchor, DayExport } from './archive';

export const DEFAULT_CHAINS = 16;
/** How often (in appends per chain) the head hint is refreshed. */
const HINT_EVERY = 64;
/** Conflicts tolerated before an append gives up (each one means another writer won a race). */
const MAX_APPEND_ATTEMPTS = 40;
const SCAN_PAGE = 1000;
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;
/** The most rows a chain may run past its last anchored head. */
export const ANCHOR_MAX_ROWS = 1000;
/**
 * An append that puts its chain this far past the head this instance last anchored starts an
 * anchor in the background. Below ANCHOR_MAX_ROWS because appends go on while the anchor is read and
 * written (about four round trips; one row per round trip per chain and writer).
 */
export const ANCHOR_AFTER_ROWS = 900;
/** After a failed background anchor, appends wait this long before starting another. */
const ANCHOR_RETRY_MS = 5000;
/** How far back {@link AuditLog.anchorLag} reads anchor lines (one day's blob, mostly). */
const ANCHOR_LAG_WINDOW_MS = 24 * 3600_000;

export interface AuditLogOptions {
  tables: Tables;
  /** Where anchors and day exports go; without it `anchor` and `exportDay` are unavailable. */
  blobs?: Blobs | undefined;
  now: () => Date;
  /**
   * The audit key: of the HMAC that replaces secret values, of continuation tokens' signatures, and
   * (derived) of the chain seal of every row written now.
   */
  hmacKey: string;
  /**
   * Audit keys used before the current one (ZSA_AUDIT_HMAC_KEYS_RETIRED): they seal, sign and digest
   * nothing any more, but verification checks the rows they sealed (each row names its key).
   */
  retiredHmacKeys?: readonly string[] | undefined;
  /** How many chains appends spread over. Raise it freely; never lower it (ranged reads look at these). */
  chains?: number;
  /** Table and container name under the prefix (default `audit`). */
  name?: string;
  /** Rows past the last anchored head that make an append start an anchor (tests lower it). */
  anchorAfterRows?: number;
}

export interface TimeRange {
  /** Inclusive. */
  from?: Date | undefined;
  /** Exclusive. */
  to?: Date | undefined;
}

export interface AuditQuery extends TimeRange {
  /** UPN (case-insensitive) or user id. */
  actor?: string | undefined;
  requestId?: string | undefined;
  task?: string | undefined;
  action?: AuditAction | undefined;
}

export interface AuditPage {
  /** In time order (then chain, then sequence). */
  items: AuditRecord[];
  /** Present while more items may follow; pass it back unchanged with the same filters. */
  continuationToken?: string;
}

export interface AuditLog extends AuditSink {
  /** One page of records matching `filters`, in time order. */
  query(filters: AuditQuery, continuationToken?: string, pageSize?: number): Promise<AuditPage>;
  /** Checks every chain over the range (the whole log when no range) against itself and the anchors. */
  verify(range?: TimeRange): Promise<VerifyResult>;
  /** The records of a range in canonical order (chain, then sequence), streamed page by page. */
  exportRows(range?: TimeRange): AsyncIterable<AuditRecord>;
  /** Writes every chain's current head to append-only Blob storage. */
  anchor(): Promise<Anchor>;
  /**
   * Anchors when a head moved since this instance last anchored (or it never has); otherwise does
   * nothing, so an idle log adds no anchor lines. What the minute timer runs.
   */
  anchorIfMoved(): Promise<Anchor | undefined>;
  /**
   * How long, in seconds, the oldest row waiting for an anchor has waited (0: every head anchored),
   * read from storage: what the minute timer gauges as `zsa.audit.anchor.lag`.
   */
  anchorLag(): Promise<number>;
  /** Resolves once no anchor started by appends is under way (tests; a clean stop). */
  settle(): Promise<void>;
  /** Exports one finished UTC day (`YYYY-MM-DD`) to Blob storage with its manifest; idempotent. */
  exportDay(day: string): Promise<DayExport>;
  /** Every chain's current head, read from storage. */
  heads(): Promise<ChainHead[]>;
  /** The chain heads recorded by the anchor lines written in the range (every line without one). */
  anchoredHeads(range?: TimeRange): Promise<AnchorsRead>;
}

/** A stored row that is not a record: the log has been tampered with; verification says where. */
function integrityError(row: Extract<ReadRow, { ok: false }>): DomainError {
  return new DomainError(
    'CONFLICT',
    `The audit row ${row.partitionKey}/${row.rowKey} is malformed (${row.problem}); run GET /api/audit/verify.`,
  );
}

function checkRange(range: TimeRange): void {
  if (range.from && range.to && range.from.getTime() >= range.to.getTime()) {
    throw new DomainError('INVALID_INPUT', 'Invalid query: from must be earlier than to.', {
      errors: [{ pointer: '#/from', detail: 'must be earlier than to' }],
    });
  }
}

interface HintEntity {
  sequence: bigint;
  hash: string;
  at: Date;
}

export function createAuditLog(options: AuditLogOptions): AuditLog {
  const chainCount = options.chains ?? DEFAULT_CHAINS;
  if (!Number.isInteger(chainCount) || chainCount < 1 || chainCount > MAX_CHAINS) {
    throw new Error(`The audit log needs between 1 and ${MAX_CHAINS} chains.`);
  }
  const name = options.name ?? 'audit';
  const redactor = createRedactor(options.hmacKey);
  const chainKey = chainKeyOf(auditSubkey(options.hmacKey, AuditKeyPurpose.chain));
  const chainKeys = auditKeyRing(options.hmacKey, options.retiredHmacKeys);
  const anchorAfterRows = options.anchorAfterRows ?? ANCHOR_AFTER_ROWS;
  const pool = createChainPool(chainCount);
  const table = () => options.tables.get(name);
  const hintsTable = () => options.tables.get(`${name}heads`);
  /** `chain:bucket` → the `at` of the block's first row; written rows never change. */
  const blockStart = new Map<string, string>();
  const chains = Array.from({ length: chainCount }, (_, c) => c);

  // ---- heads -------------------------------------------------------------------------------------

  async function readHint(chain: number): Promise<ChainHead | undefined> {
    const hints = await hintsTable();
    try {
      const e = await hints.getEntity<HintEntity>('head', rowKeyOf(chain));
      const at = e.at instanceof Date ? normalizeInstant(e.at.toISOString()) : undefined;
      const sequence = Number(e.sequence);
      if (at === undefined || !Number.isSafeInteger(sequence) || sequence < 1 || typeof e.hash !== 'string') {
        return undefined;
      }
      return { chain, sequence, hash: e.hash, at };
    } catch (e) {
      if (statusOf(e) === 404) return undefined;
      throw e;
    }
  }

  async function writeHint(head: ChainHead): Promise<void> {
    const hints = await hintsTable();
    await hints.upsertEntity(
      {
        partitionKey: 'head',
        rowKey: rowKeyOf(head.chain),
        sequence: { value: String(head.sequence), type: 'Int64' },
        hash: head.hash,
        at: { value: head.at, type: 'DateTime' },
      },
      'Replace',
    );
  }

  /**
   * The newest row of `chain` at or after `start` (a row known to exist), by scanning forward from
   * it; also tells whether the row at `watch.sequence` carries `watch.id` (our own earlier attempt).
   */
  async function tail(
    client: TableClient,
    chain: number,
    start: ChainHead | undefined,
    watch?: { sequence: number; id: string },
  ): Promise<{ head: ChainHead | undefined; ours: boolean }> {
    const filter = start
      ? odata`PartitionKey ge ${partitionKeyOf(chain, start.sequence)} and PartitionKey lt ${chainEndOf(chain)} and RowKey gt ${rowKeyOf(start.sequence)}`
      : odata`PartitionKey ge ${chainPrefixOf(chain)} and PartitionKey lt ${chainEndOf(chain)}`;
    let head = start;
    let ours = false;
    for await (const e of client.listEntities<{ hash?: unknown; at?: unknown; id?: unknown }>({
      queryOptions: { filter },
    })) {
      const sequence = Number(e.rowKey);
      const at = e.at instanceof Date ? e.at.toISOString() : undefined;
      if (!Number.isSafeInteger(sequence) || typeof e.hash !== 'string' || at === undefined) continue;
      if (watch && sequence === watch.sequence && e.id === watch.id) ours = true;
      if (!head || sequence > head.sequence) head = { chain, sequence, hash: e.hash, at };
    }
    return { head, ours };
  }

  async function currentHead(client: TableClient, chain: number): Promise<ChainHead | undefined> {
    const known = pool.slots[chain]?.head;
    const hint = await readHint(chain);
    const start = known && (!hint || known.sequence >= hint.sequence) ? known : hint;
    return (await tail(client, chain, start)).head;
  }

  // ---- append ------------------------------------------------------------------------------------

  async function appendOn(
    client: TableClient,
    slot: ChainSlot,
    content: ReturnType<typeof recordContent>,
  ): Promise<'stored' | 'conflict'> {
    if (!slot.fresh) {
      const hint = slot.head ? undefined : await readHint(slot.chain);
      slot.head = (await tail(client, slot.chain, slot.head ?? hint)).head;
      slot.fresh = true;
    }
    const head = slot.head;
    const now = options.now().toISOString();
    const record = sealRecord(
      content,
      {
        chain: slot.chain,
        sequence: (head?.sequence ?? 0) + 1,
        // The server's clock, but never before the previous row: a chain reads in time order even
        // when instances' clocks disagree by a little.
        at: head && head.at > now ? head.at : now,
        prevHash: head?.hash ?? GENESIS_HASH,
      },
      chainKey,
    );
    try {
      await client.createEntity(toEntity(record));
    } catch (e) {
      slot.fresh = false;
      if (statusOf(e) !== 409) throw e;
      // Someone holds this sequence: another writer, or our own first attempt that the SDK retried
      // after it had landed. Only the second is a success.
      const seen = await tail(client, slot.chain, slot.head, { sequence: record.sequence, id: content.id });
      slot.head = seen.head;
      slot.fresh = true;
      return seen.ours ? 'stored' : 'conflict';
    }
    slot.head = { chain: record.chain, sequence: record.sequence, hash: record.hash, at: record.at };
    slot.fresh = true;
    slot.sinceHint += 1;
    if (slot.sinceHint >= HINT_EVERY || record.sequence === 1) {
      slot.sinceHint = 0;
      try {
        await writeHint(slot.head);
      } catch {
        // A hint only shortens the scan for a chain's head; a missing one costs a longer scan
        // later, never a wrong append, so the stored event must not fail for it.
      }
    }
    return 'stored';
  }

  /** Appends one event, timed in `zsa.audit.append.duration` (by outcome). */
  async function append(event: AuditEventInput): Promise<{ id: string }> {
    const started = performance.now();
    try {
      const stored = await store(event);
      record.auditAppend(performance.now() - started, 'success');
      return stored;
    } catch (e) {
      record.auditAppend(performance.now() - started, 'failed');
      throw e;
    }
  }

  async function store(event: AuditEventInput): Promise<{ id: string }> {
    // A caller's id is kept as given (cut to the column like any text, never refused).
    const id = cap(event.id, COLUMN_LIMITS.id) ?? randomUUID();
    const content = recordContent(event, id, redactor);
    const client = await table();
    for (let attempt = 1; attempt <= MAX_APPEND_ATTEMPTS; attempt++) {
      const slot = await pool.acquire();
      try {
        const outcome = await guarded(() => appendOn(client, slot, content));
        if (outcome === 'stored') {
          if (slot.head) anchorIfBehind(slot.head);
          return { id };
        }
        pool.demote(slot.chain);
      } finally {
        pool.release(slot);
      }
    }
    throw new DomainError(
      'UNAVAILABLE',
      'The audit log is too busy to record this right now; try again shortly.',
    );
  }

  // ---- ranged reads ------------------------------------------------------------------------------

  /** The `at` of the first row of a block, or undefined when the block is empty. */
  async function firstAt(client: TableClient, chain: number, bucket: number): Promise<string | undefined> {
    const key = `${chain}:${bucket}`;
    const cached = blockStart.get(key);
    if (cached !== undefined) return cached;
    const pages = client
      .listEntities<{ at?: unknown }>({
        queryOptions: { filter: odata`PartitionKey eq ${bucketKeyOf(chain, bucket)}` },
      })
      .byPage({ maxPageSize: 1 });
    for await (const page of pages) {
      const at = page[0]?.at;
      if (at instanceof Date) {
        blockStart.set(key, at.toISOString());
        return at.toISOString();
      }
      if (page.length > 0) return undefined;
    }
    return undefined;
  }

  /**
   * The last block whose first row is before `instant` (rows in earlier blocks are all earlier),
   * searched between block 0 and the newest block this instance knows of; `open` when that is the
   * newest known block (newer ones may exist). An empty block below it (rows deleted under a
   * retention policy) counts as earlier.
   */
  async function lastBlockBefore(
    client: TableClient,
    chain: number,
    instant: string,
  ): Promise<{ block: number; open: boolean }> {
    const known = pool.slots[chain]?.head ?? (await readHint(chain));
    let hi = known ? bucketOf(known.sequence) : 0;
    const before = async (bucket: number) => {
      const at = await firstAt(client, chain, bucket);
      return at === undefined || at < instant;
    };
    if (await before(hi)) return { block: hi, open: true };
    let lo = 0;
    if (!(await before(lo))) return { block: 0, open: false };
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (await before(mid)) lo = mid;
      else hi = mid;
    }
    return { block: lo, open: false };
  }

  interface ChainScan {
    range: TimeRange;
    /** Resume after this sequence. */
    after?: number | undefined;
    /** An OData condition on content columns (rows not matching it are not returned). */
    where?: string | undefined;
    pageSize?: number;
  }

  /** A chain's rows from the block holding `range.from` (or `after`) on, in sequence order, unmapped. */
  async function* scanChain(client: TableClient, chain: number, scan: ChainScan): AsyncGenerator<ReadRow> {
    const from = scan.range.from?.toISOString();
    const to = scan.range.to?.toISOString();
    const firstBlock =
      scan.after !== undefined
        ? bucketOf(scan.after + 1)
        : from
          ? (await lastBlockBefore(client, chain, from)).block
          : 0;
    // With a content filter the service would scan on to the chain's end looking for matches, so
    // bound the blocks; without one, the first row past `to` ends the scan by itself.
    const end = scan.where && to ? await lastBlockBefore(client, chain, to) : undefined;
    const endBlock = end && !end.open ? end.block + 1 : undefined;
    const conditions = [
      odata`PartitionKey ge ${bucketKeyOf(chain, firstBlock)}`,
      endBlock === undefined
        ? odata`PartitionKey lt ${chainEndOf(chain)}`
        : odata`PartitionKey lt ${bucketKeyOf(chain, endBlock)}`,
    ];
    if (scan.after !== undefined) conditions.push(odata`RowKey gt ${rowKeyOf(scan.after)}`);
    if (scan.where) conditions.push(`(${scan.where})`);
    const pages = client
      .listEntities({ queryOptions: { filter: conditions.join(' and ') }, disableTypeConversion: true })
      .byPage({ maxPageSize: scan.pageSize ?? SCAN_PAGE });
    for await (const page of prefetched(pages)) for (const raw of page) yield fromEntity(raw);
  }

  /** Every row of the table in key order (chain, sequence), with one unfiltered scan. */
  async function* scanAll(client: TableClient): AsyncGenerator<ReadRow> {
    const pages = client.listEntities({ disableTypeConversion: true }).byPage({ maxPageSize: SCAN_PAGE });
    for await (const page of prefetched(pages)) for (const raw of page) yield fromEntity(raw);
  }

  /** Records of the range for one chain (or all, when unbounded), stopping at the first row past `to`. */
  async function* recordsIn(source: AsyncIterable<ReadRow>, range: TimeRange): AsyncGenerator<AuditRecord> {
    const from = range.from?.toISOString();
    const to = range.to?.toISOString();
    for await (const row of source) {
      if (!row.ok) throw integrityError(row);
      const { record } = row;
      // A chain's rows are in time order, so the first one at or past `to` ends this chain.
      if (to !== undefined && record.at >= to) return;
      if (from !== undefined && record.at < from) continue;
      yield record;
    }
  }

  async function* exportRows(range: TimeRange = {}): AsyncGenerator<AuditRecord> {
    checkRange(range);
    const client = await table();
    if (!range.from && !range.to) {
      yield* rethrowingStorage(recordsIn(scanAll(client), {}));
      return;
    }
    for (const chain of chains) {
      yield* rethrowingStorage(recordsIn(scanChain(client, chain, { range }), range));
    }
  }

  // ---- query -------------------------------------------------------------------------------------

  function whereOf(filters: AuditQuery): string | undefined {
    const parts: string[] = [];
    if (filters.actor) {
      parts.push(odata`(actorUpn eq ${filters.actor.toLowerCase()} or actorId eq ${filters.actor})`);
    }
    if (filters.requestId) parts.push(odata`requestId eq ${filters.requestId}`);
    if (filters.task) parts.push(odata`task eq ${filters.task}`);
    if (filters.action) parts.push(odata`action eq ${filters.action}`);
    return parts.length > 0 ? parts.join(' and ') : undefined;
  }

  async function query(
    filters: AuditQuery,
    token?: string,
    pageSize = DEFAULT_PAGE_SIZE,
  ): Promise<AuditPage> {
    checkRange(filters);
    const size = Number.isFinite(pageSize)
      ? Math.min(Math.max(Math.trunc(pageSize), 1), MAX_PAGE_SIZE)
      : DEFAULT_PAGE_SIZE;
    const fingerprint = filtersFingerprint({
      from: filters.from?.toISOString(),
      to: filters.to?.toISOString(),
      actor: filters.actor,
      requestId: filters.requestId,
      task: filters.task,
      action: filters.action,
    });
    const cursor: Cursor = token
      ? decodeCursor(token, options.hmacKey, fingerprint)
      : { v: 1, f: fingerprint, a: [], x: [] };
    const after = new Map(cursor.a);
    const exhausted = new Set(cursor.x);
    const where = whereOf(filters);
    const client = await table();

    interface Stream {
      chain: number;
      iterator: AsyncIterator<AuditRecord>;
      current: AuditRecord | undefined;
    }
    const streams: Stream[] = chains
      .filter((chain) => !exhausted.has(chain))
      .map((chain) => ({
        chain,
        iterator: recordsIn(
          scanChain(client, chain, { range: filters, after: after.get(chain), where, pageSize: size + 1 }),
          filters,
        )[Symbol.asyncIterator](),
        current: undefined,
      }));
    const advance = async (s: Stream) => {
      const next = await s.iterator.next();
      s.current = next.done ? undefined : next.value;
      if (next.done) exhausted.add(s.chain);
    };
    const items: AuditRecord[] = [];
    try {
      await guarded(() => Promise.all(streams.map(advance)));
      while (items.length < size) {
        let best: Stream | undefined;
        for (const s of streams) {
          if (s.current && (!best?.current || before(s.current, best.current))) best = s;
        }
        if (!best?.current) break;
        items.push(best.current);
        after.set(best.chain, best.current.sequence);
        const chosen = best;
        await guarded(() => advance(chosen));
      }
    } finally {
      await Promise.all(
        streams.map(async (s) => {
          await s.iterator.return?.();
        }),
      );
    }
    const more = streams.some((s) => s.current !== undefined);
    if (!more) return { items };
    const next: Cursor = { v: 1, f: fingerprint, a: [...after.entries()], x: [...exhausted] };
    return { items, continuationToken: encodeCursor(next, options.hmacKey) };
  }

  // ---- verify ------------------------------------------------------------------------------------

  const archive = createArchive({
    blobs: options.blobs,
    container: name,
    now: options.now,
    chains: chainCount,
    exportRows: (range) => exportRows(range),
    heads: () => heads(),
    onHeads: async (list) => {
      try {
        await Promise.all(list.map((head) => writeHint(head)));
      } catch {
        // Hints only shorten scans (see appendOn); the anchor itself has landed.
      }
    },
  });

  async function verify(range: TimeRange = {}): Promise<VerifyResult> {
    checkRange(range);
    const client = await table();
    const anchored = await archive.anchoredHeads(range.from, range.to);
    const verifier = createVerifier({
      from: range.from,
      to: range.to,
      anchors: anchored.heads,
      keyedAfter: anchored.keyedAfter,
      requireStart: range.from === undefined,
      checkOrder: false,
      checkKeys: true,
      chainCount,
      chainKeys,
    });
    await guarded(async () => {
      if (!range.from && !range.to) {
        for await (const row of scanAll(client)) verifier.push(row);
        return;
      }
      const to = range.to?.toISOString();
      for (const chain of chains) {
        for await (const row of scanChain(client, chain, { range })) {
          verifier.push(row);
          // Checked, then stop: a row past `to` ends the chain's part of the range (a forged time
          // on it fails its hash above).
          if (to !== undefined && row.ok && row.record.at >= to) break;
        }
      }
    });
    if (anchored.unreadable > 0) {
      verifier.report({
        chain: null,
        sequence: null,
        reason: BreakReason.AnchorMismatch,
        detail: `${anchored.unreadable} anchor line(s) cannot be read.`,
      });
    }
    return verifier.finish();
  }

  // ---- heads and anchors -------------------------------------------------------------------------

  async function heads(): Promise<ChainHead[]> {
    const client = await table();
    const found = await guarded(() => Promise.all(chains.map((chain) => currentHead(client, chain))));
    return found.filter((h): h is ChainHead => h !== undefined);
  }

  /**
   * Per chain, the sequence of the head this instance last anchored (0: an empty chain); empty
   * until it first anchors. Other instances' anchors are not seen, so an instance may anchor a
   * little more often than needed, never less: a duplicate line is harmless.
   */
  const anchoredSequence = new Map<number, number>();
  let background: Promise<void> | undefined;
  let again = false;
  let retryAt = 0;

  async function anchor(given?: ChainHead[]): Promise<Anchor> {
    const written = await archive.anchor(given);
    const bySequence = new Map(written.heads.map((h) => [h.chain, h.sequence]));
    for (const chain of chains) anchoredSequence.set(chain, bySequence.get(chain) ?? 0);
    return written;
  }

  async function anchorIfMoved(): Promise<Anchor | undefined> {
    const now = await heads();
    const moved =
      anchoredSequence.size < chainCount ||
      chains.some(
        (chain) => (now.find((h) => h.chain === chain)?.sequence ?? 0) !== anchoredSequence.get(chain),
      );
    return moved ? await anchor(now) : undefined;
  }

  /**
   * From storage, not from this instance's memory (a restart, or another instance failing, must
   * not hide it): the anchor lines of the last day against the heads, and for each chain behind,
   * the `at` of its first unanchored row. A chain no anchor line of the day names counts from its
   * first row of the day: anchoring stopped for a day or more reads as about a day, well past the
   * alert's 2 hours.
   */
  async function anchorLag(): Promise<number> {
    const now = options.now();
    const since = new Date(now.getTime() - ANCHOR_LAG_WINDOW_MS);
    const [current, anchored] = await Promise.all([heads(), archive.anchoredHeads(since, undefined)]);
    const client = await table();
    const waiting = await guarded(() =>
      Promise.all(
        unanchoredChains(current, anchored.heads).map(async ({ chain, after }) => {
          // After a known anchored row, the next row is the first waiting one (a page of one);
          // otherwise the block holding `since` is read up to its first row of the window.
          const scan = after === undefined ? { range: { from: since } } : { range: {}, after, pageSize: 1 };
          for await (const row of scanChain(client, chain, scan)) {
            if (row.ok && (after !== undefined || row.record.at >= since.toISOString())) return row.record.at;
          }
          return undefined;
        }),
      ),
    );
    return anchorLagSeconds(
      waiting.filter((at): at is string => at !== undefined),
      now,
    );
  }

  /** Called after each stored row: starts an anchor, without waiting for it, when the chain is far enough behind. */
  function anchorIfBehind(head: ChainHead): void {
    if (!options.blobs || head.sequence - (anchoredSequence.get(head.chain) ?? 0) < anchorAfterRows) return;
    if (background) {
      again = true;
      return;
    }
    if (options.now().getTime() < retryAt) return;
    background = (async () => {
      try {
        await anchor();
      } catch {
        // The append that asked has been stored; the minute timer anchors anyway. Appends wait a
        // little before trying again, so an unavailable archive is not asked at every append.
        retryAt = options.now().getTime() + ANCHOR_RETRY_MS;
      } finally {
        background = undefined;
      }
      if (again) {
        again = false;
        for (const slot of pool.slots) if (slot.head) anchorIfBehind(slot.head);
      }
    })();
  }

  async function settle(): Promise<void> {
    while (background) await background;
  }

  return {
    append,
    query,
    verify,
    exportRows,
    heads,
    anchor: () => anchor(),
    anchorIfMoved,
    anchorLag,
    settle,
    exportDay: (day) => archive.exportDay(day),
    anchoredHeads: (range = {}) => archive.anchoredHeads(range.from, range.to),
  };
}

function before(a: AuditRecord, b: AuditRecord): boolean {
  return (
    a.at < b.at || (a.at === b.at && (a.chain < b.chain || (a.chain === b.chain && a.sequence < b.sequence)))
  );
}

/**
 * Asks for the next page as soon as the current one is handed out, so the service prepares page
 * n+1 while page n is mapped and written: reads overlap with work instead of alternating with it.
 */
async function* prefetched<T>(pages: AsyncIterable<T>): AsyncGenerator<T> {
  const iterator = pages[Symbol.asyncIterator]();
  let next = iterator.next();
  try {
    for (;;) {
      const current = await next;
      if (current.done) return;
      next = iterator.next();
      yield current.value;
    }
  } finally {
    // Abandoned early (a query page is full): the fetch in flight is not wanted, nor its failure.
    next.catch(() => undefined);
  }
}

/** Storage failures become 503 problems; domain errors (integrity, contention) pass through. */
async function guarded<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    throw unavailable(e);
  }
}

async function* rethrowingStorage<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* source;
  } catch (e) {
    throw unavailable(e);
  }
}
