/**
 * Runs the app's timer triggers (`app.timer`) on their NCRONTAB schedules (six fields, seconds
 * first, UTC), as the Functions host does: the trigger value carries the schedule status and whether
 * the run is past due; `runOnStartup` runs once at start. Invocations of one timer never overlap.
 */
import { CronExpressionParser } from 'cron-parser';
import type { FunctionRegistry, RegisteredFunction, RpcTypedData } from './core/functions-core';
import type { ExtraInputs } from './http/router';

export interface RunningTimers {
  /** Next due time per timer function (for the banner and tests). */
  schedule(): { name: string; next: string }[];
  close(): Promise<void>;
}

export function startTimerTriggers(opts: {
  registry: FunctionRegistry;
  resolve: (value: string) => string;
  log: (line: string) => void;
  /** Values of the timer functions' input bindings (a durable client), as the HTTP router has them. */
  extraInputs?: ExtraInputs;
}): RunningTimers {
  const handles = new Map<string, NodeJS.Timeout>();
  const next = new Map<string, Date>();
  const running = new Set<Promise<void>>();
  let closed = false;

  const arm = (fn: RegisteredFunction, after: Date, last: Date | undefined): void => {
    if (closed) return;
    const schedule = opts.resolve(typeof fn.trigger.schedule === 'string' ? fn.trigger.schedule : '');
    let due: Date;
    try {
      due = CronExpressionParser.parse(schedule, { tz: 'UTC', currentDate: after }).next().toDate();
    } catch (e) {
      opts.log(
        `timer ${fn.metadata.name}: the schedule "${schedule}" is not valid NCRONTAB (${e instanceof Error ? e.message : String(e)}); it will not run.`,
      );
      return;
    }
    next.set(fn.metadata.name, due);
    // Node timers cap at ~24.8 days; re-arm in steps for rarer schedules.
    const wait = Math.min(Math.max(0, due.getTime() - Date.now()), 2 ** 31 - 1);
    handles.set(
      fn.metadata.name,
      setTimeout(() => {
        if (Date.now() < due.getTime()) {
          arm(fn, new Date(Date.now() - 1), last);
          return;
        }
        const run = fire(fn, due, last).finally(() => running.delete(run));
        running.add(run);
        void run.then(() => arm(fn, due, due));
      }, wait),
    );
  };

  const fire = async (fn: RegisteredFunction, due: Date, last: Date | undefined): Promise<void> => {
    const value = {
      Schedule: { AdjustForDST: true },
      ScheduleStatus: {
        Last: (last ?? due).toISOString(),
        Next: due.toISOString(),
        LastUpdated: new Date().toISOString(),
      },
      IsPastDue: Date.now() - due.getTime() > 1000,
    };
    const inputData: { name: string; data: RpcTypedData }[] = [
      { name: fn.triggerName, data: { json: JSON.stringify(value) } },
    ];
    for (const [name, binding] of Object.entries(fn.metadata.bindings)) {
      if (binding.direction !== 'in' || name === fn.triggerName) continue;
      const data = opts.extraInputs?.(fn, name, binding);
      if (data !== undefined) inputData.push({ name, data });
    }
    try {
      await opts.registry.invoke(fn, inputData);
    } catch (e) {
      opts.log(`timer ${fn.metadata.name} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  };

  for (const fn of opts.registry.byTrigger('timerTrigger')) {
    if (fn.trigger.runOnStartup === true) {
      const run = fire(fn, new Date(), undefined).finally(() => running.delete(run));
      running.add(run);
    }
    arm(fn, new Date(), undefined);
  }

  return {
    schedule: () => [...next.entries()].map(([name, at]) => ({ name, next: at.toISOString() })),
    async close() {
      closed = true;
      for (const h of handles.values()) clearTimeout(h);
      await Promise.allSettled([...running]);
    },
  };
}
