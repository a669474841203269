/**
 * What the bot does with an authenticated activity (functions/teams.ts verifies the token first):
 *
 * - `installationUpdate` `add` / `conversationUpdate` with members added, in a personal chat: keep
 *   the user's conversation reference, so approval cards can reach them; `remove`: forget it.
 * - `invoke` `adaptiveCard/action` (a card's Approve or Deny): decide (./decide.ts) and answer the
 *   card as it now reads, which Teams shows in place of the one pressed.
 * - a message: a short reply saying what the bot is for (it does not converse).
 *
 * Only users of ZSA's tenant are served; only personal chats are kept (a card in a group chat
 * would show one approver's decision to everyone in it).
 */
import type { IAdaptiveCard } from '@microsoft/teams.cards';
import {
  CARD_ACTION_INVOKE,
  CardActionInvoke,
  teamsUser,
  type InboundActivity,
  type TeamsUser,
} from './activity';
import { CARD_CONTENT_TYPE } from './cards';
import type { ConversationAddress } from './connector';
import type { TeamsStore } from './store';

export interface BotContext {
  store: TeamsStore;
  /** ZSA_TENANT_ID. */
  tenantId: string;
  now: Date;
  decide(user: TeamsUser, invoke: CardActionInvoke): Promise<IAdaptiveCard>;
  reply(to: ConversationAddress, text: string): Promise<void>;
  log(message: string): void;
}

/** What `/api/messages` answers: an invoke's body, or nothing (200). */
export type BotAnswer =
  | { readonly status: 200; readonly body?: InvokeResponse }
  | { readonly status: 403; readonly reason: string };

/** The body of an invoke's answer (Universal Actions): a card, or an error Teams shows. */
export type InvokeResponse =
  | { statusCode: 200; type: typeof CARD_CONTENT_TYPE; value: IAdaptiveCard }
  | { statusCode: 400; type: 'application/vnd.microsoft.error'; value: { code: string; message: string } };

export const HELP_TEXT =
  'ZSA sends you approval requests here. Approve or Deny on the card; requests that need a stronger sign-in open in ZSA.';

// Teams always names the conversation's type; one that names none is not taken for a personal chat.
function isPersonal(activity: InboundActivity): boolean {
  return activity.conversation.conversationType === 'personal';
}

function badInvoke(message: string): BotAnswer {
  return {
    status: 200,
    body: {
      statusCode: 400,
      type: 'application/vnd.microsoft.error',
      value: { code: 'BadRequest', message },
    },
  };
}

async function remember(ctx: BotContext, activity: InboundActivity, user: TeamsUser): Promise<void> {
  await ctx.store.saveConversation(
    {
      userId: user.id,
      conversationId: activity.conversation.id,
      serviceUrl: activity.serviceUrl,
      tenantId: user.tenantId,
      botId: activity.recipient.id,
    },
    ctx.now,
  );
}

export async function handleActivity(ctx: BotContext, activity: InboundActivity): Promise<BotAnswer> {
  const who = teamsUser(activity, ctx.tenantId);
  if (!who.ok) return { status: 403, reason: who.reason };
  const user = who.user;
  switch (activity.type) {
    case 'installationUpdate':
      if (!isPersonal(activity)) return { status: 200 };
      if (activity.action?.startsWith('remove') === true) await ctx.store.removeConversation(user.id);
      else if (activity.action?.startsWith('add') === true) await remember(ctx, activity, user);
      return { status: 200 };
    case 'conversationUpdate':
      if (isPersonal(activity) && (activity.membersAdded?.length ?? 0) > 0)
        await remember(ctx, activity, user);
      return { status: 200 };
    case 'invoke': {
      if (activity.name !== CARD_ACTION_INVOKE)
        return badInvoke(`ZSA does not handle ${activity.name ?? 'this invoke'}.`);
      const invoke = CardActionInvoke.safeParse(activity.value);
      if (!invoke.success) return badInvoke('The card action is not one of ZSA’s.');
      const card = await ctx.decide(user, invoke.data);
      return { status: 200, body: { statusCode: 200, type: CARD_CONTENT_TYPE, value: card } };
    }
    case 'message':
      if (isPersonal(activity)) {
        // A user who writes to the bot can be reached, even if their install was never told to us.
        await remember(ctx, activity, user);
        await ctx
          .reply({ serviceUrl: activity.serviceUrl, conversationId: activity.conversation.id }, HELP_TEXT)
          .catch((e: unknown) =>
            ctx.log(`Teams help reply failed: ${e instanceof Error ? e.message : String(e)}`),
          );
      }
      return { status: 200 };
    default:
      return { status: 200 };
  }
}
