/**
 * Requests: submit, read, list, approve, deny, cancel, revoke, and the extensions of a live grant
 * (extend; approve, deny or cancel an extension) (docs/design.md §5). Each handler:
 * authenticate → parse → domain story → respond.
 */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { getDeps } from '#shared/app/deps';
import { EmptyBody } from '#shared/domain/empty';
import { parseOrThrow } from '#shared/domain/errors';
import { ReviewBody } from '#shared/domain/emergency';
import { ExtendBody, ExtensionId } from '#shared/domain/extensions';
import { Id } from '#shared/domain/names';
import { DecisionBody, ListRequestsQuery, RevokeBody, SubmitRequestBody } from '#shared/domain/request';
import { auditActor, auditOrigin, authenticate } from '#shared/http/auth';
import { handled, json, readJson, readQuery } from '#shared/http/handler';
import { publishNotification } from '#shared/notifications/publish';
import { publishContext } from '#shared/notifications/wiring';
import type { Caller } from '#shared/requests/context';
import {
  cancelExtension as cancelExtensionStory,
  decideExtension,
  extendGrant,
} from '#shared/requests/extensions';
import { listRequests as listStory } from '#shared/requests/listing';
import {
  cancelRequest as cancelStory,
  decide,
  getRequest as getStory,
  revokeRequest as revokeStory,
  submitRequest as submitStory,
} from '#shared/requests/usecases';
import { SubmitRateLimited, takeSubmit } from '#shared/requests/rate-limit';
import {
  ListReviewsQuery,
  listReviews as listReviewsStory,
  reviewRequest as reviewStory,
} from '#shared/requests/reviews';
import { requestContext } from '#shared/requests/wiring';

async function callerOf(request: HttpRequest, context: InvocationContext): Promise<Caller> {
  const principal = await authenticate(request);
  return { principal, actor: auditActor(principal), origin: auditOrigin(request, context.invocationId) };
}

function idOf(request: HttpRequest): string {
  return parseOrThrow(Id, request.params.id, 'request id');
}

function extensionIdOf(request: HttpRequest): string {
  return parseOrThrow(ExtensionId, request.params.extensionId, 'extension id');
}

export const submitRequest = handled(async (request, context): Promise<HttpResponseInit> => {
  const caller = await callerOf(request, context);
  const body = await readJson(request, SubmitRequestBody);
  const ctx = requestContext(context);
  const { tables, requests, settings } = getDeps();
  // Each submit emails every approver, so a user (or a runaway flow) submitting in a loop is held
  // to a per-user allowance. It is taken while the story reads the configuration, not before.
  const admission = takeSubmit(
    tables,
    requests,
    { limit: settings.ZSA_SUBMIT_RATE_LIMIT, windowSeconds: settings.ZSA_SUBMIT_RATE_WINDOW_SECONDS },
    caller.principal.id,
    body.clientRequestId,
    ctx.now,
  );
  admission.catch((e: unknown) => {
    // Logged, not audited: a refusal did nothing, and auditing every one would let a loop flood
    // the audit log in place of the approvers' inboxes.
    if (e instanceof SubmitRateLimited)
      context.warn(`Submit refused by the rate limit for user ${caller.principal.id}: ${e.message}`);
  });
  const { view, created } = await submitStory(ctx, caller, body, admission);
  return json(created ? 202 : 200, view, { location: `/api/requests/${view.id}` });
});

export const getRequest = handled(async (request, context) => {
  const caller = await callerOf(request, context);
  return json(200, await getStory(requestContext(context), caller.principal, idOf(request)));
});

export const listRequests = handled(async (request, context) => {
  const caller = await callerOf(request, context);
  const query = readQuery(request, ListRequestsQuery);
  return json(200, await listStory(requestContext(context), caller.principal, query));
});

export const approveRequest = handled(async (request, context) => {
  const caller = await callerOf(request, context);
  const body = await readJson(request, DecisionBody);
  return json(200, await decide(requestContext(context), caller, idOf(request), 'approve', body.comment));
});

export const denyRequest = handled(async (request, context) => {
  const caller = await callerOf(request, context);
  const body = await readJson(request, DecisionBody);
  return json(200, await decide(requestContext(context), caller, idOf(request), 'deny', body.comment));
});

export const cancelRequest = handled(async (request, context) => {
  const caller = await callerOf(request, context);
  await readJson(request, EmptyBody);
  return json(200, await cancelStory(requestContext(context), caller, idOf(request)));
});

export const revokeRequest = handled(async (request, context) => {
  const caller = await callerOf(request, context);
  const body = await readJson(request, RevokeBody);
  return json(200, await revokeStory(requestContext(context), caller, idOf(request), body.comment));
});

export const extendRequest = handled(async (request, context) => {
  const caller = await callerOf(request, context);
  const id = idOf(request);
  const body = await readJson(request, ExtendBody);
  return json(200, await extendGrant(requestContext(context), caller, id, body));
});

export const approveExtension = handled(async (request, context) => {
  const caller = await callerOf(request, context);
  const [id, extensionId] = [idOf(request), extensionIdOf(request)];
  const body = await readJson(request, DecisionBody);
  return json(
    200,
    await decideExtension(requestContext(context), caller, id, extensionId, 'approve', body.comment),
  );
});

export const denyExtension = handled(async (request, context) => {
  const caller = await callerOf(request, context);
  const [id, extensionId] = [idOf(request), extensionIdOf(request)];
  const body = await readJson(request, DecisionBody);
  return json(
    200,
    await decideExtension(requestContext(context), caller, id, extensionId, 'deny', body.comment),
  );
});

export const cancelExtension = handled(async (request, context) => {
  const caller = await callerOf(request, context);
  const [id, extensionId] = [idOf(request), extensionIdOf(request)];
  await readJson(request, EmptyBody);
  return json(200, await cancelExtensionStory(requestContext(context), caller, id, extensionId));
});

/** `POST /api/requests/{id}/review`: closes an emergency use's review (justified, or unjustified with a comment). */
export const reviewRequest = handled(async (request, context) => {
  const caller = await callerOf(request, context);
  const body = await readJson(request, ReviewBody);
  const view = await reviewStory(requestContext(context), caller, idOf(request), body);
  // The requester hears the outcome. The review stands whatever happens to the notice (its
  // workflow may be long over, so nothing else would send it): a failure is logged, and a retry of
  // the same review (answered 200) sends it again.
  await publishNotification(publishContext(), { requestId: view.id, event: 'reviewed' }).catch(
    (e: unknown) => {
      context.warn(`The review of ${view.id} was not told to its requester: ${String(e)}`);
    },
  );
  return json(200, view);
});

/** `GET /api/reviews?status=open|closed`: the emergency uses the caller reviews (admins and auditors: all). */
export const listReviews = handled(async (request, context) => {
  const caller = await callerOf(request, context);
  const query = readQuery(request, ListReviewsQuery);
  return json(200, await listReviewsStory(requestContext(context), caller.principal, query));
});

const client = { extraInputs: [df.input.durableClient()] };
app.http('submitRequest', { methods: ['POST'], route: 'api/requests', handler: submitRequest, ...client });
app.http('listRequests', { methods: ['GET'], route: 'api/requests', handler: listRequests, ...client });
app.http('getRequest', { methods: ['GET'], route: 'api/requests/{id}', handler: getRequest, ...client });
app.http('approveRequest', {
  methods: ['POST'],
  route: 'api/requests/{id}/approve',
  handler: approveRequest,
  ...client,
});
app.http('denyRequest', {
  methods: ['POST'],
  route: 'api/requests/{id}/deny',
  handler: denyRequest,
  ...client,
});
app.http('cancelRequest', {
  methods: ['POST'],
  route: 'api/requests/{id}/cancel',
  handler: cancelRequest,
  ...client,
});
app.http('revokeRequest', {
  methods: ['POST'],
  route: 'api/requests/{id}/revoke',
  handler: revokeRequest,
  ...client,
});
app.http('extendRequest', {
  methods: ['POST'],
  route: 'api/requests/{id}/extend',
  handler: extendRequest,
  ...client,
});
app.http('approveExtension', {
  methods: ['POST'],
  route: 'api/requests/{id}/extensions/{extensionId}/approve',
  handler: approveExtension,
  ...client,
});
app.http('denyExtension', {
  methods: ['POST'],
  route: 'api/requests/{id}/extensions/{extensionId}/deny',
  handler: denyExtension,
  ...client,
});
app.http('cancelExtension', {
  methods: ['POST'],
  route: 'api/requests/{id}/extensions/{extensionId}/cancel',
  handler: cancelExtension,
  ...client,
});
app.http('reviewRequest', {
  methods: ['POST'],
  route: 'api/requests/{id}/review',
  handler: reviewRequest,
  ...client,
});
app.http('listReviews', { methods: ['GET'], route: 'api/reviews', handler: listReviews, ...client });
