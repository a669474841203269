/**
 * The audit row ↔ Table entity mapping, and nothing else knows the column types.
 *
 * Every column is typed for people querying the table directly (Storage Explorer, `az storage
 * entity query`, Power BI): `at` is an Edm.DateTime, `chain` an Int32, `sequence` an Int64, the
 * rest strings. Reading is strict (entities are read with `disableTypeConversion`, so the stored
 * type is seen, not a coercion of it): an extra, missing, empty or retyped column makes the row
 * malformed, which the verifier reports as tampering.
 */
import type { TableEntity } from '@azure/data-tables';
import {
  COLUMN_LIMITS,
  MAX_CHAINS,
  MAX_DETAIL_BYTES,
  OPTIONAL_TEXT_FIELDS,
  RecordVersion,
  ROW_KEY_DIGITS,
  isActorKind,
  isAuditAction,
  isAuditOutcome,
  isHex64,
  normalizeInstant,
  partitionKeyOf,
  rowKeyOf,
  type AuditRecord,
} from './record';
import { KEY_ID } from './keys';

type EdmType = 'String' | 'Int32' | 'Int64' | 'DateTime';
interface Edm {
  value: string;
  type: EdmType;
}

export type AuditEntity = TableEntity<Record<string, string | Edm>>;

export function toEntity(record: AuditRecord): AuditEntity {
  const entity: AuditEntity = {
    partitionKey: partitionKeyOf(record.chain, record.sequence),
    rowKey: rowKeyOf(record.sequence),
    v: { value: String(record.v), type: 'Int32' },
    id: record.id,
    chain: { value: String(record.chain), type: 'Int32' },
    sequence: { value: String(record.sequence), type: 'Int64' },
    at: { value: record.at, type: 'DateTime' },
    action: record.action,
    outcome: record.outcome,
    actorKind: record.actorKind,
    actorId: record.actorId,
    actorUpn: record.actorUpn,
    actorRoles: record.actorRoles,
    prevHash: record.prevHash,
    hash: record.hash,
  };
  if (record.kid !== undefined) entity.kid = record.kid;
  for (const field of OPTIONAL_TEXT_FIELDS) {
    const value = record[field];
    if (value !== undefined) entity[field] = value;
  }
  return entity;
}

/** A stored row as the verifier sees it: the record, or why it is not one (with whatever keys it has). */
export type ReadRow =
  | { ok: true; record: AuditRecord; partitionKey: string; rowKey: string }
  | {
      ok: false;
      partitionKey: string;
      rowKey: string;
      chain: number | undefined;
      sequence: number | undefined;
      problem: string;
    };

/** Properties the service adds to every entity; not part of the row. */
const SERVICE_PROPERTIES = new Set(['partitionKey', 'rowKey', 'etag', 'timestamp', 'odata.etag']);

const REQUIRED_TEXT = [
  'id',
  'action',
  'outcome',
  'actorKind',
  'actorId',
  'actorUpn',
  'actorRoles',
  'prevHash',
  'hash',
] as const;
const KNOWN_COLUMNS = new Set<string>([
  'v',
  'chain',
  'sequence',
  'at',
  'kid',
  ...REQUIRED_TEXT,
  ...OPTIONAL_TEXT_FIELDS,
]);

class Malformed extends Error {}

function edm(value: unknown, column: string, type: EdmType): string {
  if (
    typeof value === 'object' &&
    value !== null &&
    'type' in value &&
    'value' in value &&
    value.type === type &&
    typeof value.value === 'string'
  ) {
    return value.value;
  }
  throw new Malformed(
    value === undefined ? `column ${column} is missing` : `column ${column} is not ${type}`,
  );
}

function textColumn(raw: Record<string, unknown>, column: string, max: number): string {
  const value = edm(raw[column], column, 'String');
  if (value.length === 0) throw new Malformed(`column ${column} is empty`);
  if (value.length > max) throw new Malformed(`column ${column} is longer than ${max}`);
  return value;
}

function integer(value: string, column: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(n) || String(n) !== value || n < min || n > max) {
    throw new Malformed(`column ${column} is out of range`);
  }
  return n;
}

function keysOf(raw: Record<string, unknown>): { partitionKey: string; rowKey: string } {
  return {
    partitionKey: typeof raw.partitionKey === 'string' ? raw.partitionKey : '',
    rowKey: typeof raw.rowKey === 'string' ? raw.rowKey : '',
  };
}

/** Chain and sequence as far as the keys tell them, for reporting a malformed row. */
function positionFromKeys(partitionKey: string, rowKey: string): { chain?: number; sequence?: number } {
  const chain = /^c(\d{2})-/.exec(partitionKey)?.[1];
  const sequence = new RegExp(`^\\d{${ROW_KEY_DIGITS}}$`).test(rowKey) ? Number(rowKey) : undefined;
  return {
    ...(chain === undefined ? {} : { chain: Number(chain) }),
    ...(sequence === undefined ? {} : { sequence }),
  };
}

const LIMITS: Record<(typeof OPTIONAL_TEXT_FIELDS)[number], number> = {
  tenantId: COLUMN_LIMITS.tenantId,
  requestId: COLUMN_LIMITS.requestId,
  task: COLUMN_LIMITS.task,
  reason: COLUMN_LIMITS.reason,
  detail: MAX_DETAIL_BYTES,
  correlationId: COLUMN_LIMITS.correlationId,
  clientIp: COLUMN_LIMITS.clientIp,
  userAgent: COLUMN_LIMITS.userAgent,
};

/** Maps an entity read with `disableTypeConversion: true`; never throws. */
export function fromEntity(raw: Record<string, unknown>): ReadRow {
  const { partitionKey, rowKey } = keysOf(raw);
  try {
    for (const column of Object.keys(raw)) {
      if (!SERVICE_PROPERTIES.has(column) && !KNOWN_COLUMNS.has(column)) {
        throw new Malformed(`unexpected column ${column}`);
      }
    }
    const v = integer(edm(raw.v, 'v', 'Int32'), 'v', RecordVersion.Plain, RecordVersion.Keyed);
    if (v !== RecordVersion.Plain && v !== RecordVersion.Keyed) throw new Malformed('unknown record version');
    const action = textColumn(raw, 'action', 64);
    const outcome = textColumn(raw, 'outcome', 16);
    const actorKind = textColumn(raw, 'actorKind', 16);
    if (!isAuditAction(action)) throw new Malformed('column action is not a catalogued action');
    if (!isAuditOutcome(outcome)) throw new Malformed('column outcome is not an outcome');
    if (!isActorKind(actorKind)) throw new Malformed('column actorKind is not user or system');
    const at = normalizeInstant(edm(raw.at, 'at', 'DateTime'));
    if (at === undefined) throw new Malformed('column at is not a millisecond UTC instant');
    const prevHash = textColumn(raw, 'prevHash', 64);
    const hash = textColumn(raw, 'hash', 64);
    if (!isHex64(prevHash) || !isHex64(hash)) throw new Malformed('a hash column is not 64 hex digits');
    const record: AuditRecord = {
      v,
      id: textColumn(raw, 'id', COLUMN_LIMITS.id),
      chain: integer(edm(raw.chain, 'chain', 'Int32'), 'chain', 0, MAX_CHAINS - 1),
      sequence: integer(edm(raw.sequence, 'sequence', 'Int64'), 'sequence', 1, 10 ** ROW_KEY_DIGITS - 1),
      at,
      action,
      outcome,
      actorKind,
      actorId: textColumn(raw, 'actorId', COLUMN_LIMITS.actorId),
      actorUpn: textColumn(raw, 'actorUpn', COLUMN_LIMITS.actorUpn),
      actorRoles: textColumn(raw, 'actorRoles', COLUMN_LIMITS.actorRoles),
      prevHash,
      hash,
    };
    if (raw.kid !== undefined) {
      if (v !== RecordVersion.Keyed) throw new Malformed('column kid is on a plain row');
      const kid = textColumn(raw, 'kid', 16);
      if (!KEY_ID.test(kid)) throw new Malformed('column kid is not 16 hex digits');
      record.kid = kid;
    } else if (v === RecordVersion.Keyed) {
      throw new Malformed('column kid is missing from a keyed row');
    }
    for (const field of OPTIONAL_TEXT_FIELDS) {
      if (raw[field] !== undefined) record[field] = textColumn(raw, field, LIMITS[field]);
    }
    if (record.detail !== undefined && Buffer.byteLength(record.detail, 'utf8') > MAX_DETAIL_BYTES) {
      throw new Malformed('column detail is longer than the limit');
    }
    return { ok: true, record, partitionKey, rowKey };
  } catch (error) {
    if (!(error instanceof Malformed)) throw error;
    const position = positionFromKeys(partitionKey, rowKey);
    return {
      ok: false,
      partitionKey,
      rowKey,
      chain: position.chain,
      sequence: position.sequence,
      problem: error.message,
    };
  }
}
