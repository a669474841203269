/**
 * One queue-like entity's messages (a queue, a subscription, a dead-letter sub-queue, or a topic's
 * scheduled messages): sequence numbers, peek-locks, deferral, scheduling, delivery counts and
 * dead-lettering. No I/O and no clock: every operation takes `now`, and what must be persisted or
 * woken up is reported through `StoreHooks`.
 *
 * Delivery-count rules are those the Service Bus SDK's live tests observe on real Service Bus: the
 * count is the number of earlier lock releases; abandon, defer and lock expiry raise it;
 * dead-lettering keeps it; reaching `maxDeliveryCount` moves the message to the dead-letter queue.
 */
import { withApplicationProperties } from './amqp';

export const MessageState = { active: 'active', deferred: 'deferred', scheduled: 'scheduled' } as const;
export type MessageState = (typeof MessageState)[keyof typeof MessageState];

export interface MessageLock {
  token: string;
  until: number;
}

export interface StoredMessage {
  readonly seq: number;
  readonly messageId: string;
  enqueuedAt: number;
  /** When a scheduled message becomes active. */
  visibleAt: number;
  /** From the header TTL, counted from enqueue; undefined = never. */
  expiresAt: number | undefined;
  state: MessageState;
  deliveryCount: number;
  deadLetterSource: string | undefined;
  bytes: Buffer;
  lock: MessageLock | undefined;
}

export interface NewMessage {
  bytes: Buffer;
  messageId: string;
  ttlMs: number | undefined;
  scheduledEnqueueTime: number | undefined;
}

/** What the client asked for when it settled a locked message. */
export type Settlement =
  | { kind: 'complete' }
  | { kind: 'abandon'; properties?: Record<string, unknown> | undefined }
  | { kind: 'defer'; properties?: Record<string, unknown> | undefined }
  | {
      kind: 'deadLetter';
      reason?: string | undefined;
      description?: string | undefined;
      properties?: Record<string, unknown> | undefined;
    }
  /** The message never reached the client (its link closed first): unlock without counting. */
  | { kind: 'release' };

export const DeadLetterReason = { maxDeliveryCountExceeded: 'MaxDeliveryCountExceeded' } as const;

export interface StoreHooks {
  /** The message was added or changed (persist it). */
  put(store: MessageStore, message: StoredMessage): void;
  /** The message left the store (persist the removal). */
  remove(store: MessageStore, seq: number): void;
  /** Something became available or a deadline moved (deliver, re-arm timers). */
  changed(store: MessageStore): void;
  deadLettered(from: MessageStore, message: StoredMessage, reason: string): void;
}

export interface StoreSettings {
  lockDurationMs: number;
  /** Infinity for dead-letter queues: nothing is dead-lettered twice. */
  maxDeliveryCount: number;
}

/** A binary min-heap; stale entries are skipped by the caller (lazy deletion). */
class MinHeap<T> {
  private readonly items: T[] = [];
  constructor(private readonly before: (a: T, b: T) => boolean) {}
  get size(): number {
    return this.items.length;
  }
  peek(): T | undefined {
    return this.items[0];
  }
  push(item: T): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = a[parent] as T;
      if (!this.before(item, p)) break;
      a[i] = p;
      i = parent;
    }
    a[i] = item;
  }
  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      let mv: T = last;
      if (l < a.length && this.before(a[l] as T, mv)) {
        m = l;
        mv = a[l] as T;
      }
      if (r < a.length && this.before(a[r] as T, mv)) {
        m = r;
        mv = a[r] as T;
      }
      if (m === i) break;
      a[i] = mv;
      i = m;
    }
    a[i] = last;
    return top;
  }
}

interface Deadline {
  at: number;
  key: number;
  token?: string;
}

const byTime = (a: Deadline, b: Deadline): boolean => a.at < b.at || (a.at === b.at && a.key < b.key);

export class MessageStore {
  /** Next sequence number to assign; numbers start at 1 and only grow. */
  nextSeq = 1;
  private readonly messages = new Map<number, StoredMessage>();
  private readonly ready = new MinHeap<number>((a, b) => a < b);
  private readonly readySet = new Set<number>();
  private readonly scheduled = new MinHeap<Deadline>(byTime);
  private readonly lockExpiries = new MinHeap<Deadline>(byTime);
  private readonly locks = new Map<string, StoredMessage>();

  constructor(
    /** Entity path as the SDK addresses it, e.g. `orders` or `orders/$DeadLetterQueue`. */
    readonly name: string,
    private readonly settings: StoreSettings,
    private readonly hooks: StoreHooks,
    /** Where dead-lettered messages go; undefined for a dead-letter queue itself. */
    readonly deadLetter: MessageStore | undefined,
  ) {}

  get size(): number {
    return this.messages.size;
  }

  all(): IterableIterator<StoredMessage> {
    return this.messages.values();
  }

  /** Enqueues a new message (scheduled when its enqueue time is in the future). */
  add(input: NewMessage, now: number): StoredMessage {
    const scheduled = input.scheduledEnqueueTime !== undefined && input.scheduledEnqueueTime > now;
    const enqueuedAt = scheduled ? (input.scheduledEnqueueTime ?? now) : now;
    const message: StoredMessage = {
      seq: this.nextSeq++,
      messageId: input.messageId,
      enqueuedAt,
      visibleAt: enqueuedAt,
      expiresAt: input.ttlMs === undefined ? undefined : enqueuedAt + input.ttlMs,
      state: scheduled ? MessageState.scheduled : MessageState.active,
      deliveryCount: 0,
      deadLetterSource: undefined,
      bytes: input.bytes,
      lock: undefined,
    };
    this.insert(message);
    this.hooks.put(this, message);
    return message;
  }

  /** Takes in a message that already has a sequence number (journal replay, dead-lettering). */
  restore(message: StoredMessage): void {
    message.lock = undefined;
    this.insert(message);
  }

  /** Forgets a message without reporting it (journal replay of a removal). */
  discard(seq: number): void {
    const m = this.messages.get(seq);
    if (!m) return;
    this.messages.delete(seq);
    this.readySet.delete(seq);
  }

  private insert(m: StoredMessage): void {
    this.messages.set(m.seq, m);
    if (m.seq >= this.nextSeq) this.nextSeq = m.seq + 1;
    if (m.state === MessageState.scheduled) this.scheduled.push({ at: m.visibleAt, key: m.seq });
    else if (m.state === MessageState.active) this.makeReady(m);
    this.hooks.changed(this);
  }

  private makeReady(m: StoredMessage): void {
    if (this.readySet.has(m.seq)) return;
    this.readySet.add(m.seq);
    this.ready.push(m.seq);
  }

  private delete(m: StoredMessage): void {
    this.messages.delete(m.seq);
    this.readySet.delete(m.seq);
    if (m.lock) this.locks.delete(m.lock.token);
    m.lock = undefined;
    this.hooks.remove(this, m.seq);
  }

  /**
   * The next active message in sequence order: locked with `lockToken` (peek-lock), or removed
   * when no token is given (receive-and-delete). Expired messages found on the way are dropped.
   */
  takeNext(now: number, lockToken: string | undefined): StoredMessage | undefined {
    for (;;) {
      const seq = this.ready.pop();
      if (seq === undefined) return undefined;
      if (!this.readySet.delete(seq)) continue;
      const m = this.messages.get(seq);
      if (!m || m.lock || m.state !== MessageState.active) continue;
      if (m.expiresAt !== undefined && m.expiresAt <= now) {
        this.delete(m);
        continue;
      }
      if (lockToken === undefined) this.delete(m);
      else this.lock(m, lockToken, now);
      return m;
    }
  }

  hasReady(): boolean {
    return this.readySet.size > 0;
  }

  private lock(m: StoredMessage, token: string, now: number): void {
    const until = now + this.settings.lockDurationMs;
    m.lock = { token, until };
    this.locks.set(token, m);
    this.lockExpiries.push({ at: until, key: m.seq, token });
    this.hooks.changed(this);
  }

  /** Whether `token` still holds a lock here. */
  holds(token: string): boolean {
    return this.locks.has(token);
  }

  settle(token: string, s: Settlement): 'settled' | 'lock-lost' {
    const m = this.locks.get(token);
    if (!m) return 'lock-lost';
    switch (s.kind) {
      case 'complete':
        this.delete(m);
        break;
      case 'release':
        this.unlock(m);
        this.requeue(m);
        break;
      case 'abandon':
        this.unlock(m);
        this.applyProperties(m, s.properties);
        this.countFailedDelivery(m);
        break;
      case 'defer':
        this.unlock(m);
        this.applyProperties(m, s.properties);
        m.deliveryCount++;
        m.state = MessageState.deferred;
        this.hooks.put(this, m);
        break;
      case 'deadLetter':
        this.moveToDeadLetter(m, {
          ...s.properties,
          ...(s.reason === undefined ? {} : { DeadLetterReason: s.reason }),
          ...(s.description === undefined ? {} : { DeadLetterErrorDescription: s.description }),
        });
        this.hooks.deadLettered(this, m, s.reason ?? '(no reason given)');
        break;
    }
    return 'settled';
  }

  private unlock(m: StoredMessage): void {
    if (m.lock) this.locks.delete(m.lock.token);
    m.lock = undefined;
  }

  private applyProperties(m: StoredMessage, properties: Record<string, unknown> | undefined): void {
    if (properties && Object.keys(properties).length > 0) {
      m.bytes = withApplicationProperties(m.bytes, properties);
    }
  }

  /** Put back an unlocked message where it belongs (deferred messages stay deferred). */
  private requeue(m: StoredMessage): void {
    if (m.state === MessageState.active) this.makeReady(m);
    this.hooks.changed(this);
  }

  /** Abandon and lock expiry: one more failed delivery, then the dead-letter queue at the limit. */
  private countFailedDelivery(m: StoredMessage): void {
    m.deliveryCount++;
    const max = this.settings.maxDeliveryCount;
    if (m.deliveryCount >= max && this.deadLetter) {
      this.moveToDeadLetter(m, {
        DeadLetterReason: DeadLetterReason.maxDeliveryCountExceeded,
        DeadLetterErrorDescription: `Message could not be consumed after ${max} delivery attempts.`,
      });
      this.hooks.deadLettered(this, m, DeadLetterReason.maxDeliveryCountExceeded);
      return;
    }
    this.hooks.put(this, m);
    this.requeue(m);
  }

  private moveToDeadLetter(m: StoredMessage, properties: Record<string, unknown>): void {
    const bytes = withApplicationProperties(m.bytes, properties);
    if (!this.deadLetter) {
      // Already in a dead-letter queue: there is nowhere further to go, so it stays, relabelled.
      this.unlock(m);
      m.bytes = bytes;
      this.hooks.put(this, m);
      this.requeue(m);
      return;
    }
    const moved: StoredMessage = {
      ...m,
      bytes,
      state: MessageState.active,
      deadLetterSource: this.name,
      lock: undefined,
    };
    // Persist the copy before the removal: a crash in between then duplicates rather than loses.
    this.deadLetter.restore(moved);
    this.deadLetter.hooks.put(this.deadLetter, moved);
    this.delete(m);
  }

  renewLock(token: string, now: number): number | undefined {
    const m = this.locks.get(token);
    if (!m?.lock) return undefined;
    m.lock.until = now + this.settings.lockDurationMs;
    this.lockExpiries.push({ at: m.lock.until, key: m.seq, token });
    return m.lock.until;
  }

  /**
   * Receives deferred messages by sequence number: locked with the given tokens (peek-lock) or
   * removed (receive-and-delete). All or nothing: a number that is not a deferred, unlocked
   * message here is reported back and nothing is taken.
   */
  takeDeferred(
    seqs: number[],
    now: number,
    lockTokens: string[] | undefined,
  ): { ok: true; messages: StoredMessage[] } | { ok: false; missing: number } {
    const found: StoredMessage[] = [];
    for (const seq of seqs) {
      const m = this.messages.get(seq);
      if (!m || m.state !== MessageState.deferred || m.lock) return { ok: false, missing: seq };
      found.push(m);
    }
    found.forEach((m, i) => {
      const token = lockTokens?.[i];
      if (token === undefined) this.delete(m);
      else this.lock(m, token, now);
    });
    return { ok: true, messages: found };
  }

  /** Cancels scheduled messages; numbers that are not (or no longer) scheduled are ignored. */
  cancelScheduled(seqs: number[]): void {
    for (const seq of seqs) {
      const m = this.messages.get(seq);
      if (m?.state === MessageState.scheduled) this.delete(m);
    }
    this.hooks.changed(this);
  }

  /** Up to `count` messages from `fromSeq` on, in sequence order, whatever their state; locks untouched. */
  peek(fromSeq: number, count: number, now: number): StoredMessage[] {
    const out: StoredMessage[] = [];
    for (const m of this.messages.values()) {
      if (m.seq < fromSeq) continue;
      if (m.expiresAt !== undefined && m.expiresAt <= now && !m.lock) continue;
      out.push(m);
    }
    out.sort((a, b) => a.seq - b.seq);
    return out.slice(0, count);
  }

  /** Expires locks and activates scheduled messages whose time has come. */
  tick(now: number): void {
    for (let d = this.lockExpiries.peek(); d && d.at <= now; d = this.lockExpiries.peek()) {
      this.lockExpiries.pop();
      const m = d.token === undefined ? undefined : this.locks.get(d.token);
      if (!m?.lock || m.lock.until !== d.at) continue;
      this.unlock(m);
      this.countFailedDelivery(m);
    }
    for (let d = this.scheduled.peek(); d && d.at <= now; d = this.scheduled.peek()) {
      this.scheduled.pop();
      const m = this.messages.get(d.key);
      if (m?.state !== MessageState.scheduled) continue;
      m.state = MessageState.active;
      this.hooks.put(this, m);
      this.makeReady(m);
      this.hooks.changed(this);
    }
  }

  /** The earliest lock expiry or scheduled time still pending, if any. */
  nextDeadline(): number | undefined {
    this.dropStale();
    const a = this.lockExpiries.peek()?.at;
    const b = this.scheduled.peek()?.at;
    if (a === undefined) return b;
    if (b === undefined) return a;
    return Math.min(a, b);
  }

  private dropStale(): void {
    for (let d = this.lockExpiries.peek(); d; d = this.lockExpiries.peek()) {
      const m = d.token === undefined ? undefined : this.locks.get(d.token);
      if (m?.lock?.until === d.at) break;
      this.lockExpiries.pop();
    }
    for (let d = this.scheduled.peek(); d; d = this.scheduled.peek()) {
      if (this.messages.get(d.key)?.state === MessageState.scheduled) break;
      this.scheduled.pop();
    }
  }
}
