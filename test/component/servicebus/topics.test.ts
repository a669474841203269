/**
 * Topics and subscriptions through the real SDK, as a subscriber of ZSA's event topic uses them: a
 * sender on the topic, receivers on `<topic>/Subscriptions/<name>`. Each subscription holds its own
 * copy (settling one leaves the others), peek-lock settlement and dead-lettering work per
 * subscription, a repeated messageId is dropped at the topic, and a subscription's messages and the
 * topic's duplicate history survive a restart.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCode, peekAll, receiveOne, startTestBus, type TestBus } from './bus';

const MAX_DELIVERIES = 2;
let env: TestBus;
let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zsa-sb-topics-'));
  env = await startTestBus({
    entities: [
      { topic: 'copies', subscriptions: ['siem', 'flow'] },
      { topic: 'settle', subscriptions: ['all'] },
      { topic: 'dedup', subscriptions: ['all'] },
    ],
    maxDeliveryCount: MAX_DELIVERIES,
  });
});

afterAll(async () => {
  await env.close();
  await rm(dir, { recursive: true, force: true });
});

describe('topics', () => {
  it('gives each subscription its own copy: completing it in one leaves the other untouched', async () => {
    // Prepare
    const siem = env.client.createReceiver('copies', 'siem');
    const flow = env.client.createReceiver('copies', 'flow');

    // Act
    await env.client.createSender('copies').sendMessages([
      { body: { n: 1 }, messageId: 'c-1' },
      { body: { n: 2 }, messageId: 'c-2' },
    ]);
    const fromSiem = await siem.receiveMessages(2, { maxWaitTimeInMs: 3000 });
    for (const m of fromSiem) await siem.completeMessage(m);
    const leftInFlow = await peekAll(env, 'copies/Subscriptions/flow');
    const fromFlow = await flow.receiveMessages(2, { maxWaitTimeInMs: 3000 });

    // Assess
    expect(fromSiem.map((m): unknown => m.body)).toEqual([{ n: 1 }, { n: 2 }]);
    expect(leftInFlow.map((m) => m.messageId)).toEqual(['c-1', 'c-2']);
    expect(fromFlow.map((m) => m.messageId)).toEqual(['c-1', 'c-2']);
    expect(await peekAll(env, 'copies/Subscriptions/siem')).toEqual([]);
    for (const m of fromFlow) await flow.completeMessage(m);
  });

  it('abandons, redelivers and dead-letters per subscription, at its maximum delivery count', async () => {
    // Prepare
    await env.client.createSender('settle').sendMessages({ body: 'poison', messageId: 's-1' });
    const receiver = env.client.createReceiver('settle', 'all');
    const dlq = env.client.createReceiver('settle', 'all', { subQueueType: 'deadLetter' });

    // Act
    const first = await receiveOne(receiver);
    await receiver.abandonMessage(first);
    const second = await receiveOne(receiver);
    await receiver.abandonMessage(second);
    const dead = await receiveOne(dlq);

    // Assess
    expect([first.deliveryCount, second.deliveryCount]).toEqual([0, 1]);
    expect(dead).toMatchObject({
      body: 'poison',
      messageId: 's-1',
      deadLetterReason: 'MaxDeliveryCountExceeded',
    });
    await dlq.completeMessage(dead);
    expect(await peekAll(env, 'settle/Subscriptions/all')).toEqual([]);
  });

  it('drops a message whose id the topic saw within its window', async () => {
    // Prepare
    const sender = env.client.createSender('dedup');

    // Act
    await sender.sendMessages({ body: 'first', messageId: 'event-1' });
    await sender.sendMessages({ body: 'retry', messageId: 'event-1' });
    await sender.sendMessages({ body: 'next', messageId: 'event-2' });
    const received = await env.client
      .createReceiver('dedup', 'all', { receiveMode: 'receiveAndDelete' })
      .receiveMessages(3, { maxWaitTimeInMs: 300 });

    // Assess
    expect(received.map((m): unknown => m.body)).toEqual(['first', 'next']);
  });

  it('refuses a receiver on the topic itself and on an unknown subscription', async () => {
    // Act
    const onTopic = errorCode(
      env.client.createReceiver('copies', { receiveMode: 'receiveAndDelete' }).receiveMessages(1),
    );
    const unknown = errorCode(env.client.createReceiver('copies', 'nobody').receiveMessages(1));

    // Assess
    expect(await unknown).toBe('MessagingEntityNotFound');
    // A topic is for sending: receiving from it is refused (amqp:not-allowed, a GeneralError to the SDK).
    expect(await onTopic).toBe('GeneralError');
  });

  it('keeps what waits in a subscription, and the duplicate history, across a restart', async () => {
    // Prepare
    const dataFile = join(dir, 'topic.journal');
    const entities = [{ topic: 'kept', subscriptions: ['all', 'other'] }];
    const first = await startTestBus({ entities, dataFile });
    await first.client.createSender('kept').sendMessages([
      { body: 'a', messageId: 'k-a' },
      { body: 'b', messageId: 'k-b' },
    ]);
    // "a" is locked, not settled, when the bus stops.
    const locked = await receiveOne(first.client.createReceiver('kept', 'all'));
    await first.close();

    // Act: the topic is declared after start, as the local host's launcher does.
    const second = await startTestBus({ entities: [], dataFile });
    second.bus.ensureTopic('kept', ['all', 'other']);
    await second.client.createSender('kept').sendMessages([
      { body: 'a again', messageId: 'k-a' },
      { body: 'c', messageId: 'k-c' },
    ]);
    const all = await second.client
      .createReceiver('kept', 'all', { receiveMode: 'receiveAndDelete' })
      .receiveMessages(5, { maxWaitTimeInMs: 300 });
    const other = await second.client
      .createReceiver('kept', 'other', { receiveMode: 'receiveAndDelete' })
      .receiveMessages(5, { maxWaitTimeInMs: 300 });
    await second.close();

    // Assess: locks do not survive a restart, so "a" is back; its resend was a duplicate.
    expect(locked.body).toBe('a');
    expect(all.map((m): unknown => m.body)).toEqual(['a', 'b', 'c']);
    expect(other.map((m): unknown => m.body)).toEqual(['a', 'b', 'c']);
  });
});
