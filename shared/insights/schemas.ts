/**
 * `GET /api/insights`: its query and its answer, as the handler validates and the OpenAPI document
 * describes them. Every figure is computed from the audit log (never from telemetry, which may be
 * sampled), so an auditor can recompute each one from an export of the same range.
 */
import { z } from 'zod';
import { AuditVerifyQuery } from '#shared/audit/queries';
import { ScopeSchema, type Scope } from '#shared/domain/catalog';
import { Timestamp } from '#shared/domain/time';

/** Default span when `from` is absent. */
export const DEFAULT_DAYS = 30;
/** Longest span one call may cover: a year, leap day included. */
export const MAX_DAYS = 366;
/** How many tasks, requesters and approvers the rankings keep. */
export const TOP = 10;
/** What a ranked target is: a task, a role or a role group (the scopes a request may name). */
export const TargetKind = ScopeSchema;
export type TargetKind = Scope;
/** How many of the latest failed executions are listed. */
export const LATEST_FAILURES = 10;

/**
 * The time range: the same one the audit's verification takes (an instant or a UTC day each, `from`
 * before `to`). Absent `to` is now; absent `from` is DEFAULT_DAYS before `to`.
 */
export const InsightsQuery = AuditVerifyQuery;

/** How a request submitted in the range stands at the end of the range. */
export const RequestOutcome = {
  Approved: 'approved',
  Denied: 'denied',
  Canceled: 'canceled',
  Expired: 'expired',
  Failed: 'failed',
  Pending: 'pending',
  /** A submit that was refused (no request was made). */
  Refused: 'refused',
} as const;
export type RequestOutcome = (typeof RequestOutcome)[keyof typeof RequestOutcome];
export const REQUEST_OUTCOMES = Object.values(RequestOutcome);

const Count = z.int().min(0);
const Seconds = z.number().min(0);

const outcomeCounts = Object.fromEntries(REQUEST_OUTCOMES.map((o) => [o, Count])) as Record<
  RequestOutcome,
  typeof Count
>;
export const OutcomeCounts = z.strictObject(outcomeCounts).meta({
  id: 'InsightsOutcomeCounts',
  description:
    'Requests by how they stand at the end of the range: `approved` (granted, by approvers, a policy or as emergency access), `denied`, `canceled`, `expired`, `failed` (a system fault), `pending`; `refused` counts submits that were refused.',
});
export type OutcomeCounts = z.output<typeof OutcomeCounts>;

export const DurationStats = z
  .strictObject({
    count: Count.meta({ description: 'How many intervals were measured.' }),
    medianSeconds: Seconds.nullable().meta({ description: 'Median (nearest rank), null when none.' }),
    p95Seconds: Seconds.nullable().meta({ description: '95th percentile (nearest rank), null when none.' }),
  })
  .meta({ id: 'InsightsDuration', description: 'Median and 95th percentile of measured intervals.' });
export type DurationStats = z.output<typeof DurationStats>;

export const InsightsView = z
  .strictObject({
    from: Timestamp.meta({ description: 'Inclusive start of the range.' }),
    to: Timestamp.meta({ description: 'Exclusive end of the range.' }),
    events: Count.meta({ description: 'Audit events read for these figures.' }),
    requests: z
      .strictObject({
        total: OutcomeCounts,
        perDay: z
          .array(z.strictObject({ day: z.iso.date(), ...outcomeCounts }))
          .meta({ description: 'Every UTC day of the range, oldest first, by the day of the submit.' }),
      })
      .meta({ description: 'Requests submitted in the range (and submits refused).' }),
    timeToDecision: DurationStats.meta({
      description:
        "From a request's submit to the approvers' final decision (approved or denied), for requests submitted in the range; grants made at once (by policy, emergency) are not decisions.",
    }),
    timeToFirstUse: DurationStats.meta({
      description:
        "From a grant's start to its first successful execution (`execution.succeeded`, as the `zsa.first_use.duration` metric), for grants started in the range.",
    }),
    topTasks: z
      .array(
        z.strictObject({
          task: z
            .string()
            .meta({ description: 'The name of what was requested: a task, a role or a role group.' }),
          kind: TargetKind.meta({ description: 'Which of the three `task` names.' }),
          requests: Count,
        }),
      )
      .meta({ description: `The ${TOP} tasks (or roles, role groups) requested most in the range.` }),
    topRequesters: z
      .array(z.strictObject({ id: z.string(), upn: z.string(), requests: Count }))
      .meta({ description: `The ${TOP} people who submitted most in the range (by object id).` }),
    emergency: z
      .strictObject({
        uses: Count,
        justified: Count,
        unjustified: Count,
        open: Count.meta({ description: 'Uses whose review was not closed by the end of the range.' }),
      })
      .meta({ description: 'Emergency uses (break glass) in the range and how their reviews closed.' }),
    executions: z
      .strictObject({
        succeeded: Count,
        failed: Count,
        refused: Count,
        latestFailures: z
          .array(
            z.strictObject({
              at: Timestamp,
              requestId: z.string().nullable(),
              task: z.string().nullable(),
              reason: z.string().nullable(),
            }),
          )
          .meta({ description: `The ${LATEST_FAILURES} latest failed executions, newest first.` }),
      })
      .meta({ description: 'Executions in the range by outcome.' }),
    approvers: z
      .array(z.strictObject({ id: z.string(), upn: z.string(), approvals: Count, denials: Count }))
      .meta({
        description: `Approvers' load: decisions on requests and extensions in the range per approver (the ${TOP} busiest).`,
      }),
  })
  .meta({ id: 'Insights', description: 'Usage and outcomes over a time range, from the audit log.' });
export type InsightsView = z.output<typeof InsightsView>;
