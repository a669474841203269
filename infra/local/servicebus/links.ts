/**
 * Link attach and what arrives on the links: decides what each link a client attaches is for
 * (`$cbs`, an entity's `$management` node, sending to a queue or topic, receiving from a queue-like
 * entity), refuses the rest with the conditions and wording the SDK maps to its typed errors, and
 * hands each incoming transfer to its concern.
 */
import type { Delivery, EventContext, Receiver, Sender } from 'rhea';
import { inspectIncoming, sections, unpackBatch, type TypedValue } from './amqp';
import { NOT_AUTHORIZED, mayAttach, onPutToken } from './cbs';
import type { ConnState } from './connection';
import type { Dispatcher } from './dispatch';
import type { Entities, Node, QueueNode, TopicNode } from './entities';
import { Condition, describeError, guard } from './errors';
import type { Management } from './management';
import { internals } from './rhea-internals';
import { addressOf, asRecord, echoTermini } from './values';

/**
 * Standard tier's message size limit. Our attach must state one: without it the SDK cannot size a
 * batch (`createMessageBatch().maxSizeInBytes` is null) and every send of a batch or array fails.
 */
const MAX_MESSAGE_SIZE = 256 * 1024;
/** The message format of a batch: one data section per message, each a whole encoded message. */
const BATCH_FORMAT = 0x80013700;

type InRole =
  { kind: 'cbs' } | { kind: 'management'; node: Node } | { kind: 'entity'; node: QueueNode | TopicNode };

export interface LinkDeps {
  entities: Entities;
  dispatch: Dispatcher;
  management: Management;
  sharedAccessKey: string;
  /** Resolves once everything changed so far is on disk. */
  durable: () => Promise<void>;
  isClosed: () => boolean;
  /** `host:port` as clients address us. */
  endpointHost: () => string;
  log: (msg: string) => void;
}

export class Links {
  private readonly inRoles = new WeakMap<Receiver, InRole>();

  constructor(private readonly deps: LinkDeps) {}

  /** The client attached a sending link: we receive on it. */
  onReceiverOpen(receiver: Receiver, state: ConnState): void {
    const address = addressOf(receiver.target);
    echoTermini(receiver);
    internals(receiver).local.attach.max_message_size = MAX_MESSAGE_SIZE;
    if (address === '$cbs') {
      this.inRoles.set(receiver, { kind: 'cbs' });
      return;
    }
    if (!mayAttach(state, address)) {
      this.refuse(receiver, Condition.unauthorized, NOT_AUTHORIZED);
      return;
    }
    const managed = address?.match(/^(.*)\/\$management$/i);
    if (managed) {
      const node = this.deps.entities.resolve(managed[1]);
      if (!node) this.refuse(receiver, Condition.notFound, this.notFound(managed[1]));
      else this.inRoles.set(receiver, { kind: 'management', node });
      return;
    }
    const node = this.deps.entities.resolve(address);
    if (!node) this.refuse(receiver, Condition.notFound, this.notFound(address));
    else if (node.kind === 'subqueue') {
      this.refuse(
        receiver,
        Condition.notAllowed,
        `Cannot send to '${node.name}': send to its queue or topic.`,
      );
    } else this.inRoles.set(receiver, { kind: 'entity', node });
  }

  /** The client attached a receiving link: we send on it (replies, or an entity's messages). */
  onSenderOpen(sender: Sender, state: ConnState): void {
    const address = addressOf(sender.source);
    const replyTo = addressOf(sender.target);
    echoTermini(sender);
    if (!mayAttach(state, address)) {
      this.refuse(sender, Condition.unauthorized, NOT_AUTHORIZED);
      return;
    }
    if (address === '$cbs' || /\/\$management$/i.test(address ?? '')) {
      state.replyLinks.set(sender.name, sender);
      if (replyTo) state.replyLinks.set(replyTo, sender);
      return;
    }
    const node = this.deps.entities.resolve(address);
    if (!node) {
      this.refuse(sender, Condition.notFound, this.notFound(address));
      return;
    }
    if (node.kind === 'topic') {
      this.refuse(
        sender,
        Condition.notAllowed,
        `Cannot receive from topic '${node.name}': use a subscription.`,
      );
      return;
    }
    const filter = asRecord(asRecord(sender.source).filter);
    if ('com.microsoft:session-filter' in filter) {
      this.refuse(sender, Condition.notImplemented, 'Sessions are not supported by the local Service Bus.');
      return;
    }
    this.deps.dispatch.addConsumer(sender, node.store, state.consumers);
  }

  onMessage(ctx: EventContext, state: ConnState): void {
    const receiver = ctx.receiver;
    const delivery = ctx.delivery;
    if (!receiver || !delivery) return;
    const role = this.inRoles.get(receiver);
    if (!role) {
      delivery.update(
        true,
        sections
          .rejected({ error: { condition: Condition.notAllowed, description: 'Unexpected link.' } })
          .described(),
      );
      return;
    }
    const format = (ctx as EventContext & { format?: number }).format ?? 0;
    switch (role.kind) {
      case 'cbs':
        delivery.update(true, sections.accepted().described());
        onPutToken(state, ctx.message, this.deps.sharedAccessKey, this.deps.log);
        return;
      case 'management':
        delivery.update(true, sections.accepted().described());
        this.deps.management.onRequest(role.node, state, ctx.message).catch((e: unknown) => {
          this.deps.log(`servicebus: $management request failed: ${describeError(e)}`);
        });
        return;
      case 'entity':
        this.onSend(role.node, delivery, ctx.message, format);
        return;
    }
  }

  private onSend(node: QueueNode | TopicNode, delivery: Delivery, message: unknown, format: number): void {
    let parts: Buffer[];
    try {
      if (format === 0) parts = [sections.encode(message)];
      else if (format === BATCH_FORMAT && Buffer.isBuffer(message)) parts = unpackBatch(message);
      else throw new Error(`unsupported message format ${format}`);
      const now = Date.now();
      const incoming = parts.map(inspectIncoming);
      for (const m of incoming) this.deps.entities.enqueue(node, m, now);
    } catch (e) {
      delivery.update(
        true,
        sections
          .rejected({ error: { condition: Condition.decode, description: describeError(e) } })
          .described(),
      );
      return;
    }
    // Acknowledge only once the message is on disk (when persisting).
    const settle = (outcome: TypedValue): void => {
      if (!this.deps.isClosed())
        guard(this.deps.log, 'send acknowledgement', () => {
          delivery.update(true, outcome);
        });
    };
    this.deps.durable().then(
      () => {
        settle(sections.accepted().described());
      },
      (e: unknown) => {
        settle(
          sections
            .rejected({ error: { condition: Condition.internal, description: describeError(e) } })
            .described(),
        );
      },
    );
  }

  private refuse(link: Sender | Receiver, condition: string, description: string): void {
    this.deps.log(`servicebus: refused link "${link.name}": ${description}`);
    link.close({ condition, description });
  }

  private notFound(address: string | undefined): string {
    // The SDK maps amqp:not-found to its non-retryable MessagingEntityNotFound only when the
    // description reads "The messaging entity … could not be found"; otherwise it retries for minutes.
    return (
      `The messaging entity 'sb://${this.deps.endpointHost()}/${address ?? ''}' could not be found. ` +
      'To know more visit https://aka.ms/sbResourceMgrExceptions.'
    );
  }
}
