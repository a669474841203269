/**
 * What the request stories run in: the request repository, the configuration they read, the
 * orchestration they tell, the audit, and the clock pinned once per call; and who is calling.
 */
import type { AuditActor, AuditOrigin, AuditSink } from '#shared/audit/types';
import type { Principal } from '#shared/auth/index';
import type { Catalog, Target, Task } from '#shared/domain/catalog';
import { DomainError } from '#shared/domain/errors';
import type { Actor, Member, PamConfig } from '#shared/domain/pam';
import type { Policy } from '#shared/domain/policy';
import { requestGroups, type GroupMembers, type Request } from '#shared/domain/request';
import type { Orchestrations } from './orchestrations';
import type { RequestRepository } from './repository';

/** What the request flow reads of the configuration (implemented by the admin repositories). */
export interface ConfigReader {
  pamConfig(): Promise<PamConfig>;
  /** Every policy (to find the approver groups a user belongs to). */
  policies(): Promise<readonly Policy[]>;
  /** Members of an approver group; empty when the group does not exist. */
  groupMembers(group: string): Promise<readonly Member[]>;
  task(name: string): Promise<Task | undefined>;
  /** What `resolvePolicy`/`effectiveTasks` need for one target, without loading the whole catalog. */
  policyContext(target: Target): Promise<{ catalog: Catalog; policies: readonly Policy[] }>;
}

export interface RequestContext {
  repo: RequestRepository;
  config: ConfigReader;
  orchestrations: Orchestrations;
  audit: AuditSink;
  now: Date;
  minDurationSeconds: number;
}

/** What the orchestration's activities run in: no caller, no configuration. */
export interface SystemContext {
  repo: RequestRepository;
  audit: AuditSink;
  now: Date;
}

export interface Caller {
  principal: Principal;
  actor: AuditActor;
  origin: AuditOrigin;
}

/**
 * The configuration with each approver group's members read at most once, for one unit of work
 * that asks for the same few groups again and again (a trigger poll, a Teams card press).
 */
export function membersReadOnce(config: ConfigReader): ConfigReader {
  const read = new Map<string, Promise<readonly Member[]>>();
  return {
    ...config,
    groupMembers: (group) => {
      const members = read.get(group) ?? config.groupMembers(group);
      read.set(group, members);
      return members;
    },
  };
}

/** The caller as the domain's rules see them. */
export function actorOf(p: Principal): Actor {
  return { id: p.id, upn: p.upn, isAdmin: p.isAdmin, isAuditor: p.isAuditor };
}

export const notFound = (id: string) => new DomainError('NOT_FOUND', `No request with id ${id}`);

/** The members of every approver group the request names (its stages', side by side), by group. */
export async function membersOf(
  ctx: Pick<RequestContext, 'config'>,
  request: Pick<Request, 'stages' | 'approverGroup'>,
): Promise<GroupMembers> {
  const groups = requestGroups(request);
  const lists = await Promise.all(groups.map((g) => ctx.config.groupMembers(g)));
  return new Map(groups.map((g, i) => [g, lists[i] ?? []]));
}
