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

/** A stored approver group. */
export const ApproverGroup = z.strictObject({
  name: ApproverGroupName,
  members: z.array(Upn).max(MAX_GROUP_MEMBERS),
  description: z.string().max(1000).nullable(),
});
export type ApproverGroup = z.output<typeof ApproverGroup>;

export function isMember(members: readonly string[], upn: string): boolean {
  const wanted = normalizeUpn(upn);
  return members.some((m) => normalizeUpn(m) === wanted);
}

/** Body of `POST /api/pam/enable`. The group's existence is checked by the caller, which holds storage. */
export const EnablePamBody = z.strictObject({
  defaultApproverGroup: ApproverGroupName,
  systemAccounts: z.array(Upn).max(MAX_SYSTEM_ACCOUNTS).superRefine(uniqueUpns).default([]),
});
export type EnablePamBody = z.output<typeof EnablePamBody>;

/** The answer of `GET /api/pam`, and the stored configuration. */
export const PamConfig = z.strictObject({
  enabled: z.boolean(),
  defaultApproverGroup: ApproverGroupName.nullable(),
  systemAccounts: z.array(Upn).max(MAX_SYSTEM_ACCOUNTS),
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

export function enablePam(body: EnablePamBody, by: string, now: Date): PamConfig {
  return {
    enabled: true,
    defaultApproverGroup: body.defaultApproverGroup,
    systemAccounts: body.systemAccounts,
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
export function isSystemAccount(config: Pick<PamConfig, 'enabled' | 'systemAccounts'>, upn: string): boolean {
  return config.enabled && isMember(config.systemAccounts, upn);
}
