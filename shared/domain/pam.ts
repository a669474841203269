import { z } from 'zod';
import { DomainError } from './errors';
import { ApproverGroupName, normalizeUpn, Upn } from './names';
import { Timestamp, toTimestamp } from './time';

/**
 * Who is acting, as the pure rules need it. The authenticated principal (`#shared/auth`) has this
 * shape already, so handlers pass it as is.
 */
export interface Actor {
  /** Stable key (`tenant:object id`), as `Principal.id`. */
  readonly id: string;
  /** Lower-cased UPN. */
  readonly upn: string;
  readonly isAdmin: boolean;
  readonly isAuditor: boolean;
}

export const MAX_GROUP_MEMBERS = 500;
export const MAX_SYSTEM_ACCOUNTS = 100;

function uniqueUpns(upns: readonly string[], ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  upns.forEach((upn, index) => {
    if (seen.has(upn)) ctx.addIssue({ code: 'custom', path: [index], message: `${upn} is listed twice` });
    seen.add(upn);
  });
}

/**
 * A user's stable key: `<tenant id>:<object id>`, both lower-case GUIDs, as `Principal.id` of a
 * signed-in user. Rights are decided on this key only: a UPN can be renamed or given to someone else,
 * and `email`-like claims can be set by users themselves.
 */
export const UserKey = z
  .string()
  .regex(
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    'must be <tenant id>:<object id>',
  );

/**
 * A person named in the configuration (approver group member, system account): the directory's
 * stable key decides, the UPN is for display and email. `id` is null for an entry saved before
 * entries were keyed (it matches nobody until the directory migration resolves it).
 */
export const Member = z.strictObject({ upn: Upn, id: UserKey.nullable() });
export type Member = z.output<typeof Member>;

/** Body of `PUT /api/approver-groups/{name}`. Members are UPNs, lower-cased on parse. */
export const ApproverGroupBody = z.strictObject({
  members: z
    .array(Upn)
    .min(1, 'must list at least one member')
    .max(MAX_GROUP_MEMBERS)
    .superRefine(uniqueUpns),
  description: z.string().trim().max(1000).optional(),
});
export type ApproverGroupBody = z.output<typeof ApproverGroupBody>;

/** A stored approver group: members resolved to their stable keys when it was saved. */
export const ApproverGroup = z.strictObject({
  name: ApproverGroupName,
  members: z.array(Member).max(MAX_GROUP_MEMBERS),
  description: z.string().max(1000).nullable(),
});
export type ApproverGroup = z.output<typeof ApproverGroup>;

/**
 * What `GET /api/approver-groups` answers: `members` lists UPNs, as the body of PUT does, and
 * `identities` says which directory object each one was resolved to (`id: null` until migrated).
 */
export const ApproverGroupView = z.strictObject({
  name: ApproverGroupName,
  description: z.string().max(1000).nullable(),
  members: z.array(Upn).max(MAX_GROUP_MEMBERS),
  identities: z.array(Member).max(MAX_GROUP_MEMBERS),
});
export type ApproverGroupView = z.output<typeof ApproverGroupView>;

export function approverGroupView(group: ApproverGroup): ApproverGroupView {
  return {
    name: group.name,
    description: group.description,
    members: group.members.map((m) => m.upn),
    identities: group.members,
  };
}

/** Whether the user with stable key `id` is one of `members`. Never by name: see `UserKey`. */
export function isMember(members: readonly Member[], id: string): boolean {
  return members.some((m) => m.id !== null && m.id === id);
}

/** Entries saved before they were keyed, which the directory migration still has to resolve. */
export function unresolved(members: readonly Member[]): Member[] {
  return members.filter((m) => m.id === null);
}

/** Body of `POST /api/pam/enable`. The group's existence is checked by the caller, which holds storage. */
export const EnablePamBody = z.strictObject({
  defaultApproverGroup: ApproverGroupName,
  systemAccounts: z.array(Upn).max(MAX_SYSTEM_ACCOUNTS).superRefine(uniqueUpns).default([]),
});
export type EnablePamBody = z.output<typeof EnablePamBody>;

/** The stored configuration; `pamView` is what `GET /api/pam` answers. */
export const PamConfig = z.strictObject({
  enabled: z.boolean(),
  defaultApproverGroup: ApproverGroupName.nullable(),
  systemAccounts: z.array(Member).max(MAX_SYSTEM_ACCOUNTS),
  updatedAt: Timestamp.nullable(),
  updatedBy: Upn.nullable(),
});
export type PamConfig = z.output<typeof PamConfig>;

/** Before any admin has enabled it, privileged access is off: nothing is granted by default. */
export const INITIAL_PAM_CONFIG: PamConfig = {
  enabled: false,
  defaultApproverGroup: null,
  systemAccounts: [],
  updatedAt: null,
  updatedBy: null,
};

/**
 * What `GET /api/pam` and the enable/disable calls answer: `systemAccounts` as UPNs (the shape of
 * the enable body), and `systemAccountIdentities` with the directory key each one resolved to.
 */
export const PamView = PamConfig.extend({
  systemAccounts: z.array(Upn).max(MAX_SYSTEM_ACCOUNTS),
  systemAccountIdentities: z.array(Member).max(MAX_SYSTEM_ACCOUNTS),
});
export type PamView = z.output<typeof PamView>;

export function pamView(config: PamConfig): PamView {
  return {
    ...config,
    systemAccounts: config.systemAccounts.map((m) => m.upn),
    systemAccountIdentities: config.systemAccounts,
  };
}

/** `systemAccounts`: the body's UPNs, resolved by the directory (the caller holds the directory). */
export function enablePam(
  body: EnablePamBody,
  systemAccounts: readonly Member[],
  by: string,
  now: Date,
): PamConfig {
  return {
    enabled: true,
    defaultApproverGroup: body.defaultApproverGroup,
    systemAccounts: [...systemAccounts],
    updatedAt: toTimestamp(now),
    updatedBy: normalizeUpn(by),
  };
}

/** Disabling keeps the default group and system accounts, so enabling again restores the same setup. */
export function disablePam(config: PamConfig, by: string, now: Date): PamConfig {
  return { ...config, enabled: false, updatedAt: toTimestamp(now), updatedBy: normalizeUpn(by) };
}

export function assertPamEnabled(config: Pick<PamConfig, 'enabled'>): void {
  if (!config.enabled)
    throw new DomainError('PAM_DISABLED', 'Privileged access is disabled; an admin must enable it first');
}

/** System accounts run tasks without a request, but only while privileged access is enabled. */
export function isSystemAccount(config: Pick<PamConfig, 'enabled' | 'systemAccounts'>, id: string): boolean {
  return config.enabled && isMember(config.systemAccounts, id);
}
