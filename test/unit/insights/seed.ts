/**
 * A seeded audit with known answers, for the Insights tests at every level (the pure aggregation,
 * the story over a real audit log, the page in a browser). Three days, 2030-03-01 to 2030-03-04:
 *
 * - 03-01: r1 (alice, task A) approved by bob after 10 min, first used 2 min later; r2 (alice, A)
 *   denied by bob after 30 min; r3 (carol, B) approved by dave then bob after 60 min, first used
 *   30 min later and failed (a failed attempt is no use: r3 has no time to first use); a refused
 *   submit by carol.
 * - 03-02: r4 (alice, A) granted at once by its policy, used after 1 min and again; r5 (carol)
 *   emergency access, reviewed justified by dave; r6 (dave, C) canceled; r11 (dave, the role
 *   ROLE_X: no task, its target in the detail as the submit records it) pending.
 * - 03-03: r7 (alice, B) expired; r8 (carol) emergency access, review still open; r9 (alice, A)
 *   pending; an execution refused; on r1 an extension approved by dave, one approved by its policy
 *   (nobody's decision) and one denied by bob.
 * - Outside the range: r0 submitted the day before (bob's approval of it, in the range, still counts
 *   in his load) and r10 submitted at the range's exclusive end.
 */
import { AuditAction, type AuditEventInput } from '#shared/audit/types';
import type { InsightsRecord } from '#shared/insights/aggregate';
import type { InsightsView } from '#shared/insights/schemas';

export const RANGE = { from: new Date('2030-03-01T00:00:00.000Z'), to: new Date('2030-03-04T00:00:00.000Z') };
export const TASK_A = 'Exchange\\New-MoveRequest';
export const TASK_B = 'Entra\\Reset-Password';
export const TASK_C = 'Azure\\Restart-VM';
export const TASK_BREAK_GLASS = 'Entra\\Break-Glass';
export const ROLE_X = 'Exchange Administrator';

const person = (name: string) => ({ id: `tenant:${name}-oid`, upn: `${name}@contoso.com` });
const people = {
  alice: person('alice'),
  bob: person('bob'),
  carol: person('carol'),
  dave: person('dave'),
} as const;
type Who = keyof typeof people | 'zsa';

export interface SeedEvent {
  readonly at: string;
  readonly action: AuditAction;
  readonly who: Who;
  readonly requestId?: string;
  readonly task?: string;
  readonly reason?: string;
  readonly detail?: Record<string, unknown>;
}

const day = (d: number, time: string) => `2030-03-0${d}T${time}:00.000Z`;
const A = AuditAction;

export const SEED: readonly SeedEvent[] = [
  { at: '2030-02-28T23:00:00.000Z', action: A.RequestSubmitted, who: 'alice', requestId: 'r0', task: TASK_A },
  { at: day(1, '00:30'), action: A.RequestApproved, who: 'bob', requestId: 'r0', task: TASK_A },
  { at: day(1, '00:30'), action: A.GrantStarted, who: 'bob', requestId: 'r0', task: TASK_A },
  { at: day(1, '09:00'), action: A.RequestSubmitted, who: 'alice', requestId: 'r1', task: TASK_A },
  { at: day(1, '09:10'), action: A.RequestApproved, who: 'bob', requestId: 'r1', task: TASK_A },
  { at: day(1, '09:10'), action: A.GrantStarted, who: 'bob', requestId: 'r1', task: TASK_A },
  { at: day(1, '09:12'), action: A.ExecutionStarted, who: 'alice', requestId: 'r1', task: TASK_A },
  { at: day(1, '09:12'), action: A.ExecutionSucceeded, who: 'alice', requestId: 'r1', task: TASK_A },
  { at: day(1, '10:00'), action: A.RequestSubmitted, who: 'alice', requestId: 'r2', task: TASK_A },
  { at: day(1, '10:30'), action: A.RequestDenied, who: 'bob', requestId: 'r2', task: TASK_A },
  { at: day(1, '11:00'), action: A.RequestSubmitted, who: 'carol', requestId: 'r3', task: TASK_B },
  { at: day(1, '11:05'), action: A.RequestApprovalRecorded, who: 'dave', requestId: 'r3', task: TASK_B },
  { at: day(1, '11:05'), action: A.StageApproved, who: 'dave', requestId: 'r3', task: TASK_B },
  { at: day(1, '12:00'), action: A.RequestApproved, who: 'bob', requestId: 'r3', task: TASK_B },
  { at: day(1, '12:00'), action: A.GrantStarted, who: 'bob', requestId: 'r3', task: TASK_B },
  { at: day(1, '12:30'), action: A.ExecutionStarted, who: 'carol', requestId: 'r3', task: TASK_B },
  {
    at: day(1, '12:31'),
    action: A.ExecutionFailed,
    who: 'carol',
    requestId: 'r3',
    task: TASK_B,
    reason: 'executor answered 500',
  },
  { at: day(1, '13:00'), action: A.RequestRefused, who: 'carol', task: TASK_C, reason: 'NO_POLICY: none' },
  { at: day(2, '08:00'), action: A.RequestSubmitted, who: 'alice', requestId: 'r4', task: TASK_A },
  { at: day(2, '08:00'), action: A.GrantStarted, who: 'alice', requestId: 'r4', task: TASK_A },
  { at: day(2, '08:01'), action: A.ExecutionStarted, who: 'alice', requestId: 'r4', task: TASK_A },
  { at: day(2, '08:01'), action: A.ExecutionSucceeded, who: 'alice', requestId: 'r4', task: TASK_A },
  { at: day(2, '08:05'), action: A.ExecutionStarted, who: 'alice', requestId: 'r4', task: TASK_A },
  { at: day(2, '08:05'), action: A.ExecutionSucceeded, who: 'alice', requestId: 'r4', task: TASK_A },
  {
    at: day(2, '09:00'),
    action: A.RequestSubmitted,
    who: 'carol',
    requestId: 'r5',
    task: TASK_BREAK_GLASS,
    detail: { emergency: true },
  },
  { at: day(2, '09:00'), action: A.GrantStarted, who: 'carol', requestId: 'r5', task: TASK_BREAK_GLASS },
  { at: day(2, '09:00'), action: A.EmergencyUsed, who: 'carol', requestId: 'r5', task: TASK_BREAK_GLASS },
  {
    at: day(2, '15:00'),
    action: A.EmergencyReviewed,
    who: 'dave',
    requestId: 'r5',
    task: TASK_BREAK_GLASS,
    detail: { outcome: 'justified', comment: 'outage' },
  },
  { at: day(2, '10:00'), action: A.RequestSubmitted, who: 'dave', requestId: 'r6', task: TASK_C },
  { at: day(2, '10:05'), action: A.RequestCanceled, who: 'dave', requestId: 'r6', task: TASK_C },
  {
    at: day(2, '11:00'),
    action: A.RequestSubmitted,
    who: 'dave',
    requestId: 'r11',
    detail: { target: { scope: 'role', name: ROLE_X } },
  },
  { at: day(3, '07:00'), action: A.RequestSubmitted, who: 'alice', requestId: 'r7', task: TASK_B },
  { at: day(3, '15:00'), action: A.RequestExpired, who: 'zsa', requestId: 'r7', task: TASK_B },
  {
    at: day(3, '08:00'),
    action: A.RequestSubmitted,
    who: 'carol',
    requestId: 'r8',
    task: TASK_BREAK_GLASS,
    detail: { emergency: true },
  },
  { at: day(3, '08:00'), action: A.GrantStarted, who: 'carol', requestId: 'r8', task: TASK_BREAK_GLASS },
  { at: day(3, '08:00'), action: A.EmergencyUsed, who: 'carol', requestId: 'r8', task: TASK_BREAK_GLASS },
  { at: day(3, '09:00'), action: A.RequestSubmitted, who: 'alice', requestId: 'r9', task: TASK_A },
  { at: day(3, '10:00'), action: A.ExecutionRefused, who: 'dave', task: TASK_C, reason: 'NO_ACTIVE_GRANT' },
  {
    at: day(3, '11:00'),
    action: A.ExtensionApprovalRecorded,
    who: 'dave',
    requestId: 'r1',
    task: TASK_A,
    detail: { approvals: 1 },
  },
  {
    at: day(3, '11:30'),
    action: A.ExtensionApproved,
    who: 'alice',
    requestId: 'r1',
    task: TASK_A,
    detail: { approvals: 0 },
  },
  { at: day(3, '12:00'), action: A.ExtensionDenied, who: 'bob', requestId: 'r1', task: TASK_A },
  {
    at: '2030-03-04T00:00:00.000Z',
    action: A.RequestSubmitted,
    who: 'alice',
    requestId: 'r10',
    task: TASK_C,
  },
];

/** The seed as the audit log would store it (only the fields the figures read). */
export function seedRecords(): InsightsRecord[] {
  return SEED.map((e) => ({
    at: e.at,
    action: e.action,
    actorKind: e.who === 'zsa' ? 'system' : 'user',
    actorId: e.who === 'zsa' ? 'zsa' : people[e.who].id,
    actorUpn: e.who === 'zsa' ? 'zsa' : people[e.who].upn,
    requestId: e.requestId,
    task: e.task,
    reason: e.reason,
    detail: e.detail === undefined ? undefined : JSON.stringify(e.detail),
  }));
}

/** The seed as events to append to a real log (the clock set to each `at`, in time order). */
export function seedEvents(): { at: string; event: AuditEventInput }[] {
  return [...SEED]
    .sort((a, b) => a.at.localeCompare(b.at))
    .map((e) => ({
      at: e.at,
      event: {
        action: e.action,
        actor:
          e.who === 'zsa'
            ? { kind: 'system', id: 'zsa', upn: 'zsa' }
            : { kind: 'user', ...people[e.who], roles: [], tenantId: 'tenant' },
        outcome: 'success',
        requestId: e.requestId,
        task: e.task,
        reason: e.reason,
        detail: e.detail,
      },
    }));
}

const outcomes = (c: Partial<InsightsView['requests']['total']>) => ({
  approved: 0,
  denied: 0,
  canceled: 0,
  expired: 0,
  failed: 0,
  pending: 0,
  refused: 0,
  ...c,
});

/** What the figures of RANGE must be (worked out by hand from the story above). */
export const EXPECTED: Omit<InsightsView, 'events'> & { events: number } = {
  from: RANGE.from.toISOString(),
  to: RANGE.to.toISOString(),
  // Every seeded event but r0's submit (the day before) and r10's (at the exclusive end).
  events: SEED.length - 2,
  requests: {
    total: outcomes({ approved: 5, denied: 1, canceled: 1, expired: 1, pending: 2, refused: 1 }),
    perDay: [
      { day: '2030-03-01', ...outcomes({ approved: 2, denied: 1, refused: 1 }) },
      { day: '2030-03-02', ...outcomes({ approved: 2, canceled: 1, pending: 1 }) },
      { day: '2030-03-03', ...outcomes({ approved: 1, expired: 1, pending: 1 }) },
    ],
  },
  // r1 600 s, r2 1800 s, r3 3600 s: nearest-rank median the 2nd, p95 the 3rd.
  timeToDecision: { count: 3, medianSeconds: 1800, p95Seconds: 3600 },
  // To the first SUCCESSFUL execution: r4 60 s, r1 120 s (r4's second use does not count; r3's only
  // attempt failed; emergency grants were not used).
  timeToFirstUse: { count: 2, medianSeconds: 60, p95Seconds: 120 },
  topTasks: [
    { task: TASK_A, kind: 'task', requests: 4 },
    // Equal counts rank by name.
    { task: TASK_BREAK_GLASS, kind: 'task', requests: 2 },
    { task: TASK_B, kind: 'task', requests: 2 },
    { task: TASK_C, kind: 'task', requests: 1 },
    { task: ROLE_X, kind: 'role', requests: 1 },
  ],
  topRequesters: [
    { ...people.alice, requests: 5 },
    { ...people.carol, requests: 3 },
    { ...people.dave, requests: 2 },
  ],
  emergency: { uses: 2, justified: 1, unjustified: 0, open: 1 },
  executions: {
    succeeded: 3,
    failed: 1,
    refused: 1,
    latestFailures: [{ at: day(1, '12:31'), requestId: 'r3', task: TASK_B, reason: 'executor answered 500' }],
  },
  approvers: [
    { ...people.bob, approvals: 3, denials: 2 },
    { ...people.dave, approvals: 2, denials: 0 },
  ],
};
