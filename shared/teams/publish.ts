/**
 * Teams beside email: the `notify` activity calls `publishTeams` after the emails are published,
 * and a failure here is logged and audited, never thrown (a Teams outage must not hold the emails,
 * nor make the orchestration retry what was already sent). One message per approver who has the
 * app (`ask`), per card already sent about the request (`update`), and for the requester's outcome
 * (`tell`), on the `zsa-teams` queue; the `sendTeams` trigger delivers them (./deliver.ts).
 */
import type { ServiceBusSender } from '@azure/service-bus';
import { BUS_TIMEOUT_MS } from '#shared/notifications/publisher';
import type { NotifyInput } from '#shared/notifications/messages';
import { requestGroups } from '#shared/domain/request';
import type { Member } from '#shared/domain/pam';
import type { RequestRepository } from '#shared/requests/repository';
import { concernsTeams, planTeamsMessages, type TeamsMessage } from './messages';
import type { TeamsStore } from './store';

export interface TeamsPublishContext {
  requests: Pick<RequestRepository, 'read'>;
  groupMembers(group: string): Promise<readonly Member[]>;
  store: TeamsStore;
  publish(messages: readonly TeamsMessage[]): Promise<void>;
}

/** Publishes the Teams messages of one notification; answers their ids. */
export async function publishTeams(ctx: TeamsPublishContext, input: NotifyInput): Promise<string[]> {
  if (!concernsTeams(input.event)) return [];
  const request = (await ctx.requests.read(input.requestId))?.request;
  if (request === undefined) return [];
  // Only an ask goes to the approvers, so only an ask reads their groups and each member's
  // conversation; every other event reaches the requester and the cards already sent (a partition read).
  const asks = input.event === 'approvalNeeded' || input.event === 'extensionRequested';
  const groups = asks ? requestGroups(request) : [];
  const lists = await Promise.all(groups.map((g) => ctx.groupMembers(g)));
  const members = new Map(groups.map((g, i) => [g, lists[i] ?? []]));
  // Everyone who could hear of it: the requester, and on an ask the members. One point read each.
  const candidates = new Set<string>([request.requesterId]);
  for (const list of lists) for (const m of list) if (m.id !== null) candidates.add(m.id);
  const [refs, sent] = await Promise.all([
    Promise.all([...candidates].map(async (id) => ((await ctx.store.conversation(id)) ? id : undefined))),
    ctx.store.sentCards(request.id),
  ]);
  const reachable = new Set(refs.filter((id): id is string => id !== undefined));
  const messages = planTeamsMessages({ input, request, members, reachable, sent });
  if (messages.length > 0) await ctx.publish(messages);
  return messages.map((m) => m.id);
}

/** Sends Teams messages on the queue, the message id as Service Bus messageId (duplicates dropped). */
export function teamsQueuePublisher(
  sender: () => ServiceBusSender,
): (messages: readonly TeamsMessage[]) => Promise<void> {
  return async (messages) => {
    await sender().sendMessages(
      messages.map((m) => ({
        messageId: m.id,
        body: m,
        contentType: 'application/json',
        subject: m.kind,
        applicationProperties: { schema: m.schema, version: m.version, kind: m.kind, requestId: m.requestId },
      })),
      { abortSignal: AbortSignal.timeout(BUS_TIMEOUT_MS) },
    );
  };
}
