/**
 * How a client's settlement of a locked message maps onto the store: over the link (an AMQP outcome
 * on the delivery) or through `$management` update-disposition (for deferred messages, and when the
 * receiving link is gone). The SDK's encodings: complete = accepted; abandon = modified; defer =
 * modified with undeliverable-here; dead-letter = rejected with `com.microsoft:dead-letter` and the
 * reason in its info; `released` (which the SDK never sends) counts as abandon.
 */
import type { Delivery } from 'rhea';
import { sections, type TypedValue } from './amqp';
import { Condition, lockLostDescription } from './errors';
import type { MessageStore, Settlement } from './store';
import { asRecord, asString } from './values';

export type Outcome = 'accepted' | 'released' | 'rejected' | 'modified';

/** Applies the client's outcome for a delivery we sent in peek-lock mode and settles it for good. */
export function settleFromLink(
  delivery: Delivery,
  store: MessageStore,
  lockToken: string,
  outcome: Outcome,
): void {
  const remote = asRecord(delivery.remote_state);
  let settlement: Settlement;
  let reply: TypedValue;
  switch (outcome) {
    case 'accepted':
      settlement = { kind: 'complete' };
      reply = sections.accepted().described();
      break;
    case 'released':
      settlement = { kind: 'abandon' };
      reply = sections.released().described();
      break;
    case 'modified': {
      const properties = asRecord(remote.message_annotations);
      const undeliverableHere = remote.undeliverable_here === true;
      settlement = undeliverableHere ? { kind: 'defer', properties } : { kind: 'abandon', properties };
      reply = sections
        .modified({
          delivery_failed: remote.delivery_failed === true,
          undeliverable_here: undeliverableHere,
        })
        .described();
      break;
    }
    case 'rejected': {
      const error = asRecord(remote.error);
      const { DeadLetterReason, DeadLetterErrorDescription, ...properties } = asRecord(error.info);
      const isDeadLetter = error.condition === Condition.deadLetter;
      settlement = {
        kind: 'deadLetter',
        reason: asString(DeadLetterReason) ?? (isDeadLetter ? undefined : asString(error.condition)),
        description:
          asString(DeadLetterErrorDescription) ?? (isDeadLetter ? undefined : asString(error.description)),
        properties,
      };
      // Settle with a plain rejected outcome: echoing the client's error makes the SDK throw.
      reply = sections.rejected({}).described();
      break;
    }
  }
  const result = store.settle(lockToken, settlement);
  if (result === 'lock-lost') {
    reply = sections
      .rejected({
        error: { condition: Condition.lockLost, description: lockLostDescription(lockToken) },
      })
      .described();
  }
  delivery.update(true, reply);
  // The SDK settles in rcv-settle-mode "second" but never sends the closing disposition after
  // ours, so rhea would keep the delivery in the session's 2048-slot buffer forever and stop
  // sending once it is full. Our settlement is final: count it as settled on both sides.
  (delivery as unknown as { remote_settled: boolean }).remote_settled = true;
}

/** The settlement an update-disposition request asks for; undefined for an unknown status. */
export function settlementFromRequest(body: Record<string, unknown>): Settlement | undefined {
  const properties = asRecord(body['properties-to-modify']);
  switch (body['disposition-status']) {
    case 'completed':
      return { kind: 'complete' };
    case 'abandoned':
      return { kind: 'abandon', properties };
    case 'defered': // sic: the SDK's spelling
    case 'deferred':
      return { kind: 'defer', properties };
    case 'suspended':
      return {
        kind: 'deadLetter',
        reason: asString(body['deadletter-reason']),
        description: asString(body['deadletter-description']),
        properties,
      };
    default:
      return undefined;
  }
}
