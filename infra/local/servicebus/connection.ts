/**
 * What we keep per client connection, and the reply path of the `$cbs` and `$management`
 * request/response nodes. The SDK names the link it wants the reply on in the request's `reply_to`
 * (the link's name for `$cbs`, its target address for `$management`) and matches the reply to the
 * request by `correlation_id` = the request's `message_id`.
 */
import type { Message, Sender } from 'rhea';
import type { Consumer } from './dispatch';
import { asString } from './values';

export interface ConnState {
  /** Set once the client presented a valid SAS token on `$cbs`. */
  authorized: boolean;
  /** Our sending links for `$cbs` / `$management` replies, by link name and by target address. */
  replyLinks: Map<string, Sender>;
  consumers: Set<Consumer>;
}

export function newConnState(): ConnState {
  return { authorized: false, replyLinks: new Map(), consumers: new Set() };
}

export function reply(
  state: ConnState,
  request: Record<string, unknown>,
  applicationProperties: Record<string, unknown>,
  body: unknown,
  log: (msg: string) => void,
): void {
  const replyTo = asString(request.reply_to);
  const link = replyTo === undefined ? undefined : state.replyLinks.get(replyTo);
  if (!link || !link.is_open()) {
    log(`servicebus: no reply link "${replyTo ?? ''}" for a request; reply dropped`);
    return;
  }
  link.send({
    correlation_id: request.message_id as Message['correlation_id'],
    application_properties: applicationProperties,
    body: body ?? null,
  });
}
