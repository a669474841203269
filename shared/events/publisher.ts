/**
 * Publishes lifecycle events on the Service Bus topic, from the audit: the audit log is wrapped so
 * that once a lifecycle event is appended (and only then), its event is queued for the topic, with
 * the audit event's id as the messageId. Every lifecycle event passes through the audit once per
 * transition (its outbox may append it again after a crash, with the same id), so the stream has
 * every event the audit has, and a repeat carries the id Service Bus duplicate detection drops.
 *
 * The story that recorded the event does not wait for the topic at all: sending is off its
 * critical path (a send is a round trip, and a submit would pay one per event). One send at a time
 * per process, in the order the events were recorded, each bounded by `timeoutMs`; a send that fails
 * or times out is retried (backing off) before anything newer. What this does not survive: the
 * process ending while events wait (normally a few milliseconds; longer while the topic is down).
 * So delivery is best effort, at least once while the process lives; the audit log stays the record
 * to reconcile against (same ids).
 */
import type { ServiceBusMessage } from '@azure/service-bus';
import type { AuditEventInput, AuditSink } from '#shared/audit/types';
import type { Target } from '#shared/domain/catalog';
import { isLifecycleAction, lifecycleEventOf, needsTargetLookup, type LifecycleEvent } from './lifecycle';

export interface EventStreamOptions {
  /** Sends the messages to the topic, in order, giving up when `signal` aborts. */
  send(messages: ServiceBusMessage[], signal: AbortSignal): Promise<void>;
  /** The target of a request, for events whose audit row does not name it (role requests). */
  targetOf(requestId: string): Promise<Target | undefined>;
  now(): Date;
  log(message: string): void;
  /** How long one send may take before it counts as failed (and is retried). Default 5 s. */
  timeoutMs?: number;
  /** Events kept for a retry; past it the oldest are dropped (and logged). Default 10,000. */
  maxWaiting?: number;
  /** First retry delay, doubled after each failure up to 30 s. Default 1 s. */
  retryDelayMs?: number;
}

export interface EventStream {
  /** Queues the event of an audit event appended under `id`, if it is one. Never throws or waits. */
  offer(input: AuditEventInput, id: string): void;
  /** Events not sent yet (the one being sent included). */
  waiting(): number;
  /** Resolves once nothing waits, or after `ms` (tests, graceful shutdown). */
  drained(ms: number): Promise<void>;
  /** Stops sending (what waits is dropped). */
  close(): void;
}

const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_MAX_WAITING = 10_000;
const MAX_RETRY_DELAY_MS = 30_000;
/** Events per send: far below a message batch's size (one event is well under 1 KB). */
const CHUNK = 100;

/** An appended audit event whose lifecycle event is still to be sent. */
interface Waiting {
  input: AuditEventInput;
  id: string;
  at: Date;
}

/** How long an unread event waits in a subscription: 14 days. */
export const EVENT_TTL_MS = 14 * 24 * 3600 * 1000;

/** The event as a Service Bus message: filterable by type and status without reading the body. */
export function toEventMessage(event: LifecycleEvent): ServiceBusMessage {
  return {
    messageId: event.id,
    body: event,
    contentType: 'application/json',
    // As the Azure topic's own default: a subscription nobody reads (the local host's `all`, say)
    // does not grow for ever.
    timeToLive: EVENT_TTL_MS,
    subject: event.type,
    applicationProperties: {
      schema: event.schema,
      version: event.version,
      type: event.type,
      status: event.status,
      ...(event.requestId === null ? {} : { requestId: event.requestId }),
    },
  };
}

/** An event that can never be built (its request is gone, or it breaks the schema): dropped, not retried. */
class Unpublishable extends Error {}

export function createEventStream(options: EventStreamOptions): EventStream {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxWaiting = options.maxWaiting ?? DEFAULT_MAX_WAITING;
  const firstDelay = options.retryDelayMs ?? 1000;
  const queue: Waiting[] = [];
  const idle = new Set<() => void>();
  let delay = firstDelay;
  let timer: NodeJS.Timeout | undefined;
  let sending = false;
  let failing = false;
  let closed = false;

  const reason = (e: unknown) => (e instanceof Error ? e.message : String(e));

  const build = async (w: Waiting, signal: AbortSignal): Promise<LifecycleEvent> => {
    let target: Target | undefined;
    if (needsTargetLookup(w.input) && w.input.requestId !== undefined) {
      target = await abortable(options.targetOf(w.input.requestId), signal);
      if (!target) throw new Unpublishable(`request ${w.input.requestId} not found`);
    }
    try {
      const event = lifecycleEventOf(w.input, w.id, w.at, target);
      if (!event) throw new Unpublishable(`${w.input.action} is not a lifecycle event`);
      return event;
    } catch (e) {
      throw e instanceof Unpublishable ? e : new Unpublishable(reason(e));
    }
  };

  /** Builds and sends, in order; unpublishable events are logged and left out. */
  const publish = async (items: Waiting[], signal: AbortSignal): Promise<void> => {
    const messages: ServiceBusMessage[] = [];
    for (const w of items) {
      try {
        messages.push(toEventMessage(await build(w, signal)));
      } catch (e) {
        if (!(e instanceof Unpublishable)) throw e;
        options.log(`event ${w.id} (${w.input.action}) dropped: ${e.message}`);
      }
    }
    if (messages.length > 0) await options.send(messages, signal);
  };

  const settle = (): void => {
    if (queue.length > 0 && !closed) return;
    for (const resolve of idle) resolve();
    idle.clear();
  };

  /** Sends what waits, a chunk at a time, until nothing waits or a send fails. */
  const pump = async (): Promise<void> => {
    if (sending || timer || closed) return;
    sending = true;
    try {
      // close() empties the queue, which ends this loop too.
      while (queue.length > 0) {
        // Whatever queued while the previous send was in flight goes in one send.
        const chunk = queue.slice(0, CHUNK);
        try {
          await publish(chunk, AbortSignal.timeout(timeoutMs));
        } catch (e) {
          delay = failing ? Math.min(delay * 2, MAX_RETRY_DELAY_MS) : firstDelay;
          if (!failing) options.log(`${queue.length} event(s) wait for the topic, retrying: ${reason(e)}`);
          failing = true;
          timer = setTimeout(() => {
            timer = undefined;
            void pump();
          }, delay);
          // A waiting retry never keeps the process alive.
          timer.unref();
          return;
        }
        queue.splice(0, chunk.length);
        if (failing) options.log('the topic answers again; waiting events sent');
        failing = false;
      }
    } finally {
      sending = false;
      settle();
    }
  };

  return {
    offer(input, id) {
      if (closed || !isLifecycleAction(input.action)) return;
      queue.push({ input, id, at: options.now() });
      while (queue.length > maxWaiting) {
        const dropped = queue.shift();
        if (dropped)
          options.log(
            `event ${dropped.id} (${dropped.input.action}) dropped: too many events wait for the topic`,
          );
      }
      void pump();
    },
    waiting: () => queue.length,
    drained: (ms) =>
      new Promise<void>((resolve) => {
        if (queue.length === 0 || closed) {
          resolve();
          return;
        }
        const done = () => {
          clearTimeout(giveUp);
          resolve();
        };
        const giveUp = setTimeout(() => {
          idle.delete(done);
          resolve();
        }, ms);
        idle.add(done);
      }),
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      queue.length = 0;
      settle();
    },
  };
}

/**
 * The audit log, publishing each lifecycle event once it is appended. The append's outcome is the
 * caller's answer unchanged: the event stream can neither fail it nor hold it up.
 */
export function publishingAudit<T extends AuditSink>(inner: T, stream: EventStream): T {
  return {
    ...inner,
    async append(event: AuditEventInput) {
      const appended = await inner.append(event);
      stream.offer(event, appended.id);
      return appended;
    },
  };
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
