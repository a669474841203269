/**
 * Insights from the audit log: a fold over the records of a time range (in any order) into the
 * figures of `GET /api/insights`. Pure: no I/O, no clock (the range is given). The story feeds it
 * page by page (story.ts), so a long range is never held whole: only a few numbers per request.
 *
 * What counts, and why:
 * - a request is counted on the UTC day of its `request.submitted`, with the first outcome it reached
 *   in the range (a grant started, approved, denied, canceled, expired or failed; none yet: pending);
 *   a refused submit (`request.refused`) on its own day;
 * - time to decision runs from the submit to `request.approved` or `request.denied`: what approvers
 *   decided, so grants made at once (automatic policies, emergency access) are not in it;
 * - time to first use runs from `grant.started` to the grant's first SUCCESSFUL execution
 *   (`execution.succeeded`), as the `zsa.first_use.duration` metric counts it: a refused or failed
 *   attempt is not a use;
 * - top tasks rank what was requested: a task, a role or a role group (read from the submit's
 *   `detail.target`; a role request has no task), each with its kind;
 * - approvers' load counts each person's decisions: an approval recorded, a final approval or a
 *   denial, of requests and of extensions (an extension approved by its policy, with no approvals,
 *   is nobody's decision).
 */
import { z } from 'zod';
import type { AuditRecord } from '#shared/audit/record';
import { AuditAction } from '#shared/audit/types';
import {
  LATEST_FAILURES,
  REQUEST_OUTCOMES,
  RequestOutcome,
  TargetKind,
  TOP,
  type DurationStats,
  type InsightsView,
  type OutcomeCounts,
} from './schemas';

export interface InsightsRange {
  /** Inclusive. */
  readonly from: Date;
  /** Exclusive. */
  readonly to: Date;
}

/** The fields of a record the figures read. */
export type InsightsRecord = Pick<
  AuditRecord,
  'at' | 'action' | 'actorKind' | 'actorId' | 'actorUpn' | 'requestId' | 'task' | 'reason' | 'detail'
>;

export interface InsightsAggregator {
  add(record: InsightsRecord): void;
  result(): InsightsView;
}

export const DAY_MS = 86_400_000;

/** The outcome each action settles a request on; the first one reached wins. */
const OUTCOME_OF: Partial<Record<AuditRecord['action'], RequestOutcome>> = {
  [AuditAction.GrantStarted]: RequestOutcome.Approved,
  [AuditAction.GrantScheduled]: RequestOutcome.Approved,
  [AuditAction.RequestApproved]: RequestOutcome.Approved,
  [AuditAction.RequestDenied]: RequestOutcome.Denied,
  [AuditAction.RequestCanceled]: RequestOutcome.Canceled,
  [AuditAction.RequestExpired]: RequestOutcome.Expired,
  [AuditAction.RequestFailed]: RequestOutcome.Failed,
};

/** Detail fields some figures read; anything else in the detail is ignored. */
const ReviewDetail = z.looseObject({ outcome: z.enum(['justified', 'unjustified']) });
const ExtensionDetail = z.looseObject({ approvals: z.number() });
const SubmitDetail = z.looseObject({
  target: z.looseObject({ scope: TargetKind, name: z.string() }),
});

interface RequestFacts {
  submittedAt?: number;
  outcome?: { at: number; outcome: RequestOutcome };
  decidedAt?: number;
  grantStartedAt?: number;
  /** The first successful execution (the guard admits none before the grant's start). */
  firstUseAt?: number;
  emergency: boolean;
  review?: 'justified' | 'unjustified';
}

interface Person {
  id: string;
  upn: string;
  n: number;
}

function emptyCounts(): OutcomeCounts {
  return Object.fromEntries(REQUEST_OUTCOMES.map((o) => [o, 0])) as OutcomeCounts;
}

function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Every UTC day the range touches, oldest first. */
export function daysOf(range: InsightsRange): string[] {
  const days: string[] = [];
  const first = Math.floor(range.from.getTime() / DAY_MS) * DAY_MS;
  for (let at = first; at < range.to.getTime(); at += DAY_MS) days.push(dayOf(at));
  return days;
}

/** Nearest-rank percentile (`p` in 0..100) of sorted values: always one of the values measured. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] ?? null;
}

export function durationStats(ms: readonly number[]): DurationStats {
  const seconds = ms.map((v) => v / 1000).sort((a, b) => a - b);
  return {
    count: seconds.length,
    medianSeconds: percentile(seconds, 50),
    p95Seconds: percentile(seconds, 95),
  };
}

/** Highest count first, then by name, so equal counts rank the same way on every call. */
function top<T extends { n: number }>(items: Iterable<T>, name: (t: T) => string): T[] {
  return [...items].sort((a, b) => b.n - a.n || name(a).localeCompare(name(b))).slice(0, TOP);
}

function parseDetail<S extends z.ZodType>(schema: S, detail: string | undefined): z.output<S> | undefined {
  if (detail === undefined) return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(detail));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** What a submit asked for: its detail's target, else (older records) its task. */
function targetOfSubmit(r: InsightsRecord): { kind: TargetKind; name: string } | undefined {
  const target = parseDetail(SubmitDetail, r.detail)?.target;
  if (target) return { kind: target.scope, name: target.name };
  return r.task === undefined ? undefined : { kind: 'task', name: r.task };
}

export function createInsightsAggregator(range: InsightsRange): InsightsAggregator {
  const from = range.from.getTime();
  const to = range.to.getTime();
  const requests = new Map<string, RequestFacts>();
  const refusedPerDay = new Map<string, number>();
  /** Requests per target, keyed by kind and name (a task and a role may share a name). */
  const targets = new Map<string, { kind: TargetKind; name: string; n: number }>();
  const requesters = new Map<string, Person>();
  const approvers = new Map<string, { id: string; upn: string; approvals: number; denials: number }>();
  const executions = { succeeded: 0, failed: 0, refused: 0 };
  const failures: InsightsView['executions']['latestFailures'] = [];
  let events = 0;

  const factsOf = (id: string): RequestFacts => {
    let facts = requests.get(id);
    if (!facts) {
      facts = { emergency: false };
      requests.set(id, facts);
    }
    return facts;
  };

  const decision = (r: InsightsRecord, kind: 'approvals' | 'denials') => {
    if (r.actorKind !== 'user') return;
    const person = approvers.get(r.actorId) ?? { id: r.actorId, upn: r.actorUpn, approvals: 0, denials: 0 };
    person[kind] += 1;
    approvers.set(r.actorId, person);
  };

  function add(r: InsightsRecord): void {
    const at = Date.parse(r.at);
    if (!(at >= from && at < to)) return;
    events += 1;
    const facts = r.requestId === undefined ? undefined : factsOf(r.requestId);
    const settles = OUTCOME_OF[r.action];
    if (facts && settles && (!facts.outcome || at < facts.outcome.at))
      facts.outcome = { at, outcome: settles };

    switch (r.action) {
      case AuditAction.RequestSubmitted: {
        if (facts) facts.submittedAt = at;
        const target = targetOfSubmit(r);
        if (target) {
          const key = `${target.kind}:${target.name}`;
          const counted = targets.get(key) ?? { ...target, n: 0 };
          counted.n += 1;
          targets.set(key, counted);
        }
        const person = requesters.get(r.actorId) ?? { id: r.actorId, upn: r.actorUpn, n: 0 };
        person.n += 1;
        requesters.set(r.actorId, person);
        break;
      }
      case AuditAction.RequestRefused:
        refusedPerDay.set(dayOf(at), (refusedPerDay.get(dayOf(at)) ?? 0) + 1);
        break;
      case AuditAction.RequestApproved:
        if (facts) facts.decidedAt = Math.min(facts.decidedAt ?? at, at);
        decision(r, 'approvals');
        break;
      case AuditAction.RequestDenied:
        if (facts) facts.decidedAt = Math.min(facts.decidedAt ?? at, at);
        decision(r, 'denials');
        break;
      case AuditAction.RequestApprovalRecorded:
      case AuditAction.ExtensionApprovalRecorded:
        decision(r, 'approvals');
        break;
      case AuditAction.ExtensionApproved:
        if ((parseDetail(ExtensionDetail, r.detail)?.approvals ?? 0) > 0) decision(r, 'approvals');
        break;
      case AuditAction.ExtensionDenied:
        decision(r, 'denials');
        break;
      case AuditAction.GrantStarted:
        if (facts) facts.grantStartedAt = Math.min(facts.grantStartedAt ?? at, at);
        break;
      case AuditAction.ExecutionSucceeded:
        if (facts) facts.firstUseAt = Math.min(facts.firstUseAt ?? at, at);
        executions.succeeded += 1;
        break;
      case AuditAction.ExecutionRefused:
        executions.refused += 1;
        break;
      case AuditAction.ExecutionFailed:
        executions.failed += 1;
        failures.push({
          at: new Date(at).toISOString(),
          requestId: r.requestId ?? null,
          task: r.task ?? null,
          reason: r.reason ?? null,
        });
        // Keep only the latest few: a range with many failures holds no more than these.
        failures.sort((a, b) => b.at.localeCompare(a.at));
        failures.length = Math.min(failures.length, LATEST_FAILURES);
        break;
      case AuditAction.EmergencyUsed:
        if (facts) facts.emergency = true;
        break;
      case AuditAction.EmergencyReviewed: {
        const review = parseDetail(ReviewDetail, r.detail)?.outcome;
        if (facts && review) facts.review = review;
        break;
      }
      default:
        break;
    }
  }

  function result(): InsightsView {
    const days = daysOf(range);
    const perDay = new Map(days.map((day) => [day, emptyCounts()]));
    const total = emptyCounts();
    const count = (day: string, outcome: RequestOutcome, n = 1) => {
      const counts = perDay.get(day);
      if (counts) counts[outcome] += n;
      total[outcome] += n;
    };
    for (const [day, n] of refusedPerDay) count(day, RequestOutcome.Refused, n);

    const toDecision: number[] = [];
    const toFirstUse: number[] = [];
    const emergency = { uses: 0, justified: 0, unjustified: 0, open: 0 };
    for (const facts of requests.values()) {
      if (facts.submittedAt !== undefined) {
        count(dayOf(facts.submittedAt), facts.outcome?.outcome ?? RequestOutcome.Pending);
        if (facts.decidedAt !== undefined && facts.decidedAt >= facts.submittedAt) {
          toDecision.push(facts.decidedAt - facts.submittedAt);
        }
      }
      const { grantStartedAt: started, firstUseAt: first } = facts;
      if (started !== undefined && first !== undefined && first >= started) toFirstUse.push(first - started);
      if (facts.emergency) {
        emergency.uses += 1;
        emergency[facts.review ?? 'open'] += 1;
      }
    }

    return {
      from: range.from.toISOString(),
      to: range.to.toISOString(),
      events,
      requests: { total, perDay: days.map((day) => ({ day, ...(perDay.get(day) ?? emptyCounts()) })) },
      timeToDecision: durationStats(toDecision),
      timeToFirstUse: durationStats(toFirstUse),
      topTasks: top(targets.values(), (t) => `${t.name}\u0000${t.kind}`).map(({ kind, name, n }) => ({
        task: name,
        kind,
        requests: n,
      })),
      topRequesters: top(requesters.values(), (p) => p.upn).map(({ id, upn, n }) => ({
        id,
        upn,
        requests: n,
      })),
      emergency,
      executions: { ...executions, latestFailures: failures },
      approvers: top(
        [...approvers.values()].map((a) => ({ ...a, n: a.approvals + a.denials })),
        (a) => a.upn,
      ).map(({ id, upn, approvals, denials }) => ({ id, upn, approvals, denials })),
    };
  }

  return { add, result };
}

/** The figures of a whole list of records (tests, small ranges). */
export function aggregateInsights(records: Iterable<InsightsRecord>, range: InsightsRange): InsightsView {
  const aggregator = createInsightsAggregator(range);
  for (const r of records) aggregator.add(r);
  return aggregator.result();
}
