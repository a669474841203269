/**
 * Timer `reviewReminder`, every hour: reminds the reviewers of every emergency use whose review is
 * still open `ZSA_REVIEW_REMINDER_HOURS` after its grant or its last reminder
 * (shared/notifications/reminders.ts says why it is safe on any number of instances, any number of
 * times: the request row's compare-and-swap decides who reminds).
 */
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { remindOpenReviews } from '#shared/notifications/reminders';
import { reminderContext } from '#shared/notifications/wiring';

export async function reviewReminder(_timer: Timer, context: InvocationContext): Promise<void> {
  const report = await remindOpenReviews(reminderContext((m) => context.warn(m)));
  // Quiet when there was nothing to do, which is nearly always.
  if (report.reminded.length > 0 || report.errors > 0)
    context.log(
      `review reminder: looked at ${report.looked} open reviews, reminded ${report.reminded.length}, not reminded ${report.errors}`,
    );
}

app.timer('reviewReminder', { schedule: '0 0 * * * *', handler: reviewReminder });
