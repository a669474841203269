/**
 * The local Durable engine on a clock the test moves: days-long windows run in milliseconds. Timers
 * come due by that clock and are delivered with `fireDueTimers`, one step at a time, so each fires
 * in an episode stamped (nearly) at its due time, as in Azure.
 */
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import type { FunctionRegistry } from '@zsa/local-host/core';
import { DurableEngine, DurableStore } from '@zsa/local-host/durable';

export const HOUR = 3600 * 1000;
export const DAY = 24 * HOUR;

export interface ClockedEngine {
  engine: DurableEngine;
  /** The engine's clock, in epoch ms. */
  now(): number;
  /** Moves the clock forward `ms` in steps of `stepMs`, running every episode that comes due. */
  advance(ms: number, stepMs?: number): Promise<void>;
  /** What the engine logged at warning level or above. */
  warnings: string[];
}

export async function clockedEngine(registry: FunctionRegistry, start: Date): Promise<ClockedEngine> {
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
  });
  return {
    engine,
    now: () => clock,
    warnings,
    async advance(ms, stepMs = HOUR) {
      const end = clock + ms;
      await engine.whenIdle();
      while (clock < end) {
        clock = Math.min(end, clock + stepMs);
        engine.fireDueTimers();
        await engine.whenIdle();
      }
    },
  };
}
