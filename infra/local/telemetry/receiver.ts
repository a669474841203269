/**
 * The local host's OpenTelemetry receiver: an OTLP/HTTP endpoint (JSON encoding) at
 * `/dev/telemetry/v1/{traces,metrics,logs}`, so an app that exports OTLP (exporter endpoint
 * `http://127.0.0.1:<port>/dev/telemetry`, protocol `http/json`) shows its spans, metrics and logs on
 * `/dev/telemetry` without a collector. JSON for tests and tools:
 *
 * - `GET /dev/telemetry/traces`: recent traces (root name, duration, span count), newest first;
 * - `GET /dev/telemetry/spans?trace=<id>&name=<span name>`: spans, in start order;
 * - `GET /dev/telemetry/metrics?name=<metric>`: the latest point of each series;
 * - `GET /dev/telemetry/logs`: recent log records;
 * - `DELETE /dev/telemetry`: forgets everything.
 *
 * Answers follow OTLP/HTTP: 200 with an empty export response, 400 with a `Status` for a request
 * that is not OTLP JSON, 415 for protobuf (this receiver only reads JSON) or an unknown encoding.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import type { z } from 'zod';
import { commonHeaders, methodNotAllowed, sendHtml, sendJson } from '../dev-answers';
import {
  logsOf,
  LogsRequestSchema,
  MetricsRequestSchema,
  pointsOf,
  spansOf,
  TracesRequestSchema,
  type MetricPoint,
  type ReceivedLog,
  type ReceivedSpan,
} from './otlp';
import { renderTelemetryPage, TELEMETRY_PATH } from './pages';
import { createTelemetryStore, DEFAULT_LIMITS, type TelemetryLimits, type TelemetryStore } from './store';

export interface TelemetryReceiverOptions {
  limits?: Partial<TelemetryLimits>;
  /** Largest accepted export request, decompressed (default 8 MiB). */
  maxBodyBytes?: number;
}

export interface TelemetryReceiver {
  /** Routes `/dev/telemetry*`; returns false for every other path without touching the response. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  readonly store: TelemetryStore;
}

const DEFAULT_MAX_BODY = 8 * 1024 * 1024;
/** google.rpc.Code INVALID_ARGUMENT: what OTLP/HTTP puts in a 400's Status. */
const INVALID_ARGUMENT = 3;

type Signal = 'traces' | 'metrics' | 'logs';

export function createTelemetryReceiver(options: TelemetryReceiverOptions = {}): TelemetryReceiver {
  const store = createTelemetryStore({ ...DEFAULT_LIMITS, ...options.limits });
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;

  const ingest: Record<Signal, (json: unknown) => string | undefined> = {
    traces: (json) => take(TracesRequestSchema, json, (r) => store.addSpans(spansOf(r))),
    metrics: (json) => take(MetricsRequestSchema, json, (r) => store.addPoints(pointsOf(r))),
    logs: (json) => take(LogsRequestSchema, json, (r) => store.addLogs(logsOf(r))),
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? '/', 'http://telemetry.invalid');
    const path = url.pathname.replace(/\/+$/, '');
    if (path !== TELEMETRY_PATH && !path.startsWith(`${TELEMETRY_PATH}/`)) return false;
    const method = req.method ?? 'GET';
    const signal = /^\/dev\/telemetry\/v1\/(traces|metrics|logs)$/.exec(path)?.[1] as Signal | undefined;

    if (signal) {
      if (method !== 'POST') return methodNotAllowed(res, 'POST');
      const body = await readRequest(req, maxBody);
      if ('status' in body)
        return sendJson(res, body.status, { code: INVALID_ARGUMENT, message: body.message });
      let json: unknown;
      try {
        json = JSON.parse(body.text);
      } catch {
        return sendJson(res, 400, { code: INVALID_ARGUMENT, message: 'The body is not JSON.' });
      }
      const problem = ingest[signal](json);
      if (problem !== undefined) return sendJson(res, 400, { code: INVALID_ARGUMENT, message: problem });
      // An empty Export<Signal>ServiceResponse: everything was accepted.
      return sendJson(res, 200, {});
    }

    if (path === TELEMETRY_PATH) {
      if (method === 'DELETE') {
        store.clear();
        res.writeHead(204, commonHeaders()).end();
        return true;
      }
      if (method !== 'GET') return methodNotAllowed(res, 'GET, DELETE');
      return sendHtml(
        res,
        200,
        renderTelemetryPage(store.traces(), (id) => store.spans(id), store.points(), store.logs()),
      );
    }
    if (method !== 'GET') return methodNotAllowed(res, 'GET');
    const name = url.searchParams.get('name') ?? undefined;
    switch (path) {
      case `${TELEMETRY_PATH}/traces`:
        return sendJson(res, 200, store.traces());
      case `${TELEMETRY_PATH}/spans`: {
        const trace = url.searchParams.get('trace')?.toLowerCase() || undefined;
        return sendJson(res, 200, named<ReceivedSpan>(store.spans(trace), name));
      }
      case `${TELEMETRY_PATH}/metrics`:
        return sendJson(res, 200, named<MetricPoint>(store.points(), name));
      case `${TELEMETRY_PATH}/logs`:
        return sendJson(res, 200, store.logs() satisfies ReceivedLog[]);
      default:
        return sendJson(res, 404, { error: `Nothing is served at ${path}.` });
    }
  }

  return { handle, store };
}

/** Parses `json` with `schema` and hands it to `use`; answers the problem, or undefined when taken. */
function take<S extends z.ZodType>(
  schema: S,
  json: unknown,
  use: (request: z.output<S>) => void,
): string | undefined {
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return `Not an OTLP JSON export request: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}.`;
  }
  use(parsed.data);
  return undefined;
}

function named<T extends { name: string }>(items: readonly T[], name: string | undefined): readonly T[] {
  return name === undefined ? items : items.filter((item) => item.name === name);
}

type RequestBody = { text: string } | { status: 400 | 413 | 415; message: string };

/** The request's JSON text, gunzipped if need be, or why it cannot be read. */
async function readRequest(req: IncomingMessage, limit: number): Promise<RequestBody> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    return {
      status: 415,
      message: `This receiver reads OTLP/HTTP in JSON only (content-type application/json, not ${type || 'none'}): set OTEL_EXPORTER_OTLP_PROTOCOL=http/json.`,
    };
  }
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (encoding !== 'identity' && encoding !== 'gzip') {
    return { status: 415, message: `Unsupported content-encoding ${encoding} (gzip or none).` };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit) return { status: 413, message: `The request is larger than ${limit} bytes.` };
    chunks.push(b);
  }
  let raw = Buffer.concat(chunks);
  if (encoding === 'gzip') {
    try {
      raw = gunzipSync(raw, { maxOutputLength: limit });
    } catch {
      return {
        status: 400,
        message: `The gzip body cannot be read, or is larger than ${limit} bytes once unzipped.`,
      };
    }
  }
  return { text: raw.toString('utf8') };
}
