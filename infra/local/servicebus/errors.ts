/**
 * The error conditions the SDK maps to its typed errors (MessageLockLost, MessageNotFound, …), and
 * the guard that keeps our exceptions out of rhea. Conditions must be exact: the SDK turns an
 * unexpected one into a different error, often a retryable one that it retries 3 times, 30 s apart.
 */
import { asRecord, asString } from './values';

export const Condition = {
  notFound: 'amqp:not-found',
  notAllowed: 'amqp:not-allowed',
  notImplemented: 'amqp:not-implemented',
  unauthorized: 'amqp:unauthorized-access',
  internal: 'amqp:internal-error',
  decode: 'amqp:decode-error',
  lockLost: 'com.microsoft:message-lock-lost',
  messageNotFound: 'com.microsoft:message-not-found',
  deadLetter: 'com.microsoft:dead-letter',
} as const;

export function lockLostDescription(token: string): string {
  return `The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue. Reference: ${token}`;
}

export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message;
  const r = asRecord(e);
  const description = asString(r.description) ?? asString(r.message);
  const condition = asString(r.condition);
  if (description !== undefined || condition !== undefined)
    return `${condition ?? ''} ${description ?? ''}`.trim();
  return String(e);
}

/** Runs `fn` for rhea or a timer: an exception must not escape into rhea's socket handling. */
export function guard(log: (msg: string) => void, what: string, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    log(`servicebus: ${what} failed: ${describeError(e)}`);
  }
}
