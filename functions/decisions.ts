/**
 * Decision links from approval emails (docs/design.md §5; the story: shared/notifications/decisions.ts).
 * `GET|HEAD /api/decisions/{token}` shows the confirmation page — the request, or the extension, and
 * the stage the link decides in — and changes nothing; `POST` sends its form (`decision=approve|deny`,
 * `comment`). Pages are HTML, not problem+json: a person reads them. On a request that asks for
 * step-up, both answer the step-up page (401, `WWW-Authenticate` with the claims challenge) unless
 * the call carries the link's approver's sign-in proving the authentication context.
 */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { getDeps } from '#shared/app/deps';
import { AuthError, AuthUnavailableError } from '#shared/auth/index';
import { DomainError } from '#shared/domain/errors';
import { publicOrigin } from '#shared/http/handler';
import { HttpError } from '#shared/http/problem';
import { crossSite, readDecisionForm } from '#shared/notifications/decision-form';
import { openDecisionLink, submitDecisionLink, type SubmitOutcome } from '#shared/notifications/decisions';
import * as pages from '#shared/notifications/pages';
import { decisionUrl, parseToken } from '#shared/notifications/tokens';
import { decisionLinkContext } from '#shared/notifications/wiring';
import { isLoopbackHost } from '#shared/domain/loopback';

/** A page as the answer: HTML with the page headers (its form may post to the public origin only). */
function respond(
  page: pages.Page,
  correlationId: string,
  extra: Record<string, string> = {},
): HttpResponseInit {
  const origin = publicOrigin(getDeps().settings.ZSA_PUBLIC_BASE_URL);
  return {
    status: page.status,
    headers: {
      ...pages.pageHeaders(origin),
      ...page.headers,
      'x-correlation-id': correlationId,
      ...extra,
    },
    body: page.html,
  };
}

/** Like `handled`, but failures become pages. */
function pageHandler(
  handler: (request: HttpRequest, context: InvocationContext) => Promise<pages.Page>,
): (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit> {
  return async (request, context) => {
    const answer = (page: pages.Page, extra?: Record<string, string>) =>
      respond(page, context.invocationId, extra);
    try {
      return answer(await handler(request, context));
    } catch (e) {
      if ((e instanceof DomainError && e.kind === 'unavailable') || e instanceof AuthUnavailableError) {
        context.warn(`decision link: ${e.message}`);
        return answer(pages.unavailablePage(), { 'retry-after': '5' });
      }
      if (e instanceof AuthError) return answer(pages.signInRequiredPage(signInUrl(request)));
      if (e instanceof HttpError && e.status === 413)
        return answer(pages.badFormPage('The form is too large.'));
      context.error(`Unexpected failure (correlation id ${context.invocationId}):`, e);
      return answer(pages.errorPage(context.invocationId));
    }
  };
}

/**
 * Behind App Service Authentication, its login, coming back to the same link (built from the public
 * base URL, never from the Host header); elsewhere none.
 */
function signInUrl(request: HttpRequest): string | undefined {
  const { ZSA_TRUST_EASY_AUTH, ZSA_PUBLIC_BASE_URL } = getDeps().settings;
  // Only a token of the link's own shape goes into the address to come back to.
  const token = parseToken(request.params.token)?.token;
  if (!ZSA_TRUST_EASY_AUTH || ZSA_PUBLIC_BASE_URL === undefined || token === undefined) return undefined;
  const back = new URL(decisionUrl(ZSA_PUBLIC_BASE_URL, token)).pathname;
  return `${ZSA_PUBLIC_BASE_URL.replace(/\/+$/, '')}/.auth/login/aad?post_login_redirect_uri=${encodeURIComponent(back)}`;
}

/**
 * A fresh sign-in through App Service Authentication (sign out, then in), coming back to the link:
 * signing in again over a live session would hand back the same, weaker sign-in.
 */
function signInAgainUrl(request: HttpRequest): string | undefined {
  const login = signInUrl(request);
  if (login === undefined) return undefined;
  const base = getDeps().settings.ZSA_PUBLIC_BASE_URL?.replace(/\/+$/, '') ?? '';
  const relativeLogin = login.slice(base.length);
  return `${base}/.auth/logout?post_logout_redirect_uri=${encodeURIComponent(relativeLogin)}`;
}

/** Whether bearer tokens come from the local host's development issuer (loopback only). */
function devIssuer(): boolean {
  const issuer = getDeps().settings.ZSA_AUTH_ISSUER;
  if (issuer === undefined || !URL.canParse(issuer)) return false;
  return isLoopbackHost(new URL(issuer).hostname);
}

/** The page for what a link led to. */
function pageOf(outcome: SubmitOutcome, request: HttpRequest): pages.Page {
  switch (outcome.kind) {
    case 'recorded':
      return pages.recordedPage(outcome.decision, outcome.view, outcome.link.binding);
    case 'invalid':
      return pages.invalidLinkPage();
    case 'signInRequired':
      return pages.signInRequiredPage(signInUrl(request));
    case 'wrongUser':
      return pages.wrongUserPage(outcome.link.approver);
    case 'stepUpRequired':
      return pages.stepUpPage(outcome.required, {
        signInAgainUrl: signInAgainUrl(request),
        devIssuer: devIssuer(),
        requestId: outcome.request.id,
        extensionId: outcome.link.binding.extensionId,
      });
    case 'used':
      return pages.usedLinkPage(outcome.link.outcome, outcome.link.usedAt);
    case 'closed':
      return pages.closedLinkPage(outcome.request, outcome.reason, outcome.link.binding);
    case 'refused':
      return pages.refusedPage(outcome.error);
  }
}

export const showDecision = pageHandler(async (request, context) => {
  const token = request.params.token;
  const state = await openDecisionLink(await decisionLinkContext(request, context, false), token);
  if (state.kind !== 'open') return pageOf(state, request);
  const base = getDeps().settings.ZSA_PUBLIC_BASE_URL;
  if (base === undefined) throw new Error('ZSA_PUBLIC_BASE_URL is not set');
  return pages.confirmationPage(
    state.request,
    state.link.approver,
    decisionUrl(base, token ?? ''),
    state.link.binding,
  );
});

export const submitDecision = pageHandler(async (request, context) => {
  if (crossSite(request, getDeps().settings.ZSA_PUBLIC_BASE_URL)) return pages.crossSitePage();
  const form = await readDecisionForm(request);
  if ('status' in form) return form;
  const ctx = await decisionLinkContext(request, context, true);
  return pageOf(await submitDecisionLink(ctx, request.params.token, form.decision, form.comment), request);
});

app.http('showDecision', { methods: ['GET', 'HEAD'], route: 'api/decisions/{token}', handler: showDecision });
app.http('submitDecision', {
  methods: ['POST'],
  route: 'api/decisions/{token}',
  handler: submitDecision,
  extraInputs: [df.input.durableClient()],
});
