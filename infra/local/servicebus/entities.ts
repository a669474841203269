/**
 * The entities: queues (each with its dead-letter and transfer dead-letter sub-queues), topics and
 * their subscriptions, found by address case-insensitively as Service Bus does, and where a sent
 * message goes (the queue, or a copy per subscription; a topic's scheduled messages wait in its own
 * store until due). Unknown entities are refused at attach unless queues are created on first use.
 */
import { newDeliveryTag, type IncomingMessage } from './amqp';
import { DuplicateDetector } from './duplicates';
import type { PersistedEntities, Persistence } from './persistence';
import { MessageStore, type NewMessage, type StoreHooks } from './store';

export interface QueueNode {
  kind: 'queue';
  name: string;
  store: MessageStore;
  dedup: DuplicateDetector;
}
export interface TopicNode {
  kind: 'topic';
  name: string;
  /** Scheduled messages wait here, then fan out. */
  pending: MessageStore;
  subscriptions: MessageStore[];
  dedup: DuplicateDetector;
}
/** A subscription or a dead-letter sub-queue: receive only. */
export interface SubQueueNode {
  kind: 'subqueue';
  name: string;
  store: MessageStore;
}
export type Node = QueueNode | TopicNode | SubQueueNode;

export interface EntitySettings {
  lockDurationMs: number;
  maxDeliveryCount: number;
  /** 0 turns duplicate detection off. */
  duplicateDetectionWindowMs: number;
  autoCreateQueues: boolean;
  log: (msg: string) => void;
}

export class Entities implements PersistedEntities {
  private readonly nodes = new Map<string, Node>();
  private readonly storesByKey = new Map<string, MessageStore>();
  private readonly dedups = new Map<string, DuplicateDetector>();
  private readonly topicOfPending = new Map<MessageStore, TopicNode>();

  constructor(
    private readonly settings: EntitySettings,
    private readonly hooks: StoreHooks,
    private readonly persistence: Persistence,
  ) {}

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

  /** The entity a link address names (creating a queue on first use when so configured). */
  resolve(address: string | undefined): Node | undefined {
    if (address === undefined) return undefined;
    const path = address.replace(/^[a-z]+:\/\/[^/]+/i, '').replace(/^\/+/, '');
    const node = this.nodes.get(path.toLowerCase());
    if (node || !this.settings.autoCreateQueues) return node;
    const queue = path.replace(/\/\$deadletterqueue$/i, '').replace(/\/\$transfer$/i, '');
    if (/\$|\/subscriptions\//i.test(queue)) return undefined;
    try {
      this.ensureQueue(queue);
    } catch {
      return undefined;
    }
    this.settings.log(`servicebus: queue "${queue}" created on first use`);
    return this.nodes.get(path.toLowerCase());
  }

  /** The topic whose scheduled messages wait in this store, if it is one. */
  topicWaitingIn(store: MessageStore): TopicNode | undefined {
    return this.topicOfPending.get(store);
  }

  /** Accepts one message sent to a queue or topic (a duplicate is accepted and dropped). */
  enqueue(node: QueueNode | TopicNode, incoming: IncomingMessage, now: number): void {
    if (incoming.messageIdFromSender && !node.dedup.admit(incoming.messageId, now)) {
      this.settings.log(`servicebus: ${node.name}: duplicate message ${incoming.messageId} dropped`);
      return;
    }
    const input = toNewMessage(incoming);
    if (node.kind === 'queue') node.store.add(input, now);
    else if (input.scheduledEnqueueTime !== undefined && input.scheduledEnqueueTime > now) {
      node.pending.add(input, now);
    } else fanOut(node, input, now);
  }

  store(key: string): MessageStore | undefined {
    return this.storesByKey.get(key);
  }

  detector(key: string): DuplicateDetector | undefined {
    return this.dedups.get(key);
  }

  stores(): Iterable<MessageStore> {
    return this.storesByKey.values();
  }

  detectors(): Iterable<DuplicateDetector> {
    return this.dedups.values();
  }

  private newStore(name: string, deadLetter: MessageStore | undefined): MessageStore {
    const store = new MessageStore(
      name,
      {
        lockDurationMs: this.settings.lockDurationMs,
        // Only entities with a dead-letter queue count deliveries towards it.
        maxDeliveryCount: deadLetter ? this.settings.maxDeliveryCount : Infinity,
      },
      this.hooks,
      deadLetter,
    );
    this.storesByKey.set(name.toLowerCase(), store);
    this.persistence.adoptStore(store);
    return store;
  }

  private newDedup(entity: string): DuplicateDetector {
    const dedup = new DuplicateDetector(entity, this.settings.duplicateDetectionWindowMs, (id, until) => {
      this.persistence.duplicate(entity, id, until);
    });
    this.dedups.set(entity.toLowerCase(), dedup);
    this.persistence.adoptDuplicates(dedup);
    return dedup;
  }
}

export function toNewMessage(incoming: IncomingMessage): NewMessage {
  return {
    bytes: incoming.bytes,
    messageId: incoming.messageId,
    ttlMs: incoming.ttlMs,
    scheduledEnqueueTime: incoming.scheduledEnqueueTime,
  };
}

/** Moves a topic's scheduled messages that are due into every subscription. */
export function fanOutDue(topic: TopicNode): void {
  const now = Date.now();
  for (;;) {
    // Lock, copy to every subscription, then complete: the copies are journaled before the removal.
    const { lockToken } = newDeliveryTag();
    const m = topic.pending.takeNext(now, lockToken);
    if (!m) return;
    const ttlMs = m.expiresAt === undefined ? undefined : Math.max(0, m.expiresAt - now);
    fanOut(topic, { bytes: m.bytes, messageId: m.messageId, ttlMs, scheduledEnqueueTime: undefined }, now);
    topic.pending.settle(lockToken, { kind: 'complete' });
  }
}

function fanOut(topic: TopicNode, message: NewMessage, now: number): void {
  for (const sub of topic.subscriptions) sub.add({ ...message, scheduledEnqueueTime: undefined }, now);
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
