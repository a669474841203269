/**
 * Fail-closed: when the audit table cannot be reached, `append` rejects (a 503 problem), so a caller
 * that must audit before acting (execution) refuses instead of acting unaudited.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { connectionStringFor, startAzurite, type RunningAzurite, freePort } from '@zsa/local-host';
import { createTables } from '#shared/adapters/tables';
import { createAuditLog } from '#shared/audit/log';
import { SettingsSchema } from '#shared/config';
import { isDomainError } from '#shared/domain/errors';
import { anEvent, testClock } from './support';

const started: RunningAzurite[] = [];
afterAll(async () => {
  await Promise.all(started.map((a) => a.close()));
});

function logOn(connectionString: string) {
  const tables = createTables(
    SettingsSchema.parse({ AzureWebJobsStorage: connectionString, ZSA_TABLE_PREFIX: 'failclosed' }),
  );
  return createAuditLog({ tables, now: testClock().now, hmacKey: 'k' });
}

describe('with the audit table unreachable', () => {
  it('append rejects with UNAVAILABLE (503) when storage was never reachable', async () => {
    // Prepare: a port nobody listens on.
    const port = await freePort();
    const log = logOn(connectionStringFor({ blob: port, queue: port, table: port }));

    // Act
    const outcome = await log.append(anEvent(1)).then(
      () => 'stored',
      (e: unknown) => e,
    );

    // Assess
    expect(isDomainError(outcome, 'UNAVAILABLE')).toBe(true);
  }, 60_000);

  it('append rejects when storage goes away after earlier appends succeeded (heads cached)', async () => {
    // Prepare
    const azurite = await startAzurite({ log: () => undefined });
    started.push(azurite);
    const log = logOn(azurite.connectionString);
    for (let i = 0; i < 20; i++) await log.append(anEvent(i));
    await azurite.close();

    // Act
    const outcome = await log.append(anEvent(99)).then(
      () => 'stored',
      (e: unknown) => e,
    );

    // Assess
    expect(isDomainError(outcome, 'UNAVAILABLE')).toBe(true);
  }, 60_000);
});
