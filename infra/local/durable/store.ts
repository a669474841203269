/**
 * Table Storage persistence for the local Durable engine.
 *
 * Everything about one instance lives in ONE partition (PartitionKey = instance id): its state row,
 * its history rows, its pending messages (inbox) and its pending activity work items. That lets an
 * episode commit as a single entity-group transaction — state, new history, consumed message and new
 * work together — so killing the host at any moment leaves either the old episode or the new one,
 * never half of each. See docs/decisions/0002-local-durable-storage.md.
 */
import { TableClient, type TableEntity, type TransactionAction } from '@azure/data-tables';
import type { HistoryEvent, RuntimeStatus } from './history';

export const ROW_STATE = 'i';
const HISTORY_PREFIX = 'h:';
const MESSAGE_PREFIX = 'm:';
const WORK_PREFIX = 'w:';
/** Azure Table strings hold 32K UTF-16 chars; stay below and split longer JSON across columns. */
const CHUNK = 30_000;
const MAX_BATCH = 100;

export type Message =
  | { kind: 'start'; id: string; seq: number; executionId: string }
  | { kind: 'event'; id: string; seq: number; name: string; input: string | null }
  | {
      kind: 'result';
      id: string;
      seq: number;
      executionId: string;
      taskId: number;
      ok: boolean;
      result?: string;
      reason?: string;
      details?: string;
    }
  | { kind: 'timer'; id: string; seq: number; executionId: string; timerId: number; fireAt: string }
  | { kind: 'terminate'; id: string; seq: number; reason: string }
  | { kind: 'suspend' | 'resume'; id: string; seq: number; reason: string };

export interface WorkItem {
  id: string;
  executionId: string;
  taskId: number;
  functionName: string;
  /** JSON text of the activity input, or undefined when the orchestrator passed none. */
  input?: string;
}

export interface RetryInfo {
  functionName: string;
  input?: string;
  firstRetryIntervalInMilliseconds: number;
  maxNumberOfAttempts: number;
  backoffCoefficient: number;
  maxRetryIntervalInMilliseconds?: number;
  attempt: number;
  /** The task id of the attempt currently running, or of the retry timer being waited on. */
  currentId: number;
  waitingOnTimer: boolean;
}

/**
 * A timer longer than the storage provider's maximum, run as a chain of sub-timers the way the
 * extension runs it: each sub-timer takes the next id when the previous one fires.
 */
export interface LongTimer {
  /** When the orchestrator's timer is due. */
  fireAt: string;
  /** The id of the sub-timer now armed. */
  currentId: number;
  /** Cancelled by the orchestrator: the armed sub-timer still fires, but no further one is made. */
  canceled: boolean;
}

export interface InstanceState {
  instanceId: string;
  name: string;
  executionId: string;
  input: string;
  output: string | null;
  customStatus: string | null;
  status: RuntimeStatus;
  createdTime: string;
  lastUpdatedTime: string;
  completedTime: string | null;
  history: HistoryEvent[];
  /** Next sequence number to hand out (the SDK numbers tasks the same way). */
  nextId: number;
  /** `kind:name` of each statically scheduled id, in order, for the non-determinism check. */
  staticSigs: string[];
  /** The id each static action took, by static index (absent in older states). */
  staticIds?: number[];
  /** Retry bookkeeping keyed by the id of the original CallActivityWithRetry action. */
  retries: Record<string, RetryInfo>;
  /** The id each static action took if it is a timer (-1 otherwise), by static index: a cancel names it. */
  userTimers: number[];
  /** Timers over the extension's maximum, keyed by the id of the orchestrator's timer (absent in older states). */
  longTimers?: Record<string, LongTimer>;
  etag?: string;
}

export type Op =
  | { type: 'putState'; state: InstanceState }
  | { type: 'addHistory'; executionId: string; index: number; event: HistoryEvent }
  | { type: 'deleteHistory'; executionId: string; index: number }
  | { type: 'addMessage'; message: Message; visibleAt?: string }
  | { type: 'deleteMessage'; id: string }
  | { type: 'addWork'; work: WorkItem }
  | { type: 'deleteWork'; id: string };

/**
 * History rows are keyed by execution, so a continue-as-new writes its fresh history beside the old
 * one and deletes the old rows only after the new state is stored (a crash in between leaves rows
 * that loading ignores, never a truncated history).
 */
function historyKey(executionId: string, index: number): string {
  return `${HISTORY_PREFIX}${executionId}:${index.toString(16).toUpperCase().padStart(16, '0')}`;
}

function splitJson(value: unknown): Record<string, string> {
  const text = JSON.stringify(value);
  const out: Record<string, string> = {};
  for (let i = 0, n = 0; i < text.length || n === 0; i += CHUNK, n++)
    out[`Data${n}`] = text.slice(i, i + CHUNK);
  return out;
}

function joinJson(entity: Record<string, unknown>): unknown {
  let text = '';
  for (let n = 0; typeof entity[`Data${n}`] === 'string'; n++) text += entity[`Data${n}`] as string;
  return JSON.parse(text) as unknown;
}

export interface LoadedInstance {
  state: InstanceState;
  messages: { message: Message; visibleAt?: string }[];
  work: WorkItem[];
}

export class DurableStore {
  constructor(readonly table: TableClient) {}

  static async open(connectionString: string, tableName: string): Promise<DurableStore> {
    const table = TableClient.fromConnectionString(connectionString, tableName, {
      allowInsecureConnection: true,
    });
    await table.createTable();
    return new DurableStore(table);
  }

  private toEntity(instanceId: string, op: Op): TransactionAction {
    switch (op.type) {
      case 'putState': {
        const { history: _h, etag: _e, ...rest } = op.state;
        const entity: TableEntity = {
          partitionKey: instanceId,
          rowKey: ROW_STATE,
          Name: rest.name,
          RuntimeStatus: rest.status,
          CreatedTime: rest.createdTime,
          LastUpdatedTime: rest.lastUpdatedTime,
          ...splitJson(rest),
        };
        return ['upsert', entity, 'Replace'];
      }
      case 'addHistory':
        return [
          'upsert',
          { partitionKey: instanceId, rowKey: historyKey(op.executionId, op.index), ...splitJson(op.event) },
          'Replace',
        ];
      case 'deleteHistory':
        return ['delete', { partitionKey: instanceId, rowKey: historyKey(op.executionId, op.index) }];
      case 'addMessage':
        return [
          'upsert',
          {
            partitionKey: instanceId,
            rowKey: MESSAGE_PREFIX + op.message.id,
            VisibleAt: op.visibleAt ?? '',
            ...splitJson(op.message),
          },
          'Replace',
        ];
      case 'deleteMessage':
        return ['delete', { partitionKey: instanceId, rowKey: MESSAGE_PREFIX + op.id }];
      case 'addWork':
        return [
          'upsert',
          { partitionKey: instanceId, rowKey: WORK_PREFIX + op.work.id, ...splitJson(op.work) },
          'Replace',
        ];
      case 'deleteWork':
        return ['delete', { partitionKey: instanceId, rowKey: WORK_PREFIX + op.id }];
    }
  }

  /**
   * Commits ops for one instance atomically (one transaction) when they fit in one batch. A larger
   * episode (a fan-out over ~90 activities) writes its additions first, then the state row together
   * with the deletions (the consumed message first among them), then any remaining deletions: a crash
   * before the state row leaves only rows nothing refers to yet and the old state, so the episode is
   * replayed; a crash after it leaves only stale rows that redelivery recognises and drops.
   */
  async commit(instanceId: string, ops: Op[]): Promise<void> {
    if (ops.length === 0) return;
    if (ops.length <= MAX_BATCH) {
      await this.table.submitTransaction(ops.map((op) => this.toEntity(instanceId, op)));
      return;
    }
    const deletes = ops.filter((o) => o.type.startsWith('delete'));
    const state = ops.filter((o) => o.type === 'putState');
    const adds = ops.filter((o) => !o.type.startsWith('delete') && o.type !== 'putState');
    for (let i = 0; i < adds.length; i += MAX_BATCH) {
      await this.table.submitTransaction(
        adds.slice(i, i + MAX_BATCH).map((op) => this.toEntity(instanceId, op)),
      );
    }
    const withState = [...state, ...deletes.slice(0, MAX_BATCH - state.length)];
    await this.table.submitTransaction(withState.map((op) => this.toEntity(instanceId, op)));
    const rest = deletes.slice(MAX_BATCH - state.length);
    for (let i = 0; i < rest.length; i += MAX_BATCH) {
      await this.table.submitTransaction(
        rest.slice(i, i + MAX_BATCH).map((op) => this.toEntity(instanceId, op)),
      );
    }
  }

  /** Adds one message to an instance's inbox; idempotent for a given message id. */
  async addMessage(instanceId: string, message: Message, visibleAt?: string): Promise<void> {
    await this.commit(instanceId, [{ type: 'addMessage', message, ...(visibleAt ? { visibleAt } : {}) }]);
  }

  async loadInstance(instanceId: string): Promise<LoadedInstance | undefined> {
    let state: InstanceState | undefined;
    const histories: { rowKey: string; event: HistoryEvent }[] = [];
    const messages: { message: Message; visibleAt?: string }[] = [];
    const work: WorkItem[] = [];
    const rows = this.table.listEntities({
      queryOptions: { filter: `PartitionKey eq '${instanceId.replace(/'/g, "''")}'` },
    });
    for await (const row of rows) {
      const rk = row.rowKey ?? '';
      if (rk === ROW_STATE) {
        state = { ...(joinJson(row) as InstanceState), history: [], etag: row.etag };
      } else if (rk.startsWith(HISTORY_PREFIX)) {
        histories.push({ rowKey: rk, event: joinJson(row) as HistoryEvent });
      } else if (rk.startsWith(MESSAGE_PREFIX)) {
        const visibleAt =
          typeof row.VisibleAt === 'string' && row.VisibleAt !== '' ? row.VisibleAt : undefined;
        messages.push({ message: joinJson(row) as Message, ...(visibleAt ? { visibleAt } : {}) });
      } else if (rk.startsWith(WORK_PREFIX)) {
        work.push(joinJson(row) as WorkItem);
      }
    }
    if (!state) return undefined;
    // Rows come back in key order; only the current execution's count (older ones await deletion).
    const current = `${HISTORY_PREFIX}${state.executionId}:`;
    state.history = histories.filter((h) => h.rowKey.startsWith(current)).map((h) => h.event);
    messages.sort((a, b) => a.message.seq - b.message.seq);
    return { state, messages, work };
  }

  /** Every instance id that has pending messages or work (for recovery after a restart). */
  async pendingInstanceIds(): Promise<string[]> {
    const ids = new Set<string>();
    const rows = this.table.listEntities({
      queryOptions: { filter: `RowKey ge 'm:' and RowKey lt 'x'`, select: ['PartitionKey'] },
    });
    for await (const row of rows) if (row.partitionKey) ids.add(row.partitionKey);
    return [...ids];
  }

  /** Instance state rows, one page at a time. */
  async listStates(
    filter: string,
    pageSize: number,
    continuationToken?: string,
  ): Promise<{ states: InstanceState[]; continuationToken?: string }> {
    const pages = this.table
      .listEntities({ queryOptions: { filter } })
      .byPage({ maxPageSize: pageSize, ...(continuationToken ? { continuationToken } : {}) });
    const page = await pages.next();
    if (page.done) return { states: [] };
    const states = page.value.map((row) => ({ ...(joinJson(row) as InstanceState), history: [] }));
    return {
      states,
      ...(page.value.continuationToken ? { continuationToken: page.value.continuationToken } : {}),
    };
  }

  async deleteInstance(instanceId: string): Promise<number> {
    const keys: { partitionKey: string; rowKey: string }[] = [];
    const rows = this.table.listEntities({
      queryOptions: { filter: `PartitionKey eq '${instanceId.replace(/'/g, "''")}'`, select: ['RowKey'] },
    });
    let found = false;
    for await (const row of rows) {
      if (row.rowKey === ROW_STATE) found = true;
      keys.push({ partitionKey: instanceId, rowKey: row.rowKey ?? '' });
    }
    for (let i = 0; i < keys.length; i += MAX_BATCH) {
      await this.table.submitTransaction(
        keys.slice(i, i + MAX_BATCH).map((k) => ['delete', k] as TransactionAction),
      );
    }
    return found ? 1 : 0;
  }
}

export { historyKey };
