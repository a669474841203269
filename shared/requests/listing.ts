/**
 * `GET /api/requests`: the pages of requests a caller may see, read from the request index
 * partitions (./repository.ts) one after the other, and the continuation token that says where the
 * next page starts.
 */
import { z } from 'zod';
import type { Principal } from '#shared/auth/index';
import { DomainError } from '#shared/domain/errors';
import { isMember } from '#shared/domain/pam';
import {
  canView,
  ListRequestsQuery,
  toRequestView,
  type Request,
  type RequestView,
} from '#shared/domain/request';
import { awaitsDecisionBy } from '#shared/domain/extensions';
import { policyGroups } from '#shared/domain/policy';
import { actorOf, membersOf, type RequestContext } from './context';
import { indexKeys } from './repository';

type ListContext = Pick<RequestContext, 'repo' | 'config' | 'now'>;

const PAGE = 50;

/** Base64 (or base64url) JSON as a value, or undefined when it is neither. */
function decoded(text: string, encoding: 'base64' | 'base64url'): unknown {
  try {
    return JSON.parse(Buffer.from(text, encoding).toString('utf8'));
  } catch {
    return undefined;
  }
}

/**
 * The storage SDK's own continuation token is base64 JSON `{nextPartitionKey, nextRowKey?}`; anything
 * else would make the SDK throw mid-query (a 503 the client would retry for ever), so refuse it here.
 */
const StorageToken = z.object({ nextPartitionKey: z.string(), nextRowKey: z.string().optional() });

/** Whether `text` is a continuation token the storage SDK issued (and will not throw on). */
export function isStorageToken(text: string): boolean {
  return StorageToken.safeParse(decoded(text, 'base64')).success;
}

const ListToken = z.object({
  /** Which index partition (or `all` for the table scan) the continuation belongs to. */
  p: z.string(),
  /** Where in that partition: the storage token, or empty to start it from the top. */
  t: z.string().refine((t) => t === '' || isStorageToken(t)),
});
type ListToken = z.output<typeof ListToken>;

function encodeToken(token: ListToken): string {
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

function decodeToken(text: string | undefined): ListToken | undefined {
  if (text === undefined) return undefined;
  const token = ListToken.safeParse(decoded(text, 'base64url'));
  if (token.success) return token.data;
  throw new DomainError('INVALID_INPUT', 'The continuationToken is not one this service issued', {
    errors: [{ pointer: '#/continuationToken', detail: 'not a valid continuation token' }],
  });
}

/**
 * `GET /api/requests`. Admins and auditors see all; others see their own (`mine`) and those they
 * may decide (`approvable`) — both by default.
 */
export async function listRequests(
  ctx: ListContext,
  principal: Principal,
  query: ListRequestsQuery,
): Promise<{ items: RequestView[]; continuationToken?: string }> {
  const token = decodeToken(query.continuationToken);
  const seesAll = principal.isAdmin || principal.isAuditor;
  const mineOnly = query.mine === true;
  const approvableOnly = query.approvable === true;
  const decidedOnly = query.decided === true;
  if (decidedOnly && (mineOnly || approvableOnly))
    // Nobody decides on their own request, and what waits for a decision is not yet decided.
    throw new DomainError('INVALID_INPUT', 'decided=true cannot be combined with mine or approvable', {
      errors: [{ pointer: '#/decided', detail: 'not with mine=true or approvable=true' }],
    });

  // Where to look: one index partition per source, walked in order; the token says where we are.
  const sources: string[] = [];
  // A decision is recorded only in a request that names the approver's group, so the caller's
  // group partitions hold every request they decided (admins and auditors included: seeing all
  // is not deciding); a group that no longer lists them is no longer walked.
  if (seesAll && !mineOnly && !approvableOnly && !decidedOnly) sources.push('all');
  else {
    if (!approvableOnly && !decidedOnly) sources.push(indexKeys.requester(principal.id));
    if (!mineOnly) {
      const groups = await groupsOf(ctx, principal.id);
      for (const g of groups) sources.push(indexKeys.group(g));
    }
  }
  const start = token ? sources.indexOf(token.p) : 0;
  if (start < 0) {
    // A token from another listing (other filters, or another caller's groups).
    throw new DomainError('INVALID_INPUT', 'The continuationToken does not belong to this listing', {
      errors: [{ pointer: '#/continuationToken', detail: 'does not match the other query parameters' }],
    });
  }

  const items: RequestView[] = [];
  const seen = new Set<string>();
  // The caller's own requests are listed under `mine`: the group sources skip them (an approver's
  // own request sits in their group's index too), so no page repeats one across sources.
  const listsMine = sources.includes(indexKeys.requester(principal.id));
  for (let i = start; i < sources.length; i++) {
    const source = sources[i] ?? 'all';
    const cont = token && i === start ? token.t : undefined;
    // Only as many as the page has room for: a page never exceeds PAGE, and the storage token of
    // the last source read says exactly where the next page starts.
    const room = PAGE - items.length;
    let requests: Request[];
    let next: string | undefined;
    if (source === 'all') {
      const page = await ctx.repo.scan(query.status ? `Status eq '${query.status}'` : undefined, room, cont);
      requests = page.requests;
      next = page.continuationToken;
    } else {
      const page = await ctx.repo.page(source, room, cont);
      requests = (
        await Promise.all(page.ids.map((id) => ctx.repo.read(id).then((row) => row?.request)))
      ).filter((r): r is Request => r !== undefined);
      next = page.continuationToken;
    }
    for (const r of requests) {
      if (seen.has(r.id)) continue;
      if (query.status && r.status !== query.status) continue;
      if (source.startsWith('group:')) {
        if (listsMine && r.requesterId === principal.id) continue;
        const members = await membersOf(ctx, r);
        // Approvable: the request, or an extension of it, waits for this caller's decision now.
        if (approvableOnly && !awaitsDecisionBy(r, principal, members, ctx.now)) continue;
        if (decidedOnly && !decidedBy(r, principal.id)) continue;
        if (!canView(r, actorOf(principal), members)) continue;
      }
      seen.add(r.id);
      items.push(toRequestView(r, []));
    }
    if (next) return { items, continuationToken: encodeToken({ p: source, t: next }) };
    if (items.length >= PAGE && i + 1 < sources.length) {
      return { items, continuationToken: encodeToken({ p: sources[i + 1] ?? 'all', t: '' }) };
    }
  }
  return { items };
}

/** Whether `userId` approved or denied the request, in any stage, or any of its extensions (by stable id). */
function decidedBy(request: Request, userId: string): boolean {
  const decided = (approvals: readonly { approverId?: string | undefined }[]) =>
    approvals.some((a) => a.approverId === userId);
  return decided(request.approvals) || request.extensions.some((e) => decided(e.approvals));
}

/** The approver groups `userId` is a member of (by stable key), among those policies or the default name. */
export async function groupsOf(ctx: Pick<RequestContext, 'config'>, userId: string): Promise<string[]> {
  const policies = await ctx.config.policies();
  const config = await ctx.config.pamConfig();
  const names = new Set<string>(policies.flatMap(policyGroups));
  if (config.defaultApproverGroup) names.add(config.defaultApproverGroup);
  const out: string[] = [];
  for (const g of [...names].sort()) if (isMember(await ctx.config.groupMembers(g), userId)) out.push(g);
  return out;
}
