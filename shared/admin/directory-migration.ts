/**
 * The directory migration: approver group members and system accounts saved before they were keyed
 * (bare UPNs, `id: null`) are resolved through the directory and written back, so that they may
 * decide (or run as system accounts) again. Until then they match nobody: deny by default.
 *
 * Run by a timer (functions/approver-groups.ts): cheap when there is nothing to do (one read
 * of the group table and of the configuration row), idempotent, and safe beside an admin's change:
 * each write is a compare-and-swap on what was read, so a group an admin replaced meanwhile (already
 * resolved by that save) is left alone. A UPN the directory does not know stays unresolved and is
 * reported each run, for an admin to remove or correct.
 */
import { createHash } from 'node:crypto';
import { AuditAction, AuditOutcome, SYSTEM_ACTOR, type AuditSink } from '#shared/audit/types';
import type { Tables } from '#shared/adapters/tables';
import type { Directory } from '#shared/directory/directory';
import { unresolved, type Member } from '#shared/domain/pam';
import { itemOfMember, toGroup } from './approver-group-repository';
import { changePamConfig, getPamConfig } from './pam-repository';
import { AdminTable, listEntries, readPartition, writeEntry } from './store';

export interface MigrationContext {
  readonly tables: Tables;
  readonly directory: Directory;
  readonly audit: AuditSink;
  log(message: string): void;
}

export interface MigrationResult {
  /** Entries rewritten: approver group names, and `pam` for the system accounts. */
  readonly migrated: readonly string[];
  /** UPNs the directory does not know, by entry: they stay unable to act. */
  readonly unknown: Readonly<Record<string, readonly string[]>>;
}

/**
 * `members` with every unresolved entry the directory knows resolved; the names it does not know
 * stay as they are, and are listed.
 */
async function resolveKnown(
  directory: Directory,
  members: readonly Member[],
): Promise<{ members: Member[]; unknown: string[] }> {
  const pending = unresolved(members);
  const found = await directory.lookup(pending.map((m) => m.upn));
  const byUpn = new Map(pending.map((m, i) => [m.upn, found[i]]));
  return {
    members: members.map((m) => (m.id === null ? (byUpn.get(m.upn) ?? m) : m)),
    unknown: pending.filter((m) => byUpn.get(m.upn) === undefined).map((m) => m.upn),
  };
}

export async function migrateDirectoryKeys(ctx: MigrationContext): Promise<MigrationResult> {
  const migrated: string[] = [];
  const unknown: Record<string, string[]> = {};
  const table = await ctx.tables.get(AdminTable.approverGroups);

  for (const entry of await listEntries(table)) {
    const group = toGroup(entry);
    if (unresolved(group.members).length === 0) continue;
    const state = await readPartition(table, entry.partitionKey);
    if (state.entry === undefined || state.entry.version !== entry.version) continue; // changed meanwhile
    const result = await resolveKnown(ctx.directory, group.members);
    if (result.unknown.length > 0) unknown[group.name] = result.unknown;
    const resolvedNow = result.members.filter((m, i) => m.id !== group.members[i]?.id);
    if (resolvedNow.length === 0) continue;
    // Audited before the write, under an id naming the version read: a failed append changes
    // nothing (the next run tries both again), and a run that dies after appending appends the same
    // id again. No right changes without its row.
    await audit(ctx, group.name, entry.version, resolvedNow, result.unknown);
    // Compare-and-swap on the partition as read: an admin's save in between wins, untouched.
    if (
      !(await writeEntry(
        table,
        entry.partitionKey,
        state,
        entry.data as object,
        result.members.map(itemOfMember),
      ))
    )
      continue;
    migrated.push(group.name);
  }

  const config = await getPamConfig(ctx.tables);
  if (unresolved(config.systemAccounts).length > 0) {
    const result = await resolveKnown(ctx.directory, config.systemAccounts);
    if (result.unknown.length > 0) unknown['pam'] = result.unknown;
    const resolvedNow = result.members.filter((m, i) => m.id !== config.systemAccounts[i]?.id);
    if (resolvedNow.length > 0) {
      await audit(ctx, 'pam', config.updatedAt ?? 'never', resolvedNow, result.unknown);
      // Only over the list that was resolved: a change in between (an admin's enable) wins.
      const { after } = await changePamConfig(ctx.tables, (current) =>
        sameUpns(current.systemAccounts, config.systemAccounts)
          ? { ...current, systemAccounts: result.members }
          : current,
      );
      if (after.systemAccounts.every((m, i) => m.id === result.members[i]?.id)) migrated.push('pam');
    }
  }

  for (const [where, upns] of Object.entries(unknown))
    ctx.log(
      `Directory migration: ${where} names ${upns.length} user(s) the directory does not know (${upns.join(', ')}); they cannot act until an admin corrects or removes them.`,
    );
  return { migrated, unknown };
}

function sameUpns(a: readonly Member[], b: readonly Member[]): boolean {
  return a.length === b.length && a.every((m, i) => m.upn === b[i]?.upn);
}

async function audit(
  ctx: MigrationContext,
  entry: string,
  version: string,
  resolved: readonly Member[],
  unknownUpns: readonly string[],
): Promise<void> {
  await ctx.audit.append({
    // Deterministic and within the audit's 64-character id column.
    id: `membersResolved:${createHash('sha256').update(`${entry}\n${version}`, 'utf8').digest('hex').slice(0, 32)}`,
    action: AuditAction.MembersResolved,
    actor: SYSTEM_ACTOR,
    outcome: AuditOutcome.Success,
    detail: { entry, resolved, unknown: unknownUpns },
  });
}
