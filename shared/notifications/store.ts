/**
 * What notifications keep in Table Storage. Row ↔ record mapping lives only here.
 *
 * Table `DecisionTokens`: PartitionKey = request id, RowKey = `encodeKey(approver)` for the
 * request's first stage, `encodeKey(approver)` + `!s<stage>` for a later stage and
 * `encodeKey(approver)` + `!x<extension>s<stage>` for an extension's stage (an encoded key never
 * holds `!s` or `!x`, so the suffix cannot be mistaken for part of a name). So an approver has
 * exactly one row per request, stage and extension, and links minted before stages keep their row.
 * The row holds the hash of the approver's current link, what it decides (`Stage`, `ExtensionId`;
 * absent: the request's first stage) and its life: `live` → `claimed` (a decision is being
 * recorded) → `used`. It is the compare-and-swap point both for minting (a re-run `notify` never
 * leaves two live links for one approver and stage) and for consuming (one POST wins).
 *
 * Table `NotificationSchedules`: PartitionKey = request id, RowKey = the event (`expiringSoon`): the
 * sequence numbers of scheduled messages, so that a revoke can cancel them.
 */
import { createHash } from 'node:crypto';
import { odata, type TableClient } from '@azure/data-tables';
import { z } from 'zod';
import { readEntity, statusOf, unavailable, type Tables } from '#shared/adapters/tables';
import { encodeKey, MAX_KEY_LENGTH, normalizeUpn } from '#shared/domain/names';
import { MAX_STAGES } from '#shared/domain/stages';
import { Timestamp } from '#shared/domain/time';
import { corruptRow } from '#shared/admin/store';
import { hashToken, mintToken, type ParsedToken } from './tokens';

export const TokenState = {
  /** The link works. */
  live: 'live',
  /** A POST won the link and is recording the decision; see `CLAIM_TIMEOUT_MS`. */
  claimed: 'claimed',
  /** Spent: the decision was recorded or refused; the link never works again. */
  used: 'used',
} as const;
export type TokenState = (typeof TokenState)[keyof typeof TokenState];

/**
 * A claim older than this belongs to a POST that died between claiming and recording: the link may
 * be claimed again (if the approver's decision is indeed not on the request). Far longer than a
 * decision takes, so a slow POST in flight is never overtaken.
 */
export const CLAIM_TIMEOUT_MS = 2 * 60_000;

const TokenRow = z.object({
  partitionKey: z.string(),
  rowKey: z.string(),
  etag: z.string(),
  Approver: z.string(),
  // Absent on links minted before they were bound to the approver's stable key.
  ApproverId: z.string().optional(),
  // Absent on links minted before stages and extensions: the request's first stage.
  Stage: z
    .int()
    .min(0)
    .max(MAX_STAGES - 1)
    .optional(),
  ExtensionId: z
    .string()
    .regex(/^[1-9][0-9]?$/)
    .optional(),
  Hash: z.string().regex(/^[0-9a-f]{64}$/),
  Generation: z.number().int().min(1),
  Sent: z.boolean(),
  State: z.enum(TokenState),
  ExpiresAt: Timestamp,
  ClaimedAt: z.string(),
  Outcome: z.string(),
  UsedAt: z.string(),
});

/** What a link decides: a stage of the request, or a stage of one of its extensions. */
export interface LinkBinding {
  /** 0-based. */
  readonly stage: number;
  /** The extension decided; undefined: the request itself. */
  readonly extensionId?: string | undefined;
}

/** The request's first stage: what every link minted before stages decides. */
export const FIRST_STAGE: LinkBinding = { stage: 0 };

/** The row of `approver`'s link bound to `binding`. */
export function tokenRowKey(approver: string, binding: LinkBinding): string {
  const base = encodeKey(normalizeUpn(approver));
  const suffix =
    binding.extensionId !== undefined
      ? `!x${binding.extensionId}s${binding.stage}`
      : binding.stage === 0
        ? ''
        : `!s${binding.stage}`;
  // A UPN near its 256 characters, escaped throughout, leaves no room for the suffix: such a name
  // stands as its hash (`!h` never occurs in an encoded key either).
  if (base.length + suffix.length <= MAX_KEY_LENGTH) return base + suffix;
  return `${createHash('sha256').update(base).digest('hex')}!h${suffix}`;
}

/** One approver's link to one request, as stored. */
export interface TokenRecord {
  readonly requestId: string;
  /** What the link decides. */
  readonly binding: LinkBinding;
  /** The approver's UPN: where the link was sent, and shown. */
  readonly approver: string;
  /**
   * The approver's stable key: who decides through the link. Null only for a link minted before
   * links were bound to it; such a link decides nothing (its page says the link is not valid), and
   * the approver decides through the API or the portal instead.
   */
  readonly approverId: string | null;
  readonly hash: string;
  readonly generation: number;
  /** The message carrying this generation's link was published. */
  readonly sent: boolean;
  readonly state: TokenState;
  /** The request's pendingUntil: the link is dead afterwards whatever its state. */
  readonly expiresAt: string;
  readonly claimedAt: string | null;
  /** `approve`/`deny` once recorded, `refused:<CODE>` when the decision story refused it. */
  readonly outcome: string | null;
  readonly usedAt: string | null;
  readonly etag: string;
}

/** A link minted for sending: the raw token exists only here and in the message. */
export interface PreparedLink {
  readonly token: string;
  readonly binding: LinkBinding;
  readonly generation: number;
  /** The row's ETag as this mint left it, so marking it sent needs no read. */
  readonly etag: string;
}

export type TokenChange = Partial<Pick<TokenRecord, 'state' | 'claimedAt' | 'outcome' | 'usedAt' | 'sent'>>;

export interface TokenStore {
  /**
   * The link to send `approver`, minted if needed: undefined when their link was already sent (or
   * used). A row left unsent by an earlier run that died is re-minted with the next generation, so
   * the link that goes out always matches the stored hash. `binding`: what it decides (absent: the
   * request's first stage).
   */
  prepare(
    requestId: string,
    approver: { readonly upn: string; readonly id: string },
    expiresAt: string,
    binding?: LinkBinding,
  ): Promise<PreparedLink | undefined>;
  /** Records that the message carrying this prepared link was published. */
  markSent(requestId: string, approver: string, link: PreparedLink): Promise<void>;
  /** The row whose hash matches the token, if any. */
  find(token: ParsedToken): Promise<TokenRecord | undefined>;
  /** Compare-and-swap on the row: the row as written, or undefined when it changed (or vanished) since it was read. */
  change(record: TokenRecord, change: TokenChange): Promise<TokenRecord | undefined>;
}

const MAX_ATTEMPTS = 10;

interface TokenEntity {
  partitionKey: string;
  rowKey: string;
  Approver: string;
  ApproverId?: string;
  Stage?: number;
  ExtensionId?: string;
  Hash: string;
  Generation: number;
  Sent: boolean;
  State: TokenState;
  ExpiresAt: string;
  ClaimedAt: string;
  Outcome: string;
  UsedAt: string;
}

function toRecord(table: string, row: unknown): TokenRecord {
  const parsed = TokenRow.safeParse(row);
  if (!parsed.success) {
    const pk =
      typeof row === 'object' && row !== null && 'partitionKey' in row ? String(row.partitionKey) : '';
    throw corruptRow(table, pk, parsed.error);
  }
  const r = parsed.data;
  return {
    requestId: r.partitionKey,
    binding: {
      stage: r.Stage ?? 0,
      ...(r.ExtensionId === undefined ? {} : { extensionId: r.ExtensionId }),
    },
    approver: r.Approver,
    approverId: r.ApproverId ?? null,
    hash: r.Hash,
    generation: r.Generation,
    sent: r.Sent,
    state: r.State,
    expiresAt: r.ExpiresAt,
    claimedAt: r.ClaimedAt === '' ? null : r.ClaimedAt,
    outcome: r.Outcome === '' ? null : r.Outcome,
    usedAt: r.UsedAt === '' ? null : r.UsedAt,
    etag: r.etag,
  };
}

function toEntity(r: Omit<TokenRecord, 'etag'>): TokenEntity {
  return {
    partitionKey: r.requestId,
    rowKey: tokenRowKey(r.approver, r.binding),
    Approver: r.approver,
    ...(r.approverId === null ? {} : { ApproverId: r.approverId }),
    // Written only when not the first stage of the request, so such rows stay as they were.
    ...(r.binding.stage === 0 ? {} : { Stage: r.binding.stage }),
    ...(r.binding.extensionId === undefined ? {} : { ExtensionId: r.binding.extensionId }),
    Hash: r.hash,
    Generation: r.generation,
    Sent: r.sent,
    State: r.state,
    ExpiresAt: r.expiresAt,
    ClaimedAt: r.claimedAt ?? '',
    Outcome: r.outcome ?? '',
    UsedAt: r.usedAt ?? '',
  };
}

export function createTokenStore(tables: Tables): TokenStore {
  const table = (): Promise<TableClient> => tables.get('DecisionTokens');

  async function read(
    t: TableClient,
    requestId: string,
    approver: string,
    binding: LinkBinding,
  ): Promise<TokenRecord | undefined> {
    const row = await readEntity<TokenEntity>(t, requestId, tokenRowKey(approver, binding));
    return row ? toRecord(t.tableName, row) : undefined;
  }

  /** Conditional write (insert when `etag` is undefined): the new ETag, or undefined when the condition failed. */
  async function write(
    t: TableClient,
    entity: TokenEntity,
    etag: string | undefined,
  ): Promise<string | undefined> {
    try {
      const response =
        etag === undefined ? await t.createEntity(entity) : await t.updateEntity(entity, 'Replace', { etag });
      return response.etag ?? '';
    } catch (e) {
      const status = statusOf(e);
      if (status === 409 || status === 412 || status === 404) return undefined;
      throw unavailable(e);
    }
  }

  return {
    async prepare(requestId, member, expiresAt, binding = FIRST_STAGE) {
      const approver = normalizeUpn(member.upn);
      const t = await table();
      const mint = (generation: number): { token: string; entity: TokenEntity } => {
        const { token, hash } = mintToken(requestId);
        const entity = toEntity({
          requestId,
          binding,
          approver,
          approverId: member.id,
          hash,
          generation,
          sent: false,
          state: TokenState.live,
          expiresAt,
          claimedAt: null,
          outcome: null,
          usedAt: null,
        });
        return { token, entity };
      };
      // The first run finds no row: insert straight away, no read.
      const first = mint(1);
      const inserted = await write(t, first.entity, undefined);
      if (inserted !== undefined) return { token: first.token, binding, generation: 1, etag: inserted };
      for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
        const current = await read(t, requestId, approver, binding);
        if (current && (current.sent || current.state !== TokenState.live)) return undefined;
        const generation = (current?.generation ?? 0) + 1;
        const next = mint(generation);
        const etag = await write(t, next.entity, current?.etag);
        if (etag !== undefined) return { token: next.token, binding, generation, etag };
      }
      throw unavailable(new Error(`decision token for ${requestId} kept changing while being minted`));
    },

    async markSent(requestId, approverUpn, link) {
      const approver = normalizeUpn(approverUpn);
      const t = await table();
      // The row is as `prepare` left it unless something raced: then read and look again.
      try {
        await t.updateEntity(
          { partitionKey: requestId, rowKey: tokenRowKey(approver, link.binding), Sent: true },
          'Merge',
          { etag: link.etag },
        );
        return;
      } catch (e) {
        if (statusOf(e) !== 412 && statusOf(e) !== 404) throw unavailable(e);
      }
      for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
        const current = await read(t, requestId, approver, link.binding);
        // Another run re-minted (its own message carries the newer link) or it is already marked.
        if (!current || current.generation !== link.generation || current.sent) return;
        if ((await write(t, toEntity({ ...current, sent: true }), current.etag)) !== undefined) return;
      }
      throw unavailable(new Error(`decision token for ${requestId} kept changing while being marked sent`));
    },

    async find(parsed) {
      const t = await table();
      const hash = hashToken(parsed.token);
      try {
        for await (const row of t.listEntities<TokenEntity>({
          queryOptions: { filter: odata`PartitionKey eq ${parsed.requestId} and Hash eq ${hash}` },
        })) {
          return toRecord(t.tableName, row);
        }
      } catch (e) {
        throw unavailable(e);
      }
      return undefined;
    },

    async change(record, change) {
      const t = await table();
      const next = { ...record, ...change };
      const etag = await write(t, toEntity(next), record.etag);
      return etag === undefined ? undefined : { ...next, etag };
    },
  };
}

// --- Scheduled notifications -------------------------------------------------------------------

const ScheduleRow = z.object({
  etag: z.string(),
  SequenceNumbers: z.string(),
  State: z.enum(['scheduled', 'canceled']),
});

export interface ScheduleRecord {
  /** Decimal strings (Service Bus sequence numbers are 64-bit). */
  readonly sequenceNumbers: readonly string[];
  readonly state: 'scheduled' | 'canceled';
  readonly etag: string;
}

export interface ScheduleStore {
  get(requestId: string, event: string): Promise<ScheduleRecord | undefined>;
  /** Conditional insert: false when a record already exists. */
  create(requestId: string, event: string, sequenceNumbers: readonly string[]): Promise<boolean>;
  markCanceled(requestId: string, event: string, record: ScheduleRecord): Promise<void>;
}

export function createScheduleStore(tables: Tables): ScheduleStore {
  const table = (): Promise<TableClient> => tables.get('NotificationSchedules');
  return {
    async get(requestId, event) {
      const t = await table();
      const row = await readEntity<Record<string, unknown>>(t, requestId, event);
      if (!row) return undefined;
      const parsed = ScheduleRow.safeParse(row);
      if (!parsed.success) throw corruptRow(t.tableName, requestId, parsed.error);
      const seqs = parsed.data.SequenceNumbers.split(',').filter((s) => /^\d+$/.test(s));
      return { sequenceNumbers: seqs, state: parsed.data.State, etag: parsed.data.etag };
    },
    async create(requestId, event, sequenceNumbers) {
      const t = await table();
      try {
        await t.createEntity({
          partitionKey: requestId,
          rowKey: event,
          SequenceNumbers: sequenceNumbers.join(','),
          State: 'scheduled',
        });
        return true;
      } catch (e) {
        if (statusOf(e) === 409) return false;
        throw unavailable(e);
      }
    },
    async markCanceled(requestId, event, record) {
      const t = await table();
      try {
        await t.updateEntity(
          {
            partitionKey: requestId,
            rowKey: event,
            SequenceNumbers: record.sequenceNumbers.join(','),
            State: 'canceled',
          },
          'Replace',
          { etag: record.etag },
        );
      } catch (e) {
        // Someone else canceled it first: the same outcome.
        if (statusOf(e) === 412 || statusOf(e) === 404) return;
        throw unavailable(e);
      }
    },
  };
}
