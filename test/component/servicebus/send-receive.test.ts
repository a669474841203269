/**
 * The local Service Bus driven by the real `@azure/service-bus` SDK: sending (single, array,
 * batch), message encoding and properties, peek-lock and receive-and-delete receivers, peek,
 * subscribe, duplicate detection, topics, and refusal of unknown entities and bad keys.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureRoundTrip, startServiceBus } from '@zsa/local-host/servicebus';
import { errorCode, newClient, peekAll, receiveOne, startTestBus, type TestBus } from './bus';

let env: TestBus;

beforeAll(async () => {
  env = await startTestBus({
    entities: [
      { queue: 'props' },
      { queue: 'bodies' },
      { queue: 'batch' },
      { queue: 'rad' },
      { queue: 'peek' },
      { queue: 'dup' },
      { queue: 'subscribe' },
      { queue: 'compete' },
      { queue: 'drain' },
      { queue: 'latency' },
      { queue: 'many' },
      { topic: 'events', subscriptions: ['audit', 'mail'] },
    ],
  });
});

afterAll(async () => {
  await env.close();
});

describe('sending and receiving', () => {
  it('returns every property the sender set, plus sequence number, enqueued time and lock', async () => {
    // Prepare
    const sender = env.client.createSender('props');
    const receiver = env.client.createReceiver('props');
    const before = Date.now();

    // Act
    await sender.sendMessages({
      body: { hello: 'world', n: 1 },
      messageId: 'msg-1',
      contentType: 'application/json',
      correlationId: 'corr-1',
      subject: 'greeting',
      to: 'someone',
      replyTo: 'back',
      timeToLive: 60_000,
      applicationProperties: {
        tenant: 't1',
        attempt: 2,
        ratio: 0.5,
        flag: true,
        at: new Date(1_700_000_000_000),
      },
    });
    const message = await receiveOne(receiver);

    // Assess
    expect(message.body).toEqual({ hello: 'world', n: 1 });
    expect(message).toMatchObject({
      messageId: 'msg-1',
      contentType: 'application/json',
      correlationId: 'corr-1',
      subject: 'greeting',
      to: 'someone',
      replyTo: 'back',
      timeToLive: 60_000,
      deliveryCount: 0,
      state: 'active',
    });
    expect(message.applicationProperties).toEqual({
      tenant: 't1',
      attempt: 2,
      ratio: 0.5,
      flag: true,
      // The SDK hands Dates back as epoch milliseconds unless `skipConvertingDate` is set.
      at: 1_700_000_000_000,
    });
    expect(message.sequenceNumber?.toNumber()).toBe(1);
    expect(message.enqueuedTimeUtc?.getTime()).toBeGreaterThanOrEqual(before - 5);
    expect(message.lockedUntilUtc?.getTime()).toBeGreaterThan(Date.now() + 20_000);
    expect(message.lockToken).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    await receiver.completeMessage(message);
    expect(await peekAll(env, 'props')).toEqual([]);
  });

  it('round-trips bodies as the SDK encodes them: objects, arrays, strings, numbers, null, bytes', async () => {
    // Prepare
    const bodies: unknown[] = [
      { a: [1, 2] },
      ['x', 3],
      'a string',
      '123',
      42,
      null,
      Buffer.from([0, 1, 254, 255]),
    ];
    const sender = env.client.createSender('bodies');
    const receiver = env.client.createReceiver('bodies', { receiveMode: 'receiveAndDelete' });

    // Act
    for (const body of bodies) await sender.sendMessages({ body });
    const received = await receiver.receiveMessages(bodies.length, { maxWaitTimeInMs: 3000 });

    // Assess
    expect(received.map((m): unknown => m.body)).toEqual(bodies);
  });

  it('enqueues arrays and batches in order, each message with the next sequence number', async () => {
    // Prepare
    const sender = env.client.createSender('batch');
    const receiver = env.client.createReceiver('batch', { receiveMode: 'receiveAndDelete' });

    // Act
    await sender.sendMessages([{ body: 'one' }, { body: 'two' }, { body: Buffer.from('three') }]);
    const batch = await sender.createMessageBatch();
    for (const body of ['four', 'five']) expect(batch.tryAddMessage({ body })).toBe(true);
    await sender.sendMessages(batch);
    const received = await receiver.receiveMessages(5, { maxWaitTimeInMs: 3000 });

    // Assess
    expect(batch.maxSizeInBytes).toBe(256 * 1024);
    expect(received.map((m): unknown => m.body)).toEqual([
      'one',
      'two',
      Buffer.from('three'),
      'four',
      'five',
    ]);
    expect(received.map((m) => m.sequenceNumber?.toNumber())).toEqual([1, 2, 3, 4, 5]);
    expect(new Set(received.map((m) => m.messageId)).size).toBe(5);
  });

  it('receive-and-delete removes messages as they are delivered', async () => {
    // Prepare
    const sender = env.client.createSender('rad');
    const receiver = env.client.createReceiver('rad', { receiveMode: 'receiveAndDelete' });
    await sender.sendMessages([{ body: 1 }, { body: 2 }]);

    // Act
    const received = await receiver.receiveMessages(2, { maxWaitTimeInMs: 3000 });

    // Assess
    expect(received.map((m): unknown => m.body)).toEqual([1, 2]);
    expect(await peekAll(env, 'rad')).toEqual([]);
  });

  it('peeks without locking, from where the last peek stopped', async () => {
    // Prepare
    const sender = env.client.createSender('peek');
    const receiver = env.client.createReceiver('peek');
    const empty = await receiver.peekMessages(5);
    await sender.sendMessages([{ body: 'p1' }, { body: 'p2' }, { body: 'p3' }]);

    // Act
    const first = await receiver.peekMessages(2);
    const rest = await receiver.peekMessages(5);
    const locked = await receiver.receiveMessages(3, { maxWaitTimeInMs: 3000 });

    // Assess
    expect(empty).toEqual([]);
    expect(first.map((m): unknown => m.body)).toEqual(['p1', 'p2']);
    expect(rest.map((m): unknown => m.body)).toEqual(['p3']);
    expect(first[0]?.lockToken).toBeUndefined();
    expect(locked.map((m): unknown => m.body)).toEqual(['p1', 'p2', 'p3']);
  });

  it('accepts and drops a duplicate messageId within the detection window', async () => {
    // Prepare
    const sender = env.client.createSender('dup');
    const receiver = env.client.createReceiver('dup', { receiveMode: 'receiveAndDelete' });

    // Act
    await sender.sendMessages({ body: 'first', messageId: 'same' });
    await sender.sendMessages({ body: 'second', messageId: 'same' });
    await sender.sendMessages([
      { body: 'third', messageId: 'same' },
      { body: 'other', messageId: 'other' },
    ]);
    const received = await receiver.receiveMessages(2, { maxWaitTimeInMs: 3000 });

    // Assess
    expect(received.map((m): unknown => m.body)).toEqual(['first', 'other']);
    expect(await peekAll(env, 'dup')).toEqual([]);
    expect(env.logs.some((l) => l.includes('duplicate message same dropped'))).toBe(true);
  });

  it('subscribe() delivers every message and completes them', async () => {
    // Prepare
    const sender = env.client.createSender('subscribe');
    const receiver = env.client.createReceiver('subscribe');
    const seen: unknown[] = [];
    const errors: unknown[] = [];
    const done = new Promise<void>((resolve) => {
      const subscription = receiver.subscribe(
        {
          processMessage: async (m) => {
            seen.push(m.body);
            if (seen.length === 5) {
              await subscription.close();
              resolve();
            }
          },
          processError: (args) => {
            errors.push(args.error);
            return Promise.resolve();
          },
        },
        { maxConcurrentCalls: 2 },
      );
    });

    // Act
    await sender.sendMessages([1, 2, 3, 4, 5].map((body) => ({ body })));
    await done;

    // Assess
    expect([...seen].sort()).toEqual([1, 2, 3, 4, 5]);
    expect(errors).toEqual([]);
    await expect.poll(() => peekAll(env, 'subscribe')).toEqual([]);
  });

  it('shares messages between competing receivers without duplicates', async () => {
    // Prepare
    const sender = env.client.createSender('compete');
    const receivers = [env.client.createReceiver('compete'), env.client.createReceiver('compete')];
    await sender.sendMessages(Array.from({ length: 30 }, (_, i) => ({ body: i })));

    // Act
    const got: number[] = [];
    for (let round = 0; got.length < 30 && round < 20; round++) {
      const batches = await Promise.all(receivers.map((r) => r.receiveMessages(4, { maxWaitTimeInMs: 500 })));
      for (const [i, batch] of batches.entries()) {
        for (const m of batch) {
          got.push(m.body as number);
          await receivers[i]?.completeMessage(m);
        }
      }
    }

    // Assess
    expect([...got].sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it('returns [] from an empty receive after the wait, and the receiver keeps working (drain answered)', async () => {
    // Prepare
    const receiver = env.client.createReceiver('drain');
    const sender = env.client.createSender('drain');

    // Act
    const started = Date.now();
    const empty = await receiver.receiveMessages(5, { maxWaitTimeInMs: 300 });
    const waited = Date.now() - started;
    await sender.sendMessages({ body: 'after' });
    const after = await receiveOne(receiver);

    // Assess
    expect(empty).toEqual([]);
    expect(waited).toBeLessThan(1000);
    expect(after.body).toBe('after');
  });

  it('fans a topic message out to every subscription', async () => {
    // Prepare
    const sender = env.client.createSender('events');
    const audit = env.client.createReceiver('events', 'audit');
    const mail = env.client.createReceiver('events', 'mail');

    // Act
    await sender.sendMessages({ body: { event: 'granted' }, applicationProperties: { kind: 'grant' } });
    const [a, m] = await Promise.all([receiveOne(audit), receiveOne(mail)]);

    // Assess
    expect(a.body).toEqual({ event: 'granted' });
    expect(m.body).toEqual({ event: 'granted' });
    expect(a.applicationProperties).toEqual({ kind: 'grant' });
    await audit.completeMessage(a);
    await mail.completeMessage(m);
  });

  it('keeps delivering on one link past 2048 settled messages (rhea session buffer)', async () => {
    // Prepare
    const total = 2100;
    const sender = env.client.createSender('many');
    for (let start = 0; start < total; start += 300) {
      const batch = await sender.createMessageBatch();
      for (let i = start; i < Math.min(total, start + 300); i++) batch.tryAddMessage({ body: i });
      await sender.sendMessages(batch);
    }
    const receiver = env.client.createReceiver('many');

    // Act
    let received = 0;
    await new Promise<void>((resolve) => {
      const subscription = receiver.subscribe(
        {
          processMessage: async () => {
            if (++received === total) {
              await subscription.close();
              resolve();
            }
          },
          processError: () => Promise.resolve(),
        },
        { maxConcurrentCalls: 32 },
      );
    });

    // Assess
    expect(received).toBe(total);
  });

  it('is fast on loopback: a send → receive round trip takes milliseconds', async () => {
    // Act
    const result = await measureRoundTrip(env.bus.connectionString, 'latency', 20);

    // Assess: generous for a loaded CI machine; idle it is about 2 ms.
    expect(result.medianMs).toBeLessThan(100);
  });
});

describe('refusals', () => {
  it('refuses an unknown entity with MessagingEntityNotFound, at once', async () => {
    // Prepare
    const sender = env.client.createSender('no-such-queue');
    const started = Date.now();

    // Act
    const code = await errorCode(sender.sendMessages({ body: 'x' }));

    // Assess
    expect(code).toBe('MessagingEntityNotFound');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('refuses a client whose key is not this run’s key', async () => {
    // Prepare
    const forged = env.bus.connectionString.replace(
      /SharedAccessKey=[^;]+/,
      'SharedAccessKey=bm90LXRoZS1rZXk=',
    );
    const client = newClient(forged);

    // Act
    const code = await errorCode(client.createSender('props').sendMessages({ body: 'x' }));
    await client.close();

    // Assess
    expect(code).toBe('UnauthorizedAccess');
  });

  it('creates queues on first use when autoCreateQueues is on, and by ensureQueue at run time', async () => {
    // Prepare
    const bus = await startServiceBus({ entities: [], autoCreateQueues: true });
    const client = newClient(bus.connectionString);
    try {
      // Act
      await client.createSender('made-on-demand').sendMessages({ body: 'hi' });
      bus.ensureQueue('made-by-call');
      await client.createSender('made-by-call').sendMessages({ body: 'there' });
      const a = await receiveOne(client.createReceiver('made-on-demand'));
      const b = await receiveOne(client.createReceiver('made-by-call'));

      // Assess
      expect([a.body, b.body]).toEqual(['hi', 'there']);
    } finally {
      await client.close();
      await bus.close();
    }
  });
});
