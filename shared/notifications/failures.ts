/**
 * What the Service Bus senders (`sendEmail`, `sendTeams`) share when a message fails: the delivery
 * attempt the host counts, the reason in one line, and, at the queue's last delivery, the dead
 * letter said in the log and audited with its request, where the cause is still known.
 */
import type { InvocationContext } from '@azure/functions';
import { AuditAction, SYSTEM_ACTOR } from '#shared/audit/types';
import { record } from '#shared/telemetry/metrics';
import { auditQuietly } from './audit';

export function reasonOf(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** The delivery attempt of this invocation, as the Functions host counts it (first = 1). */
export function deliveryOf(context: InvocationContext): number {
  const n = Number(context.triggerMetadata?.deliveryCount);
  return Number.isInteger(n) && n > 0 ? n : 1;
}

/** The Service Bus message id of this invocation, or `?`. */
export function messageIdOf(context: InvocationContext): string {
  const id = context.triggerMetadata?.messageId;
  return typeof id === 'string' ? id : '?';
}

/** The request id of a message that may not have parsed, for the audit. */
export function requestIdOf(message: unknown): string | undefined {
  if (
    typeof message === 'object' &&
    message !== null &&
    'requestId' in message &&
    typeof message.requestId === 'string'
  ) {
    return message.requestId.slice(0, 64);
  }
  return undefined;
}

/**
 * A sender's message failed on this delivery: says so (an error when `loud`, or at the last
 * delivery), and at the queue's maximum delivery count, after which Service Bus dead-letters it
 * (MaxDeliveryCountExceeded), counts it and audits NotificationFailed with its request. The caller
 * rethrows, so that Service Bus retries or dead-letters the message.
 */
export async function failedDelivery(args: {
  context: InvocationContext;
  channel: 'email' | 'teams';
  message: unknown;
  error: unknown;
  max: number;
  loud?: boolean;
}): Promise<void> {
  const { context, channel, message, error, max } = args;
  const delivery = deliveryOf(context);
  const messageId = messageIdOf(context);
  const reason = reasonOf(error);
  if (delivery < max) {
    const log = args.loud === true ? context.error.bind(context) : context.warn.bind(context);
    log(`${channel} ${messageId} failed (delivery ${delivery} of ${max}), Service Bus will retry: ${reason}`);
    return;
  }
  record.notification('deadLettered', channel);
  context.error(
    `${channel} ${messageId} failed for good (delivery ${delivery} of ${max}); it goes to the dead-letter queue: ${reason}`,
  );
  await auditQuietly(
    {
      action: AuditAction.NotificationFailed,
      actor: SYSTEM_ACTOR,
      outcome: 'failure',
      requestId: requestIdOf(message),
      reason: `${channel}: ${reason}`.slice(0, 1000),
      detail: { notificationId: messageId, stage: channel, delivery },
    },
    (text) => context.warn(text),
  );
}

/**
 * How often, and after how long, a failed Teams publish is tried again in this activity: a storage
 * or Service Bus blip passes in a second or two, and the orchestration's own retry of `notify` is
 * the emails' (which a Teams failure must not repeat).
 */
export const TEAMS_PUBLISH_RETRY = { attempts: 3, firstDelayMs: 250 } as const;

/**
 * Runs `publish`, again after 250 ms then 500 ms while it fails (TEAMS_PUBLISH_RETRY); the last
 * failure is thrown.
 */
export async function withTeamsRetry<T>(
  publish: () => Promise<T>,
  onRetry: (attempt: number, e: unknown) => void,
  wait: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await publish();
    } catch (e) {
      if (attempt >= TEAMS_PUBLISH_RETRY.attempts) throw e;
      onRetry(attempt, e);
      await wait(TEAMS_PUBLISH_RETRY.firstDelayMs * 2 ** (attempt - 1));
    }
  }
}
