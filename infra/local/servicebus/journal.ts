/**
 * Optional persistence for the local Service Bus: an append-only journal of JSON lines, fsynced in
 * groups, and rewritten as a compact snapshot at start-up, at close, and when it grows.
 *
 * A send is acknowledged only after the batch holding its record is on disk (`durable()`), so a
 * crash at any moment loses no acknowledged send. A torn last line (crash mid-write) is ignored.
 * Snapshots are written to a temporary file, fsynced and renamed over the journal, so the file on
 * disk is always either the old journal or the complete new snapshot.
 */
import { mkdir, open, readFile, rename, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { MessageState } from './store';

const PutRecord = z.object({
  k: z.literal('put'),
  /** Store (entity path). */
  e: z.string(),
  s: z.number().int(),
  id: z.string(),
  /** Enqueued at (ms). */
  t: z.number(),
  /** Visible at (ms). */
  v: z.number(),
  /** Expires at (ms). */
  x: z.number().optional(),
  st: z.enum([MessageState.active, MessageState.deferred, MessageState.scheduled]),
  dc: z.number().int(),
  src: z.string().optional(),
  /** The encoded AMQP message, base64. */
  m: z.string(),
});
const DelRecord = z.object({ k: z.literal('del'), e: z.string(), s: z.number().int() });
/** A message-id seen by duplicate detection, remembered until `u`. */
const DupRecord = z.object({ k: z.literal('dup'), e: z.string(), id: z.string(), u: z.number() });
/** The next sequence number of a store (kept so numbers never go back after a restart). */
const SeqRecord = z.object({ k: z.literal('seq'), e: z.string(), n: z.number().int() });

export const JournalRecord = z.discriminatedUnion('k', [PutRecord, DelRecord, DupRecord, SeqRecord]);
export type JournalRecord = z.infer<typeof JournalRecord>;
export type PutRecord = z.infer<typeof PutRecord>;

// Message bodies may carry execution parameters: readable by the owner only.
const FILE_MODE = 0o600;

// Compact when the journal has grown past this and past four times the last snapshot.
const COMPACT_MIN_BYTES = 8 * 1024 * 1024;

interface Waiter {
  upTo: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class Journal {
  private pending: string[] = [];
  private appended = 0;
  private durableUpTo = 0;
  private waiters: Waiter[] = [];
  /** Every file operation runs on this chain, one at a time. */
  private chain: Promise<void> = Promise.resolve();
  private flushScheduled = false;
  private bytesSinceSnapshot = 0;
  private lastSnapshotBytes = 0;
  private closed = false;
  /** Supplies the full current state when the journal is compacted. */
  snapshot: () => JournalRecord[] = () => [];

  private constructor(
    private readonly path: string,
    private handle: FileHandle,
    private readonly log: (msg: string) => void,
  ) {}

  /** Opens (creating if needed) the journal and returns the records it holds, in order. */
  static async open(
    path: string,
    log: (msg: string) => void,
  ): Promise<{ journal: Journal; records: JournalRecord[] }> {
    await mkdir(dirname(path), { recursive: true });
    const records = parseJournal(await readIfExists(path), path, log);
    const handle = await open(path, 'a', FILE_MODE);
    return { journal: new Journal(path, handle, log), records };
  }

  append(record: JournalRecord): void {
    if (this.closed) return;
    this.pending.push(JSON.stringify(record) + '\n');
    this.appended++;
    this.kick();
  }

  /** Resolves once every record appended so far is on disk. */
  durable(): Promise<void> {
    const upTo = this.appended;
    if (this.durableUpTo >= upTo) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiters.push({ upTo, resolve, reject });
      this.kick();
    });
  }

  /** Replaces the journal by a snapshot of the current state (used at start-up). */
  compact(): Promise<void> {
    return this.serialize(() => this.writeSnapshot());
  }

  /** Flushes, leaves a compact snapshot behind, and closes the file. */
  close(): Promise<void> {
    if (this.closed) return this.chain;
    this.closed = true;
    return this.serialize(async () => {
      try {
        await this.writeSnapshot();
      } finally {
        await this.handle.close();
      }
    });
  }

  private serialize(op: () => Promise<void>): Promise<void> {
    const next = this.chain.then(op);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private kick(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // setImmediate lets the sends that arrived in the same I/O turn share one fsync.
    setImmediate(() => {
      this.flushScheduled = false;
      void this.serialize(() => this.drain());
    });
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      if (this.shouldCompact()) {
        try {
          await this.writeSnapshot();
        } catch (e) {
          // Keep journaling; try compacting again only after as much growth again.
          this.log(`servicebus: journal compaction failed: ${e instanceof Error ? e.message : String(e)}`);
          this.lastSnapshotBytes = this.bytesSinceSnapshot;
        }
        continue;
      }
      const batch = this.pending.join('');
      const upTo = this.appended;
      this.pending = [];
      try {
        await this.handle.write(batch);
        await this.handle.datasync();
        this.bytesSinceSnapshot += batch.length;
        this.markDurable(upTo);
      } catch (e) {
        this.fail(e, upTo);
      }
    }
  }

  private fail(e: unknown, upTo: number): void {
    this.log(`servicebus: journal write failed: ${e instanceof Error ? e.message : String(e)}`);
    const failed = this.waiters.filter((w) => w.upTo <= upTo);
    this.waiters = this.waiters.filter((w) => w.upTo > upTo);
    for (const w of failed) w.reject(e);
  }

  private markDurable(upTo: number): void {
    this.durableUpTo = Math.max(this.durableUpTo, upTo);
    const done = this.waiters.filter((w) => w.upTo <= this.durableUpTo);
    this.waiters = this.waiters.filter((w) => w.upTo > this.durableUpTo);
    for (const w of done) w.resolve();
  }

  private shouldCompact(): boolean {
    return (
      this.bytesSinceSnapshot > COMPACT_MIN_BYTES && this.bytesSinceSnapshot > 4 * this.lastSnapshotBytes
    );
  }

  private async writeSnapshot(): Promise<void> {
    // Memory already reflects every record appended so far, so the snapshot supersedes them.
    const text = this.snapshot()
      .map((r) => JSON.stringify(r) + '\n')
      .join('');
    const upTo = this.appended;
    const superseded = this.pending;
    this.pending = [];
    const tmp = `${this.path}.tmp`;
    try {
      const out = await open(tmp, 'w', FILE_MODE);
      try {
        await out.write(text);
        await out.datasync();
      } finally {
        await out.close();
      }
      await rename(tmp, this.path);
    } catch (e) {
      // The old journal is intact: keep appending the superseded records to it.
      this.pending = superseded.concat(this.pending);
      throw e;
    }
    await syncDirectory(dirname(this.path));
    await this.handle.close();
    this.handle = await open(this.path, 'a', FILE_MODE);
    this.bytesSinceSnapshot = 0;
    this.lastSnapshotBytes = text.length;
    this.markDurable(upTo);
  }
}

async function readIfExists(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if (e instanceof Error && 'code' in e && e.code === 'ENOENT') return '';
    throw e;
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Parses journal text; a bad last line is a torn write and is dropped, any other bad line is logged. */
export function parseJournal(text: string, path: string, log: (msg: string) => void): JournalRecord[] {
  const lines = text.split('\n');
  const records: JournalRecord[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const isLast = lines.slice(i + 1).every((l) => l.trim() === '');
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      if (!isLast) log(`servicebus: ${path}:${i + 1}: unreadable journal line skipped`);
      return;
    }
    const result = JournalRecord.safeParse(parsed);
    if (result.success) records.push(result.data);
    else log(`servicebus: ${path}:${i + 1}: invalid journal record skipped`);
  });
  return records;
}
