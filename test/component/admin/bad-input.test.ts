/**
 * Bad input across every configuration endpoint: always a 4xx problem (RFC 9457) a person can act
 * on, never a 5xx, never a stack or an internal name, and never a write.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approverGroupPut } from '../../../functions/approver-groups';
import {
  catalogRoleDelete,
  catalogRoleGroupPut,
  catalogRolePut,
  catalogTaskDelete,
  catalogTaskPut,
  catalogTasksGet,
} from '../../../functions/catalog';
import { pamDisable, pamEnable } from '../../../functions/pam';
import { policyCreate, policyUpdate } from '../../../functions/policies';
import { MAX_BODY_BYTES } from '#shared/http/handler';
import { aTaskBody, startAdminEnv, type AdminTestEnv, type Handler } from './support';

let t: AdminTestEnv;
beforeAll(async () => {
  t = await startAdminEnv();
  // Something for the bodies to refer to, so that only the mutation makes them invalid.
  await t.call(approverGroupPut, {
    method: 'PUT',
    path: '/api/x',
    params: { name: 'approvers' },
    body: { members: ['a@contoso.com'] },
  });
  await t.call(catalogTaskPut, {
    method: 'PUT',
    path: '/api/x',
    body: aTaskBody('Exchange\\New-MoveRequest'),
  });
  await t.call(catalogRolePut, {
    method: 'PUT',
    path: '/api/x',
    body: { name: 'Operator', tasks: ['Exchange\\New-MoveRequest'] },
  });
});
afterAll(async () => {
  await t.close();
});

interface Endpoint {
  name: string;
  handler: Handler;
  method: string;
  params?: Record<string, string>;
  /** A body the endpoint would accept (and act on). */
  valid: Record<string, unknown>;
}

const ENDPOINTS: Endpoint[] = [
  {
    name: 'POST /api/pam/enable',
    handler: pamEnable,
    method: 'POST',
    valid: { defaultApproverGroup: 'approvers', systemAccounts: ['robot@contoso.com'] },
  },
  {
    name: 'PUT /api/approver-groups/{name}',
    handler: approverGroupPut,
    method: 'PUT',
    params: { name: 'approvers' },
    valid: { members: ['b@contoso.com'], description: 'x' },
  },
  {
    name: 'PUT /api/catalog/tasks',
    handler: catalogTaskPut,
    method: 'PUT',
    valid: aTaskBody('Fuzz\\Task', { parameters: [{ name: 'Identity', type: 'string' }] }),
  },
  {
    name: 'PUT /api/catalog/roles',
    handler: catalogRolePut,
    method: 'PUT',
    valid: { name: 'Fuzz Role', tasks: ['Exchange\\New-MoveRequest'] },
  },
  {
    name: 'PUT /api/catalog/role-groups',
    handler: catalogRoleGroupPut,
    method: 'PUT',
    valid: { name: 'Fuzz Group', roles: ['Operator'] },
  },
  {
    name: 'POST /api/policies',
    handler: policyCreate,
    method: 'POST',
    valid: {
      scope: 'role',
      target: 'Operator',
      approvalType: 'manual',
      approverGroup: 'approvers',
      requiredApprovals: 1,
      maxDurationHours: 4,
      pendingTimeoutHours: 24,
    },
  },
  {
    name: 'PUT /api/policies/{id}',
    handler: policyUpdate,
    method: 'PUT',
    params: { id: 'p-fuzz' },
    valid: { scope: 'role', target: 'Operator', approvalType: 'auto' },
  },
];

function send(e: Endpoint, body: unknown, headers: Record<string, string> = {}) {
  return t.call(e.handler, {
    method: e.method,
    path: '/api/x',
    ...(e.params ? { params: e.params } : {}),
    body,
    headers,
  });
}

/** A problem a person can read: RFC 9457 members, and nothing of the server's insides. */
function expectCleanProblem(res: { status: number; headers: Headers; body: unknown }, status: number): void {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  expect(res.body).toMatchObject({
    type: expect.stringMatching(/^urn:zsa:problem:/) as unknown,
    title: expect.any(String) as unknown,
    status,
    detail: expect.any(String) as unknown,
  });
  const text = JSON.stringify(res.body);
  expect(text).not.toMatch(
    /\bat [\w.<>]+ \(|node_modules|\.[jt]s:\d+|TableClient|RestError|ZodError|devstoreaccount/,
  );
}

describe.each(ENDPOINTS)('$name', (e) => {
  it('refuses an unknown field (400), writing nothing', async () => {
    const before = await t.snapshot();
    const res = await send(e, { ...e.valid, isAdmin: true });
    expectCleanProblem(res, 400);
    expect(res.body).toMatchObject({
      code: 'INVALID_INPUT',
      errors: [expect.objectContaining({ pointer: '#' })],
    });
    expect((res.body as { detail: string }).detail).toContain('isAdmin');
    expect(await t.snapshot()).toBe(before);
  });

  it('refuses malformed JSON (400)', async () => {
    const res = await send(e, `${JSON.stringify(e.valid).slice(0, -1)},`);
    expectCleanProblem(res, 400);
    expect(res.body).toMatchObject({ code: 'MALFORMED_JSON' });
  });

  it('refuses a body over 64 KiB (413)', async () => {
    const res = await send(e, { ...e.valid, padding: 'x'.repeat(MAX_BODY_BYTES) });
    expectCleanProblem(res, 413);
  });

  it('refuses a body that is not JSON by its media type (415)', async () => {
    const res = await send(e, JSON.stringify(e.valid), { 'content-type': 'text/plain' });
    expectCleanProblem(res, 415);
  });

  it('points at every field of the wrong type (400 with errors)', async () => {
    const wrong = Object.fromEntries(
      Object.entries(e.valid).map(([k, v]) => [k, typeof v === 'number' ? String(v) : 42]),
    );
    const res = await send(e, wrong);
    expectCleanProblem(res, 400);
    const pointers = (res.body as { errors: { pointer: string }[] }).errors.map((x) => x.pointer);
    for (const key of Object.keys(e.valid)) expect(pointers).toContain(`#/${key}`);
  });
});

describe('hostile input, at random', () => {
  // A small deterministic PRNG (mulberry32), so a failure can be replayed from its seed.
  function prng(seed: number): () => number {
    let a = seed;
    return () => {
      a = (a + 0x6d2b79f5) | 0;
      let r = Math.imul(a ^ (a >>> 15), 1 | a);
      r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
      return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
    };
  }
  const SEED = 20301;
  const random = prng(SEED);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  /** Not a valid name, UPN or id anywhere: empty, padded, control characters, lone surrogates, too long. */
  const INVALID_NAMES = [
    '',
    ' ',
    ' padded ',
    '\u0000',
    'a\u0007b',
    '\ud800',
    '\udfff',
    'x'.repeat(300),
    'a\u2028b',
  ];
  /** Valid as catalog names (so only ever looked up, never written, here), hostile elsewhere. */
  const HOSTILE_STRINGS = [
    ...INVALID_NAMES,
    '../../etc/passwd',
    "'; DROP TABLE x; --",
    '<script>alert(1)</script>',
    '${jndi:ldap://x}',
    '%00',
    '\u202e',
    '__proto__',
    'constructor',
    "PartitionKey eq 'x' or true",
  ];
  const wrongFor = (v: unknown): unknown =>
    pick(
      typeof v === 'string'
        ? [1, null, {}, [], true, -0.5]
        : typeof v === 'number'
          ? ['1', null, {}, [], 1e308 * 10]
          : Array.isArray(v)
            ? ['x', 1, {}, null, [[]]]
            : ['x', 1, [], null],
    );
  // A lone surrogate cannot be percent-encoded; send the bytes a client would (invalid UTF-8).
  const urlEncoded = (s: string): string => {
    try {
      return encodeURIComponent(s);
    } catch {
      return '%ED%A0%80';
    }
  };
  const nested = (depth: number): unknown => (depth === 0 ? {} : { a: nested(depth - 1) });

  /** A body that cannot be valid: every mutation breaks a rule the schema enforces. */
  function hostileBody(e: Endpoint): unknown {
    const body: Record<string, unknown> = structuredClone(e.valid);
    const keys = Object.keys(body);
    switch (Math.floor(random() * 8)) {
      case 0:
        return {
          ...body,
          [pick(['__proto__', 'constructor', 'prototype', 'id', 'etag', 'PartitionKey', ''])]: pick([
            1,
            {},
            'x',
          ]),
        };
      case 1: {
        const key = pick(keys);
        return { ...body, [key]: wrongFor(body[key]) };
      }
      case 2: {
        const key = keys[0] ?? 'x';
        const { [key]: _dropped, ...rest } = body;
        return rest;
      }
      case 3: {
        const key = keys[0] ?? 'x';
        return {
          ...body,
          [key]: typeof body[key] === 'string' ? pick(INVALID_NAMES) : [pick(INVALID_NAMES)],
        };
      }
      case 4:
        return { ...body, deep: nested(200 + Math.floor(random() * 2000)) };
      case 5:
        return pick([null, 0, 'a string', [], [body], true]);
      case 6:
        return pick([
          '{',
          '{"a":}',
          '\u0000',
          '[1,2',
          '{"members": ["a@b.c",]}',
          'null null',
          '\ud800',
          'NaN',
        ]);
      default:
        return { ...body, [pick(keys)]: 'x'.repeat(MAX_BODY_BYTES + 1) };
    }
  }

  it(`never answers 5xx and never writes, for 300 hostile bodies, paths and queries (seed ${SEED})`, async () => {
    // Prepare
    const before = await t.snapshot();
    const auditBefore = t.audit.events.length;
    const statuses = new Map<number, number>();
    const failures: string[] = [];

    // Act
    for (let i = 0; i < 300; i++) {
      const e = pick(ENDPOINTS);
      let res: { status: number; body: unknown; headers: Headers };
      const kind = random();
      let sent: unknown = undefined;
      if (kind < 0.7) {
        sent = hostileBody(e);
        res = await send(e, sent);
      } else if (kind < 0.8 && e.params) {
        const key = Object.keys(e.params)[0] ?? 'name';
        res = await t.call(e.handler, {
          method: e.method,
          path: '/api/x',
          params: { [key]: pick(HOSTILE_STRINGS) + pick(['!', ' ', '#', '/']) },
          body: e.valid,
        });
      } else {
        const handler = pick([catalogTasksGet, catalogTaskDelete, catalogRoleDelete, pamDisable]);
        const q = pick([
          `name=${urlEncoded(pick(HOSTILE_STRINGS))}`,
          'name=',
          'name=%ED%A0%80',
          'x=1',
          `name=${'%F0%9F%98%80'.repeat(300)}`,
          'name=a&name=b&other=1',
        ]);
        res = await t.call(handler, {
          method: handler === catalogTasksGet ? 'GET' : handler === pamDisable ? 'POST' : 'DELETE',
          path: `/api/catalog/x?${q}`,
          ...(handler === pamDisable ? { body: { q } } : {}),
        });
      }
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status === 201 || res.status === 204)
        failures.push(`#${i} ${e.name}: accepted ${JSON.stringify(sent)}`);
      if (
        res.status >= 500 ||
        (res.status >= 400 && res.headers.get('content-type') !== 'application/problem+json')
      )
        failures.push(`#${i} ${e.name}: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
    }

    // Assess
    expect(failures).toEqual([]);
    expect([...statuses.keys()].filter((s) => !((s >= 400 && s < 500) || s === 200))).toEqual([]);
    expect(t.audit.events.length).toBe(auditBefore);
    expect(await t.snapshot()).toBe(before);
  });
});
