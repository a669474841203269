/**
 * OTLP/HTTP in its JSON encoding (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding):
 * the export requests of traces, metrics and logs, checked with zod and flattened into the plain
 * records the receiver keeps. Only the fields the page and the tests show are read; the rest
 * (events, links, exemplars, dropped counts) is accepted and ignored.
 *
 * The JSON mapping differs from plain proto3 JSON in two ways the schemas follow: trace and span ids
 * are hex strings (base64 is accepted too, as some exporters send it), and enums are integers. 64-bit
 * integers (times in nanoseconds, counts) may come as decimal strings or as numbers.
 */
import { z } from 'zod';

/** A JSON value, as attribute values are shown and returned. */
export type AttributeValue =
  string | number | boolean | null | AttributeValue[] | { [key: string]: AttributeValue };
export type Attributes = Record<string, AttributeValue>;

interface AnyValue {
  stringValue?: string | undefined;
  boolValue?: boolean | undefined;
  intValue?: string | number | undefined;
  doubleValue?: string | number | undefined;
  bytesValue?: string | undefined;
  arrayValue?: { values?: AnyValue[] | undefined } | undefined;
  kvlistValue?: { values?: KeyValue[] | undefined } | undefined;
}
interface KeyValue {
  key: string;
  value?: AnyValue | undefined;
}

// As numbers, 64-bit values beyond 2^53 arrive rounded (still whole): accepted, not refused.
const Int64 = z.union([z.string().regex(/^-?\d+$/), z.number().refine(Number.isInteger, 'an integer')]);
/** proto3 JSON writes NaN and the infinities as strings. */
const Double = z.union([z.number(), z.enum(['NaN', 'Infinity', '-Infinity'])]);

const AnyValueSchema: z.ZodType<AnyValue> = z.lazy(() =>
  z.object({
    stringValue: z.string().optional(),
    boolValue: z.boolean().optional(),
    intValue: Int64.optional(),
    doubleValue: Double.optional(),
    bytesValue: z.string().optional(),
    arrayValue: z.object({ values: z.array(AnyValueSchema).optional() }).optional(),
    kvlistValue: z.object({ values: z.array(KeyValueSchema).optional() }).optional(),
  }),
);
const KeyValueSchema: z.ZodType<KeyValue> = z.lazy(() =>
  z.object({ key: z.string(), value: AnyValueSchema.optional() }),
);
const AttributesSchema = z.array(KeyValueSchema).optional();

const Resource = z.object({ attributes: AttributesSchema }).optional();
const Scope = z.object({ name: z.string().optional(), version: z.string().optional() }).optional();
/** Unsigned nanoseconds since the epoch. */
const UnixNano = z.union([
  z.string().regex(/^\d+$/),
  z.number().nonnegative().refine(Number.isInteger, 'an integer'),
]);
const Id = z.string().max(64);

const SpanSchema = z.object({
  traceId: Id,
  spanId: Id,
  parentSpanId: Id.optional(),
  name: z.string(),
  kind: z.union([z.number().int(), z.string()]).optional(),
  startTimeUnixNano: UnixNano,
  endTimeUnixNano: UnixNano,
  attributes: AttributesSchema,
  status: z
    .object({ code: z.union([z.number().int(), z.string()]).optional(), message: z.string().optional() })
    .optional(),
});

export const TracesRequestSchema = z.object({
  resourceSpans: z
    .array(
      z.object({
        resource: Resource,
        scopeSpans: z.array(z.object({ scope: Scope, spans: z.array(SpanSchema).optional() })).optional(),
      }),
    )
    .optional(),
});

const NumberPoint = z.object({
  attributes: AttributesSchema,
  timeUnixNano: UnixNano.optional(),
  asDouble: Double.optional(),
  asInt: Int64.optional(),
});
const HistogramPoint = z.object({
  attributes: AttributesSchema,
  timeUnixNano: UnixNano.optional(),
  count: Int64.optional(),
  sum: Double.optional(),
  min: Double.optional(),
  max: Double.optional(),
});
const Temporality = z.union([z.number().int(), z.string()]).optional();

const MetricSchema = z.object({
  name: z.string(),
  unit: z.string().optional(),
  description: z.string().optional(),
  sum: z
    .object({
      dataPoints: z.array(NumberPoint).optional(),
      aggregationTemporality: Temporality,
      isMonotonic: z.boolean().optional(),
    })
    .optional(),
  gauge: z.object({ dataPoints: z.array(NumberPoint).optional() }).optional(),
  histogram: z
    .object({ dataPoints: z.array(HistogramPoint).optional(), aggregationTemporality: Temporality })
    .optional(),
  exponentialHistogram: z
    .object({ dataPoints: z.array(HistogramPoint).optional(), aggregationTemporality: Temporality })
    .optional(),
});

export const MetricsRequestSchema = z.object({
  resourceMetrics: z
    .array(
      z.object({
        resource: Resource,
        scopeMetrics: z
          .array(z.object({ scope: Scope, metrics: z.array(MetricSchema).optional() }))
          .optional(),
      }),
    )
    .optional(),
});

const LogRecordSchema = z.object({
  timeUnixNano: UnixNano.optional(),
  observedTimeUnixNano: UnixNano.optional(),
  severityNumber: z.union([z.number().int(), z.string()]).optional(),
  severityText: z.string().optional(),
  body: AnyValueSchema.optional(),
  attributes: AttributesSchema,
  traceId: Id.optional(),
  spanId: Id.optional(),
});

export const LogsRequestSchema = z.object({
  resourceLogs: z
    .array(
      z.object({
        resource: Resource,
        scopeLogs: z
          .array(z.object({ scope: Scope, logRecords: z.array(LogRecordSchema).optional() }))
          .optional(),
      }),
    )
    .optional(),
});

/** One span as the receiver keeps it and `GET /dev/telemetry/spans` returns it. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** Empty for a root span. */
  parentSpanId: string;
  name: string;
  kind: string;
  /** The resource's `service.name`. */
  service: string;
  scope: string;
  start: string;
  end: string;
  durationMs: number;
  status: { code: 'unset' | 'ok' | 'error'; message?: string };
  attributes: Attributes;
}

export type MetricKind = 'sum' | 'gauge' | 'histogram';

/** The latest data point of one series: a metric name and one set of attribute values. */
export interface MetricPoint {
  name: string;
  kind: MetricKind;
  unit: string;
  description: string;
  service: string;
  attributes: Attributes;
  at: string;
  /** Sums and gauges. */
  value?: number;
  /** Histograms. */
  count?: number;
  sum?: number;
  min?: number;
  max?: number;
}

export interface ReceivedLog {
  at: string;
  severity: string;
  body: AttributeValue;
  service: string;
  traceId: string;
  spanId: string;
  attributes: Attributes;
}

const SPAN_KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];
const STATUS_CODES = ['unset', 'ok', 'error'] as const;

export function spansOf(request: z.output<typeof TracesRequestSchema>): ReceivedSpan[] {
  return (request.resourceSpans ?? []).flatMap((rs) => {
    const service = serviceOf(rs.resource);
    return (rs.scopeSpans ?? []).flatMap((ss) =>
      (ss.spans ?? []).map((span): ReceivedSpan => {
        const start = nanos(span.startTimeUnixNano);
        const end = nanos(span.endTimeUnixNano);
        const message = span.status?.message;
        return {
          traceId: hexId(span.traceId),
          spanId: hexId(span.spanId),
          parentSpanId: span.parentSpanId ? hexId(span.parentSpanId) : '',
          name: span.name,
          kind: enumName(span.kind, SPAN_KINDS, 'SPAN_KIND_'),
          service,
          scope: ss.scope?.name ?? '',
          start: isoOf(start),
          end: isoOf(end),
          durationMs: Number(end - start) / 1e6,
          status: {
            code: enumName(span.status?.code, STATUS_CODES, 'STATUS_CODE_') as ReceivedSpan['status']['code'],
            ...(message ? { message } : {}),
          },
          attributes: attributesOf(span.attributes),
        };
      }),
    );
  });
}

export function pointsOf(request: z.output<typeof MetricsRequestSchema>): MetricPoint[] {
  return (request.resourceMetrics ?? []).flatMap((rm) => {
    const service = serviceOf(rm.resource);
    return (rm.scopeMetrics ?? []).flatMap((sm) =>
      (sm.metrics ?? []).flatMap((metric): MetricPoint[] => {
        const base = {
          name: metric.name,
          unit: metric.unit ?? '',
          description: metric.description ?? '',
          service,
        };
        const numbers = (kind: MetricKind, points: z.output<typeof NumberPoint>[] | undefined) =>
          (points ?? []).map((p): MetricPoint => ({
            ...base,
            kind,
            attributes: attributesOf(p.attributes),
            at: isoOf(nanos(p.timeUnixNano ?? 0)),
            value: numberOf(p.asDouble ?? p.asInt ?? 0),
          }));
        const histogram = (metric.histogram ?? metric.exponentialHistogram)?.dataPoints;
        return [
          ...numbers('sum', metric.sum?.dataPoints),
          ...numbers('gauge', metric.gauge?.dataPoints),
          ...(histogram ?? []).map((p): MetricPoint => ({
            ...base,
            kind: 'histogram',
            attributes: attributesOf(p.attributes),
            at: isoOf(nanos(p.timeUnixNano ?? 0)),
            count: numberOf(p.count ?? 0),
            ...(p.sum === undefined ? {} : { sum: numberOf(p.sum) }),
            ...(p.min === undefined ? {} : { min: numberOf(p.min) }),
            ...(p.max === undefined ? {} : { max: numberOf(p.max) }),
          })),
        ];
      }),
    );
  });
}

export function logsOf(request: z.output<typeof LogsRequestSchema>): ReceivedLog[] {
  return (request.resourceLogs ?? []).flatMap((rl) => {
    const service = serviceOf(rl.resource);
    return (rl.scopeLogs ?? []).flatMap((sl) =>
      (sl.logRecords ?? []).map((record): ReceivedLog => ({
        at: isoOf(nanos(record.timeUnixNano ?? record.observedTimeUnixNano ?? 0)),
        severity:
          record.severityText || (record.severityNumber === undefined ? '' : String(record.severityNumber)),
        body: record.body ? valueOf(record.body) : null,
        service,
        traceId: record.traceId ? hexId(record.traceId) : '',
        spanId: record.spanId ? hexId(record.spanId) : '',
        attributes: attributesOf(record.attributes),
      })),
    );
  });
}

function serviceOf(resource: z.output<typeof Resource>): string {
  const name = attributesOf(resource?.attributes)['service.name'];
  return typeof name === 'string' ? name : '';
}

export function attributesOf(list: readonly KeyValue[] | undefined): Attributes {
  const out: Attributes = {};
  for (const kv of list ?? []) out[kv.key] = kv.value ? valueOf(kv.value) : null;
  return out;
}

function valueOf(value: AnyValue): AttributeValue {
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) {
    const n = Number(value.intValue);
    // Beyond 2^53 a number would silently round; the digits stay exact as a string.
    return Number.isSafeInteger(n) ? n : String(value.intValue);
  }
  if (value.doubleValue !== undefined) return numberOf(value.doubleValue);
  if (value.bytesValue !== undefined) return value.bytesValue;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(valueOf);
  if (value.kvlistValue) return attributesOf(value.kvlistValue.values);
  return null;
}

function numberOf(value: string | number): number {
  return typeof value === 'number' ? value : Number(value);
}

function nanos(value: string | number): bigint {
  return BigInt(value);
}

function isoOf(unixNano: bigint): string {
  const ms = Number(unixNano / 1_000_000n);
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? new Date(0).toISOString() : date.toISOString();
}

/**
 * Hex as the OTLP JSON mapping says (32 digits for a trace id, 16 for a span id), or base64 as
 * proto3's bytes mapping would have it (24 or 12 characters, which are never taken for hex).
 */
function hexId(id: string): string {
  if (/^(?:[0-9a-fA-F]{16}){1,2}$/.test(id)) return id.toLowerCase();
  return Buffer.from(id, 'base64').toString('hex');
}

/** `2` or `"SPAN_KIND_SERVER"` → `server`. */
function enumName(value: number | string | undefined, names: readonly string[], prefix: string): string {
  if (value === undefined) return names[0] ?? '';
  if (typeof value === 'number') return names[value] ?? String(value);
  return value.startsWith(prefix) ? value.slice(prefix.length).toLowerCase() : value.toLowerCase();
}
