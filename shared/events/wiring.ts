/**
 * The app's event stream, built from the settings: the topic `ZSA_EVENTS_TOPIC` on the Service Bus
 * namespace the app already sends notifications to (same connection settings, same client). Off
 * when the setting is empty, and when no Service Bus is configured at all (tests of other stories).
 */
import type { Bus } from '#shared/adapters/servicebus';
import type { Settings } from '#shared/config';
import type { Target } from '#shared/domain/catalog';
import { targetOf } from '#shared/domain/request';
import type { RequestRepository } from '#shared/requests/repository';
import { createEventStream, type EventStream } from './publisher';

/** Requests whose target was looked up; a request never changes what it is for. */
const MAX_CACHED_TARGETS = 1000;

export function appEventStream(
  settings: Settings,
  bus: Bus,
  requests: Pick<RequestRepository, 'read'>,
): EventStream | undefined {
  const topic = settings.ZSA_EVENTS_TOPIC;
  if (topic === '') return undefined;
  if (!settings.ServiceBusConnection && !settings.ServiceBusConnection__fullyQualifiedNamespace)
    return undefined;
  const targets = new Map<string, Target>();
  return createEventStream({
    send: (messages, signal) => bus.sender(topic).sendMessages(messages, { abortSignal: signal }),
    async targetOf(requestId) {
      const known = targets.get(requestId);
      if (known) return known;
      const request = (await requests.read(requestId))?.request;
      if (!request) return undefined;
      const target = targetOf(request);
      if (targets.size >= MAX_CACHED_TARGETS) targets.clear();
      targets.set(requestId, target);
      return target;
    },
    now: () => new Date(),
    // No invocation to log through: the events of one story can be sent after it answered.
    log: (message) => {
      console.warn(`${topic}: ${message}`);
    },
  });
}
