/** The Insights figures from a seeded audit with known answers, and the rules they rest on. */
import { describe, expect, it } from 'vitest';
import { isDomainError } from '#shared/domain/errors';
import {
  aggregateInsights,
  daysOf,
  durationStats,
  percentile,
  type InsightsRecord,
} from '#shared/insights/aggregate';
import { InsightsQuery, InsightsView, TOP } from '#shared/insights/schemas';
import { insightsRange } from '#shared/insights/story';
import { EXPECTED, RANGE, seedRecords } from './seed';

describe('the figures of a seeded audit', () => {
  it('are the known answers, and fit the schema the API answers with', () => {
    // Act
    const view = aggregateInsights(seedRecords(), RANGE);

    // Assert
    expect(view).toEqual(EXPECTED);
    expect(InsightsView.parse(view)).toEqual(view);
  });

  it('do not depend on the order the records are read in', () => {
    // Arrange: newest first, and chains interleaved differently.
    const shuffled = seedRecords().reverse();

    // Act / Assert
    expect(aggregateInsights(shuffled, RANGE)).toEqual(EXPECTED);
  });

  it('of an empty range are zeros and nulls, one row per day', () => {
    // Act
    const view = aggregateInsights([], RANGE);

    // Assert
    expect(view.events).toBe(0);
    expect(view.requests.perDay.map((d) => d.day)).toEqual(['2030-03-01', '2030-03-02', '2030-03-03']);
    expect(view.timeToDecision).toEqual({ count: 0, medianSeconds: null, p95Seconds: null });
    expect([view.topTasks, view.topRequesters, view.approvers, view.executions.latestFailures]).toEqual([
      [],
      [],
      [],
      [],
    ]);
  });

  it(`rank only the top ${TOP}, and keep only the latest failures`, () => {
    // Arrange: 15 tasks requested i+1 times each, 15 failures.
    const record = (at: string, action: InsightsRecord['action'], n: string): InsightsRecord => ({
      at: `2030-03-0${at}:00.000Z`,
      action,
      actorKind: 'user',
      actorId: `t:u${n}`,
      actorUpn: `u${n}@contoso.com`,
      requestId: `q${n}`,
      task: undefined,
      reason: undefined,
      detail: undefined,
    });
    const hh = (i: number) => String(i).padStart(2, '0');
    const records = Array.from({ length: 15 }, (_, i) =>
      Array.from({ length: i + 1 }, (_, k) => ({
        ...record(`2T${hh(i)}:${hh(k)}`, 'request.submitted', `${i}-${k}`),
        task: `task-${i}`,
      })),
    ).flat();
    const failures = Array.from({ length: 15 }, (_, i) =>
      record(`1T${hh(i)}:00`, 'execution.failed', `f${i}`),
    );

    // Act
    const view = aggregateInsights([...records, ...failures], RANGE);

    // Assert
    expect(view.topTasks.map((t) => t.task)).toEqual(Array.from({ length: TOP }, (_, i) => `task-${14 - i}`));
    expect(view.executions.failed).toBe(15);
    expect(view.executions.latestFailures.map((f) => f.at.slice(11, 13))).toEqual([
      '14',
      '13',
      '12',
      '11',
      '10',
      '09',
      '08',
      '07',
      '06',
      '05',
    ]);
  });
});

describe('what a figure counts', () => {
  const at = (time: string) => `2030-03-01T${time}:00.000Z`;
  const rec = (time: string, action: InsightsRecord['action'], more: Partial<InsightsRecord> = {}) => ({
    at: at(time),
    action,
    actorKind: 'user' as const,
    actorId: 't:u',
    actorUpn: 'u@contoso.com',
    requestId: 'q',
    task: undefined,
    reason: undefined,
    detail: undefined,
    ...more,
  });
  const submit = (time: string, id: string, scope: string, name: string) =>
    rec(time, 'request.submitted', { requestId: id, detail: JSON.stringify({ target: { scope, name } }) });

  it('ranks roles and role groups with their kind, apart from a task of the same name', () => {
    // Arrange: the target as the submit records it; a task by its task field alone (older records).
    const records = [
      submit('01:00', 'q1', 'role', 'Ops'),
      submit('02:00', 'q2', 'role', 'Ops'),
      submit('03:00', 'q3', 'roleGroup', 'Helpdesk'),
      submit('04:00', 'q4', 'task', 'Ops'),
      rec('05:00', 'request.submitted', { requestId: 'q5', task: 'Ops' }),
    ];

    // Act
    const view = aggregateInsights(records, RANGE);

    // Assert
    expect(view.topTasks).toEqual([
      { task: 'Ops', kind: 'role', requests: 2 },
      { task: 'Ops', kind: 'task', requests: 2 },
      { task: 'Helpdesk', kind: 'roleGroup', requests: 1 },
    ]);
  });

  it('times first use to the first SUCCESSFUL execution, as the first-use metric does', () => {
    // Arrange: a refused and a failed attempt before the first success, then another success.
    const records = [
      rec('10:00', 'grant.started'),
      rec('10:01', 'execution.started'),
      rec('10:01', 'execution.failed'),
      rec('10:05', 'execution.started'),
      rec('10:06', 'execution.succeeded'),
      rec('10:30', 'execution.succeeded'),
    ];

    // Act
    const view = aggregateInsights(records, RANGE);

    // Assert: 6 minutes, the first success; the failed attempt at 10:01 is no use.
    expect(view.timeToFirstUse).toEqual({ count: 1, medianSeconds: 360, p95Seconds: 360 });
  });
});

describe('percentiles (nearest rank: always a value that was measured)', () => {
  it.each<[number[], number, number | null]>([
    [[], 50, null],
    [[7], 50, 7],
    [[7], 95, 7],
    [[1, 2, 3], 50, 2],
    [[1, 2, 3, 4], 50, 2],
    [[1, 2, 3, 4], 95, 4],
    [Array.from({ length: 100 }, (_, i) => i + 1), 95, 95],
    [Array.from({ length: 100 }, (_, i) => i + 1), 50, 50],
  ])('of %j at p%i is %s', (values, p, expected) => {
    expect(percentile(values, p)).toBe(expected);
  });

  it('durations are reported in seconds, sorted first', () => {
    expect(durationStats([3000, 1000, 2000])).toEqual({ count: 3, medianSeconds: 2, p95Seconds: 3 });
  });
});

describe('the days of a range', () => {
  it.each<[string, string, string[]]>([
    ['2030-03-01T00:00:00Z', '2030-03-02T00:00:00Z', ['2030-03-01']],
    ['2030-03-01T23:00:00Z', '2030-03-02T01:00:00Z', ['2030-03-01', '2030-03-02']],
    ['2030-02-27T12:00:00Z', '2030-03-01T00:00:00Z', ['2030-02-27', '2030-02-28']],
  ])('%s to %s', (from, to, days) => {
    expect(daysOf({ from: new Date(from), to: new Date(to) })).toEqual(days);
  });
});

describe('the range asked for', () => {
  const now = new Date('2030-03-31T12:00:00.000Z');
  const range = (query: Record<string, string>) => insightsRange(InsightsQuery.parse(query), now);

  it.each<[string, Record<string, string>, string, string]>([
    ['the last 30 days by default', {}, '2030-03-01T12:00:00.000Z', '2030-03-31T12:00:00.000Z'],
    ['30 days before `to`', { to: '2030-02-01' }, '2030-01-02T00:00:00.000Z', '2030-02-01T00:00:00.000Z'],
    ['from `from` to now', { from: '2030-03-30' }, '2030-03-30T00:00:00.000Z', '2030-03-31T12:00:00.000Z'],
    [
      'a leap year whole',
      { from: '2028-01-01', to: '2029-01-01' },
      '2028-01-01T00:00:00.000Z',
      '2029-01-01T00:00:00.000Z',
    ],
  ])('%s', (_what, query, from, to) => {
    expect(range(query)).toEqual({ from: new Date(from), to: new Date(to) });
  });

  it.each<[string, Record<string, string>, string]>([
    ['longer than 366 days', { from: '2029-01-01', to: '2030-01-03' }, 'at most 366 days'],
    ['`from` after now, without `to`', { from: '2030-04-01' }, 'from must be earlier than to'],
  ])('is refused as invalid input when %s', (_what, query, message) => {
    // Act
    const refusal = (() => {
      try {
        range(query);
        return undefined;
      } catch (e) {
        return e;
      }
    })();

    // Assert
    expect(isDomainError(refusal) && refusal.code).toBe('INVALID_INPUT');
    expect((refusal as Error).message).toContain(message);
  });

  it('takes only from and to, as instants or UTC days', () => {
    expect(InsightsQuery.safeParse({ from: 'yesterday' }).success).toBe(false);
    expect(InsightsQuery.safeParse({ days: '7' }).success).toBe(false);
  });
});
