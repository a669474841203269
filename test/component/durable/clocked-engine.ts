/**
 * The local Durable engine on a clock the test moves: days-long windows run in milliseconds. Timers
 * come due by that clock and are delivered with `fireDueTimers`, the clock jumping from one due time
 * to the next, so each fires in an episode stamped at its due time, as in Azure.
 */
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import type { FunctionRegistry } from '@zsa/local-host/core';
import { DurableEngine, DurableStore, type HistoryEvent } from '@zsa/local-host/durable';

export const HOUR = 3600 * 1000;
export const DAY = 24 * HOUR;

export interface ClockedEngine {
  engine: DurableEngine;
  /** The engine's clock, in epoch ms. */
  now(): number;
  /** Moves the clock forward `ms`, running every episode that comes due on the way, in order. */
  advance(ms: number): Promise<void>;
  /** What the engine logged at warning level or above. */
  warnings: string[];
  /** The current execution's history as stored in Table Storage, and the instance's status. */
  stored(id: string): Promise<{ status: string; history: HistoryEvent[] }>;
}

export async function clockedEngine(
  registry: FunctionRegistry,
  start: Date,
  options: { maxConcurrentActivities?: number } = {},
): Promise<ClockedEngine> {
  let clock = start.getTime();
  const warnings: string[] = [];
  const store = await DurableStore.open(
    inject('sharedAzurite'),
    `Clocked${randomUUID().replace(/-/g, '').slice(0, 12)}`,
  );
  const engine = new DurableEngine({
    registry,
    store,
    log: (level, message) => {
      if (level !== 'information') warnings.push(message);
    },
    now: () => new Date(clock),
    ...options,
  });
  return {
    engine,
    now: () => clock,
    warnings,
    async stored(id) {
      const loaded = await store.loadInstance(id);
      if (!loaded) throw new Error(`no instance ${id}`);
      return { status: loaded.state.status, history: loaded.state.history };
    },
    async advance(ms) {
      const end = clock + ms;
      await engine.whenIdle();
      for (;;) {
        // Straight to the next timer due (or the end), so each fires in an episode stamped at its due time.
        const due = engine.nextTimerDue();
        clock = Math.max(clock, Math.min(end, due ?? end));
        engine.fireDueTimers();
        await engine.whenIdle();
        if (clock >= end && (engine.nextTimerDue() ?? Infinity) > end) return;
      }
    },
  };
}
