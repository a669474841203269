/**
 * A fuzz pass over every endpoint, through the local host: random and hostile bodies, queries and
 * path values (oversized strings, forbidden key characters, deep nesting, wrong types, prototype
 * keys, control characters) must never produce a 5xx, and must write nothing: every table except
 * the audit (refusals are audited by design) is byte-for-byte the same afterwards.
 */
import { randomUUID } from 'node:crypto';
import { TableClient, TableServiceClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caller, send, type Caller } from '../support/api';
import { sharedStorageEnv, startLocalHost, type HostProcess } from '../support/local-host';

let host: HostProcess;
let admin: Caller;
let storage: string;
let prefix: string;

beforeAll(async () => {
  // On the suite's shared Azurite: this host's tables (and its task hub's) all start with its prefix.
  const storageEnv = sharedStorageEnv();
  storage = storageEnv.AzureWebJobsStorage ?? '';
  prefix = storageEnv.ZSA_TABLE_PREFIX ?? '';
  host = await startLocalHost({
    env: {
      ...storageEnv,
      ZSA_MIN_DURATION_SECONDS: '1',
      ZSA_EXECUTOR_ALLOWED_HOSTS: '127.0.0.1',
      ZSA_WEBHOOK_SIGNING_KEY: 'fuzz',
    },
  });
  admin = await caller(host.url, 'admin@contoso.com', ['PAM.Admin']);
  // Some state for the fuzzer to (fail to) change.
  await admin.put('/api/approver-groups/fuzz-approvers', { members: ['a@contoso.com', 'b@contoso.com'] });
  await admin.post('/api/pam/enable', { defaultApproverGroup: 'fuzz-approvers' });
  await admin.put('/api/catalog/tasks', {
    name: 'Fuzz\\Task',
    description: 'd',
    executor: { type: 'webhook', url: 'http://127.0.0.1:9/x' },
  });
  await admin.post('/api/policies', { scope: 'task', target: 'Fuzz\\Task', approvalType: 'manual' });
}, 90_000);

afterAll(async () => {
  await host.stop();
});

/** Every entity of every non-audit table of this host, as text. */
async function snapshot(): Promise<string> {
  const service = TableServiceClient.fromConnectionString(storage, { allowInsecureConnection: true });
  const out: string[] = [];
  for await (const t of service.listTables()) {
    const name = t.name ?? '';
    if (!name.startsWith(prefix) || /audit/i.test(name)) continue;
    const client = TableClient.fromConnectionString(storage, name, { allowInsecureConnection: true });
    for await (const e of client.listEntities()) {
      const { etag: _etag, timestamp: _ts, ...rest } = e as Record<string, unknown>;
      out.push(`${name} ${JSON.stringify(rest)}`);
    }
  }
  return out.sort().join('\n');
}

/** A seeded generator so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const HOSTILE_STRINGS = [
  '',
  ' ',
  'x'.repeat(70_000),
  'a/b\\c#d?e',
  '\u0000\u0001\u001f\u007f',
  '../../etc/passwd',
  '<script>alert(1)</script>',
  "'; DROP TABLE x; --",
  "PartitionKey eq 'x' or true",
  '=cmd|calc',
  '\ud800',
  '🙂'.repeat(300),
  '%00%2F%5C',
  '${jndi:ldap://x}',
];

function randomValue(r: () => number, depth = 0): unknown {
  const pick = Math.floor(r() * 10);
  if (depth > 3) return HOSTILE_STRINGS[Math.floor(r() * HOSTILE_STRINGS.length)];
  switch (pick) {
    case 0:
      return null;
    case 1:
      return r() < 0.5;
    case 2:
      return [1e309, -0, Number.MAX_SAFE_INTEGER * 10, -1, 0.0000001, 4e6][Math.floor(r() * 6)];
    case 3:
    case 4:
      return HOSTILE_STRINGS[Math.floor(r() * HOSTILE_STRINGS.length)];
    case 5:
      return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
    default: {
      const keys = [
        'task',
        'role',
        'roleGroup',
        'reason',
        'durationHours',
        'parameters',
        'members',
        'name',
        'executor',
        'scope',
        'target',
        'approvalType',
        'requiredApprovals',
        'comment',
        'defaultApproverGroup',
        'systemAccounts',
        'requestId',
        '__proto__',
        'constructor',
        'extra',
      ];
      const o: Record<string, unknown> = {};
      for (let i = 0; i < 1 + Math.floor(r() * 5); i++)
        o[keys[Math.floor(r() * keys.length)] ?? 'k'] = randomValue(r, depth + 1);
      return o;
    }
  }
}

const ENDPOINTS: [string, string][] = [
  ['POST', '/api/pam/enable'],
  ['POST', '/api/pam/disable'],
  ['PUT', '/api/approver-groups/{x}'],
  ['DELETE', '/api/approver-groups/{x}'],
  ['PUT', '/api/catalog/tasks'],
  ['PUT', '/api/catalog/roles'],
  ['PUT', '/api/catalog/role-groups'],
  ['DELETE', '/api/catalog/tasks?name={x}'],
  ['POST', '/api/policies'],
  ['PUT', '/api/policies/{x}'],
  ['DELETE', '/api/policies/{x}'],
  ['POST', '/api/requests'],
  ['GET', '/api/requests?status={x}&continuationToken={x}'],
  ['GET', '/api/requests/{x}'],
  ['POST', '/api/requests/{x}/approve'],
  ['POST', '/api/requests/{x}/deny'],
  ['POST', '/api/requests/{x}/cancel'],
  ['POST', '/api/requests/{x}/revoke'],
  ['POST', '/api/execute'],
  ['GET', '/api/decisions/{x}'],
  ['POST', '/api/decisions/{x}'],
  ['GET', '/api/audit?from={x}&to={x}&continuationToken={x}'],
  ['GET', '/api/audit/verify?from={x}'],
  ['GET', '/api/audit/export?format={x}'],
];

describe('fuzz: hostile input never yields a 5xx and never writes', () => {
  it('survives random and hostile bodies on every endpoint', async () => {
    const before = await snapshot();
    const r = rng(20261126);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    const bodies = (): string[] => [
      JSON.stringify(randomValue(r)),
      '{"unterminated": ',
      '['.repeat(5000) + ']'.repeat(5000),
      JSON.stringify({ a: 'x'.repeat(70_000) }),
      'not json at all',
      '{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}}',
    ];
    for (const [method, template] of ENDPOINTS) {
      for (let round = 0; round < 4; round++) {
        const raw = String(HOSTILE_STRINGS[Math.floor(r() * HOSTILE_STRINGS.length)]).slice(0, 300);
        // A lone surrogate cannot be percent-encoded; send invalid UTF-8 bytes instead.
        const segment = raw === '\ud800' ? '%ED%A0%80' : encodeURIComponent(raw);
        const path = template.replaceAll('{x}', segment);
        const candidates = method === 'GET' || method === 'DELETE' ? [undefined] : bodies();
        for (const body of candidates) {
          const res = await send(`${host.url}${path}`, {
            method,
            headers: {
              authorization: `Bearer ${admin.token}`,
              ...(body !== undefined
                ? { 'content-type': r() < 0.9 ? 'application/json' : 'text/plain' }
                : {}),
            },
            ...(body !== undefined ? { body } : {}),
          });
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.status >= 500)
            failures.push(`${method} ${path.slice(0, 80)} → ${res.status} ${res.text.slice(0, 200)}`);
          if (res.status < 400 && !(method === 'GET'))
            failures.push(`${method} ${path.slice(0, 80)} accepted a hostile body (${res.status})`);
          if (
            res.status >= 400 &&
            res.text.length > 0 &&
            !/problem\+json|text\/html/.test(res.headers.get('content-type') ?? '')
          ) {
            failures.push(`${method} ${path.slice(0, 80)} → ${res.status} without a problem body`);
          }
          if (/at .*\.js:\d+|node_modules|Error:/.test(res.text))
            failures.push(`${method} ${path.slice(0, 80)} leaked internals`);
        }
      }
    }
    expect(failures).toEqual([]);
    // The pass really reached validation: bad input (400), size limit (413), unknown ids (404), media type (415).
    for (const status of [400, 404, 413, 415]) expect(statuses.get(status) ?? 0).toBeGreaterThan(0);
    expect(statuses.get(401) ?? 0).toBe(0);
    expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(350);
    expect(await snapshot()).toBe(before);
  }, 240_000);
});

describe('cross-site writes', () => {
  it.each<{ name: string; from: Record<string, string> }>([
    { name: 'another site’s page', from: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } },
    { name: 'an opaque origin (sandboxed frame), no Fetch Metadata', from: { origin: 'null' } },
    { name: 'a sibling site', from: { 'sec-fetch-site': 'same-site' } },
  ])(
    'refuses a write sent from $name (CSRF), and lets the same call through without Origin',
    async ({ from }) => {
      const name = `csrf-${randomUUID().slice(0, 8)}`;
      const body = JSON.stringify({ members: ['x@contoso.com'] });
      const headers = { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' };
      const forged = await send(`${host.url}/api/approver-groups/${name}`, {
        method: 'PUT',
        headers: { ...headers, ...from },
        body,
      });
      expect(forged.status).toBe(403);
      expect((await admin.get(`/api/approver-groups/${name}`)).status).toBe(404);
      const direct = await send(`${host.url}/api/approver-groups/${name}`, { method: 'PUT', headers, body });
      expect(direct.status).toBe(201);
    },
  );

  it.each(['text/plain', 'text/plain; x=+json', 'application/x-www-form-urlencoded', 'application/jsonp'])(
    'refuses a body whose media type is not JSON (%s)',
    async (type) => {
      const res = await send(`${host.url}/api/pam/disable`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin.token}`, 'content-type': type },
        body: '{}',
      });
      expect(res.status).toBe(415);
    },
  );

  it('answers a forged continuation token with 400, not a retryable 5xx', async () => {
    const token = Buffer.from(JSON.stringify({ p: 'all', t: 'x' })).toString('base64url');
    expect((await admin.get(`/api/requests?continuationToken=${token}`)).status).toBe(400);
  });
});
