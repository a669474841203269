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
  it('verifies the whole log, records audit.verified (success) and logs the line the alert queries', async () => {
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

  it('measures how long the newest rows have waited for an anchor', async () => {
    // Arrange: a row anchored at 01:00, two more rows after it, never anchored; verified at 04:00.
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

    // Assert: still intact, but three hours past the last anchored row: what the 2-hour alert is for.
    expect(found).toMatchObject({ ok: true, checked: 3, anchorLagSeconds: 3 * 3600 });
  });
});
