/**
 * Requests in Table Storage. Row ↔ domain mapping lives only here.
 *
 * Table `Requests`: PartitionKey = request id; RowKey `request` holds the request (its bounded lists
 * included: at most `requiredApprovals` + 1 approvals per round, the request's and each of at most
 * ten extensions', and at most `MAX_IN_FLIGHT` uses held by running executions; the JSON is cut
 * into column-sized pieces `Data`, `Data1`, … like the outbox) and is the compare-and-swap
 * point for every state change; RowKey `x:<time>:<executionId>` is one row per execution.
 * The request row also carries its audit outbox (`PendingAudit`, `PendingAudit1`, …: one JSON array
 * cut into column-sized pieces): the audit events of its transitions not yet appended to the audit
 * log, written by the same compare-and-swap as the transition (see ./audit-outbox.ts).
 * Table `RequestIndex` answers the queries that matter without scans:
 *   `requester:<upn>` / `group:<group>` → newest first (RowKey = inverted creation time + id);
 *   `live:<upn>` → the caller's approved grants (added on approval, removed when they end);
 *   `client:<upn>` / RowKey clientRequestId → the request id (idempotent submit);
 *   `open` / RowKey request id → every request not yet seen final by the reconciler, with when it
 *   is next due a look (`CheckAt`; functions/reconciler.ts);
 *   `review:open` / RowKey request id → every emergency use whose review is open (written with the
 *   request, removed when the review closes; the reminder timer reads it), and `review:closed` →
 *   the closed ones, newest first.
 * A new request's index rows are written before its row, so a failure in between never leaves a
 * request that no list shows: at worst an index entry whose request was never stored, which lists
 * skip and the reconciler removes.
 */
import type { TableClient } from '@azure/data-tables';
import { z } from 'zod';
import { AuditAction, AuditOutcome } from '#shared/audit/types';
import { Request, requestGroups, type ExecutionSummary } from '#shared/domain/request';
import { encodeKey } from '#shared/domain/names';
import { DomainError, parseOrThrow } from '#shared/domain/errors';
import {
  compareAndSwap,
  MAX_CAS_ATTEMPTS,
  readEntity,
  statusOf,
  unavailable,
  type Tables,
} from '#shared/adapters/tables';
import type { PendingAudit } from './audit-outbox';

const REQUEST_ROW = 'request';
const EXECUTION_PREFIX = 'x:';
const MAX_TIME = 9_999_999_999_999;

interface RequestRow {
  partitionKey: string;
  rowKey: string;
  Status: string;
  Requester: string;
  ApproverGroup: string;
  CreatedAt: string;
  ExpiresAt: string;
  Data: string;
  /** The audit outbox pieces (`PendingAudit`, `PendingAudit1`, …). */
  [outbox: `${typeof OUTBOX_COLUMN}${string}`]: string;
}

interface IndexRow {
  partitionKey: string;
  rowKey: string;
  RequestId: string;
  ExpiresAt?: string;
  /** On a `client:` claim: the claiming request's createdAt, which its list rows are keyed by. */
  CreatedAt?: string;
}

/** A request the reconciler still watches: written at submit, removed once it has seen the request final. */
interface OpenRow {
  partitionKey: string;
  rowKey: string;
  RequestId: string;
  /** When the reconciler next looks at it (ISO; compared as text, which orders ISO instants). */
  CheckAt: string;
  CreatedAt: string;
  RequesterId: string;
  /** Every group the request names, comma-separated (one before stages). */
  ApproverGroup: string;
}

/** The one `open` partition: it holds only requests not yet final (and, briefly, just finished ones). */
const OPEN_PARTITION = 'open';

const OUTBOX_COLUMN = 'PendingAudit';
/** A string property holds at most 32 Ki UTF-16 units; the outbox is cut into pieces below that. */
const OUTBOX_PIECE = 30_000;
/** Pieces read back at most (an entity holds at most 1 MiB). */
const MAX_OUTBOX_PIECES = 32;

const outboxColumn = (n: number) => (n === 0 ? OUTBOX_COLUMN : `${OUTBOX_COLUMN}${n}`);

const PendingAuditSchema = z.strictObject({
  id: z.string().min(1).max(64),
  recordedAt: z.iso.datetime(),
  claimedUntil: z.iso.datetime(),
  action: z.enum(AuditAction),
  actor: z.union([
    z.strictObject({
      kind: z.literal('user'),
      id: z.string(),
      upn: z.string(),
      roles: z.array(z.string()),
      tenantId: z.string().optional(),
    }),
    z.strictObject({ kind: z.literal('system'), id: z.literal('zsa'), upn: z.literal('zsa') }),
  ]),
  outcome: z.enum(AuditOutcome),
  requestId: z.string().optional(),
  task: z.string().optional(),
  reason: z.string().optional(),
  detail: z.record(z.string(), z.unknown()).optional(),
  origin: z
    .strictObject({
      correlationId: z.string().optional(),
      clientIp: z.string().optional(),
      userAgent: z.string().optional(),
      client: z.record(z.string(), z.unknown()).optional(),
    })
    .optional(),
}) satisfies z.ZodType<PendingAudit>;

/** Text cut into columns `<name>`, `<name>1`, … of at most `OUTBOX_PIECE` units, never splitting a surrogate pair. */
function pieces(column: (n: number) => string, text: string): Record<string, string> {
  const columns: Record<string, string> = {};
  for (let start = 0, n = 0; start < text.length; n++) {
    let end = Math.min(start + OUTBOX_PIECE, text.length);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end -= 1;
    columns[column(n)] = text.slice(start, end);
    start = end;
  }
  return columns;
}

/** The text `pieces` cut, joined again ('' when the column is absent). */
function joined(row: object, column: (n: number) => string): string {
  let text = '';
  for (let n = 0; n < MAX_OUTBOX_PIECES; n++) {
    const piece: unknown = Reflect.get(row, column(n));
    if (typeof piece !== 'string') break;
    text += piece;
  }
  return text;
}

/** The outbox as columns: absent when empty. */
function outboxColumns(events: readonly PendingAudit[]): Record<string, string> {
  return events.length === 0 ? {} : pieces(outboxColumn, JSON.stringify(events));
}

function outboxOf(row: object): PendingAudit[] {
  const text = joined(row, outboxColumn);
  if (text === '') return [];
  return parseOrThrow(z.array(PendingAuditSchema), JSON.parse(text), 'stored audit outbox');
}

/** The request's JSON columns: `Data`, then `Data1`, … when a request with many decisions outgrows one. */
const dataColumn = (n: number) => (n === 0 ? 'Data' : `Data${n}`);

function toRow(request: Request, outbox: readonly PendingAudit[]): RequestRow {
  return {
    partitionKey: request.id,
    rowKey: REQUEST_ROW,
    Status: request.status,
    Requester: request.requester,
    ApproverGroup: request.approverGroup ?? '',
    CreatedAt: request.createdAt,
    ExpiresAt: request.expiresAt ?? '',
    ...pieces(dataColumn, JSON.stringify(request)),
    ...outboxColumns(outbox),
  } as RequestRow;
}

/** Rows are validated on the way back in, like every other edge. */
function fromRow(row: object): Request {
  const text = joined(row, dataColumn);
  return parseOrThrow(Request, text === '' ? undefined : JSON.parse(text), 'stored request');
}

/** An execution's row in its request's partition, keyed by when it ran and its id. */
function executionRow(execution: StoredExecution) {
  return {
    partitionKey: execution.requestId,
    rowKey: `${EXECUTION_PREFIX}${execution.executedAt}:${execution.executionId}`,
    ExecutionId: execution.executionId,
    Task: execution.task,
    Status: execution.status,
    ExecutedAt: execution.executedAt,
  };
}

/** The request row with its ETag, as `readTagged` answers it. */
async function readTagged(table: TableClient, id: string): Promise<TaggedRequest | undefined> {
  const row = await readEntity<RequestRow>(table, id, REQUEST_ROW);
  return row?.etag === undefined
    ? undefined
    : { request: fromRow(row), audit: outboxOf(row), etag: row.etag };
}

function newestFirstKey(request: Pick<Request, 'createdAt' | 'id'>): string {
  const inverted = MAX_TIME - Date.parse(request.createdAt);
  return `${inverted.toString().padStart(13, '0')}:${request.id}`;
}

/** The request's entries in its requester's list and in the list of every group it names. */
function listRows(request: Request): IndexRow[] {
  const key = newestFirstKey(request);
  return [
    { partitionKey: indexKeys.requester(request.requesterId), rowKey: key, RequestId: request.id },
    ...requestGroups(request).map((g) => ({
      partitionKey: indexKeys.group(g),
      rowKey: key,
      RequestId: request.id,
    })),
  ];
}

/** Group names never hold a comma (letters, digits and `-_.@`), so the open row keeps them in one column. */
const joinGroups = (groups: readonly string[]) => groups.join(',');
const splitGroups = (column: string) => (column === '' ? [] : column.split(','));

/** Per-user partitions are keyed by the user's stable id (`tenant:object id`), never by UPN. */
export const indexKeys = {
  requester: (requesterId: string) => `requester:${encodeKey(requesterId)}`,
  group: (group: string) => `group:${encodeKey(group)}`,
  live: (requesterId: string) => `live:${encodeKey(requesterId)}`,
  client: (requesterId: string) => `client:${encodeKey(requesterId)}`,
  /** Emergency uses by the state of their review (`open`: RowKey = request id; `closed`: newest first). */
  review: (status: 'open' | 'closed') => `review:${status}`,
};

/** A request the reconciler watches, as its `open` index row says. */
export interface OpenEntry {
  id: string;
  checkAt: string;
  createdAt: string;
  requesterId: string;
  /** Every group the request names (its list entries are under each). */
  approverGroups: string[];
}

export interface StoredExecution extends ExecutionSummary {
  requestId: string;
}

/** The request row as read: the request, and its audit outbox (events not yet appended, oldest first). */
export interface StoredRequest {
  request: Request;
  audit: PendingAudit[];
}

/** The request row as read, with its ETag: a compare-and-swap may start from this read (`updateFrom`). */
export interface TaggedRequest extends StoredRequest {
  etag: string;
}

/** What a compare-and-swap's `apply` answers: the next request (with its transition's audit events), or only a result. */
export type RowChange<R> = { next: Request; result: R; audit?: readonly PendingAudit[] } | { result: R };

export interface RequestRepository {
  /** The request row (one point read), or undefined when there is no such request. */
  read(id: string): Promise<StoredRequest | undefined>;
  /** The request row with its ETag (one point read), or undefined when there is no such request. */
  readTagged(id: string): Promise<TaggedRequest | undefined>;
  /**
   * Stores a new request with its index rows, and `audit` in its outbox. With a clientRequestId,
   * the (user, clientRequestId) claim is taken first and atomically: a second submit gets
   * `{created: false, id, createdAt}` of the first (`createdAt`: the first attempt's, which its
   * list rows are keyed by, when the claim says). The index rows (the `open` one included, due for a look at
   * `checkAt`) go first and the row last, so a failure never leaves an unlisted request.
   */
  create(
    request: Request,
    audit?: readonly PendingAudit[],
    checkAt?: string,
  ): Promise<{ created: true } | { created: false; id: string; createdAt?: string | undefined }>;
  /** Removes a request that never started (its orchestration could not be started). */
  remove(request: Request): Promise<void>;
  /** The watched requests due for a look at `now` (at most `max`, in no particular order). */
  dueOpen(now: Date, max: number): Promise<OpenEntry[]>;
  /** Every request not yet seen final (at most `max`): what may still wait for a decision (the polling triggers). */
  openEntries(max: number): Promise<OpenEntry[]>;
  /** Looks at the request again at `checkAt`. */
  recheckOpen(id: string, checkAt: string): Promise<void>;
  /**
   * Stops watching a request (the reconciler saw it final). `neverStored`: its row was never
   * written, so its list entries point at nothing and go too.
   */
  closeOpen(entry: OpenEntry, neverStored: boolean): Promise<void>;
  /**
   * Compare-and-swap: `apply` sees the current request and returns the next one (with the audit
   * events of that transition, added to the outbox in the same write), or only a result for "no change".
   */
  update<R>(
    id: string,
    apply: (
      current: Request,
    ) => { next: Request; result: R; audit?: readonly PendingAudit[] } | { result: R },
  ): Promise<R>;
  /**
   * Claims, by compare-and-swap, the waiting events whose claim has run out at `now`, until
   * `until`: `mine` are the events this caller now holds, `waiting` all that wait.
   */
  claimAudit(
    id: string,
    now: Date,
    until: string,
  ): Promise<{ mine: PendingAudit[]; waiting: PendingAudit[] }>;
  /**
   * Removes the events with these ids from the outbox (appended to the audit log), and gives up the
   * claim on those in `release` (their append failed: the next touch may take them at once).
   */
  clearAudit(id: string, eventIds: readonly string[], release?: readonly string[]): Promise<void>;
  /** Maintains the live-grant index after a transition. */
  syncLiveIndex(request: Request): Promise<void>;
  /** Newest-first page of request ids under one index partition. */
  page(
    partition: string,
    pageSize: number,
    continuationToken?: string,
  ): Promise<{ ids: string[]; continuationToken?: string }>;
  /** Ids of the caller's live grants (approved, per the index). */
  liveIds(requesterId: string): Promise<string[]>;
  /** Ids of emergency uses whose review is open (at most `max`, in no particular order). */
  openReviews(max: number): Promise<string[]>;
  /**
   * Moves a closed review's entry from `review:open` to `review:closed` (idempotent: the closed
   * entry first, so a failure in between leaves it listed as open, where a retry finds it).
   */
  closeReview(request: Pick<Request, 'id' | 'createdAt'>): Promise<void>;
  /** The request a (user, clientRequestId) claim names, if that user has made the claim. */
  claimOf(
    requesterId: string,
    clientRequestId: string,
  ): Promise<{ id: string; createdAt?: string } | undefined>;
  /** Every request row (admins and auditors), newest first is not guaranteed. */
  scan(
    filter: string | undefined,
    pageSize: number,
    continuationToken?: string,
  ): Promise<{ requests: Request[]; continuationToken?: string }>;
  recordExecution(execution: StoredExecution): Promise<void>;
  executions(requestId: string): Promise<ExecutionSummary[]>;
  /**
   * Compare-and-swap like `update`, whose first attempt writes against `from` (the row as read
   * moments ago, with its ETag) instead of reading it again: one round trip when nobody wrote in
   * between; on a conflict it reads and applies again. With `execution`, that execution's row is
   * written by the same write, as one entity-group transaction (both rows are in the request's
   * partition): both land or neither. `row`: the request row as this call wrote it, with its new
   * ETag (absent when it wrote nothing to the request row), for a next `updateFrom`.
   */
  updateFrom<R>(
    from: TaggedRequest | undefined,
    id: string,
    apply: (current: Request) => RowChange<R>,
    execution?: StoredExecution,
  ): Promise<{ result: R; row?: TaggedRequest }>;
}

export function createRequestRepository(tables: Tables): RequestRepository {
  const requests = (): Promise<TableClient> => tables.get('Requests');
  const index = (): Promise<TableClient> => tables.get('RequestIndex');
  /** The request row: the request and its audit outbox. */
  const requestRow = async (id: string) => readEntity<RequestRow>(await requests(), id, REQUEST_ROW);

  async function upsertIndex(rows: IndexRow[]): Promise<void> {
    const t = await index();
    try {
      await Promise.all(rows.map((r) => t.upsertEntity(r, 'Replace')));
    } catch (e) {
      throw unavailable(e);
    }
  }

  /** The `open` partition's rows that `filter` selects, at most `max`. */
  async function openRows(filter: string, max: number): Promise<OpenEntry[]> {
    const t = await index();
    const out: OpenEntry[] = [];
    try {
      for await (const row of t.listEntities<OpenRow>({ queryOptions: { filter } })) {
        out.push({
          id: row.RequestId,
          checkAt: row.CheckAt,
          createdAt: row.CreatedAt,
          requesterId: row.RequesterId,
          approverGroups: splitGroups(row.ApproverGroup),
        });
        if (out.length >= max) break;
      }
    } catch (e) {
      throw unavailable(e);
    }
    return out;
  }

  async function claimOf(
    requesterId: string,
    clientRequestId: string,
  ): Promise<{ id: string; createdAt?: string } | undefined> {
    const row = await readEntity<IndexRow>(
      await index(),
      indexKeys.client(requesterId),
      encodeKey(clientRequestId),
    );
    return row && { id: row.RequestId, ...(row.CreatedAt === undefined ? {} : { createdAt: row.CreatedAt }) };
  }

  return {
    claimOf,
    async read(id) {
      const row = await requestRow(id);
      return row ? { request: fromRow(row), audit: outboxOf(row) } : undefined;
    },

    async readTagged(id) {
      return readTagged(await requests(), id);
    },

    async create(request, audit = [], checkAt = request.createdAt) {
      const idx = await index();
      if (request.clientRequestId !== null) {
        try {
          await idx.createEntity<IndexRow>({
            partitionKey: indexKeys.client(request.requesterId),
            rowKey: encodeKey(request.clientRequestId),
            RequestId: request.id,
            CreatedAt: request.createdAt,
          });
        } catch (e) {
          if (statusOf(e) !== 409) throw unavailable(e);
          const existing = await claimOf(request.requesterId, request.clientRequestId);
          if (existing) return { created: false, ...existing };
          throw unavailable(e);
        }
      }
      // Lists first, the row last: if the row cannot be written, the entries point at nothing
      // (lists skip them; the reconciler removes them), never the other way round.
      const open: OpenRow = {
        partitionKey: OPEN_PARTITION,
        rowKey: request.id,
        RequestId: request.id,
        CheckAt: checkAt,
        CreatedAt: request.createdAt,
        RequesterId: request.requesterId,
        ApproverGroup: joinGroups(requestGroups(request)),
      };
      await Promise.all([
        upsertIndex([
          ...listRows(request),
          // An emergency use is listed for review from the start: the reminder finds it even when
          // nobody has looked at it since.
          ...(request.review?.status === 'open'
            ? [{ partitionKey: indexKeys.review('open'), rowKey: request.id, RequestId: request.id }]
            : []),
        ]),
        idx.upsertEntity(open, 'Replace').catch((e: unknown) => {
          throw unavailable(e);
        }),
      ]);
      try {
        await (await requests()).createEntity(toRow(request, audit));
      } catch (e) {
        if (statusOf(e) === 409)
          throw new DomainError('CONFLICT', `A request with id ${request.id} already exists`);
        throw unavailable(e);
      }
      return { created: true };
    },

    async remove(request) {
      const idx = await index();
      const key = newestFirstKey(request);
      const deletions: [string, string][] = [
        [indexKeys.requester(request.requesterId), key],
        ...requestGroups(request).map((g) => [indexKeys.group(g), key] as [string, string]),
        ...(request.clientRequestId !== null
          ? [[indexKeys.client(request.requesterId), encodeKey(request.clientRequestId)] as [string, string]]
          : []),
        [OPEN_PARTITION, request.id],
        [indexKeys.review('open'), request.id],
      ];
      await Promise.all([
        ...deletions.map(([pk, rk]) => idx.deleteEntity(pk, rk).catch(() => undefined)),
        requests().then((t) => t.deleteEntity(request.id, REQUEST_ROW).catch(() => undefined)),
      ]);
    },

    async dueOpen(now, max) {
      // One partition holding only what is not yet seen final, filtered by the server: a run with
      // nothing due reads nothing but the (empty) answer.
      return openRows(`PartitionKey eq '${OPEN_PARTITION}' and CheckAt le '${now.toISOString()}'`, max);
    },

    async openEntries(max) {
      return openRows(`PartitionKey eq '${OPEN_PARTITION}'`, max);
    },

    async recheckOpen(id, checkAt) {
      const t = await index();
      try {
        await t.updateEntity({ partitionKey: OPEN_PARTITION, rowKey: id, CheckAt: checkAt }, 'Merge');
      } catch (e) {
        // Gone: another reconciler closed it meanwhile.
        if (statusOf(e) !== 404) throw unavailable(e);
      }
    },

    async closeOpen(entry, neverStored) {
      const t = await index();
      const key = newestFirstKey(entry);
      const rows: [string, string][] = neverStored
        ? [
            [indexKeys.requester(entry.requesterId), key],
            ...entry.approverGroups.map((g) => [indexKeys.group(g), key] as [string, string]),
          ]
        : [];
      // The open row last: while it stays, a later run finishes what this one could not.
      for (const [pk, rk] of [...rows, [OPEN_PARTITION, entry.id] as [string, string]]) {
        await t.deleteEntity(pk, rk).catch((e: unknown) => {
          if (statusOf(e) !== 404) throw unavailable(e);
        });
      }
    },

    async update(id, apply) {
      const table = await requests();
      return compareAndSwap<RequestRow, unknown>(table, id, REQUEST_ROW, (current) => {
        if (!current) throw new DomainError('NOT_FOUND', `No request with id ${id}`);
        const decision = apply(fromRow(current));
        if (!('next' in decision)) return { result: decision.result };
        // The row is replaced whole: carry the events still waiting, then this transition's.
        const waiting = outboxOf(current);
        const added = (decision.audit ?? []).filter((e) => !waiting.some((w) => w.id === e.id));
        return { entity: toRow(decision.next, [...waiting, ...added]), result: decision.result };
      }) as Promise<never>;
    },

    async claimAudit(id, now, until) {
      const table = await requests();
      type Claim = { mine: PendingAudit[]; waiting: PendingAudit[] };
      return compareAndSwap<RequestRow, Claim>(table, id, REQUEST_ROW, (current) => {
        if (!current) return { result: { mine: [], waiting: [] } };
        const waiting = outboxOf(current);
        const free = (e: PendingAudit) => Date.parse(e.claimedUntil) <= now.getTime();
        if (!waiting.some(free)) return { result: { mine: [], waiting } };
        const claimed = waiting.map((e) => (free(e) ? { ...e, claimedUntil: until } : e));
        const mine = claimed.filter((_e, i) => waiting[i] !== undefined && free(waiting[i]));
        return { entity: toRow(fromRow(current), claimed), result: { mine, waiting: claimed } };
      });
    },

    async clearAudit(id, eventIds, release = []) {
      const table = await requests();
      await compareAndSwap<RequestRow, undefined>(table, id, REQUEST_ROW, (current) => {
        if (!current) return { result: undefined };
        const waiting = outboxOf(current);
        const remaining = waiting
          .filter((e) => !eventIds.includes(e.id))
          .map((e) => (release.includes(e.id) ? { ...e, claimedUntil: e.recordedAt } : e));
        const changed =
          remaining.length !== waiting.length ||
          remaining.some((e, i) => e.claimedUntil !== waiting[i]?.claimedUntil);
        if (!changed) return { result: undefined };
        return { entity: toRow(fromRow(current), remaining), result: undefined };
      });
    },

    async syncLiveIndex(request) {
      const t = await index();
      try {
        if (request.status === 'approved' && request.expiresAt !== null) {
          await t.upsertEntity<IndexRow>(
            {
              partitionKey: indexKeys.live(request.requesterId),
              rowKey: request.id,
              RequestId: request.id,
              ExpiresAt: request.expiresAt,
            },
            'Replace',
          );
        } else {
          await t.deleteEntity(indexKeys.live(request.requesterId), request.id).catch((e: unknown) => {
            if (statusOf(e) !== 404) throw e;
          });
        }
      } catch (e) {
        throw unavailable(e);
      }
    },

    async page(partition, pageSize, continuationToken) {
      const t = await index();
      try {
        const pages = t
          .listEntities<IndexRow>({
            queryOptions: { filter: `PartitionKey eq '${partition.replace(/'/g, "''")}'` },
          })
          .byPage({ maxPageSize: pageSize, ...(continuationToken ? { continuationToken } : {}) });
        const page = await pages.next();
        if (page.done) return { ids: [] };
        return {
          ids: page.value.map((r) => r.RequestId),
          ...(page.value.continuationToken ? { continuationToken: page.value.continuationToken } : {}),
        };
      } catch (e) {
        throw unavailable(e);
      }
    },

    async liveIds(requesterId) {
      const t = await index();
      const ids: string[] = [];
      try {
        for await (const row of t.listEntities<IndexRow>({
          queryOptions: { filter: `PartitionKey eq '${indexKeys.live(requesterId).replace(/'/g, "''")}'` },
        })) {
          ids.push(row.RequestId);
        }
      } catch (e) {
        throw unavailable(e);
      }
      return ids;
    },

    async openReviews(max) {
      const t = await index();
      const ids: string[] = [];
      try {
        for await (const row of t.listEntities<IndexRow>({
          queryOptions: { filter: `PartitionKey eq '${indexKeys.review('open')}'`, select: ['RequestId'] },
        })) {
          ids.push(row.RequestId);
          if (ids.length >= max) break;
        }
      } catch (e) {
        throw unavailable(e);
      }
      return ids;
    },

    async closeReview(request) {
      await upsertIndex([
        { partitionKey: indexKeys.review('closed'), rowKey: newestFirstKey(request), RequestId: request.id },
      ]);
      const t = await index();
      await t.deleteEntity(indexKeys.review('open'), request.id).catch((e: unknown) => {
        if (statusOf(e) !== 404) throw unavailable(e);
      });
    },

    async scan(filter, pageSize, continuationToken) {
      const t = await requests();
      const where = [`RowKey eq '${REQUEST_ROW}'`, ...(filter ? [filter] : [])].join(' and ');
      try {
        const page = await t
          .listEntities<RequestRow>({ queryOptions: { filter: where } })
          .byPage({ maxPageSize: pageSize, ...(continuationToken ? { continuationToken } : {}) })
          .next();
        if (page.done) return { requests: [] };
        return {
          requests: page.value.map(fromRow),
          ...(page.value.continuationToken ? { continuationToken: page.value.continuationToken } : {}),
        };
      } catch (e) {
        throw unavailable(e);
      }
    },

    async recordExecution(execution) {
      const t = await requests();
      // One entity, keyed by the execution id: a plain upsert is atomic and idempotent (a retried
      // write replaces the same row), and costs one round trip on the execution's critical path.
      try {
        await t.upsertEntity(executionRow(execution), 'Replace');
      } catch (e) {
        throw unavailable(e);
      }
    },

    async updateFrom(from, id, apply, execution) {
      const table = await requests();
      let known = from?.request.id === id ? from : undefined;
      for (let attempt = 1; ; attempt++) {
        const current = known ?? (await readTagged(table, id));
        known = undefined;
        if (!current) throw new DomainError('NOT_FOUND', `No request with id ${id}`);
        const decision = apply(current.request);
        try {
          if (!('next' in decision)) {
            // Nothing changes in the request row; the execution's row is still written.
            if (execution) await table.upsertEntity(executionRow(execution), 'Replace');
            return { result: decision.result };
          }
          // The row is replaced whole: carry the events still waiting, then this transition's.
          const added = (decision.audit ?? []).filter((e) => !current.audit.some((w) => w.id === e.id));
          const audit = [...current.audit, ...added];
          const row = toRow(decision.next, audit);
          const etag = execution
            ? (
                await table.submitTransaction([
                  ['update', { ...row }, 'Replace', { etag: current.etag }],
                  ['upsert', executionRow(execution), 'Replace'],
                ])
              ).subResponses[0]?.etag
            : (await table.updateEntity(row, 'Replace', { etag: current.etag })).etag;
          const written = etag === undefined ? undefined : { request: decision.next, audit, etag };
          return { result: decision.result, ...(written ? { row: written } : {}) };
        } catch (e) {
          // 412: someone wrote the row since it was read (the transaction wrote nothing); read again.
          if (statusOf(e) === 412 && attempt < MAX_CAS_ATTEMPTS) {
            await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
            continue;
          }
          throw unavailable(e);
        }
      }
    },

    async executions(requestId) {
      const t = await requests();
      const out: ExecutionSummary[] = [];
      try {
        for await (const row of t.listEntities<{
          ExecutionId: string;
          Task: string;
          Status: string;
          ExecutedAt: string;
        }>({
          queryOptions: {
            filter: `PartitionKey eq '${requestId.replace(/'/g, "''")}' and RowKey ge '${EXECUTION_PREFIX}' and RowKey lt 'x;'`,
          },
        })) {
          out.push({
            executionId: row.ExecutionId,
            task: row.Task,
            status: row.Status === 'succeeded' ? 'succeeded' : 'failed',
            executedAt: row.ExecutedAt,
          });
        }
      } catch (e) {
        throw unavailable(e);
      }
      return out;
    },
  };
}
