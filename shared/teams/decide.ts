/**
 * Deciding from a card in Teams: an approver pressed Approve or Deny (`Action.Execute`). The
 * decision goes through the same story as the API and the emailed links (the request's, or the
 * extension decision story for an extension's card), in the card's stage, so every rule holds: no
 * self-approval, members only, once per person, the open stage only, compare-and-swap, the audit
 * (`via: teams`). The approver is the Teams user (`aadObjectId` in ZSA's tenant), keyed as their
 * tokens are; the activity proves nothing about how they signed in, so a request that asks for
 * step-up is refused by the story and the card sends them to the portal.
 *
 * The answer is the card as it now reads for this approver, with a sentence on top about the click:
 * "You approved", "Already decided", "You cannot decide on your own request"…
 */
import { AuthMethod, type Principal } from '#shared/auth/index';
import { DomainError } from '#shared/domain/errors';
import type { Decision, Request, RequestView } from '#shared/domain/request';
import { requestGroups } from '#shared/domain/request';
import type { GroupMembers } from '#shared/domain/stages';
import { NO_STRENGTH } from '#shared/domain/step-up';
import type { Caller } from '#shared/requests/context';
import type { RequestRepository } from '#shared/requests/repository';
import type { IAdaptiveCard } from '@microsoft/teams.cards';
import type { CardActionInvoke, TeamsUser } from './activity';
import { approvalCard, cardState, type CardBinding, type CardNotice } from './cards';

export interface CardDecisionContext {
  requests: Pick<RequestRepository, 'read'>;
  /** The members of the request's approver groups (to name the approver as their group does). */
  membersOf(request: Request): Promise<GroupMembers>;
  /** The request story, or the extension decision story, in the card's stage (./wiring.ts binds them). */
  decide(
    caller: Caller,
    requestId: string,
    decision: Decision,
    comment: string | undefined,
    binding: CardBinding,
  ): Promise<RequestView>;
  callerFor(principal: Principal): Caller;
  now: Date;
  portalBaseUrl: string | undefined;
}

/**
 * The name the decision is recorded under: the member's (or the requester's) name as ZSA knows it.
 * No right follows from it; a Teams user ZSA does not know gets a name that matches nobody.
 */
function nameOf(user: TeamsUser, request: Request, members: GroupMembers): string {
  if (user.id === request.requesterId) return request.requester;
  for (const group of requestGroups(request)) {
    const member = members.get(group)?.find((m) => m.id === user.id);
    if (member !== undefined) return member.upn;
  }
  return `${user.objectId}@teams.invalid`;
}

/** The principal of a Teams user: no roles, no strength; `via: teams` in the audit. */
export function teamsPrincipal(user: TeamsUser, upn: string): Principal {
  return {
    id: user.id,
    tenantId: user.tenantId,
    objectId: user.objectId,
    upn: upn.toLowerCase(),
    ...(user.name === undefined || user.name === '' ? {} : { name: user.name.slice(0, 256) }),
    roles: [],
    isAdmin: false,
    isAuditor: false,
    authMethod: AuthMethod.Teams,
    strength: NO_STRENGTH,
  };
}

/** What the approver is told of a refusal, by the story's code. */
function refusalNotice(error: DomainError, decision: Decision, headline: string | undefined): CardNotice {
  switch (error.code) {
    case 'SELF_APPROVAL':
      return {
        text: `You cannot ${decision === 'approve' ? 'approve' : 'deny'} your own request.`,
        tone: 'attention',
      };
    case 'STEP_UP_REQUIRED':
      return {
        text: 'This request needs a stronger sign-in (step-up): open it in ZSA to decide.',
        tone: 'warning',
      };
    case 'ALREADY_DECIDED':
    case 'REQUEST_NOT_PENDING':
    case 'EXTENSION_NOT_PENDING':
      return { text: `Already decided${headline === undefined ? '' : `: ${headline}`}.`, tone: 'warning' };
    default:
      return { text: error.message, tone: 'attention' };
  }
}

/** A card for a request that is not there (or not visible to this user): nothing to show of it. */
function goneCard(): IAdaptiveCard {
  return {
    type: 'AdaptiveCard',
    version: '1.5',
    body: [{ type: 'TextBlock', text: 'This request no longer exists.', wrap: true, weight: 'Bolder' }],
  };
}

export async function decideFromCard(
  ctx: CardDecisionContext,
  user: TeamsUser,
  invoke: CardActionInvoke,
): Promise<IAdaptiveCard> {
  const { verb: decision, data } = invoke.action;
  const binding: CardBinding = {
    stage: data.stage,
    ...(data.extensionId === undefined ? {} : { extensionId: data.extensionId }),
  };
  const before = (await ctx.requests.read(data.requestId))?.request;
  if (before === undefined) return goneCard();
  const principal = teamsPrincipal(user, nameOf(user, before, await ctx.membersOf(before)));
  const comment = data.comment?.trim() === '' ? undefined : data.comment?.trim();
  let notice: CardNotice;
  try {
    await ctx.decide(ctx.callerFor(principal), data.requestId, decision, comment, binding);
    notice = { text: decision === 'approve' ? 'You approved.' : 'You denied.', tone: 'good' };
  } catch (e) {
    if (!(e instanceof DomainError) || e.kind === 'unavailable') throw e;
    // Someone who may not see the request learns nothing of it (the API answers them 404 too).
    if (e.code === 'NOT_FOUND' || e.code === 'NOT_AN_APPROVER') return goneCard();
    const now = (await ctx.requests.read(data.requestId))?.request ?? before;
    const state = cardState({ request: now, binding, viewerId: user.id, now: ctx.now });
    notice = refusalNotice(e, decision, state.kind === 'done' ? state.headline : undefined);
    return approvalCard({
      request: now,
      binding,
      viewerId: user.id,
      now: ctx.now,
      portalBaseUrl: ctx.portalBaseUrl,
      notice,
    });
  }
  const after = (await ctx.requests.read(data.requestId))?.request ?? before;
  return approvalCard({
    request: after,
    binding,
    viewerId: user.id,
    now: ctx.now,
    portalBaseUrl: ctx.portalBaseUrl,
    notice,
  });
}
