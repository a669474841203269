/**
 * Table `TeamsConversations` (with the prefix): where ZSA finds each user in Teams, and the cards it
 * sent them.
 *
 * - Conversation references: PartitionKey `user`, RowKey `encodeKey(user key)` (`tenant:object id`,
 *   as `Principal.id`) → the personal conversation's id, its service URL, the tenant and the bot.
 *   Written when the user installs the app (or writes to the bot), removed when they uninstall it.
 * - Sent approval cards: PartitionKey `card!<request id>` (an `Id` never holds `!`), RowKey
 *   `encodeKey(user key)` + `!s<stage>` or `!x<extension>s<stage>` → the activity id, so the card can
 *   be updated in place when the request is decided. One partition per request: every card of a
 *   request is one query.
 */
import { odata, type TableClient } from '@azure/data-tables';
import { z } from 'zod';
import { readEntity, statusOf, unavailable, type Tables } from '#shared/adapters/tables';
import { corruptRow } from '#shared/admin/store';
import { decodeKey, encodeKey } from '#shared/domain/names';
import type { CardBinding } from './cards';

export const TEAMS_TABLE = 'TeamsConversations';
const USERS = 'user';
const cardPartition = (requestId: string) => `card!${requestId}`;

/** How to reach one user in Teams: their personal conversation with the bot. */
export interface ConversationRef {
  readonly userId: string;
  readonly conversationId: string;
  readonly serviceUrl: string;
  readonly tenantId: string;
  readonly botId: string;
}

/** An approval card as sent: which activity to update. */
export interface SentCard {
  readonly requestId: string;
  readonly userId: string;
  readonly binding: CardBinding;
  readonly activityId: string;
  readonly conversationId: string;
  readonly serviceUrl: string;
}

export interface TeamsStore {
  saveConversation(ref: ConversationRef, now: Date): Promise<void>;
  removeConversation(userId: string): Promise<void>;
  conversation(userId: string): Promise<ConversationRef | undefined>;
  recordCard(card: SentCard, now: Date): Promise<void>;
  sentCard(requestId: string, userId: string, binding: CardBinding): Promise<SentCard | undefined>;
  /** Every approval card sent about the request. */
  sentCards(requestId: string): Promise<SentCard[]>;
}

const ConversationRow = z.object({
  rowKey: z.string(),
  ConversationId: z.string().min(1),
  ServiceUrl: z.string().min(1),
  TenantId: z.string().min(1),
  BotId: z.string().min(1),
});

const CardRow = z.object({
  partitionKey: z.string(),
  UserId: z.string().min(1),
  Stage: z.int().min(0),
  ExtensionId: z.string().optional(),
  ActivityId: z.string().min(1),
  ConversationId: z.string().min(1),
  ServiceUrl: z.string().min(1),
});

export function cardRowKey(userId: string, binding: CardBinding): string {
  const suffix =
    binding.extensionId === undefined ? `!s${binding.stage}` : `!x${binding.extensionId}s${binding.stage}`;
  return encodeKey(userId) + suffix;
}

function toConversation(table: string, row: unknown): ConversationRef {
  const parsed = ConversationRow.safeParse(row);
  if (!parsed.success) throw corruptRow(table, USERS, parsed.error);
  const r = parsed.data;
  return {
    userId: decodeKey(r.rowKey),
    conversationId: r.ConversationId,
    serviceUrl: r.ServiceUrl,
    tenantId: r.TenantId,
    botId: r.BotId,
  };
}

function toCard(table: string, row: unknown): SentCard {
  const parsed = CardRow.safeParse(row);
  if (!parsed.success) throw corruptRow(table, 'card', parsed.error);
  const r = parsed.data;
  return {
    requestId: r.partitionKey.slice(cardPartition('').length),
    userId: r.UserId,
    binding: { stage: r.Stage, ...(r.ExtensionId === undefined ? {} : { extensionId: r.ExtensionId }) },
    activityId: r.ActivityId,
    conversationId: r.ConversationId,
    serviceUrl: r.ServiceUrl,
  };
}

export function createTeamsStore(tables: Tables): TeamsStore {
  const table = (): Promise<TableClient> => tables.get(TEAMS_TABLE);
  const upsert = async (entity: { partitionKey: string; rowKey: string } & Record<string, unknown>) => {
    const t = await table();
    try {
      await t.upsertEntity(entity, 'Replace');
    } catch (e) {
      throw unavailable(e);
    }
  };
  return {
    async saveConversation(ref, now) {
      await upsert({
        partitionKey: USERS,
        rowKey: encodeKey(ref.userId),
        ConversationId: ref.conversationId,
        ServiceUrl: ref.serviceUrl,
        TenantId: ref.tenantId,
        BotId: ref.botId,
        SavedAt: now.toISOString(),
      });
    },
    async removeConversation(userId) {
      const t = await table();
      try {
        await t.deleteEntity(USERS, encodeKey(userId));
      } catch (e) {
        // Already gone: an uninstall is told twice, or after a reinstall that never reached us.
        if (statusOf(e) !== 404) throw unavailable(e);
      }
    },
    async conversation(userId) {
      const t = await table();
      const row = await readEntity(t, USERS, encodeKey(userId));
      return row === undefined ? undefined : toConversation(t.tableName, row);
    },
    async recordCard(card, now) {
      await upsert({
        partitionKey: cardPartition(card.requestId),
        rowKey: cardRowKey(card.userId, card.binding),
        UserId: card.userId,
        Stage: card.binding.stage,
        ...(card.binding.extensionId === undefined ? {} : { ExtensionId: card.binding.extensionId }),
        ActivityId: card.activityId,
        ConversationId: card.conversationId,
        ServiceUrl: card.serviceUrl,
        SentAt: now.toISOString(),
      });
    },
    async sentCard(requestId, userId, binding) {
      const t = await table();
      const row = await readEntity(t, cardPartition(requestId), cardRowKey(userId, binding));
      return row === undefined ? undefined : toCard(t.tableName, row);
    },
    async sentCards(requestId) {
      const t = await table();
      const rows: unknown[] = [];
      try {
        const filter = odata`PartitionKey eq ${cardPartition(requestId)}`;
        for await (const row of t.listEntities({ queryOptions: { filter } })) rows.push(row);
      } catch (e) {
        throw unavailable(e);
      }
      return rows.map((row) => toCard(t.tableName, row));
    },
  };
}
