/**
 * `npm run chaos`: one chaos run (chaos.ts), its summary printed, failing when a check fails.
 * `CHAOS_SEED=<n>` replays a run's choices; without it the seed is random and printed.
 */
import { expect, it } from 'vitest';
import { DEFAULT_OPTIONS, runChaos, summary } from './chaos';

const seed = process.env.CHAOS_SEED ? Number(process.env.CHAOS_SEED) : Math.floor(Math.random() * 2 ** 31);

it(`keeps every request, grant, execution and audit row right through a storage outage and a kill -9 (seed ${seed})`, async () => {
  const report = await runChaos({ ...DEFAULT_OPTIONS, seed, log: (line) => console.log(line) });
  console.log(summary(report));
  expect(report.checks.filter((c) => c.failures.length > 0).map((c) => c.name)).toEqual([]);
});
