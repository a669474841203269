/**
 * What emails and decision pages share: escaping, the request's details as a person reads them,
 * times and durations in words. Every value that comes from a request passes through `escapeHtml`
 * (HTML) or `oneLine` (headers and plain text) — task names, reasons and parameters are free text.
 */
import type { Scope } from '#shared/domain/catalog';
import { hoursToSeconds } from '#shared/domain/time';
import type { RequestSummary } from './messages';

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Safe in element content and in quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

// Controls (C0, DEL, C1) and the Unicode line/paragraph separators: nothing that can break a line.
const LINE_BREAKING = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g;

/** One line of text: no line breaks or other controls (headers, subjects, plain-text fields). */
export function oneLine(value: string, max = 200): string {
  const line = value.replace(LINE_BREAKING, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

const SCOPE_LABEL = { task: 'task', role: 'role', roleGroup: 'role group' } as const satisfies Record<
  Scope,
  string
>;

/** `task "Exchange\New-MoveRequest"`, unescaped (escape it for HTML). */
export function targetLabel(target: RequestSummary['target']): string {
  return `${SCOPE_LABEL[target.scope]} "${target.name}"`;
}

/** `2030-01-01 09:00:00 UTC`: one unambiguous zone for every reader. */
export function formatTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

function unit(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** `1 use`, `3 uses`. */
export function formatUses(n: number): string {
  return unit(n, 'use');
}

/** Who approved in stage `stage` (0-based), in order, as a list for a sentence. */
export function stageApprovers(approvals: RequestSummary['approvals'], stage: number): string {
  return approvals
    .filter((a) => (a.stage ?? 0) === stage && a.decision === 'approve')
    .map((a) => a.approver)
    .join(', ');
}

function stageApprovalCount(approvals: RequestSummary['approvals'], stage: number): number {
  return approvals.filter((a) => (a.stage ?? 0) === stage && a.decision === 'approve').length;
}

/** Whether the grant was approved to start later than its approval (a scheduled start). */
export function startsLater(request: Pick<RequestSummary, 'grantedAt' | 'decidedAt'>): boolean {
  return (
    request.grantedAt !== null &&
    request.decidedAt !== null &&
    Date.parse(request.grantedAt) > Date.parse(request.decidedAt)
  );
}

/** The stages of a multi-stage request, one line each: its group and how far it got. */
function stagesText(request: RequestSummary, stages: NonNullable<RequestSummary['stages']>): string {
  return stages
    .map((s, i) => {
      const by = stageApprovers(request.approvals, i);
      const state =
        s.status === 'approved'
          ? `approved${by ? ` by ${by}` : ''}`
          : s.status === 'open'
            ? `deciding now (${stageApprovalCount(request.approvals, i)} of ${unit(s.requiredApprovals, 'approval')})`
            : s.status === 'denied'
              ? 'denied'
              : `waiting (needs ${unit(s.requiredApprovals, 'approval')})`;
      return `${i + 1}. ${s.approverGroup}: ${state}`;
    })
    .join('\n');
}

/** `4 hours`, `1 hour 30 minutes`, `45 seconds`. */
export function formatDuration(hours: number): string {
  const total = Math.round(hoursToSeconds(hours));
  const d = Math.floor(total / 86_400);
  const h = Math.floor((total % 86_400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const parts = [
    ...(d > 0 ? [unit(d, 'day')] : []),
    ...(h > 0 ? [unit(h, 'hour')] : []),
    ...(m > 0 ? [unit(m, 'minute')] : []),
    ...(s > 0 && d === 0 && h === 0 ? [unit(s, 'second')] : []),
  ];
  return parts.length === 0 ? 'less than a second' : parts.join(' ');
}

/** Label → value pairs describing a request, in reading order; values are raw text. */
/**
 * Who asks, as approvers must read it: the requester, or the AI agent that asked for them, or the
 * agent itself with the sponsor who takes its mail (then `requester` is the sponsor).
 */
export function askedBy(request: Pick<RequestSummary, 'requester' | 'agent'>): string {
  const agent = request.agent;
  if (agent === undefined) return request.requester;
  const name = `AI agent ${agent.name ?? agent.appId}`;
  return agent.mode === 'onBehalfOf'
    ? `${name} for ${request.requester}`
    : `${name} (its own identity; sponsor ${request.requester})`;
}

export function requestDetails(request: RequestSummary, options: { deadline: boolean }): [string, string][] {
  const rows: [string, string][] = [
    ['Requester', askedBy(request)],
    [
      request.target.scope === 'task' ? 'Task' : request.target.scope === 'role' ? 'Role' : 'Role group',
      request.target.name,
    ],
  ];
  if (request.target.scope !== 'task') {
    const more = request.taskCount - request.tasks.length;
    rows.push(['Tasks', request.tasks.join(', ') + (more > 0 ? ` and ${more} more` : '')]);
  }
  if (request.parameters !== null) {
    rows.push([
      'Parameters',
      request.parameters.length === 0
        ? '(none)'
        : request.parameters.map((p) => `${p.name} = ${p.value}`).join('\n'),
    ]);
  }
  rows.push(['Reason', request.reason]);
  rows.push(['Ticket', request.ticket ?? '(none)']);
  rows.push(['Duration', formatDuration(request.durationHours)]);
  if (request.startAt !== undefined) {
    rows.push([
      'Starts',
      request.grantedAt !== null
        ? formatTime(request.grantedAt)
        : `${formatTime(request.startAt)} (or on approval, if that is later)`,
    ]);
  }
  if (request.maxUses !== undefined) {
    const uses = request.uses ?? 0;
    rows.push([
      'Uses',
      uses === 0
        ? `${formatUses(request.maxUses)} (the access ends after the last one)`
        : `${uses} of ${formatUses(request.maxUses)} used`,
    ]);
  }
  if (request.stages !== undefined) {
    rows.push(['Stages', stagesText(request, request.stages)]);
  } else if (request.requiredApprovals > 1) {
    const approvals = request.approvals.filter((a) => a.decision === 'approve').length;
    rows.push(['Approvals', `${approvals} of ${request.requiredApprovals} required`]);
  }
  if (options.deadline) rows.push(['Decide by', formatTime(request.pendingUntil)]);
  return rows;
}

/**
 * The details as an accessible table (row headers), every value escaped, line breaks kept. Inline
 * styles for email (clients drop style sheets); pages pass none and style by element.
 */
export function detailsTableHtml(
  rows: readonly [string, string][],
  style?: { table: string; th: string; td: string },
): string {
  const attr = (css: string | undefined): string => (css ? ` style="${css}"` : '');
  const body = rows
    .map(
      ([label, value]) =>
        `<tr><th scope="row"${attr(style?.th)}>${escapeHtml(label)}</th>` +
        `<td${attr(style?.td)}>${escapeHtml(value).replace(/\n/g, '<br>')}</td></tr>`,
    )
    .join('');
  return `<table${attr(style?.table)}><tbody>${body}</tbody></table>`;
}

/** The details as plain text, `Label: value` per line (values kept to their own lines). */
export function detailsText(rows: readonly [string, string][]): string {
  return rows
    .map(([label, value]) => {
      const lines = value.split('\n').map((l) => oneLine(l, 2000));
      return `${label}: ${lines.join('\n  ')}`;
    })
    .join('\n');
}
