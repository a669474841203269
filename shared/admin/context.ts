/**
 * What every configuration change runs with: storage, the audit log, one `now` for the whole
 * operation, who acts and from where, and the settings the rules check.
 */
import type { HttpRequest, InvocationContext } from '@azure/functions';
import type { Tables } from '#shared/adapters/tables';
import { getDeps } from '#shared/app/deps';
import {
  AuditOutcome,
  type AuditAction,
  type AuditActor,
  type AuditOrigin,
  type AuditSink,
} from '#shared/audit/types';
import type { Principal } from '#shared/auth/index';
import type { Directory } from '#shared/directory/directory';
import { auditActor, auditOrigin } from '#shared/http/auth';
import { auditSink } from './audit';

export interface AdminContext {
  readonly tables: Tables;
  readonly audit: AuditSink;
  readonly now: Date;
  readonly actor: AuditActor;
  readonly origin: AuditOrigin;
  /** `ZSA_MIN_DURATION_SECONDS`: the shortest policy window accepted. */
  readonly minDurationSeconds: number;
  /** `ZSA_EXECUTOR_ALLOWED_HOSTS`: the only hosts a webhook executor may point at. */
  readonly executorAllowedHosts: readonly string[];
  /** Resolves the UPNs an admin names (members, system accounts) to stable user keys. */
  readonly directory: Directory;
}

/** The context of a change made by `principal` through `request` (503 when the audit log is missing). */
export function adminContext(
  request: HttpRequest,
  invocation: InvocationContext,
  principal: Principal,
): AdminContext {
  const deps = getDeps();
  return {
    tables: deps.tables,
    audit: auditSink(),
    now: deps.now(),
    actor: auditActor(principal),
    origin: auditOrigin(request, invocation.invocationId),
    minDurationSeconds: deps.settings.ZSA_MIN_DURATION_SECONDS,
    executorAllowedHosts: deps.settings.ZSA_EXECUTOR_ALLOWED_HOSTS,
    directory: deps.directory,
  };
}

/**
 * Records one configuration change with both sides (null for "did not exist"), who made it and
 * from where. Rejects when the log cannot store it: the caller's answer is then a failure too.
 */
export async function auditChange(
  ctx: AdminContext,
  action: AuditAction,
  change: { before: unknown; after: unknown; task?: string },
): Promise<void> {
  await ctx.audit.append({
    action,
    actor: ctx.actor,
    outcome: AuditOutcome.Success,
    ...(change.task === undefined ? {} : { task: change.task }),
    detail: { before: change.before ?? null, after: change.after ?? null },
    origin: ctx.origin,
  });
}

/** A short list for a message: the first few, then how many more. */
export function listed(items: readonly string[], max = 5): string {
  const shown = items.slice(0, max).join(', ');
  return items.length > max ? `${shown} and ${items.length - max} more` : shown;
}
