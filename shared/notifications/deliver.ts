/**
 * The email sender's story, for one Service Bus message: validate it → drop it if it no longer
 * matters (an approval link for a request already decided, an expiry notice for a grant already
 * over) → render → send. Anything else that goes wrong throws, so Service Bus redelivers the message
 * and, after its maximum delivery count, dead-letters it, where an operator can read it.
 */
import { extensionOf } from '#shared/domain/extensions';
import { isAwaitingDecision, isGranted, isLive, roundOf } from '#shared/domain/request';
import { currentStage } from '#shared/domain/stages';
import { isPast } from '#shared/domain/time';
import type { RequestRepository } from '#shared/requests/repository';
import { record } from '#shared/telemetry/metrics';
import { Attr, SpanName } from '#shared/telemetry/names';
import { contextOf, inSpan } from '#shared/telemetry/spans';
import type { Mailer } from './mailer';
import { NOTIFICATION_VERSION, NotificationEnvelope, NotificationMessage } from './messages';
import { renderEmail } from './render';

export interface DeliverContext {
  mailer: Mailer;
  requests: Pick<RequestRepository, 'read'>;
  now: Date;
}

export type DeliveryOutcome =
  | { readonly kind: 'sent'; readonly message: NotificationMessage }
  | { readonly kind: 'skipped'; readonly message: NotificationMessage; readonly reason: string };

/** A message this sender can never handle (malformed, unknown version): redelivery will not help. */
export class UndeliverableNotification extends Error {
  override readonly name = 'UndeliverableNotification';
}

/** The trigger hands over the body as parsed JSON, or as text when it could not be parsed. */
export function parseNotification(body: unknown): NotificationMessage {
  let value: unknown = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch {
      throw new UndeliverableNotification('the message body is not JSON');
    }
  }
  const envelope = NotificationEnvelope.safeParse(value);
  if (!envelope.success) throw new UndeliverableNotification('the message is not a ZSA notification');
  if (envelope.data.version !== NOTIFICATION_VERSION) {
    throw new UndeliverableNotification(
      `notification version ${envelope.data.version} is not understood by this sender (it reads ${NOTIFICATION_VERSION})`,
    );
  }
  const parsed = NotificationMessage.safeParse(value);
  if (!parsed.success) {
    const where = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new UndeliverableNotification(`invalid notification: ${where.slice(0, 500)}`);
  }
  return parsed.data;
}

/** Why a message is no longer worth sending, or undefined to send it. */
async function staleness(ctx: DeliverContext, message: NotificationMessage): Promise<string | undefined> {
  switch (message.event) {
    case 'approvalNeeded': {
      const request = (await ctx.requests.read(message.requestId))?.request;
      if (!request || !isAwaitingDecision(request, ctx.now))
        return 'the request no longer waits for a decision';
      if (request.approvals.some((a) => a.approver === message.recipient))
        return 'the approver has already decided';
      // A later stage's email goes out only when that stage opens; this one's stage may be over.
      if (currentStage(roundOf(request), true) !== (message.stage ?? 0))
        return `stage ${(message.stage ?? 0) + 1} no longer decides`;
      return undefined;
    }
    case 'extensionRequested': {
      const request = (await ctx.requests.read(message.requestId))?.request;
      const extension = request && extensionOf(request, message.extension.id);
      if (
        !request ||
        !extension ||
        extension.status !== 'pending' ||
        isPast(extension.pendingUntil, ctx.now) ||
        !isGranted(request, ctx.now)
      )
        return 'the extension no longer waits for a decision';
      if (extension.approvals.some((a) => a.approver === message.recipient))
        return 'the approver has already decided';
      if (currentStage({ stages: request.stages, approvals: extension.approvals }, true) !== message.stage)
        return `stage ${message.stage + 1} of the extension no longer decides`;
      return undefined;
    }
    case 'expiringSoon': {
      // Scheduled when the grant started, and canceled when it ends early; but the cancel can be
      // lost (a revoke faster than the scheduling, a cancel that failed, a fault that failed the
      // grant), so the row decides: the notice goes out only for the very grant it announces, still
      // live, still ending when the notice says.
      const request = (await ctx.requests.read(message.requestId))?.request;
      if (!request || !isLive(request, ctx.now)) return 'the grant is no longer live';
      if (request.expiresAt !== message.request.expiresAt)
        return `the grant now ends at ${String(request.expiresAt)}, not ${String(message.request.expiresAt)}`;
      return undefined;
    }
    case 'reviewReminder': {
      // Closed between the claim and the send: the reviewers need no reminder any more.
      const request = (await ctx.requests.read(message.requestId))?.request;
      if (request?.review?.status !== 'open') return 'the review is no longer open';
      return undefined;
    }
    case 'emergencyUsed':
    case 'reviewed':
    case 'approved':
    case 'denied':
    case 'canceled':
    case 'expired':
    case 'granted':
    case 'ended':
    case 'revoked':
    case 'failed':
    case 'started':
    case 'extensionApproved':
    case 'extensionDenied':
    case 'extensionExpired':
    case 'extensionCanceled':
    // The sponsor hears that its agent asked even if approvers were quicker than the mail.
    case 'agentRequested':
      return undefined;
  }
}

/**
 * The `sendEmail` trigger's story: one message, one email, unless it is stale. Traced as
 * `zsa.email.send`, counted in `zsa.notifications` (a failed attempt as `failed`; the trigger counts
 * the last one as `deadLettered`).
 */
export async function deliverNotification(
  ctx: DeliverContext,
  body: unknown,
  /** The publisher's trace context, from the message (`traceparent` application property). */
  traceparent?: string,
): Promise<DeliveryOutcome> {
  return inSpan(
    SpanName.EmailSend,
    { [Attr.Channel]: 'email' },
    async (span) => {
      try {
        const outcome = await deliver(ctx, body);
        span.set({ [Attr.RequestId]: outcome.message.requestId, [Attr.Outcome]: outcome.kind });
        if (outcome.kind === 'sent') record.notification('delivered', 'email');
        return outcome;
      } catch (e) {
        record.notification('failed', 'email');
        throw e;
      }
    },
    contextOf(traceparent),
  );
}

async function deliver(ctx: DeliverContext, body: unknown): Promise<DeliveryOutcome> {
  const message = parseNotification(body);
  const stale = await staleness(ctx, message);
  if (stale !== undefined) return { kind: 'skipped', message, reason: stale };
  const email = renderEmail(message, ctx.now);
  await ctx.mailer.send({
    to: message.recipient,
    subject: email.subject,
    text: email.text,
    html: email.html,
    headers: {
      'X-ZSA-Request-Id': message.requestId,
      'X-ZSA-Event': message.event,
      'X-ZSA-Notification-Id': message.id,
    },
  });
  return { kind: 'sent', message };
}
