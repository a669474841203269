/**
 * What the receiver remembers, in memory and bounded: the most recent traces (their spans), the
 * latest point of each metric series, and the most recent log records. The oldest go first, so a
 * host left running for days holds as much as after an hour.
 */
import type { MetricPoint, ReceivedLog, ReceivedSpan } from './otlp';

export interface TelemetryLimits {
  /** Traces kept (default 200); a new trace beyond it drops the trace first seen. */
  traces: number;
  /** Spans kept per trace (default 1000); later ones are counted, not kept. */
  spansPerTrace: number;
  /** Metric series kept (default 2000): name + attribute values; the least recently updated go. */
  series: number;
  /** Log records kept (default 500). */
  logs: number;
}

export const DEFAULT_LIMITS: TelemetryLimits = { traces: 200, spansPerTrace: 1000, series: 2000, logs: 500 };

export interface TraceSummary {
  traceId: string;
  /** The root span's name, or the earliest span's while the root has not arrived. */
  name: string;
  service: string;
  start: string;
  durationMs: number;
  spans: number;
  /** Spans received beyond `spansPerTrace`. */
  dropped: number;
  errors: number;
}

interface Trace {
  spans: ReceivedSpan[];
  dropped: number;
}

export interface TelemetryStore {
  addSpans(spans: readonly ReceivedSpan[]): void;
  addPoints(points: readonly MetricPoint[]): void;
  addLogs(logs: readonly ReceivedLog[]): void;
  /** Most recent first. */
  traces(): TraceSummary[];
  /** Spans of one trace (or of every kept trace), in start order. */
  spans(traceId?: string): ReceivedSpan[];
  /** Latest point per series, by metric name then attributes. */
  points(): MetricPoint[];
  /** Most recent first. */
  logs(): ReceivedLog[];
  clear(): void;
}

export function createTelemetryStore(limits: TelemetryLimits = DEFAULT_LIMITS): TelemetryStore {
  // Maps keep insertion order: re-inserting a key moves it last, so the first key is the oldest.
  const traces = new Map<string, Trace>();
  const series = new Map<string, MetricPoint>();
  let logs: ReceivedLog[] = [];

  function summary(traceId: string, trace: Trace): TraceSummary {
    const ids = new Set(trace.spans.map((s) => s.spanId));
    const ordered = byStart(trace.spans);
    const root = ordered.find((s) => s.parentSpanId === '' || !ids.has(s.parentSpanId)) ?? ordered[0];
    const start = Math.min(...trace.spans.map((s) => Date.parse(s.start)));
    const end = Math.max(...trace.spans.map((s) => Date.parse(s.start) + s.durationMs));
    return {
      traceId,
      name: root?.name ?? '',
      service: root?.service ?? '',
      start: new Date(start).toISOString(),
      durationMs: end - start,
      spans: trace.spans.length,
      dropped: trace.dropped,
      errors: trace.spans.filter((s) => s.status.code === 'error').length,
    };
  }

  return {
    addSpans(spans) {
      for (const span of spans) {
        let trace = traces.get(span.traceId);
        if (!trace) {
          trace = { spans: [], dropped: 0 };
          traces.set(span.traceId, trace);
          dropOldest(traces, limits.traces);
        }
        if (trace.spans.length < limits.spansPerTrace) trace.spans.push(span);
        else trace.dropped += 1;
      }
    },
    addPoints(points) {
      for (const point of points) {
        const key = JSON.stringify([point.service, point.name, sortedEntries(point.attributes)]);
        series.delete(key);
        series.set(key, point);
        dropOldest(series, limits.series);
      }
    },
    addLogs(records) {
      logs = [...logs, ...records].slice(-limits.logs);
    },
    traces: () =>
      [...traces.entries()]
        .map(([id, trace]) => summary(id, trace))
        .sort((a, b) => b.start.localeCompare(a.start)),
    spans: (traceId) =>
      byStart(
        traceId === undefined
          ? [...traces.values()].flatMap((t) => t.spans)
          : (traces.get(traceId)?.spans ?? []),
      ),
    points: () =>
      [...series.values()].sort(
        (a, b) =>
          a.name.localeCompare(b.name) ||
          JSON.stringify(sortedEntries(a.attributes)).localeCompare(
            JSON.stringify(sortedEntries(b.attributes)),
          ),
      ),
    logs: () => [...logs].reverse(),
    clear() {
      traces.clear();
      series.clear();
      logs = [];
    },
  };
}

function byStart(spans: readonly ReceivedSpan[]): ReceivedSpan[] {
  return [...spans].sort((a, b) => a.start.localeCompare(b.start));
}

function dropOldest<K, V>(map: Map<K, V>, max: number): void {
  while (map.size > max) {
    const oldest = map.keys().next();
    if (oldest.done) return;
    map.delete(oldest.value);
  }
}

function sortedEntries(attributes: Record<string, unknown>): [string, unknown][] {
  return Object.entries(attributes).sort(([a], [b]) => a.localeCompare(b));
}
