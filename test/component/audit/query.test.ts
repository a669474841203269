/**
 * The audit query: time order across chains, paging with opaque tokens bound to their filters,
 * filters served by the table, ranges by time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditLog } from '#shared/audit/log';
import type { AuditRecord } from '#shared/audit/record';
import { AuditAction } from '#shared/audit/types';
import { isDomainError } from '#shared/domain/errors';
import { startComponentEnv, type ComponentEnv } from '../../support/component';
import { anEvent, collect, testClock, testLog } from './support';

const EVENTS = 90;
let env: ComponentEnv;
let log: AuditLog;
let all: AuditRecord[];
const clock = testClock('2030-05-01T09:00:00.000Z');

const timeOrder = (a: AuditRecord, b: AuditRecord) =>
  a.at.localeCompare(b.at) || a.chain - b.chain || a.sequence - b.sequence;

async function pages(
  filters: Parameters<AuditLog['query']>[0],
  size: number,
): Promise<{ items: AuditRecord[]; pages: number }> {
  const items: AuditRecord[] = [];
  let token: string | undefined;
  let count = 0;
  do {
    const page = await log.query(filters, token, size);
    items.push(...page.items);
    token = page.continuationToken;
    count += 1;
    expect(count).toBeLessThan(200);
  } while (token);
  return { items, pages: count };
}

beforeAll(async () => {
  env = await startComponentEnv();
  log = testLog(clock).log;
  // Bursts of concurrent appends (spread over chains), then time moves on: interleaved chains.
  for (let i = 0; i < EVENTS; i += 6) {
    await Promise.all(Array.from({ length: 6 }, (_, k) => log.append(anEvent(i + k))));
    clock.advance(60_000);
  }
  all = await collect(log.exportRows());
}, 60_000);

afterAll(async () => {
  await env.close();
});

describe('paging through the whole log', () => {
  it.each([1, 7, 50, 1000])('with pages of %i returns every record once, in time order', async (size) => {
    const { items, pages: count } = await pages({}, size);
    expect(items).toEqual([...all].sort(timeOrder));
    expect(count).toBeGreaterThanOrEqual(Math.ceil(EVENTS / size));
    expect(new Set(all.map((r) => r.chain)).size).toBeGreaterThan(1);
  });
});

describe('filters', () => {
  it.each<[string, Parameters<AuditLog['query']>[0], (r: AuditRecord) => boolean]>([
    ['request id', { requestId: 'req-3' }, (r) => r.requestId === 'req-3'],
    ['actor by UPN, any case', { actor: 'USER2@contoso.com' }, (r) => r.actorUpn === 'user2@contoso.com'],
    ['actor by id', { actor: 'tenant:user-4' }, (r) => r.actorId === 'tenant:user-4'],
    [
      'task with a backslash',
      { task: 'Exchange\\New-MoveRequest' },
      (r) => r.task === 'Exchange\\New-MoveRequest',
    ],
    ['action', { action: AuditAction.RequestApproved }, (r) => r.action === AuditAction.RequestApproved],
    [
      'time range (from inclusive, to exclusive)',
      { from: new Date('2030-05-01T09:03:00.000Z'), to: new Date('2030-05-01T09:07:00.000Z') },
      (r) => r.at >= '2030-05-01T09:03:00.000Z' && r.at < '2030-05-01T09:07:00.000Z',
    ],
    [
      'range and request id together',
      { from: new Date('2030-05-01T09:05:00.000Z'), requestId: 'req-1' },
      (r) => r.at >= '2030-05-01T09:05:00.000Z' && r.requestId === 'req-1',
    ],
  ])('by %s', async (_name, filters, keep) => {
    const expected = all.filter(keep).sort(timeOrder);
    expect(expected.length).toBeGreaterThan(0);
    expect((await pages(filters, 4)).items).toEqual(expected);
  });
});

describe('continuation tokens', () => {
  it('are refused when altered, or when the filters changed', async () => {
    const first = await log.query({ requestId: 'req-3' }, undefined, 2);
    const token = first.continuationToken ?? '';
    expect(token).not.toBe('');
    const tampered = `${token.slice(0, 5)}${token[5] === 'A' ? 'B' : 'A'}${token.slice(6)}`;
    for (const [filters, t] of [
      [{ requestId: 'req-3' }, tampered],
      [{ requestId: 'req-4' }, token],
      [{ requestId: 'req-3' }, 'garbage'],
    ] as const) {
      const outcome = await log.query(filters, t, 2).then(
        () => 'accepted',
        (e: unknown) => e,
      );
      expect(isDomainError(outcome, 'INVALID_INPUT')).toBe(true);
    }
  });
});
