/**
 * The Teams notification contract: what the `notify` activity publishes on the `zsa-teams` queue
 * beside the emails, and the `sendTeams` trigger consumes. A message only names what to do for
 * whom (ask an approver, update a card already sent, tell the requester); the sender reads the
 * request when it sends, so a card always shows the request as it is then. Deterministic ids:
 * a re-run `notify` publishes nothing twice (Service Bus drops a repeated id).
 *
 * Pure: no I/O, no clock.
 */
import { z } from 'zod';
import { extensionOf } from '#shared/domain/extensions';
import { Id } from '#shared/domain/names';
import type { Request } from '#shared/domain/request';
import type { GroupMembers } from '#shared/domain/stages';
import {
  messageScope,
  NotifyEvent,
  recipientKey,
  recipientsFor,
  type NotifyInput,
} from '#shared/notifications/messages';
import type { CardBinding } from './cards';

/** The queue the Teams sender reads (infra: Bicep's Service Bus module; the local host creates it). */
export const TEAMS_QUEUE = 'zsa-teams';

export const TEAMS_SCHEMA = 'zsa.teams';
export const TEAMS_VERSION = 1;

/**
 * `ask`: send an approver the approval card of their stage. `update`: bring a card already sent up
 * to date (someone decided, the stage moved on, the request ended). `tell`: send the requester how
 * their request or extension turned out.
 */
export const TeamsKind = { ask: 'ask', update: 'update', tell: 'tell' } as const;
export type TeamsKind = (typeof TeamsKind)[keyof typeof TeamsKind];

export const TeamsMessage = z.strictObject({
  schema: z.literal(TEAMS_SCHEMA),
  version: z.literal(TEAMS_VERSION),
  /** Also the Service Bus messageId. */
  id: z.string().min(1).max(128),
  kind: z.enum(TeamsKind),
  /** The notification that caused it. */
  event: z.enum(NotifyEvent),
  requestId: Id,
  /** Who gets it, by user key (`tenant:object id`). */
  userId: z.string().min(1).max(300),
  stage: z.int().min(0).max(4),
  extensionId: z
    .string()
    .regex(/^[1-9][0-9]?$/)
    .optional(),
});
export type TeamsMessage = z.output<typeof TeamsMessage>;

/** Events after which every card already sent about the request may read differently. */
const UPDATES_CARDS: ReadonlySet<NotifyEvent> = new Set<NotifyEvent>([
  'approvalNeeded',
  'approved',
  'denied',
  'canceled',
  'expired',
  'failed',
  'extensionRequested',
  'extensionApproved',
  'extensionDenied',
  'extensionExpired',
  'extensionCanceled',
]);

/** Events the requester hears of in Teams too: how their request or extension turned out. */
const TELLS_REQUESTER: ReadonlySet<NotifyEvent> = new Set<NotifyEvent>([
  'approved',
  'denied',
  'expired',
  'extensionApproved',
  'extensionDenied',
  'extensionExpired',
]);

/** Whether an event can lead to any Teams message (the others need no look-up at all). */
export function concernsTeams(event: NotifyEvent): boolean {
  return UPDATES_CARDS.has(event) || TELLS_REQUESTER.has(event);
}

export interface TeamsPlanInput {
  readonly input: NotifyInput;
  readonly request: Request;
  readonly members: GroupMembers;
  /** Users (by key) who have the app installed: only they can be sent anything. */
  readonly reachable: ReadonlySet<string>;
  /** The cards already sent about the request: who, and for which stage. */
  readonly sent: readonly { readonly userId: string; readonly binding: CardBinding }[];
}

function teamsMessage(
  kind: TeamsKind,
  event: NotifyEvent,
  requestId: string,
  userId: string,
  binding: CardBinding,
): TeamsMessage {
  const scope = messageScope(binding) ?? 's0';
  return {
    schema: TEAMS_SCHEMA,
    version: TEAMS_VERSION,
    id: `teams:${requestId}:${kind}:${event}:${scope}:${recipientKey(userId)}`,
    kind,
    event,
    requestId,
    userId,
    stage: binding.stage,
    ...(binding.extensionId === undefined ? {} : { extensionId: binding.extensionId }),
  };
}

/** The Teams messages one `notify` publishes. */
export function planTeamsMessages(plan: TeamsPlanInput): TeamsMessage[] {
  const { input, request, members, reachable, sent } = plan;
  const event = input.event;
  const binding: CardBinding = {
    stage: input.stage ?? 0,
    ...(input.extensionId === undefined ? {} : { extensionId: input.extensionId }),
  };
  const out: TeamsMessage[] = [];
  if (event === 'approvalNeeded' || event === 'extensionRequested') {
    const extension = input.extensionId === undefined ? undefined : extensionOf(request, input.extensionId);
    for (const r of recipientsFor(event, request, members, { stage: binding.stage, extension })) {
      if (r.id !== undefined && reachable.has(r.id))
        out.push(teamsMessage('ask', event, request.id, r.id, binding));
    }
  }
  if (UPDATES_CARDS.has(event)) {
    for (const card of sent) {
      // A card of the stage that opens now is the one just asked for, not one to update.
      const same = card.binding.stage === binding.stage && card.binding.extensionId === binding.extensionId;
      if ((event === 'approvalNeeded' || event === 'extensionRequested') && same) continue;
      out.push(teamsMessage('update', event, request.id, card.userId, card.binding));
    }
  }
  if (TELLS_REQUESTER.has(event) && reachable.has(request.requesterId))
    out.push(teamsMessage('tell', event, request.id, request.requesterId, binding));
  return out;
}
