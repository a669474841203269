/**
 * The daily verification against real Azurite: the `auditDailyVerify` timer's handler on the app's
 * own dependencies (its `audit.verified` row and the log line the alert queries), then the story on a
 * log whose row was rewritten in the table, and on a log whose newest rows wait for an anchor.
 */
import { InvocationContext, type Timer } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditDailyVerify } from '../../../functions/audit';
import { getDeps } from '#shared/app/deps';
import { verifyDaily } from '#shared/audit/maintenance';
import { AuditAction, AuditOutcome } from '#shared/audit/types';
import { startComponentEnv, type ComponentEnv } from '../../support/component';
import { anEvent, testClock, testLog } from './support';

let env: ComponentEnv;

beforeAll(async () => {
  env = await startComponentEnv();
});

afterAll(async () => {
  await env.close();
});

const TIMER: Timer = {
  isPastDue: false,
  schedule: { adjustForDST: false },
  scheduleStatus: { last: '', next: '', lastUpdated: '' },
};

/** An invocation whose log lines are kept, as the host would send them to Application Insights. */
function capturingContext(): { context: InvocationContext; lines: { level: string; message: string }[] } {
  const lines: { level: string; message: string }[] = [];
  const context = new InvocationContext({
    functionName: 'auditDailyVerify',
    logHandler: (level, ...args) => lines.push({ level, message: args.map(String).join(' ') }),
  });
  return { context, lines };
}

describe('auditDailyVerify', () => {
  it('verifies the last days, records audit.verified (success) and logs the line the alert queries', async () => {
    // Arrange: a few rows, anchored.
    const audit = getDeps().audit;
    for (let i = 0; i < 5; i++) await audit.append(anEvent(i));
    await audit.anchor();
    const { context, lines } = capturingContext();

    // Act
    await auditDailyVerify(TIMER, context);

    // Assert
    const rows = (await audit.query({ action: AuditAction.AuditVerified })).items;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ outcome: AuditOutcome.Success, actorKind: 'system' });
    expect(JSON.parse(rows[0]?.detail ?? '{}')).toEqual({
      from: expect.any(String) as string,
      ok: true,
      checked: 5,
      chains: expect.any(Number) as number,
      anchors: expect.any(Number) as number,
      firstBroken: null,
      anchorLagSeconds: 0,
    });
    expect(lines).toEqual([
      {
        level: 'information',
        message: expect.stringMatching(
          /^zsa\.audit\.verification outcome=success checked=5 chains=\d+ anchors=\d+ anchorLagSeconds=0$/,
        ) as string,
      },
    ]);
  });
});

describe('verifyDaily', () => {
  it('records a failure with the first break when a row was rewritten in the table', async () => {
    // Arrange: three rows, the middle one's task rewritten by someone with write access to storage.
    const clock = testClock('2030-06-01T03:00:00.000Z');
    const { log, name, tables } = testLog(clock, { chains: 1 });
    for (let i = 0; i < 3; i++) {
      await log.append(anEvent(i, { task: `task-${i}` }));
      clock.advance(1000);
    }
    const table = await tables.get(name);
    for await (const entity of table.listEntities<{ task?: string }>()) {
      if (entity.task === 'task-1' && entity.partitionKey !== undefined && entity.rowKey !== undefined) {
        await table.updateEntity(
          { partitionKey: entity.partitionKey, rowKey: entity.rowKey, task: 'task-x' },
          'Merge',
        );
      }
    }

    // Act
    const found = await verifyDaily(log, clock.now);

    // Assert: the result, and the row that records it (appended after the check, so it is not the break).
    expect(found).toMatchObject({
      ok: false,
      checked: 3,
      firstBroken: { chain: 0, sequence: 2, reason: 'hash-mismatch' },
    });
    const rows = (await log.query({ action: AuditAction.AuditVerified })).items;
    expect(rows.map((r) => [r.outcome, r.reason?.split(':')[0]])).toEqual([
      [AuditOutcome.Failure, 'hash-mismatch'],
    ]);
  });

  it('measures the wait from the first unanchored row, not from the last anchored one', async () => {
    // Arrange: a row anchored at 01:00, the chain idle, then two rows at 02:30, never anchored.
    const clock = testClock('2030-06-02T01:00:00.000Z');
    const { log } = testLog(clock, { chains: 1, anchorAfterRows: 1000 });
    await log.append(anEvent(1));
    await log.anchor();
    clock.set('2030-06-02T02:30:00.000Z');
    await log.append(anEvent(2));
    await log.append(anEvent(3));
    clock.set('2030-06-02T04:00:00.000Z');

    // Act
    const found = await verifyDaily(log, clock.now);

    // Assert: intact; the rows of 02:30 have waited an hour and a half (not three hours since 01:00).
    expect(found).toMatchObject({ ok: true, checked: 3, anchorLagSeconds: 90 * 60 });
    expect(await log.anchorLag()).toBe(90 * 60);
    await log.anchor();
    expect(await log.anchorLag()).toBe(0);
  });

  it('checks only the last days: a deleted beginning (retention) passes, a rewritten row in range fails', async () => {
    // Arrange: five rows on 1 June, the first three then deleted (old blocks removed after archiving);
    // three rows on 20 June, out of the 1 June rows' reach of the 7-day window.
    const clock = testClock('2030-06-01T10:00:00.000Z');
    const { log, name, tables } = testLog(clock, { chains: 1, anchorAfterRows: 1000 });
    for (let i = 0; i < 5; i++) await log.append(anEvent(i, { task: `old-${i}` }));
    const table = await tables.get(name);
    for await (const e of table.listEntities<{ task?: string }>()) {
      if (['old-0', 'old-1', 'old-2'].includes(e.task ?? '') && e.partitionKey && e.rowKey) {
        await table.deleteEntity(e.partitionKey, e.rowKey);
      }
    }
    clock.set('2030-06-20T10:00:00.000Z');
    for (let i = 0; i < 3; i++) await log.append(anEvent(i, { task: `new-${i}` }));
    await log.anchor();
    clock.set('2030-06-20T12:00:00.000Z');

    // Act: the whole log (what the daily check used to do), then the daily check.
    const whole = await log.verify();
    const first = await verifyDaily(log, clock.now);

    // Assert: the whole-log check sees the gap; the daily one, from 13 June, does not (it reads the
    // block holding 13 June from its first row: the two 1 June rows left and the three of 20 June).
    expect(whole).toMatchObject({ ok: false, firstBroken: { reason: 'sequence-gap' } });
    expect(first).toMatchObject({ ok: true, from: '2030-06-13T12:00:00.000Z', checked: 5 });

    // Arrange: the next day, a row of 20 June rewritten in the table.
    clock.set('2030-06-21T12:00:00.000Z');
    for await (const e of table.listEntities<{ task?: string }>()) {
      if (e.task === 'new-1' && e.partitionKey && e.rowKey) {
        await table.updateEntity({ partitionKey: e.partitionKey, rowKey: e.rowKey, task: 'new-x' }, 'Merge');
      }
    }

    // Act
    const second = await verifyDaily(log, clock.now);

    // Assert: incremental, from an hour before the last success (so the 20 June rows are in it),
    // and the rewritten row fails it.
    expect(second).toMatchObject({
      ok: false,
      from: '2030-06-20T11:00:00.000Z',
      firstBroken: { reason: 'hash-mismatch' },
    });
  });
});
