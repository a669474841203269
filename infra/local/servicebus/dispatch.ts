/**
 * Delivery to receivers: hands ready messages to the receiver links attached to each store, within
 * exactly the credit each client granted and round-robin across competing receivers, answers drain
 * requests, and wakes each store at its next deadline (lock expiry, scheduled time, TTL). Over-
 * delivering strands messages: one sent to a link that then closes stays locked until it expires.
 */
import type { Delivery, Sender } from 'rhea';
import { encodeDelivery, newDeliveryTag } from './amqp';
import { fanOutDue, type TopicNode } from './entities';
import { guard } from './errors';
import { internals, outgoingOf } from './rhea-internals';
import { settleFromLink, type Outcome } from './settlement';
import type { MessageStore, StoredMessage } from './store';

const MAX_TIMER_MS = 2 ** 31 - 1;

/** A client's receiver attached to a queue-like entity (our sending link). */
export interface Consumer {
  link: Sender;
  store: MessageStore;
  peekLock: boolean;
  /** Deliveries handed to rhea whose transfer is not written yet: they already use credit. */
  unwritten: Delivery[];
  /** The consumers of its connection, all removed when the connection drops. */
  connectionConsumers: Set<Consumer>;
}

interface Sent {
  store: MessageStore;
  /** Undefined in receive-and-delete mode. */
  lockToken: string | undefined;
  message: StoredMessage;
}

export interface DispatchDeps {
  log: (msg: string) => void;
  isClosed: () => boolean;
  topicWaitingIn: (store: MessageStore) => TopicNode | undefined;
  /** Journals a message given back to its store. */
  persist: (store: MessageStore, message: StoredMessage) => void;
}

export class Dispatcher {
  private readonly consumers = new Map<Sender, Consumer>();
  private readonly consumersByStore = new Map<MessageStore, Consumer[]>();
  private readonly sent = new WeakMap<Delivery, Sent>();
  private readonly timers = new Map<MessageStore, { at: number; handle: NodeJS.Timeout }>();
  private readonly dirty = new Set<MessageStore>();
  private dirtyQueued = false;
  private rotation = 0;

  constructor(private readonly deps: DispatchDeps) {}

  /** Something changed in the store: deliver what is ready and re-arm its deadline. */
  markDirty(store: MessageStore): void {
    if (this.deps.isClosed()) return;
    this.dirty.add(store);
    if (this.dirtyQueued) return;
    this.dirtyQueued = true;
    // A microtask, not a timer: deliveries go out in the same turn as the send that caused them.
    queueMicrotask(() => {
      this.dirtyQueued = false;
      guard(this.deps.log, 'delivery', () => {
        this.processDirty();
      });
    });
  }

  /** Makes a client's receiver link a consumer of the store (peek-lock unless it attached settled). */
  addConsumer(sender: Sender, store: MessageStore, connectionConsumers: Set<Consumer>): void {
    const link = internals(sender);
    // Echo the client's settle modes: receive-and-delete (settled) makes rhea send pre-settled.
    link.local.attach.snd_settle_mode = sender.snd_settle_mode;
    link.local.attach.rcv_settle_mode = sender.rcv_settle_mode;
    // Stock rhea answers a drain only while credit remains. The SDK needs the drained flow even when
    // in-flight transfers used all the credit up: without it each empty receive waits 200 ms, then
    // the SDK closes the link and attaches a new one, stranding what was sent to the old one.
    link._get_drain = () => {
      if (!link._draining || !link._drained) return false;
      link.delivery_count += link.credit;
      link.credit = 0;
      return true;
    };
    const consumer: Consumer = {
      link: sender,
      store,
      peekLock: sender.snd_settle_mode !== 1,
      unwritten: [],
      connectionConsumers,
    };
    this.consumers.set(sender, consumer);
    connectionConsumers.add(consumer);
    const list = this.consumersByStore.get(store) ?? [];
    list.push(consumer);
    this.consumersByStore.set(store, list);
  }

  /** The client granted credit. */
  onFlow(sender: Sender): void {
    const consumer = this.consumers.get(sender);
    if (consumer) this.pump(consumer.store);
  }

  onDraining(sender: Sender): void {
    const consumer = this.consumers.get(sender);
    if (!consumer) return;
    // Send what we have first; the drained flow then reports whatever credit is left unused.
    this.pump(consumer.store);
    sender.set_drained(true);
  }

  onClose(sender: Sender): void {
    const consumer = this.consumers.get(sender);
    if (consumer) this.removeConsumer(consumer);
  }

  onOutcome(delivery: Delivery, outcome: Outcome): void {
    const sent = this.sent.get(delivery);
    if (!sent) return;
    this.sent.delete(delivery);
    if (sent.lockToken === undefined) return;
    settleFromLink(delivery, sent.store, sent.lockToken, outcome);
  }

  removeConsumer(consumer: Consumer): void {
    if (!this.consumers.delete(consumer.link)) return;
    consumer.connectionConsumers.delete(consumer);
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
        this.deps.persist(sent.store, sent.message);
      }
    }
    consumer.unwritten = [];
  }

  stop(): void {
    for (const t of this.timers.values()) clearTimeout(t.handle);
    this.timers.clear();
  }

  private processDirty(): void {
    while (this.dirty.size > 0 && !this.deps.isClosed()) {
      const [store] = this.dirty;
      if (!store) break;
      this.dirty.delete(store);
      const topic = this.deps.topicWaitingIn(store);
      if (topic) fanOutDue(topic);
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
    if (at === undefined || this.deps.isClosed()) return;
    const handle = setTimeout(
      () => {
        this.timers.delete(store);
        guard(this.deps.log, `timer of ${store.name}`, () => {
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
}
