/**
 * Builds the contexts the notification stories run in, from the app's deps.
 */
import { getDeps } from '#shared/app/deps';
import type { DeliverContext } from './deliver';
import { NOTIFICATIONS_QUEUE } from './messages';
import { serviceBusPublisher } from './publisher';
import type { PublishContext } from './publish';
import { createScheduleStore, createTokenStore, type TokenStore } from './store';

export function publishContext(): PublishContext {
  const deps = getDeps();
  return {
    requests: deps.requests,
    groupMembers: (group) => deps.config.groupMembers(group),
    tokens: createTokenStore(deps.tables),
    schedules: createScheduleStore(deps.tables),
    publisher: serviceBusPublisher(() => deps.bus.sender(NOTIFICATIONS_QUEUE)),
    now: deps.now(),
    publicBaseUrl: deps.settings.ZSA_PUBLIC_BASE_URL,
    expiryNoticeMs: deps.settings.ZSA_EXPIRY_NOTICE_MINUTES * 60_000,
  };
}

export function deliverContext(): DeliverContext {
  const deps = getDeps();
  return { mailer: deps.mailer, requests: deps.requests, now: deps.now() };
}

export function tokenStore(): TokenStore {
  return createTokenStore(getDeps().tables);
}
