/**
 * Builds the contexts the notification stories run in, from the app's deps (and, for a decision
 * link, the invocation).
 */
import type { HttpRequest, InvocationContext } from '@azure/functions';
import { auditSink } from '#shared/admin/audit';
import { getDeps } from '#shared/app/deps';
import { AuthMethod, EASY_AUTH_PRINCIPAL_HEADER, type Principal } from '#shared/auth/index';
import { NO_STRENGTH } from '#shared/domain/step-up';
import { auditActor, auditOrigin, authenticate } from '#shared/http/auth';
import { decideExtension } from '#shared/requests/extensions';
import { decide } from '#shared/requests/usecases';
import { requestContext } from '#shared/requests/wiring';
import type { DecisionLinkContext } from './decisions';
import type { DeliverContext } from './deliver';
import { NOTIFICATIONS_QUEUE } from './messages';
import { serviceBusPublisher } from './publisher';
import type { PublishContext } from './publish';
import { publishReminder, type ReminderContext } from './reminders';
import { createScheduleStore, createTokenStore, type TokenRecord, type TokenStore } from './store';

export function publishContext(): PublishContext {
  const deps = getDeps();
  return {
    requests: deps.requests,
    groupMembers: (group) => deps.config.groupMembers(group),
    defaultApproverGroup: async () => (await deps.config.pamConfig()).defaultApproverGroup,
    tokens: createTokenStore(deps.tables),
    schedules: createScheduleStore(deps.tables),
    publisher: serviceBusPublisher(() => deps.bus.sender(NOTIFICATIONS_QUEUE)),
    now: deps.now(),
    publicBaseUrl: deps.settings.ZSA_PUBLIC_BASE_URL,
    expiryNoticeMs: deps.settings.ZSA_EXPIRY_NOTICE_MINUTES * 60_000,
  };
}

/** The review reminder's context: the notify story publishes, the audit sink is looked up when used. */
export function reminderContext(log: (message: string) => void): ReminderContext {
  const deps = getDeps();
  const publish = publishContext();
  return {
    repo: deps.requests,
    audit: { append: (event) => auditSink().append(event) },
    remind: (requestId, since) => publishReminder(publish, requestId, since),
    now: publish.now,
    reminderMs: deps.settings.ZSA_REVIEW_REMINDER_HOURS * 3_600_000,
    log,
  };
}

export function deliverContext(): DeliverContext {
  const deps = getDeps();
  return { mailer: deps.mailer, requests: deps.requests, now: deps.now() };
}

export function tokenStore(): TokenStore {
  return createTokenStore(getDeps().tables);
}

/**
 * The context of one decision-link call. `decides`: only the form's POST may decide; opening the
 * link never does. Throws the authentication failure of a credential that is sent but not valid.
 */
export async function decisionLinkContext(
  request: HttpRequest,
  invocation: InvocationContext,
  decides: boolean,
): Promise<DecisionLinkContext> {
  const deps = getDeps();
  const principal = await signedIn(request);
  return {
    tokens: tokenStore(),
    requests: deps.requests,
    now: deps.now(),
    signedInAs: principal?.id,
    // What that sign-in proves (acrs, amr), for step-up; the link alone proves nothing.
    signedInStrength: principal?.strength,
    requireSignIn: deps.settings.ZSA_DECISION_LINK_REQUIRE_SIGN_IN,
    log: (m) => invocation.warn(m),
    // Looked up when used: opening a link needs no audit log, and a missing one is only logged.
    audit: { append: (event) => auditSink().append(event) },
    callerFor: (link) => {
      const who = principal ?? linkPrincipal(link);
      return {
        principal: who,
        actor: auditActor(who),
        origin: auditOrigin(request, invocation.invocationId),
      };
    },
    // In the link's stage, of the request or of its extension: the same stories as the API.
    decide: (caller, requestId, decision, comment, binding) => {
      if (!decides) throw new Error('opening a decision link never decides');
      const ctx = requestContext(invocation);
      return binding.extensionId === undefined
        ? decide(ctx, caller, requestId, decision, comment, binding.stage)
        : decideExtension(ctx, caller, requestId, binding.extensionId, decision, comment, binding.stage);
    },
  };
}

/** Signed in on this request? Only a credential that is actually present is checked. */
async function signedIn(request: HttpRequest): Promise<Principal | undefined> {
  const trustEasyAuth = getDeps().settings.ZSA_TRUST_EASY_AUTH;
  const present =
    request.headers.has('authorization') ||
    (trustEasyAuth && request.headers.has(EASY_AUTH_PRINCIPAL_HEADER));
  return present ? authenticate(request) : undefined;
}

/**
 * The decider when only the link speaks for them: the member the link was minted for, by the key
 * their group resolved them to. It never carries a role; the decision's audit row says `via:
 * decisionLink`.
 */
function linkPrincipal(link: TokenRecord): Principal {
  return {
    // `openDecisionLink` lets no link without a key this far; the fallback names the link's approver
    // in a form that can match no member.
    id: link.approverId ?? `decision-link:${link.approver}`,
    upn: link.approver,
    roles: [],
    isAdmin: false,
    isAuditor: false,
    // The link is a bearer credential (whoever holds it acts), though not an OAuth token.
    authMethod: AuthMethod.DecisionLink,
    // The link proves who it was sent to, never how they signed in: step-up needs a real sign-in.
    strength: NO_STRENGTH,
  };
}
