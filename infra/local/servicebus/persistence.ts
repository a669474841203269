/**
 * What survives a restart: every change to a store is appended to the journal as it happens, and
 * replaying the journal rebuilds the stores and the duplicate-detection history. Records of
 * entities that do not exist (yet) are kept as orphans until `ensureQueue`/`ensureTopic` creates
 * them, so starting once with fewer entities configured does not lose the others' messages.
 */
import type { DuplicateDetector } from './duplicates';
import { Journal, type JournalRecord, type PutRecord } from './journal';
import type { MessageStore, StoredMessage } from './store';

/** The stores and detectors that replay fills and snapshots read, by lower-case entity name. */
export interface PersistedEntities {
  store(key: string): MessageStore | undefined;
  detector(key: string): DuplicateDetector | undefined;
  stores(): Iterable<MessageStore>;
  detectors(): Iterable<DuplicateDetector>;
}

/** Journal records for stores that do not exist (yet): kept until `ensureQueue` creates them. */
interface Orphan {
  name: string;
  nextSeq: number;
  messages: Map<number, PutRecord>;
  dups: Map<string, number>;
}

export class Persistence {
  private journal: Journal | undefined;
  /** Set while stores are rebuilt from records, so their changes are not journaled again. */
  private replaying = false;
  private readonly orphans = new Map<string, Orphan>();

  constructor(private readonly log: (msg: string) => void) {}

  async open(dataFile: string, entities: PersistedEntities): Promise<void> {
    const { journal, records } = await Journal.open(dataFile, this.log);
    this.replay(records, entities);
    journal.snapshot = () => this.snapshotRecords(entities);
    this.journal = journal;
    await journal.compact();
  }

  async close(): Promise<void> {
    await this.journal?.close();
  }

  /** Resolves when everything changed so far is on disk (immediately without a data file). */
  durable(): Promise<void> {
    return this.journal ? this.journal.durable() : Promise.resolve();
  }

  put(store: MessageStore, m: StoredMessage): void {
    if (!this.replaying) this.journal?.append(putRecord(store.name, m));
  }

  remove(store: MessageStore, seq: number): void {
    if (!this.replaying) this.journal?.append({ k: 'del', e: store.name, s: seq });
  }

  duplicate(entity: string, messageId: string, until: number): void {
    this.journal?.append({ k: 'dup', e: entity, id: messageId, u: until });
  }

  /** Gives a newly created store the messages persisted for it. */
  adoptStore(store: MessageStore): void {
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
    // Its dedup entries (if any) are adopted by adoptDuplicates; keep them findable until then.
    if (o.dups.size > 0) this.orphans.set(store.name.toLowerCase(), { ...o, messages: new Map() });
  }

  /** Gives a newly created detector the ids persisted for its entity. */
  adoptDuplicates(dedup: DuplicateDetector): void {
    const orphan = this.orphans.get(dedup.entity.toLowerCase());
    if (orphan) for (const [id, until] of orphan.dups) dedup.restore(id, until);
  }

  private replay(records: JournalRecord[], entities: PersistedEntities): void {
    this.replaying = true;
    const now = Date.now();
    try {
      for (const r of records) {
        const key = r.e.toLowerCase();
        if (r.k === 'dup') {
          if (r.u <= now) continue;
          const dedup = entities.detector(key);
          if (dedup) dedup.restore(r.id, r.u);
          else this.orphan(r.e).dups.set(r.id, r.u);
          continue;
        }
        const store = entities.store(key);
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
      this.log(
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

  private snapshotRecords(entities: PersistedEntities): JournalRecord[] {
    const now = Date.now();
    const out: JournalRecord[] = [];
    for (const store of entities.stores()) {
      out.push({ k: 'seq', e: store.name, n: store.nextSeq });
      for (const m of store.all()) out.push(putRecord(store.name, m));
    }
    for (const dedup of entities.detectors()) {
      for (const [id, u] of dedup.entries(now)) out.push({ k: 'dup', e: dedup.entity, id, u });
    }
    for (const o of this.orphans.values()) {
      if (entities.store(o.name.toLowerCase())) continue;
      out.push({ k: 'seq', e: o.name, n: o.nextSeq });
      out.push(...o.messages.values());
      if (!entities.detector(o.name.toLowerCase())) {
        for (const [id, u] of o.dups) if (u > now) out.push({ k: 'dup', e: o.name, id, u });
      }
    }
    return out;
  }
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
