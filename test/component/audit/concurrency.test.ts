/**
 * Concurrent writers: eight audit log instances (as eight Function instances would be: nothing
 * shared but the table) each append 500 events at once. The chains must stay linear and every event
 * must be stored exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTables } from '#shared/adapters/tables';
import { settings } from '#shared/config';
import { startComponentEnv, type ComponentEnv } from '../../support/component';
import { anEvent, collect, testClock, testLog } from './support';

const WRITERS = 8;
const EVENTS_EACH = 500;

let env: ComponentEnv;
beforeAll(async () => {
  env = await startComponentEnv();
});
afterAll(async () => {
  await env.close();
});

describe('concurrent writers', () => {
  it(`${WRITERS} instances × ${EVENTS_EACH} events: chains unbroken, nothing lost or duplicated`, async () => {
    // Prepare: one table, eight logs that share nothing else (own caches, own clients).
    const clock = testClock();
    const name = `auditconc${Date.now().toString(36)}`;
    const writers = Array.from(
      { length: WRITERS },
      () => testLog(clock, { name, tables: createTables(settings()) }).log,
    );
    await writers[0]?.append(anEvent(0));
    const started = Date.now();

    // Act
    const ids = await Promise.all(
      writers.map(async (log, w) => {
        const mine: string[] = [];
        for (let i = 0; i < EVENTS_EACH; i++)
          mine.push((await log.append(anEvent(w * EVENTS_EACH + i + 1))).id);
        return mine;
      }),
    );
    const seconds = (Date.now() - started) / 1000;

    // Assess
    const reader = writers[0];
    if (!reader) throw new Error('no writer');
    const verified = await reader.verify();
    const stored = await collect(reader.exportRows());
    const storedIds = stored.map((r) => r.id);
    const appended = ids.flat();
    expect(verified).toMatchObject({ ok: true, checked: WRITERS * EVENTS_EACH + 1 });
    expect(new Set(appended).size).toBe(WRITERS * EVENTS_EACH);
    expect(new Set(storedIds).size).toBe(storedIds.length);
    expect(storedIds).toEqual(expect.arrayContaining(appended));
    expect(stored).toHaveLength(WRITERS * EVENTS_EACH + 1);
    console.log(
      `${WRITERS}×${EVENTS_EACH} appends in ${seconds.toFixed(1)} s (${Math.round((WRITERS * EVENTS_EACH) / seconds)}/s) over ${verified.chains} chains`,
    );
  }, 120_000);
});

describe('one instance under load', () => {
  it('spreads 400 simultaneous appends over its chains, each chain linear', async () => {
    // Prepare
    const { log } = testLog(testClock());

    // Act
    const ids = await Promise.all(Array.from({ length: 400 }, (_, i) => log.append(anEvent(i))));

    // Assess
    const result = await log.verify();
    expect(result).toMatchObject({ ok: true, checked: 400, chains: 16 });
    expect(new Set(ids.map((r) => r.id)).size).toBe(400);
  }, 60_000);
});
