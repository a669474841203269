/**
 * The Adaptive Cards (1.5, what Teams renders) ZSA sends in Teams: the approval card of one approver
 * for one stage of a request or of one of its extensions, in whatever state that is now, and the
 * requester's outcome card. The approval card shows what the decision page shows (requester, task,
 * parameters, reason, ticket, duration, decide-by, stages, emergency) and, while its stage is open
 * and the approver may still decide, Approve and Deny (`Action.Execute`, Universal Actions) with an
 * optional comment. A request that asks for step-up gets "Open to decide" instead: a Teams activity
 * proves nothing about how its user signed in, so the decision is made in the portal.
 *
 * Every value that comes from a request is shown in a `TextRun`, which Adaptive Cards never read as
 * markdown: a reason cannot turn into a link or a fake heading. Only ZSA's own labels use TextBlock.
 *
 * Pure: no I/O, no clock (the caller passes `now`).
 */
import type {
  ActionArray,
  CardElementArray,
  IAdaptiveCard,
  IColumnSet,
  IContainer,
  IExecuteAction,
  IOpenUrlAction,
  IRichTextBlock,
  ITextBlock,
} from '@microsoft/teams.cards';
import { extensionOf } from '#shared/domain/extensions';
import { isPast } from '#shared/domain/time';
import { roundOf, type Decision, type Extension, type Request } from '#shared/domain/request';
import { currentStage, hasDecidedIn, MAX_COMMENT, type Approval, type Round } from '#shared/domain/stages';
import { formatTime, requestDetails, targetLabel } from '#shared/notifications/html';
import { extensionRows } from '#shared/notifications/pages';
import { summarize } from '#shared/notifications/messages';

/** The attachment content type of an Adaptive Card (and of an invoke's card answer). */
export const CARD_CONTENT_TYPE = 'application/vnd.microsoft.card.adaptive';

/** The Adaptive Cards schema version Teams supports, which every card declares. */
export const CARD_VERSION = '1.5';

/** The `Action.Execute` verbs of an approval card. */
export const CardVerb = { approve: 'approve', deny: 'deny' } as const satisfies Record<Decision, string>;

/** The id of the approval card's comment box: Teams sends its value in the action's data under it. */
export const COMMENT_INPUT_ID = 'comment';

/** Which round and stage a card decides in: the request's, or one extension's. */
export interface CardBinding {
  readonly stage: number;
  readonly extensionId?: string | undefined;
}

/** What an approval card's actions carry back (with `comment` added by Teams from the input). */
export interface CardActionData {
  readonly requestId: string;
  readonly stage: number;
  readonly extensionId?: string;
}

/** A sentence over the card about the click that produced it (a refusal, or what was recorded). */
export interface CardNotice {
  readonly text: string;
  readonly tone: 'good' | 'attention' | 'warning';
}

export interface ApprovalCardInput {
  readonly request: Request;
  readonly binding: CardBinding;
  /** The approver the card is for, by user key: their own decision reads "(you)". */
  readonly viewerId: string;
  readonly now: Date;
  /** `ZSA_PUBLIC_BASE_URL`: where "Open to decide" and "Open in ZSA" lead; absent, no such button. */
  readonly portalBaseUrl: string | undefined;
  readonly notice?: CardNotice | undefined;
}

/**
 * What the approval card shows now. `decide`: Approve and Deny. `stepUp`: the request asks for a
 * stronger sign-in, so only the portal decides. `done`: nothing to decide any more, and why.
 */
export type CardState =
  | { readonly kind: 'decide' }
  | { readonly kind: 'stepUp'; readonly required: string }
  | { readonly kind: 'done'; readonly headline: string; readonly tone: 'good' | 'attention' | 'default' };

/** The round a binding decides in, or undefined when the request has no such extension. */
function roundFor(
  request: Request,
  binding: CardBinding,
): { round: Round; extension?: Extension } | undefined {
  if (binding.extensionId === undefined) return { round: roundOf(request) };
  const extension = extensionOf(request, binding.extensionId);
  if (extension === undefined) return undefined;
  return { round: { stages: request.stages, approvals: extension.approvals }, extension };
}

/** `bob, carol` — who gave `decision` in the round (or in one stage), "(you)" after the viewer. */
function deciders(
  approvals: readonly Approval[],
  decision: Decision,
  viewerId: string,
  stage?: number,
): string {
  const names = approvals
    .filter((a) => a.decision === decision && (stage === undefined || (a.stage ?? 0) === stage))
    .map((a) => (a.approverId === viewerId ? `${a.approver} (you)` : a.approver));
  return [...new Set(names)].join(', ');
}

function withComment(headline: string, approvals: readonly Approval[]): string {
  const denial = approvals.find((a) => a.decision === 'deny');
  return denial?.comment ? `${headline}: "${denial.comment}"` : headline;
}

/** Why the round takes no decision any more, as the card's headline; undefined while it does. */
function closedHeadline(
  request: Request,
  round: Round,
  extension: Extension | undefined,
  viewerId: string,
  now: Date,
): { headline: string; tone: 'good' | 'attention' | 'default' } | undefined {
  const status = extension?.status ?? request.status;
  const approvedBy = deciders(round.approvals, 'approve', viewerId);
  const deniedBy = deciders(round.approvals, 'deny', viewerId);
  switch (status) {
    case 'approved':
    case 'ended':
    case 'revoked':
      return { headline: `Approved by ${approvedBy || 'its approvers'}`, tone: 'good' };
    case 'denied':
      return {
        headline: withComment(`Denied by ${deniedBy || 'an approver'}`, round.approvals),
        tone: 'attention',
      };
    case 'canceled':
      return {
        headline: extension
          ? 'Withdrawn by the requester'
          : `Canceled by ${request.endedBy ?? 'the requester'}`,
        tone: 'default',
      };
    case 'expired':
      return { headline: 'Expired: nobody decided in time', tone: 'default' };
    case 'failed':
      return { headline: 'Stopped by a system fault', tone: 'attention' };
    case 'pending': {
      const deadline = extension?.pendingUntil ?? request.pendingUntil;
      if (isPast(deadline, now)) return { headline: 'Expired: nobody decided in time', tone: 'default' };
      return undefined;
    }
  }
}

/** What the approval card of `input.viewerId` for `input.binding` shows now. */
export function cardState(input: Omit<ApprovalCardInput, 'notice' | 'portalBaseUrl'>): CardState {
  const { request, binding, viewerId, now } = input;
  const found = roundFor(request, binding);
  if (found === undefined)
    return { kind: 'done', headline: 'This extension no longer exists', tone: 'default' };
  const { round, extension } = found;
  const closed = closedHeadline(request, round, extension, viewerId, now);
  if (closed !== undefined) return { kind: 'done', ...closed };
  const open = currentStage(round, true);
  if (open !== null && open > binding.stage) {
    const by = deciders(round.approvals, 'approve', viewerId, binding.stage);
    return {
      kind: 'done',
      headline: `Stage ${binding.stage + 1} approved by ${by || 'its approvers'}; stage ${open + 1} decides now`,
      tone: 'good',
    };
  }
  if (open !== null && open < binding.stage)
    return { kind: 'done', headline: `Stage ${open + 1} decides first`, tone: 'default' };
  // The viewer's key, however they signed in: Teams and the API are the same person.
  if (hasDecidedIn(round, { id: viewerId, upn: '' })) {
    const mine = round.approvals.find((a) => a.approverId === viewerId);
    return {
      kind: 'done',
      headline: `${mine?.decision === 'deny' ? 'Denied' : 'Approved'} by ${mine?.approver ?? 'you'} (you); waiting for the other approvers`,
      tone: 'good',
    };
  }
  if (request.approverAuthContext !== null) return { kind: 'stepUp', required: request.approverAuthContext };
  return { kind: 'decide' };
}

const MAX_VALUE_LENGTH = 1500;

/** Request text as a TextRun: never markdown, cut to what a card can carry. */
function verbatim(
  text: string,
  options: { weight?: 'Bolder'; color?: 'Good' | 'Attention' } = {},
): IRichTextBlock {
  const value = text.length > MAX_VALUE_LENGTH ? `${text.slice(0, MAX_VALUE_LENGTH - 1)}…` : text;
  return {
    type: 'RichTextBlock',
    inlines: [
      {
        type: 'TextRun',
        text: value,
        ...(options.weight ? { weight: options.weight } : {}),
        ...(options.color ? { color: options.color } : {}),
      },
    ],
  };
}

function label(text: string, options: Partial<ITextBlock> = {}): ITextBlock {
  return { type: 'TextBlock', text, wrap: true, ...options };
}

/** One label → value row; the label is ZSA's own text, the value the request's. */
function row(name: string, value: string): IColumnSet {
  return {
    type: 'ColumnSet',
    spacing: 'Small',
    columns: [
      { type: 'Column', width: '120px', items: [label(name, { weight: 'Bolder' })] },
      { type: 'Column', width: 'stretch', items: [verbatim(value)] },
    ],
  };
}

/** The request's details as the decision page lists them (an extension's after the request's). */
export function detailRows(request: Request, binding: CardBinding): [string, string][] {
  const extension = binding.extensionId === undefined ? undefined : extensionOf(request, binding.extensionId);
  const rows = requestDetails(summarize(request), { deadline: extension === undefined });
  return extension === undefined ? rows : [...rows, ...extensionRows(request, extension)];
}

function title(request: Request, binding: CardBinding): string {
  const what = binding.extensionId === undefined ? 'Access request' : 'Extension request';
  return `${what}: ${targetLabel(summarize(request).target)}`;
}

function stageLine(request: Request, binding: CardBinding): string | undefined {
  const total = request.stages.length;
  if (total < 2) return undefined;
  const group = request.stages[binding.stage]?.approverGroup ?? '';
  return `Stage ${binding.stage + 1} of ${total}, approver group ${group}`;
}

function noticeBlock(notice: CardNotice): IContainer {
  return {
    type: 'Container',
    style: notice.tone === 'good' ? 'good' : notice.tone === 'attention' ? 'attention' : 'warning',
    items: [label(notice.text, { weight: 'Bolder' })],
  };
}

/** The portal's decision view of a request. */
export function portalDecisionUrl(base: string, requestId: string): string {
  return `${base.replace(/\/+$/, '')}/approvals/${encodeURIComponent(requestId)}`;
}

function openUrl(titleText: string, url: string): IOpenUrlAction {
  return { type: 'Action.OpenUrl', title: titleText, url };
}

function execute(verb: Decision, data: CardActionData): IExecuteAction {
  return {
    type: 'Action.Execute',
    verb: CardVerb[verb],
    title: verb === 'approve' ? 'Approve' : 'Deny',
    style: verb === 'approve' ? 'positive' : 'destructive',
    data: { ...data },
    associatedInputs: 'auto',
  };
}

function card(body: CardElementArray, actions: ActionArray): IAdaptiveCard {
  return {
    type: 'AdaptiveCard',
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    version: CARD_VERSION,
    body,
    ...(actions.length > 0 ? { actions } : {}),
  };
}

/** The approval card of one approver, as it should look now. */
export function approvalCard(input: ApprovalCardInput): IAdaptiveCard {
  const { request, binding, portalBaseUrl, notice } = input;
  const state = cardState(input);
  const body: CardElementArray = [];
  if (notice !== undefined) body.push(noticeBlock(notice));
  body.push(label(title(request, binding), { size: 'Medium', weight: 'Bolder' }));
  const stage = stageLine(request, binding);
  if (stage !== undefined) body.push(label(stage, { isSubtle: true, spacing: 'None' }));
  if (request.emergency)
    body.push(
      label('Emergency access: granted at once, without approval; its use is reviewed.', {
        color: 'Warning',
      }),
    );
  for (const [name, value] of detailRows(request, binding)) body.push(row(name, value));

  const actions: ActionArray = [];
  const data: CardActionData = {
    requestId: request.id,
    stage: binding.stage,
    ...(binding.extensionId === undefined ? {} : { extensionId: binding.extensionId }),
  };
  switch (state.kind) {
    case 'decide':
      body.push({
        type: 'Input.Text',
        id: COMMENT_INPUT_ID,
        label: 'Comment (optional)',
        isMultiline: true,
        maxLength: MAX_COMMENT,
      });
      actions.push(execute('approve', data), execute('deny', data));
      break;
    case 'stepUp':
      body.push(
        label(
          'This request asks for a stronger sign-in than Teams proves. Open it in ZSA to decide; you will be asked to sign in again.',
          { color: 'Warning' },
        ),
      );
      if (portalBaseUrl !== undefined)
        actions.push(openUrl('Open to decide', portalDecisionUrl(portalBaseUrl, request.id)));
      break;
    case 'done':
      body.push({
        type: 'Container',
        style: state.tone === 'good' ? 'good' : state.tone === 'attention' ? 'attention' : 'emphasis',
        items: [verbatim(state.headline, { weight: 'Bolder' })],
      });
      if (portalBaseUrl !== undefined)
        actions.push(openUrl('Open in ZSA', portalDecisionUrl(portalBaseUrl, request.id)));
      break;
  }
  return card(body, actions);
}

/** The requester's card: how their request (or extension) turned out. */
export function outcomeCard(
  request: Request,
  binding: CardBinding,
  now: Date,
  portalBaseUrl: string | undefined,
): IAdaptiveCard {
  const state = cardState({ request, binding, viewerId: request.requesterId, now });
  const headline = state.kind === 'done' ? state.headline : 'Waiting for a decision';
  const body: CardElementArray = [
    label(
      `Your ${binding.extensionId === undefined ? 'request' : 'extension'}: ${targetLabel(summarize(request).target)}`,
      {
        size: 'Medium',
        weight: 'Bolder',
      },
    ),
    verbatim(headline, {
      weight: 'Bolder',
      ...(state.kind === 'done' && state.tone === 'good' ? { color: 'Good' as const } : {}),
    }),
  ];
  if (request.expiresAt !== null && request.status === 'approved')
    body.push(label(`Your access lasts until ${formatTime(request.expiresAt)}.`));
  const base = portalBaseUrl?.replace(/\/+$/, '');
  const actions: ActionArray =
    base === undefined ? [] : [openUrl('Open in ZSA', `${base}/requests/${encodeURIComponent(request.id)}`)];
  return card(body, actions);
}
