/**
 * ZSA's metrics through the OpenTelemetry API only (no-ops until ./setup.ts starts the SDK). The
 * instruments are made on first use from the meter provider registered then, and again if another
 * is registered (the API hands out no-op instruments before any is, and they stay no-ops).
 */
import { metrics, type Counter, type Gauge, type Histogram, type MeterProvider } from '@opentelemetry/api';
import { Attr, MetricName, type ZsaAttributes } from './names';
import { SCOPE } from './spans';

interface Instruments {
  requests: Counter;
  decisionDuration: Histogram;
  firstUseDuration: Histogram;
  executions: Counter;
  executionDuration: Histogram;
  emergencyUses: Counter;
  reviewsOpen: Gauge;
  notifications: Counter;
  auditAppendDuration: Histogram;
  auditAnchorLag: Gauge;
  auditVerification: Counter;
}

/** Seconds from a minute to a week: approvals and first uses take minutes to days. */
const HUMAN_SECONDS = [60, 300, 900, 1800, 3600, 4 * 3600, 8 * 3600, 24 * 3600, 3 * 24 * 3600, 7 * 24 * 3600];
/** Milliseconds from 5 ms to a minute: storage writes and webhook calls. */
const MACHINE_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000];

function create(provider: MeterProvider): Instruments {
  const meter = provider.getMeter(SCOPE);
  const seconds = { unit: 's', advice: { explicitBucketBoundaries: HUMAN_SECONDS } };
  const ms = { unit: 'ms', advice: { explicitBucketBoundaries: MACHINE_MS } };
  return {
    requests: meter.createCounter(MetricName.Requests, { description: 'Requests that reached a status' }),
    decisionDuration: meter.createHistogram(MetricName.DecisionDuration, {
      description: 'Time from submit to the decision',
      ...seconds,
    }),
    firstUseDuration: meter.createHistogram(MetricName.FirstUseDuration, {
      description: "Time from a grant's start to its first use",
      ...seconds,
    }),
    executions: meter.createCounter(MetricName.Executions, { description: 'Executions by outcome' }),
    executionDuration: meter.createHistogram(MetricName.ExecutionDuration, {
      description: 'Duration of one execution',
      ...ms,
    }),
    emergencyUses: meter.createCounter(MetricName.EmergencyUses, { description: 'Emergency grants' }),
    reviewsOpen: meter.createGauge(MetricName.ReviewsOpen, {
      description: 'Emergency uses whose review is open',
    }),
    notifications: meter.createCounter(MetricName.Notifications, {
      description: 'Notification emails by outcome',
    }),
    auditAppendDuration: meter.createHistogram(MetricName.AuditAppendDuration, {
      description: 'Duration of one audit append',
      ...ms,
    }),
    auditAnchorLag: meter.createGauge(MetricName.AuditAnchorLag, {
      description: 'Age of the newest audit anchor',
      unit: 's',
    }),
    auditVerification: meter.createCounter(MetricName.AuditVerification, {
      description: 'Audit chain verifications by outcome',
    }),
  };
}

let built: { provider: MeterProvider; instruments: Instruments } | undefined;

function instruments(): Instruments {
  const provider = metrics.getMeterProvider();
  if (built?.provider !== provider) built = { provider, instruments: create(provider) };
  return built.instruments;
}

const task = (name: string | undefined): ZsaAttributes => (name === undefined ? {} : { [Attr.Task]: name });

/** What the stories record; each takes ids, names and outcomes only (names.ts). */
export const record = {
  /** A request reached `status` (submitted as pending or approved, decided, expired, ended...). */
  requestStatus(status: string, taskName?: string): void {
    instruments().requests.add(1, { [Attr.Status]: status, ...task(taskName) });
  },
  /** A pending request was decided `seconds` after its submit. */
  decision(seconds: number, outcome: string): void {
    instruments().decisionDuration.record(Math.max(0, seconds), { [Attr.Outcome]: outcome });
  },
  /** A grant's first execution ran `seconds` after the grant started. */
  firstUse(seconds: number, taskName?: string): void {
    instruments().firstUseDuration.record(Math.max(0, seconds), task(taskName));
  },
  /** An execution ended with `outcome` after `ms`. */
  execution(outcome: string, ms: number, taskName?: string): void {
    const attributes = { [Attr.Outcome]: outcome, ...task(taskName) };
    const i = instruments();
    i.executions.add(1, attributes);
    i.executionDuration.record(Math.max(0, ms), attributes);
  },
  /** An emergency grant was made. */
  emergencyUse(taskName?: string): void {
    instruments().emergencyUses.add(1, task(taskName));
  },
  /** The review timer counted `open` emergency uses whose review is open. */
  reviewsOpen(open: number): void {
    instruments().reviewsOpen.record(open);
  },
  /** A notification email ended with `outcome` (delivered, failed, deadLettered). */
  notification(outcome: 'delivered' | 'failed' | 'deadLettered', channel: string): void {
    instruments().notifications.add(1, { [Attr.Outcome]: outcome, [Attr.Channel]: channel });
  },
  /** One audit append took `ms`. */
  auditAppend(ms: number, outcome: 'success' | 'failed'): void {
    instruments().auditAppendDuration.record(Math.max(0, ms), { [Attr.Outcome]: outcome });
  },
  /** The newest audit anchor was `seconds` old. */
  auditAnchorLag(seconds: number): void {
    instruments().auditAnchorLag.record(Math.max(0, seconds));
  },
  /** A verification of the audit chains ended with `outcome`. */
  auditVerification(outcome: 'success' | 'failure'): void {
    instruments().auditVerification.add(1, { [Attr.Outcome]: outcome });
  },
};
