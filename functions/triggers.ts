/**
 * The connector's polling triggers (shared/requests/triggers.ts), answered as Power Automate's
 * polling contract asks: `202` + `Location` (the URL to poll next, carrying the cursor) +
 * `Retry-After` while nothing is new, `200` + `{ items }` + `Location` when something is.
 */
import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { getDeps } from '#shared/app/deps';
import { auditHmacKey } from '#shared/audit/wiring';
import { authenticate, requireReader } from '#shared/http/auth';
import { handled, json, readQuery } from '#shared/http/handler';
import { pollTrigger, RETRY_AFTER_SECONDS, TriggerQuery, type TriggerKind } from '#shared/requests/triggers';

/** The URL the platform polls next: this one, with the new cursor (and nothing else: the query is only the cursor). */
function nextUrl(request: HttpRequest, cursor: string): string {
  const url = new URL(request.url);
  url.search = new URLSearchParams({ cursor }).toString();
  return url.toString();
}

function trigger(kind: TriggerKind) {
  return handled(async (request): Promise<HttpResponseInit> => {
    const principal = await authenticate(request);
    // Emergency uses are every requester's: only those who read everything may watch them.
    if (kind === 'emergencies') requireReader(principal);
    const query = readQuery(request, TriggerQuery);
    const deps = getDeps();
    // Reads only: no workflow to tell, so no durable client binding.
    const ctx = { repo: deps.requests, config: deps.config, now: deps.now() };
    const keys = { current: auditHmacKey(deps.settings), retired: deps.settings.ZSA_AUDIT_HMAC_KEYS_RETIRED };
    const answer = await pollTrigger(ctx, principal, kind, query, keys);
    // More than one answer holds: come back at once for the rest.
    const wait = answer.kind === 'items' && answer.more ? 0 : RETRY_AFTER_SECONDS;
    const headers = { location: nextUrl(request, answer.cursor), 'retry-after': String(wait) };
    if (answer.kind === 'wait') return { status: 202, headers };
    return json(200, { items: answer.items }, headers);
  });
}

export const approvalsTrigger = trigger('approvals');
export const decisionsTrigger = trigger('decisions');
export const emergenciesTrigger = trigger('emergencies');

for (const [name, handler, route] of [
  ['approvalsTrigger', approvalsTrigger, 'api/triggers/approvals'],
  ['decisionsTrigger', decisionsTrigger, 'api/triggers/decisions'],
  ['emergenciesTrigger', emergenciesTrigger, 'api/triggers/emergencies'],
] as const)
  app.http(name, { methods: ['GET'], route, handler });
