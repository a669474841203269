/**
 * ZSA's spans and metrics, through the real OpenTelemetry SDK with in-memory exporters: one request
 * submitted, its workflow's first step, approved and executed against a real webhook, on real
 * Azurite with the real repository, configuration and audit log. It asserts the span names, who is
 * whose parent (one trace from the submit through the workflow's activity; the execution's context
 * sent to the webhook as `traceparent`), their attributes and the metric points; then it scans
 * every exported attribute for what must never be there (tokens, keys, emails, the request's text).
 * The workflow engine is a stand-in client that records what the workflow is started with.
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
import type { RequestContext } from '#shared/requests/context';
import { Attr, MetricName, SpanName } from '#shared/telemetry/names';
import { startTelemetry, type Telemetry } from '#shared/telemetry/setup';
import { currentTraceparent, inSpan } from '#shared/telemetry/spans';
import { settleRequestActivity } from '../../../functions/access-request';
import { catalogTaskPut } from '../../../functions/catalog';
import { policyCreate } from '../../../functions/policies';
import { enablePam } from '../../support/admin';
import { call, startComponentEnv, type ComponentEnv } from '../../support/component';
import { callerOf, REQUESTER } from '../../support/requests';
import { startWebhookTarget, type WebhookTarget } from '../../support/webhook-target';

const ANN = 'ann@contoso.com';
const GROUP = 'telemetry-approvers';
const TASK = 'Telemetry\\Restart-Service';
/** Text the request carries that must never reach telemetry. */
const REASON = 'INC-4711 restart the secret-sauce service';
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
      body: { name: TASK, description: 'd', executor: { type: 'webhook', url: hook.url } },
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

  it('traces the approval and times the decision', async () => {
    // Act
    await decide(requestContext(), callerOf(ANN), requestId, 'approve', undefined);

    // Assess
    expect(one(SpanName.Decide).attributes).toEqual({
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
    await execute(executeContext(), callerOf(REQUESTER), { task: TASK, requestId });

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

  it('exports no token, key, email or request text in any attribute', async () => {
    // Arrange: every attribute value of every span, span event and metric point, and the resource's.
    const all = await exportedMetrics();
    const finished = spans.getFinishedSpans();
    const values = [
      ...finished.flatMap((s) => [
        ...Object.values(s.attributes),
        ...s.events.flatMap((e) => Object.values(e.attributes ?? {})),
        s.status.message,
        ...Object.values(s.resource.attributes),
      ]),
      ...all.flatMap((m) => m.dataPoints.flatMap((p) => Object.values(p.attributes))),
    ].map(String);
    const requesterToken = await env.token(REQUESTER);

    // Act
    const leaks = values.filter(
      (v) =>
        /eyJ[A-Za-z0-9_-]{5,}/.test(v) || // a JWT (a bearer token, a decision link's token)
        /\/api\/decisions\//.test(v) || // a decision link
        v.includes('@') || // an email address
        v.includes(SIGNING_KEY) ||
        v.includes('component-test-audit-key') ||
        v.includes(REASON) ||
        v.includes(adminToken) ||
        v.includes(requesterToken),
    );

    // Assess
    expect(finished.length).toBeGreaterThanOrEqual(5);
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
