/**
 * The names of ZSA's spans, attributes and metrics: one list that the code, the local host's
 * telemetry page, the Azure workbook, the alert rules and docs/operations.md all use. A name here is
 * a contract with dashboards and alerts: rename one only with them.
 */

/** Span names: one per story, timers as `zsa.timer.<function>`, activities as `zsa.workflow.<activity>`. */
export const SpanName = {
  Submit: 'zsa.submit',
  Decide: 'zsa.decide',
  Execute: 'zsa.execute',
  Notify: 'zsa.notify',
  EmailSend: 'zsa.email.send',
  LinkDecide: 'zsa.link.decide',
  timer: (name: string) => `zsa.timer.${name}`,
  workflow: (activity: string) => `zsa.workflow.${activity}`,
} as const;

/**
 * The only attribute keys ZSA sets on its spans and metric points. Each holds an id, a name or an
 * outcome, never a token, a decision link, a secret, an email address or body, or a parameter value
 * (test/component/telemetry scans every exported attribute for those).
 */
export const Attr = {
  /** The request's id (a UUID). */
  RequestId: 'zsa.request.id',
  /** The task's name from the catalog. */
  Task: 'zsa.task',
  /** How the step ended: a fixed word per story (`success`, `refused`, `failed`, `delivered`...). */
  Outcome: 'zsa.outcome',
  /** A request status (`pending`, `approved`, ...), for `zsa.requests` the status it moved to. */
  Status: 'zsa.status',
  /** Where a notification went: `email`, or the event it told. */
  Channel: 'zsa.channel',
} as const;
export type AttrKey = (typeof Attr)[keyof typeof Attr];
/** What ZSA puts on a span or a metric point: only its own keys, only plain values. */
export type ZsaAttributes = Partial<Record<AttrKey, string | number | boolean>>;

/** Metric names, with their units as the instruments declare them. */
export const MetricName = {
  /** Counter: requests that reached a status (`zsa.status`). */
  Requests: 'zsa.requests',
  /** Histogram, seconds: from submit to the decision that closed the pending phase. */
  DecisionDuration: 'zsa.decision.duration',
  /** Histogram, seconds: from the grant's start to its first execution. */
  FirstUseDuration: 'zsa.first_use.duration',
  /** Counter: executions by `zsa.outcome`. */
  Executions: 'zsa.executions',
  /** Histogram, milliseconds: one execution, guard and webhook call included. */
  ExecutionDuration: 'zsa.execution.duration',
  /** Counter: emergency (break-glass) grants. */
  EmergencyUses: 'zsa.emergency.uses',
  /** Gauge: emergency uses whose review is still open, as the review timer last counted them. */
  ReviewsOpen: 'zsa.reviews.open',
  /** Counter: notification emails by `zsa.outcome` (delivered, failed, deadLettered) and `zsa.channel`. */
  Notifications: 'zsa.notifications',
  /** Histogram, milliseconds: one audit append (a batch of events). */
  AuditAppendDuration: 'zsa.audit.append.duration',
  /** Gauge, seconds: the age of the newest audit anchor when the anchor timer last ran. */
  AuditAnchorLag: 'zsa.audit.anchor.lag',
  /** Counter: audit chain verifications by `zsa.outcome` (success, failure). */
  AuditVerification: 'zsa.audit.verification',
} as const;
