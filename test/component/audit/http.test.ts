/**
 * The audit endpoints through their handlers: who may call them, what bad input gets, and what
 * comes back (pages, verification, streamed CSV and JSONL, anchors), against real Azurite.
 */
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditAnchor, auditExport, auditQuery, auditVerify } from '../../../functions/audit';
import { getDeps } from '#shared/app/deps';
import {
  CSV_HEADER,
  createCsvParser,
  isCsvHeader,
  recordFromCsv,
  recordFromJsonLine,
} from '#shared/audit/format';
import type { AuditRecord } from '#shared/audit/record';
import { AuditAction } from '#shared/audit/types';
import { call, startComponentEnv, type ComponentEnv } from '../../support/component';
import { anEvent, collect } from './support';

let env: ComponentEnv;
let admin: string;
let auditor: string;
let user: string;

beforeAll(async () => {
  env = await startComponentEnv();
  [admin, auditor, user] = await Promise.all([
    env.token('admin@contoso.com', ['PAM.Admin']),
    env.token('auditor@contoso.com', ['PAM.Auditor']),
    env.token('user@contoso.com'),
  ]);
  const audit = getDeps().audit;
  await Promise.all(Array.from({ length: 30 }, (_, i) => audit.append(anEvent(i))));
}, 60_000);

afterAll(async () => {
  await env.close();
});

/** Calls a handler and reads its (possibly streamed) body whole. */
async function stream(
  handler: (req: HttpRequest, ctx: InvocationContext) => Promise<HttpResponseInit>,
  path: string,
  token: string,
): Promise<{ status: number; headers: Headers; text: string }> {
  const request = new HttpRequest({
    method: 'GET',
    url: `http://127.0.0.1:7071${path}`,
    headers: { authorization: `Bearer ${token}`, 'user-agent': 'vitest', 'x-forwarded-for': '10.9.8.7' },
  });
  const res = await handler(request, new InvocationContext({ functionName: 'test' }));
  const body = res.body;
  let text = '';
  if (typeof body === 'string') text = body;
  else if (body && typeof body === 'object' && Symbol.asyncIterator in body) {
    const chunks: Buffer[] = [];
    for await (const chunk of body as AsyncIterable<Uint8Array>) chunks.push(Buffer.from(chunk));
    text = Buffer.concat(chunks).toString('utf8');
  }
  return { status: res.status ?? 200, headers: new Headers(res.headers), text };
}

describe('who may call', () => {
  it.each([
    ['GET', '/api/audit', auditQuery],
    ['GET', '/api/audit/verify', auditVerify],
    ['GET', '/api/audit/export', auditExport],
    ['POST', '/api/audit/anchor', auditAnchor],
  ] as const)(
    '%s %s: 401 without a token, 403 for a user without an audit role',
    async (method, path, handler) => {
      expect((await call(handler, { method, path })).status).toBe(401);
      const refused = await call(handler, { method, path, token: user });
      expect(refused.status).toBe(403);
      expect(refused.headers.get('content-type')).toContain('application/problem+json');
    },
  );

  it('anchoring is for admins only: an auditor gets 403', async () => {
    expect(
      (await call(auditAnchor, { method: 'POST', path: '/api/audit/anchor', token: auditor })).status,
    ).toBe(403);
  });
});

describe('GET /api/audit', () => {
  it('answers a page and an opaque token, and the next pages with it', async () => {
    const seen: AuditRecord[] = [];
    let token: string | undefined;
    do {
      const query = new URLSearchParams({ pageSize: '8', ...(token ? { continuationToken: token } : {}) });
      const res = await call(auditQuery, { path: `/api/audit?${query.toString()}`, token: auditor });
      expect(res.status).toBe(200);
      const body = res.body as { items: AuditRecord[]; continuationToken?: string };
      expect(body.items.length).toBeLessThanOrEqual(8);
      seen.push(...body.items);
      token = body.continuationToken;
    } while (token);
    expect(seen.length).toBeGreaterThanOrEqual(30);
    expect(new Set(seen.map((r) => r.id)).size).toBe(seen.length);
  });

  it('filters by request, actor, task and action', async () => {
    const query = new URLSearchParams({
      requestId: 'req-2',
      actor: 'User2@contoso.com',
      action: AuditAction.PamEnabled,
    });
    const res = await call(auditQuery, { path: `/api/audit?${query.toString()}`, token: admin });
    const items = (res.body as { items: AuditRecord[] }).items;
    expect(res.status).toBe(200);
    for (const item of items)
      expect(item).toMatchObject({
        requestId: 'req-2',
        actorUpn: 'user2@contoso.com',
        action: AuditAction.PamEnabled,
      });
  });

  it.each([
    ['an unknown parameter', 'colour=red'],
    ['a date that is not one', 'from=yesterday'],
    ['from not before to', 'from=2030-01-02&to=2030-01-01'],
    ['a page of 0', 'pageSize=0'],
    ['a page of 1001', 'pageSize=1001'],
    ['an unknown action', 'action=audit.deleted'],
    ['a forged token', 'continuationToken=abc.def'],
  ])('refuses %s with 400', async (_name, query) => {
    const res = await call(auditQuery, { path: `/api/audit?${query}`, token: auditor });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ status: 400 });
  });
});

describe('GET /api/audit/verify', () => {
  it('reports the log intact', async () => {
    const res = await call(auditVerify, { path: '/api/audit/verify', token: auditor });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      ok: true,
      checked: expect.any(Number) as number,
      chains: expect.any(Number) as number,
    });
    expect(res.body).not.toHaveProperty('firstBroken');
  });

  it('checks a range', async () => {
    const res = await call(auditVerify, {
      path: '/api/audit/verify?from=2000-01-01&to=2100-01-01',
      token: auditor,
    });
    expect(res.body).toMatchObject({ ok: true });
  });
});

describe('GET /api/audit/export', () => {
  it('streams RFC 4180 CSV with a header that parses back to the stored rows, formulas neutralised', async () => {
    // Act
    const res = await stream(auditExport, '/api/audit/export?format=csv', auditor);

    // Assess (the export's own audit row is in it: it was written before the first byte)
    const stored = await collect(getDeps().audit.exportRows());
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toMatch(
      /^attachment; filename="zsa-audit-start-now\.csv"$/,
    );
    expect(res.text.startsWith(CSV_HEADER)).toBe(true);
    expect(res.text).toContain(",'=cmd|calc,");
    const parser = createCsvParser();
    const [header, ...records] = [...parser.push(res.text), ...parser.end()];
    expect(header && isCsvHeader(header)).toBe(true);
    const rows = records.map(recordFromCsv);
    expect(rows.map((r) => (r.ok ? r.record : r))).toEqual(stored);
    expect(stored.some((r) => r.action === AuditAction.AuditExported)).toBe(true);
  });

  it('gives only the records of one action with ?action= (every emergency use: emergency.used)', async () => {
    // Prepare
    await getDeps().audit.append({
      action: AuditAction.EmergencyUsed,
      actor: { kind: 'user', id: 't:alice', upn: 'alice@contoso.com', roles: [] },
      outcome: 'success',
      requestId: 'req-emergency',
      detail: { reason: 'INC-4711: the payment service is down', durationHours: 1 },
    });

    // Act
    const res = await stream(auditExport, '/api/audit/export?action=emergency.used', auditor);

    // Assess
    expect(res.status).toBe(200);
    const records = res.text
      .trimEnd()
      .split('\n')
      .map((l) => recordFromJsonLine(l));
    expect(records.map((r) => (r.ok ? [r.record.action, r.record.requestId] : r))).toEqual([
      [AuditAction.EmergencyUsed, 'req-emergency'],
    ]);
  });

  it('refuses an action it does not know (400)', async () => {
    const res = await stream(auditExport, '/api/audit/export?action=emergency.bogus', auditor);
    expect(res.status).toBe(400);
  });

  it('streams JSONL, one object per line', async () => {
    const res = await stream(auditExport, '/api/audit/export?format=jsonl&from=2000-01-01T00:00:00Z', admin);
    expect(res.headers.get('content-type')).toContain('application/x-ndjson');
    const lines = res.text.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(30);
    expect(lines.every((l) => recordFromJsonLine(l).ok)).toBe(true);
  });

  it('is itself audited, with who, from where and what', async () => {
    await stream(auditExport, '/api/audit/export?format=csv&to=2100-01-01', auditor);
    const exported = (await collect(getDeps().audit.exportRows())).filter(
      (r) => r.action === AuditAction.AuditExported,
    );
    expect(
      exported.some(
        (r) =>
          r.actorUpn === 'auditor@contoso.com' &&
          r.clientIp === '10.9.8.7' &&
          r.userAgent === 'vitest' &&
          r.detail?.includes('"format":"csv"'),
      ),
    ).toBe(true);
  });

  it('refuses an unknown format', async () => {
    expect((await call(auditExport, { path: '/api/audit/export?format=xlsx', token: auditor })).status).toBe(
      400,
    );
  });
});

describe('POST /api/audit/anchor', () => {
  it('anchors every chain head and records that it did', async () => {
    // Act
    const res = await call(auditAnchor, { method: 'POST', path: '/api/audit/anchor', token: admin });

    // Assess
    expect(res.status).toBe(200);
    const anchor = res.body as { blob: string; heads: { chain: number; sequence: number }[] };
    expect(anchor.blob).toMatch(/^anchors\/\d{4}\/\d{2}\/\d{2}\.jsonl$/);
    expect(anchor.heads.length).toBeGreaterThan(0);
    const rows = await collect(getDeps().audit.exportRows());
    expect(
      rows.some((r) => r.action === AuditAction.AuditAnchored && r.actorUpn === 'admin@contoso.com'),
    ).toBe(true);
    expect(await getDeps().audit.verify()).toMatchObject({ ok: true, anchors: anchor.heads.length });
  });
});
