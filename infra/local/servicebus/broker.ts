/**
 * A Service Bus–compatible AMQP 1.0 endpoint on `rhea`, for the local host (dev and CI only).
 *
 * It speaks what the real `@azure/service-bus` 7.9 SDK needs, as found by running that SDK against
 * it: CBS put-token before every attach (./cbs.ts), peek-lock and receive-and-delete links with
 * exact credit and drain handling (./dispatch.ts), settlement with explicit outcomes
 * (./settlement.ts), and the `$management` operations (./management.ts). Entities and where a sent
 * message goes are in ./entities.ts, duplicate detection in ./duplicates.ts, message rules in
 * ./store.ts, bytes in ./amqp.ts, persistence in ./persistence.ts and ./journal.ts. This class
 * composes them and wires them to rhea's events.
 *
 * Unknown entities are refused at attach with `amqp:not-found` worded like Service Bus, which the
 * SDK maps to `MessagingEntityNotFound` (not retryable, so a typo fails fast instead of retrying
 * for minutes); `ensureQueue` creates queues at run time, `ensureTopic` topics and their
 * subscriptions. Entities come from configuration only: there is no HTTP management (ATOM) API, so
 * `ServiceBusAdministrationClient` cannot create them here.
 */
import { randomBytes } from 'node:crypto';
import type { Server, Socket } from 'node:net';
import { create_container, type Connection, type Container, type EventContext } from 'rhea';
import { KEY_NAME } from './cbs';
import { newConnState, type ConnState } from './connection';
import { Dispatcher } from './dispatch';
import { Entities } from './entities';
import { describeError, guard } from './errors';
import { Links } from './links';
import { Management } from './management';
import { Persistence } from './persistence';

export type EntityConfig = { queue: string } | { topic: string; subscriptions: string[] };

export interface BrokerOptions {
  host: string;
  port: number;
  entities: EntityConfig[];
  lockDurationMs: number;
  maxDeliveryCount: number;
  /** 0 turns duplicate detection off. */
  duplicateDetectionWindowMs: number;
  dataFile: string | undefined;
  autoCreateQueues: boolean;
  log: (msg: string) => void;
}

export class ServiceBusBroker {
  readonly sharedAccessKey = randomBytes(32).toString('base64');
  private readonly container: Container;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly connections = new Set<Connection>();
  private readonly connStates = new WeakMap<Connection, ConnState>();
  private readonly persistence: Persistence;
  private readonly dispatch: Dispatcher;
  private readonly entities: Entities;
  private readonly links: Links;
  private closed = false;
  private endpointHost = '';

  constructor(private readonly options: BrokerOptions) {
    const log = options.log;
    const isClosed = (): boolean => this.closed;
    this.persistence = new Persistence(log);
    this.dispatch = new Dispatcher({
      log,
      isClosed,
      topicWaitingIn: (store) => this.entities.topicWaitingIn(store),
      persist: (store, m) => {
        this.persistence.put(store, m);
      },
    });
    this.entities = new Entities(
      options,
      {
        put: (store, m) => {
          this.persistence.put(store, m);
        },
        remove: (store, seq) => {
          this.persistence.remove(store, seq);
        },
        changed: (store) => {
          this.dispatch.markDirty(store);
        },
        deadLettered: (from, m, reason) => {
          log(
            `servicebus: ${from.name}: message ${m.messageId} (sequence ${m.seq}) dead-lettered: ${reason}`,
          );
        },
      },
      this.persistence,
    );
    const durable = (): Promise<void> => this.persistence.durable();
    this.links = new Links({
      entities: this.entities,
      dispatch: this.dispatch,
      management: new Management({ durable, isClosed, log }),
      sharedAccessKey: this.sharedAccessKey,
      durable,
      isClosed,
      endpointHost: () => this.endpointHost,
      log,
    });
    for (const e of options.entities) {
      if ('queue' in e) this.ensureQueue(e.queue);
      else this.ensureTopic(e.topic, e.subscriptions);
    }
    this.container = create_container({ id: 'local-host-servicebus' });
    this.wire();
  }

  get port(): number {
    const address = this.server?.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  get connectionString(): string {
    return (
      `Endpoint=sb://${this.endpointHost};SharedAccessKeyName=${KEY_NAME};` +
      `SharedAccessKey=${this.sharedAccessKey};UseDevelopmentEmulator=true`
    );
  }

  async start(): Promise<void> {
    if (this.options.dataFile !== undefined)
      await this.persistence.open(this.options.dataFile, this.entities);
    // Settlement is ours to decide (after the journal write), and abandon must stay `modified`.
    const listenOptions = {
      host: this.options.host,
      port: this.options.port,
      autoaccept: false,
      treat_modified_as_released: false,
      // Without it Nagle's algorithm holds small frames back ~40 ms behind the client's delayed ACK.
      tcp_no_delay: true,
    };
    const server = this.container.listen(listenOptions);
    this.server = server;
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      if (server.listening) resolve();
      server.once('listening', () => {
        resolve();
      });
      server.once('error', reject);
    });
    server.on('error', (e) => {
      this.options.log(`servicebus: server error: ${e.message}`);
    });
    this.endpointHost = `${this.options.host}:${this.port}`;
    this.options.log(`servicebus: listening on ${this.endpointHost} (loopback, development only)`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.dispatch.stop();
    for (const c of this.connections) {
      try {
        c.close();
      } catch {
        // The socket may already be gone; it is destroyed below either way.
      }
    }
    const server = this.server;
    if (server) {
      const closedServer = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of this.sockets) s.destroy();
      await closedServer;
    }
    await this.persistence.close();
  }

  ensureQueue(name: string): void {
    this.entities.ensureQueue(name);
  }

  /** Creates a topic and any of its subscriptions that do not exist yet. */
  ensureTopic(name: string, subscriptions: string[]): void {
    this.entities.ensureTopic(name, subscriptions);
  }

  private wire(): void {
    this.on('connection_open', (ctx: EventContext) => {
      this.connections.add(ctx.connection);
    });
    const dropConnection = (ctx: EventContext): void => {
      this.connections.delete(ctx.connection);
      const state = this.connStates.get(ctx.connection);
      if (!state) return;
      for (const consumer of state.consumers) this.dispatch.removeConsumer(consumer);
    };
    this.on('connection_close', dropConnection);
    this.on('disconnected', dropConnection);
    this.on('receiver_open', (ctx: EventContext) => {
      if (ctx.receiver) this.links.onReceiverOpen(ctx.receiver, this.conn(ctx.connection));
    });
    this.on('sender_open', (ctx: EventContext) => {
      if (ctx.sender) this.links.onSenderOpen(ctx.sender, this.conn(ctx.connection));
    });
    this.on('message', (ctx: EventContext) => {
      this.links.onMessage(ctx, this.conn(ctx.connection));
    });
    this.on('sender_flow', (ctx: EventContext) => {
      if (ctx.sender) this.dispatch.onFlow(ctx.sender);
    });
    this.on('sender_draining', (ctx: EventContext) => {
      if (ctx.sender) this.dispatch.onDraining(ctx.sender);
    });
    for (const outcome of ['accepted', 'released', 'rejected', 'modified'] as const) {
      this.on(outcome, (ctx: EventContext) => {
        if (ctx.delivery) this.dispatch.onOutcome(ctx.delivery, outcome);
      });
    }
    this.on('sender_close', (ctx: EventContext) => {
      if (ctx.sender) this.dispatch.onClose(ctx.sender);
    });
    for (const event of [
      'error',
      'connection_error',
      'protocol_error',
      'session_error',
      'sender_error',
      'receiver_error',
    ]) {
      this.container.on(event, (ctx: EventContext | Error) => {
        const err = ctx instanceof Error ? ctx : (ctx.error ?? ctx.connection.error);
        if (err) this.options.log(`servicebus: ${event}: ${describeError(err)}`);
      });
    }
  }

  /** Handles a rhea event; an exception must not escape into rhea's socket handling. */
  private on(event: string, handler: (ctx: EventContext) => void): void {
    this.container.on(event, (ctx: EventContext) => {
      guard(this.options.log, event, () => {
        handler(ctx);
      });
    });
  }

  private conn(connection: Connection): ConnState {
    let state = this.connStates.get(connection);
    if (!state) {
      state = newConnState();
      this.connStates.set(connection, state);
    }
    return state;
  }
}
