/**
 * The `sendTeams` story: one message from the `zsa-teams` queue → one card sent or updated. The
 * request is read now, so the card shows it as it is (an approval card whose round was decided
 * before it could go is not sent at all). Idempotent: an `ask` whose card was already sent sends nothing; an
 * update replaces the card with the same content. A failure throws, and Service Bus delivers the
 * message again, up to its maximum delivery count, then dead-letters it; except the Bot Connector's
 * 403 (the bot was removed, or the user is no longer in the conversation: their conversation is
 * forgotten) and 404 (the conversation or the activity is gone), which no retry mends: skipped.
 *
 * An approval card is recorded after it is sent, so a decision made in between plans its card
 * updates without it: once recorded, the request is read again and, if it was decided meanwhile,
 * the card is brought up to date here.
 */
import type { IAdaptiveCard } from '@microsoft/teams.cards';
import { DomainError } from '#shared/domain/errors';
import type { Request } from '#shared/domain/request';
import type { RequestRepository } from '#shared/requests/repository';
import { approvalCard, cardState, outcomeCard, type CardBinding } from './cards';
import { ConnectorError, type Connector } from './connector';
import { TeamsMessage } from './messages';
import type { TeamsStore } from './store';

export interface TeamsDeliverContext {
  requests: Pick<RequestRepository, 'read'>;
  store: TeamsStore;
  connector: Connector;
  now: Date;
  portalBaseUrl: string | undefined;
}

export type TeamsDelivery =
  | { readonly kind: 'sent' | 'updated'; readonly message: TeamsMessage; readonly activityId: string }
  | { readonly kind: 'skipped'; readonly message: TeamsMessage; readonly reason: string };

export async function deliverTeams(ctx: TeamsDeliverContext, raw: unknown): Promise<TeamsDelivery> {
  const parsed = TeamsMessage.safeParse(raw);
  if (!parsed.success) throw new DomainError('INVALID_INPUT', `not a Teams message: ${parsed.error.message}`);
  const message = parsed.data;
  const skipped = (reason: string): TeamsDelivery => ({ kind: 'skipped', message, reason });
  const request = (await ctx.requests.read(message.requestId))?.request;
  if (request === undefined) return skipped('the request is gone');
  const binding: CardBinding = {
    stage: message.stage,
    ...(message.extensionId === undefined ? {} : { extensionId: message.extensionId }),
  };
  const card = (shown: Request = request): IAdaptiveCard =>
    message.kind === 'tell'
      ? outcomeCard(shown, binding, ctx.now, ctx.portalBaseUrl)
      : approvalCard({
          request: shown,
          binding,
          viewerId: message.userId,
          now: ctx.now,
          portalBaseUrl: ctx.portalBaseUrl,
        });
  // The Bot Connector's answers no retry mends; anything else throws for Service Bus to retry.
  const gone = async (e: unknown): Promise<TeamsDelivery> => {
    if (!(e instanceof ConnectorError) || (e.status !== 403 && e.status !== 404)) throw e;
    if (e.status === 403) {
      await ctx.store.removeConversation(message.userId);
      return skipped(
        `the bot may no longer post to the user (403; their conversation is forgotten): ${e.message}`,
      );
    }
    return skipped(`the conversation or the card is gone (404): ${e.message}`);
  };

  if (message.kind === 'update') {
    const sent = await ctx.store.sentCard(request.id, message.userId, binding);
    if (sent === undefined) return skipped('no card was sent');
    try {
      await ctx.connector.update(sent, sent.activityId, card());
    } catch (e) {
      return gone(e);
    }
    return { kind: 'updated', message, activityId: sent.activityId };
  }
  if (message.kind === 'ask') {
    // Decided (or over) before the card could go: the approver has nothing to do, so no card.
    const state = cardState({ request, binding, viewerId: message.userId, now: ctx.now });
    if (state.kind === 'done') return skipped(`nothing to decide any more (${state.headline})`);
    if ((await ctx.store.sentCard(request.id, message.userId, binding)) !== undefined)
      return skipped('the card was already sent');
  }
  const ref = await ctx.store.conversation(message.userId);
  if (ref === undefined) return skipped('the user has no conversation with the bot (app not installed)');
  let activityId: string;
  try {
    activityId = await ctx.connector.send(ref, { card: card() });
  } catch (e) {
    return gone(e);
  }
  if (message.kind === 'ask') {
    await ctx.store.recordCard(
      {
        requestId: request.id,
        userId: message.userId,
        binding,
        activityId,
        conversationId: ref.conversationId,
        serviceUrl: ref.serviceUrl,
      },
      ctx.now,
    );
    // Decided while the card was on its way: its update was planned without this card, so send it.
    const now = (await ctx.requests.read(message.requestId))?.request;
    if (
      now !== undefined &&
      cardState({ request: now, binding, viewerId: message.userId, now: ctx.now }).kind === 'done'
    ) {
      try {
        await ctx.connector.update(ref, activityId, card(now));
      } catch (e) {
        return gone(e);
      }
      return { kind: 'updated', message, activityId };
    }
  }
  return { kind: 'sent', message, activityId };
}
