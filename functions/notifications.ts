/**
 * Notifications: the orchestration's `notify` activity publishes them on Service Bus; the
 * `sendEmail` Service Bus trigger turns each into an email. A failed publish is retried by the
 * orchestration and then given up (it never holds a grant or its end); a failed email is retried by
 * Service Bus and, at the queue's maximum delivery count, dead-lettered.
 */
import { app, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import type { ActivityHandler } from 'durable-functions';
import { getDeps } from '#shared/app/deps';
import { AuditAction, SYSTEM_ACTOR } from '#shared/audit/types';
import { parseOrThrow } from '#shared/domain/errors';
import { auditQuietly } from '#shared/notifications/audit';
import { deliverNotification, UndeliverableNotification } from '#shared/notifications/deliver';
import { deliveryOf, failedDelivery, reasonOf, withTeamsRetry } from '#shared/notifications/failures';
import { NOTIFICATIONS_QUEUE, NotifyInput } from '#shared/notifications/messages';
import { publishNotification } from '#shared/notifications/publish';
import { deliverContext, publishContext } from '#shared/notifications/wiring';
import { publishTeams } from '#shared/teams/publish';
import { teamsPublishContext } from '#shared/teams/wiring';

/** Activity `notify` (called by the orchestration with `{requestId, event, stage?, extensionId?}`). */
export const notify: ActivityHandler = async (input: unknown, context: InvocationContext) => {
  const parsed = parseOrThrow(NotifyInput, input, 'notify input');
  try {
    return await notifyByEmail(parsed, context);
  } finally {
    // Teams beside email, whatever became of the emails: neither holds the other.
    await notifyInTeams(parsed, context);
  }
};

async function notifyByEmail(parsed: NotifyInput, context: InvocationContext) {
  const { requestId, event } = parsed;
  try {
    const result = await publishNotification(publishContext(), parsed);
    context.log(
      `notify ${event} for ${requestId}: published ${result.published.length}` +
        (result.scheduled.length > 0 ? `, scheduled ${result.scheduled.length}` : '') +
        (result.canceled.length > 0 ? `, canceled ${result.canceled.length}` : ''),
    );
    return {
      published: result.published.length,
      scheduled: result.scheduled.length,
      canceled: result.canceled.length,
    };
  } catch (e) {
    context.warn(`notify ${event} for ${requestId} failed: ${reasonOf(e)}`);
    await auditQuietly(
      {
        action: AuditAction.NotificationFailed,
        actor: SYSTEM_ACTOR,
        outcome: 'failure',
        requestId,
        reason: `publish ${event}: ${reasonOf(e)}`.slice(0, 1000),
        detail: {
          event,
          stage: 'publish',
          // Which approval stage (and extension) the notice was for; `stage` above is the pipeline's.
          ...(parsed.stage === undefined ? {} : { approvalStage: parsed.stage }),
          ...(parsed.extensionId === undefined ? {} : { extensionId: parsed.extensionId }),
        },
      },
      (m) => context.warn(m),
    );
    throw e;
  }
}

/**
 * Publishes the Teams messages of the notification (shared/teams/publish.ts) when Teams is on,
 * trying a failed publish again a few times (publishing twice is harmless: delivery is idempotent).
 * Never throws: a last failure is logged and audited, and the emails (and the orchestration) go on.
 */
async function notifyInTeams(parsed: NotifyInput, context: InvocationContext): Promise<void> {
  const { requestId, event } = parsed;
  try {
    const teams = teamsPublishContext();
    if (teams === undefined) return;
    const published = await withTeamsRetry(
      () => publishTeams(teams, parsed),
      (attempt, e) =>
        context.warn(
          `notify ${event} for ${requestId} in Teams failed (attempt ${attempt}), trying again: ${reasonOf(e)}`,
        ),
    );
    if (published.length > 0)
      context.log(`notify ${event} for ${requestId}: ${published.length} Teams messages`);
  } catch (e) {
    context.warn(`notify ${event} for ${requestId} in Teams failed: ${reasonOf(e)}`);
    await auditQuietly(
      {
        action: AuditAction.NotificationFailed,
        actor: SYSTEM_ACTOR,
        outcome: 'failure',
        requestId,
        reason: `publish to Teams ${event}: ${reasonOf(e)}`.slice(0, 1000),
        detail: { event, stage: 'teams' },
      },
      (m) => context.warn(m),
    );
  }
}

/** The trace context the publisher put in the message's application properties, if any. */
function traceparentOf(context: InvocationContext): string | undefined {
  const properties = context.triggerMetadata?.applicationProperties;
  if (typeof properties !== 'object' || properties === null || !('traceparent' in properties))
    return undefined;
  return typeof properties.traceparent === 'string' ? properties.traceparent : undefined;
}

/** Service Bus trigger `sendEmail`: one notification message → one email. */
export async function sendEmail(message: unknown, context: InvocationContext): Promise<void> {
  const delivery = deliveryOf(context);
  const max = getDeps().settings.ZSA_NOTIFICATIONS_MAX_DELIVERY;
  try {
    const outcome = await deliverNotification(deliverContext(), message, traceparentOf(context));
    const m = outcome.message;
    if (outcome.kind === 'skipped') {
      context.log(`email ${m.id} (${m.event}) to ${m.recipient} not sent: ${outcome.reason}`);
      return;
    }
    context.log(`email ${m.id} (${m.event}) sent to ${m.recipient}`);
    await auditQuietly(
      {
        action: AuditAction.NotificationSent,
        actor: SYSTEM_ACTOR,
        outcome: 'success',
        requestId: m.requestId,
        detail: {
          event: m.event,
          recipient: m.recipient,
          audience: m.audience,
          notificationId: m.id,
          delivery,
        },
      },
      (text) => context.warn(text),
    );
  } catch (e) {
    await failedDelivery({
      context,
      channel: 'email',
      message,
      error: e,
      max,
      loud: e instanceof UndeliverableNotification,
    });
    throw e;
  }
}

df.app.activity('notify', { handler: notify });
app.serviceBusQueue('sendEmail', {
  connection: 'ServiceBusConnection',
  queueName: NOTIFICATIONS_QUEUE,
  handler: sendEmail,
});
