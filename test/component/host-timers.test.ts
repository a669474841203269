import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FunctionRegistry, installCoreModule } from '@zsa/local-host/core';
import { startTimerTriggers, type RunningTimers } from '@zsa/local-host';

let timers: RunningTimers;
let fired: { at: number; timer: { isPastDue: boolean; scheduleStatus?: { next?: unknown } } }[];

beforeAll(async () => {
  const registry = new FunctionRegistry(() => undefined);
  installCoreModule(registry);
  ({ fired } = (await import('../fixtures/timer-app/index.js')) as unknown as { fired: typeof fired });
  await registry.start(process.cwd());
  timers = startTimerTriggers({ registry, resolve: (v) => v, log: () => undefined });
});

afterAll(async () => {
  await timers.close();
});

describe('local host timer triggers', () => {
  it('runs an NCRONTAB schedule on time with the trigger value the library expects, and runOnStartup once', async () => {
    await new Promise((r) => setTimeout(r, 2600));
    const every = fired.filter((f) => f.at > 0);
    expect(every.length).toBeGreaterThanOrEqual(2);
    for (const f of every) {
      // Fired within the second it was due for.
      expect(f.at % 1000).toBeLessThan(500);
      expect(f.timer.isPastDue).toBe(false);
      expect(typeof f.timer.scheduleStatus?.next).toBe('string');
    }
    expect(fired.filter((f) => f.at === -1)).toHaveLength(1);
    expect(
      timers
        .schedule()
        .map((s) => s.name)
        .sort(),
    ).toEqual(['everySecond', 'onStartup']);
  });
});
