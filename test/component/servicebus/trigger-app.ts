/**
 * A small app whose Service Bus triggers exercise the local trigger runner: one that records what
 * it receives, one that always throws, one that is slow (to observe concurrency), one on a topic.
 */
import { app, type InvocationContext } from '@azure/functions';

export const CONNECTION = 'TestServiceBus';

export interface Seen {
  message: unknown;
  metadata: Record<string, unknown>;
}

export const seen: Seen[] = [];
export const topicSeen: unknown[] = [];
export const failures: number[] = [];
export const slow = { running: 0, maxRunning: 0, done: 0 };

app.serviceBusQueue('recordMessage', {
  connection: CONNECTION,
  queueName: 'trigger-ok',
  handler: (message: unknown, context: InvocationContext) => {
    seen.push({ message, metadata: context.triggerMetadata ?? {} });
  },
});

app.serviceBusQueue('alwaysFails', {
  connection: CONNECTION,
  queueName: 'trigger-poison',
  handler: (_message: unknown, context: InvocationContext) => {
    failures.push(Number(context.triggerMetadata?.deliveryCount));
    throw new Error('handler exploded');
  },
});

app.serviceBusQueue('slowWork', {
  connection: CONNECTION,
  queueName: 'trigger-slow',
  handler: async () => {
    slow.running++;
    slow.maxRunning = Math.max(slow.maxRunning, slow.running);
    await new Promise((resolve) => setTimeout(resolve, 100));
    slow.running--;
    slow.done++;
  },
});

app.serviceBusTopic('onEvent', {
  connection: CONNECTION,
  topicName: 'trigger-topic',
  subscriptionName: 'worker',
  handler: (message: unknown) => {
    topicSeen.push(message);
  },
});
