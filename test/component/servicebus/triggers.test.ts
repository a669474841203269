/**
 * The Service Bus trigger runner with a fixture app registered through the real `@azure/functions`
 * library: messages reach the handler as the worker would deliver them, successes are completed,
 * failures are abandoned until Service Bus dead-letters them, and concurrency is bounded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FunctionRegistry, installCoreModule } from '@zsa/local-host/core';
import { serviceBusEntities, startServiceBusTriggers } from '@zsa/local-host/servicebus';
import { peekAll, receiveOne, startTestBus, type TestBus } from './bus';

type App = typeof import('./trigger-app');

const MAX_DELIVERIES = 3;
const MAX_CONCURRENT = 2;
let env: TestBus;
let fixture: App;
let triggers: { close(): Promise<void> };
const runnerLogs: string[] = [];

beforeAll(async () => {
  env = await startTestBus({ entities: [], maxDeliveryCount: MAX_DELIVERIES });
  const registry = new FunctionRegistry(() => undefined);
  installCoreModule(registry);
  fixture = await import('./trigger-app.js');
  await registry.start(process.cwd());
  // The entities come from the app's own trigger registrations, as the local host creates them.
  for (const e of serviceBusEntities(registry)) {
    if ('queue' in e) env.bus.ensureQueue(e.queue);
    else env.bus.ensureTopic(e.topic, e.subscriptions);
  }
  triggers = await startServiceBusTriggers({
    registry,
    resolveConnection: (name) => {
      if (name !== fixture.CONNECTION) throw new Error(`unknown connection setting ${name}`);
      return env.bus.connectionString;
    },
    maxConcurrentCalls: MAX_CONCURRENT,
    log: (line) => runnerLogs.push(line),
  });
});

afterAll(async () => {
  await triggers.close();
  await env.close();
});

describe('Service Bus triggers', () => {
  it('hands a JSON message to the function with its trigger metadata, then completes it', async () => {
    // Prepare
    const sender = env.client.createSender('trigger-ok');

    // Act
    await sender.sendMessages({
      body: { requestId: 'r-1', task: 'Exchange\\New-MoveRequest' },
      messageId: 'exec-1',
      contentType: 'application/json',
      correlationId: 'corr-1',
      applicationProperties: { kind: 'execution' },
    });
    await expect.poll(() => fixture.seen.length).toBe(1);

    // Assess
    const [first] = fixture.seen;
    expect(first?.message).toEqual({ requestId: 'r-1', task: 'Exchange\\New-MoveRequest' });
    expect(first?.metadata).toMatchObject({
      messageId: 'exec-1',
      deliveryCount: 1,
      sequenceNumber: 1,
      contentType: 'application/json',
      correlationId: 'corr-1',
      applicationProperties: { kind: 'execution' },
      userProperties: { kind: 'execution' },
    });
    expect(new Date(String(first?.metadata.enqueuedTimeUtc)).getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(first?.metadata.lockToken).toMatch(/^[0-9a-f-]{36}$/);
    await expect.poll(() => peekAll(env, 'trigger-ok')).toEqual([]);
  });

  it('hands text as a string and non-UTF-8 bytes as a Buffer', async () => {
    // Prepare
    const sender = env.client.createSender('trigger-ok');
    fixture.seen.length = 0;

    // Act
    await sender.sendMessages({ body: 'plain text' });
    await sender.sendMessages({ body: Buffer.from([0xff, 0xfe, 0x00]) });
    await expect.poll(() => fixture.seen.length).toBe(2);

    // Assess
    expect(fixture.seen.map((s): unknown => s.message)).toEqual([
      'plain text',
      Buffer.from([0xff, 0xfe, 0x00]),
    ]);
  });

  it('abandons a failing message until Service Bus dead-letters it, logging each failure', async () => {
    // Prepare
    const sender = env.client.createSender('trigger-poison');
    const dlq = env.client.createReceiver('trigger-poison', { subQueueType: 'deadLetter' });

    // Act
    await sender.sendMessages({ body: { bad: true }, messageId: 'poison-1' });
    const dead = await receiveOne(dlq, 5000);

    // Assess
    expect(fixture.failures).toEqual([1, 2, 3]);
    expect(dead).toMatchObject({ messageId: 'poison-1', deadLetterReason: 'MaxDeliveryCountExceeded' });
    const failureLines = runnerLogs.filter((l) => l.includes('poison-1') && l.includes('handler exploded'));
    expect(failureLines).toHaveLength(MAX_DELIVERIES);
    expect(env.logs.some((l) => l.includes('poison-1') && l.includes('MaxDeliveryCountExceeded'))).toBe(true);
    await dlq.completeMessage(dead);
  });

  it('runs at most maxConcurrentCalls invocations of a function at once', async () => {
    // Prepare
    const sender = env.client.createSender('trigger-slow');

    // Act
    await sender.sendMessages(Array.from({ length: 6 }, (_, i) => ({ body: i })));
    await expect.poll(() => fixture.slow.done, { timeout: 5000 }).toBe(6);

    // Assess
    expect(fixture.slow.maxRunning).toBe(MAX_CONCURRENT);
  });

  it('runs topic subscription triggers', async () => {
    // Act
    await env.client.createSender('trigger-topic').sendMessages({ body: { event: 'ended' } });

    // Assess
    await expect.poll(() => fixture.topicSeen).toEqual([{ event: 'ended' }]);
  });
});
