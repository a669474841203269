/**
 * The pages behind an emailed decision link: the confirmation page (the request, a comment box,
 * Approve and Deny), the result, and one page per reason the link does not lead to a decision.
 *
 * Plain server-rendered HTML: no script at all (nothing can submit the form but a person pressing a
 * button; no meta refresh), one inline style sheet allowed by its hash in a strict CSP, every value
 * escaped. Pure.
 */
import { createHash } from 'node:crypto';
import type { DomainError } from '#shared/domain/errors';
import { claimsChallenge } from '#shared/domain/step-up';
import { extensionOf } from '#shared/domain/extensions';
import {
  roundOf,
  targetOf,
  type Decision,
  type Extension,
  type Request,
  type RequestView,
} from '#shared/domain/request';
import { currentStage, type Approval } from '#shared/domain/stages';
import { addHours } from '#shared/domain/time';
import {
  detailsTableHtml,
  escapeHtml,
  formatDuration,
  formatTime,
  requestDetails,
  stageApprovers,
  targetLabel,
} from './html';
import { summarize } from './messages';
import type { LinkBinding } from './store';

export interface Page {
  status: number;
  html: string;
  /** Headers this page needs besides the page headers (the step-up page's `WWW-Authenticate`). */
  headers?: Record<string, string>;
}

const CSS = [
  'body{margin:0;padding:24px;font-family:"Segoe UI",Helvetica,Arial,sans-serif;font-size:16px;line-height:1.5;color:#1b1b1b;background:#fff}',
  'main{max-width:44rem;margin:0 auto}',
  'h1{font-size:1.5rem;margin:0 0 1rem}',
  'table{border-collapse:collapse;margin:1rem 0}',
  'th{text-align:left;vertical-align:top;padding:.25rem 1rem .25rem 0;white-space:nowrap}',
  'td{vertical-align:top;padding:.25rem 0;word-break:break-word}',
  'label{font-weight:600}',
  'textarea{width:100%;box-sizing:border-box;font:inherit;padding:.5rem;border:1px solid #595959}',
  '.actions{display:flex;gap:1rem;margin-top:1rem}',
  'button{font:inherit;font-weight:600;padding:.6rem 1.4rem;border:2px solid transparent;border-radius:4px;cursor:pointer;color:#fff}',
  'button.approve{background:#0f6b2f}',
  'button.deny{background:#a4262c}',
  'button:focus-visible,textarea:focus-visible{outline:3px solid #1b1b1b;outline-offset:2px}',
  '.note{font-size:.9rem;color:#404040}',
].join('');

/** The CSP allows exactly this style sheet and nothing else to load or run. */
const CSS_HASH = `'sha256-${createHash('sha256').update(CSS, 'utf8').digest('base64')}'`;

/**
 * Headers for every page: never cached or stored (it carries a live link), never framed, never
 * leaking its URL through Referer, forms posting only to `formAction` (the public origin).
 */
export function pageHeaders(formAction: string | undefined): Record<string, string> {
  const csp = [
    "default-src 'none'",
    `style-src ${CSS_HASH}`,
    `form-action ${formAction ?? "'none'"}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
  return {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    'content-security-policy': csp,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'x-robots-tag': 'noindex, nofollow',
    'cross-origin-opener-policy': 'same-origin',
  };
}

function layout(title: string, body: string): string {
  return (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    '<meta name="robots" content="noindex, nofollow">' +
    `<title>${escapeHtml(title)} – ZSA</title><style>${CSS}</style></head>` +
    `<body><main>${body}</main></body></html>`
  );
}

function paragraphs(...texts: string[]): string {
  return texts
    .filter((t) => t !== '')
    .map((t) => `<p>${escapeHtml(t)}</p>`)
    .join('');
}

function page(status: number, title: string, ...texts: string[]): Page {
  return { status, html: layout(title, `<h1>${escapeHtml(title)}</h1>${paragraphs(...texts)}`) };
}

/** Which stage of how many, and who approved the earlier ones; nothing for a round of one stage. */
function stageText(request: Request, stage: number, approvals: readonly Approval[]): string {
  const total = request.stages.length;
  if (total < 2) return '';
  const group = request.stages[stage]?.approverGroup ?? '';
  const earlier = request.stages
    .slice(0, stage)
    .map((_, i) => `stage ${i + 1} by ${stageApprovers([...approvals], i) || 'its approvers'}`);
  return (
    `You decide in stage ${stage + 1} of ${total}, for the approver group ${group}.` +
    (earlier.length > 0 ? ` Already approved: ${earlier.join('; ')}.` : '')
  );
}

/** The extension a link (or a Teams card) decides on, with what it would change. */
export function extensionRows(request: Request, extension: Extension): [string, string][] {
  const end = request.expiresAt;
  return [
    ['Extension', `${formatDuration(extension.hours)} more (extension ${extension.id})`],
    ['Extension reason', extension.reason],
    ...(end === null
      ? []
      : ([
          ['Access ends now', formatTime(end)],
          ['If approved, ends', formatTime(addHours(new Date(end), extension.hours).toISOString())],
        ] as [string, string][])),
    ['Decide by', formatTime(extension.pendingUntil)],
  ];
}

/**
 * The confirmation page: what is asked (the request, or an extension of it), in which stage, by
 * whom, and the form that decides.
 */
export function confirmationPage(
  request: Request,
  approver: string,
  action: string,
  binding: LinkBinding = { stage: 0 },
): Page {
  const summary = summarize(request);
  const extension = binding.extensionId === undefined ? undefined : extensionOf(request, binding.extensionId);
  const title = extension ? 'Approve or deny this extension' : 'Approve or deny this request';
  const asked = extension
    ? `${summary.requester} asks to extend their access to the ${targetLabel(summary.target)} by ${formatDuration(extension.hours)}. The access continues while you decide.`
    : `${summary.requester} asks for temporary access to the ${targetLabel(summary.target)}.`;
  const body =
    `<h1>${escapeHtml(title)}</h1>` +
    `<p>You are deciding as <strong>${escapeHtml(approver)}</strong>.</p>` +
    paragraphs(asked, stageText(request, binding.stage, extension?.approvals ?? request.approvals)) +
    (extension ? detailsTableHtml(extensionRows(request, extension)) : '') +
    detailsTableHtml(requestDetails(summary, { deadline: extension === undefined })) +
    `<form method="post" action="${escapeHtml(action)}">` +
    '<p><label for="comment">Comment (optional; the requester and the other approvers see it)</label>' +
    '<textarea id="comment" name="comment" rows="4" maxlength="1000"></textarea></p>' +
    '<div class="actions">' +
    '<button type="submit" name="decision" value="approve" class="approve">Approve</button>' +
    '<button type="submit" name="decision" value="deny" class="deny">Deny</button>' +
    '</div></form>' +
    '<p class="note">This link is yours alone and works for one decision. Nothing is decided until you press Approve or Deny.</p>';
  return { status: 200, html: layout(title, body) };
}

/** After a recorded decision on an extension. */
function recordedExtensionPage(
  decision: Decision,
  view: RequestView,
  extensionId: string,
  stage: number,
): Page {
  const target = targetLabel(targetOf(view));
  const extension = view.extensions.find((e) => e.id === extensionId);
  const what = `extension ${extensionId} of ${view.requester}'s access to the ${target}`;
  if (decision === 'deny')
    return page(
      200,
      'You denied the extension',
      `The ${what} is denied. ${view.requester} is told by email.`,
    );
  if (extension?.status === 'approved')
    return page(
      200,
      'You approved the extension',
      `The ${what} is approved.`,
      view.expiresAt ? `The access now lasts until ${formatTime(view.expiresAt)}.` : '',
    );
  if (
    extension?.currentStage !== null &&
    extension?.currentStage !== undefined &&
    extension.currentStage > stage
  )
    return page(
      200,
      'Your approval was recorded',
      `Stage ${stage + 1} of ${view.stages.length} of the ${what} is approved; the approvers of stage ${extension.currentStage + 1} are asked now.`,
    );
  return page(200, 'Your approval was recorded', `The ${what} stays pending until enough approvers agree.`);
}

/** After a recorded decision (`binding`: what the link decided). */
export function recordedPage(
  decision: Decision,
  view: RequestView,
  binding: LinkBinding = { stage: 0 },
): Page {
  if (binding.extensionId !== undefined)
    return recordedExtensionPage(decision, view, binding.extensionId, binding.stage);
  const target = targetLabel(targetOf(view));
  if (decision === 'deny') {
    return page(
      200,
      'You denied the request',
      `The request of ${view.requester} for the ${target} is denied. ${view.requester} is told by email.`,
    );
  }
  if (view.status === 'approved') {
    const scheduled =
      view.grantedAt !== null &&
      view.decidedAt !== null &&
      Date.parse(view.grantedAt) > Date.parse(view.decidedAt);
    return page(
      200,
      'You approved the request',
      `The request of ${view.requester} for the ${target} is approved.`,
      scheduled && view.grantedAt !== null
        ? `The access starts at ${formatTime(view.grantedAt)}${view.expiresAt ? ` and lasts until ${formatTime(view.expiresAt)}` : ''}.`
        : view.expiresAt
          ? `The access lasts until ${formatTime(view.expiresAt)}.`
          : '',
    );
  }
  if (view.stages.length > 1 && view.currentStage !== null) {
    const open = view.currentStage;
    if (open > binding.stage)
      return page(
        200,
        'Your approval was recorded',
        `Stage ${binding.stage + 1} of ${view.stages.length} of the request of ${view.requester} for the ${target} is approved; the approvers of stage ${open + 1} (${view.stages[open]?.approverGroup ?? ''}) are asked now.`,
      );
    const stage = view.stages[open];
    const got = stage?.approvals.filter((a) => a.decision === 'approve').length ?? 0;
    return page(
      200,
      'Your approval was recorded',
      `Stage ${open + 1} of ${view.stages.length} of the request of ${view.requester} for the ${target} has ${got} of ${stage?.requiredApprovals ?? 1} required approvals; it stays pending until enough approvers agree.`,
    );
  }
  const approvals = view.approvals.filter((a) => a.decision === 'approve').length;
  return page(
    200,
    'Your approval was recorded',
    `The request of ${view.requester} for the ${target} has ${approvals} of ${view.requiredApprovals} required approvals; it stays pending until enough approvers agree.`,
  );
}

export function invalidLinkPage(): Page {
  return page(
    404,
    'This link is not valid',
    'The link is incomplete, was changed, or was never issued. Open the link exactly as it appears in your email, or decide through the ZSA portal.',
  );
}

export function usedLinkPage(outcome: string | null, usedAt: string | null): Page {
  const what =
    outcome === 'approve' ? 'to approve the request' : outcome === 'deny' ? 'to deny the request' : '';
  return page(
    410,
    'This link has already been used',
    `A decision link works once. It was used${what ? ` ${what}` : ''}${usedAt ? ` on ${formatTime(usedAt)}` : ''}.`,
    'If that was not you, tell your administrators.',
  );
}

/**
 * Why a link leads to no decision: `reason` as `openDecisionLink` found it, `binding` what the
 * link decides. Nothing was written.
 */
export function closedLinkPage(
  request: Request,
  reason: 'notPending' | 'alreadyDecided' | 'stageOver' | 'stageNotOpen' | 'extensionNotPending',
  binding: LinkBinding = { stage: 0 },
): Page {
  const extension = binding.extensionId === undefined ? undefined : extensionOf(request, binding.extensionId);
  const what = binding.extensionId === undefined ? 'this request' : `extension ${binding.extensionId}`;
  if (reason === 'alreadyDecided') {
    return page(
      409,
      `You have already decided on ${what}`,
      'Each approver decides once; your earlier decision stands.',
    );
  }
  if (reason === 'stageOver' || reason === 'stageNotOpen') {
    const total = request.stages.length;
    const round = extension ? { stages: request.stages, approvals: extension.approvals } : roundOf(request);
    const open = currentStage(round, true);
    const now = open === null ? '' : ` Stage ${open + 1} decides now.`;
    return reason === 'stageOver'
      ? page(
          410,
          `Stage ${binding.stage + 1} of ${total} is already over`,
          `Your link was for stage ${binding.stage + 1} of ${what}, which no longer takes decisions.${now} The link no longer works; nothing was recorded.`,
        )
      : page(
          409,
          `Stage ${binding.stage + 1} of ${total} is not open yet`,
          `Your link is for stage ${binding.stage + 1} of ${what}, and an earlier stage still decides.${now} Nothing was recorded; you will be emailed when your stage opens.`,
        );
  }
  if (reason === 'extensionNotPending') {
    const why =
      extension === undefined
        ? ''
        : extension.status !== 'pending'
          ? `It is now ${extension.status}.`
          : request.status === 'approved'
            ? `Its deadline passed at ${formatTime(extension.pendingUntil)}.`
            : `The access it would extend is ${request.status}.`;
    return page(
      410,
      'This extension no longer needs a decision',
      why,
      'The link no longer works; nothing was recorded.',
    );
  }
  const why =
    request.status === 'pending'
      ? `Its deadline passed at ${formatTime(request.pendingUntil)}.`
      : `It is now ${request.status}.`;
  return page(410, 'This request no longer needs a decision', `${why} The link no longer works.`);
}

/** The request story refused the decision (its rules, worded for the approver). */
export function refusedPage(error: DomainError): Page {
  switch (error.code) {
    case 'SELF_APPROVAL':
      return page(403, 'You cannot decide on your own request', error.message);
    case 'NOT_AN_APPROVER':
    case 'NOT_FOUND':
      return page(
        403,
        'You are not an approver of this request',
        'Only members of the request\u2019s approver group may decide on it.',
      );
    case 'ALREADY_DECIDED':
      return page(409, 'You have already decided on this request', error.message);
    case 'REQUEST_NOT_PENDING':
      return page(410, 'This request no longer needs a decision', error.message);
    case 'EXTENSION_NOT_PENDING':
      return page(410, 'This extension no longer needs a decision', error.message);
    case 'STEP_UP_REQUIRED':
      return page(401, 'A stronger sign-in is needed to decide', error.message, 'Nothing was recorded.');
    case 'STAGE_NOT_OPEN':
      return page(409, 'Your stage does not decide now', error.message, 'Nothing was recorded.');
    default:
      return page(
        error.kind === 'forbidden' ? 403 : error.kind === 'validation' ? 400 : 409,
        'Your decision was not recorded',
        error.message,
      );
  }
}

export function badFormPage(detail: string): Page {
  return page(
    400,
    'The decision could not be read',
    detail,
    'Go back to the link in your email and use the Approve or Deny button.',
  );
}

export function unsupportedMediaPage(): Page {
  return page(
    415,
    'The decision could not be read',
    'Decisions are sent by the form on the confirmation page.',
  );
}

export function crossSitePage(): Page {
  return page(
    403,
    'The decision was not accepted',
    'It did not come from the confirmation page of this service.',
  );
}

/**
 * `signInUrl`: where the approver signs in and comes back to this link (App Service
 * Authentication's login, when it is in front of the app); without one, they are told what to do.
 */
export function signInRequiredPage(signInUrl?: string): Page {
  const title = 'Sign in to decide';
  if (signInUrl === undefined)
    return page(401, title, 'Sign in with your work account, then open the link in your email again.');
  return {
    status: 401,
    html: layout(
      title,
      `<h1>${escapeHtml(title)}</h1>` +
        paragraphs(
          'This link only works for the approver it was sent to, signed in with their work account.',
        ) +
        `<p><a href="${escapeHtml(signInUrl)}" rel="noreferrer">Sign in and continue</a></p>`,
    ),
  };
}

/** How the approver can sign in more strongly from the step-up page. */
export interface StepUpHelp {
  /**
   * Behind App Service Authentication: where the approver signs out and in again, coming back to
   * this link (a fresh sign-in is where Conditional Access asks for the stronger method).
   */
  readonly signInAgainUrl?: string | undefined;
  /** The local host's development issuer: a token with `acrs`/`amr` comes from `POST /dev/token`. */
  readonly devIssuer?: boolean | undefined;
  /** The request, for the API's address. */
  readonly requestId: string;
  /** The extension the link decides on, if any, for the API's address. */
  readonly extensionId?: string | undefined;
}

/**
 * The request asks for step-up (`required`: `mfa` or `c1` … `c99`) and this call does not prove
 * it: the link alone never decides such a request. 401 with the claims challenge, so an API client
 * knows what to ask the identity provider for; the page tells a person how to sign in more strongly.
 */
export function stepUpPage(required: string, help: StepUpHelp): Page {
  const title = 'A stronger sign-in is needed to decide';
  const what =
    required === 'mfa'
      ? 'a multi-factor sign-in (the token must list mfa among its authentication methods, amr)'
      : `the authentication context ${required} (the token must list ${required} in its acrs claim)`;
  const api =
    help.extensionId === undefined
      ? `POST /api/requests/${help.requestId}/approve or /deny`
      : `POST /api/requests/${help.requestId}/extensions/${help.extensionId}/approve or /deny`;
  const dev =
    required === 'mfa'
      ? '{"upn": "<your user name>", "amr": ["pwd", "mfa"]}'
      : `{"upn": "<your user name>", "acrs": ["${required}"]}`;
  const body =
    `<h1>${escapeHtml(title)}</h1>` +
    paragraphs(
      `The policy of this request asks approvers to prove ${what} before they decide. The link in your email alone cannot decide on it, and nothing was recorded.`,
    ) +
    (help.signInAgainUrl === undefined
      ? ''
      : `<p><a href="${escapeHtml(help.signInAgainUrl)}" rel="noreferrer">Sign in again with the stronger sign-in and continue</a></p>` +
        paragraphs(
          'Your organization asks for the stronger method while you sign in; you then come back to this link.',
        )) +
    paragraphs(
      `From a program or script: send the decision with an Authorization: Bearer token that proves it, here or through the API (${api}). The WWW-Authenticate header of this answer carries the claims request to get such a token.`,
      help.devIssuer === true
        ? `On the local host, such a token comes from POST /dev/token with ${dev}.`
        : '',
      'Your link still works once you are signed in that way.',
    );
  return {
    status: 401,
    html: layout(title, body),
    headers: { 'www-authenticate': claimsChallenge(required) },
  };
}

export function wrongUserPage(approver: string): Page {
  return page(
    403,
    'This link was sent to someone else',
    `It is for ${approver}. Sign in as that user, or decide through the ZSA portal.`,
  );
}

export function unavailablePage(): Page {
  return page(
    503,
    'Please try again in a moment',
    'The service could not record or show the decision right now. Your link still works.',
  );
}

export function errorPage(correlationId: string): Page {
  return page(
    500,
    'Something went wrong',
    `The decision could not be handled. Correlation id: ${correlationId}.`,
  );
}
