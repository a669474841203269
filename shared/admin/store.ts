/**
 * How configuration entries with member lists are kept in Table Storage (docs/design.md §6: no
 * property holds an unbounded list, so a row per member).
 *
 * One partition per entry (PartitionKey = `encodeKey(name)`): a `head` row with the entry's own
 * fields, and one item row per member, keyed `i|<version>|<index>`. The head names the version
 * that is current and how many items it has. A write puts the new items under a fresh version and
 * then swaps the head with If-Match; readers only ever trust the items of the head's version. So:
 *
 * - a write is all or nothing: when the whole change (head + new items + old items) fits one
 *   entity-group transaction (≤ 100 operations) it is one; otherwise the new items are staged
 *   first and the head swap is the single commit point, so a crash mid-way leaves only rows no
 *   reader looks at;
 * - old and orphaned item rows are garbage: removed after the commit, best effort, and swept by
 *   the next write of the same partition. Sweeping what that write saw before its commit is safe:
 *   a writer stages its rows only after reading the head, so any writer whose rows were already
 *   there read an older head and its own swap can no longer succeed.
 *
 * The alternative, rewriting member rows in place, shows readers a half-replaced list after a
 * crash, and needs more than one transaction for groups of more than 99 members anyway.
 */
import { randomBytes } from 'node:crypto';
import { odata, type TableClient, type TableEntityResult, type TransactionAction } from '@azure/data-tables';
import { z } from 'zod';
import { statusOf, unavailable } from '#shared/adapters/tables';
import { DomainError } from '#shared/domain/errors';

/** The configuration's tables (`<prefix><name>`), one per concern. */
export const AdminTable = {
  config: 'config',
  approverGroups: 'approvergroups',
  tasks: 'tasks',
  roles: 'roles',
  roleGroups: 'rolegroups',
  policies: 'policies',
} as const;
export type AdminTable = (typeof AdminTable)[keyof typeof AdminTable];

/** The service's limit on operations in one entity-group transaction. */
export const MAX_BATCH = 100;
/** Bounded retries of a read that raced a writer, and of a write that lost to another writer. */
const MAX_READ_ATTEMPTS = 5;
export const MAX_WRITE_ATTEMPTS = 10;

const HEAD = 'head';
const ITEM = 'i|';

/** A stored entry as read: its own fields (still to be validated by the caller) and its members. */
export interface StoredEntry {
  readonly partitionKey: string;
  readonly data: unknown;
  readonly items: readonly string[];
  readonly etag: string;
  readonly version: string;
}

/** What one partition holds: the entry (if any) and the row keys of other versions, for sweeping. */
export interface PartitionState {
  readonly entry: StoredEntry | undefined;
  readonly strays: readonly string[];
}

type Row = TableEntityResult<Record<string, unknown>>;

const HeadRow = z.object({
  partitionKey: z.string(),
  rowKey: z.literal(HEAD),
  etag: z.string(),
  version: z.string(),
  count: z.number().int().min(0),
  data: z.string(),
});
const ItemRow = z.object({
  partitionKey: z.string(),
  rowKey: z.string().startsWith(ITEM),
  version: z.string(),
  value: z.string(),
});

/** A stored row that does not have the shape this module writes: a fault of the system, never of the caller. */
export function corruptRow(table: string, partitionKey: string, cause: unknown): Error {
  return new Error(`Corrupt row in table ${table}, partition ${JSON.stringify(partitionKey)}`, { cause });
}

function itemKey(version: string, index: number): string {
  return `${ITEM}${version}|${String(index).padStart(4, '0')}`;
}

function newVersion(): string {
  return randomBytes(8).toString('hex');
}

/** Builds the state of one partition from its rows, or undefined when a writer changed it mid-read. */
function assemble(
  table: TableClient,
  partitionKey: string,
  rows: readonly Row[],
): PartitionState | undefined {
  let head: z.output<typeof HeadRow> | undefined;
  const items: z.output<typeof ItemRow>[] = [];
  for (const row of rows) {
    const parsed = row.rowKey === HEAD ? HeadRow.safeParse(row) : ItemRow.safeParse(row);
    if (!parsed.success) throw corruptRow(table.tableName, partitionKey, parsed.error);
    if ('count' in parsed.data) head = parsed.data;
    else items.push(parsed.data);
  }
  const current = head === undefined ? [] : items.filter((i) => i.version === head.version);
  const strays = items.filter((i) => i.version !== head?.version).map((i) => i.rowKey);
  if (head === undefined) return { entry: undefined, strays };
  // Fewer items than the head announces: a writer swapped the head and removed these items
  // between our reading the head and the items. Read again.
  if (current.length !== head.count) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(head.data);
  } catch (e) {
    throw corruptRow(table.tableName, partitionKey, e);
  }
  current.sort((a, b) => (a.rowKey < b.rowKey ? -1 : a.rowKey > b.rowKey ? 1 : 0));
  return {
    entry: {
      partitionKey,
      data,
      items: current.map((i) => i.value),
      etag: head.etag,
      version: head.version,
    },
    strays,
  };
}

function partitionOf(table: TableClient, row: Row): string {
  if (row.partitionKey === undefined) throw corruptRow(table.tableName, '', 'a row without a PartitionKey');
  return row.partitionKey;
}

async function rowsOf(table: TableClient, filter?: string): Promise<Row[]> {
  const rows: Row[] = [];
  try {
    const query = filter === undefined ? {} : { queryOptions: { filter } };
    for await (const row of table.listEntities(query)) {
      rows.push(row);
    }
  } catch (e) {
    throw unavailable(e);
  }
  return rows;
}

/** Reads one partition: the entry it holds (undefined when there is none) and its stray rows. */
export async function readPartition(table: TableClient, partitionKey: string): Promise<PartitionState> {
  for (let attempt = 1; attempt <= MAX_READ_ATTEMPTS; attempt++) {
    const state = assemble(table, partitionKey, await rowsOf(table, odata`PartitionKey eq ${partitionKey}`));
    if (state) return state;
  }
  throw new DomainError('UNAVAILABLE', 'The configuration is changing too fast to be read; try again.');
}

export async function readEntry(table: TableClient, partitionKey: string): Promise<StoredEntry | undefined> {
  return (await readPartition(table, partitionKey)).entry;
}

/** Every entry of a table, in one scan (configuration tables are small). */
export async function listEntries(table: TableClient): Promise<StoredEntry[]> {
  const byPartition = new Map<string, Row[]>();
  for (const row of await rowsOf(table)) {
    const partitionKey = partitionOf(table, row);
    const rows = byPartition.get(partitionKey);
    if (rows) rows.push(row);
    else byPartition.set(partitionKey, [row]);
  }
  const entries: StoredEntry[] = [];
  for (const [partitionKey, rows] of byPartition) {
    // A partition caught mid-write is read again on its own.
    const state = assemble(table, partitionKey, rows) ?? (await readPartition(table, partitionKey));
    if (state.entry) entries.push(state.entry);
  }
  return entries;
}

/**
 * Partitions holding an item row with this exact value (e.g. the roles listing a task). Rows of
 * old versions match too: callers read the candidates and keep those whose current items match.
 */
export async function partitionsWithItem(table: TableClient, value: string): Promise<string[]> {
  const rows = await rowsOf(table, odata`value eq ${value}`);
  return [...new Set(rows.map((r) => partitionOf(table, r)))];
}

/**
 * Writes `data` and `items` as the entry of `partitionKey`, replacing `current` (which must be what
 * the caller read; undefined = the entry must not exist yet). Answers false when another writer
 * changed the entry since it was read: the caller reads again and decides again.
 */
export async function writeEntry(
  table: TableClient,
  partitionKey: string,
  current: PartitionState,
  data: object,
  items: readonly string[],
): Promise<boolean> {
  const version = newVersion();
  const head = { partitionKey, rowKey: HEAD, version, count: items.length, data: JSON.stringify(data) };
  const headAction: TransactionAction = current.entry
    ? ['update', head, 'Replace', { etag: current.entry.etag }]
    : ['create', head];
  const creates: TransactionAction[] = items.map((value, index) => [
    'create',
    { partitionKey, rowKey: itemKey(version, index), version, value },
  ]);
  const old = current.entry ? keysOf(current.entry) : [];

  if (1 + creates.length + old.length <= MAX_BATCH) {
    // The whole swap is one transaction: readers see the old entry or the new one, nothing between.
    const deletes: TransactionAction[] = old.map((rowKey) => ['delete', { partitionKey, rowKey }]);
    if (!(await submitOrLose(table, [headAction, ...creates, ...deletes]))) return false;
  } else {
    // Too big for one transaction: stage the items (invisible until the head names their
    // version), then commit by swapping the head.
    for (let i = 0; i < creates.length; i += MAX_BATCH) {
      if (!(await submitOrLose(table, creates.slice(i, i + MAX_BATCH)))) {
        await sweep(table, partitionKey, keysOf({ version, items }));
        return false;
      }
    }
    if (!(await submitOrLose(table, [headAction]))) {
      await sweep(table, partitionKey, keysOf({ version, items }));
      return false;
    }
    await sweep(table, partitionKey, old);
  }
  await sweep(table, partitionKey, current.strays);
  return true;
}

/** Removes the entry `current` names; false when another writer changed it since it was read. */
export async function deleteEntry(table: TableClient, current: StoredEntry): Promise<boolean> {
  // A lone delete, because the SDK's transaction API cannot make a delete conditional, and the
  // ETag is what makes "delete what I read" safe. Its items become strays, swept just after.
  try {
    await table.deleteEntity(current.partitionKey, HEAD, { etag: current.etag });
  } catch (e) {
    const status = statusOf(e);
    if (status === 404 || status === 412) return false;
    throw unavailable(e);
  }
  await sweep(table, current.partitionKey, keysOf(current));
  return true;
}

function keysOf(entry: { readonly version: string; readonly items: readonly unknown[] }): string[] {
  return entry.items.map((_, index) => itemKey(entry.version, index));
}

/**
 * Submits one transaction; false when it lost a race (412 changed since read, 409 already exists,
 * 404 gone). Any other failure is the storage's, a 503.
 */
export async function submitOrLose(table: TableClient, actions: TransactionAction[]): Promise<boolean> {
  if (actions.length === 0) return true;
  try {
    await table.submitTransaction(actions);
    return true;
  } catch (e) {
    const status = statusOf(e);
    if (status === 404 || status === 409 || status === 412) return false;
    throw unavailable(e);
  }
}

/**
 * Deletes rows nobody reads any more. Best effort on purpose: readers never look at these rows,
 * and the next write of the partition sweeps whatever is left; failing the caller after its change
 * was committed would report a change that did happen as one that did not.
 */
async function sweep(table: TableClient, partitionKey: string, rowKeys: readonly string[]): Promise<void> {
  for (let i = 0; i < rowKeys.length; i += MAX_BATCH) {
    const chunk = rowKeys.slice(i, i + MAX_BATCH);
    const batched = await submitOrLose(
      table,
      chunk.map((rowKey) => ['delete', { partitionKey, rowKey }]),
    ).catch(() => false);
    if (batched) continue;
    // One row already gone fails the whole transaction: fall back to one delete per row.
    await Promise.all(chunk.map((rowKey) => table.deleteEntity(partitionKey, rowKey).catch(() => undefined)));
  }
}

function contended(what: string): DomainError {
  return new DomainError(
    'CONFLICT',
    `${what} was being changed by someone else at the same time; read it again and retry.`,
  );
}

/**
 * Puts `data` and `items` as the entry of `partitionKey`, whatever it held: read, write
 * conditionally, and on losing a race read again, a bounded number of times. Answers the entry
 * it replaced (undefined when it is new).
 */
export async function putEntry(
  table: TableClient,
  partitionKey: string,
  data: object,
  items: readonly string[],
  what: string,
): Promise<StoredEntry | undefined> {
  for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
    const state = await readPartition(table, partitionKey);
    if (await writeEntry(table, partitionKey, state, data, items)) return state.entry;
  }
  throw contended(what);
}

/** Removes the entry of `partitionKey`; answers what it held, or undefined when there was none. */
export async function removeEntry(
  table: TableClient,
  partitionKey: string,
  what: string,
): Promise<StoredEntry | undefined> {
  for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
    const entry = await readEntry(table, partitionKey);
    if (entry === undefined) return undefined;
    if (await deleteEntry(table, entry)) return entry;
  }
  throw contended(what);
}

/** Runs `fn` over `items` with at most `limit` calls in flight: storage is shared, bursts are not free. */
export async function mapBounded<T, R>(
  items: readonly T[],
  fn: (item: T) => Promise<R>,
  limit = 8,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
