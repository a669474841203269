/**
 * ZSA's spans and metrics, through the real OpenTelemetry SDK with in-memory exporters: one request
 * submitted, its workflow's first step, its approval notice published and emailed, approved through
 * the emailed link, executed against a real webhook, and a timer run through the invocation hook, on
 * real Azurite with the real repository, configuration, token store and audit log. It asserts the
 * span names, who is whose parent (one trace from the submit through the workflow's activity, the
 * notice and its email; the link's decision under `zsa.link.decide`; the execution's context sent to
 * the webhook as `traceparent`), their attributes and the metric points; then it scans every
 * exported value for what must never be there (the minted link and its token, tokens, keys, emails,
 * the request's text). Stand-ins: the workflow client (records what the workflow is started with),
 * the Service Bus sender (records the messages as the real publisher builds them) and the mailer.
 */
import { InvocationContext } from '@azure/functions';
import { trace } from '@opentelemetry/api';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import type { DataPoint, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { DurableClient } from 'durable-functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTables } from '#shared/adapters/tables';
import { getDeps } from '#shared/app/deps';
import { createAuditLog, type AuditLog } from '#shared/audit/log';
import { settings } from '#shared/config';
import { DomainError } from '#shared/domain/errors';
import { execute, type ExecuteContext } from '#shared/requests/execute';
import {
  durableOrchestrations,
  OrchestrationInput,
  requestActivityInput,
  type Orchestrations,
} from '#shared/requests/orchestrations';
import { createRequestRepository, type RequestRepository } from '#shared/requests/repository';
import { decide, submitRequest } from '#shared/requests/usecases';
import { submitDecisionLink, type DecisionLinkContext } from '#shared/notifications/decisions';
import { deliverNotification } from '#shared/notifications/deliver';
import type { Mailer, OutgoingEmail } from '#shared/notifications/mailer';
import type { NotificationMessage } from '#shared/notifications/messages';
import { publishNotification } from '#shared/notifications/publish';
import { toServiceBusMessage, type Publisher } from '#shared/notifications/publisher';
import { createScheduleStore, createTokenStore } from '#shared/notifications/store';
import type { RequestContext } from '#shared/requests/context';
import { Attr, MetricName, SpanName } from '#shared/telemetry/names';
import { startTelemetry, type Telemetry } from '#shared/telemetry/setup';
import { currentTraceparent, inSpan } from '#shared/telemetry/spans';
import { settleRequestActivity } from '../../../functions/access-request';
import { catalogTaskPut } from '../../../functions/catalog';
import { policyCreate } from '../../../functions/policies';
import { reviewReminder } from '../../../functions/reviews';
import { tracedHandler } from '../../../functions/telemetry';
import { enablePam } from '../../support/admin';
import { call, startComponentEnv, type ComponentEnv } from '../../support/component';
import { callerOf, REQUESTER } from '../../support/requests';
import { startWebhookTarget, type WebhookTarget } from '../../support/webhook-target';

const ANN = 'ann@contoso.com';
const GROUP = 'telemetry-approvers';
const TASK = 'Telemetry\\Restart-Service';
/** Text the request carries that must never reach telemetry. */
const REASON = 'INC-4711 restart the secret-sauce service';
const TICKET = 'CHG-90210-secret';
const PARAMETER = 'secret-sauce-01.contoso.local';
/** A refused submit's task: the caller's raw text. */
const REFUSED_TASK = 'Not\\In-Catalog secret-sauce';
const SIGNING_KEY = 'component-test-signing-key';

let env: ComponentEnv;
let hook: WebhookTarget;
let repo: RequestRepository;
let log: AuditLog;
let telemetry: Telemetry;
let adminToken: string;
let stopped = false;
const spans = new InMemorySpanExporter();
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);

/** What the stand-in workflow client was asked to start, by instance id. */
const started = new Map<string, unknown>();
/** What the notify story published (as the real publisher builds each Service Bus message). */
const published: { message: NotificationMessage; traceparent: unknown }[] = [];
const mailed: OutgoingEmail[] = [];

const publisher: Publisher = {
  publish: (messages) => {
    for (const m of messages)
      published.push({ message: m, traceparent: toServiceBusMessage(m).applicationProperties?.traceparent });
    return Promise.resolve();
  },
  schedule: () => Promise.resolve([]),
  cancel: () => Promise.resolve(),
};
const mailer: Mailer = {
  send: (email) => {
    mailed.push(email);
    return Promise.resolve();
  },
  close: () => undefined,
};

/**
 * The durable client as the request stories use it: starts are recorded, the status mirrors the
 * request row (as the real workflow's custom status does once it has looked), events are accepted.
 */
function recordingClient(): DurableClient {
  const client = {
    startNew: (_name: string, options: { instanceId: string; input: unknown }) => {
      started.set(options.instanceId, options.input);
      return Promise.resolve(options.instanceId);
    },
    getStatus: async (id: string) => {
      const row = (await repo.read(id))?.request;
      return {
        runtimeStatus: 'Running',
        customStatus: row && { status: row.status, expiresAt: row.expiresAt, pendingUntil: row.pendingUntil },
      };
    },
    raiseEvent: () => Promise.resolve(),
  };
  return client as unknown as DurableClient;
}

let orchestrations: Orchestrations;

function requestContext(): RequestContext {
  return {
    repo,
    config: getDeps().config,
    orchestrations,
    audit: log,
    now: new Date(),
    minDurationSeconds: 1,
  };
}

function executeContext(): ExecuteContext {
  const deps = getDeps();
  return {
    repo,
    config: deps.config,
    orchestrations,
    audit: log,
    bus: () => deps.bus,
    now: () => new Date(),
    webhook: { allowedHosts: ['127.0.0.1'], signingKey: SIGNING_KEY, timeoutMs: 5000 },
    adminsExecuteWhileDisabled: true,
  };
}

const named = (name: string): ReadableSpan[] => spans.getFinishedSpans().filter((s) => s.name === name);
function one(name: string): ReadableSpan {
  const found = named(name);
  expect(
    found.map((s) => s.name),
    `exactly one ${name} span`,
  ).toEqual([name]);
  return found[0] as ReadableSpan;
}

/** The `traceparent` of a span: version 00, its trace id, its span id, sampled. */
const traceparentOf = (span: ReadableSpan) =>
  `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`;

async function exportedMetrics(): Promise<MetricData[]> {
  await telemetry.flush();
  const batches: ResourceMetrics[] = metricExporter.getMetrics();
  // Cumulative: the last export holds every point so far.
  return batches.at(-1)?.scopeMetrics.flatMap((s) => s.metrics) ?? [];
}

function pointsOf(all: MetricData[], name: string): DataPoint<unknown>[] {
  return all.filter((m) => m.descriptor.name === name).flatMap((m) => m.dataPoints as DataPoint<unknown>[]);
}

beforeAll(async () => {
  env = await startComponentEnv();
  hook = await startWebhookTarget(SIGNING_KEY);
  const tables = createTables(settings());
  repo = createRequestRepository(tables);
  log = createAuditLog({ tables, now: () => new Date(), hmacKey: 'k', name: 'telemetryaudit' });
  orchestrations = durableOrchestrations(recordingClient());
  adminToken = await env.token('admin@contoso.com', ['PAM.Admin']);
  await enablePam(adminToken, { group: GROUP, members: [ANN] });
  const ok = (r: { status: number; body: unknown }) =>
    expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
  ok(
    await call(catalogTaskPut, {
      method: 'PUT',
      path: '/x',
      token: adminToken,
      body: {
        name: TASK,
        description: 'd',
        executor: { type: 'webhook', url: hook.url },
        parameters: [{ name: 'Server', type: 'string' }],
      },
    }),
  );
  ok(
    await call(policyCreate, {
      method: 'POST',
      path: '/x',
      token: adminToken,
      body: { scope: 'task', target: TASK, approvalType: 'manual' },
    }),
  );
  // Started after the arrangement: only the story below is exported.
  telemetry = startTelemetry({
    serviceName: 'zsa-test',
    spanProcessors: [new SimpleSpanProcessor(spans)],
    metricReaders: [
      new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 }),
    ],
  });
}, 60_000);

afterAll(async () => {
  if (!stopped) await telemetry.shutdown();
  await hook.close();
  await env.close();
});

describe('a request traced from its submit to the webhook', () => {
  let requestId = '';

  it('traces the submit and starts the workflow with its trace context', async () => {
    // Act
    const { view } = await submitRequest(requestContext(), callerOf(REQUESTER), {
      task: TASK,
      reason: REASON,
      ticket: TICKET,
      parameters: { Server: PARAMETER },
      durationHours: 1,
    });
    requestId = view.id;

    // Assess
    const submit = one(SpanName.Submit);
    expect(submit.parentSpanContext).toBeUndefined();
    expect(submit.attributes).toEqual({
      [Attr.RequestId]: requestId,
      [Attr.Task]: TASK,
      [Attr.Status]: 'pending',
      [Attr.Outcome]: 'created',
    });
    const input = OrchestrationInput.parse(started.get(requestId));
    expect(input.traceparent).toBe(traceparentOf(submit));
  });

  it("runs the workflow's activity as a child of the submit", async () => {
    // Arrange: what the workflow hands its activities, from its input.
    const { traceparent } = OrchestrationInput.parse(started.get(requestId));

    // Act
    await settleRequestActivity(requestActivityInput(requestId, traceparent), new InvocationContext());

    // Assess
    const submit = one(SpanName.Submit);
    const settle = one(SpanName.workflow('settleRequest'));
    expect(settle.spanContext().traceId).toBe(submit.spanContext().traceId);
    expect(settle.parentSpanContext?.spanId).toBe(submit.spanContext().spanId);
    expect(settle.attributes).toEqual({ [Attr.RequestId]: requestId, [Attr.Status]: 'pending' });
  });

  let link = '';

  it("publishes the approval notice and emails it, both in the submit's trace", async () => {
    // Arrange: the workflow hands the notify activity its trace context.
    const { traceparent } = OrchestrationInput.parse(started.get(requestId));
    const tables = createTables(settings());
    const deps = getDeps();

    // Act: the notify activity, then the sender's trigger with the message's trace context.
    await publishNotification(
      {
        requests: repo,
        groupMembers: (g) => deps.config.groupMembers(g),
        tokens: createTokenStore(tables),
        schedules: createScheduleStore(tables),
        publisher,
        now: new Date(),
        publicBaseUrl: 'https://zsa.example.net',
        expiryNoticeMs: 15 * 60_000,
      },
      { requestId, event: 'approvalNeeded', stage: 0, ...(traceparent ? { traceparent } : {}) },
    );
    const sent = published.find((p) => p.message.recipient === ANN);
    if (!sent) throw new Error(`no approval notice for ${ANN}: ${JSON.stringify(published)}`);
    await deliverNotification(
      { mailer, requests: repo, now: new Date() },
      sent.message,
      String(sent.traceparent),
    );

    // Assess: submit → notify → email.send, and the email holds the link.
    const submit = one(SpanName.Submit);
    const notify = one(SpanName.Notify);
    const email = one(SpanName.EmailSend);
    expect(notify.parentSpanContext?.spanId).toBe(submit.spanContext().spanId);
    expect(sent.traceparent).toBe(traceparentOf(notify));
    expect(email.parentSpanContext?.spanId).toBe(notify.spanContext().spanId);
    expect(email.spanContext().traceId).toBe(submit.spanContext().traceId);
    expect(notify.attributes).toEqual({
      [Attr.RequestId]: requestId,
      [Attr.Channel]: 'approvalNeeded',
      [Attr.Outcome]: 'published',
    });
    expect(email.attributes).toEqual({
      [Attr.Channel]: 'email',
      [Attr.RequestId]: requestId,
      [Attr.Outcome]: 'sent',
    });
    link = /\/api\/decisions\/([^\s"<>?&]+)/.exec(mailed.at(-1)?.text ?? '')?.[1] ?? '';
    expect(link).toMatch(new RegExp(`^${requestId}\\.[A-Za-z0-9_-]{43}$`));
  });

  it('traces the approval through the emailed link and times the decision', async () => {
    // Arrange: the app's link context, Ann's link, no sign-in.
    const ctx: DecisionLinkContext = {
      tokens: createTokenStore(createTables(settings())),
      requests: repo,
      now: new Date(),
      signedInAs: undefined,
      requireSignIn: false,
      log: () => undefined,
      audit: log,
      callerFor: () => callerOf(ANN),
      decide: (caller, id, decision, comment, binding) =>
        decide(requestContext(), caller, id, decision, comment, binding.stage),
    };

    // Act
    const outcome = await submitDecisionLink(ctx, decodeURIComponent(link), 'approve', undefined);

    // Assess: link.decide → decide
    expect(outcome.kind).toBe('recorded');
    const viaLink = one(SpanName.LinkDecide);
    const decided = one(SpanName.Decide);
    expect(decided.parentSpanContext?.spanId).toBe(viaLink.spanContext().spanId);
    expect(viaLink.attributes).toEqual({ [Attr.RequestId]: requestId, [Attr.Outcome]: 'recorded' });
    expect(decided.attributes).toEqual({
      [Attr.RequestId]: requestId,
      [Attr.Task]: TASK,
      [Attr.Status]: 'approved',
      [Attr.Outcome]: 'approve',
    });
    const decisions = pointsOf(await exportedMetrics(), MetricName.DecisionDuration);
    expect(decisions.map((p) => p.attributes)).toEqual([{ [Attr.Outcome]: 'approved' }]);
    expect((decisions[0]?.value as { count: number }).count).toBe(1);
  });

  it('traces the execution and hands the webhook its trace context', async () => {
    // Act
    await execute(executeContext(), callerOf(REQUESTER), {
      task: TASK,
      requestId,
      parameters: { Server: PARAMETER },
    });

    // Assess
    const run = one(SpanName.Execute);
    expect(run.attributes).toEqual({
      [Attr.RequestId]: requestId,
      [Attr.Task]: TASK,
      [Attr.Outcome]: 'succeeded',
    });
    expect(hook.received.map((r) => r.traceparent)).toEqual([traceparentOf(run)]);
  });

  it("refuses an unknown task without putting the caller's task name on the span", async () => {
    // Act
    const refused = await execute(executeContext(), callerOf(REQUESTER), { task: 'Not\\In-Catalog' }).catch(
      (e: unknown) => e,
    );

    // Assess
    expect(refused).toBeInstanceOf(DomainError);
    const runs = named(SpanName.Execute);
    expect(runs.at(-1)?.attributes).toEqual({ [Attr.Outcome]: 'refused' });
    expect(runs.at(-1)?.status.message).toBe((refused as DomainError).code);
  });

  it("refuses a submit without putting the caller's task text on the span", async () => {
    // Act
    const refused = await submitRequest(requestContext(), callerOf(REQUESTER), {
      task: REFUSED_TASK,
      reason: REASON,
      durationHours: 1,
    }).catch((e: unknown) => e);

    // Assess
    expect(refused).toBeInstanceOf(DomainError);
    const submits = named(SpanName.Submit);
    expect(submits.at(-1)?.attributes).toEqual({ [Attr.Outcome]: 'refused' });
  });

  it("runs a timer as its own story, in the host's trace context when it hands one", async () => {
    // Arrange: the invocation as the Functions host describes a timer's, with its trace context.
    const host = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const invocation = new InvocationContext({
      functionName: 'reviewReminder',
      traceContext: { traceParent: host, traceState: undefined, attributes: {} },
      options: { trigger: { type: 'timerTrigger', name: 'timer' }, extraInputs: [], extraOutputs: [] },
    });

    // Act
    await tracedHandler(invocation, reviewReminder)(
      { isPastDue: false, scheduleStatus: {} } as never,
      invocation,
    );

    // Assess
    const timer = one(SpanName.timer('reviewReminder'));
    expect(timer.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(timer.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(timer.status.code).not.toBe(2);
  });

  it('counts requests by status and executions by outcome, and times the first use and the audit appends', async () => {
    // Act
    const all = await exportedMetrics();

    // Assess
    const requests = pointsOf(all, MetricName.Requests).map((p) => [p.attributes, p.value]);
    expect(requests).toEqual(
      expect.arrayContaining([
        [{ [Attr.Status]: 'pending', [Attr.Task]: TASK }, 1],
        [{ [Attr.Status]: 'approved', [Attr.Task]: TASK }, 1],
      ]),
    );
    expect(pointsOf(all, MetricName.Executions).map((p) => [p.attributes, p.value])).toEqual(
      expect.arrayContaining([
        [{ [Attr.Outcome]: 'succeeded', [Attr.Task]: TASK }, 1],
        [{ [Attr.Outcome]: 'refused' }, 1],
      ]),
    );
    const firstUses = pointsOf(all, MetricName.FirstUseDuration);
    expect(firstUses.map((p) => [p.attributes, (p.value as { count: number }).count])).toEqual([
      [{ [Attr.Task]: TASK }, 1],
    ]);
    const appends = pointsOf(all, MetricName.AuditAppendDuration);
    expect(appends.map((p) => p.attributes)).toEqual([{ [Attr.Outcome]: 'success' }]);
    expect((appends[0]?.value as { count: number }).count).toBeGreaterThanOrEqual(2);
  });

  it('exports no link, token, key, email, request text or parameter value anywhere', async () => {
    // Arrange: every attribute value of every span, span event and metric point, and the resource's;
    // every span's and event's name and status message.
    const all = await exportedMetrics();
    const finished = spans.getFinishedSpans();
    const values = [
      ...finished.flatMap((s) => [
        ...Object.values(s.attributes),
        ...s.events.flatMap((e) => [e.name, ...Object.values(e.attributes ?? {})]),
        s.name,
        s.status.message,
        ...Object.values(s.resource.attributes),
      ]),
      ...all.flatMap((m) => m.dataPoints.flatMap((p) => Object.values(p.attributes))),
    ].map(String);
    const requesterToken = await env.token(REQUESTER);
    const linkSecret = link.split('.')[1] ?? '';

    // Act
    const leaks = values.filter(
      (v) =>
        /eyJ[A-Za-z0-9_-]{5,}/.test(v) || // a JWT (a bearer token)
        /\/api\/decisions\//.test(v) || // a decision link
        /\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/.test(v) || // any decision link's token
        v.includes(link) ||
        v.includes(linkSecret) ||
        v.includes('@') || // an email address
        v.includes(SIGNING_KEY) ||
        v.includes('component-test-audit-key') ||
        v.includes(REASON) ||
        v.includes(TICKET) ||
        v.includes(PARAMETER) ||
        v.includes('secret-sauce') ||
        v.includes(adminToken) ||
        v.includes(requesterToken),
    );

    // Assess
    expect(linkSecret).toHaveLength(43);
    expect(finished.map((s) => s.name)).toEqual(
      expect.arrayContaining([
        SpanName.Notify,
        SpanName.EmailSend,
        SpanName.LinkDecide,
        SpanName.Decide,
        SpanName.timer('reviewReminder'),
      ]),
    );
    expect(values.length).toBeGreaterThan(20);
    expect(leaks).toEqual([]);
  });
});

describe('telemetry off', () => {
  it('records nothing once the SDK is shut down: the API is a no-op again', async () => {
    // Arrange
    await telemetry.shutdown();
    stopped = true;

    // Act
    const seen = await inSpan(SpanName.Submit, { [Attr.RequestId]: 'r1' }, () =>
      Promise.resolve({
        recording: trace.getActiveSpan()?.isRecording() ?? false,
        traceparent: currentTraceparent(),
      }),
    );

    // Assess
    expect(seen).toEqual({ recording: false, traceparent: undefined });
  });
});
