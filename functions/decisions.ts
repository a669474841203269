/**
 * Decision links from approval emails (DESIGN §5, security reference §A.2):
 * - `GET|HEAD /api/decisions/{token}`: the confirmation page. Changes nothing, so mail scanners
 *   that fetch links (Safe Links, Proofpoint, Mimecast…) decide nothing.
 * - `POST /api/decisions/{token}`: the form of that page (`decision=approve|deny`, `comment`).
 *
 * Who decides: the approver the link was minted for (the email went to them; the token is 256 random
 * bits, single use). When a user is signed in on the request (bearer token, or App Service
 * Authentication when trusted) they must be that approver; `ZSA_DECISION_LINK_REQUIRE_SIGN_IN=true`
 * makes signing in mandatory (recommended behind App Service Authentication).
 *
 * CSRF: the secret token in the path is what a forged cross-site form cannot know, so it serves as
 * the anti-CSRF token; in addition only `application/x-www-form-urlencoded` is accepted and a
 * browser's cross-site `Sec-Fetch-Site` or a foreign `Origin` is refused. A per-render HMAC would
 * add nothing a holder of the link could not also obtain by opening the page.
 *
 * Pages are HTML (not problem+json): a person reads them.
 */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { z } from 'zod';
import { getDeps } from '#shared/app/deps';
import { AuditAction } from '#shared/audit/types';
import {
  AuthError,
  AuthMethod,
  AuthUnavailableError,
  EASY_AUTH_PRINCIPAL_HEADER,
  type Principal,
} from '#shared/auth/index';
import { DomainError } from '#shared/domain/errors';
import { DecisionSchema, MAX_COMMENT } from '#shared/domain/request';
import { auditActor, auditOrigin, authenticate } from '#shared/http/auth';
import { mediaTypeOf, publicOrigin, readText } from '#shared/http/handler';
import { HttpError } from '#shared/http/problem';
import type { Caller } from '#shared/requests/context';
import { decide } from '#shared/requests/usecases';
import { requestContext } from '#shared/requests/wiring';
import { auditQuietly } from '#shared/notifications/audit';
import {
  openDecisionLink,
  submitDecisionLink,
  type DecisionLinkContext,
  type LinkState,
  type SubmitOutcome,
} from '#shared/notifications/decisions';
import {
  badFormPage,
  closedLinkPage,
  confirmationPage,
  crossSitePage,
  errorPage,
  invalidLinkPage,
  pageHeaders,
  recordedPage,
  refusedPage,
  signInRequiredPage,
  unavailablePage,
  unsupportedMediaPage,
  usedLinkPage,
  wrongUserPage,
  type Page,
} from '#shared/notifications/pages';
import { decisionUrl } from '#shared/notifications/tokens';
import { tokenStore } from '#shared/notifications/wiring';

/** The form of the confirmation page; nothing else is accepted. */
const DecisionForm = z.strictObject({
  decision: DecisionSchema,
  comment: z
    .string()
    .max(MAX_COMMENT, `must be at most ${MAX_COMMENT} characters`)
    .optional()
    .transform((c) => (c === undefined || c.trim() === '' ? undefined : c.trim())),
});

/** A page as the answer: HTML with the page headers (its form may post to the public origin only). */
function respond(page: Page, correlationId: string, extra: Record<string, string> = {}): HttpResponseInit {
  const settings = getDeps().settings;
  const origin = publicOrigin(settings.ZSA_PUBLIC_BASE_URL);
  return {
    status: page.status,
    headers: { ...pageHeaders(origin), 'x-correlation-id': correlationId, ...extra },
    body: page.html,
  };
}

/** Like `handled`, but failures become pages. */
function pageHandler(
  handler: (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>,
): (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit> {
  return async (request, context) => {
    try {
      return await handler(request, context);
    } catch (e) {
      if ((e instanceof DomainError && e.kind === 'unavailable') || e instanceof AuthUnavailableError) {
        context.warn(`decision link: ${e.message}`);
        return respond(unavailablePage(), context.invocationId, { 'retry-after': '5' });
      }
      if (e instanceof AuthError) return respond(signInRequiredPage(), context.invocationId);
      if (e instanceof HttpError && e.status === 413)
        return respond(badFormPage('The form is too large.'), context.invocationId);
      context.error(`Unexpected failure (correlation id ${context.invocationId}):`, e);
      return respond(errorPage(context.invocationId), context.invocationId);
    }
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
 * The decider when only the link speaks for them. The `decision-link:` id marks, in the audit, that
 * the link was the credential; it never carries a role.
 */
function linkPrincipal(approver: string): Principal {
  return {
    id: `decision-link:${approver}`,
    upn: approver,
    roles: [],
    isAdmin: false,
    isAuditor: false,
    // The link is a bearer credential (whoever holds it acts), though not an OAuth token.
    authMethod: AuthMethod.DecisionLink,
  };
}

function linkContext(
  request: HttpRequest,
  context: InvocationContext,
  principal: Principal | undefined,
  withDecide: boolean,
): DecisionLinkContext {
  const deps = getDeps();
  return {
    tokens: tokenStore(),
    requests: deps.requests,
    now: deps.now(),
    signedInAs: principal?.upn,
    requireSignIn: deps.settings.ZSA_DECISION_LINK_REQUIRE_SIGN_IN,
    log: (m) => context.warn(m),
    decide: async (approver, requestId, decision, comment) => {
      if (!withDecide) throw new Error('opening a decision link never decides');
      const who = principal ?? linkPrincipal(approver);
      const caller: Caller = {
        principal: who,
        actor: auditActor(who),
        origin: auditOrigin(request, context.invocationId),
      };
      return decide(requestContext(context), caller, requestId, decision, comment);
    },
  };
}

/** The page for a link that does not lead to a decision. */
function stateOf(
  state: Exclude<LinkState, { kind: 'open' }> | Exclude<SubmitOutcome, { kind: 'recorded' }>,
): Page {
  switch (state.kind) {
    case 'invalid':
      return invalidLinkPage();
    case 'signInRequired':
      return signInRequiredPage();
    case 'wrongUser':
      return wrongUserPage(state.link.approver);
    case 'used':
      return usedLinkPage(state.link.outcome, state.link.usedAt);
    case 'closed':
      return closedLinkPage(state.request, state.reason === 'alreadyDecided');
    case 'refused':
      return refusedPage(state.error);
  }
}

export const showDecision = pageHandler(async (request, context) => {
  const principal = await signedIn(request);
  const state = await openDecisionLink(linkContext(request, context, principal, false), request.params.token);
  if (state.kind !== 'open') return respond(stateOf(state), context.invocationId);
  const base = getDeps().settings.ZSA_PUBLIC_BASE_URL;
  if (base === undefined) throw new Error('ZSA_PUBLIC_BASE_URL is not set');
  const token = request.params.token ?? '';
  return respond(
    confirmationPage(state.request, state.link.approver, decisionUrl(base, token)),
    context.invocationId,
  );
});

/** A browser says where a form came from; refuse anything but this service's own page. */
function crossSite(request: HttpRequest): boolean {
  const site = request.headers.get('sec-fetch-site');
  if (site !== null && site !== 'same-origin' && site !== 'none') return true;
  const origin = request.headers.get('origin');
  // `null` is what browsers send under Referrer-Policy: no-referrer, which these pages set.
  if (origin === null || origin === 'null') return false;
  return origin !== publicOrigin(getDeps().settings.ZSA_PUBLIC_BASE_URL);
}

async function readForm(request: HttpRequest): Promise<z.output<typeof DecisionForm> | Page> {
  if (mediaTypeOf(request.headers.get('content-type')) !== 'application/x-www-form-urlencoded')
    return unsupportedMediaPage();
  const fields: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(await readText(request))) {
    if (key in fields) return badFormPage(`The field ${key} was sent twice.`);
    fields[key] = value;
  }
  const parsed = DecisionForm.safeParse(fields);
  if (parsed.success) return parsed.data;
  return badFormPage(
    parsed.error.issues.map((i) => `${i.path.join('.') || 'form'}: ${i.message}`).join('; '),
  );
}

export const submitDecision = pageHandler(async (request, context) => {
  if (crossSite(request)) return respond(crossSitePage(), context.invocationId);
  const form = await readForm(request);
  if ('status' in form) return respond(form, context.invocationId);
  const principal = await signedIn(request);
  const outcome = await submitDecisionLink(
    linkContext(request, context, principal, true),
    request.params.token,
    form.decision,
    form.comment,
  );
  if (outcome.kind === 'recorded')
    return respond(recordedPage(outcome.decision, outcome.view), context.invocationId);
  // Refusals by the request story are audited there; the link's own refusals are audited here.
  if (outcome.kind === 'used' || outcome.kind === 'closed' || outcome.kind === 'wrongUser') {
    const who = principal ?? linkPrincipal(outcome.link.approver);
    await auditQuietly(
      {
        action: AuditAction.DecisionRefused,
        actor: auditActor(who),
        outcome: 'refused',
        requestId: outcome.link.requestId,
        reason:
          outcome.kind === 'used'
            ? 'DECISION_LINK_USED'
            : outcome.kind === 'wrongUser'
              ? 'DECISION_LINK_WRONG_USER'
              : `DECISION_LINK_CLOSED: ${outcome.reason}`,
        detail: { via: 'decisionLink', decision: form.decision, linkApprover: outcome.link.approver },
        origin: auditOrigin(request, context.invocationId),
      },
      (m) => context.warn(m),
    );
  }
  return respond(stateOf(outcome), context.invocationId);
});

app.http('showDecision', { methods: ['GET', 'HEAD'], route: 'decisions/{token}', handler: showDecision });
app.http('submitDecision', {
  methods: ['POST'],
  route: 'decisions/{token}',
  handler: submitDecision,
  extraInputs: [df.input.durableClient()],
});
