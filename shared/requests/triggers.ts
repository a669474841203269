/**
 * The connector's polling triggers (Power Automate): each poll answers only what happened since the
 * cursor the trigger keeps, and the cursor to poll with next.
 *
 * - `approvals`: requests (or an extension of one) that now wait for the caller's decision, at the
 *   moment they became decidable for them (submitted, or the stage before theirs approved);
 * - `decisions`: the caller's own requests, when approved, denied or expired;
 * - `emergencies`: break-glass requests, when granted (admins and auditors only).
 *
 * A cursor is `(at, id)`: everything up to and including that event was answered. It is signed like
 * the audit query's continuation token (an HKDF subkey of the audit key) and names its caller and
 * trigger, so a forged, edited or borrowed cursor is a 400, never another user's events.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { AuditKeyPurpose, auditSubkey } from '#shared/audit/keys';
import type { Principal } from '#shared/auth/index';
import { DomainError } from '#shared/domain/errors';
import { awaitsDecisionBy, extensionRound } from '#shared/domain/extensions';
import {
  pendingExtension,
  roundOf,
  toRequestView,
  type Request,
  type RequestView,
} from '#shared/domain/request';
import { tallyRound, type Round } from '#shared/domain/stages';
import { membersOf, membersReadOnce, type RequestContext } from './context';
import { groupsOf } from './listing';
import { indexKeys } from './repository';
import { compareNames } from '#shared/domain/catalog';

type TriggerContext = Pick<RequestContext, 'repo' | 'config' | 'now'>;

export const TriggerKind = z.enum(['approvals', 'decisions', 'emergencies']);
export type TriggerKind = z.output<typeof TriggerKind>;

/** Query of every trigger operation: the cursor the last answer's `Location` carried (none at first). */
export const TriggerQuery = z.strictObject({
  cursor: z.string().min(1).max(1024).optional().meta({
    description:
      'Where the previous poll stopped, as its `Location` header gave it. Absent on the first poll, which answers no history.',
  }),
});
export type TriggerQuery = z.output<typeof TriggerQuery>;

/**
 * Events are answered only once they are this old. Every story stamps its event with the clock read
 * at its start (`createdAt`, `decidedAt`) and writes the row a moment later, and an expiry is stamped
 * with the `pendingUntil` its timer fires at. Without a lag, a poll at T could move the cursor past
 * an event stamped T − 1 s whose row lands at T + 1 s, and no later poll would ever answer it. Two
 * minutes covers a story's storage round trips and retries and a durable timer firing late, and
 * costs a flow no more than one polling interval.
 */
export const SETTLE_LAG_MS = 2 * 60_000;
/** How long a pending request past its due time may hold the decisions trigger back (see `decided`). */
export const EXPIRY_HOLD_MS = 60 * 60_000;

/** How long Power Automate should wait before polling again (seconds, `Retry-After`). */
export const RETRY_AFTER_SECONDS = 60;

/** Events one answer carries at most; the rest come with the next cursor at once. */
export const MAX_ITEMS = 50;

/**
 * How far back, before the cursor, the `decisions` trigger looks for requests created earlier and
 * decided since: the longest pending window a policy allows now, at least a day. A request still
 * pending past this (from a policy shortened since it was submitted) is not answered.
 */
const MIN_DECISION_HORIZON_HOURS = 24;

/** Reads at most this many index rows per poll: a poll stays a bounded cost whatever the history. */
const MAX_SCANNED = 1000;

const CursorSchema = z.strictObject({
  v: z.literal(1),
  /** The trigger. */
  k: TriggerKind,
  /** The caller's stable id (`tenant:object id`). */
  u: z.string().min(1).max(300),
  /** The last answered event's time (ms since the epoch) … */
  t: z.int().min(0),
  /** … and request id, to order events that share a millisecond. */
  i: z.string().max(64),
});
type Cursor = z.output<typeof CursorSchema>;

interface TriggerEvent {
  at: number;
  request: Request;
}

export type TriggerAnswer =
  /** Nothing new: poll again with `cursor` after `RETRY_AFTER_SECONDS`. */
  | { kind: 'wait'; cursor: string }
  /** New events, oldest first; `cursor` follows the last of them; `more`: others wait after it now. */
  | { kind: 'items'; items: RequestView[]; cursor: string; more: boolean };

function sign(payload: string, key: string): string {
  return createHmac('sha256', auditSubkey(key, AuditKeyPurpose.triggerCursor))
    .update(`trigger-cursor.${payload}`)
    .digest('base64url');
}

function encodeCursor(cursor: Cursor, key: string): string {
  const payload = Buffer.from(JSON.stringify(cursor), 'utf8').toString('base64url');
  return `${payload}.${sign(payload, key)}`;
}

function invalid(detail: string): DomainError {
  return new DomainError('INVALID_INPUT', `Invalid query: the cursor ${detail}.`, {
    errors: [{ pointer: '#/cursor', detail }],
  });
}

/**
 * The keys cursors are signed with: the current audit key signs; a retired one still verifies, so
 * rotating the audit key (ZSA_AUDIT_HMAC_KEYS_RETIRED) does not break every flow's stored cursor.
 */
export interface CursorKeys {
  current: string;
  retired: readonly string[];
}

/** Whether `signature` is `payload`'s under one of `keys`. */
function signedBy(payload: string, signature: string, keys: CursorKeys): boolean {
  const given = Buffer.from(signature);
  return [keys.current, ...keys.retired].some((key) => {
    const expected = Buffer.from(sign(payload, key));
    return expected.length === given.length && timingSafeEqual(expected, given);
  });
}

/** The cursor `text` names, if this service signed it for this trigger and caller; else INVALID_INPUT. */
function decodeCursor(text: string, keys: CursorKeys, kind: TriggerKind, principal: Principal): Cursor {
  const [payload, signature, ...rest] = text.split('.');
  if (payload === undefined || signature === undefined || rest.length > 0)
    throw invalid('is not one this service issued');
  if (!signedBy(payload, signature, keys)) throw invalid('is not one this service issued');
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw invalid('is not one this service issued');
  }
  const parsed = CursorSchema.safeParse(value);
  if (!parsed.success) throw invalid('is not one this service issued');
  if (parsed.data.k !== kind) throw invalid('belongs to another trigger');
  if (parsed.data.u !== principal.id) throw invalid('belongs to another user');
  return parsed.data;
}

/** Whether event `e` comes after cursor position `(t, i)`. */
const after = (e: TriggerEvent, t: number, i: string) => e.at > t || (e.at === t && e.request.id > i);

/**
 * One poll of `kind` for `principal` (the handler has checked the role `emergencies` needs). The
 * first (no cursor) answers a cursor of "now" and no history. A cursor answers the events after it
 * up to now − `SETTLE_LAG_MS`, oldest first, at most `MAX_ITEMS`; the same cursor polled again
 * answers the same events (and any that settled since), so a flow's retry loses nothing, and
 * consecutive cursors never answer an event twice.
 */
export async function pollTrigger(
  ctx: TriggerContext,
  principal: Principal,
  kind: TriggerKind,
  query: TriggerQuery,
  keys: CursorKeys,
): Promise<TriggerAnswer> {
  const upTo = ctx.now.getTime() - SETTLE_LAG_MS;
  const position = (t: number, i: string) =>
    encodeCursor({ v: 1, k: kind, u: principal.id, t, i }, keys.current);
  if (query.cursor === undefined) return { kind: 'wait', cursor: position(upTo, '') };
  const from = decodeCursor(query.cursor, keys, kind, principal);
  // Not yet settled past the cursor: nothing to look at.
  if (upTo <= from.t) return { kind: 'wait', cursor: query.cursor };

  const found = await eventsOf(withMembersReadOnce(ctx), principal, kind, from.t);
  // An expiry not yet written holds the horizon just before its due time (see `decided`).
  const horizon = found.holdBefore === undefined ? upTo : Math.min(upTo, found.holdBefore - 1);
  if (horizon <= from.t) return { kind: 'wait', cursor: query.cursor };
  const all = found.events
    .filter((e) => after(e, from.t, from.i) && e.at <= horizon)
    .sort((a, b) => a.at - b.at || compareNames(a.request.id, b.request.id));
  const events = all.slice(0, MAX_ITEMS);
  const last = events.at(-1);
  // Nothing new: the cursor moves to the settled horizon, so the next poll does not read again the
  // quiet stretch this one just read (an event before it would have been answered here).
  if (last === undefined) return { kind: 'wait', cursor: position(horizon, '') };
  return {
    kind: 'items',
    items: events.map((e) => toRequestView(e.request, [])),
    cursor: position(last.at, last.request.id),
    more: all.length > events.length,
  };
}

/**
 * The context of one poll, reading each approver group's members at most once: the caller's groups
 * and every open request's groups are mostly the same few, and a poll comes every minute per flow.
 */
function withMembersReadOnce(ctx: TriggerContext): TriggerContext {
  return { ...ctx, config: membersReadOnce(ctx.config) };
}

/** The events, and a time the cursor must stay before because an event dated then may still be written. */
interface Found {
  events: TriggerEvent[];
  holdBefore?: number | undefined;
}

async function eventsOf(
  ctx: TriggerContext,
  principal: Principal,
  kind: TriggerKind,
  since: number,
): Promise<Found> {
  switch (kind) {
    case 'approvals':
      return { events: await awaitingApproval(ctx, principal) };
    case 'decisions':
      return decided(ctx, principal, since);
    case 'emergencies':
      return { events: await emergencies(ctx, since) };
  }
}

/** When the stage that decides now opened: the round's start, or the last approval its previous stage needed. */
function stageOpenedAt(round: Round, startedAt: string): number {
  const tally = tallyRound(round);
  const stage = tally.state === 'pending' ? tally.stage : 0;
  const before = round.approvals
    .filter((a) => (a.stage ?? 0) === stage - 1 && a.decision === 'approve')
    .map((a) => Date.parse(a.at));
  return Math.max(Date.parse(startedAt), ...before);
}

/**
 * What waits for the caller's decision now, when it became theirs to decide. Only what is not yet
 * final can wait for anyone, and the reconciler's `open` partition lists exactly that, with the
 * groups each names: no history is walked, and a request waiting for days is still found.
 */
async function awaitingApproval(ctx: TriggerContext, principal: Principal): Promise<TriggerEvent[]> {
  const groups = new Set(await groupsOf(ctx, principal.id));
  if (groups.size === 0) return [];
  const open = await ctx.repo.openEntries(MAX_SCANNED);
  const mine = open.filter(
    (o) => o.requesterId !== principal.id && o.approverGroups.some((g) => groups.has(g)),
  );
  const rows = await Promise.all(mine.map((o) => ctx.repo.read(o.id)));
  const events: TriggerEvent[] = [];
  for (const row of rows) {
    if (row === undefined) continue;
    const r = row.request;
    if (!awaitsDecisionBy(r, principal, await membersOf(ctx, r), ctx.now)) continue;
    const waiting = pendingExtension(r);
    // A pending request waits in its own round; an approved one can only wait in its extension's.
    const at =
      r.status === 'pending' || waiting === undefined
        ? stageOpenedAt(roundOf(r), r.createdAt)
        : stageOpenedAt(extensionRound(r, waiting), waiting.createdAt);
    events.push({ at, request: r });
  }
  return events;
}

/**
 * The caller's requests approved, denied or expired after `since`. Their list is newest first by
 * creation, and a request is decided within its pending window, so the walk stops at requests
 * created longer than the longest window before the cursor.
 */
async function decided(ctx: TriggerContext, principal: Principal, since: number): Promise<Found> {
  const policies = await ctx.config.policies();
  const hours = Math.max(MIN_DECISION_HORIZON_HOURS, ...policies.map((p) => p.pendingTimeoutHours));
  const horizon = since - hours * 3_600_000;
  const events: TriggerEvent[] = [];
  // An expiry is dated at `pendingUntil` but written when the timer fires, which a cold start or an
  // outage can delay past the settle lag: a request still pending after its due time holds the
  // cursor before that time until it is written, for at most EXPIRY_HOLD_MS (the reconciler ends
  // any workflow stuck longer).
  const overdueFrom = ctx.now.getTime() - EXPIRY_HOLD_MS;
  let holdBefore: number | undefined;
  let token: string | undefined;
  let scanned = 0;
  do {
    const page = await ctx.repo.page(indexKeys.requester(principal.id), 100, token);
    scanned += page.ids.length;
    const rows = await Promise.all(page.ids.map((id) => ctx.repo.read(id)));
    for (const row of rows) {
      if (row === undefined) continue;
      const r = row.request;
      if (Date.parse(r.createdAt) < horizon) return { events, holdBefore };
      const due = Date.parse(r.pendingUntil);
      if (r.status === 'pending' && due <= ctx.now.getTime() && due > overdueFrom)
        holdBefore = Math.min(holdBefore ?? due, due);
      const at = decisionAt(r);
      if (at !== undefined && at > since) events.push({ at, request: r });
    }
    token = page.continuationToken;
  } while (token !== undefined && scanned < MAX_SCANNED);
  return { events, holdBefore };
}

/** When the request was approved, denied or expired; undefined while pending or when canceled. */
function decisionAt(r: Request): number | undefined {
  if (r.status === 'expired' && r.endedAt !== null) return Date.parse(r.endedAt);
  // Approved ones stay decided when they later end or are revoked; a cancel is the requester's own act.
  if (r.status === 'pending' || r.status === 'canceled' || r.decidedAt === null) return undefined;
  return Date.parse(r.decidedAt);
}

/**
 * Break-glass requests created after `since`: granted at once, so their creation is their use.
 * Every emergency has a review, listed under `review:open` from its creation and under
 * `review:closed` (newest first) once reviewed, so these two index partitions hold them all and no
 * poll scans the requests table.
 */
async function emergencies(ctx: TriggerContext, since: number): Promise<TriggerEvent[]> {
  // Open first, then closed: a review closes by writing its closed row before deleting its open
  // one, so read in this order an emergency being reviewed meanwhile is seen in one or both.
  const open = await ctx.repo.openReviews(MAX_SCANNED);
  const found = new Map<string, Request>();
  let token: string | undefined;
  let scanned = 0;
  walk: do {
    const page = await ctx.repo.page(indexKeys.review('closed'), 100, token);
    scanned += page.ids.length;
    for (const row of await Promise.all(page.ids.map((id) => ctx.repo.read(id)))) {
      if (row === undefined) continue;
      // Newest first by creation: the rest were used before the cursor.
      if (Date.parse(row.request.createdAt) <= since) break walk;
      found.set(row.request.id, row.request);
    }
    token = page.continuationToken;
  } while (token !== undefined && scanned < MAX_SCANNED);
  const unread = open.filter((id) => !found.has(id));
  for (const row of await Promise.all(unread.map((id) => ctx.repo.read(id))))
    if (row !== undefined) found.set(row.request.id, row.request);
  return [...found.values()]
    .filter((r) => r.emergency)
    .map((r) => ({ at: Date.parse(r.createdAt), request: r }));
}
