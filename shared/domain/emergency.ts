/**
 * Emergency access (break glass): a member of a policy's break-glass group may be granted at once,
 * without approval, for at most `breakGlassMaxHours`, with a reason long enough to say what is on
 * fire. Every such use opens a review that a member of the request's approver group(s) — never the
 * requester — closes as justified or unjustified (with a comment). The grant itself is an ordinary
 * grant: it expires, and can be revoked, like any other.
 */
import { z } from 'zod';
import { DomainError } from './errors';
import type { Actor } from './pam';
import { normalizeUpn, Upn } from './names';
import { isApproverOfAny, MAX_COMMENT, type GroupMembers } from './stages';
import { NO_STRENGTH, stepUpRefusal, type AuthStrength } from './step-up';
import { Timestamp, toTimestamp } from './time';
import type { Request, Transition } from './request';

/** An emergency's reason must say what is on fire. */
export const MIN_EMERGENCY_REASON = 20;
export const DEFAULT_BREAK_GLASS_MAX_HOURS = 1;

export const ReviewOutcome = { justified: 'justified', unjustified: 'unjustified' } as const;
export type ReviewOutcome = (typeof ReviewOutcome)[keyof typeof ReviewOutcome];

export const ReviewStatus = { open: 'open', ...ReviewOutcome } as const;
export type ReviewStatus = (typeof ReviewStatus)[keyof typeof ReviewStatus];

/** The post-incident review of an emergency use, as the request keeps and shows it. */
export const Review = z.strictObject({
  status: z
    .enum(ReviewStatus)
    .meta({ description: '`open` until a reviewer closes it as `justified` or `unjustified`.' }),
  /** Who closed it (null while open). */
  reviewer: Upn.nullable().meta({ description: 'Who closed it (UPN); null while open.' }),
  reviewerId: z
    .string()
    .min(1)
    .max(300)
    .nullable()
    .meta({ description: "The reviewer's stable key (`<tenant id>:<object id>`); null while open." }),
  comment: z.string().max(MAX_COMMENT).nullable().meta({ description: "The reviewer's comment." }),
  at: Timestamp.nullable().meta({ description: 'When it was closed; null while open.' }),
  /** When the reviewers were last reminded of it while open (null: not yet; the grant's time counts). */
  remindedAt: Timestamp.nullable().meta({
    description: 'When the reviewers were last reminded while it is open; null: not yet.',
  }),
});
export type Review = z.output<typeof Review>;

export const OPEN_REVIEW: Review = {
  status: 'open',
  reviewer: null,
  reviewerId: null,
  comment: null,
  at: null,
  remindedAt: null,
};

/** Body of `POST /api/requests/{id}/review`: an unjustified use needs a comment saying why. */
export const ReviewBody = z
  .strictObject({
    outcome: z
      .enum(ReviewOutcome)
      .meta({ description: '`justified`, or `unjustified` (then say why in the comment).' }),
    comment: z
      .string()
      .trim()
      .max(MAX_COMMENT)
      .optional()
      .meta({ description: 'Why; required when the use was unjustified.' }),
  })
  .superRefine((value, ctx) => {
    if (value.outcome === 'unjustified' && (value.comment ?? '') === '')
      ctx.addIssue({ code: 'custom', path: ['comment'], message: 'say why the use was unjustified' });
  });
export type ReviewBody = z.output<typeof ReviewBody>;

/**
 * Refuses an emergency request the policy does not allow: no break-glass group (400), a requester
 * outside it (403), a reason shorter than `MIN_EMERGENCY_REASON` characters (400), a duration over
 * `breakGlassMaxHours` (400), or a scheduled start (400: an emergency starts now).
 */
export function assertEmergency(
  policy: { breakGlassGroup?: string | undefined; breakGlassMaxHours: number },
  body: { reason: string; durationHours: number; startAt?: string | undefined },
  isBreakGlassMember: boolean,
): void {
  if (policy.breakGlassGroup === undefined)
    throw new DomainError(
      'BREAK_GLASS_NOT_ALLOWED',
      'The policy allows no emergency access for this target',
      {
        errors: [{ pointer: '#/emergency', detail: 'the policy names no break-glass group' }],
      },
    );
  if (!isBreakGlassMember)
    throw new DomainError(
      'NOT_BREAK_GLASS_MEMBER',
      `Only members of the break-glass group ${JSON.stringify(policy.breakGlassGroup)} may ask for emergency access`,
    );
  if (body.reason.trim().length < MIN_EMERGENCY_REASON)
    throw new DomainError(
      'INVALID_INPUT',
      `An emergency's reason must be at least ${MIN_EMERGENCY_REASON} characters`,
      {
        errors: [
          {
            pointer: '#/reason',
            detail: `must be at least ${MIN_EMERGENCY_REASON} characters for an emergency`,
          },
        ],
      },
    );
  if (body.durationHours > policy.breakGlassMaxHours)
    throw new DomainError(
      'DURATION_TOO_LONG',
      `durationHours ${body.durationHours} exceeds the policy's emergency maximum of ${policy.breakGlassMaxHours} hours`,
      {
        errors: [
          {
            pointer: '#/durationHours',
            detail: `must be at most ${policy.breakGlassMaxHours} for an emergency`,
          },
        ],
      },
    );
  if (body.startAt !== undefined)
    throw new DomainError('INVALID_START', 'An emergency grant starts now; leave out startAt', {
      errors: [{ pointer: '#/startAt', detail: 'not allowed with emergency' }],
    });
}

/** The groups whose members review a request's emergency use: every group it names. */
function reviewGroups(
  request: Pick<Request, 'stages' | 'approverGroup'>,
): { approverGroup: string; requiredApprovals: number }[] {
  const names = new Set([
    ...request.stages.map((s) => s.approverGroup),
    ...(request.approverGroup === null ? [] : [request.approverGroup]),
  ]);
  return [...names].map((approverGroup) => ({ approverGroup, requiredApprovals: 1 }));
}

/** Whether `actor` may close the review: a member of one of the request's groups, never its requester. */
export function mayReview(request: Request, actor: Pick<Actor, 'id'>, members: GroupMembers): boolean {
  return actor.id !== request.requesterId && isApproverOfAny(reviewGroups(request), members, actor.id);
}

/** Whether `actor` sees the request in `GET /api/reviews`: its reviewers, admins and auditors. */
export function seesReview(request: Request, actor: Actor, members: GroupMembers): boolean {
  return actor.isAdmin || actor.isAuditor || isApproverOfAny(reviewGroups(request), members, actor.id);
}

/**
 * Closes an emergency use's review. Refused: REVIEW_NOT_OPEN (no emergency), SELF_APPROVAL (the
 * requester), NOT_AN_APPROVER, REVIEW_NOT_OPEN (already closed). `alreadyApplied`: the same reviewer's
 * same outcome is in the row (a retry).
 */
export function reviewTransition(
  request: Request,
  reviewer: Pick<Actor, 'id' | 'upn'>,
  body: ReviewBody,
  members: GroupMembers,
  now: Date,
  strength: AuthStrength = NO_STRENGTH,
): Transition<ReviewOutcome> {
  const refuse = (refusal: DomainError): Transition<ReviewOutcome> => ({ kind: 'refused', refusal });
  const { review } = request;
  if (!request.emergency || review === null)
    return refuse(
      new DomainError('REVIEW_NOT_OPEN', 'This request was no emergency; there is nothing to review'),
    );
  if (reviewer.id === request.requesterId)
    return refuse(new DomainError('SELF_APPROVAL', 'Requesters may not review their own emergency use'));
  if (!mayReview(request, reviewer, members))
    return refuse(
      new DomainError('NOT_AN_APPROVER', `${normalizeUpn(reviewer.upn)} is not an approver of this request`),
    ); // A review is a decision too: the policy's step-up applies.
  const stepUp = stepUpRefusal(request.approverAuthContext, strength);
  if (stepUp !== undefined) return refuse(stepUp);

  if (review.status !== 'open') {
    const refusal = new DomainError(
      'REVIEW_NOT_OPEN',
      `The review was closed as ${review.status} by ${String(review.reviewer)} at ${String(review.at)}`,
    );
    return review.reviewerId === reviewer.id && review.status === body.outcome
      ? { kind: 'alreadyApplied', outcome: body.outcome, request, refusal }
      : refuse(refusal);
  }
  const comment = body.comment?.trim() ?? '';
  return {
    kind: 'applied',
    outcome: body.outcome,
    request: {
      ...request,
      review: {
        status: body.outcome,
        reviewer: normalizeUpn(reviewer.upn),
        reviewerId: reviewer.id,
        comment: comment === '' ? null : comment,
        at: toTimestamp(now),
        remindedAt: review.remindedAt,
      },
    },
  };
}
