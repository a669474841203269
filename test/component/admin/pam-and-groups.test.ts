import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  approverGroupDelete,
  approverGroupGet,
  approverGroupPut,
  approverGroupsList,
} from '../../../functions/approver-groups';
import { pamDisable, pamEnable, pamRead } from '../../../functions/pam';
import { getDeps } from '#shared/app/deps';
import { encodeKey } from '#shared/domain/names';
import { userKey } from '../../support/requests';
import { ADMIN, startAdminEnv, type AdminTestEnv, type Handler } from './support';

let t: AdminTestEnv;
beforeAll(async () => {
  t = await startAdminEnv();
});
afterAll(async () => {
  await t.close();
});

function members(n: number, domain = 'contoso.com'): string[] {
  return Array.from({ length: n }, (_, i) => `member${String(i).padStart(3, '0')}@${domain}`);
}

async function groupRows(name: string): Promise<number> {
  const table = await getDeps().tables.get('approvergroups');
  let count = 0;
  for await (const _ of table.listEntities({
    queryOptions: { filter: `PartitionKey eq '${encodeKey(name)}'` },
  }))
    count++;
  return count;
}

describe('who may call the PAM and approver-group endpoints', () => {
  const cases: {
    name: string;
    handler: Handler;
    method: string;
    params?: Record<string, string>;
    body?: unknown;
    readers: boolean;
  }[] = [
    { name: 'GET /api/pam', handler: pamRead, method: 'GET', readers: true },
    {
      name: 'POST /api/pam/enable',
      handler: pamEnable,
      method: 'POST',
      body: { defaultApproverGroup: 'authz-probe' },
      readers: false,
    },
    { name: 'POST /api/pam/disable', handler: pamDisable, method: 'POST', readers: false },
    { name: 'GET /api/approver-groups', handler: approverGroupsList, method: 'GET', readers: true },
    {
      name: 'GET /api/approver-groups/{name}',
      handler: approverGroupGet,
      method: 'GET',
      params: { name: 'authz-probe' },
      readers: true,
    },
    {
      name: 'PUT /api/approver-groups/{name}',
      handler: approverGroupPut,
      method: 'PUT',
      params: { name: 'authz-probe' },
      body: { members: ['a@contoso.com'] },
      readers: false,
    },
    {
      name: 'DELETE /api/approver-groups/{name}',
      handler: approverGroupDelete,
      method: 'DELETE',
      params: { name: 'authz-probe' },
      readers: false,
    },
  ];

  it.each(cases)('$name: nobody → 401, plain user → 403, auditor → 403 unless it only reads', async (c) => {
    // Prepare
    const before = await t.snapshot();
    const opts = {
      method: c.method,
      path: '/api/x',
      ...(c.params ? { params: c.params } : {}),
      ...(c.body ? { body: c.body } : {}),
    };

    // Act
    const anonymous = await t.call(c.handler, { ...opts, as: 'nobody' });
    const user = await t.call(c.handler, { ...opts, as: 'user' });
    const auditor = await t.call(c.handler, { ...opts, as: 'auditor' });

    // Assess
    expect(anonymous.status).toBe(401);
    expect(user.status).toBe(403);
    expect(user.headers.get('content-type')).toBe('application/problem+json');
    if (c.readers) expect([200, 404]).toContain(auditor.status);
    else expect(auditor.status).toBe(403);
    expect(await t.snapshot()).toBe(before);
  });
});

/** A member as the directory resolved them. */
function identity(upn: string): { upn: string; id: string } {
  return { upn, id: userKey(upn) };
}

/** What `GET /api/approver-groups/{name}` answers for a group saved with `upns`. */
function groupView(name: string, upns: string[], description: string | null = null) {
  return { name, description, members: upns, identities: upns.map(identity) };
}

/** The group as stored, and as the audit records it. */
function storedGroup(name: string, upns: string[], description: string | null = null) {
  return { name, members: upns.map(identity), description };
}

describe('approver groups', () => {
  it('creates a group (201), reads it back with lower-cased members, and audits the change', async () => {
    // Prepare
    const auditBefore = t.audit.events.length;

    // Act
    const put = await t.call(approverGroupPut, {
      method: 'PUT',
      path: '/api/approver-groups/exchange-approvers',
      params: { name: 'exchange-approvers' },
      body: { members: ['Bob@Contoso.com', 'carol@contoso.com'], description: 'Exchange on-call' },
    });
    const read = await t.call(approverGroupGet, {
      path: '/api/approver-groups/exchange-approvers',
      params: { name: 'exchange-approvers' },
      as: 'auditor',
    });

    // Assess
    const upns = ['bob@contoso.com', 'carol@contoso.com'];
    const group = storedGroup('exchange-approvers', upns, 'Exchange on-call');
    expect(put.status).toBe(201);
    expect(put.headers.get('location')).toBe('/api/approver-groups/exchange-approvers');
    expect(read).toMatchObject({
      status: 200,
      body: groupView('exchange-approvers', upns, 'Exchange on-call'),
    });
    expect(t.audit.events.slice(auditBefore)).toEqual([
      expect.objectContaining({
        action: 'approverGroup.put',
        outcome: 'success',
        actor: expect.objectContaining({ kind: 'user', upn: ADMIN }) as unknown,
        detail: { before: null, after: group },
        origin: expect.objectContaining({ correlationId: expect.any(String) as unknown }) as unknown,
      }),
    ]);
  });

  it('replaces a group (200): the new member list, exactly, and the old one in the audit', async () => {
    // Prepare
    const params = { name: 'replace-me' };
    await t.call(approverGroupPut, { method: 'PUT', path: '/api/x', params, body: { members: members(3) } });
    const auditBefore = t.audit.events.length;

    // Act
    const put = await t.call(approverGroupPut, {
      method: 'PUT',
      path: '/api/x',
      params,
      body: { members: ['zed@contoso.com', 'amy@contoso.com'] },
    });
    const read = await t.call(approverGroupGet, { path: '/api/x', params });

    // Assess
    expect(put.status).toBe(200);
    expect(read.body).toEqual(groupView('replace-me', ['zed@contoso.com', 'amy@contoso.com']));
    expect(t.audit.events.slice(auditBefore)[0]?.detail).toEqual({
      before: storedGroup('replace-me', members(3)),
      after: storedGroup('replace-me', ['zed@contoso.com', 'amy@contoso.com']),
    });
    expect(await groupRows('replace-me')).toBe(1 + 2);
  });

  it('keeps a row per member for groups too big for one transaction, and leaves no stale rows behind', async () => {
    // Prepare
    const params = { name: 'big-group' };
    await t.call(approverGroupPut, {
      method: 'PUT',
      path: '/api/x',
      params,
      body: { members: members(250) },
    });

    // Act
    const replaced = await t.call(approverGroupPut, {
      method: 'PUT',
      path: '/api/x',
      params,
      body: { members: members(120, 'fabrikam.com') },
    });
    const read = await t.call(approverGroupGet, { path: '/api/x', params });

    // Assess
    expect(replaced.status).toBe(200);
    expect(read.body).toEqual(groupView('big-group', members(120, 'fabrikam.com')));
    expect(await groupRows('big-group')).toBe(1 + 120);
  });

  it('ignores member rows of a write that crashed before its commit, and the next write sweeps them', async () => {
    // Prepare: a group, then rows of a replacement that never swapped the head.
    const params = { name: 'crashed-write' };
    await t.call(approverGroupPut, {
      method: 'PUT',
      path: '/api/x',
      params,
      body: { members: ['one@contoso.com'] },
    });
    const table: TableClient = await getDeps().tables.get('approvergroups');
    const version = 'deadbeefdeadbeef';
    for (let i = 0; i < 3; i++)
      await table.createEntity({
        partitionKey: 'crashed-write',
        rowKey: `i|${version}|000${i}`,
        version,
        value: JSON.stringify(identity(`ghost${i}@contoso.com`)),
      });

    // Act
    const readWithGhosts = await t.call(approverGroupGet, { path: '/api/x', params });
    await t.call(approverGroupPut, {
      method: 'PUT',
      path: '/api/x',
      params,
      body: { members: ['two@contoso.com'] },
    });
    const readAfter = await t.call(approverGroupGet, { path: '/api/x', params });

    // Assess
    expect(readWithGhosts.body).toMatchObject({ members: ['one@contoso.com'] });
    expect(readAfter.body).toMatchObject({ members: ['two@contoso.com'] });
    expect(await groupRows('crashed-write')).toBe(2);
  });

  it('settles concurrent replacements on exactly one of them, all or nothing', async () => {
    // Prepare
    const params = { name: 'contended' };
    const lists = Array.from({ length: 5 }, (_, i) => members(3 + i * 40, `d${i}.example`));

    // Act
    const results = await Promise.all(
      lists.map((m) =>
        t.call(approverGroupPut, { method: 'PUT', path: '/api/x', params, body: { members: m } }),
      ),
    );
    const read = await t.call(approverGroupGet, { path: '/api/x', params });

    // Assess
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 201]);
    const final = (read.body as { members: string[] }).members;
    expect(lists).toContainEqual(final);
    expect(await groupRows('contended')).toBe(1 + final.length);
  });

  it('lists groups by name', async () => {
    const list = await t.call(approverGroupsList, { path: '/api/approver-groups', as: 'auditor' });
    const names = (list.body as { items: { name: string }[] }).items.map((g) => g.name);
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(['big-group', 'exchange-approvers', 'replace-me']));
  });

  it.each([
    ['a name with a slash-free but invalid character', 'bad name', 400],
    ['a name longer than 64 characters', 'x'.repeat(65), 400],
  ])('refuses %s in the path (400)', async (_label, name, status) => {
    const res = await t.call(approverGroupPut, {
      method: 'PUT',
      path: '/api/x',
      params: { name },
      body: { members: ['a@contoso.com'] },
    });
    expect(res.status).toBe(status);
    expect(res.body).toMatchObject({
      code: 'INVALID_INPUT',
      errors: [expect.objectContaining({ pointer: '#/name' })],
    });
  });

  it.each([
    ['no members', { members: [] }, '#/members'],
    ['a member that is not a UPN', { members: ['not-an-upn'] }, '#/members/0'],
    [
      'a member listed twice (case-insensitively)',
      { members: ['a@contoso.com', 'A@contoso.com'] },
      '#/members/1',
    ],
    ['members that is not a list', { members: 'a@contoso.com' }, '#/members'],
  ])('refuses a body with %s (400, pointer %s)', async (_label, body, pointer) => {
    const before = await t.snapshot();
    const res = await t.call(approverGroupPut, {
      method: 'PUT',
      path: '/api/x',
      params: { name: 'invalid' },
      body,
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      errors: expect.arrayContaining([expect.objectContaining({ pointer })]) as unknown,
    });
    expect(await t.snapshot()).toBe(before);
  });

  it('deletes an unused group (204): it is gone, its rows too, and the audit has what it was', async () => {
    // Prepare
    const params = { name: 'short-lived' };
    await t.call(approverGroupPut, {
      method: 'PUT',
      path: '/api/x',
      params,
      body: { members: ['a@contoso.com'] },
    });
    const auditBefore = t.audit.events.length;

    // Act
    const deleted = await t.call(approverGroupDelete, { method: 'DELETE', path: '/api/x', params });
    const read = await t.call(approverGroupGet, { path: '/api/x', params });
    const again = await t.call(approverGroupDelete, { method: 'DELETE', path: '/api/x', params });

    // Assess
    expect(deleted.status).toBe(204);
    expect(read.status).toBe(404);
    expect(again.status).toBe(404);
    expect(await groupRows('short-lived')).toBe(0);
    expect(t.audit.events.slice(auditBefore)).toEqual([
      expect.objectContaining({
        action: 'approverGroup.deleted',
        detail: {
          before: storedGroup('short-lived', ['a@contoso.com']),
          after: null,
        },
      }),
    ]);
  });
});

describe('enabling and disabling privileged access', () => {
  it('starts disabled, with nothing configured', async () => {
    const res = await t.call(pamRead, { path: '/api/pam', as: 'auditor' });
    expect(res).toMatchObject({
      status: 200,
      body: {
        enabled: false,
        defaultApproverGroup: null,
        systemAccounts: [],
        updatedAt: null,
        updatedBy: null,
      },
    });
  });

  it('refuses to enable with a default group that does not exist (400), writing nothing', async () => {
    const before = await t.snapshot();
    const res = await t.call(pamEnable, {
      method: 'POST',
      path: '/api/pam/enable',
      body: { defaultApproverGroup: 'nobody-here' },
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ errors: [{ pointer: '#/defaultApproverGroup' }] });
    expect((res.body as { detail: string }).detail).toContain('nobody-here');
    expect(await t.snapshot()).toBe(before);
  });

  it('enables, then disables keeping the default group and system accounts; both audited', async () => {
    // Prepare
    await t.call(approverGroupPut, {
      method: 'PUT',
      path: '/api/x',
      params: { name: 'pam-default' },
      body: { members: ['bob@contoso.com'] },
    });
    const auditBefore = t.audit.events.length;

    // Act
    const enabled = await t.call(pamEnable, {
      method: 'POST',
      path: '/api/pam/enable',
      body: { defaultApproverGroup: 'pam-default', systemAccounts: ['Robot@Contoso.com'] },
    });
    const readEnabled = await t.call(pamRead, { path: '/api/pam' });
    const disabled = await t.call(pamDisable, { method: 'POST', path: '/api/pam/disable' });
    const readDisabled = await t.call(pamRead, { path: '/api/pam', as: 'auditor' });
    const groupStill = await t.call(approverGroupGet, { path: '/api/x', params: { name: 'pam-default' } });

    // Assess
    const on = {
      enabled: true,
      defaultApproverGroup: 'pam-default',
      systemAccounts: [identity('robot@contoso.com')],
      updatedBy: ADMIN,
    };
    const onView = {
      ...on,
      systemAccounts: ['robot@contoso.com'],
      systemAccountIdentities: [identity('robot@contoso.com')],
    };
    expect(enabled).toMatchObject({ status: 200, body: onView });
    expect(readEnabled.body).toEqual(enabled.body);
    expect(disabled).toMatchObject({ status: 200, body: { ...onView, enabled: false } });
    expect(readDisabled.body).toEqual(disabled.body);
    expect(groupStill.status).toBe(200);
    const [enableEvent, disableEvent] = t.audit.events.slice(auditBefore);
    expect(enableEvent).toMatchObject({
      action: 'pam.enabled',
      detail: { before: { enabled: false, defaultApproverGroup: null }, after: on },
    });
    expect(disableEvent).toMatchObject({
      action: 'pam.disabled',
      detail: { before: on, after: { ...on, enabled: false } },
    });
  });

  it('refuses to delete the default approver group (409), even while disabled', async () => {
    const before = await t.snapshot();
    const res = await t.call(approverGroupDelete, {
      method: 'DELETE',
      path: '/api/x',
      params: { name: 'pam-default' },
    });
    expect(res.status).toBe(409);
    expect((res.body as { detail: string }).detail).toContain('default approver group');
    expect(await t.snapshot()).toBe(before);
  });

  it('refuses a body on disable that says anything (400)', async () => {
    const res = await t.call(pamDisable, {
      method: 'POST',
      path: '/api/pam/disable',
      body: { enabled: false },
    });
    expect(res.status).toBe(400);
  });

  it('refuses every change while the audit log is unavailable (503), writing nothing', async () => {
    // Prepare
    const deps = getDeps();
    const sink = t.audit;
    Reflect.deleteProperty(deps, 'audit');
    const before = await t.snapshot();

    // Act
    const res = await t.call(approverGroupPut, {
      method: 'PUT',
      path: '/api/x',
      params: { name: 'unaudited' },
      body: { members: ['a@contoso.com'] },
    });
    Object.assign(deps, { audit: sink });

    // Assess
    expect(res.status).toBe(503);
    expect(await t.snapshot()).toBe(before);
  });
});
