/**
 * The `notify` story: load the request → decide who hears what → (approval links: mint one token per
 * approver, bound to the stage, or the extension's stage, they decide in) → publish one message per
 * recipient → (granted, or an extension approved: schedule the expiring-soon notice; revoked or
 * ended: cancel it). Idempotent, because activities run at least once: message ids are
 * deterministic (Service Bus drops repeats), tokens are minted once per approver and stage
 * (store.ts), the schedule is recorded once per request and grant end.
 */
import { DomainError } from '#shared/domain/errors';
import type { Member } from '#shared/domain/pam';
import { extensionOf } from '#shared/domain/extensions';
import { requestGroups, type Extension, type Request } from '#shared/domain/request';
import type { GroupMembers } from '#shared/domain/stages';
import { instantOf } from '#shared/domain/time';
import type { RequestRepository } from '#shared/requests/repository';
import { Attr, SpanName } from '#shared/telemetry/names';
import { contextOf, inSpan } from '#shared/telemetry/spans';
import {
  buildMessage,
  messageScope,
  NotificationEvent,
  recipientsFor,
  reminderScope,
  type ExtensionOutcomeEvent,
  type NotificationMessage,
  type NotifyInput,
  type PlainEvent,
  type Recipient,
} from './messages';
import type { Publisher } from './publisher';
import type { LinkBinding, PreparedLink, ScheduleStore, TokenStore } from './store';
import { decisionUrl } from './tokens';

export interface PublishContext {
  requests: Pick<RequestRepository, 'read'>;
  /** Members of an approver group; empty when it does not exist. */
  groupMembers(group: string): Promise<readonly Member[]>;
  /** The configured default approver group (it reviews emergency uses too); absent: none. */
  defaultApproverGroup?: () => Promise<string | null>;
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

/** The members of every group the request names (and `extra`), by group. */
async function membersOf(
  ctx: PublishContext,
  request: Request,
  extra: string | null = null,
): Promise<GroupMembers> {
  const groups = [...new Set([...requestGroups(request), ...(extra === null ? [] : [extra])])];
  const lists = await Promise.all(groups.map((g) => ctx.groupMembers(g)));
  return new Map(groups.map((g, i) => [g, lists[i] ?? []]));
}

function extensionNamed(request: Request, input: NotifyInput): Extension {
  const extension = input.extensionId === undefined ? undefined : extensionOf(request, input.extensionId);
  if (extension === undefined)
    throw new DomainError(
      'NOT_FOUND',
      `Request ${request.id} has no extension ${String(input.extensionId)} to notify ${input.event} of`,
    );
  return extension;
}

/** The `notify` activity's story: what the event means for whom, published (traced as `zsa.notify`). */
export async function publishNotification(ctx: PublishContext, input: NotifyInput): Promise<PublishResult> {
  const attributes = { [Attr.RequestId]: input.requestId, [Attr.Channel]: input.event };
  return inSpan(
    SpanName.Notify,
    attributes,
    async (span) => {
      const result = await publish(ctx, input);
      span.set({ [Attr.Outcome]: result.published.length > 0 ? 'published' : 'nothing' });
      return result;
    },
    contextOf(input.traceparent),
  );
}

async function publish(ctx: PublishContext, input: NotifyInput): Promise<PublishResult> {
  const request = (await ctx.requests.read(input.requestId))?.request;
  if (!request) throw new DomainError('NOT_FOUND', `No request with id ${input.requestId}`);
  const members = await membersOf(ctx, request);
  const result: PublishResult = { published: [], scheduled: [], canceled: [] };
  const stage = input.stage ?? 0;
  switch (input.event) {
    case 'approvalNeeded':
      result.published = await publishLinks(ctx, request, members, { stage });
      // An agent's sponsor hears of the request once, when it is first put to approvers.
      if (stage === 0 && request.agent?.sponsor)
        result.published.push(
          ...(await publishPlain(ctx, NotificationEvent.agentRequested, request, members)),
        );
      break;
    case 'extensionRequested':
      result.published = await publishLinks(ctx, request, members, {
        stage,
        extensionId: extensionNamed(request, input).id,
      });
      break;
    case 'granted':
      result.published = await publishPlain(ctx, input.event, request, members);
      result.scheduled = await scheduleExpiryNotice(ctx, request, members);
      break;
    case 'extensionApproved': {
      const extension = extensionNamed(request, input);
      result.published = await publishExtensionOutcome(ctx, input.event, request, members, extension);
      // The grant now ends later: the notice of the old end is dropped by the sender (it checks the
      // end), so the new end gets its own.
      result.canceled = await cancelExpiryNotice(ctx, request, { keepLatest: true });
      result.scheduled = await scheduleExpiryNotice(ctx, request, members);
      break;
    }
    case 'extensionDenied':
    case 'extensionExpired':
    case 'extensionCanceled':
      result.published = await publishExtensionOutcome(
        ctx,
        input.event,
        request,
        members,
        extensionNamed(request, input),
      );
      break;
    case 'ended':
    case 'revoked':
    case 'failed':
      result.canceled = await cancelExpiryNotice(ctx, request);
      result.published = await publishPlain(ctx, input.event, request, members);
      break;
    case 'approved':
    case 'denied':
    case 'canceled':
    case 'expired':
    case 'started':
    case 'reviewed':
      result.published = await publishPlain(ctx, input.event, request, members);
      break;
    case 'emergencyUsed':
    case 'reviewReminder':
      result.published = await publishReviewCall(ctx, input.event, request);
      break;
  }
  return result;
}

async function publishPlain(
  ctx: PublishContext,
  event: PlainEvent,
  request: Request,
  members: GroupMembers,
): Promise<string[]> {
  const messages = recipientsFor(event, request, members).map((r) =>
    buildMessage({ event }, request, r, ctx.now),
  );
  await ctx.publisher.publish(messages);
  return messages.map((m) => m.id);
}

/**
 * Tells an emergency use's reviewers (the request's groups and the default approver group) that
 * it happened, or that its review is still open. A reminder's id carries the start of the period it
 * ends (`reminderScope`), so each reminder is sent once and the next one is new.
 */
async function publishReviewCall(
  ctx: PublishContext,
  event: 'emergencyUsed' | 'reviewReminder',
  request: Request,
): Promise<string[]> {
  const defaultApproverGroup = (await ctx.defaultApproverGroup?.()) ?? null;
  const members = await membersOf(ctx, request, defaultApproverGroup);
  const base = ctx.publicBaseUrl?.replace(/\/+$/, '');
  const apiUrl = base === undefined ? undefined : `${base}/api/requests/${encodeURIComponent(request.id)}`;
  const scope = event === 'reviewReminder' ? reminderScope(request) : undefined;
  const messages = recipientsFor(event, request, members, { defaultApproverGroup }).map((r) =>
    buildMessage({ event, apiUrl, scope }, request, r, ctx.now),
  );
  await ctx.publisher.publish(messages);
  return messages.map((m) => m.id);
}

async function publishExtensionOutcome(
  ctx: PublishContext,
  event: ExtensionOutcomeEvent,
  request: Request,
  members: GroupMembers,
  extension: Extension,
): Promise<string[]> {
  const messages = recipientsFor(event, request, members, { extension }).map((r) =>
    buildMessage({ event, extension }, request, r, ctx.now),
  );
  await ctx.publisher.publish(messages);
  return messages.map((m) => m.id);
}

/**
 * One personal link per approver of the open stage who may still decide, bound to that stage (and
 * extension). The token row is written before the message is published and marked sent after, so a
 * run that dies in between is finished by the next one with a fresh link (and a fresh message id),
 * and a run after a successful publish sends nothing. A stage that is not the open one (over, or
 * not open yet) gets no links.
 */
async function publishLinks(
  ctx: PublishContext,
  request: Request,
  members: GroupMembers,
  binding: LinkBinding,
): Promise<string[]> {
  const extension = binding.extensionId === undefined ? undefined : extensionOf(request, binding.extensionId);
  const event =
    extension === undefined ? NotificationEvent.approvalNeeded : NotificationEvent.extensionRequested;
  const recipients: Recipient[] = recipientsFor(event, request, members, { stage: binding.stage, extension });
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
              extension?.pendingUntil ?? request.pendingUntil,
              binding,
            ),
    })),
  );
  const messages: NotificationMessage[] = [];
  const toMark: { upn: string; link: PreparedLink }[] = [];
  for (const { recipient, link } of prepared) {
    if (link === undefined) continue;
    const url = decisionUrl(base, link.token);
    messages.push(
      buildMessage(
        extension === undefined
          ? { event: 'approvalNeeded', decisionUrl: url, generation: link.generation, stage: binding.stage }
          : {
              event: 'extensionRequested',
              decisionUrl: url,
              generation: link.generation,
              stage: binding.stage,
              extension,
            },
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

/**
 * The schedule record (and message id scope) of the notice for the grant's current end: the
 * original end's under `expiringSoon` as before extensions, each approved extension's end under
 * `expiringSoon-x<id>` (its message needs a new id: Service Bus would drop a repeat of the first).
 */
function noticeKeys(request: Request): { row: string; scope: string | undefined }[] {
  return [
    { row: NotificationEvent.expiringSoon, scope: undefined },
    ...request.extensions
      .filter((e) => e.status === 'approved')
      .map((e) => {
        const scope = messageScope({ extensionId: e.id });
        return { row: `${NotificationEvent.expiringSoon}-${scope ?? ''}`, scope };
      }),
  ];
}

async function scheduleExpiryNotice(
  ctx: PublishContext,
  request: Request,
  members: GroupMembers,
): Promise<string[]> {
  const at = expiryNoticeAt(request, ctx.expiryNoticeMs, ctx.now);
  if (at === undefined) return [];
  const key = noticeKeys(request).at(-1);
  if (key === undefined || (await ctx.schedules.get(request.id, key.row))) return [];
  const sequenceNumbers: string[] = [];
  for (const recipient of recipientsFor(NotificationEvent.expiringSoon, request, members)) {
    const message = buildMessage(
      { event: NotificationEvent.expiringSoon, scope: key.scope },
      request,
      recipient,
      ctx.now,
    );
    sequenceNumbers.push(...(await ctx.publisher.schedule(message, at)));
  }
  // A lost race means another run scheduled the same notice (same message id: Service Bus keeps one).
  await ctx.schedules.create(request.id, key.row, sequenceNumbers);
  return sequenceNumbers;
}

/**
 * Cancels the notices still scheduled for the grant (its first end and each extended one), or,
 * with `keepLatest`, all but the current end's (a re-run after an extension must not cancel the
 * notice it scheduled).
 */
async function cancelExpiryNotice(
  ctx: PublishContext,
  request: Request,
  options: { keepLatest: boolean } = { keepLatest: false },
): Promise<string[]> {
  const canceled: string[] = [];
  const keys = noticeKeys(request);
  for (const { row } of options.keepLatest ? keys.slice(0, -1) : keys) {
    const record = await ctx.schedules.get(request.id, row);
    if (!record || record.state !== 'scheduled') continue;
    await ctx.publisher.cancel(record.sequenceNumbers);
    await ctx.schedules.markCanceled(request.id, row, record);
    canceled.push(...record.sequenceNumbers);
  }
  return canceled;
}
