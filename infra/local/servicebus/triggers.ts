/**
 * Runs the app's Service Bus triggers (`app.serviceBusQueue` / `app.serviceBusTopic`) the way the
 * Functions host does: one peek-lock receiver per function through the real `@azure/service-bus`
 * SDK, each message handed to the function as the worker would (body as text or bytes, trigger
 * metadata as typed data), completed on success, abandoned on failure so Service Bus redelivers it
 * and, at its maximum delivery count, dead-letters it.
 */
import {
  RetryMode,
  ServiceBusClient,
  type ProcessErrorArgs,
  type ServiceBusReceivedMessage,
  type ServiceBusReceiver,
} from '@azure/service-bus';
import { z } from 'zod';
import type { FunctionRegistry, RegisteredFunction, RpcTypedData } from '../core/functions-core';
import type { EntityConfig } from './broker';

export interface ServiceBusTriggersOptions {
  registry: FunctionRegistry;
  /** App setting name (the trigger's `connection`) → connection string. */
  resolveConnection: (connectionSettingName: string) => string;
  log: (msg: string) => void;
  /** host.json `extensions.serviceBus.maxConcurrentCalls`, per function. Default 16. */
  maxConcurrentCalls?: number;
  /** host.json `extensions.serviceBus.autoCompleteMessages`. Default true. */
  autoCompleteMessages?: boolean;
}

/** The binding metadata `@azure/functions` registers for a Service Bus trigger. */
const ServiceBusTriggerBinding = z.object({
  connection: z.string().min(1),
  queueName: z.string().min(1).optional(),
  topicName: z.string().min(1).optional(),
  subscriptionName: z.string().min(1).optional(),
  isSessionsEnabled: z.boolean().optional(),
  cardinality: z.enum(['one', 'many']).optional(),
  autoCompleteMessages: z.boolean().optional(),
  dataType: z.string().optional(),
});
type ServiceBusTriggerBinding = z.infer<typeof ServiceBusTriggerBinding>;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The trigger value as the host hands it to the worker: the body as text when it is UTF-8 (the
 * library then JSON-parses it when it can, so a JSON body arrives as an object), as bytes when it is
 * not or when the binding asks for `dataType: 'binary'`.
 */
export function toTriggerData(body: unknown, binary: boolean): RpcTypedData {
  if (Buffer.isBuffer(body) || body instanceof Uint8Array) {
    const bytes = Buffer.from(body);
    if (binary) return { bytes };
    try {
      return { string: strictUtf8.decode(bytes) };
    } catch {
      return { bytes };
    }
  }
  if (typeof body === 'string') return binary ? { bytes: Buffer.from(body, 'utf8') } : { string: body };
  return { json: JSON.stringify(body ?? null) };
}

/**
 * Trigger metadata with the host's names (the library camel-cases them: `MessageId` → `messageId`).
 * Values go as JSON so their types survive (a string `messageId` of "123" stays a string).
 */
export function toTriggerMetadata(message: ServiceBusReceivedMessage): Record<string, RpcTypedData> {
  const properties = message.applicationProperties ?? {};
  const values: Record<string, unknown> = {
    MessageId: message.messageId,
    // The host reads messages with the .NET SDK, which counts the current delivery (first = 1);
    // the JS SDK counts earlier ones (first = 0).
    DeliveryCount: message.deliveryCount === undefined ? undefined : message.deliveryCount + 1,
    EnqueuedTimeUtc: message.enqueuedTimeUtc,
    ExpiresAtUtc: message.expiresAtUtc,
    SequenceNumber: message.sequenceNumber?.toNumber(),
    ContentType: message.contentType,
    CorrelationId: message.correlationId,
    Subject: message.subject,
    Label: message.subject,
    To: message.to,
    ReplyTo: message.replyTo,
    SessionId: message.sessionId,
    PartitionKey: message.partitionKey,
    LockToken: message.lockToken,
    DeadLetterSource: message.deadLetterSource,
    ApplicationProperties: properties,
    UserProperties: properties,
  };
  const out: Record<string, RpcTypedData> = {};
  for (const [key, value] of Object.entries(values)) {
    if (value !== undefined && value !== null) out[key] = { json: JSON.stringify(value) };
  }
  return out;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

interface Listener {
  receiver: ServiceBusReceiver;
  close(): Promise<void>;
}

export async function startServiceBusTriggers(
  options: ServiceBusTriggersOptions,
): Promise<{ close(): Promise<void> }> {
  const { registry, log } = options;
  const maxConcurrentCalls = options.maxConcurrentCalls ?? 16;
  const clients = new Map<string, ServiceBusClient>();
  const listeners: Listener[] = [];
  const inFlight = new Set<Promise<void>>();

  const clientFor = (fn: RegisteredFunction, setting: string): ServiceBusClient => {
    const connectionString = options.resolveConnection(setting);
    if (!/(^|;)\s*Endpoint=/i.test(connectionString)) {
      throw new Error(
        `Service Bus trigger of function "${fn.metadata.name}": app setting "${setting}" must hold a ` +
          'connection string (identity-based connections are not supported locally).',
      );
    }
    let client = clients.get(connectionString);
    if (!client) {
      // Quick retries: locally a failure is a restart or a typo, not a throttled namespace.
      client = new ServiceBusClient(connectionString, {
        retryOptions: { mode: RetryMode.Exponential, retryDelayInMs: 500, maxRetryDelayInMs: 5000 },
      });
      clients.set(connectionString, client);
    }
    return client;
  };

  const closeAll = async (): Promise<void> => {
    await Promise.all(listeners.map((l) => l.close()));
    await Promise.all([...inFlight]);
    await Promise.all(listeners.map((l) => l.receiver.close()));
    await Promise.all([...clients.values()].map((c) => c.close()));
  };

  try {
    for (const fn of registry.byTrigger('serviceBusTrigger')) {
      const binding = parseBinding(fn);
      const client = clientFor(fn, binding.connection);
      const receiver = binding.queueName
        ? client.createReceiver(binding.queueName, { receiveMode: 'peekLock', skipParsingBodyAsJson: true })
        : client.createReceiver(binding.topicName ?? '', binding.subscriptionName ?? '', {
            receiveMode: 'peekLock',
            skipParsingBodyAsJson: true,
          });
      const autoComplete = binding.autoCompleteMessages ?? options.autoCompleteMessages ?? true;
      const binary = binding.dataType === 'binary';
      const entity =
        binding.queueName ?? `${binding.topicName ?? ''}/Subscriptions/${binding.subscriptionName ?? ''}`;
      const name = fn.metadata.name;

      const processMessage = async (message: ServiceBusReceivedMessage): Promise<void> => {
        const attempt = message.deliveryCount === undefined ? 1 : message.deliveryCount + 1;
        try {
          await registry.invoke(
            fn,
            [{ name: fn.triggerName, data: toTriggerData(message.body, binary) }],
            toTriggerMetadata(message),
          );
        } catch (e) {
          log(
            `servicebus trigger ${name}: message ${String(message.messageId)} on ${entity} failed ` +
              `(delivery ${attempt}): ${errorText(e)}; abandoned for redelivery`,
          );
          try {
            await receiver.abandonMessage(message);
          } catch (abandonError) {
            log(`servicebus trigger ${name}: abandon failed: ${errorText(abandonError)}`);
          }
          return;
        }
        if (!autoComplete) return;
        try {
          await receiver.completeMessage(message);
        } catch (e) {
          log(
            `servicebus trigger ${name}: complete failed (the message will be redelivered): ${errorText(e)}`,
          );
        }
      };

      const subscription = receiver.subscribe(
        {
          processMessage: (message) => {
            const run = processMessage(message);
            inFlight.add(run);
            return run.finally(() => inFlight.delete(run));
          },
          processError: (args: ProcessErrorArgs) => {
            log(
              `servicebus trigger ${name}: ${args.errorSource} error on ${args.entityPath}: ${errorText(args.error)}`,
            );
            return Promise.resolve();
          },
        },
        { autoCompleteMessages: false, maxConcurrentCalls },
      );
      listeners.push({ receiver, close: () => subscription.close() });
      log(`servicebus trigger ${name}: listening on ${entity}`);
    }
  } catch (e) {
    await closeAll();
    throw e;
  }

  let closing: Promise<void> | undefined;
  return {
    close: () => (closing ??= closeAll()),
  };
}

/**
 * The queues and topic subscriptions the app's Service Bus triggers listen on, so the local host
 * can create them (with `ensureQueue` / `ensureTopic`) before starting the triggers.
 */
export function serviceBusEntities(registry: FunctionRegistry): EntityConfig[] {
  const queues = new Set<string>();
  const topics = new Map<string, Set<string>>();
  for (const fn of registry.byTrigger('serviceBusTrigger')) {
    const b = parseBinding(fn);
    if (b.queueName) queues.add(b.queueName);
    else if (b.topicName && b.subscriptionName) {
      const subs = topics.get(b.topicName) ?? new Set<string>();
      subs.add(b.subscriptionName);
      topics.set(b.topicName, subs);
    }
  }
  return [
    ...[...queues].map((queue) => ({ queue })),
    ...[...topics].map(([topic, subs]) => ({ topic, subscriptions: [...subs] })),
  ];
}

function parseBinding(fn: RegisteredFunction): ServiceBusTriggerBinding {
  const parsed = ServiceBusTriggerBinding.safeParse(fn.trigger);
  if (!parsed.success) {
    throw new Error(
      `Service Bus trigger of function "${fn.metadata.name}" is invalid: ${parsed.error.message}`,
    );
  }
  const b = parsed.data;
  if (!b.queueName && !(b.topicName && b.subscriptionName)) {
    throw new Error(
      `Service Bus trigger of function "${fn.metadata.name}" needs queueName or topicName + subscriptionName.`,
    );
  }
  if (b.isSessionsEnabled === true) {
    throw new Error(
      `Function "${fn.metadata.name}": session-enabled Service Bus triggers are not supported locally.`,
    );
  }
  if (b.cardinality === 'many') {
    throw new Error(
      `Function "${fn.metadata.name}": Service Bus triggers with cardinality "many" are not supported locally.`,
    );
  }
  return b;
}
