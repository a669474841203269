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
import { RequestAgent } from '#shared/domain/agents';
import { ScopeSchema, type ParameterValue } from '#shared/domain/catalog';
import { ReviewStatus } from '#shared/domain/emergency';
import { Id, normalizeUpn, TaskName, Upn } from '#shared/domain/names';
import { ApprovalTypeSchema } from '#shared/domain/policy';
import {
  Approval,
  ExtensionStatusSchema,
  MAX_COMMENT,
  MAX_REASON,
  RequestStatusSchema,
  requestGroups,
  roundOf,
  targetOf,
  type Extension,
  type Request,
} from '#shared/domain/request';
import {
  hasDecidedIn,
  MAX_REQUIRED_APPROVALS,
  MAX_STAGES,
  MAX_TOTAL_APPROVALS,
  stageViews,
  StageStatusSchema,
  tallyRound,
  type GroupMembers,
  type Round,
} from '#shared/domain/stages';
import { MAX_USES } from '#shared/domain/policy';
import { Hours, Timestamp } from '#shared/domain/time';
import type { Member } from '#shared/domain/pam';

export const NOTIFICATION_SCHEMA = 'zsa.notification';
/**
 * Bumped on any change a v1 reader would misread; readers refuse versions they do not know.
 *
 * Still 1 after approval stages, counted grants, scheduled starts and extensions: what they add is
 * new events and new fields, present only on the requests that use them, and every v1 schema is
 * strict, so a v1 reader refuses such a message (unknown event, unknown field) instead of reading
 * it wrongly, while a message about a request that uses none of them is exactly what v1 wrote.
 */
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
  /**
   * An emergency request was granted at once, without approval: every member of its approver
   * group(s) and of the default approver group hears of it, never the requester.
   */
  emergencyUsed: 'emergencyUsed',
  /** The review of an emergency use is still open: the same reviewers are reminded. */
  reviewReminder: 'reviewReminder',
  /** The review of an emergency use was closed: the requester hears the outcome. */
  reviewed: 'reviewed',
  /**
   * An AI agent with its own identity asked (sent with the first stage's `approvalNeeded`): its
   * sponsor hears "your agent asked for X", before anyone decides.
   */
  agentRequested: 'agentRequested',
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
  emergencyUsed: 'emergencyUsed',
  reviewReminder: 'reviewReminder',
  reviewed: 'reviewed',
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
  extensionId: z
    .string()
    .regex(/^[1-9][0-9]?$/)
    .optional(),
  /** The workflow's W3C trace context (shared/requests/orchestrations.ts): `zsa.notify` is its child. */
  traceparent: z.string().max(128).optional(),
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

/** A stage of a request with more than one, as its approvers and requester read it. */
const StageSummary = z.strictObject({
  approverGroup: z.string().max(128),
  requiredApprovals: z.int().min(1).max(MAX_REQUIRED_APPROVALS),
  status: StageStatusSchema,
});
export type StageSummary = z.output<typeof StageSummary>;

/** The review of an emergency use, as its messages show it. */
export const ReviewSummary = z.strictObject({
  status: z.enum(ReviewStatus),
  reviewer: Upn.nullable(),
  comment: z.string().max(MAX_COMMENT).nullable(),
  at: Timestamp.nullable(),
  remindedAt: Timestamp.nullable(),
});
export type ReviewSummary = z.output<typeof ReviewSummary>;

/** The extension an `extension…` message is about. */
export const ExtensionSummary = z.strictObject({
  id: z.string().regex(/^[1-9][0-9]?$/),
  hours: Hours,
  reason: z.string().max(MAX_REASON),
  status: ExtensionStatusSchema,
  approvals: z.array(Approval).max(MAX_TOTAL_APPROVALS),
  createdAt: Timestamp,
  pendingUntil: Timestamp,
  decidedAt: Timestamp.nullable(),
});
export type ExtensionSummary = z.output<typeof ExtensionSummary>;

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
  // Added after v1; present only on requests that use them, so other messages stay as v1 wrote them.
  /** Every stage, for a request decided in more than one (each approval says its `stage`). */
  stages: z.array(StageSummary).min(2).max(MAX_STAGES).optional(),
  /** The start the requester asked for (the grant runs from `grantedAt` once approved). */
  startAt: Timestamp.optional(),
  /** A counted grant: how many successful executions it allows, and how many it has had. */
  maxUses: z.int().min(1).max(MAX_USES).optional(),
  uses: z.int().min(0).max(MAX_USES).optional(),
  /** An emergency use (granted without approval), and its review. */
  emergency: z.literal(true).optional(),
  review: ReviewSummary.optional(),
  /** An AI agent asked, through the MCP tools: for the requester, or as itself (`sponsor` is told). */
  agent: RequestAgent.optional(),
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

/** Events about an extension that carry no link: the requester is told how it ended. */
export const ExtensionOutcomeEvent = {
  extensionApproved: 'extensionApproved',
  extensionDenied: 'extensionDenied',
  extensionExpired: 'extensionExpired',
  extensionCanceled: 'extensionCanceled',
} as const satisfies Partial<Record<NotificationEvent, NotificationEvent>>;
export type ExtensionOutcomeEvent = (typeof ExtensionOutcomeEvent)[keyof typeof ExtensionOutcomeEvent];

/** Events whose message carries a personal decision link. */
export type LinkEvent = 'approvalNeeded' | 'extensionRequested';

/**
 * Events that ask reviewers to close an emergency use's review: their message may carry the
 * request's address in the API (`apiUrl`, when `ZSA_PUBLIC_BASE_URL` is set).
 */
export type ReviewEvent = 'emergencyUsed' | 'reviewReminder';

/** Events whose message carries nothing beyond the envelope. */
export type PlainEvent = Exclude<NotificationEvent, LinkEvent | ExtensionOutcomeEvent | ReviewEvent>;

const plain = (event: PlainEvent) => z.strictObject({ ...envelope, event: z.literal(event) });
const reviewCall = (event: ReviewEvent) =>
  z.strictObject({
    ...envelope,
    event: z.literal(event),
    /** The request in the API (`GET` reads it; `POST …/review` closes its review). */
    apiUrl: z.url({ protocol: /^https?$/ }).optional(),
  });
const extensionOutcome = (event: ExtensionOutcomeEvent) =>
  z.strictObject({ ...envelope, event: z.literal(event), extension: ExtensionSummary });

/** The stage a link decides in (0-based). */
const LinkStage = z
  .int()
  .min(0)
  .max(MAX_STAGES - 1);

/** One notification for one recipient. */
export const NotificationMessage = z.discriminatedUnion('event', [
  z.strictObject({
    ...envelope,
    event: z.literal(NotificationEvent.approvalNeeded),
    /** The approver's personal, single-use link to the confirmation page. */
    decisionUrl: z.url({ protocol: /^https?$/ }),
    /** The stage the link decides in; only for a request with more than one. */
    stage: LinkStage.optional(),
  }),
  z.strictObject({
    ...envelope,
    event: z.literal(NotificationEvent.extensionRequested),
    /** The approver's personal, single-use link to decide on the extension in `stage`. */
    decisionUrl: z.url({ protocol: /^https?$/ }),
    stage: LinkStage,
    extension: ExtensionSummary,
  }),
  extensionOutcome(NotificationEvent.extensionApproved),
  extensionOutcome(NotificationEvent.extensionDenied),
  extensionOutcome(NotificationEvent.extensionExpired),
  extensionOutcome(NotificationEvent.extensionCanceled),
  plain(NotificationEvent.started),
  plain(NotificationEvent.approved),
  plain(NotificationEvent.denied),
  plain(NotificationEvent.canceled),
  plain(NotificationEvent.expired),
  plain(NotificationEvent.granted),
  plain(NotificationEvent.expiringSoon),
  plain(NotificationEvent.ended),
  plain(NotificationEvent.revoked),
  plain(NotificationEvent.failed),
  reviewCall(NotificationEvent.emergencyUsed),
  reviewCall(NotificationEvent.reviewReminder),
  plain(NotificationEvent.reviewed),
  plain(NotificationEvent.agentRequested),
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

/** Whether the request is decided in more than one stage (its messages then say which). */
export function isMultiStage(request: Pick<Request, 'stages'>): boolean {
  return request.stages.length > 1;
}

/**
 * Approvals as messages carry them: tagged with their stage only when there is more than one (a
 * single stage's approvals read as v1 wrote them).
 */
function shownApprovals(approvals: readonly Approval[], multiStage: boolean): Approval[] {
  return approvals.map((a) => {
    if (multiStage) return a;
    const { stage: _stage, ...rest } = a;
    return rest;
  });
}

export function summarizeExtension(request: Request, extension: Extension): ExtensionSummary {
  return {
    id: extension.id,
    hours: extension.hours,
    reason: extension.reason,
    status: extension.status,
    approvals: shownApprovals(extension.approvals, isMultiStage(request)).slice(0, MAX_TOTAL_APPROVALS),
    createdAt: extension.createdAt,
    pendingUntil: extension.pendingUntil,
    decidedAt: extension.decidedAt,
  };
}

export function summarize(request: Request): RequestSummary {
  const target = targetOf(request);
  const multiStage = isMultiStage(request);
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
    approvals: shownApprovals(request.approvals, multiStage),
    createdAt: request.createdAt,
    pendingUntil: request.pendingUntil,
    decidedAt: request.decidedAt,
    grantedAt: request.grantedAt,
    expiresAt: request.expiresAt,
    endedAt: request.endedAt,
    endedBy: request.endedBy,
    endReason: request.endReason,
    ...(multiStage
      ? {
          stages: stageViews(roundOf(request), request.status === 'pending').map((v) => ({
            approverGroup: v.approverGroup,
            requiredApprovals: v.requiredApprovals,
            status: v.status,
          })),
        }
      : {}),
    ...(request.startAt === null ? {} : { startAt: request.startAt }),
    ...(request.maxUses === null ? {} : { maxUses: request.maxUses, uses: request.uses }),
    ...(request.emergency ? { emergency: true as const } : {}),
    ...(request.agent === undefined ? {} : { agent: request.agent }),
    ...(request.review === null
      ? {}
      : {
          review: {
            status: request.review.status,
            reviewer: request.review.reviewer,
            comment: request.review.comment,
            at: request.review.at,
            remindedAt: request.review.remindedAt,
          },
        }),
  };
}

/**
 * The message id scope of a review reminder: the time the period it ends began (the last reminder,
 * or the grant). Every run that finds the same review due builds the same ids, so Service Bus keeps
 * one message per reviewer however many runs publish it, and the next period's reminder is new.
 */
export function reminderScope(
  request: Pick<Request, 'review' | 'grantedAt' | 'createdAt'>,
): string | undefined {
  if (request.review === null) return undefined;
  return `r${Date.parse(request.review.remindedAt ?? request.grantedAt ?? request.createdAt)}`;
}

/**
 * A short, stable stand-in for a recipient in message ids: UPNs can be 256 characters and a
 * Service Bus messageId at most 128.
 */
export function recipientKey(upn: string): string {
  return createHash('sha256').update(normalizeUpn(upn)).digest('hex').slice(0, 16);
}

/**
 * `<requestId>:<event>[:<scope>]:<recipientKey>`, plus `:<generation>` for approval links: a
 * re-published link (its token was re-minted after a crash) must not be dropped as a duplicate of
 * the lost one. `scope` tells apart what one request may send a person several times: a later
 * stage's link (`s1`), an extension's messages (`x2`, `x2s1`); absent for the request's first
 * stage and its own events, whose ids are as before stages.
 */
export function messageId(
  requestId: string,
  event: NotificationEvent,
  recipient: string,
  generation?: number,
  scope?: string,
): string {
  const base = `${requestId}:${event}${scope ? `:${scope}` : ''}:${recipientKey(recipient)}`;
  return generation === undefined ? base : `${base}:${generation}`;
}

/** The `scope` of a message id: which stage's link, which extension. */
export function messageScope(binding: {
  stage?: number;
  extensionId?: string | undefined;
}): string | undefined {
  const stage = binding.stage ?? 0;
  if (binding.extensionId !== undefined) return `x${binding.extensionId}${stage > 0 ? `s${stage}` : ''}`;
  return stage > 0 ? `s${stage}` : undefined;
}

export interface Recipient {
  readonly upn: string;
  /** The member's stable key, for approvers: a decision link is bound to it. */
  readonly id?: string | undefined;
  readonly audience: Audience;
}

/**
 * Members who may decide in a round: never its requester, never one who already decided in it (in
 * any stage), and never a member saved before members were keyed (they may not decide until the
 * directory migration resolves them, so a link would only lead to a refusal).
 */
function undecidedIn(
  request: Request,
  round: Pick<Round, 'approvals'>,
  members: readonly Member[],
): Member[] {
  const out: Member[] = [];
  for (const m of members) {
    if (m.id === null || m.id === request.requesterId || hasDecidedIn(round, { id: m.id, upn: m.upn }))
      continue;
    if (out.some((o) => o.id === m.id)) continue;
    out.push(m);
  }
  return out;
}

/** Approver group members who may still decide on `request` (its own round). */
export function undecidedApprovers(request: Request, members: readonly Member[]): Member[] {
  return undecidedIn(request, request, members);
}

/** The members of stage `stage`'s group (none for a stage or group that does not exist). */
function stageMembers(request: Request, members: GroupMembers, stage: number): readonly Member[] {
  const group = request.stages[stage]?.approverGroup;
  return group === undefined ? [] : (members.get(group) ?? []);
}

/**
 * The stage whose approvers held live links when the round stopped: the one open then, the one
 * that denied, or the last (approved). For an automatic request with a group to tell, that group.
 */
function lastOpenStage(round: Round): number {
  const tally = tallyRound(round);
  return tally.state === 'approved' ? round.stages.length - 1 : tally.stage;
}

/** Who an event is about beyond the request: which stage's approvers, which extension. */
export interface Audiences {
  /** The stage whose approvers are asked (`approvalNeeded`, `extensionRequested`); absent: the first. */
  readonly stage?: number | undefined;
  readonly extension?: Extension | undefined;
  /** The configured default approver group: it reviews emergency uses too. */
  readonly defaultApproverGroup?: string | null | undefined;
}

/**
 * Who reviews an emergency use: every member of the request's approver group(s) and of the default
 * approver group, each once, never the requester (by key, and by name for members not yet keyed).
 */
export function reviewersOf(
  request: Request,
  members: GroupMembers,
  defaultApproverGroup: string | null | undefined,
): Recipient[] {
  const groups = [...requestGroups(request), ...(defaultApproverGroup ? [defaultApproverGroup] : [])];
  const requester = normalizeUpn(request.requester);
  const out: Recipient[] = [];
  for (const m of groups.flatMap((g) => members.get(g) ?? [])) {
    const upn = normalizeUpn(m.upn);
    if (m.id === request.requesterId || upn === requester) continue;
    if (out.some((o) => o.upn === upn)) continue;
    out.push({ upn, id: m.id ?? undefined, audience: Audience.approver });
  }
  return out;
}

/**
 * Who hears of `event`. Approvers are told what needs them (a request or an extension to decide, in
 * their stage only, when it opens) and what ended their part in it (decided by someone else,
 * withdrawn); the requester is told everything that happens to their access, except their own
 * cancel of the request.
 */
export function recipientsFor(
  event: NotificationEvent,
  request: Request,
  members: GroupMembers,
  about: Audiences = {},
): Recipient[] {
  const asApprovers = (list: readonly Member[]): Recipient[] =>
    list.map((m) => ({ upn: m.upn, id: m.id ?? undefined, audience: Audience.approver }));
  const requester: Recipient = { upn: request.requester, audience: Audience.requester };
  const round = roundOf(request);
  // An automatic request has no stages: the group it names is told as before stages.
  const groupOfRound =
    request.stages.length === 0
      ? request.approverGroup === null
        ? []
        : (members.get(request.approverGroup) ?? [])
      : stageMembers(request, members, lastOpenStage(round));
  const stage = about.stage ?? 0;
  switch (event) {
    case 'approvalNeeded': {
      // A request decided before its emails went out needs nobody any more; nor does a stage that
      // is not the open one (over already, or not open yet: its approvers hear when it opens).
      const tally = tallyRound(round);
      if (request.status !== 'pending' || tally.state !== 'pending' || tally.stage !== stage) return [];
      return asApprovers(undecidedIn(request, round, stageMembers(request, members, stage)));
    }
    case 'extensionRequested': {
      const extension = about.extension;
      if (extension === undefined || extension.status !== 'pending') return [];
      const extensionRound = { stages: request.stages, approvals: extension.approvals };
      const tally = tallyRound(extensionRound);
      if (tally.state !== 'pending' || tally.stage !== stage) return [];
      return asApprovers(undecidedIn(request, extensionRound, stageMembers(request, members, stage)));
    }
    case 'approved':
    case 'denied':
      return [requester, ...asApprovers(undecidedIn(request, round, groupOfRound))];
    case 'canceled':
      return asApprovers(undecidedIn(request, round, groupOfRound));
    case 'expired':
    case 'granted':
    case 'started':
    case 'expiringSoon':
    case 'ended':
    case 'revoked':
    case 'extensionApproved':
    case 'extensionDenied':
    case 'extensionExpired':
    case 'extensionCanceled':
      return [requester];
    case 'emergencyUsed':
      return request.emergency ? reviewersOf(request, members, about.defaultApproverGroup) : [];
    case 'reviewReminder':
      return request.review?.status === 'open'
        ? reviewersOf(request, members, about.defaultApproverGroup)
        : [];
    case 'reviewed':
      return request.review !== null && request.review.status !== 'open' ? [requester] : [];
    case 'agentRequested': {
      // The sponsor of an agent with its own identity: the request's requester, told it was asked.
      const sponsor = request.agent?.sponsor ?? null;
      return request.status === 'pending' && sponsor !== null
        ? [{ upn: sponsor, audience: Audience.requester }]
        : [];
    }
    case 'failed': {
      // An alert: someone must look into it, so every member of every group it names, decided or not.
      const everyone = [...members.values()].flat();
      return [
        requester,
        ...everyone
          .filter((m, i, all) => m.id !== request.requesterId && all.findIndex((o) => o.upn === m.upn) === i)
          .map((m) => ({ upn: m.upn, audience: Audience.approver })),
      ];
    }
  }
}

/** What a message is built from beyond the request and its recipient. */
export type MessageInput =
  | { event: 'approvalNeeded'; decisionUrl: string; generation: number; stage?: number }
  | {
      event: 'extensionRequested';
      decisionUrl: string;
      generation: number;
      stage: number;
      extension: Extension;
    }
  | { event: ExtensionOutcomeEvent; extension: Extension }
  /** `scope`: for a reminder, `reminderScope` (each reminder is a new message). */
  | { event: ReviewEvent; apiUrl?: string | undefined; scope?: string | undefined }
  /** `scope`: for an expiring-soon notice rescheduled by an extension (`x2`), so its id is new. */
  | { event: PlainEvent; scope?: string | undefined };

/** Builds one message; `decisionUrl` only for approval links. */
export function buildMessage(
  input: MessageInput,
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
  switch (input.event) {
    case 'approvalNeeded': {
      const stage = input.stage ?? 0;
      return {
        ...common,
        id: messageId(request.id, input.event, recipient.upn, input.generation, messageScope({ stage })),
        event: input.event,
        decisionUrl: input.decisionUrl,
        ...(isMultiStage(request) ? { stage } : {}),
      };
    }
    case 'extensionRequested':
      return {
        ...common,
        id: messageId(
          request.id,
          input.event,
          recipient.upn,
          input.generation,
          messageScope({ stage: input.stage, extensionId: input.extension.id }),
        ),
        event: input.event,
        decisionUrl: input.decisionUrl,
        stage: input.stage,
        extension: summarizeExtension(request, input.extension),
      };
    case 'extensionApproved':
    case 'extensionDenied':
    case 'extensionExpired':
    case 'extensionCanceled':
      return {
        ...common,
        id: messageId(
          request.id,
          input.event,
          recipient.upn,
          undefined,
          messageScope({ extensionId: input.extension.id }),
        ),
        event: input.event,
        extension: summarizeExtension(request, input.extension),
      };
    case 'emergencyUsed':
    case 'reviewReminder':
      return {
        ...common,
        id: messageId(request.id, input.event, recipient.upn, undefined, input.scope),
        event: input.event,
        ...(input.apiUrl === undefined ? {} : { apiUrl: input.apiUrl }),
      };
    default:
      return {
        ...common,
        id: messageId(request.id, input.event, recipient.upn, undefined, input.scope),
        event: input.event,
      };
  }
}
