/**
 * The local host's telemetry receiver as an app meets it: the real OpenTelemetry SDK and its real
 * OTLP/HTTP JSON exporters post spans and metrics over a loopback socket, and the page and the JSON
 * API show them back. Also what a wrong exporter gets (protobuf, not OTLP), the bounds, the escaping,
 * and how ZSA's launcher points the app at the receiver (or at the user's own collector).
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { context, trace, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTelemetryReceiver,
  type LocalParts,
  type MetricPoint,
  type ReceivedSpan,
  type TelemetryReceiver,
} from '@zsa/local-host';
import { zsaHostOptions } from '../../../infra/tools/local-host';

interface Harness {
  receiver: TelemetryReceiver;
  base: string;
  close(): Promise<void>;
}

/** A receiver behind a tiny HTTP server (418 for anything it does not route). */
async function startReceiver(options: Parameters<typeof createTelemetryReceiver>[0] = {}): Promise<Harness> {
  const receiver = createTelemetryReceiver(options);
  const server = http.createServer((req, res) => {
    void receiver.handle(req, res).then((handled) => {
      if (!handled) res.writeHead(418).end('not telemetry');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    receiver,
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}/dev/telemetry`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  return (await response.json()) as T;
}

let h: Harness;

beforeAll(async () => {
  h = await startReceiver();
});

afterAll(async () => {
  await h.close();
});

describe('the OTLP/HTTP JSON receiver', () => {
  it('keeps the spans the real exporter sends, as one trace with its tree, and shows them escaped', async () => {
    // Arrange: the SDK exporting every span as it ends, as the app does with OTEL_EXPORTER_OTLP_ENDPOINT.
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'zsa-test' }),
      spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${h.base}/v1/traces` }))],
    });
    const tracer = provider.getTracer('telemetry-test');

    // Act: an HTTP span with two children, one failing, one with markup in an attribute.
    const root = tracer.startSpan('zsa.submit', {
      kind: SpanKind.SERVER,
      attributes: { 'zsa.request.id': 'req-1', 'zsa.task': '<script>alert(1)</script>', 'http.status': 201 },
    });
    const inRoot = trace.setSpan(context.active(), root);
    const child = tracer.startSpan(
      'zsa.workflow.notify',
      { attributes: { 'zsa.outcome': 'delivered' } },
      inRoot,
    );
    const failing = tracer.startSpan('zsa.execute', { kind: SpanKind.CLIENT }, trace.setSpan(inRoot, child));
    failing.setStatus({ code: SpanStatusCode.ERROR, message: 'webhook 502' });
    failing.end();
    child.end();
    root.end();
    await provider.forceFlush();
    await provider.shutdown();

    // Assert: the JSON API has the tree, ids in hex, durations and attributes as sent.
    const traceId = root.spanContext().traceId;
    const spans = await getJson<ReceivedSpan[]>(`${h.base}/spans?trace=${traceId}`);
    const byName = new Map(spans.map((s) => [s.name, s]));
    expect(spans.map((s) => s.name).sort()).toEqual(['zsa.execute', 'zsa.submit', 'zsa.workflow.notify']);
    expect(byName.get('zsa.submit')).toMatchObject({
      traceId,
      spanId: root.spanContext().spanId,
      parentSpanId: '',
      kind: 'server',
      service: 'zsa-test',
      scope: 'telemetry-test',
      attributes: { 'zsa.request.id': 'req-1', 'zsa.task': '<script>alert(1)</script>', 'http.status': 201 },
    });
    expect(byName.get('zsa.workflow.notify')?.parentSpanId).toBe(root.spanContext().spanId);
    expect(byName.get('zsa.execute')).toMatchObject({
      parentSpanId: child.spanContext().spanId,
      kind: 'client',
      status: { code: 'error', message: 'webhook 502' },
    });
    for (const span of spans) expect(span.durationMs).toBeGreaterThanOrEqual(0);
    const traces = await getJson<{ traceId: string; name: string; spans: number; errors: number }[]>(
      `${h.base}/traces`,
    );
    expect(traces[0]).toMatchObject({ traceId, name: 'zsa.submit', spans: 3, errors: 1 });
    expect(await getJson<ReceivedSpan[]>(`${h.base}/spans?name=zsa.execute`)).toHaveLength(1);

    // Assert: the page nests the child under its parent and never echoes markup.
    const page = await fetch(h.base);
    const html = await page.text();
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(html).not.toContain('<script>');
    expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    expect(html).toMatch(
      /zsa\.submit[\s\S]*<ul class="tree"><li>[\s\S]*zsa\.workflow\.notify[\s\S]*zsa\.execute/,
    );
    expect(html).toContain('webhook 502');
  });

  it('keeps the latest point of each metric series the real metric exporter sends', async () => {
    // Arrange
    const reader = new PeriodicExportingMetricReader({
      exporter: new OTLPMetricExporter({ url: `${h.base}/v1/metrics` }),
      exportIntervalMillis: 60_000,
    });
    const meters = new MeterProvider({
      resource: resourceFromAttributes({ 'service.name': 'zsa-test' }),
      readers: [reader],
    });
    const meter = meters.getMeter('telemetry-test');
    const executions = meter.createCounter('zsa.executions');
    const duration = meter.createHistogram('zsa.execution.duration', { unit: 'ms' });
    const open = meter.createObservableGauge('zsa.reviews.open');
    open.addCallback((result) => result.observe(4));

    // Act
    executions.add(2, { 'zsa.outcome': 'succeeded' });
    executions.add(1, { 'zsa.outcome': 'failed' });
    for (const ms of [10, 20, 60]) duration.record(ms, { 'zsa.outcome': 'succeeded' });
    await meters.forceFlush();
    await meters.shutdown();

    // Assert
    const points = await getJson<MetricPoint[]>(`${h.base}/metrics`);
    const point = (name: string, outcome?: string) =>
      points.find(
        (p) => p.name === name && (outcome === undefined || p.attributes['zsa.outcome'] === outcome),
      );
    expect(point('zsa.executions', 'succeeded')).toMatchObject({
      kind: 'sum',
      value: 2,
      service: 'zsa-test',
    });
    expect(point('zsa.executions', 'failed')).toMatchObject({ kind: 'sum', value: 1 });
    expect(point('zsa.execution.duration')).toMatchObject({
      kind: 'histogram',
      unit: 'ms',
      count: 3,
      sum: 90,
      min: 10,
      max: 60,
    });
    expect(point('zsa.reviews.open')).toMatchObject({ kind: 'gauge', value: 4 });
    expect(await getJson<MetricPoint[]>(`${h.base}/metrics?name=zsa.reviews.open`)).toHaveLength(1);
    expect(await (await fetch(h.base)).text()).toMatch(
      /zsa\.execution\.duration[\s\S]*count 3, sum 90, mean 30/,
    );
  });

  it.each<{
    name: string;
    headers: Record<string, string>;
    body: string | Buffer;
    status: number;
    message: RegExp;
  }>([
    {
      name: 'protobuf (this receiver reads JSON only)',
      headers: { 'content-type': 'application/x-protobuf' },
      body: Buffer.from([0x0a, 0x00]),
      status: 415,
      message: /OTEL_EXPORTER_OTLP_PROTOCOL=http\/json/,
    },
    {
      name: 'a body that is not JSON',
      headers: { 'content-type': 'application/json' },
      body: '{',
      status: 400,
      message: /not JSON/,
    },
    {
      name: 'JSON that is not an export request',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ name: 'x' }] }] }] }),
      status: 400,
      message: /Not an OTLP JSON export request: resourceSpans\.0\.scopeSpans\.0\.spans\.0\.traceId/,
    },
    {
      name: 'an unknown content encoding',
      headers: { 'content-type': 'application/json', 'content-encoding': 'br' },
      body: '{}',
      status: 415,
      message: /content-encoding br/,
    },
  ])('refuses $name with an OTLP Status', async ({ headers, body, status, message }) => {
    // Act
    const response = await fetch(`${h.base}/v1/traces`, { method: 'POST', headers, body });

    // Assert
    expect(response.status).toBe(status);
    const answer = (await response.json()) as { code: number; message: string };
    expect(answer.code).toBe(3);
    expect(answer.message).toMatch(message);
  });

  it('reads gzip bodies and log records; DELETE forgets everything; other methods are refused', async () => {
    // Arrange
    const logs = {
      resourceLogs: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'zsa-test' } }] },
          scopeLogs: [
            {
              logRecords: [
                {
                  timeUnixNano: '1893456000000000000',
                  severityText: 'WARN',
                  body: { stringValue: 'zsa.audit.verification outcome=failure' },
                  attributes: [{ key: 'rows', value: { intValue: '12' } }],
                },
              ],
            },
          ],
        },
      ],
    };

    // Act
    const posted = await fetch(`${h.base}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify(logs)),
    });
    const kept = await getJson<{ at: string; severity: string; body: string; attributes: object }[]>(
      `${h.base}/logs`,
    );
    const wrongMethod = await fetch(`${h.base}/v1/traces`);
    const cleared = await fetch(h.base, { method: 'DELETE' });

    // Assert
    expect(posted.status).toBe(200);
    expect(kept[0]).toEqual(
      expect.objectContaining({
        at: '2030-01-01T00:00:00.000Z',
        severity: 'WARN',
        body: 'zsa.audit.verification outcome=failure',
        attributes: { rows: 12 },
      }),
    );
    expect(wrongMethod.status).toBe(405);
    expect(cleared.status).toBe(204);
    expect(await getJson<unknown[]>(`${h.base}/traces`)).toEqual([]);
    expect(await getJson<unknown[]>(`${h.base}/metrics`)).toEqual([]);
    expect(await getJson<unknown[]>(`${h.base}/logs`)).toEqual([]);
  });

  it('reads ids in base64 too, and every attribute value type as plain JSON', async () => {
    // Arrange: a span as a proto3-minded exporter might write it.
    const traceId = Buffer.from('0123456789abcdef0123456789abcdef', 'hex').toString('base64');
    const spanId = Buffer.from('0011223344556677', 'hex').toString('base64');
    const span = {
      traceId,
      spanId,
      parentSpanId: '',
      name: 'typed',
      kind: 'SPAN_KIND_CONSUMER',
      startTimeUnixNano: 1893456000000000000,
      endTimeUnixNano: '1893456000250000000',
      status: { code: 'STATUS_CODE_OK' },
      attributes: [
        { key: 'big', value: { intValue: '9007199254740993' } },
        { key: 'small', value: { intValue: 7 } },
        { key: 'ratio', value: { doubleValue: 0.5 } },
        { key: 'flag', value: { boolValue: true } },
        { key: 'list', value: { arrayValue: { values: [{ stringValue: 'a' }, { intValue: '2' }] } } },
        { key: 'map', value: { kvlistValue: { values: [{ key: 'k', value: { stringValue: 'v' } }] } } },
        { key: 'empty' },
      ],
    };

    // Act
    const posted = await fetch(`${h.base}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [span] }] }] }),
    });
    const [kept] = await getJson<ReceivedSpan[]>(`${h.base}/spans?trace=0123456789ABCDEF0123456789ABCDEF`);

    // Assert
    expect(posted.status).toBe(200);
    expect(kept).toMatchObject({
      traceId: '0123456789abcdef0123456789abcdef',
      spanId: '0011223344556677',
      kind: 'consumer',
      status: { code: 'ok' },
      start: '2030-01-01T00:00:00.000Z',
      durationMs: 250,
      attributes: {
        big: '9007199254740993',
        small: 7,
        ratio: 0.5,
        flag: true,
        list: ['a', 2],
        map: { k: 'v' },
        empty: null,
      },
    });
  });

  it("stays bounded: the oldest trace goes first, and spans beyond a trace's limit are counted, not kept", async () => {
    // Arrange
    const small = await startReceiver({ limits: { traces: 2, spansPerTrace: 2 } });
    const span = (traceId: string, spanId: string) => ({
      traceId: traceId.repeat(32),
      spanId: spanId.repeat(16),
      name: `span ${traceId}${spanId}`,
      startTimeUnixNano: '1893456000000000000',
      endTimeUnixNano: '1893456000005000000',
    });
    const post = (spans: object[]) =>
      fetch(`${small.base}/v1/traces`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans }] }] }),
      });

    try {
      // Act: three traces; the second with three spans.
      await post([span('a', '1')]);
      await post([span('b', '1'), span('b', '2'), span('b', '3')]);
      await post([span('c', '1')]);
      const traces = await getJson<{ traceId: string; spans: number; dropped: number; durationMs: number }[]>(
        `${small.base}/traces`,
      );

      // Assert
      expect(traces.map((t) => t.traceId[0]).sort()).toEqual(['b', 'c']);
      expect(traces.find((t) => t.traceId.startsWith('b'))).toMatchObject({
        spans: 2,
        dropped: 1,
        durationMs: 5,
      });
    } finally {
      await small.close();
    }
  });
});

describe("ZSA's launcher", () => {
  const parts: LocalParts = {
    origin: 'http://127.0.0.1:7071',
    dataDir: undefined,
    issuer: {
      url: 'http://127.0.0.1:7071/dev',
      audience: 'api://zsa',
      tenantId: 't',
      directoryUrl: 'http://x',
    },
    smtpUrl: 'smtp://127.0.0.1:2525',
    serviceBus: 'Endpoint=sb://127.0.0.1',
    telemetryUrl: 'http://127.0.0.1:7071/dev/telemetry',
  };

  it.each<{
    given: Record<string, string>;
    endpoint: string;
    protocol: string | undefined;
    banner: RegExp | undefined;
  }>([
    {
      given: {},
      endpoint: 'http://127.0.0.1:7071/dev/telemetry',
      protocol: 'http/json',
      banner: undefined,
    },
    {
      given: {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      },
      endpoint: 'http://collector:4318',
      protocol: undefined,
      banner: /OTLP\s+to http:\/\/collector:4318/,
    },
  ])('points OTLP at $endpoint', ({ given, endpoint, protocol, banner }) => {
    // Act
    const configured = zsaHostOptions().configure(parts, given);

    // Assert: the user's collector wins, with the protocol they chose (not overridden).
    expect(configured.settings?.OTEL_EXPORTER_OTLP_ENDPOINT).toBe(endpoint);
    expect(configured.settings?.OTEL_EXPORTER_OTLP_PROTOCOL).toBe(protocol);
    const otlpLine = configured.banner?.find((line) => line.startsWith('OTLP'));
    if (banner) expect(otlpLine).toMatch(banner);
    else expect(otlpLine).toBeUndefined();
  });
});
