/**
 * The audit's copies outside the table, in Blob storage (meant to be a container under a locked
 * time-based retention policy with protected append writes, so nothing here can be changed or
 * removed once written):
 *
 * - `anchors/yyyy/mm/dd.jsonl`: an append blob per UTC day, one line per anchor with every chain's
 *   head, and (version 2) the declaration that every row after those heads is keyed. Verification
 *   holds the table against these.
 * - `audit/yyyy/mm/dd.jsonl` and `audit/yyyy/mm/dd.manifest.json`: a finished day's rows and what
 *   they must be (row count, each chain's first and last row, SHA-256). The manifest is written
 *   last and only once, so its presence means the day is exported; a run that stopped between the
 *   two finds the data blob and proves it equal to a fresh export before writing the manifest.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ContainerClient } from '@azure/storage-blob';
import { z } from 'zod';
import type { Blobs } from '#shared/adapters/blobs';
import { statusOf, unavailable } from '#shared/adapters/tables';
import { DomainError } from '#shared/domain/errors';
import type { ChainHead } from './chains';
import { createManifestBuilder, ManifestSchema, type Manifest } from './export-file';
import { CONTENT_TYPES, ExportFormat, toJsonLine } from './format';
import type { AuditRecord } from './record';
import type { AnchoredHead } from './verify';

export interface Anchor {
  anchoredAt: string;
  /** The blob the anchor line was appended to. */
  blob: string;
  heads: ChainHead[];
}

export interface DayExport {
  day: string;
  /** `exported` now, or `exists` from an earlier run (nothing was written). */
  status: 'exported' | 'exists';
  blob: string;
  manifestBlob: string;
  manifest: Manifest;
}

const HeadSchema = z.strictObject({
  chain: z.number().int().min(0),
  sequence: z.number().int().min(1),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  at: z.iso.datetime(),
});

/** The seal a version 2 anchor line declares for every later row. */
export const KEYED_SEAL = 'hmac-sha256';

export const AnchorLineSchema = z.discriminatedUnion('v', [
  /** Written before keyed chains: heads only. */
  z.strictObject({ v: z.literal(1), anchoredAt: z.iso.datetime(), heads: z.array(HeadSchema) }),
  /**
   * Every chain's head, and a declaration by the writer, which seals every row with the chain key:
   * on each of chains 0…`chains`-1, every row after its head here (after the genesis, for a chain
   * with no head here) is keyed. Verification then refuses a plain row there, so someone without
   * the key cannot extend even a chain that has no keyed row yet.
   */
  z.strictObject({
    v: z.literal(2),
    anchoredAt: z.iso.datetime(),
    seal: z.literal(KEYED_SEAL),
    chains: z.number().int().min(1),
    heads: z.array(HeadSchema),
  }),
]);
export type AnchorLine = z.output<typeof AnchorLineSchema>;

/** What a set of anchor lines tells a verifier. */
export interface AnchorsRead {
  heads: AnchoredHead[];
  /** Per chain, the lowest sequence after which a line declared every row keyed. */
  keyedAfter: Map<number, number>;
  /** Lines that are not anchor lines (each is reported: someone wrote to the archive). */
  unreadable: number;
}

/** Folds anchor lines (JSONL text, blank lines ignored) into what verification needs. */
export function collectAnchors(lines: Iterable<string>, into?: AnchorsRead): AnchorsRead {
  const read = into ?? { heads: [], keyedAfter: new Map<number, number>(), unreadable: 0 };
  for (const line of lines) {
    if (line.trim() === '') continue;
    const parsed = parseAnchorLine(line);
    if (!parsed) {
      read.unreadable += 1;
      continue;
    }
    read.heads.push(...parsed.heads);
    if (parsed.v === 2) {
      const listed = new Map(parsed.heads.map((h) => [h.chain, h.sequence]));
      for (let chain = 0; chain < parsed.chains; chain++) {
        const after = listed.get(chain) ?? 0;
        // The earliest declaration wins: a later line (even a forged one) cannot lift it.
        const known = read.keyedAfter.get(chain);
        if (known === undefined || after < known) read.keyedAfter.set(chain, after);
      }
    }
  }
  return read;
}

/** How long after midnight a day counts as over: rows of instances whose clocks lag get time to land. */
export const DAY_SETTLE_MS = 10 * 60_000;
const DAY_MS = 86_400_000;
const CHUNK_BYTES = 64 * 1024;
const ANCHOR_READS_IN_PARALLEL = 8;

export interface ArchiveDeps {
  blobs: Blobs | undefined;
  container: string;
  now: () => Date;
  /** How many chains the log writes (all of them keyed from now on, as anchor lines declare). */
  chains: number;
  exportRows: (range: { from: Date; to: Date }) => AsyncIterable<AuditRecord>;
  heads: () => Promise<ChainHead[]>;
  /** Told the heads just anchored (the log refreshes its hints with them). */
  onHeads: (heads: readonly ChainHead[]) => Promise<void>;
}

export interface Archive {
  /** Appends a line with `heads` (every chain's head, read now when not given). */
  anchor(heads?: ChainHead[]): Promise<Anchor>;
  exportDay(day: string): Promise<DayExport>;
  /**
   * What the anchors written from the day of `from` (from the first, without `from`) to the day
   * after `to` (to the last, without `to`) say. A head older than `to` is first anchored within a
   * minute of its row, or by the next daily archive at the latest, so later days add nothing.
   */
  anchoredHeads(from?: Date, to?: Date): Promise<AnchorsRead>;
}

function dayPath(iso: string): string {
  return `${iso.slice(0, 4)}/${iso.slice(5, 7)}/${iso.slice(8, 10)}`;
}

export function anchorBlobName(at: Date): string {
  return `anchors/${dayPath(at.toISOString())}.jsonl`;
}

export function dayBlobNames(day: string): { data: string; manifest: string } {
  return { data: `audit/${dayPath(day)}.jsonl`, manifest: `audit/${dayPath(day)}.manifest.json` };
}

/** The UTC day `YYYY-MM-DD` as [from, to), or a 400 when it is not a date. */
export function dayRange(day: string): { from: Date; to: Date } {
  const from = new Date(`${day}T00:00:00.000Z`);
  if (
    !/^\d{4}-\d{2}-\d{2}$/.test(day) ||
    Number.isNaN(from.getTime()) ||
    from.toISOString().slice(0, 10) !== day
  ) {
    throw new DomainError(
      'INVALID_INPUT',
      `Invalid day: ${JSON.stringify(day)} is not a UTC date (YYYY-MM-DD).`,
      {
        errors: [{ pointer: '#/day', detail: 'must be a date YYYY-MM-DD' }],
      },
    );
  }
  return { from, to: new Date(from.getTime() + DAY_MS) };
}

async function text(container: ContainerClient, name: string): Promise<string> {
  return (await container.getBlobClient(name).downloadToBuffer()).toString('utf8');
}

export function createArchive(deps: ArchiveDeps): Archive {
  async function container(): Promise<ContainerClient> {
    if (!deps.blobs) {
      throw new DomainError('UNAVAILABLE', 'Blob storage is not configured for the audit archive.');
    }
    return deps.blobs.container(deps.container);
  }

  async function anchor(given?: ChainHead[]): Promise<Anchor> {
    const heads = [...(given ?? (await deps.heads()))].sort((a, b) => a.chain - b.chain);
    const c = await container();
    const now = deps.now();
    const anchoredAt = now.toISOString();
    const blob = anchorBlobName(now);
    const content: AnchorLine = { v: 2, anchoredAt, seal: KEYED_SEAL, chains: deps.chains, heads };
    const line = `${JSON.stringify(content)}\n`;
    try {
      const client = c.getAppendBlobClient(blob);
      await client.createIfNotExists({ blobHTTPHeaders: { blobContentType: CONTENT_TYPES.jsonl } });
      await client.appendBlock(line, Buffer.byteLength(line, 'utf8'));
    } catch (e) {
      throw unavailable(e);
    }
    // After the line, not before: the anchor lands a few round trips sooner (appends go on meanwhile).
    await deps.onHeads(heads);
    return { anchoredAt, blob, heads };
  }

  async function anchoredHeads(from?: Date, to?: Date): Promise<AnchorsRead> {
    const read: AnchorsRead = { heads: [], keyedAfter: new Map(), unreadable: 0 };
    if (!deps.blobs) return read;
    const c = await container();
    const first = from ? anchorBlobName(from) : '';
    const last = to ? anchorBlobName(new Date(to.getTime() + DAY_MS)) : undefined;
    try {
      const names: string[] = [];
      for await (const blob of c.listBlobsFlat({ prefix: 'anchors/' })) {
        if (blob.name >= first && (last === undefined || blob.name <= last)) names.push(blob.name);
      }
      for (let i = 0; i < names.length; i += ANCHOR_READS_IN_PARALLEL) {
        const texts = await Promise.all(names.slice(i, i + ANCHOR_READS_IN_PARALLEL).map((n) => text(c, n)));
        collectAnchors(
          texts.flatMap((t) => t.split('\n')),
          read,
        );
      }
      return read;
    } catch (e) {
      throw unavailable(e);
    }
  }

  /** Streams the day's rows as JSONL chunks into `sink` (upload or hash), building the manifest. */
  function dayStream(
    range: { from: Date; to: Date },
    builder: ReturnType<typeof createManifestBuilder>,
  ): Readable {
    async function* chunks(): AsyncGenerator<Buffer> {
      let pending: string[] = [];
      let size = 0;
      for await (const record of deps.exportRows(range)) {
        const line = toJsonLine(record);
        builder.add(record, line);
        pending.push(line);
        size += line.length;
        if (size >= CHUNK_BYTES) {
          yield Buffer.from(pending.join(''), 'utf8');
          pending = [];
          size = 0;
        }
      }
      if (pending.length > 0) yield Buffer.from(pending.join(''), 'utf8');
    }
    return Readable.from(chunks());
  }

  async function exportDay(day: string): Promise<DayExport> {
    const range = dayRange(day);
    const now = deps.now();
    if (now.getTime() < range.to.getTime() + DAY_SETTLE_MS) {
      throw new DomainError(
        'NOT_YET_DUE',
        `The day ${day} is not over yet; it can be exported from ${new Date(range.to.getTime() + DAY_SETTLE_MS).toISOString()}.`,
      );
    }
    const names = dayBlobNames(day);
    const c = await container();
    const meta = { day, from: range.from.toISOString(), to: range.to.toISOString(), blob: names.data };
    const existing = await readManifest(c, names.manifest);
    if (existing)
      return { day, status: 'exists', blob: names.data, manifestBlob: names.manifest, manifest: existing };

    const builder = createManifestBuilder();
    const data = c.getBlockBlobClient(names.data);
    let uploaded = false;
    try {
      if (!(await data.exists())) {
        await data.uploadStream(dayStream(range, builder), 4 * 1024 * 1024, 2, {
          conditions: { ifNoneMatch: '*' },
          blobHTTPHeaders: { blobContentType: CONTENT_TYPES[ExportFormat.Jsonl] },
        });
        uploaded = true;
      }
    } catch (e) {
      const status = statusOf(e);
      if (status !== 409 && status !== 412) throw unavailable(e);
    }
    let manifest: Manifest;
    if (uploaded) {
      manifest = builder.build({ ...meta, exportedAt: deps.now().toISOString() });
    } else {
      // The data blob was there already (an earlier run stopped before its manifest, or a parallel
      // run won): it cannot be replaced, so it must be exactly what the table holds for that day.
      const fresh = createManifestBuilder();
      for await (const _chunk of dayStream(range, fresh)) {
        // Only the manifest (digest, counts) is wanted; the bytes are dropped as they come.
      }
      manifest = fresh.build({ ...meta, exportedAt: deps.now().toISOString() });
      const stored = await digestOf(c, names.data);
      if (stored !== manifest.sha256) {
        throw new DomainError(
          'CONFLICT',
          `The export ${names.data} exists and differs from the audit table; run verify.`,
        );
      }
    }
    const body = `${JSON.stringify(manifest, null, 2)}\n`;
    try {
      await c.getBlockBlobClient(names.manifest).upload(body, Buffer.byteLength(body, 'utf8'), {
        conditions: { ifNoneMatch: '*' },
        blobHTTPHeaders: { blobContentType: 'application/json' },
      });
    } catch (e) {
      const status = statusOf(e);
      if (status !== 409 && status !== 412) throw unavailable(e);
      const written = await readManifest(c, names.manifest);
      if (written)
        return { day, status: 'exists', blob: names.data, manifestBlob: names.manifest, manifest: written };
      throw unavailable(e);
    }
    return { day, status: 'exported', blob: names.data, manifestBlob: names.manifest, manifest };
  }

  return { anchor, exportDay, anchoredHeads };
}

export function parseAnchorLine(line: string): AnchorLine | undefined {
  try {
    const parsed = AnchorLineSchema.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

async function readManifest(c: ContainerClient, name: string): Promise<Manifest | undefined> {
  let body: string;
  try {
    body = await text(c, name);
  } catch (e) {
    if (statusOf(e) === 404) return undefined;
    throw unavailable(e);
  }
  try {
    return ManifestSchema.parse(JSON.parse(body));
  } catch (e) {
    throw new DomainError('CONFLICT', `The manifest ${name} is unreadable; the archive needs attention.`, {
      cause: e,
    });
  }
}

async function digestOf(c: ContainerClient, name: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    const download = await c.getBlobClient(name).download();
    const body = download.readableStreamBody;
    if (body) for await (const chunk of body) hash.update(chunk as Buffer);
  } catch (e) {
    throw unavailable(e);
  }
  return hash.digest('hex');
}
