/**
 * Durable timers as the extension runs them on the Azure Storage provider (real SDK, real Azurite,
 * a clock the test moves). The facts mirrored, from the extension's and DurableTask's source:
 * - the extension sends the SDK `maximumShortTimerDuration` 6 days and
 *   `longRunningTimerIntervalDuration` 3 days (AzureStorageDurabilityProvider);
 * - it runs a longer timer as sub-timers of 3 days, then what remains once less than 3 days do,
 *   each taking the next id when the previous fires (DurableOrchestrationContext.CreateTimer);
 * - a cancelled timer is not deleted: DurableTask forgets only its task, the timer message still
 *   fires, and `TimerFired` is appended (TaskOrchestrationContext.CreateTimer / HandleTimerFiredEvent).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { FunctionRegistry, installCoreModule } from '@zsa/local-host/core';
import { EventType, type HistoryEvent } from '@zsa/local-host/durable';
import { clockedEngine, DAY, HOUR, type ClockedEngine } from './clocked-engine';

const T0 = new Date('2026-03-01T00:00:00.000Z');
let registry: FunctionRegistry;

beforeAll(async () => {
  registry = new FunctionRegistry(() => undefined);
  installCoreModule(registry);
  await import('../../fixtures/durable-app/index.js');
  await registry.start(process.cwd());
});

const at = (ms: number): string => new Date(T0.getTime() + ms).toISOString();

/** The timer events of a history, as [type, id, FireAt]. */
function timerEvents(history: HistoryEvent[]): [string, number | undefined, string | undefined][] {
  return history
    .filter((e) => e.EventType === EventType.TimerCreated || e.EventType === EventType.TimerFired)
    .map((e) =>
      e.EventType === EventType.TimerCreated
        ? ['TimerCreated', e.EventId, e.FireAt]
        : ['TimerFired', e.TimerId, e.FireAt],
    );
}

async function stateOf(clocked: ClockedEngine, id: string) {
  const state = await clocked.engine.getState(id);
  if (!state) throw new Error(`no instance ${id}`);
  return state;
}

describe('durable timers as the extension runs them', () => {
  it('runs a 10-day timer as sub-timers at days 3, 6, 9 and 10, and the SDK takes the same ids', async () => {
    // Prepare
    const clocked = await clockedEngine(registry, T0);
    const id = await clocked.engine.startNew('longTimer', undefined, '10');

    // Act
    await clocked.advance(9 * DAY);
    const before = await stateOf(clocked, id);
    await clocked.advance(1 * DAY);

    // Assess
    expect(before.status).toBe('Running');
    const done = await stateOf(clocked, id);
    expect(done.status).toBe('Completed');
    expect(JSON.parse(done.output ?? 'null')).toBe(at(10 * DAY));
    expect(timerEvents(done.history)).toEqual([
      ['TimerCreated', 0, at(3 * DAY)],
      ['TimerFired', 0, at(3 * DAY)],
      ['TimerCreated', 1, at(6 * DAY)],
      ['TimerFired', 1, at(6 * DAY)],
      ['TimerCreated', 2, at(9 * DAY)],
      ['TimerFired', 2, at(9 * DAY)],
      ['TimerCreated', 3, at(10 * DAY)],
      ['TimerFired', 3, at(10 * DAY)],
    ]);
    // The activity after the timer took the next id, and its completion matched.
    expect(done.history.find((e) => e.EventType === EventType.TaskScheduled)?.EventId).toBe(4);
  });

  it('runs a 6-day timer as one timer (the maximum is inclusive)', async () => {
    const clocked = await clockedEngine(registry, T0);
    const id = await clocked.engine.startNew('longTimer', undefined, '6');

    await clocked.advance(6 * DAY);

    const done = await stateOf(clocked, id);
    expect(done.status).toBe('Completed');
    expect(timerEvents(done.history)).toEqual([
      ['TimerCreated', 0, at(6 * DAY)],
      ['TimerFired', 0, at(6 * DAY)],
    ]);
  });

  it('still fires a cancelled timer, and appends its TimerFired while the orchestration runs', async () => {
    // Prepare: the event wins at 1 hour, the 2-hour timer is cancelled.
    const clocked = await clockedEngine(registry, T0);
    const id = await clocked.engine.startNew('cancelledTimer', undefined, '2');
    await clocked.advance(HOUR);
    await clocked.engine.raiseEvent(id, 'Approve', null);

    // Act
    await clocked.advance(2 * HOUR);

    // Assess
    const waiting = await stateOf(clocked, id);
    expect(waiting.status).toBe('Running');
    expect(timerEvents(waiting.history)).toEqual([
      ['TimerCreated', 0, at(2 * HOUR)],
      ['TimerFired', 0, at(2 * HOUR)],
    ]);
    await clocked.engine.raiseEvent(id, 'Finish', null);
    await clocked.advance(HOUR);
    const done = await stateOf(clocked, id);
    expect(done.status).toBe('Completed');
    expect(JSON.parse(done.output ?? 'null')).toBe('approved');
  });
});
