/**
 * The local Service Bus: an AMQP 1.0 endpoint that the real `@azure/service-bus` SDK (and so the
 * app and its Service Bus triggers) talks to unchanged. Development and CI only: loopback, one
 * random key per start, in memory unless `dataFile` is given.
 */
import { ServiceBusBroker, type EntityConfig } from './broker';

export type { EntityConfig } from './broker';

export interface ServiceBusOptions {
  /** Loopback only. */
  host?: '127.0.0.1';
  /** 0 (default) picks a free port. */
  port?: number;
  entities: EntityConfig[];
  /** Peek-lock duration. Default 30 s. */
  lockDurationMs?: number;
  /** Deliveries before a message is dead-lettered. Default 10. */
  maxDeliveryCount?: number;
  /**
   * Unknown entities are refused (the SDK raises `MessagingEntityNotFound`) unless this is true:
   * then a queue is created the first time a client attaches to it. Default false.
   */
  autoCreateQueues?: boolean;
  /** Window in which a repeated messageId is dropped. Default 10 min; 0 turns detection off. */
  duplicateDetectionWindowMs?: number;
  /**
   * Journal file: messages (and scheduled messages, and duplicate-detection history) survive a
   * restart. A send is acknowledged only once it is on disk. Locks do not survive: a message that
   * was locked is available again after a restart, with its delivery count unchanged.
   */
  dataFile?: string;
  log?: (msg: string) => void;
}

export interface ServiceBusHandle {
  /** `Endpoint=sb://127.0.0.1:<port>;…;UseDevelopmentEmulator=true` with this run's key. */
  connectionString: string;
  port: number;
  close(): Promise<void>;
  /** Creates a queue (and its dead-letter queue) if it does not exist yet. */
  ensureQueue(name: string): void;
  /** Creates a topic and those of its subscriptions that do not exist yet. */
  ensureTopic(name: string, subscriptions: string[]): void;
}

export async function startServiceBus(options: ServiceBusOptions): Promise<ServiceBusHandle> {
  const broker = new ServiceBusBroker({
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    entities: options.entities,
    lockDurationMs: positive(options.lockDurationMs ?? 30_000, 'lockDurationMs'),
    maxDeliveryCount: positive(options.maxDeliveryCount ?? 10, 'maxDeliveryCount'),
    duplicateDetectionWindowMs: Math.max(0, options.duplicateDetectionWindowMs ?? 10 * 60_000),
    dataFile: options.dataFile,
    autoCreateQueues: options.autoCreateQueues ?? false,
    log: options.log ?? (() => undefined),
  });
  try {
    await broker.start();
  } catch (e) {
    await broker.close();
    throw e;
  }
  return {
    connectionString: broker.connectionString,
    port: broker.port,
    close: () => broker.close(),
    ensureQueue: (name) => {
      broker.ensureQueue(name);
    },
    ensureTopic: (name, subscriptions) => {
      broker.ensureTopic(name, subscriptions);
    },
  };
}

function positive(n: number, name: string): number {
  if (!Number.isFinite(n) || n < 1) throw new Error(`${name} must be a positive number (got ${n}).`);
  return n;
}
