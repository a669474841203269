/**
 * The review of an emergency use (break glass): `POST /api/requests/{id}/review` closes it as
 * justified or unjustified, `GET /api/reviews?status=open|closed` lists them. A review is a decision
 * like an approval: it runs as a caller transition (./transition.ts), the policy's step-up applies,
 * and its audit event is written by the same compare-and-swap as the review itself.
 */
import { z } from 'zod';
import { AuditAction } from '#shared/audit/types';
import type { Principal } from '#shared/auth/index';
import { reviewTransition, seesReview, type ReviewBody, type ReviewOutcome } from '#shared/domain/emergency';
import { DomainError } from '#shared/domain/errors';
import { toRequestView, type Request, type RequestView } from '#shared/domain/request';
import { pending } from './audit-outbox';
import { actorOf, membersOf, type Caller, type RequestContext } from './context';
import { isStorageToken } from './listing';
import { indexKeys } from './repository';
import { afterCommit, runTransition } from './transition';
import { ContinuationTokenQuery } from '#shared/domain/paging';

/**
 * `POST /api/requests/{id}/review`. Anyone who may see the request may address it (the requester
 * is then refused as such); others get 404. A retry of the same reviewer's same outcome is answered
 * with the request as it is (200), and finishes what the first attempt may not have (the index).
 */
export async function reviewRequest(
  ctx: RequestContext,
  caller: Caller,
  id: string,
  body: ReviewBody,
): Promise<RequestView> {
  const { principal } = caller;
  const view = await runTransition<ReviewOutcome>(ctx, caller, id, {
    rule: (request, members) =>
      reviewTransition(request, principal, body, members, ctx.now, principal.strength),
    events: (outcome, next) => [
      pending(
        id,
        {
          action: AuditAction.EmergencyReviewed,
          actor: caller.actor,
          outcome: 'success',
          requestId: id,
          task: next.task,
          detail: {
            outcome,
            comment: next.review?.comment ?? null,
            // The grant's status when reviewed (it may be long over): the event's status.
            status: next.status,
            via: principal.authMethod,
          },
          origin: caller.origin,
        },
        ctx.now,
      ),
    ],
    // Nothing for the workflow: a review changes neither the grant nor its window.
    follow: () => ({ liveIndex: false }),
    refusals: { audited: AuditAction.ReviewRefused, unaddressable: 'NOT_AN_APPROVER' },
    answersRetries: true,
  });
  // Off the open list (the reminder stops) and onto the closed one.
  await afterCommit([() => ctx.repo.closeReview(view)]);
  return view;
}

export const ListReviewsQuery = z.strictObject({
  status: z
    .enum(['open', 'closed'])
    .default('open')
    .meta({ description: '`open` (the default): reviews still to do; `closed`: reviews done.' }),
  continuationToken: ContinuationTokenQuery,
});
export type ListReviewsQuery = z.output<typeof ListReviewsQuery>;

const PAGE = 50;

/**
 * `GET /api/reviews`: emergency uses whose review is open (or closed), newest first for the closed
 * ones. Reviewers (members of a request's approver groups) see theirs; admins and auditors all.
 * The continuation token is the storage's own, handed back as is; a page may hold fewer than it
 * read (those the caller may not see are left out).
 */
export async function listReviews(
  ctx: Pick<RequestContext, 'repo' | 'config'>,
  principal: Principal,
  query: ListReviewsQuery,
): Promise<{ items: RequestView[]; continuationToken?: string }> {
  const token = query.continuationToken === undefined ? undefined : decodeToken(query.continuationToken);
  const page = await ctx.repo.page(indexKeys.review(query.status), PAGE, token);
  const requests = (
    await Promise.all(page.ids.map((id) => ctx.repo.read(id).then((row) => row?.request)))
  ).filter((r): r is Request => r !== undefined && r.review !== null);
  const actor = actorOf(principal);
  const items: RequestView[] = [];
  for (const r of requests) {
    // The index may lag the row for a moment (closed, not yet moved): the row decides.
    if ((r.review?.status === 'open') !== (query.status === 'open')) continue;
    if (!seesReview(r, actor, await membersOf(ctx, r))) continue;
    items.push(toRequestView(r, []));
  }
  return {
    items,
    ...(page.continuationToken === undefined
      ? {}
      : { continuationToken: Buffer.from(page.continuationToken).toString('base64url') }),
  };
}

/** The storage's continuation token (base64 JSON), wrapped once more; anything else is refused. */
function decodeToken(text: string): string {
  const inner = Buffer.from(text, 'base64url').toString('utf8');
  if (isStorageToken(inner)) return inner;
  throw new DomainError('INVALID_INPUT', 'The continuationToken is not one this service issued', {
    errors: [{ pointer: '#/continuationToken', detail: 'not a valid continuation token' }],
  });
}
