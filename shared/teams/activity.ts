/**
 * The Bot Framework activities ZSA reads from Teams, as zod schemas (the edge), and who the user
 * behind one is. Only the fields ZSA uses are kept; anything else Teams sends is ignored. Nothing in
 * an activity is trusted before its token is verified (./inbound.ts), and even then the user is
 * only who Teams says sent it: `from.aadObjectId` in the activity's tenant, which must be ZSA's.
 *
 * Shapes: https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference#activity-object
 */
import { z } from 'zod';
import { isGuid } from '#shared/auth/principal';
import { isHttpsOrLoopback } from '#shared/domain/loopback';
import { Id } from '#shared/domain/names';
import { MAX_COMMENT } from '#shared/domain/stages';
import { CardVerb } from './cards';

const ChannelAccount = z.object({
  id: z.string().min(1).max(1024),
  name: z.string().max(256).optional(),
  /** The user's Entra object id (absent for the bot itself). */
  aadObjectId: z.string().max(64).optional(),
});

/** An activity as it arrives on `/api/messages`; unknown types are read and ignored. */
export const InboundActivity = z.object({
  type: z.string().min(1).max(64),
  id: z.string().max(1024).optional(),
  /** Where replies to this conversation go: only hosts in ZSA_TEAMS_SERVICE_URL_ALLOWED are used. */
  serviceUrl: z.url().max(2048),
  channelId: z.string().max(64),
  from: ChannelAccount,
  recipient: ChannelAccount,
  conversation: z.object({
    id: z.string().min(1).max(1024),
    tenantId: z.string().max(64).optional(),
    conversationType: z.string().max(64).optional(),
  }),
  channelData: z.object({ tenant: z.object({ id: z.string().max(64) }).optional() }).optional(),
  /** `installationUpdate`: `add`, `remove` (and `add-upgrade`, `remove-upgrade`). */
  action: z.string().max(64).optional(),
  /** `invoke`: what is invoked (`adaptiveCard/action` for a card's Action.Execute). */
  name: z.string().max(128).optional(),
  text: z.string().max(4096).optional(),
  value: z.unknown().optional(),
  membersAdded: z.array(ChannelAccount).max(100).optional(),
});
export type InboundActivity = z.output<typeof InboundActivity>;

/** The invoke name of a Universal Action (`Action.Execute`) on a card. */
export const CARD_ACTION_INVOKE = 'adaptiveCard/action';

/**
 * The value of an `adaptiveCard/action` invoke: the verb and the card's data, with the comment box's
 * value merged in by Teams (empty when nothing was typed).
 */
export const CardActionInvoke = z.object({
  action: z.object({
    type: z.literal('Action.Execute'),
    verb: z.enum(CardVerb),
    data: z.object({
      requestId: Id,
      stage: z.int().min(0).max(4),
      extensionId: z
        .string()
        .regex(/^[1-9][0-9]?$/)
        .optional(),
      comment: z.string().max(MAX_COMMENT).optional(),
    }),
  }),
});
export type CardActionInvoke = z.output<typeof CardActionInvoke>;

/** The Teams user behind an activity, keyed exactly as `Principal.id`. */
export interface TeamsUser {
  /** `${tenantId}:${objectId}`, lower-case: the same key the user's tokens give. */
  readonly id: string;
  readonly tenantId: string;
  readonly objectId: string;
  readonly name: string | undefined;
}

/** The tenant an activity comes from: the conversation's, or the channel data's. */
export function tenantOf(activity: InboundActivity): string | undefined {
  return activity.conversation.tenantId ?? activity.channelData?.tenant?.id;
}

/**
 * The user who sent the activity, or why they are not one of ZSA's: another tenant (a guest's
 * home tenant, or a bot installed elsewhere), or no Entra object id.
 */
export function teamsUser(
  activity: InboundActivity,
  tenantId: string,
): { ok: true; user: TeamsUser } | { ok: false; reason: string } {
  const tenant = tenantOf(activity)?.toLowerCase();
  if (tenant === undefined || tenant !== tenantId.toLowerCase())
    return { ok: false, reason: "the activity is not from ZSA's tenant" };
  const oid = activity.from.aadObjectId?.toLowerCase();
  if (oid === undefined || !isGuid(oid) || !isGuid(tenant))
    return { ok: false, reason: 'the activity names no Entra user' };
  return {
    ok: true,
    user: { id: `${tenant}:${oid}`, tenantId: tenant, objectId: oid, name: activity.from.name },
  };
}

/**
 * Whether ZSA may post to `serviceUrl` (with a bearer token): https to an allowed host, or http to
 * an allowed loopback host (the local host's channel). Entries are host names, or host:port.
 */
export function serviceUrlAllowed(serviceUrl: string, allowed: readonly string[]): boolean {
  if (!URL.canParse(serviceUrl)) return false;
  const url = new URL(serviceUrl);
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') return false;
  if (!isHttpsOrLoopback(url)) return false;
  const host = url.host.toLowerCase();
  const name = url.hostname.toLowerCase();
  return allowed.some(
    (entry) => entry === host || (!entry.includes(':') && entry === name && url.port === ''),
  );
}
