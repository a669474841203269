/**
 * One audit row as stored, exported and verified, and the hash chain that seals it.
 *
 * The record is the stored columns verbatim (JSON text stays text), so an auditor who recomputes a
 * hash from a CSV cell, a Storage Explorer column or a JSONL field gets the same bytes the writer
 * hashed. Pure: no I/O, no clock.
 */
import { createHash, createHmac } from 'node:crypto';
import { z } from 'zod';
import { KEY_ID, chainKeyOf, type ChainKey, type KeyRing } from './keys';
import { AuditAction, AuditOutcome } from './types';

/**
 * Version of the canonical form, which also says how the row was sealed; a new field set or seal
 * means a new version, verified by its own rules. Every version stays verifiable: rows are never
 * rewritten, so a log holds the versions of every release that wrote it.
 */
export const RecordVersion = {
  /** `hash` = SHA-256(canonical ‖ prevHash): anyone can compute it (rows written before keyed chains). */
  Plain: 1,
  /**
   * `hash` = HMAC-SHA256(chain key, canonical ‖ prevHash), and `kid` names the chain key: only a
   * holder of that key can seal one, and rows sealed under a key since rotated stay verifiable.
   */
  Keyed: 2,
} as const;
export type RecordVersion = (typeof RecordVersion)[keyof typeof RecordVersion];

/** `prevHash` of the first row of every chain. */
export const GENESIS_HASH = '0'.repeat(64);

export const ActorKind = { User: 'user', System: 'system' } as const;
export type ActorKind = (typeof ActorKind)[keyof typeof ActorKind];

/** Longest value kept per column (characters; `detail` in UTF-8 bytes). Longer values are cut, marked. */
export const COLUMN_LIMITS = {
  id: 64,
  actorId: 256,
  actorUpn: 256,
  actorRoles: 1024,
  tenantId: 64,
  requestId: 128,
  task: 600,
  reason: 2000,
  correlationId: 128,
  clientIp: 64,
  userAgent: 512,
} as const;
export const MAX_DETAIL_BYTES = 16 * 1024;

/** Highest chain number a partition key can carry (two digits). */
export const MAX_CHAINS = 100;

export interface AuditRecord {
  v: RecordVersion;
  /** Keyed rows only: the id of the chain key that sealed the row (`chainKeyId`), so a key ring can pick it. */
  kid?: string | undefined;
  /** The caller's id for the event (deterministic for request lifecycle events), else a random UUID; what `append` returns. */
  id: string;
  /** Which chain the row belongs to, and its place in it (1, 2, 3, … without gaps). */
  chain: number;
  sequence: number;
  /** When, by the server's clock (UTC, milliseconds), never earlier than the previous row of its chain. */
  at: string;
  action: AuditAction;
  outcome: AuditOutcome;
  actorKind: ActorKind;
  actorId: string;
  actorUpn: string;
  /** JSON array text, e.g. `["PAM.Admin"]`. */
  actorRoles: string;
  tenantId?: string | undefined;
  requestId?: string | undefined;
  task?: string | undefined;
  reason?: string | undefined;
  /** JSON object text (keys sorted, secrets digested), at most MAX_DETAIL_BYTES. */
  detail?: string | undefined;
  correlationId?: string | undefined;
  clientIp?: string | undefined;
  userAgent?: string | undefined;
  prevHash: string;
  hash: string;
}

/** Every column, in the order exports write them. */
export const RECORD_FIELDS = [
  'v',
  'kid',
  'id',
  'chain',
  'sequence',
  'at',
  'action',
  'outcome',
  'actorKind',
  'actorId',
  'actorUpn',
  'actorRoles',
  'tenantId',
  'requestId',
  'task',
  'reason',
  'detail',
  'correlationId',
  'clientIp',
  'userAgent',
  'prevHash',
  'hash',
] as const satisfies readonly (keyof AuditRecord)[];
export type RecordField = (typeof RECORD_FIELDS)[number];

/** The columns before keyed rows named their key: the CSV header of exports written by earlier releases. */
export const LEGACY_RECORD_FIELDS = RECORD_FIELDS.filter((f) => f !== 'kid');

/** The optional text columns: absent rather than empty. */
export const OPTIONAL_TEXT_FIELDS = [
  'tenantId',
  'requestId',
  'task',
  'reason',
  'detail',
  'correlationId',
  'clientIp',
  'userAgent',
] as const satisfies readonly RecordField[];
export type OptionalTextField = (typeof OPTIONAL_TEXT_FIELDS)[number];

/**
 * The columns the hash covers: everything but the two hashes, sorted (the canonical key order).
 * Plain rows predate `kid` and are hashed without it, exactly as they were written.
 */
const KEYED_HASHED_FIELDS = RECORD_FIELDS.filter((f) => f !== 'hash' && f !== 'prevHash').sort();
const PLAIN_HASHED_FIELDS = KEYED_HASHED_FIELDS.filter((f) => f !== 'kid');

const HEX64 = /^[0-9a-f]{64}$/;
/** `toISOString()` output for years 0000–9999: the only time format stored or hashed. */
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * Canonical serialization of a record: a JSON object of exactly the hashed columns, keys sorted,
 * absent optional columns as null, no whitespace, UTF-8. Deterministic because JSON.stringify of a
 * string or an integer is.
 */
export function canonicalRecord(record: Omit<AuditRecord, 'hash' | 'prevHash'>): string {
  const parts: string[] = [];
  for (const field of record.v === RecordVersion.Plain ? PLAIN_HASHED_FIELDS : KEYED_HASHED_FIELDS) {
    parts.push(`${JSON.stringify(field)}:${JSON.stringify(record[field] ?? null)}`);
  }
  return `{${parts.join(',')}}`;
}

/**
 * hash = SHA-256(canonical ‖ prevHash), or HMAC-SHA256 under `chainKey` when one is given, both over
 * UTF-8 (prevHash as its 64 hex characters).
 */
export function chainHash(canonical: string, prevHash: string, chainKey?: Uint8Array): string {
  const digest = chainKey ? createHmac('sha256', chainKey) : createHash('sha256');
  return digest.update(canonical, 'utf8').update(prevHash, 'utf8').digest('hex');
}

export type RecordContent = Omit<
  AuditRecord,
  'v' | 'kid' | 'chain' | 'sequence' | 'at' | 'prevHash' | 'hash'
>;

export interface ChainPosition {
  chain: number;
  sequence: number;
  at: string;
  prevHash: string;
}

/**
 * Places content at a position of a chain and seals it: keyed (version 2) under `chainKey`, naming
 * it by its id, the way the log writes every row; without a key, plain (version 1), the way rows
 * were written before keyed chains (tests and benchmarks seed old-style logs with it).
 */
export function sealRecord(
  content: RecordContent,
  position: ChainPosition,
  chainKey?: Uint8Array | ChainKey,
): AuditRecord {
  if (!chainKey) {
    const plain: Omit<AuditRecord, 'hash'> = { v: RecordVersion.Plain, ...content, ...position };
    return { ...plain, hash: chainHash(canonicalRecord(plain), position.prevHash) };
  }
  const { kid, key } = chainKey instanceof Uint8Array ? chainKeyOf(chainKey) : chainKey;
  const keyed: Omit<AuditRecord, 'hash'> = { v: RecordVersion.Keyed, kid, ...content, ...position };
  return { ...keyed, hash: chainHash(canonicalRecord(keyed), position.prevHash, key) };
}

/**
 * True when the record's hash is what its content and prevHash say it must be; undefined for a
 * keyed row when no chain key is given (nothing can be said about it without the key).
 */
export function hashMatches(record: AuditRecord, chainKey?: Uint8Array): boolean | undefined {
  if (record.v === RecordVersion.Plain)
    return chainHash(canonicalRecord(record), record.prevHash) === record.hash;
  if (!chainKey) return undefined;
  return chainHash(canonicalRecord(record), record.prevHash, chainKey) === record.hash;
}

/**
 * What a key ring says of a row's seal: it matches; it does not; the row names a key the ring does
 * not hold (a retired key left out of the ring, or a key ZSA never had); or, with an empty ring, a
 * keyed row cannot be checked at all.
 */
export type SealCheck = 'match' | 'mismatch' | 'unknown-key' | 'unchecked';

export function checkSeal(record: AuditRecord, ring: KeyRing): SealCheck {
  if (record.v === RecordVersion.Plain) return hashMatches(record) ? 'match' : 'mismatch';
  if (ring.size === 0) return 'unchecked';
  const key = record.kid === undefined ? undefined : ring.get(record.kid);
  if (!key) return 'unknown-key';
  return hashMatches(record, key) ? 'match' : 'mismatch';
}

/** Rows per partition of a chain. */
export const BUCKET_ROWS = 1000;
const BUCKET_DIGITS = 8;

export function bucketOf(sequence: number): number {
  return Math.floor((sequence - 1) / BUCKET_ROWS);
}

/**
 * `c03-00000042`: the chain, then the block of BUCKET_ROWS sequences. Derived from the sequence
 * alone, never from the time, so two writers claiming the same sequence of a chain always collide
 * on the same key and the conditional insert lets exactly one win: a chain cannot fork.
 */
export function partitionKeyOf(chain: number, sequence: number): string {
  return bucketKeyOf(chain, bucketOf(sequence));
}

export function bucketKeyOf(chain: number, bucket: number): string {
  return `${chainPrefixOf(chain)}${String(bucket).padStart(BUCKET_DIGITS, '0')}`;
}

/** Every partition of a chain starts with this prefix (and sorts below `chainEndOf`). */
export function chainPrefixOf(chain: number): string {
  return `c${String(chain).padStart(2, '0')}-`;
}

/** Exclusive upper bound of a chain's partition keys (`.` sorts right after `-`). */
export function chainEndOf(chain: number): string {
  return `c${String(chain).padStart(2, '0')}.`;
}

export const ROW_KEY_DIGITS = 12;

export function rowKeyOf(sequence: number): string {
  return String(sequence).padStart(ROW_KEY_DIGITS, '0');
}

/** Normalizes a stored DateTime (3 or 7 fractional digits) to `toISOString` form; undefined if it has sub-millisecond precision or is malformed. */
export function normalizeInstant(value: string): string | undefined {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,7}))?Z$/.exec(value);
  if (!match?.[1]) return undefined;
  const fraction = (match[2] ?? '').padEnd(7, '0');
  if (fraction.slice(3) !== '0000') return undefined;
  const normalized = `${match[1]}.${fraction.slice(0, 3)}Z`;
  const parsed = new Date(normalized);
  return Number.isNaN(parsed.getTime()) || parsed.toISOString() !== normalized ? undefined : normalized;
}

const actions = Object.values(AuditAction) as [AuditAction, ...AuditAction[]];
const outcomes = Object.values(AuditOutcome) as [AuditOutcome, ...AuditOutcome[]];

const text = (max: number) => z.string().min(1).max(max);
const optionalText = (max: number) => text(max).optional();

/**
 * A record as read from an export (JSONL object or CSV row): exactly the columns, each with its type.
 * Stored rows are checked with the same rules by the entity mapper.
 */
export const AuditRecordSchema = z
  .strictObject({
    v: z.union([z.literal(RecordVersion.Plain), z.literal(RecordVersion.Keyed)]).meta({
      description:
        'How the row is sealed: 1 = SHA-256 (rows written before keyed chains), 2 = HMAC-SHA256 under the audit chain key that `kid` names.',
    }),
    kid: z.string().regex(KEY_ID, 'must be 16 lower-case hex digits').optional().meta({
      description:
        'Version 2 only: the id of the chain key that sealed the row (first 16 hex digits of HMAC-SHA256(chain key, "zsa audit key id v1")).',
    }),
    id: text(COLUMN_LIMITS.id),
    chain: z
      .number()
      .int()
      .min(0)
      .max(MAX_CHAINS - 1),
    sequence: z
      .number()
      .int()
      .min(1)
      .max(10 ** ROW_KEY_DIGITS - 1),
    at: z.string().regex(ISO_MS, 'must be an ISO 8601 UTC instant with milliseconds'),
    action: z.enum(actions),
    outcome: z.enum(outcomes),
    actorKind: z.enum([ActorKind.User, ActorKind.System]),
    actorId: text(COLUMN_LIMITS.actorId),
    actorUpn: text(COLUMN_LIMITS.actorUpn),
    actorRoles: text(COLUMN_LIMITS.actorRoles),
    tenantId: optionalText(COLUMN_LIMITS.tenantId),
    requestId: optionalText(COLUMN_LIMITS.requestId),
    task: optionalText(COLUMN_LIMITS.task),
    reason: optionalText(COLUMN_LIMITS.reason),
    detail: z
      .string()
      .min(1)
      .refine((d) => Buffer.byteLength(d, 'utf8') <= MAX_DETAIL_BYTES, 'is longer than the detail limit')
      .optional(),
    correlationId: optionalText(COLUMN_LIMITS.correlationId),
    clientIp: optionalText(COLUMN_LIMITS.clientIp),
    userAgent: optionalText(COLUMN_LIMITS.userAgent),
    prevHash: z.string().regex(HEX64, 'must be 64 lower-case hex digits'),
    hash: z.string().regex(HEX64, 'must be 64 lower-case hex digits'),
  })
  .superRefine((record, ctx) => {
    // The key id is hashed with the row, so neither adding nor removing it can go unnoticed; a row
    // that has one without being keyed (or the reverse) is not a row any release wrote.
    if ((record.v === RecordVersion.Keyed) !== (record.kid !== undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['kid'],
        message: record.kid === undefined ? 'a keyed row must name its key' : 'a plain row names no key',
      });
    }
  }) satisfies z.ZodType<AuditRecord>;

export function isAuditAction(value: string): value is AuditAction {
  return (actions as readonly string[]).includes(value);
}

export function isAuditOutcome(value: string): value is AuditOutcome {
  return (outcomes as readonly string[]).includes(value);
}

export function isActorKind(value: string): value is ActorKind {
  return value === ActorKind.User || value === ActorKind.System;
}

export function isHex64(value: string): boolean {
  return HEX64.test(value);
}
