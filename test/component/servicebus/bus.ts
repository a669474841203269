/**
 * Starts the local Service Bus on a free loopback port with a real `@azure/service-bus` client.
 * The client never retries: a broker mistake fails the test at once instead of after the SDK's
 * 30-second retry delays.
 */
import {
  ServiceBusClient,
  type ServiceBusReceivedMessage,
  type ServiceBusReceiver,
} from '@azure/service-bus';
import { startServiceBus, type ServiceBusHandle, type ServiceBusOptions } from '@zsa/local-host/servicebus';

export interface TestBus {
  bus: ServiceBusHandle;
  client: ServiceBusClient;
  logs: string[];
  close(): Promise<void>;
}

export async function startTestBus(options: ServiceBusOptions): Promise<TestBus> {
  const logs: string[] = [];
  const bus = await startServiceBus({ log: (m) => logs.push(m), ...options });
  const client = newClient(bus.connectionString);
  return {
    bus,
    client,
    logs,
    close: async () => {
      await client.close();
      await bus.close();
    },
  };
}

export function newClient(connectionString: string): ServiceBusClient {
  return new ServiceBusClient(connectionString, { retryOptions: { maxRetries: 0, timeoutInMs: 10_000 } });
}

/** Receives exactly one message or fails. */
export async function receiveOne(
  receiver: ServiceBusReceiver,
  maxWaitTimeInMs = 3000,
): Promise<ServiceBusReceivedMessage> {
  const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs });
  if (!message) throw new Error(`No message on ${receiver.entityPath} within ${maxWaitTimeInMs} ms.`);
  return message;
}

/** The error code the SDK gives a rejected promise (`MessageLockLost`, `MessagingEntityNotFound`, …). */
export async function errorCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (e) {
    return typeof e === 'object' && e !== null && 'code' in e ? String(e.code) : String(e);
  }
  throw new Error('Expected the operation to fail.');
}

/**
 * Everything still in an entity, whatever its state. A fresh client each time: the SDK remembers
 * the last sequence number it peeked per entity and continues from there.
 */
export async function peekAll(
  env: TestBus,
  queue: string,
  subQueueType?: 'deadLetter',
): Promise<ServiceBusReceivedMessage[]> {
  const client = newClient(env.bus.connectionString);
  try {
    const receiver = subQueueType
      ? client.createReceiver(queue, { subQueueType })
      : client.createReceiver(queue);
    return await receiver.peekMessages(100);
  } finally {
    await client.close();
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
