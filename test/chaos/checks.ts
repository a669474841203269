/**
 * What a chaos run must find once the faults are over, as pure functions of what it collected: the
 * requests as the API shows them, the audit as exported, the webhook's receipts, the faults with
 * when each began and when the system was back, and what the clients were told. Each check answers
 * the failures it found, one line each, naming the request or execution.
 */
import type { AuditAction } from '#shared/audit/types';
import { lifecycleEventId } from '#shared/requests/audit-outbox';

export interface RequestView {
  id: string;
  requester: string;
  task?: string;
  status: string;
  approvalType: 'manual' | 'auto';
  requiredApprovals: number;
  approvals: { approver: string; decision: 'approve' | 'deny' }[];
  clientRequestId: string | null;
  pendingUntil: string;
  grantedAt: string | null;
  expiresAt: string | null;
  endedAt: string | null;
}

export interface AuditRow {
  id: string;
  action: string;
  at: string;
  requestId?: string;
  detail?: string;
}

export interface Receipt {
  executionId: string;
  requestId: string | null;
  receivedAt: number;
  signatureValid: boolean;
}

/** A fault and when the system was back: storage answering again, or the restarted host serving. */
export interface Fault {
  kind: 'storage outage' | 'host kill -9';
  from: number;
  to: number;
}

/** What a 2xx answer told a client about a request: it must hold in the end. */
export type Told = 'approved' | 'denied' | 'canceled' | 'revoked';

export interface Observed {
  /** First time the run saw each request out of its live state (pending or approved), by status. */
  leftLive: ReadonlyMap<string, { status: string; at: number }>;
}

export interface CheckInput {
  requests: readonly RequestView[];
  audit: readonly AuditRow[];
  receipts: readonly Receipt[];
  faults: readonly Fault[];
  told: ReadonlyMap<string, ReadonlySet<Told>>;
  observed: Observed;
  /** When the checks run. */
  now: number;
  /** How late after its deadline a transition may land. */
  toleranceMs: number;
  /**
   * How late after the recovery a transition that fell due during a fault may land: the restarted
   * host resumes every workflow and catches up, at once, with everything that fell due meanwhile.
   */
  recoveryToleranceMs: number;
}

export interface CheckResult {
  name: string;
  checked: number;
  failures: string[];
  /** A measurement worth printing next to the verdict. */
  figure?: string;
}

const GRANTED = new Set(['approved', 'ended', 'revoked']);
const KNOWN = new Set([...GRANTED, 'pending', 'denied', 'canceled', 'expired']);
/**
 * The guard checks the grant when the call arrives; the webhook is called a few storage round trips
 * later, so a call checked just before the end may land just after it.
 */
const EXECUTION_SLACK_MS = 1000;
const at = (iso: string | null) => (iso === null ? NaN : Date.parse(iso));

/**
 * When a deadline was due, measured after recovery: a deadline that fell inside a fault (or just
 * before it, within the tolerance, so its write met the fault) is due when the system was back.
 */
export function dueAfterRecovery(deadline: number, faults: readonly Fault[], toleranceMs: number): number {
  let due = deadline;
  for (const f of faults) if (due >= f.from - toleranceMs && due <= f.to) due = f.to;
  return due;
}

/** Every request is final, or live within its window; and what a client was told still holds. */
export function checkStates(input: CheckInput): CheckResult {
  const failures: string[] = [];
  for (const r of input.requests) {
    const problem = stateProblem(r, input.now, input.toleranceMs);
    if (problem) failures.push(`${r.id}: ${problem}`);
    for (const told of input.told.get(r.id) ?? []) {
      const holds = told === 'approved' ? GRANTED.has(r.status) : r.status === told;
      if (!holds) failures.push(`${r.id}: a client was told "${told}", the request is ${r.status}`);
    }
  }
  return { name: 'requests in a correct final or live state', checked: input.requests.length, failures };
}

function stateProblem(r: RequestView, now: number, tolerance: number): string | undefined {
  const approvals = r.approvals.filter((a) => a.decision === 'approve').length;
  const denials = r.approvals.length - approvals;
  switch (r.status) {
    case 'pending':
      if (now > at(r.pendingUntil) + tolerance) return `still pending after its window (${r.pendingUntil})`;
      return r.grantedAt === null ? undefined : 'pending with a grant';
    case 'approved':
    case 'ended':
    case 'revoked': {
      if (r.grantedAt === null || r.expiresAt === null) return `${r.status} without a grant window`;
      if (r.approvalType === 'manual' && (approvals < r.requiredApprovals || denials > 0))
        return `${r.status} with ${approvals}/${r.requiredApprovals} approvals and ${denials} denials`;
      if (r.status === 'approved' && now > at(r.expiresAt) + tolerance)
        return `still approved after its grant ended (${r.expiresAt})`;
      if (r.status === 'ended' && r.endedAt !== r.expiresAt)
        return `ended at ${String(r.endedAt)}, not at its expiry ${r.expiresAt}`;
      if (r.status === 'revoked' && !(at(r.endedAt) <= at(r.expiresAt)))
        return `revoked at ${String(r.endedAt)}, after its expiry ${r.expiresAt}`;
      return undefined;
    }
    case 'denied':
      return denials === 0 ? 'denied without a denial' : undefined;
    case 'canceled':
    case 'expired':
      return r.grantedAt === null ? undefined : `${r.status} with a grant`;
    default:
      return `in status ${r.status}`;
  }
}

/** A submit retried with the same clientRequestId made one request, never two. */
export function checkOnePerSubmit(input: CheckInput): CheckResult {
  const byClientId = new Map<string, string[]>();
  for (const r of input.requests)
    if (r.clientRequestId !== null)
      byClientId.set(r.clientRequestId, [...(byClientId.get(r.clientRequestId) ?? []), r.id]);
  const failures = [...byClientId]
    .filter(([, ids]) => ids.length > 1)
    .map(([clientId, ids]) => `${clientId}: ${ids.length} requests (${ids.join(', ')})`);
  return {
    name: 'one request per clientRequestId, however often retried',
    checked: byClientId.size,
    failures,
  };
}

/**
 * Every grant ended on time and every unanswered request expired on time: the transition landed
 * within the tolerance after its deadline, or after the recovery from a fault the deadline fell in.
 * When it landed is the earliest of the audit row's time and the first time the run saw it.
 */
export function checkOnTime(input: CheckInput): CheckResult {
  const failures: string[] = [];
  let checked = 0;
  let worst = 0;
  let worstAfterRecovery = 0;
  const firstRow = new Map<string, number>();
  for (const row of input.audit) {
    const t = Date.parse(row.at);
    if (!(t >= (firstRow.get(row.id) ?? Infinity))) firstRow.set(row.id, t);
  }
  for (const r of input.requests) {
    const timed =
      r.status === 'ended'
        ? { deadline: r.expiresAt, action: 'grant.ended' as const }
        : r.status === 'expired'
          ? { deadline: r.pendingUntil, action: 'request.expired' as const }
          : undefined;
    if (!timed || timed.deadline === null) continue;
    checked++;
    const seen = input.observed.leftLive.get(r.id);
    const landed = Math.min(
      firstRow.get(lifecycleEventId(r.id, timed.action)) ?? Infinity,
      seen?.status === r.status ? seen.at : Infinity,
    );
    const deadline = at(timed.deadline);
    const due = dueAfterRecovery(deadline, input.faults, input.toleranceMs);
    const recovering = due !== deadline;
    const late = landed - due;
    if (landed === Infinity) {
      failures.push(`${r.id}: ${r.status}, but never seen so nor audited`);
      continue;
    }
    if (recovering) worstAfterRecovery = Math.max(worstAfterRecovery, late);
    else worst = Math.max(worst, late);
    if (late > (recovering ? input.recoveryToleranceMs : input.toleranceMs))
      failures.push(
        `${r.id}: ${r.status} ${late} ms after it was due (${new Date(due).toISOString()}` +
          `${recovering ? ', the recovery' : ''})`,
      );
  }
  return {
    name:
      `grants ended and requests expired on time (within ${input.toleranceMs} ms of the deadline, ` +
      `${input.recoveryToleranceMs} ms of the recovery when it fell in a fault)`,
    checked,
    failures,
    figure: `latest ${worst} ms after the deadline, ${worstAfterRecovery} ms after a recovery`,
  };
}

/** The lifecycle events a request in its current state has had, by their deterministic ids. */
export function expectedLifecycle(r: RequestView): string[] {
  const id = (action: AuditAction, n?: number) => lifecycleEventId(r.id, action, n);
  const approvals = r.approvals.filter((a) => a.decision === 'approve').length;
  // Approvals recorded before the one that decided the request (which is `request.approved`).
  const recorded = GRANTED.has(r.status) && r.approvalType === 'manual' ? r.requiredApprovals - 1 : approvals;
  const events = [id('request.submitted')];
  for (let n = 1; n <= recorded; n++) events.push(id('request.approvalRecorded', n));
  if (GRANTED.has(r.status)) {
    if (r.approvalType === 'manual') events.push(id('request.approved'));
    events.push(id('grant.started'));
  }
  const last: Partial<Record<string, AuditAction>> = {
    ended: 'grant.ended',
    revoked: 'grant.revoked',
    denied: 'request.denied',
    canceled: 'request.canceled',
    expired: 'request.expired',
  };
  const end = last[r.status];
  if (end) events.push(id(end));
  return events;
}

const LIFECYCLE = new Set([
  'request.submitted',
  'request.approvalRecorded',
  'request.approved',
  'request.denied',
  'request.canceled',
  'request.expired',
  'grant.started',
  'grant.ended',
  'grant.revoked',
]);

/**
 * Each lifecycle event of each request is in the audit, once, and no other is: counted by distinct
 * id, as docs/audit.md says to count them. A second row with the same id is the documented price of
 * a host dying between appending an event and clearing it from the request row, so it is accepted
 * only when a kill fell between the two rows; any other repeat is a failure.
 */
export function checkLifecycleOnce(input: CheckInput): CheckResult {
  const failures: string[] = [];
  const rowsById = new Map<string, number[]>();
  const idsByRequest = new Map<string, Set<string>>();
  for (const row of input.audit) {
    if (!LIFECYCLE.has(row.action)) continue;
    rowsById.set(row.id, [...(rowsById.get(row.id) ?? []), Date.parse(row.at)]);
    if (row.requestId) {
      const ids = idsByRequest.get(row.requestId) ?? new Set<string>();
      ids.add(row.id);
      idsByRequest.set(row.requestId, ids);
    }
  }
  const kills = input.faults.filter((f) => f.kind === 'host kill -9');
  let checked = 0;
  let repeated = 0;
  for (const r of input.requests) {
    if (!KNOWN.has(r.status)) continue; // an unknown status is the state check's finding
    const expected = expectedLifecycle(r);
    for (const id of expected) {
      checked++;
      const times = (rowsById.get(id) ?? []).sort((a, b) => a - b);
      const [first, second] = times;
      if (first === undefined) failures.push(`${id}: missing (request ${r.status})`);
      if (first === undefined || second === undefined) continue;
      repeated++;
      const acrossKill = times.length === 2 && kills.some((k) => first <= k.from && k.from <= second);
      if (!acrossKill)
        failures.push(
          `${id}: ${times.length} rows, at ${times.map((t) => new Date(t).toISOString()).join(', ')}`,
        );
    }
    for (const id of idsByRequest.get(r.id) ?? [])
      if (!expected.includes(id)) failures.push(`${id}: audited, but the request is ${r.status}`);
  }
  return {
    name: 'each lifecycle event audited, once by its id',
    checked,
    failures,
    figure: `${repeated} events with a second row across the kill (documented at-least-once)`,
  };
}

/**
 * No execution ran at the webhook without its audit: each receipt has its `execution.started` row
 * (written before the call) and one outcome row, unless the host was killed while it ran; and it ran
 * inside its grant's window.
 */
export function checkExecutions(input: CheckInput): CheckResult {
  const failures: string[] = [];
  const started = new Map<string, number>();
  const outcomes = new Map<string, number>();
  for (const row of input.audit) {
    if (!row.action.startsWith('execution.') || !row.detail) continue;
    const executionId = (JSON.parse(row.detail) as { executionId?: unknown }).executionId;
    if (typeof executionId !== 'string') continue;
    const into = row.action === 'execution.started' ? started : outcomes;
    if (row.action !== 'execution.refused') into.set(executionId, (into.get(executionId) ?? 0) + 1);
  }
  const byId = new Map(input.requests.map((r) => [r.id, r]));
  const kills = input.faults.filter((f) => f.kind === 'host kill -9');
  for (const receipt of input.receipts) {
    const id = receipt.executionId;
    if (!receipt.signatureValid) failures.push(`${id}: the webhook got a call with a bad signature`);
    if (started.get(id) !== 1)
      failures.push(`${id}: ran, with ${started.get(id) ?? 0} execution.started rows`);
    // The host can die between the webhook's answer and the outcome's row: nothing can record it.
    const inFlightAtKill = kills.some(
      (k) => receipt.receivedAt <= k.from && k.from - receipt.receivedAt < 5000,
    );
    const n = outcomes.get(id) ?? 0;
    if (n > 1 || (n === 0 && !inFlightAtKill)) failures.push(`${id}: ran, with ${n} outcome rows`);
    const request = receipt.requestId === null ? undefined : byId.get(receipt.requestId);
    if (!request?.grantedAt || !request.expiresAt) {
      failures.push(`${id}: ran for request ${String(receipt.requestId)}, which has no grant`);
      continue;
    }
    const end = request.status === 'revoked' ? at(request.endedAt) : at(request.expiresAt);
    if (receipt.receivedAt < at(request.grantedAt) || receipt.receivedAt > end + EXECUTION_SLACK_MS)
      failures.push(
        `${id}: ran at ${new Date(receipt.receivedAt).toISOString()}, outside the grant of ${request.id} ` +
          `(${request.grantedAt} – ${new Date(end).toISOString()}, ${request.status})`,
      );
  }
  return {
    name: 'no execution without its audit, none outside its grant',
    checked: input.receipts.length,
    failures,
  };
}

export function runChecks(input: CheckInput): CheckResult[] {
  return [
    checkStates(input),
    checkOnePerSubmit(input),
    checkOnTime(input),
    checkLifecycleOnce(input),
    checkExecutions(input),
  ];
}
