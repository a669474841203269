/**
 * `GET /api/insights` through its handler against real Azurite: the seeded audit's known answers,
 * read page by page, who may ask, and what bad input gets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insights } from '../../../functions/insights';
import type { AuditLog } from '#shared/audit/log';
import { readInsights } from '#shared/insights/story';
import { call, startComponentEnv, type ComponentEnv } from '../../support/component';
import { testClock, testLog } from '../audit/support';
import { EXPECTED, RANGE, seedEvents } from '../../unit/insights/seed';

let env: ComponentEnv;
let log: AuditLog;
const tokens: Record<'admin' | 'auditor' | 'user', string> = { admin: '', auditor: '', user: '' };
const seeded = '?from=2030-03-01&to=2030-03-04';

beforeAll(async () => {
  env = await startComponentEnv();
  [tokens.admin, tokens.auditor, tokens.user] = await Promise.all([
    env.token('admin@contoso.com', ['PAM.Admin']),
    env.token('auditor@contoso.com', ['PAM.Auditor']),
    env.token('user@contoso.com'),
  ]);
  // The app's own audit table (`<prefix>audit`), written with a clock set to each seeded instant.
  const clock = testClock();
  log = testLog(clock, { name: 'audit' }).log;
  for (const { at, event } of seedEvents()) {
    clock.set(at);
    await log.append(event);
  }
}, 60_000);

afterAll(async () => {
  await env.close();
});

describe('the figures', () => {
  it.each(['admin', 'auditor'] as const)('are the known answers for an %s', async (who) => {
    // Act
    const res = await call(insights, { path: `/api/insights${seeded}`, token: tokens[who] });

    // Assert
    expect(res.status).toBe(200);
    expect(res.body).toEqual(EXPECTED);
  });

  it('are the same when the log is read a few records at a time', async () => {
    // Arrange: count the pages read.
    let pages = 0;
    const counted = {
      query: (...args: Parameters<AuditLog['query']>) => {
        pages += 1;
        return log.query(...args);
      },
    };

    // Act: 7 records a page: the fold spans many pages and continuation tokens.
    const view = await readInsights(counted, RANGE, 7);

    // Assert
    expect(view).toEqual(EXPECTED);
    expect(pages).toBe(Math.ceil(EXPECTED.events / 7));
  });

  it('cover only the range asked for', async () => {
    // Act: the first day alone.
    const res = await call(insights, {
      path: '/api/insights?from=2030-03-01T00:00:00Z&to=2030-03-02T00:00:00Z',
      token: tokens.auditor,
    });

    // Assert
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      requests: { perDay: [EXPECTED.requests.perDay[0]] },
      timeToDecision: EXPECTED.timeToDecision,
      emergency: { uses: 0 },
    });
  });
});

describe('who may ask', () => {
  it.each<[string, string | undefined, number]>([
    ['a user without the admin or auditor role', 'user', 403],
    ['nobody signed in', undefined, 401],
  ])('%s is refused', async (_who, who, status) => {
    // Act
    const res = await call(insights, {
      path: `/api/insights${seeded}`,
      ...(who === undefined ? {} : { token: tokens[who as keyof typeof tokens] }),
    });

    // Assert
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
  });
});

describe('bad input is a 400 problem naming the field', () => {
  it.each<[string, string, string]>([
    ['a date that is no date', '?from=last-week', '#/from'],
    ['from after to', '?from=2030-03-04&to=2030-03-01', '#/from'],
    ['more than 366 days', '?from=2029-01-01&to=2030-03-01', '#/from'],
    ['an unknown parameter', '?days=7', '#'],
  ])('%s', async (_what, query, pointer) => {
    // Act
    const res = await call(insights, { path: `/api/insights${query}`, token: tokens.auditor });

    // Assert
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body).toMatchObject({ code: 'INVALID_INPUT', errors: [{ pointer }] });
  });
});
