/**
 * Peek-lock settlement through the real SDK: complete, abandon, dead-letter, defer, lock renewal,
 * lock expiry and the maximum delivery count, with Service Bus's delivery-count rules
 * (the count is the number of earlier lock releases). A 1-second lock keeps expiry tests short.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCode, peekAll, receiveOne, sleep, startTestBus, type TestBus } from './bus';

const LOCK_MS = 1000;
const MAX_DELIVERIES = 3;
let env: TestBus;

beforeAll(async () => {
  env = await startTestBus({
    entities: ['abandon', 'deadletter', 'defer', 'renew', 'auto-renew', 'expire', 'poison', 'dlq-rad'].map(
      (queue) => ({
        queue,
      }),
    ),
    lockDurationMs: LOCK_MS,
    maxDeliveryCount: MAX_DELIVERIES,
  });
});

afterAll(async () => {
  await env.close();
});

describe('settlement', () => {
  it('abandon: the message comes back with deliveryCount + 1, same sequence number, new lock, modified properties', async () => {
    // Prepare
    await env.client
      .createSender('abandon')
      .sendMessages({ body: 'again', applicationProperties: { step: 1 } });
    const receiver = env.client.createReceiver('abandon');
    const first = await receiveOne(receiver);

    // Act
    await receiver.abandonMessage(first, { step: 2, note: 'retry' });
    const second = await receiveOne(receiver);

    // Assess
    expect(first.deliveryCount).toBe(0);
    expect(second.deliveryCount).toBe(1);
    expect(second.sequenceNumber?.toNumber()).toBe(first.sequenceNumber?.toNumber());
    expect(second.lockToken).not.toBe(first.lockToken);
    expect(second.applicationProperties).toEqual({ step: 2, note: 'retry' });
    await receiver.completeMessage(second);
  });

  it('dead-letter: the message leaves the queue for <queue>/$deadletterqueue with its reason and description', async () => {
    // Prepare
    await env.client.createSender('deadletter').sendMessages({ body: { bad: true }, messageId: 'dl-1' });
    const receiver = env.client.createReceiver('deadletter');
    const dlq = env.client.createReceiver('deadletter', { subQueueType: 'deadLetter' });
    const message = await receiveOne(receiver);

    // Act
    await receiver.deadLetterMessage(message, {
      deadLetterReason: 'ValidationFailed',
      deadLetterErrorDescription: 'body.bad is true',
      extra: 'kept',
    });
    const dead = await receiveOne(dlq);

    // Assess
    expect(await peekAll(env, 'deadletter')).toEqual([]);
    expect(dlq.entityPath).toBe('deadletter/$DeadLetterQueue');
    expect(dead).toMatchObject({
      messageId: 'dl-1',
      body: { bad: true },
      deadLetterReason: 'ValidationFailed',
      deadLetterErrorDescription: 'body.bad is true',
      deadLetterSource: 'deadletter',
      deliveryCount: 0,
    });
    expect(dead.applicationProperties).toMatchObject({ extra: 'kept' });
    await dlq.completeMessage(dead);
    expect(await peekAll(env, 'deadletter', 'deadLetter')).toEqual([]);
  });

  it('defer: the message is only reachable by sequence number, with deliveryCount 1, and settles through $management', async () => {
    // Prepare
    await env.client.createSender('defer').sendMessages({ body: 'later' });
    const receiver = env.client.createReceiver('defer');
    const message = await receiveOne(receiver);
    const seq = message.sequenceNumber;
    if (!seq) throw new Error('no sequence number');

    // Act
    await receiver.deferMessage(message);
    const meanwhile = await receiver.receiveMessages(1, { maxWaitTimeInMs: 300 });
    const [deferred] = await receiver.receiveDeferredMessages([seq]);
    if (!deferred) throw new Error('deferred message not returned');
    await receiver.completeMessage(deferred);
    const again = await errorCode(receiver.receiveDeferredMessages([seq]));

    // Assess
    expect(meanwhile).toEqual([]);
    expect(deferred).toMatchObject({ body: 'later', state: 'deferred', deliveryCount: 1 });
    expect(again).toBe('MessageNotFound');
  });

  it('renewMessageLock extends the lock past its original expiry', async () => {
    // Prepare
    await env.client.createSender('renew').sendMessages({ body: 'slow work' });
    const receiver = env.client.createReceiver('renew', { maxAutoLockRenewalDurationInMs: 0 });
    const message = await receiveOne(receiver);
    const original = message.lockedUntilUtc?.getTime() ?? 0;

    // Act
    await sleep(LOCK_MS * 0.6);
    const renewed = await receiver.renewMessageLock(message);
    await sleep(LOCK_MS * 0.6);
    await receiver.completeMessage(message);

    // Assess
    expect(renewed.getTime()).toBeGreaterThan(original);
    expect(await peekAll(env, 'renew')).toEqual([]);
  });

  it('automatic lock renewal (as subscribe() uses) keeps a message locked while its handler runs long', async () => {
    // Prepare
    await env.client.createSender('auto-renew').sendMessages({ body: 'long job' });
    const receiver = env.client.createReceiver('auto-renew');

    // Act: complete only after the original lock would have expired.
    const outcome = await new Promise<string>((resolve) => {
      const subscription = receiver.subscribe(
        {
          processMessage: async (m) => {
            await sleep(LOCK_MS * 1.6);
            const result = await receiver.completeMessage(m).then(
              () => 'completed',
              (e: unknown) => `failed: ${String(e)}`,
            );
            await subscription.close();
            resolve(result);
          },
          processError: (args) => {
            resolve(`error: ${String(args.error)}`);
            return Promise.resolve();
          },
        },
        { autoCompleteMessages: false },
      );
    });

    // Assess
    expect(outcome).toBe('completed');
    expect(await peekAll(env, 'auto-renew')).toEqual([]);
  });

  it('lock expiry: the holder loses the lock and the message comes back with deliveryCount + 1', async () => {
    // Prepare
    await env.client.createSender('expire').sendMessages({ body: 'forgotten' });
    const receiver = env.client.createReceiver('expire', { maxAutoLockRenewalDurationInMs: 0 });
    const message = await receiveOne(receiver);

    // Act
    await sleep(LOCK_MS + 200);
    const completeCode = await errorCode(receiver.completeMessage(message));
    const renewCode = await errorCode(receiver.renewMessageLock(message));
    const redelivered = await receiveOne(receiver);

    // Assess
    expect(completeCode).toBe('MessageLockLost');
    expect(renewCode).toBe('MessageLockLost');
    expect(redelivered).toMatchObject({ body: 'forgotten', deliveryCount: 1 });
    expect(redelivered.sequenceNumber?.toNumber()).toBe(message.sequenceNumber?.toNumber());
    await receiver.completeMessage(redelivered);
  });

  it('maximum delivery count: delivered exactly that many times, then dead-lettered as MaxDeliveryCountExceeded', async () => {
    // Prepare
    await env.client.createSender('poison').sendMessages({ body: 'poison', messageId: 'p-1' });
    const receiver = env.client.createReceiver('poison');
    const dlq = env.client.createReceiver('poison', { subQueueType: 'deadLetter' });

    // Act
    const counts: number[] = [];
    for (;;) {
      const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 300 });
      if (!m) break;
      counts.push(m.deliveryCount ?? -1);
      await receiver.abandonMessage(m);
    }
    const dead = await receiveOne(dlq);

    // Assess
    expect(counts).toEqual([0, 1, 2]);
    expect(dead).toMatchObject({
      messageId: 'p-1',
      deliveryCount: MAX_DELIVERIES,
      deadLetterReason: 'MaxDeliveryCountExceeded',
      deadLetterErrorDescription: `Message could not be consumed after ${MAX_DELIVERIES} delivery attempts.`,
    });
    expect(env.logs.some((l) => l.includes('p-1') && l.includes('MaxDeliveryCountExceeded'))).toBe(true);
    await dlq.completeMessage(dead);
  });

  it('receive-and-delete works on a dead-letter queue too', async () => {
    // Prepare
    await env.client.createSender('dlq-rad').sendMessages({ body: 'to the dlq' });
    const receiver = env.client.createReceiver('dlq-rad');
    await receiver.deadLetterMessage(await receiveOne(receiver), {
      deadLetterReason: 'Test',
      deadLetterErrorDescription: 'test',
    });
    const dlq = env.client.createReceiver('dlq-rad', {
      subQueueType: 'deadLetter',
      receiveMode: 'receiveAndDelete',
    });

    // Act
    const dead = await receiveOne(dlq);

    // Assess
    expect(dead.body).toBe('to the dlq');
    expect(await peekAll(env, 'dlq-rad', 'deadLetter')).toEqual([]);
  });
});
