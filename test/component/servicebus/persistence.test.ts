/**
 * Persistence: with `dataFile`, messages survive a restart (clean close or crash). Unsettled,
 * deferred, scheduled and dead-lettered messages come back in their state, sequence numbers keep
 * growing, and duplicate detection remembers ids. A torn last journal line is ignored.
 */
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServiceBus, type ServiceBusHandle } from '@zsa/local-host/servicebus';
import { newClient, receiveOne, startTestBus } from './bus';

let dir = '';
const running: ServiceBusHandle[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zsa-sb-'));
});

afterAll(async () => {
  for (const bus of running) await bus.close();
  await rm(dir, { recursive: true, force: true });
});

describe('persistence', () => {
  it('restores unsettled, deferred, scheduled and dead-lettered messages after a restart', async () => {
    // Prepare
    const dataFile = join(dir, 'restart.journal');
    const entities = [{ queue: 'work' }];
    const first = await startTestBus({ entities, dataFile });
    const sender = first.client.createSender('work');
    await sender.sendMessages(['a', 'b', 'c', 'd'].map((body) => ({ body, messageId: `id-${body}` })));
    const receiver = first.client.createReceiver('work');
    const [a, b, c, d] = await receiver.receiveMessages(4, { maxWaitTimeInMs: 3000 });
    if (!a || !b || !c || !d) throw new Error('expected four messages');
    await receiver.completeMessage(a);
    await receiver.deferMessage(c);
    await receiver.deadLetterMessage(d, { deadLetterReason: 'Bad', deadLetterErrorDescription: 'd is bad' });
    const dueAt = new Date(Date.now() + 1500);
    const [scheduledSeq] = await sender.scheduleMessages({ body: 'e' }, dueAt);
    // b stays locked and unsettled when the process goes away.

    // Act
    await first.close();
    const second = await startTestBus({ entities, dataFile });
    const client = second.client;
    const peeked = await client.createReceiver('work').peekMessages(10);
    const again = client.createReceiver('work');
    const unsettled = await receiveOne(again);
    const [deferred] = await again.receiveDeferredMessages(c.sequenceNumber ? [c.sequenceNumber] : []);
    const dead = await receiveOne(client.createReceiver('work', { subQueueType: 'deadLetter' }));
    await client.createSender('work').sendMessages([{ body: 'a again', messageId: 'id-a' }, { body: 'f' }]);
    const afterRestart = await receiveOne(again);
    const scheduled = await receiveOne(again, 3000);

    // Assess
    expect(peeked.map((m): unknown[] => [m.body, m.state])).toEqual([
      ['b', 'active'],
      ['c', 'deferred'],
      ['e', 'scheduled'],
    ]);
    // Locks are not persisted: b is available again at once, its count unchanged.
    expect(unsettled).toMatchObject({ body: 'b', deliveryCount: 0 });
    expect(unsettled.sequenceNumber?.toNumber()).toBe(b.sequenceNumber?.toNumber());
    expect(deferred).toMatchObject({ body: 'c', deliveryCount: 1, state: 'deferred' });
    expect(dead).toMatchObject({
      body: 'd',
      deadLetterReason: 'Bad',
      deadLetterErrorDescription: 'd is bad',
    });
    // The id-a resend is a duplicate (remembered across the restart) and is dropped.
    expect(afterRestart.body).toBe('f');
    expect(afterRestart.sequenceNumber?.toNumber()).toBeGreaterThan(scheduledSeq?.toNumber() ?? Infinity);
    expect(scheduled.body).toBe('e');
    expect(scheduled.sequenceNumber?.toNumber()).toBe(scheduledSeq?.toNumber());
    expect(Date.now()).toBeGreaterThanOrEqual(dueAt.getTime());
    await second.close();
  });

  it('loses no acknowledged send when the process dies without closing, even with a torn last line', async () => {
    // Prepare: a bus that is never closed stands for a crashed process.
    const dataFile = join(dir, 'crash.journal');
    const crashed = await startServiceBus({ entities: [{ queue: 'crash' }], dataFile });
    running.push(crashed);
    const client = newClient(crashed.connectionString);
    await client.createSender('crash').sendMessages([{ body: 'x' }, { body: 'y' }]);
    await client.close();
    await appendFile(dataFile, '{"k":"put","e":"crash","s":99,"id":"torn');

    // Act: the restarted bus does not define the queue until ensureQueue, as an app may do.
    const restarted = await startTestBus({ entities: [], dataFile });
    restarted.bus.ensureQueue('crash');
    const received = await restarted.client
      .createReceiver('crash', { receiveMode: 'receiveAndDelete' })
      .receiveMessages(2, { maxWaitTimeInMs: 3000 });

    // Assess
    expect(received.map((m): unknown => m.body)).toEqual(['x', 'y']);
    expect(restarted.logs.some((l) => l.includes('kept until they are created'))).toBe(true);
    await restarted.close();
  });
});
