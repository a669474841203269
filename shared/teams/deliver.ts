/**
 * The `sendTeams` story: one message from the `zsa-teams` queue → one card sent or updated. The
 * request is read now, so the card shows it as it is (an approval card whose round was decided
 * before it could go is not sent at all). Idempotent: an `ask` whose card was already sent sends nothing; an
 * update replaces the card with the same content. A failure throws, and Service Bus delivers the
 * message again, up to its maximum delivery count, then dead-letters it.
 */
import type { IAdaptiveCard } from '@microsoft/teams.cards';
import { DomainError } from '#shared/domain/errors';
import type { RequestRepository } from '#shared/requests/repository';
import { approvalCard, cardState, outcomeCard, type CardBinding } from './cards';
import type { Connector } from './connector';
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
  const card = (): IAdaptiveCard =>
    message.kind === 'tell'
      ? outcomeCard(request, binding, ctx.now, ctx.portalBaseUrl)
      : approvalCard({
          request,
          binding,
          viewerId: message.userId,
          now: ctx.now,
          portalBaseUrl: ctx.portalBaseUrl,
        });

  if (message.kind === 'update') {
    const sent = await ctx.store.sentCard(request.id, message.userId, binding);
    if (sent === undefined) return skipped('no card was sent');
    await ctx.connector.update(sent, sent.activityId, card());
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
  const activityId = await ctx.connector.send(ref, { card: card() });
  if (message.kind === 'ask')
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
  return { kind: 'sent', message, activityId };
}
