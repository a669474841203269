/**
 * The review reminder: every emergency use whose review is still open `ZSA_REVIEW_REMINDER_HOURS`
 * after its grant (or after its last reminder) has its reviewers reminded by email.
 *
 * Safe on any number of instances, any number of times: a reminder is claimed by compare-and-swap
 * on the request row (`review.remindedAt` = now, only while the review is open and due), so of two
 * runs that find the same review due only the one whose write lands reminds; the other re-reads
 * the row, finds it reminded a moment ago, and leaves it. The claim's time also names the
 * reminder's messages (`reminderScope`), so a re-published reminder is dropped as a duplicate.
 *
 * Order: claim, publish, then audit (`emergency.reminded`, through the row's outbox, with an id
 * fixed by the claim). A publish that fails gives the claim back, so the next run tries again; a
 * process that dies between the claim and the publish delays that review's reminder by one period,
 * and one that dies between the publish and the audit leaves a sent reminder unaudited (an email,
 * not access: the review itself, and the emergency use, are audited by their own events).
 */
import { AuditAction, SYSTEM_ACTOR, type AuditSink } from '#shared/audit/types';
import type { Request } from '#shared/domain/request';
import { toTimestamp } from '#shared/domain/time';
import { flushAudit, ownEvents, pending } from '#shared/requests/audit-outbox';
import type { RequestRepository } from '#shared/requests/repository';
import type { Publisher } from './publisher';
import { publishNotification, type PublishContext } from './publish';

/** How many open reviews one run looks at: the rest wait for the next run (an hour later). */
export const MAX_REVIEWS_PER_RUN = 500;

export interface ReminderContext {
  repo: RequestRepository;
  audit: AuditSink;
  /** Publishes `reviewReminder` for the request as it is now; resolves with whom it went to. */
  remind(requestId: string): Promise<string[]>;
  now: Date;
  /** `ZSA_REVIEW_REMINDER_HOURS` in milliseconds. */
  reminderMs: number;
  log(message: string): void;
}

export interface ReminderReport {
  /** Open reviews looked at. */
  looked: number;
  /** Requests whose reviewers this run reminded. */
  reminded: string[];
  /** Reviews that could not be reminded this time (logged; the next run tries again). */
  errors: number;
}

/** When a review is next due for a reminder: its last reminder, or its grant, plus the period. */
export function reminderDueAt(request: Request, reminderMs: number): number | undefined {
  const review = request.review;
  if (!request.emergency || review?.status !== 'open') return undefined;
  const since = review.remindedAt ?? request.grantedAt ?? request.createdAt;
  return Date.parse(since) + reminderMs;
}

function isDue(request: Request, ctx: Pick<ReminderContext, 'now' | 'reminderMs'>): boolean {
  const due = reminderDueAt(request, ctx.reminderMs);
  return due !== undefined && due <= ctx.now.getTime();
}

export async function remindOpenReviews(
  ctx: ReminderContext,
  max = MAX_REVIEWS_PER_RUN,
): Promise<ReminderReport> {
  const ids = await ctx.repo.openReviews(max);
  const report: ReminderReport = { looked: ids.length, reminded: [], errors: 0 };
  for (const id of ids) {
    try {
      if (await remindOne(ctx, id)) report.reminded.push(id);
    } catch (e) {
      report.errors++;
      ctx.log(`review reminder for request ${id} not sent: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return report;
}

/** Claims, sends and audits one review's reminder; false when it is not due (or another run took it). */
async function remindOne(ctx: ReminderContext, id: string): Promise<boolean> {
  const stored = await ctx.repo.read(id);
  // A cheap look first: nearly every open review is not due.
  if (stored === undefined || !isDue(stored.request, ctx)) return false;
  const at = toTimestamp(ctx.now);
  const previous = stored.request.review?.remindedAt ?? null;
  const claimed = await ctx.repo.update(id, (current) => {
    const review = current.review;
    // Decided on the row as it is now: closed meanwhile, or reminded by another run a moment ago.
    if (review === null || !isDue(current, ctx)) return { result: false };
    return { next: { ...current, review: { ...review, remindedAt: at } }, result: true };
  });
  if (!claimed) return false;

  let reviewers: string[];
  try {
    reviewers = await ctx.remind(id);
  } catch (e) {
    // Give the claim back (only if it is still ours), so the next run reminds.
    await ctx.repo
      .update(id, (current) =>
        current.review?.remindedAt === at
          ? { next: { ...current, review: { ...current.review, remindedAt: previous } }, result: undefined }
          : { result: undefined },
      )
      .catch(() => undefined);
    throw e;
  }
  if (reviewers.length === 0) return false; // closed between the claim and the send: nobody to remind

  const event = pending(
    id,
    {
      action: AuditAction.EmergencyReminded,
      actor: SYSTEM_ACTOR,
      outcome: 'success',
      requestId: id,
      task: stored.request.task,
      detail: { reviewers, n: reviewers.length, remindedAt: at },
    },
    ctx.now,
    // One event per reminder: its claim time tells them apart, and names it again on a retry.
    Date.parse(at),
  );
  await ctx.repo.update(id, (current) => ({ next: current, result: undefined, audit: [event] }));
  await flushAudit(ctx.repo, ctx.audit, id, ownEvents([event]), ctx.now);
  return true;
}

/** `ReminderContext.remind` through the notify story: publishes `reviewReminder`, answers its recipients. */
export async function publishReminder(ctx: PublishContext, requestId: string): Promise<string[]> {
  const recipients: string[] = [];
  const publisher: Publisher = {
    ...ctx.publisher,
    publish: async (messages) => {
      await ctx.publisher.publish(messages);
      recipients.push(...messages.map((m) => m.recipient));
    },
  };
  await publishNotification({ ...ctx, publisher }, { requestId, event: 'reviewReminder' });
  return recipients;
}
