/**
 * Publishes lifecycle events on the Service Bus topic, from the audit: the audit log is wrapped so
 * that once a lifecycle event is appended (and only then), its event is sent, with the audit
 * event's id as the messageId. Every lifecycle event passes through the audit exactly once per
 * transition (its outbox may append it again after a crash, with the same id), so the stream has
 * every event the audit has, and a repeat carries the id Service Bus duplicate detection drops.
 *
 * The story that recorded the event never fails because of the topic, and waits for it at most
 * `timeoutMs`. A send that fails or times out keeps the event in memory and retries it (backing off,
 * in order, ahead of newer events) until it is sent. What this does not survive: the process ending
 * while events wait, or between the audit append and the send. So delivery is best effort, at least
 * once while the process lives; the audit log stays the record to reconcile against (same ids).
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
  /** How long one event may hold the story that recorded it. Default 2 s. */
  timeoutMs?: number;
  /** Events kept for a retry; past it the oldest are dropped (and logged). Default 10,000. */
  maxWaiting?: number;
  /** First retry delay, doubled after each failure up to 30 s. Default 1 s. */
  retryDelayMs?: number;
}

export interface EventStream {
  /** Publishes the event of an audit event appended under `id`, if it is one. Never throws. */
  offer(input: AuditEventInput, id: string): Promise<void>;
  /** Events waiting for a retry. */
  waiting(): number;
  /** Stops retrying (what waits is dropped). */
  close(): void;
}

const DEFAULT_TIMEOUT_MS = 2000;
const DEFAULT_MAX_WAITING = 10_000;
const MAX_RETRY_DELAY_MS = 30_000;
/** Events per retried send: far below a message batch's size (one event is well under 1 KB). */
const RETRY_CHUNK = 100;

/** An appended audit event whose lifecycle event is still to be sent. */
interface Waiting {
  input: AuditEventInput;
  id: string;
  at: Date;
}

/** The event as a Service Bus message: filterable by type and status without reading the body. */
export function toEventMessage(event: LifecycleEvent): ServiceBusMessage {
  return {
    messageId: event.id,
    body: event,
    contentType: 'application/json',
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
  let delay = firstDelay;
  let timer: NodeJS.Timeout | undefined;
  let draining = false;
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

  const wait = (w: Waiting): void => {
    queue.push(w);
    while (queue.length > maxWaiting) {
      const dropped = queue.shift();
      if (dropped)
        options.log(
          `event ${dropped.id} (${dropped.input.action}) dropped: too many events wait for the topic`,
        );
    }
    schedule();
  };

  const schedule = (): void => {
    if (timer || draining || closed || queue.length === 0) return;
    timer = setTimeout(() => {
      timer = undefined;
      void drain();
    }, delay);
    // A waiting retry never keeps the process alive.
    timer.unref();
  };

  const drain = async (): Promise<void> => {
    draining = true;
    try {
      while (queue.length > 0 && !closed) {
        const chunk = queue.slice(0, RETRY_CHUNK);
        try {
          await publish(chunk, AbortSignal.timeout(Math.max(timeoutMs, 10_000)));
        } catch (e) {
          delay = Math.min(delay * 2, MAX_RETRY_DELAY_MS);
          options.log(
            `${queue.length} event(s) still wait for the topic (next try in ${delay} ms): ${reason(e)}`,
          );
          return;
        }
        queue.splice(0, chunk.length);
        delay = firstDelay;
      }
    } finally {
      draining = false;
      schedule();
    }
  };

  return {
    async offer(input, id) {
      if (closed || !isLifecycleAction(input.action)) return;
      const w: Waiting = { input, id, at: options.now() };
      // Events already waiting go first: a newer event must not overtake them.
      if (queue.length > 0) {
        wait(w);
        return;
      }
      try {
        await publish([w], AbortSignal.timeout(timeoutMs));
      } catch (e) {
        options.log(`event ${id} (${input.action}) not published yet, will retry: ${reason(e)}`);
        wait(w);
      }
    },
    waiting: () => queue.length,
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      queue.length = 0;
    },
  };
}

/**
 * The audit log, publishing each lifecycle event once it is appended. The append's outcome is the
 * caller's answer unchanged: the event stream can neither fail it nor hold it longer than its bound.
 */
export function publishingAudit<T extends AuditSink>(inner: T, stream: EventStream): T {
  return {
    ...inner,
    async append(event: AuditEventInput) {
      const appended = await inner.append(event);
      await stream.offer(event, appended.id);
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
