/**
 * What an event becomes before it is chained: columns cut to their limits, secrets digested,
 * detail as sorted JSON text. Pure. An event is never refused for its size or content: a refused
 * audit append refuses the execution it records, so oversize input is cut and marked instead.
 */
import { createHash } from 'node:crypto';
import { COLUMN_LIMITS, MAX_DETAIL_BYTES, ActorKind, type RecordContent } from './record';
import { sortedJson, type Redactor } from './redact';
import type { AuditEventInput } from './types';

const ELLIPSIS = '…';

/** Characters Table Storage or JSON consumers choke on: NUL and lone surrogates. */
function clean(value: string): string {
  return value
    .replace(/\0/g, '\uFFFD')
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/** Cuts to at most `max` UTF-16 units without splitting a surrogate pair; marks the cut. */
export function cap(value: string | undefined, max: number): string | undefined {
  if (value === undefined) return undefined;
  const cleaned = clean(value);
  if (cleaned.length === 0) return undefined;
  if (cleaned.length <= max) return cleaned;
  let end = max - ELLIPSIS.length;
  const last = cleaned.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return cleaned.slice(0, end) + ELLIPSIS;
}

const PREVIEW_CHARS = 2048;

/** Detail as sorted JSON text within MAX_DETAIL_BYTES; bigger detail keeps a preview and a digest. */
export function detailText(detail: unknown): string {
  const text = clean(sortedJson(detail));
  if (Buffer.byteLength(text, 'utf8') <= MAX_DETAIL_BYTES) return text;
  return sortedJson({
    truncated: true,
    bytes: Buffer.byteLength(text, 'utf8'),
    sha256: createHash('sha256').update(text, 'utf8').digest('hex'),
    preview: cap(text, PREVIEW_CHARS),
  });
}

export function recordContent(event: AuditEventInput, id: string, redactor: Redactor): RecordContent {
  const actor = event.actor;
  const user = actor.kind === 'user';
  const roles = user ? [...new Set(actor.roles)].sort() : [];
  const client = event.origin?.client;
  const given = client === undefined ? event.detail : { ...event.detail, client };
  const detail = given === undefined ? undefined : detailText(redactor.detail(given));
  return {
    id,
    action: event.action,
    outcome: event.outcome,
    actorKind: user ? ActorKind.User : ActorKind.System,
    actorId: cap(actor.id, COLUMN_LIMITS.actorId) ?? 'unknown',
    actorUpn: cap(actor.upn.toLowerCase(), COLUMN_LIMITS.actorUpn) ?? 'unknown',
    actorRoles: cap(JSON.stringify(roles), COLUMN_LIMITS.actorRoles) ?? '[]',
    tenantId: cap(user ? actor.tenantId : undefined, COLUMN_LIMITS.tenantId),
    requestId: cap(event.requestId, COLUMN_LIMITS.requestId),
    task: cap(event.task, COLUMN_LIMITS.task),
    reason: cap(event.reason === undefined ? undefined : redactor.text(event.reason), COLUMN_LIMITS.reason),
    detail: detail === '{}' || detail === 'null' ? undefined : detail,
    correlationId: cap(event.origin?.correlationId, COLUMN_LIMITS.correlationId),
    clientIp: cap(event.origin?.clientIp, COLUMN_LIMITS.clientIp),
    userAgent: cap(event.origin?.userAgent, COLUMN_LIMITS.userAgent),
  };
}
