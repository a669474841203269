/**
 * Groups and system accounts saved before members were keyed (bare UPNs) are resolved by the
 * directory migration: real Azurite, the real development directory, rows written as the earlier
 * version wrote them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getDeps } from '#shared/app/deps';
import { getApproverGroup } from '#shared/admin/approver-group-repository';
import { migrateDirectoryKeys } from '#shared/admin/directory-migration';
import { getPamConfig } from '#shared/admin/pam-repository';
import { AdminTable, putEntry } from '#shared/admin/store';
import type { AuditEventInput } from '#shared/audit/types';
import { encodeKey } from '#shared/domain/names';
import { isMember } from '#shared/domain/pam';
import { startComponentEnv, type ComponentEnv } from '../../support/component';
import { userKey } from '../../support/requests';

let env: ComponentEnv;
const audited: AuditEventInput[] = [];
const logged: string[] = [];

beforeAll(async () => {
  env = await startComponentEnv();
}, 60_000);

afterAll(async () => {
  await env.close();
});

function context() {
  const deps = getDeps();
  return {
    tables: deps.tables,
    directory: deps.directory,
    audit: {
      append: (e: AuditEventInput) => {
        audited.push(e);
        return Promise.resolve({ id: String(audited.length) });
      },
    },
    log: (m: string) => logged.push(m),
  };
}

/** A group as the version before keyed members stored it: one bare UPN per member row. */
async function legacyGroup(name: string, upns: string[]): Promise<void> {
  const table = await getDeps().tables.get(AdminTable.approverGroups);
  await putEntry(table, encodeKey(name), { description: null }, upns, name);
}

/** The configuration row as that version stored it: system accounts as a JSON list of UPNs. */
async function legacyPamConfig(group: string, systemAccounts: string[]): Promise<void> {
  const table = await getDeps().tables.get(AdminTable.config);
  await table.upsertEntity(
    {
      partitionKey: 'pam',
      rowKey: 'config',
      enabled: true,
      defaultApproverGroup: group,
      systemAccounts: JSON.stringify(systemAccounts),
    },
    'Replace',
  );
}

describe('the directory migration', () => {
  it('resolves legacy members and system accounts, audits it, and does nothing the second time', async () => {
    // Prepare
    await legacyGroup('legacy', ['bob@contoso.com', 'ghost@contoso.invalid', 'carol@contoso.com']);
    await legacyPamConfig('legacy', ['svc@contoso.com']);
    const before = await getApproverGroup(getDeps().tables, 'legacy');

    // Act
    const first = await migrateDirectoryKeys(context());
    const auditedFirst = audited.length;
    const second = await migrateDirectoryKeys(context());

    // Assess: before, nobody could act; after, the known ones can, by their key.
    expect(before?.members.every((m) => m.id === null)).toBe(true);
    expect(isMember(before?.members ?? [], userKey('bob@contoso.com'))).toBe(false);
    const group = await getApproverGroup(getDeps().tables, 'legacy');
    expect(group?.members).toEqual([
      { upn: 'bob@contoso.com', id: userKey('bob@contoso.com') },
      { upn: 'ghost@contoso.invalid', id: null },
      { upn: 'carol@contoso.com', id: userKey('carol@contoso.com') },
    ]);
    expect((await getPamConfig(getDeps().tables)).systemAccounts).toEqual([
      { upn: 'svc@contoso.com', id: userKey('svc@contoso.com') },
    ]);
    expect(first.migrated).toEqual(['legacy', 'pam']);
    expect(first.unknown).toEqual({ legacy: ['ghost@contoso.invalid'] });
    expect(
      audited.slice(0, auditedFirst).map((e) => [e.action, (e.detail as { entry: string }).entry]),
    ).toEqual([
      ['config.membersResolved', 'legacy'],
      ['config.membersResolved', 'pam'],
    ]);
    expect(second.migrated).toEqual([]);
    expect(audited).toHaveLength(auditedFirst);
    expect(logged.join('\n')).toContain('ghost@contoso.invalid');
  });
});
