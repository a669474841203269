/**
 * The review reminder: every emergency use whose review is still open `ZSA_REVIEW_REMINDER_HOURS`
 * after its grant (or after its last reminder) has its reviewers reminded by email.
 *
 * Safe on any number of instances, any number of times, and across restarts:
 * - the reminder's messages are named by the period they end (`reminderScope`: the last reminder
 *   or the grant), so every run that finds the review due publishes the very same ids and Service
 *   Bus keeps one message per reviewer;
 * - then the reminder is claimed by compare-and-swap on the request row (`review.remindedAt` = now,
 *   only while the review is open and still due), with its audit event (`emergency.reminded`) in
 *   the same write: of several runs only the one whose write lands records it, the others re-read
 *   the row, find it reminded a moment ago, and leave it.
 * Publishing first means a run that dies before its claim is finished by the next run (the same
 * ids again: nothing is skipped), never that a claimed reminder was not sent. Service Bus remembers
 * ids for the queue's duplicate detection window (an hour): concurrent runs fall well inside it,
 * but the next hourly run, finishing a dead one, may fall just outside and send that reminder twice.
 */
import { AuditAction, SYSTEM_ACTOR, type AuditSink } from '#shared/audit/types';
import type { Request } from '#shared/domain/request';
import { toTimestamp } from '#shared/domain/time';
import { flushAudit, ownEvents, pending } from '#shared/requests/audit-outbox';
import type { RequestRepository } from '#shared/requests/repository';
import { record } from '#shared/telemetry/metrics';
import type { Publisher } from './publisher';
import { publishNotification, type PublishContext } from './publish';

/** How many open reviews one run looks at: the rest wait for the next run (an hour later). */
export const MAX_REVIEWS_PER_RUN = 500;

export interface ReminderContext {
  repo: RequestRepository;
  audit: AuditSink;
  /** Publishes `reviewReminder` for the request as it is now; resolves with whom it went to. */
  /**
   * Publishes the reminder of the period that began at `since` (the review's `remindedAt` as this run
   * read it; null: the grant), so runs that overlap publish the same message ids.
   */
  remind(requestId: string, since: string | null): Promise<string[]>;
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
  // `zsa.reviews.open`: the open reviews this run found (at most `max`: the rest wait for the next run).
  record.reviewsOpen(ids.length);
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

/** Sends, claims and audits one review's reminder; false when it is not due (or another run claimed it). */
async function remindOne(ctx: ReminderContext, id: string): Promise<boolean> {
  const stored = await ctx.repo.read(id);
  // A cheap look first: nearly every open review is not due.
  if (stored === undefined || !isDue(stored.request, ctx)) return false;
  const last = stored.request.review?.remindedAt ?? null;
  const reviewers = await ctx.remind(id, last);
  const at = toTimestamp(ctx.now);
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
    // One event per reminder: the period it ends tells them apart.
    Date.parse(last ?? stored.request.grantedAt ?? stored.request.createdAt),
  );
  const claimed = await ctx.repo.update(id, (current) => {
    const review = current.review;
    // Decided on the row as it is now: closed meanwhile, or reminded by another run a moment ago.
    if (review === null || review.remindedAt !== last || !isDue(current, ctx)) return { result: false };
    return {
      next: { ...current, review: { ...review, remindedAt: at } },
      result: true,
      audit: [event],
    };
  });
  if (!claimed) return false;
  await flushAudit(ctx.repo, ctx.audit, id, ownEvents([event]), ctx.now);
  return true;
}

/** `ReminderContext.remind` through the notify story: publishes `reviewReminder`, answers its recipients. */
export async function publishReminder(
  ctx: PublishContext,
  requestId: string,
  since: string | null,
): Promise<string[]> {
  const recipients: string[] = [];
  const publisher: Publisher = {
    ...ctx.publisher,
    publish: async (messages) => {
      await ctx.publisher.publish(messages);
      recipients.push(...messages.map((m) => m.recipient));
    },
  };
  // The message ids name the period as this run saw it, not as the row says by the time it is read
  // again: a run that overlaps another's claim then publishes the very ids that run did (dropped as
  // duplicates), instead of ids of a period that has only just begun.
  const requests: PublishContext['requests'] = {
    ...ctx.requests,
    read: async (id) => {
      const stored = await ctx.requests.read(id);
      const review = stored?.request.review;
      return stored && review
        ? { ...stored, request: { ...stored.request, review: { ...review, remindedAt: since } } }
        : stored;
    },
  };
  await publishNotification({ ...ctx, publisher, requests }, { requestId, event: 'reviewReminder' });
  return recipients;
}
