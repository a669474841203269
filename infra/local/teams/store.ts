/**
 * What the development Teams channel remembers: one personal conversation per user who installed
 * the bot, and every activity the bot sent into it (its latest version). Kept in memory, and in a
 * JSON file when the host has a data folder, so the conversation references a bot stored survive a
 * restart of the host.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { z } from 'zod';

/** Per conversation; the oldest activities are dropped beyond it. */
export const MAX_ACTIVITIES_PER_CONVERSATION = 500;

const StoredActivitySchema = z.object({
  id: z.string(),
  /** The activity as the bot last sent it (POST, then any PUT). */
  activity: z.record(z.string(), z.unknown()),
  sentAt: z.string(),
  updatedAt: z.string(),
  /** 1 when sent, +1 per update. */
  version: z.int(),
});

const ConversationSchema = z.object({
  id: z.string(),
  upn: z.string(),
  userId: z.string(),
  installed: z.boolean(),
  activities: z.array(StoredActivitySchema),
});

const StateSchema = z.object({ conversations: z.array(ConversationSchema) });

export type StoredActivity = z.infer<typeof StoredActivitySchema>;
export type Conversation = z.infer<typeof ConversationSchema>;

export interface ChannelStore {
  conversations(): readonly Conversation[];
  byUpn(upn: string): Conversation | undefined;
  byId(id: string): Conversation | undefined;
  /** The user's conversation, created (not installed) if new. */
  open(upn: string, userId: string): Conversation;
  setInstalled(conversation: Conversation, installed: boolean): void;
  add(conversation: Conversation, activity: StoredActivity): void;
  update(conversation: Conversation, id: string, activity: Record<string, unknown>, at: Date): boolean;
  remove(conversation: Conversation, id: string): boolean;
}

export function openChannelStore(dataFile: string | undefined): ChannelStore {
  const state: z.infer<typeof StateSchema> =
    dataFile !== undefined && existsSync(dataFile)
      ? // A damaged file fails the start loudly rather than silently forgetting every install.
        StateSchema.parse(JSON.parse(readFileSync(dataFile, 'utf8')))
      : { conversations: [] };
  const save = (): void => {
    if (dataFile === undefined) return;
    // Whole-file rewrite through a rename: small, and never half-written if the host is killed.
    writeFileSync(`${dataFile}.tmp`, JSON.stringify(state));
    renameSync(`${dataFile}.tmp`, dataFile);
  };
  return {
    conversations: () => state.conversations,
    byUpn: (upn) => state.conversations.find((c) => c.upn === upn.toLowerCase()),
    byId: (id) => state.conversations.find((c) => c.id === id),
    open(upn, userId) {
      const existing = state.conversations.find((c) => c.upn === upn.toLowerCase());
      if (existing) return existing;
      // Teams' personal conversation ids start with `a:`; this one is stable per user.
      const conversation = {
        id: `a:dev-${userId}`,
        upn: upn.toLowerCase(),
        userId,
        installed: false,
        activities: [],
      };
      state.conversations.push(conversation);
      save();
      return conversation;
    },
    setInstalled(conversation, installed) {
      conversation.installed = installed;
      save();
    },
    add(conversation, activity) {
      conversation.activities.push(activity);
      if (conversation.activities.length > MAX_ACTIVITIES_PER_CONVERSATION)
        conversation.activities.splice(0, conversation.activities.length - MAX_ACTIVITIES_PER_CONVERSATION);
      save();
    },
    update(conversation, id, activity, at) {
      const stored = conversation.activities.find((a) => a.id === id);
      if (!stored) return false;
      stored.activity = activity;
      stored.updatedAt = at.toISOString();
      stored.version += 1;
      save();
      return true;
    },
    remove(conversation, id) {
      const index = conversation.activities.findIndex((a) => a.id === id);
      if (index < 0) return false;
      conversation.activities.splice(index, 1);
      save();
      return true;
    },
  };
}
