/**
 * Approver groups: a partition per group (`encodeKey(name)`), a head row with the description and
 * a row per member (see store.ts for how a replacement stays all or nothing). A member row holds
 * `{"upn":…,"id":…}`; one holding a bare UPN was saved before members were keyed, and reads as a
 * member with `id: null` until the directory migration rewrites the group.
 */
import { z } from 'zod';
import type { Tables } from '#shared/adapters/tables';
import { decodeKey, encodeKey } from '#shared/domain/names';
import { ApproverGroup, type Member } from '#shared/domain/pam';
import { compareNames } from '#shared/domain/catalog';
import {
  AdminTable,
  corruptRow,
  listEntries,
  putEntry,
  readEntry,
  removeEntry,
  type StoredEntry,
} from './store';

const GroupData = z.object({ description: z.string().nullable() });

/** A member row's value: the member as JSON, or (saved before keys) a bare UPN. */
export function memberOfItem(item: string): unknown {
  if (!item.startsWith('{')) return { upn: item, id: null };
  try {
    return JSON.parse(item);
  } catch {
    return item;
  }
}

export function itemOfMember(member: Member): string {
  return JSON.stringify({ upn: member.upn, id: member.id });
}

export function toGroup(entry: StoredEntry): ApproverGroup {
  const corrupt = (cause: unknown) => corruptRow(AdminTable.approverGroups, entry.partitionKey, cause);
  const data = GroupData.safeParse(entry.data);
  if (!data.success) throw corrupt(data.error);
  const group = ApproverGroup.safeParse({
    name: decodeKey(entry.partitionKey),
    members: entry.items.map(memberOfItem),
    description: data.data.description,
  });
  if (!group.success) throw corrupt(group.error);
  return group.data;
}

export async function getApproverGroup(tables: Tables, name: string): Promise<ApproverGroup | undefined> {
  const entry = await readEntry(await tables.get(AdminTable.approverGroups), encodeKey(name));
  return entry && toGroup(entry);
}

export async function listApproverGroups(tables: Tables): Promise<ApproverGroup[]> {
  const entries = await listEntries(await tables.get(AdminTable.approverGroups));
  return entries.map(toGroup).sort((a, b) => compareNames(a.name, b.name));
}

/** Creates or replaces the group; answers the group it replaced, if any. */
export async function putApproverGroup(
  tables: Tables,
  group: ApproverGroup,
): Promise<ApproverGroup | undefined> {
  const before = await putEntry(
    await tables.get(AdminTable.approverGroups),
    encodeKey(group.name),
    { description: group.description },
    group.members.map(itemOfMember),
    `Approver group ${group.name}`,
  );
  return before && toGroup(before);
}

/** Removes the group; answers what it was, or undefined when there was none. */
export async function deleteApproverGroup(tables: Tables, name: string): Promise<ApproverGroup | undefined> {
  const before = await removeEntry(
    await tables.get(AdminTable.approverGroups),
    encodeKey(name),
    `Approver group ${name}`,
  );
  return before && toGroup(before);
}
