/**
 * The notification contract: what the orchestration's `notify` activity publishes on Service Bus
 * and the email sender (or any other reader) consumes. One message per recipient, versioned,
 * self-contained (a bounded summary of the request, so readers need no access to storage), with a
 * deterministic id so a re-run activity never publishes twice (Service Bus drops a repeated id).
 *
 * Pure: no I/O, no clock, no randomness.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ScopeSchema, type ParameterValue } from '#shared/domain/catalog';
import { Id, normalizeUpn, TaskName, Upn } from '#shared/domain/names';
import { ApprovalTypeSchema } from '#shared/domain/policy';
import {
  Approval,
  hasDecided,
  MAX_COMMENT,
  RequestStatusSchema,
  targetOf,
  type Request,
} from '#shared/domain/request';
import { Hours, Timestamp } from '#shared/domain/time';
import type { Member } from '#shared/domain/pam';

export const NOTIFICATION_SCHEMA = 'zsa.notification';
/** Bumped on any change a v1 reader would misread; readers refuse versions they do not know. */
export const NOTIFICATION_VERSION = 1;

/** The queue the email sender reads. Only the sender may read it: approval messages carry live links. */
export const NOTIFICATIONS_QUEUE = 'zsa-notifications';

/** Every notification, in the order a request lives them. */
export const NotificationEvent = {
  approvalNeeded: 'approvalNeeded',
  approved: 'approved',
  denied: 'denied',
  canceled: 'canceled',
  expired: 'expired',
  granted: 'granted',
  expiringSoon: 'expiringSoon',
  ended: 'ended',
  revoked: 'revoked',
  /** A system fault stopped the request (docs/design.md §3): the requester and the whole approver group hear of it. */
  failed: 'failed',
  /** A scheduled grant reached its start: the requester may use it now. */
  started: 'started',
  /** An extension waits for the approvers of its open stage (`stage`, `extensionId`). */
  extensionRequested: 'extensionRequested',
  extensionApproved: 'extensionApproved',
  extensionDenied: 'extensionDenied',
  extensionExpired: 'extensionExpired',
  extensionCanceled: 'extensionCanceled',
} as const;
export type NotificationEvent = (typeof NotificationEvent)[keyof typeof NotificationEvent];

/** What the orchestration may ask `notify` for; `expiringSoon` is scheduled by `granted`, never asked for. */
export const NotifyEvent = {
  approvalNeeded: 'approvalNeeded',
  approved: 'approved',
  denied: 'denied',
  canceled: 'canceled',
  expired: 'expired',
  granted: 'granted',
  ended: 'ended',
  revoked: 'revoked',
  failed: 'failed',
  started: 'started',
  extensionRequested: 'extensionRequested',
  extensionApproved: 'extensionApproved',
  extensionDenied: 'extensionDenied',
  extensionExpired: 'extensionExpired',
  extensionCanceled: 'extensionCanceled',
} as const satisfies Partial<Record<NotificationEvent, NotificationEvent>>;
export type NotifyEvent = (typeof NotifyEvent)[keyof typeof NotifyEvent];

/**
 * Input of the `notify` activity (functions/access-request.ts). `stage`: for `approvalNeeded` and
 * `extensionRequested`, the stage whose approvers are asked (absent: the first). `extensionId`:
 * the extension an `extension…` event is about.
 */
export const NotifyInput = z.strictObject({
  requestId: Id,
  event: z.enum(NotifyEvent),
  stage: z.int().min(0).max(4).optional(),
  extensionId: z.string().regex(/^[1-9][0-9]?$/).optional(),
});
export type NotifyInput = z.output<typeof NotifyInput>;

/** Why the recipient gets the message: it decides wording ("your request" or "their request"). */
export const Audience = { approver: 'approver', requester: 'requester' } as const;
export type Audience = (typeof Audience)[keyof typeof Audience];

// Bounds that keep one message far below Service Bus's 256 KB, whatever the request holds
// (a role group can grant hundreds of tasks; a parameter can be 8 KiB).
export const MAX_SUMMARY_TASKS = 50;
export const MAX_SUMMARY_PARAMETERS = 50;
export const MAX_SUMMARY_VALUE = 500;

const DisplayParameter = z.strictObject({
  name: z.string().max(64),
  /** The value as text, cut at MAX_SUMMARY_VALUE characters (with `truncated`). */
  value: z.string().max(MAX_SUMMARY_VALUE),
  truncated: z.boolean(),
});

/** What a person needs to judge or recognise the request, bounded. */
export const RequestSummary = z.strictObject({
  id: Id,
  requester: Upn,
  target: z.strictObject({ scope: ScopeSchema, name: TaskName }),
  /** The first MAX_SUMMARY_TASKS effective tasks; `taskCount` says how many there are. */
  tasks: z.array(TaskName).max(MAX_SUMMARY_TASKS),
  taskCount: z.int().min(1),
  reason: z.string().max(1000),
  ticket: z.string().max(128).nullable(),
  durationHours: Hours,
  /** Null when the request pins no parameters. */
  parameters: z.array(DisplayParameter).max(MAX_SUMMARY_PARAMETERS).nullable(),
  status: RequestStatusSchema,
  approvalType: ApprovalTypeSchema,
  requiredApprovals: z.int().min(0),
  approvals: z.array(Approval),
  createdAt: Timestamp,
  pendingUntil: Timestamp,
  decidedAt: Timestamp.nullable(),
  grantedAt: Timestamp.nullable(),
  expiresAt: Timestamp.nullable(),
  endedAt: Timestamp.nullable(),
  endedBy: Upn.nullable(),
  endReason: z.string().max(MAX_COMMENT).nullable(),
});
export type RequestSummary = z.output<typeof RequestSummary>;

const envelope = {
  schema: z.literal(NOTIFICATION_SCHEMA),
  version: z.literal(NOTIFICATION_VERSION),
  /** Also the Service Bus messageId (≤ 128 characters). */
  id: z.string().min(1).max(128),
  requestId: Id,
  recipient: Upn,
  audience: z.enum(Audience),
  /** When the event was published (for `expiringSoon`: when it was scheduled). */
  occurredAt: Timestamp,
  request: RequestSummary,
};

const plain = (event: Exclude<NotificationEvent, 'approvalNeeded'>) =>
  z.strictObject({ ...envelope, event: z.literal(event) });

/** One notification for one recipient. */
export const NotificationMessage = z.discriminatedUnion('event', [
  z.strictObject({
    ...envelope,
    event: z.literal(NotificationEvent.approvalNeeded),
    /** The approver's personal, single-use link to the confirmation page. */
    decisionUrl: z.url({ protocol: /^https?$/ }),
  }),
  plain(NotificationEvent.approved),
  plain(NotificationEvent.denied),
  plain(NotificationEvent.canceled),
  plain(NotificationEvent.expired),
  plain(NotificationEvent.granted),
  plain(NotificationEvent.expiringSoon),
  plain(NotificationEvent.ended),
  plain(NotificationEvent.revoked),
  plain(NotificationEvent.failed),
]);
export type NotificationMessage = z.output<typeof NotificationMessage>;

/** Just enough of the envelope to know what a message is, before trusting the rest. */
export const NotificationEnvelope = z.object({
  schema: z.literal(NOTIFICATION_SCHEMA),
  version: z.number(),
});

// --- Building ---------------------------------------------------------------------------------

function displayValue(value: ParameterValue): { value: string; truncated: boolean } {
  const text = typeof value === 'string' ? value : String(value);
  return text.length > MAX_SUMMARY_VALUE
    ? { value: text.slice(0, MAX_SUMMARY_VALUE - 1) + '…', truncated: true }
    : { value: text, truncated: false };
}

export function summarize(request: Request): RequestSummary {
  const target = targetOf(request);
  return {
    id: request.id,
    requester: request.requester,
    target: { scope: target.scope, name: target.name },
    tasks: request.tasks.slice(0, MAX_SUMMARY_TASKS),
    taskCount: request.tasks.length,
    reason: request.reason,
    ticket: request.ticket,
    durationHours: request.durationHours,
    parameters:
      request.parameters === null
        ? null
        : Object.entries(request.parameters)
            .slice(0, MAX_SUMMARY_PARAMETERS)
            .map(([name, v]) => ({ name, ...displayValue(v) })),
    status: request.status,
    approvalType: request.approvalType,
    requiredApprovals: request.requiredApprovals,
    approvals: request.approvals,
    createdAt: request.createdAt,
    pendingUntil: request.pendingUntil,
    decidedAt: request.decidedAt,
    grantedAt: request.grantedAt,
    expiresAt: request.expiresAt,
    endedAt: request.endedAt,
    endedBy: request.endedBy,
    endReason: request.endReason,
  };
}

/**
 * A short, stable stand-in for a recipient in message ids: UPNs can be 256 characters and a
 * Service Bus messageId at most 128.
 */
export function recipientKey(upn: string): string {
  return createHash('sha256').update(normalizeUpn(upn)).digest('hex').slice(0, 16);
}

/**
 * `<requestId>:<event>:<recipientKey>`, plus `:<generation>` for approval links: a re-published
 * link (its token was re-minted after a crash) must not be dropped as a duplicate of the lost one.
 */
export function messageId(
  requestId: string,
  event: NotificationEvent,
  recipient: string,
  generation?: number,
): string {
  const base = `${requestId}:${event}:${recipientKey(recipient)}`;
  return generation === undefined ? base : `${base}:${generation}`;
}

export interface Recipient {
  readonly upn: string;
  /** The member's stable key, for approvers: a decision link is bound to it. */
  readonly id?: string | undefined;
  readonly audience: Audience;
}

/**
 * Approver group members who may decide on `request`: never its requester, never one who already
 * decided, and never a member saved before members were keyed (they may not decide until the
 * directory migration resolves them, so a link would only lead to a refusal).
 */
export function undecidedApprovers(request: Request, members: readonly Member[]): Member[] {
  const out: Member[] = [];
  for (const m of members) {
    if (m.id === null || m.id === request.requesterId || hasDecided(request, { id: m.id, upn: m.upn }))
      continue;
    if (out.some((o) => o.id === m.id)) continue;
    out.push(m);
  }
  return out;
}

/**
 * Who hears of `event`. Approvers are told what needs them (a request to decide) and what ended
 * their part in it (decided by someone else, withdrawn); the requester is told everything that
 * happens to their access, except their own cancel.
 */
export function recipientsFor(
  event: NotificationEvent,
  request: Request,
  members: readonly Member[],
): Recipient[] {
  const approvers = (): Recipient[] =>
    undecidedApprovers(request, members).map((m) => ({
      upn: m.upn,
      id: m.id ?? undefined,
      audience: Audience.approver,
    }));
  const requester: Recipient = { upn: request.requester, audience: Audience.requester };
  switch (event) {
    case 'approvalNeeded':
      // A request decided before its emails went out needs nobody any more.
      return request.status === 'pending' ? approvers() : [];
    case 'approved':
    case 'denied':
      return [requester, ...approvers()];
    case 'canceled':
      return approvers();
    case 'expired':
    case 'granted':
    case 'expiringSoon':
    case 'ended':
    case 'revoked':
      return [requester];
    case 'failed':
      // An alert: someone must look into it, so every member of the group, decided or not.
      return [
        requester,
        ...members
          .filter((m, i, all) => m.id !== request.requesterId && all.findIndex((o) => o.upn === m.upn) === i)
          .map((m) => ({ upn: m.upn, audience: Audience.approver })),
      ];
  }
}

/** Builds one message; `decisionUrl` only for approval links. */
export function buildMessage(
  input:
    | { event: 'approvalNeeded'; decisionUrl: string; generation: number }
    | { event: Exclude<NotificationEvent, 'approvalNeeded'> },
  request: Request,
  recipient: Recipient,
  now: Date,
): NotificationMessage {
  const common = {
    schema: NOTIFICATION_SCHEMA,
    version: NOTIFICATION_VERSION,
    requestId: request.id,
    recipient: normalizeUpn(recipient.upn),
    audience: recipient.audience,
    occurredAt: now.toISOString(),
    request: summarize(request),
  } as const;
  if (input.event === 'approvalNeeded') {
    return {
      ...common,
      id: messageId(request.id, input.event, recipient.upn, input.generation),
      event: input.event,
      decisionUrl: input.decisionUrl,
    };
  }
  return { ...common, id: messageId(request.id, input.event, recipient.upn), event: input.event };
}
