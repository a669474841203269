/**
 * Scheduled messages through the real SDK: `scheduleMessages` / `cancelScheduledMessages` on the
 * `$management` node, and a plain send carrying `scheduledEnqueueTimeUtc`. Scheduled messages are
 * visible to peek (state "scheduled") but not delivered before their time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { receiveOne, startTestBus, type TestBus } from './bus';

const DELAY_MS = 1500;
/** Kept between "not yet" and the due time, so a slow step on a busy machine cannot blur the two. */
const MARGIN_MS = 300;
let env: TestBus;

/** How long to keep asking for a message that must not come before `at`: until just before it. */
function untilJustBefore(at: Date): number {
  const wait = at.getTime() - Date.now() - MARGIN_MS;
  if (wait <= 0)
    throw new Error(`Setting up took longer than ${DELAY_MS - MARGIN_MS} ms; nothing left to test.`);
  return wait;
}

beforeAll(async () => {
  env = await startTestBus({
    entities: [
      { queue: 'scheduled' },
      { queue: 'plain-send' },
      { topic: 'later', subscriptions: ['s1', 's2'] },
    ],
  });
});

afterAll(async () => {
  await env.close();
});

describe('scheduling', () => {
  it('delivers a scheduled message at its time with its sequence number; a cancelled one never arrives', async () => {
    // Prepare
    const sender = env.client.createSender('scheduled');
    const receiver = env.client.createReceiver('scheduled', { receiveMode: 'receiveAndDelete' });
    const at = new Date(Date.now() + DELAY_MS);

    // Act
    const [keep, cancel] = await sender.scheduleMessages([{ body: 'keep' }, { body: 'cancel' }], at);
    if (!keep || !cancel) throw new Error('no sequence numbers');
    await sender.cancelScheduledMessages([cancel]);
    const peeked = await receiver.peekMessages(5);
    const early = await receiver.receiveMessages(1, { maxWaitTimeInMs: untilJustBefore(at) });
    const onTime = await receiveOne(receiver, DELAY_MS * 3);
    const receivedAt = Date.now();
    const more = await receiver.receiveMessages(1, { maxWaitTimeInMs: 200 });

    // Assess
    expect(keep.toNumber()).toBeLessThan(cancel.toNumber());
    expect(peeked.map((m): unknown[] => [m.body, m.state])).toEqual([['keep', 'scheduled']]);
    expect(early).toEqual([]);
    expect(onTime.body).toBe('keep');
    expect(onTime.sequenceNumber?.toNumber()).toBe(keep.toNumber());
    expect(onTime.scheduledEnqueueTimeUtc?.getTime()).toBe(at.getTime());
    expect(receivedAt).toBeGreaterThanOrEqual(at.getTime());
    expect(more).toEqual([]);
  });

  it('delays a plain send that carries scheduledEnqueueTimeUtc', async () => {
    // Prepare
    const sender = env.client.createSender('plain-send');
    const receiver = env.client.createReceiver('plain-send');
    const at = new Date(Date.now() + DELAY_MS);

    // Act
    await sender.sendMessages({ body: 'when due', scheduledEnqueueTimeUtc: at });
    const early = await receiver.receiveMessages(1, { maxWaitTimeInMs: untilJustBefore(at) });
    const due = await receiveOne(receiver, DELAY_MS * 3);

    // Assess
    expect(early).toEqual([]);
    expect(due.body).toBe('when due');
    expect(Date.now()).toBeGreaterThanOrEqual(at.getTime());
    await receiver.completeMessage(due);
  });

  it('fans a scheduled topic message out to every subscription when due', async () => {
    // Prepare
    const sender = env.client.createSender('later');
    const s1 = env.client.createReceiver('later', 's1', { receiveMode: 'receiveAndDelete' });
    const s2 = env.client.createReceiver('later', 's2', { receiveMode: 'receiveAndDelete' });

    // Act
    await sender.scheduleMessages({ body: 'both' }, new Date(Date.now() + DELAY_MS / 2));
    const [a, b] = await Promise.all([receiveOne(s1, DELAY_MS * 3), receiveOne(s2, DELAY_MS * 3)]);

    // Assess
    expect([a.body, b.body]).toEqual(['both', 'both']);
  });
});
