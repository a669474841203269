import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  catalogRoleDelete,
  catalogRoleGroupDelete,
  catalogRoleGroupPut,
  catalogRoleGroupsGet,
  catalogRolePut,
  catalogRolesGet,
  catalogTaskDelete,
  catalogTaskPut,
  catalogTasksGet,
} from '../../../functions/catalog';
import { aTaskBody, HOSTILE_NAMES, query, startAdminEnv, type AdminTestEnv, type Handler } from './support';

let t: AdminTestEnv;
beforeAll(async () => {
  t = await startAdminEnv({ ZSA_EXECUTOR_ALLOWED_HOSTS: '127.0.0.1,localhost,automation.example.com:8443' });
});
afterAll(async () => {
  await t.close();
});

const put = (handler: Handler, body: unknown) =>
  t.call(handler, { method: 'PUT', path: '/api/catalog', body });
const getOne = (handler: Handler, name: string, as: 'admin' | 'auditor' | 'user' = 'admin') =>
  t.call(handler, { path: `/api/catalog/x${query(name)}`, as });
const remove = (handler: Handler, name: string) =>
  t.call(handler, { method: 'DELETE', path: `/api/catalog/x${query(name)}` });

describe('who may call the catalog endpoints', () => {
  const writes: { name: string; handler: Handler; method: string; path: string; body?: unknown }[] = [
    {
      name: 'PUT tasks',
      handler: catalogTaskPut,
      method: 'PUT',
      path: '/api/catalog/tasks',
      body: aTaskBody('authz'),
    },
    {
      name: 'PUT roles',
      handler: catalogRolePut,
      method: 'PUT',
      path: '/api/catalog/roles',
      body: { name: 'authz', tasks: ['authz'] },
    },
    {
      name: 'PUT role-groups',
      handler: catalogRoleGroupPut,
      method: 'PUT',
      path: '/api/catalog/role-groups',
      body: { name: 'authz', roles: ['authz'] },
    },
    {
      name: 'DELETE tasks',
      handler: catalogTaskDelete,
      method: 'DELETE',
      path: '/api/catalog/tasks?name=authz',
    },
    {
      name: 'DELETE roles',
      handler: catalogRoleDelete,
      method: 'DELETE',
      path: '/api/catalog/roles?name=authz',
    },
    {
      name: 'DELETE role-groups',
      handler: catalogRoleGroupDelete,
      method: 'DELETE',
      path: '/api/catalog/role-groups?name=authz',
    },
  ];

  it.each(writes)('$name: nobody → 401, plain user and auditor → 403, nothing written', async (c) => {
    const before = await t.snapshot();
    const opts = { method: c.method, path: c.path, ...(c.body ? { body: c.body } : {}) };
    expect((await t.call(c.handler, { ...opts, as: 'nobody' })).status).toBe(401);
    expect((await t.call(c.handler, { ...opts, as: 'user' })).status).toBe(403);
    expect((await t.call(c.handler, { ...opts, as: 'auditor' })).status).toBe(403);
    expect(await t.snapshot()).toBe(before);
  });

  it.each([
    ['tasks', catalogTasksGet],
    ['roles', catalogRolesGet],
    ['role-groups', catalogRoleGroupsGet],
  ] as const)('GET %s: any signed-in user (200), nobody → 401', async (_name, handler) => {
    expect((await t.call(handler, { path: '/api/catalog/x', as: 'user' })).status).toBe(200);
    expect((await t.call(handler, { path: '/api/catalog/x', as: 'nobody' })).status).toBe(401);
  });
});

describe('tasks', () => {
  it.each(HOSTILE_NAMES)(
    'round-trips the name %j exactly (201, then read back one and in the list)',
    async (name) => {
      // Prepare
      const body = aTaskBody(name, {
        parameters: [
          {
            name: 'Identity',
            type: 'string',
            required: true,
            pattern: '[a-z]+@contoso\\.com',
            maxLength: 256,
          },
          { name: 'Force', type: 'boolean' },
        ],
      });
      const auditBefore = t.audit.events.length;

      // Act
      const created = await put(catalogTaskPut, body);
      const one = await getOne(catalogTasksGet, name);
      const list = await t.call(catalogTasksGet, { path: '/api/catalog/tasks' });

      // Assess
      const stored = {
        ...body,
        parameters: [
          {
            name: 'Identity',
            type: 'string',
            required: true,
            pattern: '[a-z]+@contoso\\.com',
            maxLength: 256,
          },
          { name: 'Force', type: 'boolean', required: false },
        ],
      };
      expect(created.status).toBe(201);
      expect(created.headers.get('location')).toBe(`/api/catalog/tasks${query(name)}`);
      expect(one).toMatchObject({ status: 200, body: stored });
      expect((list.body as { items: unknown[] }).items).toContainEqual(stored);
      expect(t.audit.events.slice(auditBefore)).toEqual([
        expect.objectContaining({
          action: 'catalog.task.put',
          task: name,
          detail: { before: null, after: stored },
        }),
      ]);
    },
  );

  it('replaces a task (200): the new description, executor and parameters; audit has both', async () => {
    // Prepare
    await put(catalogTaskPut, aTaskBody('Replace-Me', { parameters: [{ name: 'A', type: 'number' }] }));
    const auditBefore = t.audit.events.length;
    const replacement = aTaskBody('Replace-Me', {
      description: 'Second version',
      executor: { type: 'serviceBus', queue: 'zsa-commands' },
    });

    // Act
    const replaced = await put(catalogTaskPut, replacement);
    const read = await getOne(catalogTasksGet, 'Replace-Me');

    // Assess
    expect(replaced.status).toBe(200);
    expect(read.body).toEqual(replacement);
    expect(read.body).not.toHaveProperty('parameters');
    expect(t.audit.events.slice(auditBefore)[0]).toMatchObject({
      detail: {
        before: {
          description: 'Runs Replace-Me',
          parameters: [{ name: 'A', type: 'number', required: false }],
        },
        after: replacement,
      },
    });
  });

  it('keeps an empty parameter list distinct from none', async () => {
    await put(catalogTaskPut, aTaskBody('No-Parameters', { parameters: [] }));
    expect((await getOne(catalogTasksGet, 'No-Parameters')).body).toMatchObject({ parameters: [] });
  });

  it('shows plain users the task without its executor; auditors see everything', async () => {
    // Prepare
    await put(catalogTaskPut, aTaskBody('Secret-Hook'));

    // Act
    const asUser = await getOne(catalogTasksGet, 'Secret-Hook', 'user');
    const listAsUser = await t.call(catalogTasksGet, { path: '/api/catalog/tasks', as: 'user' });
    const asAuditor = await getOne(catalogTasksGet, 'Secret-Hook', 'auditor');

    // Assess
    expect(asUser.body).toEqual({ name: 'Secret-Hook', description: 'Runs Secret-Hook' });
    expect(JSON.stringify(listAsUser.body)).not.toContain('s3cret');
    expect(JSON.stringify(listAsUser.body)).not.toContain('executor');
    expect(asAuditor.body).toMatchObject({ executor: { url: expect.stringContaining('s3cret') as unknown } });
  });

  it.each([
    ['a host not on ZSA_EXECUTOR_ALLOWED_HOSTS', 'https://evil.example.com/hook', '#/executor/url'],
    ['an allowed host:port entry, on another port', 'https://automation.example.com/hook', '#/executor/url'],
    ['plain http off loopback', 'http://automation.example.com/hook', '#/executor/url'],
    ['credentials in the URL', 'https://user:pw@127.0.0.1/hook', '#/executor/url'],
    ['a URL that is not http(s)', 'file:///etc/passwd', '#/executor/url'],
  ])('refuses a webhook with %s (400 at %s), writing nothing', async (_label, url, pointer) => {
    const before = await t.snapshot();
    const res = await put(catalogTaskPut, aTaskBody('Bad-Hook', { executor: { type: 'webhook', url } }));
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      errors: expect.arrayContaining([expect.objectContaining({ pointer })]) as unknown,
    });
    expect(await t.snapshot()).toBe(before);
  });

  it.each([
    ['plain http on loopback', 'http://localhost:9999/hook'],
    ['an allowed host:port entry', 'https://automation.example.com:8443/webhooks/run'],
  ])('accepts a webhook on %s (201)', async (label, url) => {
    const res = await put(catalogTaskPut, aTaskBody(`Hook ${label}`, { executor: { type: 'webhook', url } }));
    expect(res.status).toBe(201);
  });

  it('answers 404 for a name that is not there, and 400 for unknown query parameters', async () => {
    expect((await getOne(catalogTasksGet, 'Nope\\Nothing')).status).toBe(404);
    expect((await t.call(catalogTasksGet, { path: '/api/catalog/tasks?nam=x' })).status).toBe(400);
    expect((await remove(catalogTaskDelete, 'Nope\\Nothing')).status).toBe(404);
    expect((await t.call(catalogTaskDelete, { method: 'DELETE', path: '/api/catalog/tasks' })).status).toBe(
      400,
    );
  });
});

describe('roles and role groups', () => {
  it('stores a role of existing tasks (row per task, order kept) and a role group of roles; names round-trip', async () => {
    // Prepare
    const [move, mailbox, odd] = HOSTILE_NAMES;
    for (const name of [move, mailbox, odd]) await put(catalogTaskPut, aTaskBody(name ?? ''));
    const role = { name: 'Mailbox Operator/ü#?', tasks: [odd, move, mailbox] };
    const group = { name: 'Exchange\\Operations ✓', roles: [role.name] };
    const auditBefore = t.audit.events.length;

    // Act
    const createdRole = await put(catalogRolePut, role);
    const createdGroup = await put(catalogRoleGroupPut, group);
    const readRole = await getOne(catalogRolesGet, role.name, 'user');
    const readGroup = await getOne(catalogRoleGroupsGet, group.name, 'auditor');
    const roles = await t.call(catalogRolesGet, { path: '/api/catalog/roles' });

    // Assess
    expect(createdRole.status).toBe(201);
    expect(createdGroup.status).toBe(201);
    expect(readRole.body).toEqual(role);
    expect(readGroup.body).toEqual(group);
    expect((roles.body as { items: unknown[] }).items).toContainEqual(role);
    expect(t.audit.events.slice(auditBefore).map((e) => [e.action, e.detail])).toEqual([
      ['catalog.role.put', { before: null, after: role }],
      ['catalog.roleGroup.put', { before: null, after: group }],
    ]);
  });

  it('refuses a role naming tasks that do not exist (400 naming each), writing nothing', async () => {
    const before = await t.snapshot();
    const res = await put(catalogRolePut, {
      name: 'Broken',
      tasks: [HOSTILE_NAMES[0], 'Ghost-1', 'Ghost\\2'],
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      code: 'INVALID_INPUT',
      errors: [
        { pointer: '#/tasks/1', detail: 'no task named "Ghost-1"' },
        { pointer: '#/tasks/2', detail: 'no task named "Ghost\\\\2"' },
      ],
    });
    expect(await t.snapshot()).toBe(before);
  });

  it('refuses a task whose parameter patterns the linear-time engine cannot run (400 naming each), writing nothing', async () => {
    // Prepare
    const before = await t.snapshot();
    const auditBefore = t.audit.events.length;

    // Act
    const res = await put(
      catalogTaskPut,
      aTaskBody('Stalling', {
        parameters: [
          { name: 'Identity', type: 'string', pattern: '[a-z]+@contoso\\.com' },
          { name: 'Alias', type: 'string', pattern: '(a+)+b' },
          { name: 'Twice', type: 'string', pattern: '(\\w+)-\\1' },
          { name: 'Ahead', type: 'string', pattern: '(?=.*\\d)\\w+' },
        ],
      }),
    );

    // Assess
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.body).toMatchObject({
      code: 'INVALID_INPUT',
      errors: [
        // `(a+)+b` is fine: it runs in linear time like any other.
        {
          pointer: '#/parameters/2/pattern',
          detail: expect.stringMatching(/^Twice: it uses a back-reference \(\\1\)/) as unknown,
        },
        {
          pointer: '#/parameters/3/pattern',
          detail: expect.stringMatching(/^Ahead: it uses a lookahead/) as unknown,
        },
      ],
    });
    expect(await t.snapshot()).toBe(before);
    expect(t.audit.events).toHaveLength(auditBefore);
  });

  it('refuses a role group naming roles that do not exist (400)', async () => {
    const res = await put(catalogRoleGroupPut, { name: 'Broken', roles: ['No Such Role'] });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ errors: [{ pointer: '#/roles/0' }] });
  });

  it('replaces a role (200): the new task list exactly', async () => {
    // Prepare
    await put(catalogTaskPut, aTaskBody('T1'));
    await put(catalogTaskPut, aTaskBody('T2'));
    await put(catalogRolePut, { name: 'Shifting', tasks: ['T1', 'T2'] });

    // Act
    const res = await put(catalogRolePut, { name: 'Shifting', tasks: ['T2'] });

    // Assess
    expect(res.status).toBe(200);
    expect((await getOne(catalogRolesGet, 'Shifting')).body).toEqual({ name: 'Shifting', tasks: ['T2'] });
  });

  it('refuses to delete a task a role lists, or a role a role group lists (409), writing nothing', async () => {
    const before = await t.snapshot();
    const task = await remove(catalogTaskDelete, HOSTILE_NAMES[0] ?? '');
    const role = await remove(catalogRoleDelete, 'Mailbox Operator/ü#?');
    expect(task.status).toBe(409);
    expect((task.body as { detail: string }).detail).toContain('Mailbox Operator/ü#?');
    expect(role.status).toBe(409);
    expect((role.body as { detail: string }).detail).toContain('Exchange\\\\Operations ✓');
    expect(await t.snapshot()).toBe(before);
  });

  it('deletes a role group, then its role, then a task, each audited; a task no longer listed can go', async () => {
    // Prepare
    const auditBefore = t.audit.events.length;

    // Act
    const group = await remove(catalogRoleGroupDelete, 'Exchange\\Operations ✓');
    const role = await remove(catalogRoleDelete, 'Mailbox Operator/ü#?');
    const task = await remove(catalogTaskDelete, HOSTILE_NAMES[0] ?? '');
    const t1 = await remove(catalogTaskDelete, 'T1'); // dropped from role "Shifting" by the replacement

    // Assess
    expect([group.status, role.status, task.status, t1.status]).toEqual([204, 204, 204, 204]);
    expect((await getOne(catalogRoleGroupsGet, 'Exchange\\Operations ✓')).status).toBe(404);
    expect((await getOne(catalogRolesGet, 'Mailbox Operator/ü#?')).status).toBe(404);
    expect((await getOne(catalogTasksGet, HOSTILE_NAMES[0] ?? '')).status).toBe(404);
    expect(t.audit.events.slice(auditBefore).map((e) => [e.action, e.detail?.after])).toEqual([
      ['catalog.roleGroup.deleted', null],
      ['catalog.role.deleted', null],
      ['catalog.task.deleted', null],
      ['catalog.task.deleted', null],
    ]);
    expect(t.audit.events.at(-2)).toMatchObject({
      task: HOSTILE_NAMES[0],
      detail: { before: { name: HOSTILE_NAMES[0] } },
    });
  });
});
