/**
 * The notification publisher: sends notifications to Service Bus as they are made (unlike the
 * request row's audit outbox, nothing waits anywhere to be sent later). JSON bodies, the message id
 * as Service Bus messageId (duplicate detection drops a re-published one), the event as subject and
 * application properties so other subscribers can filter without parsing. Every call is bounded in
 * time: a slow bus must not hold the orchestration that waits for `notify`.
 */
import type { ServiceBusMessage, ServiceBusSender } from '@azure/service-bus';
import Long from 'long';
import { traceHeaders } from '#shared/telemetry/spans';
import type { NotificationMessage } from './messages';

export interface Publisher {
  publish(messages: readonly NotificationMessage[]): Promise<void>;
  /** Schedules `message` for `at`; answers its sequence numbers (decimal strings). */
  schedule(message: NotificationMessage, at: Date): Promise<string[]>;
  /** Cancels scheduled messages; ones already delivered or canceled are ignored. */
  cancel(sequenceNumbers: readonly string[]): Promise<void>;
}

/** Each Service Bus operation gives up after this long (the SDK's own default is a minute, retried). */
export const BUS_TIMEOUT_MS = 10_000;

export function toServiceBusMessage(message: NotificationMessage): ServiceBusMessage {
  return {
    messageId: message.id,
    body: message,
    contentType: 'application/json',
    subject: message.event,
    applicationProperties: {
      schema: message.schema,
      version: message.version,
      event: message.event,
      requestId: message.requestId,
      // W3C trace context (telemetry on): the email's `zsa.email.send` joins the request's trace.
      ...traceHeaders(),
    },
  };
}

export function serviceBusPublisher(sender: () => ServiceBusSender): Publisher {
  const bounded = () => ({ abortSignal: AbortSignal.timeout(BUS_TIMEOUT_MS) });
  return {
    async publish(messages) {
      const s = sender();
      let batch = await s.createMessageBatch(bounded());
      for (const m of messages) {
        const sb = toServiceBusMessage(m);
        if (batch.tryAddMessage(sb)) continue;
        if (batch.count === 0)
          throw new Error(`notification ${m.id} is larger than a Service Bus message may be`);
        await s.sendMessages(batch, bounded());
        batch = await s.createMessageBatch(bounded());
        if (!batch.tryAddMessage(sb))
          throw new Error(`notification ${m.id} is larger than a Service Bus message may be`);
      }
      if (batch.count > 0) await s.sendMessages(batch, bounded());
    },
    async schedule(message, at) {
      const seqs = await sender().scheduleMessages(toServiceBusMessage(message), at, bounded());
      return seqs.map((n) => n.toString());
    },
    async cancel(sequenceNumbers) {
      if (sequenceNumbers.length === 0) return;
      try {
        await sender().cancelScheduledMessages(
          sequenceNumbers.map((n) => Long.fromString(n)),
          bounded(),
        );
      } catch (e) {
        // Already enqueued (the notice went out) or already canceled: nothing left to cancel.
        if (e instanceof Error && 'code' in e && e.code === 'MessageNotFound') return;
        throw e;
      }
    },
  };
}
