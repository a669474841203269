/**
 * A Service Bus–compatible AMQP 1.0 endpoint on `rhea`, for the local host (dev and CI only).
 *
 * It speaks what the real `@azure/service-bus` 7.9 SDK needs, as recorded by experiment in
 * ../shared/reference/service-bus-local.md: CBS put-token before every attach, peek-lock and
 * receive-and-delete links with exact credit and drain handling, settlement with explicit outcomes,
 * and the `$management` operations (schedule, cancel, renew-lock, update-disposition,
 * receive-by-sequence-number, peek). Message rules live in ./store.ts, bytes in ./amqp.ts,
 * persistence in ./journal.ts.
 *
 * Unknown entities are refused at attach with `amqp:not-found` worded like Service Bus, which the
 * SDK maps to `MessagingEntityNotFound` (not retryable, so a typo fails fast instead of retrying
 * for minutes); `ensureQueue` creates queues at run time.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Server, Socket } from 'node:net';
import {
  create_container,
  type Connection,
  type Container,
  type Delivery,
  type EventContext,
  type Message,
  type Receiver,
  type Sender,
  type Source,
  type TerminusOptions,
} from 'rhea';
import {
  codec,
  encodeDelivery,
  inspectIncoming,
  newDeliveryTag,
  newManagementLockToken,
  sections,
  unpackBatch,
  uuidString,
  type IncomingMessage,
  type TypedValue,
} from './amqp';
import { Journal, type JournalRecord, type PutRecord } from './journal';
import {
  MessageState,
  MessageStore,
  type NewMessage,
  type Settlement,
  type StoreHooks,
  type StoredMessage,
} from './store';

export type EntityConfig = { queue: string } | { topic: string; subscriptions: string[] };

export interface BrokerOptions {
  host: string;
  port: number;
  entities: EntityConfig[];
  lockDurationMs: number;
  maxDeliveryCount: number;
  /** 0 turns duplicate detection off. */
  duplicateDetectionWindowMs: number;
  dataFile: string | undefined;
  autoCreateQueues: boolean;
  log: (msg: string) => void;
}

/** The SDK refuses to build batches without it (reference §3.1); Standard tier's limit. */
const MAX_MESSAGE_SIZE = 256 * 1024;
const KEY_NAME = 'RootManageSharedAccessKey';
const BATCH_FORMAT = 0x80013700;
const MAX_TIMER_MS = 2 ** 31 - 1;

const Condition = {
  notFound: 'amqp:not-found',
  notAllowed: 'amqp:not-allowed',
  notImplemented: 'amqp:not-implemented',
  unauthorized: 'amqp:unauthorized-access',
  internal: 'amqp:internal-error',
  decode: 'amqp:decode-error',
  lockLost: 'com.microsoft:message-lock-lost',
  messageNotFound: 'com.microsoft:message-not-found',
  deadLetter: 'com.microsoft:dead-letter',
} as const;

const Operation = {
  schedule: 'com.microsoft:schedule-message',
  cancelScheduled: 'com.microsoft:cancel-scheduled-message',
  renewLock: 'com.microsoft:renew-lock',
  updateDisposition: 'com.microsoft:update-disposition',
  receiveBySequenceNumber: 'com.microsoft:receive-by-sequence-number',
  peek: 'com.microsoft:peek-message',
} as const;

class DuplicateDetector {
  private readonly seen = new Map<string, number>();
  constructor(
    readonly entity: string,
    private readonly windowMs: number,
  ) {}

  isDuplicate(messageId: string, now: number): boolean {
    if (this.windowMs <= 0) return false;
    this.prune(now);
    const until = this.seen.get(messageId);
    return until !== undefined && until > now;
  }

  /** Remembers an id; returns until when (undefined when detection is off). */
  record(messageId: string, now: number): number | undefined {
    if (this.windowMs <= 0) return undefined;
    const until = now + this.windowMs;
    this.seen.delete(messageId);
    this.seen.set(messageId, until);
    return until;
  }

  restore(messageId: string, until: number): void {
    this.seen.set(messageId, until);
  }

  entries(now: number): [string, number][] {
    this.prune(now);
    return [...this.seen];
  }

  // Ids are kept in the order they were recorded and the window is fixed, so the oldest come first.
  private prune(now: number): void {
    for (const [id, until] of this.seen) {
      if (until > now) break;
      this.seen.delete(id);
    }
  }
}

interface QueueNode {
  kind: 'queue';
  name: string;
  store: MessageStore;
  dedup: DuplicateDetector;
}
interface TopicNode {
  kind: 'topic';
  name: string;
  /** Scheduled messages wait here, then fan out. */
  pending: MessageStore;
  subscriptions: MessageStore[];
  dedup: DuplicateDetector;
}
/** A subscription or a dead-letter sub-queue: receive only. */
interface SubQueueNode {
  kind: 'subqueue';
  name: string;
  store: MessageStore;
}
type Node = QueueNode | TopicNode | SubQueueNode;

/** What rhea keeps on links and sessions that we must read or set (absent from its typings). */
interface LinkInternals {
  local: { attach: { max_message_size?: number; snd_settle_mode?: number; rcv_settle_mode?: number } };
  credit: number;
  delivery_count: number;
  _draining: boolean;
  _drained: boolean;
  _get_drain: () => boolean;
}
interface SessionInternals {
  outgoing: { next_pending_delivery: number; available(): number };
}
const internals = (link: Sender | Receiver): LinkInternals => link as unknown as LinkInternals;
const outgoingOf = (link: Sender): SessionInternals['outgoing'] =>
  (link.session as unknown as SessionInternals).outgoing;

interface ConnState {
  /** Set once the client presented a valid SAS token on `$cbs`. */
  authorized: boolean;
  /** Our sending links for `$cbs` / `$management` replies, by link name and by target address. */
  replyLinks: Map<string, Sender>;
  consumers: Set<Consumer>;
}

/** A client's receiver attached to a queue-like entity (our sending link). */
interface Consumer {
  link: Sender;
  store: MessageStore;
  peekLock: boolean;
  /** Deliveries handed to rhea whose transfer is not written yet: they already use credit. */
  unwritten: Delivery[];
  conn: ConnState;
}

interface Sent {
  store: MessageStore;
  /** Undefined in receive-and-delete mode. */
  lockToken: string | undefined;
  message: StoredMessage;
}

type InRole =
  { kind: 'cbs' } | { kind: 'management'; node: Node } | { kind: 'entity'; node: QueueNode | TopicNode };

interface ManagementReply {
  status: number;
  description: string;
  condition?: string;
  body?: TypedValue;
}

const ok = (body?: TypedValue): ManagementReply => ({
  status: 200,
  description: 'OK',
  ...(body ? { body } : {}),
});
const fail = (status: number, condition: string, description: string): ManagementReply => ({
  status,
  condition,
  description,
});

function asRecord(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Buffer.isBuffer(v) ? (v as Record<string, unknown>) : {};
}

/** Our attach names the same source and target addresses as the client's (null stays null). */
function echoTermini(link: Sender | Receiver): void {
  const source = addressOf(link.source);
  const target = addressOf(link.target);
  // rhea's typings require an address; an absent one must stay absent on the wire.
  link.set_source((source === undefined ? {} : { address: source }) as Source);
  link.set_target((target === undefined ? {} : { address: target }) as TerminusOptions);
}

/** A terminus address; rhea types them as always present, but a client may attach without one. */
function addressOf(terminus: unknown): string | undefined {
  return asString(asRecord(terminus).address);
}

function asString(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** A sequence number as the SDK sends it: a number, or 8 big-endian bytes when large. */
function readLong(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  if (Buffer.isBuffer(v) && v.length === 8) return Number(v.readBigInt64BE(0));
  return undefined;
}

function readLongs(v: unknown): number[] {
  if (!Array.isArray(v)) return [];
  return v.map(readLong).filter((n): n is number => n !== undefined);
}

function readLockTokens(v: unknown): string[] {
  if (!Array.isArray(v)) return [];
  return v.filter((b): b is Buffer => Buffer.isBuffer(b) && b.length === 16).map(uuidString);
}

function putRecord(store: string, m: StoredMessage): PutRecord {
  return {
    k: 'put',
    e: store,
    s: m.seq,
    id: m.messageId,
    t: m.enqueuedAt,
    v: m.visibleAt,
    ...(m.expiresAt === undefined ? {} : { x: m.expiresAt }),
    st: m.state,
    dc: m.deliveryCount,
    ...(m.deadLetterSource === undefined ? {} : { src: m.deadLetterSource }),
    m: m.bytes.toString('base64'),
  };
}

function fromPutRecord(r: PutRecord): StoredMessage {
  return {
    seq: r.s,
    messageId: r.id,
    enqueuedAt: r.t,
    visibleAt: r.v,
    expiresAt: r.x,
    state: r.st,
    deliveryCount: r.dc,
    deadLetterSource: r.src,
    bytes: Buffer.from(r.m, 'base64'),
    lock: undefined,
  };
}

const stateCode = (s: MessageState): 0 | 1 | 2 =>
  s === MessageState.deferred ? 1 : s === MessageState.scheduled ? 2 : 0;

/** Journal records for stores that do not exist (yet): kept until `ensureQueue` creates them. */
interface Orphan {
  name: string;
  nextSeq: number;
  messages: Map<number, PutRecord>;
  dups: Map<string, number>;
}

export class ServiceBusBroker {
  readonly sharedAccessKey = randomBytes(32).toString('base64');
  private readonly container: Container;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly connections = new Set<Connection>();
  private readonly connStates = new WeakMap<Connection, ConnState>();
  private readonly inRoles = new WeakMap<Receiver, InRole>();
  private readonly consumers = new Map<Sender, Consumer>();
  private readonly consumersByStore = new Map<MessageStore, Consumer[]>();
  private readonly sent = new WeakMap<Delivery, Sent>();
  private readonly nodes = new Map<string, Node>();
  private readonly stores = new Map<string, MessageStore>();
  private readonly dedups = new Map<string, DuplicateDetector>();
  private readonly topicOfPending = new Map<MessageStore, TopicNode>();
  private readonly orphans = new Map<string, Orphan>();
  private readonly timers = new Map<MessageStore, { at: number; handle: NodeJS.Timeout }>();
  private readonly dirty = new Set<MessageStore>();
  private dirtyQueued = false;
  private rotation = 0;
  private journal: Journal | undefined;
  private replaying = false;
  private closed = false;
  private endpointHost = '';
  private readonly hooks: StoreHooks;

  constructor(private readonly options: BrokerOptions) {
    this.hooks = {
      put: (store, m) => {
        if (!this.replaying) this.journal?.append(putRecord(store.name, m));
      },
      remove: (store, seq) => {
        if (!this.replaying) this.journal?.append({ k: 'del', e: store.name, s: seq });
      },
      changed: (store) => {
        this.markDirty(store);
      },
      deadLettered: (from, m, reason) => {
        this.options.log(
          `servicebus: ${from.name}: message ${m.messageId} (sequence ${m.seq}) dead-lettered: ${reason}`,
        );
      },
    };
    for (const e of options.entities) {
      if ('queue' in e) this.ensureQueue(e.queue);
      else this.ensureTopic(e.topic, e.subscriptions);
    }
    this.container = create_container({ id: 'zsa-local-servicebus' });
    this.wire();
  }

  get port(): number {
    const address = this.server?.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  get connectionString(): string {
    return (
      `Endpoint=sb://${this.endpointHost};SharedAccessKeyName=${KEY_NAME};` +
      `SharedAccessKey=${this.sharedAccessKey};UseDevelopmentEmulator=true`
    );
  }

  async start(): Promise<void> {
    if (this.options.dataFile !== undefined) {
      const { journal, records } = await Journal.open(this.options.dataFile, this.options.log);
      this.replay(records);
      journal.snapshot = () => this.snapshotRecords();
      this.journal = journal;
      await journal.compact();
    }
    // Settlement is ours to decide (after the journal write), and abandon must stay `modified`.
    const listenOptions = {
      host: this.options.host,
      port: this.options.port,
      autoaccept: false,
      treat_modified_as_released: false,
      // Without it Nagle's algorithm holds small frames back ~40 ms behind the client's delayed ACK.
      tcp_no_delay: true,
    };
    const server = this.container.listen(listenOptions);
    this.server = server;
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      if (server.listening) resolve();
      server.once('listening', () => {
        resolve();
      });
      server.once('error', reject);
    });
    server.on('error', (e) => {
      this.options.log(`servicebus: server error: ${e.message}`);
    });
    this.endpointHost = `${this.options.host}:${this.port}`;
    this.options.log(`servicebus: listening on ${this.endpointHost} (loopback, development only)`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t.handle);
    this.timers.clear();
    for (const c of this.connections) {
      try {
        c.close();
      } catch {
        // The socket may already be gone; it is destroyed below either way.
      }
    }
    const server = this.server;
    if (server) {
      const closedServer = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of this.sockets) s.destroy();
      await closedServer;
    }
    await this.journal?.close();
  }

  // ---- entities --------------------------------------------------------------------------------

  ensureQueue(name: string): void {
    checkEntityName(name);
    const existing = this.nodes.get(name.toLowerCase());
    if (existing) {
      if (existing.kind !== 'queue') throw new Error(`"${name}" already exists and is not a queue.`);
      return;
    }
    const dlq = this.newStore(`${name}/$DeadLetterQueue`, undefined);
    const transferDlq = this.newStore(`${name}/$Transfer/$DeadLetterQueue`, undefined);
    const store = this.newStore(name, dlq);
    const node: QueueNode = { kind: 'queue', name, store, dedup: this.newDedup(name) };
    this.nodes.set(name.toLowerCase(), node);
    this.nodes.set(dlq.name.toLowerCase(), { kind: 'subqueue', name: dlq.name, store: dlq });
    this.nodes.set(transferDlq.name.toLowerCase(), {
      kind: 'subqueue',
      name: transferDlq.name,
      store: transferDlq,
    });
  }

  /** Creates a topic and any of its subscriptions that do not exist yet. */
  ensureTopic(name: string, subscriptions: string[]): void {
    checkEntityName(name);
    let node = this.nodes.get(name.toLowerCase());
    if (node && node.kind !== 'topic') throw new Error(`"${name}" already exists and is not a topic.`);
    if (!node) {
      const pending = this.newStore(name, undefined);
      const topic: TopicNode = {
        kind: 'topic',
        name,
        pending,
        subscriptions: [],
        dedup: this.newDedup(name),
      };
      this.topicOfPending.set(pending, topic);
      this.nodes.set(name.toLowerCase(), topic);
      node = topic;
    }
    for (const sub of subscriptions) {
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(sub)) throw new Error(`Invalid subscription name "${sub}".`);
      const path = `${node.name}/Subscriptions/${sub}`;
      if (this.nodes.has(path.toLowerCase())) continue;
      const dlq = this.newStore(`${path}/$DeadLetterQueue`, undefined);
      const store = this.newStore(path, dlq);
      node.subscriptions.push(store);
      this.nodes.set(path.toLowerCase(), { kind: 'subqueue', name: path, store });
      this.nodes.set(dlq.name.toLowerCase(), { kind: 'subqueue', name: dlq.name, store: dlq });
    }
  }

  private newStore(name: string, deadLetter: MessageStore | undefined): MessageStore {
    const store = new MessageStore(
      name,
      {
        lockDurationMs: this.options.lockDurationMs,
        // Only entities with a dead-letter queue count deliveries towards it.
        maxDeliveryCount: deadLetter ? this.options.maxDeliveryCount : Infinity,
      },
      this.hooks,
      deadLetter,
    );
    this.stores.set(name.toLowerCase(), store);
    this.adoptOrphan(store);
    return store;
  }

  private newDedup(entity: string): DuplicateDetector {
    const dedup = new DuplicateDetector(entity, this.options.duplicateDetectionWindowMs);
    this.dedups.set(entity.toLowerCase(), dedup);
    const orphan = this.orphans.get(entity.toLowerCase());
    if (orphan) for (const [id, until] of orphan.dups) dedup.restore(id, until);
    return dedup;
  }

  /** The entity a link address names (creating a queue on first use when so configured). */
  private resolve(address: string | undefined): Node | undefined {
    if (address === undefined) return undefined;
    const path = address.replace(/^[a-z]+:\/\/[^/]+/i, '').replace(/^\/+/, '');
    const node = this.nodes.get(path.toLowerCase());
    if (node || !this.options.autoCreateQueues) return node;
    const queue = path.replace(/\/\$deadletterqueue$/i, '').replace(/\/\$transfer$/i, '');
    if (/\$|\/subscriptions\//i.test(queue)) return undefined;
    try {
      this.ensureQueue(queue);
    } catch {
      return undefined;
    }
    this.options.log(`servicebus: queue "${queue}" created on first use`);
    return this.nodes.get(path.toLowerCase());
  }

  private notFound(address: string | undefined): string {
    // The SDK maps amqp:not-found to MessagingEntityNotFound only with this wording (reference §3.4).
    return (
      `The messaging entity 'sb://${this.endpointHost}/${address ?? ''}' could not be found. ` +
      'To know more visit https://aka.ms/sbResourceMgrExceptions.'
    );
  }

  // ---- persistence -----------------------------------------------------------------------------

  private replay(records: JournalRecord[]): void {
    this.replaying = true;
    const now = Date.now();
    try {
      for (const r of records) {
        const key = r.e.toLowerCase();
        if (r.k === 'dup') {
          if (r.u <= now) continue;
          const dedup = this.dedups.get(key);
          if (dedup) dedup.restore(r.id, r.u);
          else this.orphan(r.e).dups.set(r.id, r.u);
          continue;
        }
        const store = this.stores.get(key);
        if (!store) {
          const o = this.orphan(r.e);
          if (r.k === 'put') {
            o.messages.set(r.s, r);
            o.nextSeq = Math.max(o.nextSeq, r.s + 1);
          } else if (r.k === 'del') o.messages.delete(r.s);
          else o.nextSeq = Math.max(o.nextSeq, r.n);
          continue;
        }
        if (r.k === 'put') store.restore(fromPutRecord(r));
        else if (r.k === 'del') store.discard(r.s);
        else store.nextSeq = Math.max(store.nextSeq, r.n);
      }
    } finally {
      this.replaying = false;
    }
    const kept = [...this.orphans.values()].reduce((n, o) => n + o.messages.size, 0);
    if (kept > 0) {
      this.options.log(
        `servicebus: ${kept} persisted message(s) belong to entities not defined yet ` +
          `(${[...this.orphans.values()].map((o) => o.name).join(', ')}); kept until they are created`,
      );
    }
  }

  private orphan(name: string): Orphan {
    const key = name.toLowerCase();
    let o = this.orphans.get(key);
    if (!o) {
      o = { name, nextSeq: 1, messages: new Map(), dups: new Map() };
      this.orphans.set(key, o);
    }
    return o;
  }

  private adoptOrphan(store: MessageStore): void {
    const o = this.orphans.get(store.name.toLowerCase());
    if (!o) return;
    this.orphans.delete(store.name.toLowerCase());
    const wasReplaying = this.replaying;
    this.replaying = true;
    try {
      store.nextSeq = Math.max(store.nextSeq, o.nextSeq);
      for (const r of o.messages.values()) store.restore(fromPutRecord(r));
    } finally {
      this.replaying = wasReplaying;
    }
    // Its dedup entries (if any) are adopted by newDedup; keep them findable until then.
    if (o.dups.size > 0) this.orphans.set(store.name.toLowerCase(), { ...o, messages: new Map() });
  }

  private snapshotRecords(): JournalRecord[] {
    const now = Date.now();
    const out: JournalRecord[] = [];
    for (const store of this.stores.values()) {
      out.push({ k: 'seq', e: store.name, n: store.nextSeq });
      for (const m of store.all()) out.push(putRecord(store.name, m));
    }
    for (const dedup of this.dedups.values()) {
      for (const [id, u] of dedup.entries(now)) out.push({ k: 'dup', e: dedup.entity, id, u });
    }
    for (const o of this.orphans.values()) {
      if (this.stores.has(o.name.toLowerCase())) continue;
      out.push({ k: 'seq', e: o.name, n: o.nextSeq });
      out.push(...o.messages.values());
      if (!this.dedups.has(o.name.toLowerCase())) {
        for (const [id, u] of o.dups) if (u > now) out.push({ k: 'dup', e: o.name, id, u });
      }
    }
    return out;
  }

  /** Resolves when everything changed so far is on disk (immediately without a data file). */
  private durable(): Promise<void> {
    return this.journal ? this.journal.durable() : Promise.resolve();
  }

  // ---- delivery ----------------------------------------------------------------------------------

  private markDirty(store: MessageStore): void {
    if (this.closed) return;
    this.dirty.add(store);
    if (this.dirtyQueued) return;
    this.dirtyQueued = true;
    // A microtask, not a timer: deliveries go out in the same turn as the send that caused them.
    queueMicrotask(() => {
      this.dirtyQueued = false;
      this.guard('delivery', () => {
        this.processDirty();
      });
    });
  }

  private processDirty(): void {
    while (this.dirty.size > 0 && !this.closed) {
      const [store] = this.dirty;
      if (!store) break;
      this.dirty.delete(store);
      const topic = this.topicOfPending.get(store);
      if (topic) this.fanOutDue(topic);
      else this.pump(store);
      this.arm(store);
    }
  }

  private arm(store: MessageStore): void {
    const at = store.nextDeadline();
    const current = this.timers.get(store);
    if (current && current.at === at) return;
    if (current) clearTimeout(current.handle);
    this.timers.delete(store);
    if (at === undefined || this.closed) return;
    const handle = setTimeout(
      () => {
        this.timers.delete(store);
        this.guard(`timer of ${store.name}`, () => {
          store.tick(Date.now());
        });
        this.markDirty(store);
      },
      Math.min(Math.max(0, at - Date.now()), MAX_TIMER_MS),
    );
    this.timers.set(store, { at, handle });
  }

  /** Credit the client granted that no delivery (written or still queued in rhea) has used yet. */
  private credit(c: Consumer): number {
    const outgoing = outgoingOf(c.link);
    while (c.unwritten.length > 0 && (c.unwritten[0]?.id ?? Infinity) < outgoing.next_pending_delivery) {
      c.unwritten.shift();
    }
    if (!c.link.is_open() || outgoing.available() <= 0) return 0;
    // rhea lowers link.credit only when a transfer is written, so queued deliveries are subtracted.
    return internals(c.link).credit - c.unwritten.length;
  }

  private pump(store: MessageStore): void {
    const list = this.consumersByStore.get(store);
    if (!list || list.length === 0) return;
    const now = Date.now();
    const start = this.rotation++ % list.length;
    const order = [...list.slice(start), ...list.slice(0, start)];
    let progressed = true;
    while (progressed && store.hasReady()) {
      progressed = false;
      for (const c of order) {
        if (this.credit(c) <= 0) continue;
        if (!this.deliverOne(c, now)) return;
        progressed = true;
      }
    }
  }

  private deliverOne(c: Consumer, now: number): boolean {
    const { tag, lockToken } = newDeliveryTag();
    const m = c.store.takeNext(now, c.peekLock ? lockToken : undefined);
    if (!m) return false;
    const payload = encodeDelivery(m.bytes, {
      deliveryCount: m.deliveryCount,
      sequenceNumber: m.seq,
      enqueuedAt: m.enqueuedAt,
      state: 0,
      lockedUntil: m.lock?.until,
      deadLetterSource: m.deadLetterSource,
    });
    const delivery = c.link.send(payload, tag, 0);
    c.unwritten.push(delivery);
    this.sent.set(delivery, { store: c.store, lockToken: c.peekLock ? lockToken : undefined, message: m });
    return true;
  }

  private fanOutDue(topic: TopicNode): void {
    const now = Date.now();
    for (;;) {
      // Lock, copy to every subscription, then complete: the copies are journaled before the removal.
      const { lockToken } = newDeliveryTag();
      const m = topic.pending.takeNext(now, lockToken);
      if (!m) return;
      const ttlMs = m.expiresAt === undefined ? undefined : Math.max(0, m.expiresAt - now);
      this.fanOut(
        topic,
        { bytes: m.bytes, messageId: m.messageId, ttlMs, scheduledEnqueueTime: undefined },
        now,
      );
      topic.pending.settle(lockToken, { kind: 'complete' });
    }
  }

  private fanOut(topic: TopicNode, message: NewMessage, now: number): void {
    for (const sub of topic.subscriptions) sub.add({ ...message, scheduledEnqueueTime: undefined }, now);
  }

  /** Accepts one message sent to a queue or topic (a duplicate is accepted and dropped). */
  private enqueue(node: QueueNode | TopicNode, incoming: IncomingMessage, now: number): void {
    if (incoming.messageIdFromSender) {
      if (node.dedup.isDuplicate(incoming.messageId, now)) {
        this.options.log(`servicebus: ${node.name}: duplicate message ${incoming.messageId} dropped`);
        return;
      }
      this.recordId(node, incoming.messageId, now);
    }
    const input = toNewMessage(incoming);
    if (node.kind === 'queue') node.store.add(input, now);
    else if (input.scheduledEnqueueTime !== undefined && input.scheduledEnqueueTime > now) {
      node.pending.add(input, now);
    } else this.fanOut(node, input, now);
  }

  private recordId(node: QueueNode | TopicNode, messageId: string, now: number): void {
    const until = node.dedup.record(messageId, now);
    if (until !== undefined) this.journal?.append({ k: 'dup', e: node.name, id: messageId, u: until });
  }

  // ---- rhea wiring ------------------------------------------------------------------------------

  private wire(): void {
    this.on('connection_open', (ctx: EventContext) => {
      this.connections.add(ctx.connection);
    });
    const dropConnection = (ctx: EventContext): void => {
      this.connections.delete(ctx.connection);
      const state = this.connStates.get(ctx.connection);
      if (!state) return;
      for (const consumer of state.consumers) this.removeConsumer(consumer);
    };
    this.on('connection_close', dropConnection);
    this.on('disconnected', dropConnection);
    this.on('receiver_open', (ctx: EventContext) => {
      if (ctx.receiver) this.onReceiverOpen(ctx.receiver, this.conn(ctx.connection));
    });
    this.on('sender_open', (ctx: EventContext) => {
      if (ctx.sender) this.onSenderOpen(ctx.sender, this.conn(ctx.connection));
    });
    this.on('message', (ctx: EventContext) => {
      this.onMessage(ctx);
    });
    this.on('sender_flow', (ctx: EventContext) => {
      const consumer = ctx.sender ? this.consumers.get(ctx.sender) : undefined;
      if (consumer) this.pump(consumer.store);
    });
    this.on('sender_draining', (ctx: EventContext) => {
      const consumer = ctx.sender ? this.consumers.get(ctx.sender) : undefined;
      if (!consumer || !ctx.sender) return;
      // Send what we have first; the drained flow then reports whatever credit is left unused.
      this.pump(consumer.store);
      ctx.sender.set_drained(true);
    });
    for (const outcome of ['accepted', 'released', 'rejected', 'modified'] as const) {
      this.on(outcome, (ctx: EventContext) => {
        if (ctx.delivery) this.onOutcome(ctx.delivery, outcome);
      });
    }
    this.on('sender_close', (ctx: EventContext) => {
      const consumer = ctx.sender ? this.consumers.get(ctx.sender) : undefined;
      if (consumer) this.removeConsumer(consumer);
    });
    for (const event of [
      'error',
      'connection_error',
      'protocol_error',
      'session_error',
      'sender_error',
      'receiver_error',
    ]) {
      this.container.on(event, (ctx: EventContext | Error) => {
        const err = ctx instanceof Error ? ctx : (ctx.error ?? ctx.connection.error);
        if (err) this.options.log(`servicebus: ${event}: ${describeError(err)}`);
      });
    }
  }

  /** Handles a rhea event; an exception must not escape into rhea's socket handling. */
  private on(event: string, handler: (ctx: EventContext) => void): void {
    this.container.on(event, (ctx: EventContext) => {
      this.guard(event, () => {
        handler(ctx);
      });
    });
  }

  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.options.log(`servicebus: ${what} failed: ${describeError(e)}`);
    }
  }

  private conn(connection: Connection): ConnState {
    let state = this.connStates.get(connection);
    if (!state) {
      state = { authorized: false, replyLinks: new Map(), consumers: new Set() };
      this.connStates.set(connection, state);
    }
    return state;
  }

  private refuse(link: Sender | Receiver, condition: string, description: string): void {
    this.options.log(`servicebus: refused link "${link.name}": ${description}`);
    link.close({ condition, description });
  }

  private onReceiverOpen(receiver: Receiver, state: ConnState): void {
    const address = addressOf(receiver.target);
    echoTermini(receiver);
    internals(receiver).local.attach.max_message_size = MAX_MESSAGE_SIZE;
    if (address === '$cbs') {
      this.inRoles.set(receiver, { kind: 'cbs' });
      return;
    }
    if (!state.authorized) {
      this.refuse(
        receiver,
        Condition.unauthorized,
        'A valid SAS token must be put on $cbs before attaching.',
      );
      return;
    }
    const managed = address?.match(/^(.*)\/\$management$/i);
    if (managed) {
      const node = this.resolve(managed[1]);
      if (!node) this.refuse(receiver, Condition.notFound, this.notFound(managed[1]));
      else this.inRoles.set(receiver, { kind: 'management', node });
      return;
    }
    const node = this.resolve(address);
    if (!node) this.refuse(receiver, Condition.notFound, this.notFound(address));
    else if (node.kind === 'subqueue') {
      this.refuse(
        receiver,
        Condition.notAllowed,
        `Cannot send to '${node.name}': send to its queue or topic.`,
      );
    } else this.inRoles.set(receiver, { kind: 'entity', node });
  }

  private onSenderOpen(sender: Sender, state: ConnState): void {
    const address = addressOf(sender.source);
    const replyTo = addressOf(sender.target);
    echoTermini(sender);
    if (address === '$cbs' || /\/\$management$/i.test(address ?? '')) {
      if (address !== '$cbs' && !state.authorized) {
        this.refuse(
          sender,
          Condition.unauthorized,
          'A valid SAS token must be put on $cbs before attaching.',
        );
        return;
      }
      state.replyLinks.set(sender.name, sender);
      if (replyTo) state.replyLinks.set(replyTo, sender);
      return;
    }
    if (!state.authorized) {
      this.refuse(sender, Condition.unauthorized, 'A valid SAS token must be put on $cbs before attaching.');
      return;
    }
    const node = this.resolve(address);
    if (!node) {
      this.refuse(sender, Condition.notFound, this.notFound(address));
      return;
    }
    if (node.kind === 'topic') {
      this.refuse(
        sender,
        Condition.notAllowed,
        `Cannot receive from topic '${node.name}': use a subscription.`,
      );
      return;
    }
    const filter = asRecord(asRecord(sender.source).filter);
    if ('com.microsoft:session-filter' in filter) {
      this.refuse(sender, Condition.notImplemented, 'Sessions are not supported by the local Service Bus.');
      return;
    }
    const link = internals(sender);
    // Echo the client's settle modes: receive-and-delete (settled) makes rhea send pre-settled.
    link.local.attach.snd_settle_mode = sender.snd_settle_mode;
    link.local.attach.rcv_settle_mode = sender.rcv_settle_mode;
    // Stock rhea answers a drain only while credit remains; the SDK needs the answer even when
    // in-flight transfers used it all up, or it closes the link after 200 ms (reference §4.2).
    link._get_drain = () => {
      if (!link._draining || !link._drained) return false;
      link.delivery_count += link.credit;
      link.credit = 0;
      return true;
    };
    const consumer: Consumer = {
      link: sender,
      store: node.store,
      peekLock: sender.snd_settle_mode !== 1,
      unwritten: [],
      conn: state,
    };
    this.consumers.set(sender, consumer);
    state.consumers.add(consumer);
    const list = this.consumersByStore.get(node.store) ?? [];
    list.push(consumer);
    this.consumersByStore.set(node.store, list);
  }

  private removeConsumer(consumer: Consumer): void {
    if (!this.consumers.delete(consumer.link)) return;
    consumer.conn.consumers.delete(consumer);
    const list = this.consumersByStore.get(consumer.store) ?? [];
    this.consumersByStore.set(
      consumer.store,
      list.filter((c) => c !== consumer),
    );
    // Messages still queued in rhea never reached the client: give them back at once, uncounted.
    // Those written stay locked until settled via $management or until their lock expires.
    const outgoing = outgoingOf(consumer.link);
    for (const d of consumer.unwritten) {
      if (d.id < outgoing.next_pending_delivery) continue;
      const sent = this.sent.get(d);
      if (!sent) continue;
      this.sent.delete(d);
      if (sent.lockToken !== undefined) sent.store.settle(sent.lockToken, { kind: 'release' });
      else {
        sent.store.restore(sent.message);
        this.hooks.put(sent.store, sent.message);
      }
    }
    consumer.unwritten = [];
  }

  private onOutcome(delivery: Delivery, outcome: 'accepted' | 'released' | 'rejected' | 'modified'): void {
    const sent = this.sent.get(delivery);
    if (!sent) return;
    this.sent.delete(delivery);
    if (sent.lockToken === undefined) return;
    const remote = asRecord(delivery.remote_state);
    let settlement: Settlement;
    let reply: TypedValue;
    switch (outcome) {
      case 'accepted':
        settlement = { kind: 'complete' };
        reply = sections.accepted().described();
        break;
      case 'released':
        settlement = { kind: 'abandon' };
        reply = sections.released().described();
        break;
      case 'modified': {
        const properties = asRecord(remote.message_annotations);
        const undeliverableHere = remote.undeliverable_here === true;
        settlement = undeliverableHere ? { kind: 'defer', properties } : { kind: 'abandon', properties };
        reply = sections
          .modified({
            delivery_failed: remote.delivery_failed === true,
            undeliverable_here: undeliverableHere,
          })
          .described();
        break;
      }
      case 'rejected': {
        const error = asRecord(remote.error);
        const { DeadLetterReason, DeadLetterErrorDescription, ...properties } = asRecord(error.info);
        const isDeadLetter = error.condition === Condition.deadLetter;
        settlement = {
          kind: 'deadLetter',
          reason: asString(DeadLetterReason) ?? (isDeadLetter ? undefined : asString(error.condition)),
          description:
            asString(DeadLetterErrorDescription) ?? (isDeadLetter ? undefined : asString(error.description)),
          properties,
        };
        // Settle with a plain rejected outcome: echoing the client's error makes the SDK throw.
        reply = sections.rejected({}).described();
        break;
      }
    }
    const result = sent.store.settle(sent.lockToken, settlement);
    if (result === 'lock-lost') {
      reply = sections
        .rejected({
          error: { condition: Condition.lockLost, description: lockLostDescription(sent.lockToken) },
        })
        .described();
    }
    delivery.update(true, reply);
    // The SDK settles in rcv-settle-mode "second" but never sends the closing disposition after
    // ours, so rhea would keep the delivery in the session's 2048-slot buffer forever and stop
    // sending once it is full. Our settlement is final: count it as settled on both sides.
    (delivery as unknown as { remote_settled: boolean }).remote_settled = true;
  }

  private onMessage(ctx: EventContext): void {
    const receiver = ctx.receiver;
    const delivery = ctx.delivery;
    if (!receiver || !delivery) return;
    const role = this.inRoles.get(receiver);
    if (!role) {
      delivery.update(
        true,
        sections
          .rejected({ error: { condition: Condition.notAllowed, description: 'Unexpected link.' } })
          .described(),
      );
      return;
    }
    const state = this.conn(ctx.connection);
    const format = (ctx as EventContext & { format?: number }).format ?? 0;
    switch (role.kind) {
      case 'cbs':
        delivery.update(true, sections.accepted().described());
        this.onPutToken(state, ctx.message);
        return;
      case 'management':
        delivery.update(true, sections.accepted().described());
        this.onManagement(role.node, state, ctx.message).catch((e: unknown) => {
          this.options.log(`servicebus: $management request failed: ${describeError(e)}`);
        });
        return;
      case 'entity':
        this.onSend(role.node, delivery, ctx.message, format);
        return;
    }
  }

  private onSend(node: QueueNode | TopicNode, delivery: Delivery, message: unknown, format: number): void {
    let parts: Buffer[];
    try {
      if (format === 0) parts = [sections.encode(message)];
      else if (format === BATCH_FORMAT && Buffer.isBuffer(message)) parts = unpackBatch(message);
      else throw new Error(`unsupported message format ${format}`);
      const now = Date.now();
      const incoming = parts.map(inspectIncoming);
      for (const m of incoming) this.enqueue(node, m, now);
    } catch (e) {
      delivery.update(
        true,
        sections
          .rejected({ error: { condition: Condition.decode, description: describeError(e) } })
          .described(),
      );
      return;
    }
    // Acknowledge only once the message is on disk (when persisting).
    const settle = (outcome: TypedValue): void => {
      if (!this.closed)
        this.guard('send acknowledgement', () => {
          delivery.update(true, outcome);
        });
    };
    this.durable().then(
      () => {
        settle(sections.accepted().described());
      },
      (e: unknown) => {
        settle(
          sections
            .rejected({ error: { condition: Condition.internal, description: describeError(e) } })
            .described(),
        );
      },
    );
  }

  private reply(
    state: ConnState,
    request: Record<string, unknown>,
    applicationProperties: Record<string, unknown>,
    body?: TypedValue,
  ): void {
    const replyTo = asString(request.reply_to);
    const link = replyTo === undefined ? undefined : state.replyLinks.get(replyTo);
    if (!link || !link.is_open()) {
      this.options.log(`servicebus: no reply link "${replyTo ?? ''}" for a request; reply dropped`);
      return;
    }
    link.send({
      correlation_id: request.message_id as Message['correlation_id'],
      application_properties: applicationProperties,
      body: body ?? null,
    });
  }

  private onPutToken(state: ConnState, message: unknown): void {
    const request = asRecord(message);
    const props = asRecord(request.application_properties);
    let status = 202;
    let description = 'Accepted';
    if (props.operation !== 'put-token') {
      status = 400;
      description = `Unsupported $cbs operation '${String(props.operation)}'.`;
    } else if (props.type !== 'servicebus.windows.net:sastoken' || !this.validSas(request.body, Date.now())) {
      status = 401;
      description = 'InvalidSignature: the token has an invalid signature or has expired.';
    } else {
      state.authorized = true;
    }
    // $cbs replies use kebab-case keys (unlike $management's camelCase).
    this.reply(state, request, { 'status-code': status, 'status-description': description });
  }

  /** Checks a `SharedAccessSignature sr=…&sig=…&se=…&skn=…` token against this broker's key. */
  private validSas(token: unknown, now: number): boolean {
    const prefix = 'SharedAccessSignature ';
    if (typeof token !== 'string' || !token.startsWith(prefix)) return false;
    const fields = new Map<string, string>();
    for (const part of token.slice(prefix.length).split('&')) {
      const eq = part.indexOf('=');
      if (eq > 0) fields.set(part.slice(0, eq), part.slice(eq + 1));
    }
    const sr = fields.get('sr');
    const se = fields.get('se');
    const sig = fields.get('sig');
    const skn = fields.get('skn');
    if (sr === undefined || se === undefined || sig === undefined || skn === undefined) return false;
    if (decodeURIComponent(skn) !== KEY_NAME || Number(se) * 1000 <= now) return false;
    const expected = createHmac('sha256', this.sharedAccessKey).update(`${sr}\n${se}`).digest();
    const given = Buffer.from(decodeURIComponent(sig), 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private async onManagement(node: Node, state: ConnState, message: unknown): Promise<void> {
    const request = asRecord(message);
    const operation = asString(asRecord(request.application_properties).operation) ?? '';
    let result: ManagementReply;
    try {
      result = await this.manage(node, operation, asRecord(request.body));
    } catch (e) {
      result = fail(500, Condition.internal, describeError(e));
    }
    if (this.closed) return;
    this.reply(
      state,
      request,
      {
        statusCode: result.status,
        statusDescription: result.description,
        ...(result.condition === undefined ? {} : { errorCondition: result.condition }),
      },
      result.body,
    );
  }

  private async manage(
    node: Node,
    operation: string,
    body: Record<string, unknown>,
  ): Promise<ManagementReply> {
    const now = Date.now();
    switch (operation) {
      case Operation.schedule: {
        if (node.kind === 'subqueue')
          return fail(400, Condition.notAllowed, `Cannot schedule on '${node.name}'.`);
        const entries = Array.isArray(body.messages) ? body.messages : [];
        const seqs: number[] = [];
        for (const entry of entries) {
          const bytes = asRecord(entry).message;
          if (!Buffer.isBuffer(bytes))
            return fail(400, Condition.decode, 'A scheduled message is not binary.');
          const incoming = inspectIncoming(bytes);
          // Scheduled messages count for duplicate detection but are never dropped: the caller needs
          // a sequence number back.
          if (incoming.messageIdFromSender) this.recordId(node, incoming.messageId, now);
          const store = node.kind === 'queue' ? node.store : node.pending;
          seqs.push(store.add(toNewMessage(incoming), now).seq);
        }
        await this.durable();
        return ok(codec.wrap_map({ 'sequence-numbers': codec.wrap_array(seqs, 0x81, undefined) }));
      }
      case Operation.cancelScheduled: {
        if (node.kind === 'subqueue')
          return fail(400, Condition.notAllowed, `Cannot cancel on '${node.name}'.`);
        (node.kind === 'queue' ? node.store : node.pending).cancelScheduled(
          readLongs(body['sequence-numbers']),
        );
        await this.durable();
        return ok();
      }
    }
    if (node.kind === 'topic')
      return fail(400, Condition.notAllowed, `'${operation}' needs a subscription of '${node.name}'.`);
    const store = node.store;
    switch (operation) {
      case Operation.renewLock: {
        const untils: number[] = [];
        for (const token of readLockTokens(body['lock-tokens'])) {
          const until = store.renewLock(token, now);
          if (until === undefined) return fail(410, Condition.lockLost, lockLostDescription(token));
          untils.push(until);
        }
        return ok(codec.wrap_map({ expirations: codec.wrap_array(untils, 0x83, undefined) }));
      }
      case Operation.updateDisposition: {
        const settlement = dispositionFromRequest(body);
        if (!settlement)
          return fail(
            400,
            Condition.notImplemented,
            `Unknown disposition-status '${String(body['disposition-status'])}'.`,
          );
        for (const token of readLockTokens(body['lock-tokens'])) {
          if (store.settle(token, settlement) === 'lock-lost') {
            return fail(410, Condition.lockLost, lockLostDescription(token));
          }
        }
        return ok();
      }
      case Operation.receiveBySequenceNumber: {
        const seqs = readLongs(body['sequence-numbers']);
        const peekLock = body['receiver-settle-mode'] !== 0;
        const tokens = seqs.map(() => newManagementLockToken());
        const taken = store.takeDeferred(seqs, now, peekLock ? tokens.map((t) => t.lockToken) : undefined);
        if (!taken.ok) {
          return fail(
            404,
            Condition.messageNotFound,
            `The message with sequence number ${taken.missing} was not found or is not deferred.`,
          );
        }
        const items = taken.messages.map((m, i) =>
          codec.wrap_map({
            'lock-token': codec.wrap_uuid(tokens[i]?.bytes ?? Buffer.alloc(16)),
            message: codec.wrap_binary(
              encodeDelivery(m.bytes, {
                deliveryCount: m.deliveryCount,
                sequenceNumber: m.seq,
                enqueuedAt: m.enqueuedAt,
                state: stateCode(m.state),
                lockedUntil: m.lock?.until,
                deadLetterSource: m.deadLetterSource,
              }),
            ),
          }),
        );
        await this.durable();
        return ok(codec.wrap_map({ messages: codec.wrap_list(items) }));
      }
      case Operation.peek: {
        const from = readLong(body['from-sequence-number']) ?? 0;
        const count = typeof body['message-count'] === 'number' ? body['message-count'] : 1;
        const omitBody = body['omit-message-body'] === true;
        const found = store.peek(from, count, now);
        // The SDK tests `statusCode !== 204` for "nothing to peek" (reference §5).
        if (found.length === 0) return { status: 204, description: 'No Content' };
        const items = found.map((m) =>
          codec.wrap_map({
            message: codec.wrap_binary(
              encodeDelivery(m.bytes, {
                deliveryCount: m.deliveryCount,
                sequenceNumber: m.seq,
                enqueuedAt: m.enqueuedAt,
                state: stateCode(m.state),
                lockedUntil: m.lock?.until,
                deadLetterSource: m.deadLetterSource,
                omitBody,
              }),
            ),
          }),
        );
        return ok(codec.wrap_map({ messages: codec.wrap_list(items) }));
      }
      default:
        return fail(
          501,
          Condition.notImplemented,
          `The local Service Bus does not implement '${operation}'.`,
        );
    }
  }
}

function toNewMessage(incoming: IncomingMessage): NewMessage {
  return {
    bytes: incoming.bytes,
    messageId: incoming.messageId,
    ttlMs: incoming.ttlMs,
    scheduledEnqueueTime: incoming.scheduledEnqueueTime,
  };
}

function dispositionFromRequest(body: Record<string, unknown>): Settlement | undefined {
  const properties = asRecord(body['properties-to-modify']);
  switch (body['disposition-status']) {
    case 'completed':
      return { kind: 'complete' };
    case 'abandoned':
      return { kind: 'abandon', properties };
    case 'defered': // sic: the SDK's spelling
    case 'deferred':
      return { kind: 'defer', properties };
    case 'suspended':
      return {
        kind: 'deadLetter',
        reason: asString(body['deadletter-reason']),
        description: asString(body['deadletter-description']),
        properties,
      };
    default:
      return undefined;
  }
}

function lockLostDescription(token: string): string {
  return `The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue. Reference: ${token}`;
}

function describeError(e: unknown): string {
  if (e instanceof Error) return e.message;
  const r = asRecord(e);
  const description = asString(r.description) ?? asString(r.message);
  const condition = asString(r.condition);
  if (description !== undefined || condition !== undefined)
    return `${condition ?? ''} ${description ?? ''}`.trim();
  return String(e);
}

function checkEntityName(name: string): void {
  // Service Bus allows letters, digits, '.', '-', '_' and '/' (nested paths); '$' is reserved.
  if (
    !/^[A-Za-z0-9](?:[A-Za-z0-9._/-]*[A-Za-z0-9_-])?$/.test(name) ||
    name.includes('//') ||
    name.length > 260
  ) {
    throw new Error(`Invalid Service Bus entity name "${name}".`);
  }
}
