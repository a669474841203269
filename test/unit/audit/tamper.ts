/**
 * Random tampering of an exported log, for the tamper trials: modifications (any column, including
 * recomputing the hashes after the change), deletions, insertions and reorderings of lines.
 */
import { GENESIS_HASH, RECORD_FIELDS, sealRecord, type AuditRecord } from '#shared/audit/record';

export const TamperKind = {
  Modify: 'modify',
  ModifyResealed: 'modify-resealed',
  Delete: 'delete',
  DeleteTail: 'delete-tail',
  Insert: 'insert',
  InsertForged: 'insert-forged',
  Reorder: 'reorder',
} as const;
export type TamperKind = (typeof TamperKind)[keyof typeof TamperKind];
const KINDS = Object.values(TamperKind);

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T => {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new Error('nothing to pick from');
  return item;
};

/** A different value for one column of a record (always a change). */
export function changeColumn(random: Random, record: AuditRecord): AuditRecord {
  const field = pick(random, RECORD_FIELDS);
  const value = record[field];
  const copy: Record<string, unknown> = { ...record };
  if (typeof value === 'number') copy[field] = value + 1 + Math.floor(random() * 3);
  else if (value === undefined) copy[field] = 'added';
  else if (field === 'at')
    copy[field] = new Date(Date.parse(value) + 1 + Math.floor(random() * 5000)).toISOString();
  else if (field === 'hash' || field === 'prevHash')
    copy[field] = value.replace(/^./, (c) => (c === '0' ? '1' : '0'));
  else if (
    random() < 0.3 &&
    !['id', 'action', 'outcome', 'actorKind', 'actorId', 'actorUpn', 'actorRoles'].includes(field)
  ) {
    const { [field]: _removed, ...rest } = copy;
    return rest as unknown as AuditRecord;
  } else {
    const at = Math.floor(random() * value.length);
    const ch = value[at] === 'x' ? 'y' : 'x';
    copy[field] = value.slice(0, at) + ch + value.slice(at + 1);
  }
  return copy as unknown as AuditRecord;
}

/** Re-seals the rest of the record's chain after index `i` (an attacker who recomputes hashes). */
export function resealChainFrom(records: AuditRecord[], i: number): AuditRecord[] {
  const out = [...records];
  let prevHash: string | undefined;
  for (let k = i; k < out.length; k++) {
    const r = out[k];
    if (!r || r.chain !== out[i]?.chain) continue;
    const { v: _v, chain, sequence, at, prevHash: ownPrev, hash: _h, ...content } = r;
    out[k] = sealRecord(content, {
      chain,
      sequence,
      at,
      prevHash: prevHash ?? (sequence === 1 ? GENESIS_HASH : ownPrev),
    });
    prevHash = out[k]?.hash;
  }
  return out;
}

/**
 * One random tampering of `records` serialized by `line`; returns the tampered lines and what was
 * done. Every kind changes the content (a swap only of different lines, an insert of a line that is
 * not already there or duplicates one).
 */
export function tamperLines(
  random: Random,
  records: readonly AuditRecord[],
  line: (r: AuditRecord) => string,
  kind: TamperKind = pick(random, KINDS),
): { lines: string[]; kind: TamperKind; description: string } {
  const lines = records.map(line);
  const i = Math.floor(random() * records.length);
  const record = records[i];
  if (!record) throw new Error('empty log');
  switch (kind) {
    case TamperKind.Modify: {
      const changed = changeColumn(random, record);
      lines[i] = line(changed);
      return { lines, kind, description: `line ${i} column changed` };
    }
    case TamperKind.ModifyResealed: {
      const copy = [...records];
      copy[i] = { ...record, reason: `${record.reason ?? ''}!` };
      return {
        lines: resealChainFrom(copy, i).map(line),
        kind,
        description: `line ${i} changed, chain resealed`,
      };
    }
    case TamperKind.Delete:
      lines.splice(i, 1);
      return { lines, kind, description: `line ${i} deleted` };
    case TamperKind.DeleteTail: {
      const n = 1 + Math.floor(random() * 3);
      return {
        lines: lines.slice(0, Math.max(0, lines.length - n)),
        kind,
        description: `last ${n} lines deleted`,
      };
    }
    case TamperKind.Insert: {
      const j = Math.floor(random() * (lines.length + 1));
      lines.splice(j, 0, line(record));
      return { lines, kind, description: `line ${i} duplicated at ${j}` };
    }
    case TamperKind.InsertForged: {
      const j = Math.floor(random() * (lines.length + 1));
      const forged =
        resealChainFrom([{ ...record, id: `forged-${i}`, actorUpn: 'mallory@contoso.com' }], 0)[0] ?? record;
      lines.splice(j, 0, line(forged));
      return { lines, kind, description: `forged row inserted at ${j}` };
    }
    case TamperKind.Reorder: {
      let j = Math.floor(random() * records.length);
      if (j === i) j = (i + 1) % records.length;
      const a = lines[i] ?? '';
      lines[i] = lines[j] ?? '';
      lines[j] = a;
      return { lines, kind, description: `lines ${i} and ${j} swapped` };
    }
  }
}
