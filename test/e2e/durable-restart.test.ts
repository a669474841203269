/**
 * Restart survival: an orchestration waits on an 8-second durable timer and then on an external
 * event; the host is killed with SIGKILL mid-way and restarted on the same data folder. The timer
 * must fire within 1 s of its due time, the event must still be deliverable, and no completed
 * activity may run again or be lost.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { durableClientFor, waitForStatus } from '../support/durable-client';
import { startLocalHost, tempDir, type HostProcess } from '../support/local-host';

const MAIN = 'dist/test/fixtures/durable-app/*.js';
const HUB = 'ZsaLocal';
let host: HostProcess | undefined;

afterAll(async () => {
  await host?.stop();
});

function runs(dir: string): string[] {
  try {
    return readFileSync(join(dir, 'activity-runs.log'), 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

describe('durable restart survival', () => {
  it('fires a persisted timer on time after kill -9, still takes the event, runs no activity twice', async () => {
    const data = tempDir('restart');
    const logs = tempDir('restart-log');
    const env = { FIXTURE_LOG_DIR: logs, ZSA_TASK_HUB: HUB };
    host = await startLocalHost({ dataDir: data, main: MAIN, env });
    let client = durableClientFor(host.url, HUB);

    const id = await client.startNew('restartProbe', { instanceId: 'probe-1', input: { seconds: 8 } });
    // Wait until the first activity completed and the timer is scheduled.
    const waiting = await (async () => {
      for (;;) {
        const s = await client.getStatus(id);
        const custom = s.customStatus as { fireAt?: string } | null;
        if (custom?.fireAt) return custom;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const fireAt = Date.parse(waiting.fireAt ?? '');
    expect(runs(logs)).toEqual([`run:${id}:first`]);

    await host.kill();
    host = await startLocalHost({ dataDir: data, main: MAIN, env });
    client = durableClientFor(host.url, HUB);
    // On a busy machine the host may be back only after the timer was due: nothing can fire while
    // it is down, so "on time" is measured from whichever came later.
    const due = Math.max(fireAt, Date.now());

    // The timer fires on time even though the host that created it is gone.
    const fired = await (async () => {
      for (;;) {
        const s = await client.getStatus(id);
        const custom = s.customStatus as { firedAt?: string } | null;
        if (custom?.firedAt) return Date.parse(custom.firedAt);
        if (Date.now() > due + 10_000) throw new Error('the timer never fired');
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    expect(fired).toBeGreaterThanOrEqual(fireAt);
    expect(fired - due).toBeLessThan(1000);

    await client.raiseEvent(id, 'Continue', { by: 'test' });
    const done = await waitForStatus(client, id, ['Completed'], 15_000);
    expect(done.output).toMatchObject({ payload: { by: 'test' } });
    expect(runs(logs)).toEqual([`run:${id}:first`, `run:${id}:second`]);
  }, 90_000);
});
