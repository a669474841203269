/**
 * Notification emails: a subject, a plain-text part and an HTML part saying the same thing. The
 * HTML is simple and accessible (language set, headings, a table with row headers, a real link as
 * the one action, enough contrast), loads nothing remote (no images, fonts or style sheets: mail
 * clients block them and they tell a sender when a mail is read) and escapes every value.
 *
 * Pure: `now` is passed in.
 */
import { USES_EXHAUSTED } from '#shared/domain/request';
import { addHours } from '#shared/domain/time';
import {
  askedBy,
  detailsTableHtml,
  detailsText,
  escapeHtml,
  formatDuration,
  formatTime,
  formatUses,
  oneLine,
  requestDetails,
  stageApprovers,
  startsLater,
  targetLabel,
} from './html';
import type { ExtensionSummary, NotificationMessage, RequestSummary } from './messages';

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

interface Content {
  subject: string;
  heading: string;
  /** Paragraphs, raw text. */
  lead: string[];
  details: [string, string][];
  action?: { label: string; url: string; note: string[] };
}

const SUBJECT_PREFIX = '[ZSA] ';

function lastDecision(request: RequestSummary): { by: string; comment: string | null } | undefined {
  const decisive = request.approvals.find((a) => a.decision === 'deny') ?? request.approvals.at(-1);
  return decisive ? { by: decisive.approver, comment: decisive.comment } : undefined;
}

function approverList(request: RequestSummary, decision: 'approve' | 'deny'): string {
  return request.approvals
    .filter((a) => a.decision === decision)
    .map((a) => a.approver)
    .join(', ');
}

function withComment(text: string, comment: string | null | undefined): string {
  return comment ? `${text} Comment: "${comment}"` : text;
}

function minutesUntil(iso: string | null, now: Date): string {
  if (iso === null) return '';
  const minutes = Math.max(0, Math.round((Date.parse(iso) - now.getTime()) / 60_000));
  return minutes <= 1 ? ' (in about a minute)' : ` (in about ${minutes} minutes)`;
}

/** How a reviewer closes an emergency use's review: there is no portal yet, so the API and the connector. */
function howToReview(r: RequestSummary): string {
  return (
    `Review it with POST /api/requests/${r.id}/review and {"outcome": "justified"} or ` +
    `{"outcome": "unjustified", "comment": "why"}, or with the connector's "Review an emergency use". ` +
    `A member of this request's approver group(s) reviews it; ${r.requester} may not.`
  );
}

/** The rows an emergency use adds: when it was granted and until when it lasts. */
function emergencyDetails(r: RequestSummary): [string, string][] {
  return [
    ...(r.grantedAt ? ([['Granted', formatTime(r.grantedAt)]] as [string, string][]) : []),
    ...(r.expiresAt ? ([['Access until', formatTime(r.expiresAt)]] as [string, string][]) : []),
  ];
}

const API_NOTE = [
  "The address is the request in ZSA's API: reading it, and posting the review to it, needs your ZSA access token.",
];

const LINK_NOTE = [
  'The link is personal: it was made for you and works for one decision. Opening it only shows the request; nothing is decided until you press Approve or Deny on that page.',
  'Do not forward this email.',
];

/**
 * For a round of more than one stage: which stage asks, of how many, and who approved the earlier
 * ones. `approvals`: the round's (the request's, or the extension's).
 */
function stageSentences(
  stages: NonNullable<RequestSummary['stages']> | undefined,
  stage: number,
  approvals: RequestSummary['approvals'],
): string[] {
  if (stages === undefined) return [];
  const earlier = stages
    .slice(0, stage)
    .map((_, i) => `stage ${i + 1} by ${stageApprovers(approvals, i) || 'its approvers'}`);
  return [
    `This is stage ${stage + 1} of ${stages.length}: your group, ${stages[stage]?.approverGroup ?? 'of this stage'}, decides now.` +
      (earlier.length > 0 ? ` Already approved: ${earlier.join('; ')}.` : ''),
  ];
}

/** What a counted grant allows, for approvers and the requester. */
function usesSentence(r: RequestSummary): string {
  return r.maxUses === undefined
    ? ''
    : `The access allows ${formatUses(r.maxUses)}: it ends after ${r.maxUses === 1 ? 'one successful run' : `${r.maxUses} successful runs`}.`;
}

/** When the access starts, for a request that asked for a later start. */
function startSentence(r: RequestSummary, forRequester: boolean): string {
  if (r.startAt === undefined) return '';
  if (r.grantedAt === null)
    return `The access would start at ${formatTime(r.startAt)} (or on approval, if that is later).`;
  if (!startsLater(r)) return '';
  return `${forRequester ? 'Your' : 'The'} access starts at ${formatTime(r.grantedAt)}${r.expiresAt ? ` and lasts until ${formatTime(r.expiresAt)}` : ''}.`;
}

/** The window of an approved grant, as the requester reads it. */
function windowSentence(r: RequestSummary): string {
  if (startsLater(r) && r.grantedAt !== null) return startSentence(r, true);
  return r.expiresAt ? `Your access lasts until ${formatTime(r.expiresAt)}.` : '';
}

function extensionDetails(r: RequestSummary, x: ExtensionSummary): [string, string][] {
  return [
    ['Extension', `${formatDuration(x.hours)} more (extension ${x.id})`],
    ['Extension reason', x.reason],
    ...(r.expiresAt ? ([['Access ends', formatTime(r.expiresAt)]] as [string, string][]) : []),
  ];
}

function extensionDecision(
  x: ExtensionSummary,
  decision: 'approve' | 'deny',
): { by: string; comment: string | null } {
  const mine = x.approvals.filter((a) => a.decision === decision);
  return {
    by: mine.map((a) => a.approver).join(', ') || 'an approver',
    comment: (decision === 'deny' ? mine[0] : mine.at(-1))?.comment ?? null,
  };
}

function content(message: NotificationMessage, now: Date): Content {
  const r = message.request;
  const target = targetLabel(r.target);
  const forRequester = message.audience === 'requester';
  const details = requestDetails(r, { deadline: false });
  switch (message.event) {
    case 'approvalNeeded': {
      const stage = message.stage ?? 0;
      const total = r.stages?.length ?? 1;
      return {
        subject:
          total > 1
            ? `Approval needed (stage ${stage + 1} of ${total}): ${askedBy(r)} requests ${target}`
            : `Approval needed: ${askedBy(r)} requests ${target}`,
        heading: 'Your decision is needed',
        lead: [
          `${askedBy(r)} asks for temporary access to the ${target} and needs a decision from an approver of this request.`,
          r.agent === undefined
            ? ''
            : 'An AI agent asks: it may run exactly the parameters shown, once, and only if you approve.',
          ...stageSentences(r.stages, stage, r.approvals),
          startSentence(r, false),
          usesSentence(r),
          `Please decide by ${formatTime(r.pendingUntil)}; without a decision the request expires.`,
        ],
        details: requestDetails(r, { deadline: true }),
        action: { label: 'Review and decide', url: message.decisionUrl, note: LINK_NOTE },
      };
    }
    case 'extensionRequested': {
      const x = message.extension;
      const total = r.stages?.length ?? 1;
      const until = r.expiresAt ? addHours(new Date(r.expiresAt), x.hours).toISOString() : null;
      return {
        subject:
          `Extension needs approval${total > 1 ? ` (stage ${message.stage + 1} of ${total})` : ''}: ` +
          `${r.requester} asks for ${formatDuration(x.hours)} more on ${target}`,
        heading: 'Your decision on an extension is needed',
        lead: [
          `${r.requester} asks to extend their access to the ${target} by ${formatDuration(x.hours)}.`,
          r.expiresAt && until
            ? `The access ends at ${formatTime(r.expiresAt)}; if the extension is approved, it ends at ${formatTime(until)}. The access continues while the extension waits.`
            : '',
          ...stageSentences(r.stages, message.stage, x.approvals),
          `Please decide by ${formatTime(x.pendingUntil)}; without a decision the extension expires and the access ends as planned.`,
        ],
        details: [...extensionDetails(r, x), ...details],
        action: { label: 'Review and decide', url: message.decisionUrl, note: LINK_NOTE },
      };
    }
    case 'extensionApproved': {
      const x = message.extension;
      const d = extensionDecision(x, 'approve');
      return {
        subject: `Extended: your access to ${target}`,
        heading: 'Your extension was approved',
        lead: [
          withComment(
            x.approvals.length > 0
              ? `Extension ${x.id} (${formatDuration(x.hours)} more) was approved by ${d.by}.`
              : `Extension ${x.id} (${formatDuration(x.hours)} more) was approved.`,
            d.comment,
          ),
          r.expiresAt ? `Your access now lasts until ${formatTime(r.expiresAt)}.` : '',
        ],
        details: [...extensionDetails(r, x), ...details],
      };
    }
    case 'extensionDenied': {
      const x = message.extension;
      const d = extensionDecision(x, 'deny');
      return {
        subject: `Extension denied: your access to ${target}`,
        heading: 'Your extension was denied',
        lead: [
          withComment(
            `Extension ${x.id} (${formatDuration(x.hours)} more) was denied by ${d.by}.`,
            d.comment,
          ),
          r.expiresAt ? `Your access still ends at ${formatTime(r.expiresAt)}.` : '',
        ],
        details: [...extensionDetails(r, x), ...details],
      };
    }
    case 'extensionExpired': {
      const x = message.extension;
      return {
        subject: `Extension expired: your access to ${target}`,
        heading: 'Your extension expired without a decision',
        lead: [
          `Nobody decided on extension ${x.id} (${formatDuration(x.hours)} more) before ${formatTime(x.pendingUntil)}.`,
          r.status === 'approved' && r.expiresAt
            ? `Your access still ends at ${formatTime(r.expiresAt)}. Ask for a new extension, or submit a new request, if you need more time.`
            : 'Your access has ended. Submit a new request if you still need access.',
        ],
        details: [...extensionDetails(r, x), ...details],
      };
    }
    case 'extensionCanceled': {
      const x = message.extension;
      return {
        subject: `Extension withdrawn: your access to ${target}`,
        heading: 'Your extension was withdrawn',
        lead: [
          r.status === 'approved'
            ? `Extension ${x.id} (${formatDuration(x.hours)} more) was withdrawn; it needs no decision any more.`
            : `Extension ${x.id} (${formatDuration(x.hours)} more) was canceled because the access ${r.status === 'revoked' ? 'was revoked' : 'ended'}.`,
          r.status === 'approved' && r.expiresAt
            ? `Your access still ends at ${formatTime(r.expiresAt)}.`
            : '',
        ],
        details: [...extensionDetails(r, x), ...details],
      };
    }
    case 'started':
      return {
        subject: `Access started: ${target}`,
        heading: 'Your access starts now',
        lead: [
          r.expiresAt
            ? `Your scheduled access has started: you may run the granted tasks through ZSA until ${formatTime(r.expiresAt)}.`
            : 'Your scheduled access has started: you may run the granted tasks through ZSA.',
          usesSentence(r),
        ],
        details,
      };
    case 'approved': {
      const by = approverList(r, 'approve');
      const d = lastDecision(r);
      return forRequester
        ? {
            subject: `Approved: your request for ${target}`,
            heading: 'Your request was approved',
            lead: [withComment(`Approved by ${by}.`, d?.comment), windowSentence(r), usesSentence(r)],
            details,
          }
        : {
            subject: `Decided: ${r.requester}'s request for ${target} was approved`,
            heading: 'A request you could decide on was approved',
            lead: [`Approved by ${by}. No action is needed from you; your link no longer works.`],
            details,
          };
    }
    case 'denied': {
      const d = lastDecision(r);
      const denial = r.approvals.find((a) => a.decision === 'deny');
      const where =
        r.stages !== undefined && denial !== undefined
          ? ` in stage ${(denial.stage ?? 0) + 1} of ${r.stages.length}`
          : '';
      return forRequester
        ? {
            subject: `Denied: your request for ${target}`,
            heading: 'Your request was denied',
            lead: [withComment(`Denied by ${d?.by ?? 'an approver'}${where}.`, d?.comment)],
            details,
          }
        : {
            subject: `Decided: ${r.requester}'s request for ${target} was denied`,
            heading: 'A request you could decide on was denied',
            lead: [
              `Denied by ${d?.by ?? 'an approver'}. No action is needed from you; your link no longer works.`,
            ],
            details,
          };
    }
    case 'canceled':
      return {
        subject: `Withdrawn: ${r.requester}'s request for ${target}`,
        heading: 'A request was withdrawn',
        lead: [`${r.requester} withdrew the request. No decision is needed; your link no longer works.`],
        details,
      };
    case 'expired':
      return {
        subject: `Expired: your request for ${target}`,
        heading: 'Your request expired',
        lead: [
          `Nobody decided before ${formatTime(r.pendingUntil)}. Submit a new request if you still need access.`,
        ],
        details,
      };
    case 'granted':
      if (startsLater(r) && r.grantedAt !== null)
        return {
          subject: `Access granted from ${formatTime(r.grantedAt)}: ${target}`,
          heading: 'Your access is granted and starts later',
          lead: [
            `${startSentence(r, true)} You will get an email when it starts; until then the tasks cannot be run.`,
            usesSentence(r),
          ],
          details,
        };
      return {
        subject: `Access granted: ${target}`,
        heading: 'Your access is live',
        lead: [
          r.expiresAt
            ? `You may run the granted tasks through ZSA until ${formatTime(r.expiresAt)}.`
            : 'You may run the granted tasks through ZSA.',
          usesSentence(r),
        ],
        details,
      };
    case 'expiringSoon':
      return {
        subject: `Ending soon: your access to ${target}`,
        heading: 'Your access ends soon',
        lead: [
          `Your access ends at ${r.expiresAt ? formatTime(r.expiresAt) : 'its expiry'}${minutesUntil(r.expiresAt, now)}. Submit a new request if you need more time.`,
        ],
        details,
      };
    case 'ended':
      if (r.endReason === USES_EXHAUSTED)
        return {
          subject: `Ended: your access to ${target} (all uses spent)`,
          heading: 'Your access has ended: every use is spent',
          lead: [
            `The access allowed ${r.maxUses === undefined ? 'a set number of uses' : formatUses(r.maxUses)}; the last one was used${r.endedAt ? ` at ${formatTime(r.endedAt)}` : ''}, so it ended before its window closed.`,
            'Submit a new request if you need more.',
          ],
          details,
        };
      return {
        subject: `Ended: your access to ${target}`,
        heading: 'Your access has ended',
        lead: [`The access window closed at ${r.endedAt ? formatTime(r.endedAt) : 'its expiry'}.`],
        details,
      };
    case 'revoked':
      return {
        subject: `Revoked: your access to ${target}`,
        heading: 'Your access was revoked',
        lead: [
          withComment(
            `Revoked${r.endedBy ? ` by ${r.endedBy}` : ''}${r.endedAt ? ` at ${formatTime(r.endedAt)}` : ''}.`,
            r.endReason,
          ),
        ],
        details,
      };
    case 'emergencyUsed':
      return {
        subject: `Emergency access used: ${r.requester} — ${r.target.name}`,
        heading: 'Emergency access was used',
        lead: [
          `${r.requester} used emergency access to the ${target}: it was granted at once, without approval${r.expiresAt ? `, until ${formatTime(r.expiresAt)}` : ''}.`,
          `Why: ${r.reason}`,
          howToReview(r),
        ],
        details: [...details, ...emergencyDetails(r)],
        ...(message.apiUrl === undefined
          ? {}
          : { action: { label: 'Open the request', url: message.apiUrl, note: API_NOTE } }),
      };
    case 'reviewReminder': {
      const since = r.grantedAt ?? r.createdAt;
      const open = formatDuration(Math.max(0, Math.floor((now.getTime() - Date.parse(since)) / 60_000)) / 60);
      return {
        subject: `Review still open: ${r.requester}'s emergency access to ${r.target.name}`,
        heading: 'An emergency use waits for review',
        lead: [
          `${r.requester} used emergency access to the ${target} at ${formatTime(since)}; its review has been open for ${open}.`,
          `Why: ${r.reason}`,
          howToReview(r),
        ],
        details: [...details, ...emergencyDetails(r)],
        ...(message.apiUrl === undefined
          ? {}
          : { action: { label: 'Open the request', url: message.apiUrl, note: API_NOTE } }),
      };
    }
    case 'reviewed': {
      const review = r.review;
      const outcome = review?.status ?? 'reviewed';
      return {
        subject: `Reviewed: your emergency access to ${r.target.name} was judged ${outcome}`,
        heading: `Your emergency use was judged ${outcome}`,
        lead: [
          withComment(
            `${review?.reviewer ?? 'A reviewer'} reviewed your emergency use of the ${target}${review?.at ? ` at ${formatTime(review.at)}` : ''} and judged it ${outcome}.`,
            review?.comment,
          ),
        ],
        details: [...details, ...emergencyDetails(r)],
      };
    }
    case 'agentRequested': {
      const agent = r.agent?.name ?? r.agent?.appId ?? 'an AI agent';
      return {
        subject: `Your agent ${agent} asked for ${target}`,
        heading: 'An AI agent you sponsor asked for access',
        lead: [
          `${askedBy(r)} asked for the ${target}. You are told of each of its requests because you sponsor it; it can never approve them.`,
          'If approved, it may run exactly the parameters shown, once.',
          `Approvers have until ${formatTime(r.pendingUntil)} to decide. If you did not expect this, tell them before they decide.`,
        ],
        details: requestDetails(r, { deadline: true }),
      };
    }
    case 'failed':
      return forRequester
        ? {
            subject: `Failed: your request for ${target}`,
            heading: 'Your request stopped on a system fault',
            lead: [
              'ZSA could not carry your request through, so it is closed and grants nothing. Submit a new request if you still need access.',
              r.endReason ? `Cause: ${r.endReason}` : '',
            ],
            details,
          }
        : {
            subject: `Failed: ${r.requester}'s request for ${target} stopped on a system fault`,
            heading: 'A request of your group stopped on a system fault',
            lead: [
              'ZSA closed the request as failed: it grants nothing and needs no decision. Someone should look into the cause.',
              r.endReason ? `Cause: ${r.endReason}` : '',
            ],
            details,
          };
  }
}

const STYLE = {
  body: 'margin:0;padding:24px;background:#ffffff;color:#1b1b1b;font-family:Segoe UI,Helvetica,Arial,sans-serif;font-size:16px;line-height:1.5',
  h1: 'font-size:22px;margin:0 0 16px 0;color:#1b1b1b',
  p: 'margin:0 0 12px 0',
  table: 'border-collapse:collapse;margin:16px 0',
  th: 'text-align:left;vertical-align:top;padding:4px 16px 4px 0;font-weight:600;white-space:nowrap',
  td: 'vertical-align:top;padding:4px 0;word-break:break-word',
  button:
    'display:inline-block;padding:12px 20px;background:#0b5cad;color:#ffffff;text-decoration:underline;font-weight:600;border-radius:4px',
  small: 'margin:12px 0 0 0;font-size:14px;color:#404040',
  footer: 'margin:24px 0 0 0;font-size:13px;color:#404040',
} as const;

const FOOTER = 'Sent by ZSA (Zero Standing Access). This is an automatic message; replies are not read.';

export function renderEmail(message: NotificationMessage, now: Date): RenderedEmail {
  const c = content(message, now);
  const lead = c.lead.filter((p) => p !== '');
  const subject = oneLine(SUBJECT_PREFIX + c.subject, 250);

  const text = [
    c.heading,
    '',
    ...lead.flatMap((p) => [oneLine(p, 4000), '']),
    detailsText(c.details),
    '',
    ...(c.action
      ? [`${c.action.label}: ${c.action.url}`, '', ...c.action.note.map((n) => oneLine(n, 1000)), '']
      : []),
    `Request id: ${message.requestId}`,
    '',
    FOOTER,
    '',
  ].join('\n');

  const action = c.action
    ? `<p style="${STYLE.p}"><a href="${escapeHtml(c.action.url)}" style="${STYLE.button}">${escapeHtml(c.action.label)}</a></p>` +
      c.action.note.map((n) => `<p style="${STYLE.small}">${escapeHtml(n)}</p>`).join('')
    : '';
  const html =
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    `<title>${escapeHtml(subject)}</title></head>` +
    `<body style="${STYLE.body}"><main>` +
    `<h1 style="${STYLE.h1}">${escapeHtml(c.heading)}</h1>` +
    lead.map((p) => `<p style="${STYLE.p}">${escapeHtml(p)}</p>`).join('') +
    detailsTableHtml(c.details, { table: STYLE.table, th: STYLE.th, td: STYLE.td }) +
    action +
    `<p style="${STYLE.footer}">Request id: ${escapeHtml(message.requestId)}<br>${escapeHtml(FOOTER)}</p>` +
    '</main></body></html>';
  return { subject, text, html };
}
