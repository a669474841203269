/**
 * Anchoring often, against real Azurite: the minute timer's anchor writes a line only when a head
 * moved, appends start an anchor once a chain runs far enough past its anchored head (without
 * waiting for it, and without failing when it fails), and several instances anchoring the same log
 * only add harmless duplicate lines. Thresholds are passed in; nothing waits for a real minute.
 */
import type { ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBlobs } from '#shared/adapters/blobs';
import { parseAnchorLine } from '#shared/audit/archive';
import { ANCHOR_AFTER_ROWS, ANCHOR_MAX_ROWS, createAuditLog } from '#shared/audit/log';
import { settings } from '#shared/config';
import { startComponentEnv, type ComponentEnv } from '../../support/component';
import { HMAC_KEY, anEvent, testClock, testLog } from './support';

let env: ComponentEnv;
const clock = testClock('2030-05-01T08:00:00.000Z');

beforeAll(async () => {
  env = await startComponentEnv();
});

afterAll(async () => {
  await env.close();
});

async function anchorLines(
  container: ContainerClient,
): Promise<NonNullable<ReturnType<typeof parseAnchorLine>>[]> {
  const lines: NonNullable<ReturnType<typeof parseAnchorLine>>[] = [];
  for await (const blob of container.listBlobsFlat({ prefix: 'anchors/' })) {
    const text = (await container.getBlobClient(blob.name).downloadToBuffer()).toString('utf8');
    for (const line of text.split('\n').filter((l) => l !== '')) {
      const parsed = parseAnchorLine(line);
      if (!parsed) throw new Error(`unreadable anchor line ${line}`);
      lines.push(parsed);
    }
  }
  return lines;
}

describe("the minute timer's anchor", () => {
  it('anchors when a head moved (or this instance never anchored), and writes nothing while the log is idle', async () => {
    // Prepare
    const { log, name } = testLog(clock, { chains: 3 });
    const container = await createBlobs(settings()).container(name);
    await log.append(anEvent(1));

    // Act: minute after minute.
    const first = await log.anchorIfMoved();
    clock.advance(60_000);
    const idle = [await log.anchorIfMoved(), await log.anchorIfMoved()];
    await log.append(anEvent(2));
    clock.advance(60_000);
    const moved = await log.anchorIfMoved();

    // Assess
    expect(first?.heads.map((h) => h.sequence)).toEqual([1]);
    expect(idle).toEqual([undefined, undefined]);
    // One instance's sequential appends go to one chain.
    expect(moved?.heads.map((h) => h.sequence)).toEqual([2]);
    const lines = await anchorLines(container);
    expect(lines).toHaveLength(2);
    expect(lines.every((l) => l.v === 2 && l.chains === 3)).toBe(true);
    expect(await log.verify()).toMatchObject({ ok: true, anchors: 2 });
  });

  it('is safe with several instances: each anchors what it has not seen anchored, and duplicates do no harm', async () => {
    // Prepare: two instances of the app over one log.
    const { log: a, name, tables } = testLog(clock, { chains: 2 });
    const b = createAuditLog({
      tables,
      blobs: createBlobs(settings()),
      now: clock.now,
      hmacKey: HMAC_KEY,
      name,
      chains: 2,
    });
    const container = await createBlobs(settings()).container(name);
    await Promise.all([a.append(anEvent(1)), b.append(anEvent(2)), a.append(anEvent(3))]);

    // Act: both run the chore at once, then again.
    const together = await Promise.all([a.anchorIfMoved(), b.anchorIfMoved()]);
    const again = await Promise.all([a.anchorIfMoved(), b.anchorIfMoved()]);

    // Assess
    expect(together.every((anchor) => anchor !== undefined)).toBe(true);
    expect(again).toEqual([undefined, undefined]);
    expect(await anchorLines(container)).toHaveLength(2);
    expect(await a.verify()).toMatchObject({ ok: true, checked: 3 });
  });
});

describe('anchoring after many appends', () => {
  it('keeps the bound below its limit by default', () => {
    expect(ANCHOR_AFTER_ROWS).toBeLessThan(ANCHOR_MAX_ROWS);
  });

  it('starts an anchor once a chain runs the given number of rows past its anchored head, and only then', async () => {
    // Prepare
    const { log, name } = testLog(clock, { chains: 1, anchorAfterRows: 5 });
    const container = await createBlobs(settings()).container(name);

    // Act
    for (let i = 0; i < 4; i++) await log.append(anEvent(i));
    await log.settle();
    const beforeThreshold = await anchorLines(container);
    await log.append(anEvent(4));
    await log.settle();
    const atThreshold = await anchorLines(container);
    for (let i = 5; i < 9; i++) await log.append(anEvent(i));
    await log.settle();
    const notYetAgain = await anchorLines(container);
    await log.append(anEvent(9));
    await log.settle();
    const again = await anchorLines(container);

    // Assess
    expect(beforeThreshold).toEqual([]);
    expect(atThreshold.map((l) => l.heads.map((h) => h.sequence))).toEqual([[5]]);
    expect(notYetAgain).toHaveLength(1);
    expect(again.map((l) => l.heads.map((h) => h.sequence))).toEqual([[5], [10]]);
    // Nothing moved since the last of them: the minute timer has nothing to do.
    expect(await log.anchorIfMoved()).toBeUndefined();
  });

  it('never fails an append when the anchor fails, and tries again a little later', async () => {
    // Prepare: today's anchor blob taken by a block blob, so appending an anchor line fails at once.
    const { log, name } = testLog(clock, { chains: 1, anchorAfterRows: 2 });
    const container = await createBlobs(settings()).container(name);
    const blob = `anchors/${clock.now().toISOString().slice(0, 10).replaceAll('-', '/')}.jsonl`;
    await container.getBlockBlobClient(blob).upload('', 0);

    // Act
    const stored = [];
    for (let i = 0; i < 4; i++) stored.push(await log.append(anEvent(i)));
    await log.settle();
    await container.getBlobClient(blob).delete();
    await log.append(anEvent(4));
    await log.settle();
    const whileWaiting = await anchorLines(container);
    clock.advance(5_000);
    await log.append(anEvent(5));
    await log.settle();

    // Assess
    expect(stored.map((s) => typeof s.id)).toEqual(['string', 'string', 'string', 'string']);
    expect(whileWaiting).toEqual([]);
    expect((await anchorLines(container)).map((l) => l.heads.map((h) => h.sequence))).toEqual([[6]]);
    expect(await log.verify()).toMatchObject({ ok: true, checked: 6 });
  });
});
