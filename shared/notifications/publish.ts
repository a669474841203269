/**
 * The `notify` story: load the request → decide who hears what → (approval links: mint one token per
 * approver) → publish one message per recipient → (granted: schedule the expiring-soon notice;
 * revoked or ended: cancel it). Idempotent, because activities run at least once: message ids are
 * deterministic (Service Bus drops repeats), tokens are minted once per approver (store.ts), the
 * schedule is recorded once per request.
 */
import { DomainError } from '#shared/domain/errors';
import type { Member } from '#shared/domain/pam';
import type { Request } from '#shared/domain/request';
import { instantOf } from '#shared/domain/time';
import type { RequestRepository } from '#shared/requests/repository';
import {
  buildMessage,
  NotificationEvent,
  recipientsFor,
  type NotificationMessage,
  type NotifyInput,
} from './messages';
import type { Publisher } from './publisher';
import type { PreparedLink, ScheduleStore, TokenStore } from './store';
import { decisionUrl } from './tokens';

export interface PublishContext {
  requests: Pick<RequestRepository, 'read'>;
  /** Members of an approver group; empty when it does not exist. */
  groupMembers(group: string): Promise<readonly Member[]>;
  tokens: TokenStore;
  schedules: ScheduleStore;
  publisher: Publisher;
  now: Date;
  /** `ZSA_PUBLIC_BASE_URL`. */
  publicBaseUrl: string | undefined;
  /** `ZSA_EXPIRY_NOTICE_MINUTES` in milliseconds. */
  expiryNoticeMs: number;
}

export interface PublishResult {
  /** Ids of the messages published by this run. */
  published: string[];
  /** Sequence numbers of notices scheduled by this run. */
  scheduled: string[];
  /** Sequence numbers this run canceled. */
  canceled: string[];
}

export async function publishNotification(ctx: PublishContext, input: NotifyInput): Promise<PublishResult> {
  const request = (await ctx.requests.read(input.requestId))?.request;
  if (!request) throw new DomainError('NOT_FOUND', `No request with id ${input.requestId}`);
  const members = request.approverGroup === null ? [] : await ctx.groupMembers(request.approverGroup);
  const result: PublishResult = { published: [], scheduled: [], canceled: [] };
  switch (input.event) {
    case 'approvalNeeded':
      result.published = await publishApprovalLinks(ctx, request, members);
      break;
    case 'granted':
      result.published = await publishPlain(ctx, input.event, request, members);
      result.scheduled = await scheduleExpiryNotice(ctx, request, members);
      break;
    case 'ended':
    case 'revoked':
    case 'failed':
      result.canceled = await cancelExpiryNotice(ctx, request.id);
      result.published = await publishPlain(ctx, input.event, request, members);
      break;
    case 'approved':
    case 'denied':
    case 'canceled':
    case 'expired':
      result.published = await publishPlain(ctx, input.event, request, members);
      break;
  }
  return result;
}

async function publishPlain(
  ctx: PublishContext,
  event: Exclude<NotificationEvent, 'approvalNeeded'>,
  request: Request,
  members: readonly Member[],
): Promise<string[]> {
  const messages = recipientsFor(event, request, members).map((r) =>
    buildMessage({ event }, request, r, ctx.now),
  );
  await ctx.publisher.publish(messages);
  return messages.map((m) => m.id);
}

/**
 * One personal link per approver who may still decide. The token row is written before the message
 * is published and marked sent after, so a run that dies in between is finished by the next one
 * with a fresh link (and a fresh message id), and a run after a successful publish sends nothing.
 */
async function publishApprovalLinks(
  ctx: PublishContext,
  request: Request,
  members: readonly Member[],
): Promise<string[]> {
  const recipients = recipientsFor(NotificationEvent.approvalNeeded, request, members);
  if (recipients.length === 0) return [];
  const base = ctx.publicBaseUrl;
  if (base === undefined)
    throw new Error('ZSA_PUBLIC_BASE_URL is not set, so approval links cannot be built.');
  const prepared = await Promise.all(
    recipients.map(async (recipient) => ({
      recipient,
      link:
        // Approvers are always keyed (`undecidedApprovers`); the guard keeps the type honest.
        recipient.id === undefined
          ? undefined
          : await ctx.tokens.prepare(
              request.id,
              { upn: recipient.upn, id: recipient.id },
              request.pendingUntil,
            ),
    })),
  );
  const messages: NotificationMessage[] = [];
  const toMark: { upn: string; link: PreparedLink }[] = [];
  for (const { recipient, link } of prepared) {
    if (link === undefined) continue;
    messages.push(
      buildMessage(
        { event: 'approvalNeeded', decisionUrl: decisionUrl(base, link.token), generation: link.generation },
        request,
        recipient,
        ctx.now,
      ),
    );
    toMark.push({ upn: recipient.upn, link });
  }
  if (messages.length === 0) return [];
  await ctx.publisher.publish(messages);
  await Promise.all(toMark.map((t) => ctx.tokens.markSent(request.id, t.upn, t.link)));
  return messages.map((m) => m.id);
}

/** The requester is told `ZSA_EXPIRY_NOTICE_MINUTES` before the grant ends; not at all for grants shorter than that. */
export function expiryNoticeAt(
  request: Pick<Request, 'status' | 'expiresAt'>,
  noticeMs: number,
  now: Date,
): Date | undefined {
  if (request.status !== 'approved' || request.expiresAt === null) return undefined;
  const at = instantOf(request.expiresAt) - noticeMs;
  return at > now.getTime() ? new Date(at) : undefined;
}

async function scheduleExpiryNotice(
  ctx: PublishContext,
  request: Request,
  members: readonly Member[],
): Promise<string[]> {
  const at = expiryNoticeAt(request, ctx.expiryNoticeMs, ctx.now);
  if (at === undefined) return [];
  if (await ctx.schedules.get(request.id, NotificationEvent.expiringSoon)) return [];
  const sequenceNumbers: string[] = [];
  for (const recipient of recipientsFor(NotificationEvent.expiringSoon, request, members)) {
    const message = buildMessage({ event: NotificationEvent.expiringSoon }, request, recipient, ctx.now);
    sequenceNumbers.push(...(await ctx.publisher.schedule(message, at)));
  }
  // A lost race means another run scheduled the same notice (same message id: Service Bus keeps one).
  await ctx.schedules.create(request.id, NotificationEvent.expiringSoon, sequenceNumbers);
  return sequenceNumbers;
}

async function cancelExpiryNotice(ctx: PublishContext, requestId: string): Promise<string[]> {
  const record = await ctx.schedules.get(requestId, NotificationEvent.expiringSoon);
  if (!record || record.state !== 'scheduled') return [];
  await ctx.publisher.cancel(record.sequenceNumbers);
  await ctx.schedules.markCanceled(requestId, NotificationEvent.expiringSoon, record);
  return [...record.sequenceNumbers];
}
