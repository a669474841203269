/**
 * Deciding from an emailed link. Opening the link (GET/HEAD, also done by mail scanners) only reads,
 * so scanners that fetch links (Safe Links, Proofpoint, Mimecast…) decide nothing. Submitting it
 * (POST from the confirmation page) claims the link with a compare-and-swap on its row — exactly
 * one POST wins — then records the decision through the same request story as the API, so every
 * approval rule applies (self-approval, membership, one decision each, pending only); the link ends
 * `used`, whether the story recorded or refused the decision. The story audits its refusals; the
 * link's own (used, closed, sent to someone else) are audited here, as the same action.
 *
 * A link decides in one stage, of the request or of one of its extensions (`TokenRecord.binding`;
 * links minted before stages decide in the request's first). It works only while that stage is the
 * open one: a link of a stage that is over, or not open yet, or of an extension no longer waiting,
 * is closed — its page says why, and nothing is written. The story is told the link's stage too
 * (`linkStage`), so a stage that moves on between the page and the decision refuses it as well.
 *
 * Who decides: the approver the link was minted for, by their stable key (the email went to them;
 * the token is 256 random bits, single use). When a user is signed in on the request (bearer token,
 * or App Service Authentication when trusted) they must be that approver, compared by key;
 * `ZSA_DECISION_LINK_REQUIRE_SIGN_IN=true` makes signing in mandatory (the Azure deployment's
 * default, behind App Service Authentication).
 *
 * Step-up: on a request whose policy asks for an authentication context (`approverAuthContext`),
 * the link alone never decides, whatever the setting. Only a user signed in on the call (bearer
 * token, or App Service Authentication when trusted) who is the link's approver and whose sign-in
 * proves the context may; anyone else gets the step-up page (401 with the claims challenge). That
 * refusal comes before the link is claimed, so the link stays live for the approver's stronger
 * retry and nothing is written but its audit row. The story checks the strength again.
 */
import { AuditAction, type AuditSink } from '#shared/audit/types';
import { meetsAuthContext, NO_STRENGTH, type AuthStrength } from '#shared/domain/step-up';
import { DomainError } from '#shared/domain/errors';
import { extensionOf } from '#shared/domain/extensions';
import {
  isAwaitingDecision,
  isGranted,
  roundOf,
  type Decision,
  type Extension,
  type Request,
  type RequestView,
} from '#shared/domain/request';
import { currentStage, hasDecidedIn } from '#shared/domain/stages';
import { isPast } from '#shared/domain/time';
import type { Caller } from '#shared/requests/context';
import type { RequestRepository } from '#shared/requests/repository';
import { Attr, SpanName } from '#shared/telemetry/names';
import { inSpan } from '#shared/telemetry/spans';
import { auditQuietly } from './audit';
import { CLAIM_TIMEOUT_MS, TokenState, type LinkBinding, type TokenRecord, type TokenStore } from './store';
import { parseToken } from './tokens';

export interface DecisionLinkContext {
  tokens: TokenStore;
  requests: Pick<RequestRepository, 'read'>;
  now: Date;
  /**
   * Who acts on `link`: the user signed in on this request, or, when the link alone speaks for
   * them, its approver with the link as the credential.
   */
  callerFor(link: TokenRecord): Caller;
  /**
   * Records the caller's decision through the request story, or the extension decision story for
   * an extension's link, in the link's stage (./wiring.ts binds it).
   */
  decide(
    caller: Caller,
    requestId: string,
    decision: Decision,
    comment: string | undefined,
    binding: LinkBinding,
  ): Promise<RequestView>;
  /** Where the link's own refusals are audited (best effort: the answer is a refusal either way). */
  audit: AuditSink;
  /**
   * The stable key of a user signed in on this request (bearer token or App Service
   * Authentication), if any. When present it must be the link's approver: a forwarded link is
   * useless to someone else.
   */
  signedInAs: string | undefined;
  /**
   * What the sign-in of `signedInAs` proves (`acrs`, `amr`); absent or undefined when nobody is
   * signed in, and then nothing is proved. The link itself never proves anything.
   */
  signedInStrength?: AuthStrength | undefined;
  /** `ZSA_DECISION_LINK_REQUIRE_SIGN_IN`: the link alone is not enough, the approver must be signed in. */
  requireSignIn: boolean;
  /** Where failures that do not reach the page are told. */
  log(message: string): void;
}

/** Why a link no longer leads to a decision. */
export const ClosedReason = {
  /** The request was decided, canceled or expired, or its deadline passed. */
  notPending: 'notPending',
  /** This approver already decided (through the API, or another link). */
  alreadyDecided: 'alreadyDecided',
  /** The link's stage was approved (or the request moved on past it); a later stage decides now. */
  stageOver: 'stageOver',
  /** The link's stage is not open yet: an earlier stage still decides. */
  stageNotOpen: 'stageNotOpen',
  /** The extension was decided, withdrawn or expired, or the grant it would extend is over. */
  extensionNotPending: 'extensionNotPending',
} as const;
export type ClosedReason = (typeof ClosedReason)[keyof typeof ClosedReason];

export type LinkState =
  /** No such link: malformed, tampered with, or never minted. */
  | { readonly kind: 'invalid' }
  /** The link was spent (or is being spent right now by another submit). */
  | { readonly kind: 'used'; readonly link: TokenRecord; readonly request: Request }
  | {
      readonly kind: 'closed';
      readonly reason: ClosedReason;
      readonly link: TokenRecord;
      readonly request: Request;
    }
  /** Sign-in is required and nobody is signed in. */
  | { readonly kind: 'signInRequired' }
  /** Someone other than the link's approver is signed in. */
  | { readonly kind: 'wrongUser'; readonly link: TokenRecord }
  /**
   * The request asks for step-up (`required`: its authentication context) and the call does not
   * carry a sign-in of the link's approver that proves it.
   */
  | {
      readonly kind: 'stepUpRequired';
      readonly required: string;
      readonly link: TokenRecord;
      readonly request: Request;
    }
  /** The link works: show the confirmation page. */
  | { readonly kind: 'open'; readonly link: TokenRecord; readonly request: Request };

export type SubmitOutcome =
  | Exclude<LinkState, { kind: 'open' }>
  /** The request story refused the decision; the link is spent. */
  | {
      readonly kind: 'refused';
      readonly error: DomainError;
      readonly link: TokenRecord;
      readonly request: Request;
    }
  | {
      readonly kind: 'recorded';
      readonly decision: Decision;
      readonly link: TokenRecord;
      readonly view: RequestView;
    };

/** The extension a link decides on, if it is an extension's link (undefined also when it is gone). */
export function linkExtension(request: Request, link: Pick<TokenRecord, 'binding'>): Extension | undefined {
  const id = link.binding.extensionId;
  return id === undefined ? undefined : extensionOf(request, id);
}

function linkHasDecided(request: Request, link: TokenRecord): boolean {
  if (link.approverId === null) return false;
  const who = { id: link.approverId, upn: link.approver };
  const extension = linkExtension(request, link);
  return extension === undefined ? hasDecidedIn(request, who) : hasDecidedIn(extension, who);
}

/**
 * Why the link's round or stage takes no decision now, or undefined when its stage is the open
 * one. Judged from the row as read; the story judges again (`linkStage`) under its compare-and-swap.
 */
function closedBecause(request: Request, link: TokenRecord, now: Date): ClosedReason | undefined {
  const extension = linkExtension(request, link);
  let open: number | null;
  if (link.binding.extensionId === undefined) {
    // Dead once the request leaves pending or its deadline passes, whatever the row says.
    if (!isAwaitingDecision(request, now)) return ClosedReason.notPending;
    open = currentStage(roundOf(request), true);
  } else {
    if (
      extension === undefined ||
      extension.status !== 'pending' ||
      isPast(extension.pendingUntil, now) ||
      !isGranted(request, now)
    )
      return ClosedReason.extensionNotPending;
    open = currentStage({ stages: request.stages, approvals: extension.approvals }, true);
  }
  if (open === null || open === link.binding.stage) return undefined;
  return link.binding.stage < open ? ClosedReason.stageOver : ClosedReason.stageNotOpen;
}

/** A claim whose POST died before recording anything: the link may be claimed again. */
function abandonedClaim(link: TokenRecord, request: Request, now: Date): boolean {
  if (link.state !== TokenState.claimed || link.claimedAt === null) return false;
  return now.getTime() - Date.parse(link.claimedAt) > CLAIM_TIMEOUT_MS && !linkHasDecided(request, link);
}

/** What opening a link needs: it reads, and nothing else. */
export type LinkReader = Pick<
  DecisionLinkContext,
  'tokens' | 'requests' | 'now' | 'signedInAs' | 'signedInStrength' | 'requireSignIn'
>;

/**
 * Whether the call proves the step-up `request` asks of the link's approver: someone is signed in,
 * is that approver (by key; `openDecisionLink` has already refused anyone else), and their sign-in
 * meets the context. The link alone proves nothing.
 */
function stepUpMet(ctx: LinkReader, link: TokenRecord, required: string): boolean {
  if (ctx.signedInAs === undefined || ctx.signedInAs !== link.approverId) return false;
  return meetsAuthContext(required, ctx.signedInStrength ?? NO_STRENGTH);
}

/** What the link leads to now. Reads only: GET and HEAD call nothing else. */
export async function openDecisionLink(ctx: LinkReader, raw: string | undefined): Promise<LinkState> {
  const parsed = parseToken(raw);
  if (parsed === undefined) return { kind: 'invalid' };
  if (ctx.requireSignIn && ctx.signedInAs === undefined) return { kind: 'signInRequired' };
  const link = await ctx.tokens.find(parsed);
  // A link minted before links were bound to the approver's key names nobody who may decide.
  if (link === undefined || link.approverId === null) return { kind: 'invalid' };
  if (ctx.signedInAs !== undefined && ctx.signedInAs !== link.approverId) return { kind: 'wrongUser', link };
  const request = (await ctx.requests.read(link.requestId))?.request;
  if (request === undefined) return { kind: 'invalid' };
  if (link.state === TokenState.used) return { kind: 'used', link, request };
  if (link.state === TokenState.claimed && !abandonedClaim(link, request, ctx.now))
    return { kind: 'used', link, request };
  // A link to an extension this request does not have could never have been minted for it.
  if (link.binding.extensionId !== undefined && linkExtension(request, link) === undefined)
    return { kind: 'invalid' };
  if (linkHasDecided(request, link))
    return { kind: 'closed', reason: ClosedReason.alreadyDecided, link, request };
  const closed = closedBecause(request, link, ctx.now);
  if (closed !== undefined) return { kind: 'closed', reason: closed, link, request };
  const required = request.approverAuthContext;
  if (required !== null && !stepUpMet(ctx, link, required))
    return { kind: 'stepUpRequired', required, link, request };
  return { kind: 'open', link, request };
}

/**
 * Decides through the link, once; the link's own refusals are audited (the story audits its own).
 * Traced as `zsa.link.decide` (its child `zsa.decide` when the decision is made), with the request
 * id and the outcome; never the link or its token.
 */
export async function submitDecisionLink(
  ctx: DecisionLinkContext,
  raw: string | undefined,
  decision: Decision,
  comment: string | undefined,
): Promise<SubmitOutcome> {
  return inSpan(SpanName.LinkDecide, {}, async (span) => {
    const outcome = await submitLink(ctx, raw, decision, comment);
    span.set({
      [Attr.Outcome]: outcome.kind,
      ...('link' in outcome ? { [Attr.RequestId]: outcome.link.requestId } : {}),
    });
    return outcome;
  });
}

async function submitLink(
  ctx: DecisionLinkContext,
  raw: string | undefined,
  decision: Decision,
  comment: string | undefined,
): Promise<SubmitOutcome> {
  const outcome = await claimAndDecide(ctx, raw, decision, comment);
  if (
    outcome.kind === 'used' ||
    outcome.kind === 'closed' ||
    outcome.kind === 'wrongUser' ||
    outcome.kind === 'stepUpRequired'
  ) {
    const { link } = outcome;
    const caller = ctx.callerFor(link);
    await auditQuietly(
      {
        action: AuditAction.DecisionRefused,
        actor: caller.actor,
        outcome: 'refused',
        requestId: link.requestId,
        reason:
          outcome.kind === 'used'
            ? 'DECISION_LINK_USED'
            : outcome.kind === 'wrongUser'
              ? 'DECISION_LINK_WRONG_USER'
              : outcome.kind === 'stepUpRequired'
                ? 'STEP_UP_REQUIRED'
                : `DECISION_LINK_CLOSED: ${outcome.reason}`,
        detail: {
          via: 'decisionLink',
          decision,
          linkApprover: link.approver,
          stage: link.binding.stage,
          ...(link.binding.extensionId === undefined ? {} : { extensionId: link.binding.extensionId }),
          ...(outcome.kind === 'stepUpRequired' ? { required: outcome.required } : {}),
        },
        origin: caller.origin,
      },
      (m) => ctx.log(m),
      ctx.audit,
    );
  }
  return outcome;
}

async function claimAndDecide(
  ctx: DecisionLinkContext,
  raw: string | undefined,
  decision: Decision,
  comment: string | undefined,
): Promise<SubmitOutcome> {
  const state = await openDecisionLink(ctx, raw);
  if (state.kind !== 'open') return state;
  const claimed = await ctx.tokens.change(state.link, {
    state: TokenState.claimed,
    claimedAt: ctx.now.toISOString(),
  });
  // Another submit of the same link won the race.
  if (claimed === undefined) return { kind: 'used', link: state.link, request: state.request };

  let view: RequestView;
  try {
    view = await ctx.decide(ctx.callerFor(claimed), claimed.requestId, decision, comment, claimed.binding);
  } catch (e) {
    if (e instanceof DomainError && e.kind !== 'unavailable') {
      await spend(ctx, claimed, `refused:${e.code}`);
      return { kind: 'refused', error: e, link: claimed, request: state.request };
    }
    // Nothing was decided (or, if the decision was stored before the failure, the approver's next
    // try is refused as already decided): give the link back so the approver can try again.
    const released = await ctx.tokens
      .change(claimed, { state: TokenState.live, claimedAt: null })
      .catch(() => undefined);
    if (released === undefined)
      ctx.log(`decision link of ${claimed.approver} on ${claimed.requestId} could not be released`);
    throw e;
  }
  await spend(ctx, claimed, decision);
  return { kind: 'recorded', decision, link: claimed, view };
}

/**
 * Marks a claimed link used. Best effort: the decision already stands, and a link left `claimed`
 * stays dead (its approver has decided, so it is never treated as abandoned).
 */
async function spend(ctx: DecisionLinkContext, link: TokenRecord, outcome: string): Promise<void> {
  try {
    const done = await ctx.tokens.change(link, {
      state: TokenState.used,
      outcome,
      usedAt: ctx.now.toISOString(),
    });
    if (done === undefined)
      ctx.log(`decision link of ${link.approver} on ${link.requestId} changed while being spent`);
  } catch (e) {
    ctx.log(`decision link of ${link.approver} on ${link.requestId} could not be marked used: ${String(e)}`);
  }
}
