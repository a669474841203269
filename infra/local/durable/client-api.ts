/**
 * The Durable HTTP API (the part the `durable-functions` client calls), served by the local host at
 * both `/durabletask/` (the RPC base handed to clients) and `/runtime/webhooks/durabletask/`.
 * Semantics follow the extension's HttpApiHandler; see durable-local-host.md §6.
 *
 * These URLs are management capabilities. The local host listens on loopback only and the app never
 * hands them to users (it does not call createCheckStatusResponse).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DurableApiError, type DurableEngine } from './engine';
import {
  EventType,
  EventTypeName,
  RuntimeStatus,
  parseJsonText,
  toJsonText,
  type HistoryEvent,
} from './history';
import { ROW_STATE, type InstanceState } from './store';

const BASES = ['/durabletask/', '/runtime/webhooks/durabletask/'];
const DEFAULT_PAGE = 100;

export interface ClientBindingData {
  taskHubName: string;
  creationUrls: Record<string, string>;
  managementUrls: Record<string, string>;
  baseUrl: string;
  requiredQueryStringParameters: string;
  rpcBaseUrl: string;
}

/** The value of a `durableClient` input binding, as the extension would produce it. */
export function clientBindingData(origin: string, hub: string): ClientBindingData {
  const base = `${origin}/runtime/webhooks/durabletask`;
  const q = `taskHub=${encodeURIComponent(hub)}&connection=Storage`;
  return {
    taskHubName: hub,
    creationUrls: {
      createNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?`,
      createAndWaitOnNewInstancePostUri: `${base}/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}&`,
    },
    managementUrls: managementUrls(base, 'INSTANCEID', q),
    baseUrl: base,
    requiredQueryStringParameters: '',
    rpcBaseUrl: `${origin}/durabletask/`,
  };
}

function managementUrls(base: string, id: string, q: string): Record<string, string> {
  const i = `${base}/instances/${id}`;
  return {
    id,
    statusQueryGetUri: `${i}?${q}`,
    sendEventPostUri: `${i}/raiseEvent/{eventName}?${q}`,
    terminatePostUri: `${i}/terminate?reason={text}&${q}`,
    rewindPostUri: `${i}/rewind?reason={text}&${q}`,
    purgeHistoryDeleteUri: `${i}?${q}`,
    restartPostUri: `${i}/restart?${q}`,
    suspendPostUri: `${i}/suspend?reason={text}&${q}`,
    resumePostUri: `${i}/resume?reason={text}&${q}`,
  };
}

function isoSeconds(iso: string | null | undefined): string | null {
  if (!iso) return null;
  return new Date(iso).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export interface StatusOptions {
  showHistory?: boolean;
  showHistoryOutput?: boolean;
  showInput?: boolean;
}

/** DurableOrchestrationStatus JSON. */
export function statusJson(state: InstanceState, opts: StatusOptions = {}): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: state.name,
    instanceId: state.instanceId,
    runtimeStatus: state.status,
    input: opts.showInput === false ? null : parseJsonText(state.input),
    customStatus: parseJsonText(state.customStatus),
    output: parseJsonText(state.output),
    createdTime: isoSeconds(state.createdTime),
    lastUpdatedTime: isoSeconds(state.lastUpdatedTime),
  };
  if (opts.showHistory) {
    const events = historyEvents(state.history, opts);
    body.historyEvents = events;
    body.history = events;
  }
  return body;
}

/** History as the extension reports it: names for types, scheduling merged into completions. */
function historyEvents(history: HistoryEvent[], opts: StatusOptions): Record<string, unknown>[] {
  const scheduled = new Map<number, HistoryEvent>();
  for (const e of history) if (e.EventType === EventType.TaskScheduled) scheduled.set(e.EventId, e);
  const out: Record<string, unknown>[] = [];
  for (const e of history) {
    switch (e.EventType) {
      case EventType.OrchestratorStarted:
      case EventType.OrchestratorCompleted:
      case EventType.TaskScheduled:
        continue;
      default:
        break;
    }
    const row: Record<string, unknown> = { EventType: EventTypeName[e.EventType], Timestamp: e.Timestamp };
    if (e.EventType === EventType.ExecutionStarted) {
      row.FunctionName = e.Name;
      if (opts.showInput !== false) row.Input = parseJsonText(e.Input);
    } else if (e.EventType === EventType.TaskCompleted || e.EventType === EventType.TaskFailed) {
      const s = scheduled.get(e.TaskScheduledId ?? -1);
      row.FunctionName = s?.Name;
      row.ScheduledTime = s?.Timestamp;
      if (e.EventType === EventType.TaskCompleted && opts.showHistoryOutput)
        row.Result = parseJsonText(e.Result);
      if (e.EventType === EventType.TaskFailed) {
        row.Reason = e.Reason;
        row.Details = e.Details;
      }
    } else if (e.EventType === EventType.EventRaised) {
      row.Name = e.Name;
      if (opts.showInput !== false) row.Input = parseJsonText(e.Input);
    } else if (e.EventType === EventType.TimerCreated || e.EventType === EventType.TimerFired) {
      row.FireAt = e.FireAt;
    } else if (e.EventType === EventType.ExecutionCompleted) {
      row.OrchestrationStatus = Object.values(RuntimeStatus)[e.OrchestrationStatus ?? 0];
      if (opts.showHistoryOutput) row.Result = parseJsonText(e.Result);
    } else if (e.EventType === EventType.ExecutionTerminated) {
      row.Input = parseJsonText(e.Input);
    }
    out.push(row);
  }
  return out;
}

function send(
  res: ServerResponse,
  status: number,
  body?: unknown,
  headers: Record<string, string> = {},
): void {
  const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    ...(body === undefined
      ? {}
      : { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json' }),
    ...headers,
  });
  res.end(text);
}

function flag(url: URL, name: string): boolean {
  return url.searchParams.get(name)?.toLowerCase() === 'true';
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new DurableApiError(400, 'The path is not valid percent-encoding.');
  }
}

function isoParam(url: URL, name: string): string | undefined {
  const value = url.searchParams.get(name);
  if (!value) return undefined;
  const at = Date.parse(value);
  if (Number.isNaN(at)) throw new DurableApiError(400, `${name} is not a date.`);
  return new Date(at).toISOString();
}

function buildFilter(url: URL): string {
  const parts = [`RowKey eq '${ROW_STATE}'`];
  const esc = (v: string): string => v.replace(/'/g, "''");
  const prefix = url.searchParams.get('instanceIdPrefix');
  if (prefix) parts.push(`PartitionKey ge '${esc(prefix)}' and PartitionKey lt '${esc(prefix)}\uffff'`);
  const from = isoParam(url, 'createdTimeFrom');
  if (from) parts.push(`CreatedTime ge '${esc(from)}'`);
  const to = isoParam(url, 'createdTimeTo');
  if (to) parts.push(`CreatedTime le '${esc(to)}'`);
  const statuses = (url.searchParams.get('runtimeStatus') ?? '').split(',').filter((s) => s.length > 0);
  if (statuses.length > 0)
    parts.push(`(${statuses.map((s) => `RuntimeStatus eq '${esc(s)}'`).join(' or ')})`);
  return parts.join(' and ');
}

/** Handles a Durable HTTP API request, or returns false when the path is not one of its bases. */
export function createDurableApi(engine: DurableEngine, origin: () => string) {
  return async function handle(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<boolean> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const base = BASES.find((b) => url.pathname.startsWith(b));
    if (!base) return false;
    const method = req.method ?? 'GET';
    try {
      const segments = url.pathname
        .slice(base.length)
        .split('/')
        .map((s) => decode(s));
      await route(method, segments, url, body, req, res);
    } catch (e) {
      if (e instanceof DurableApiError) send(res, e.status, e.message);
      else if (e instanceof SyntaxError) send(res, 400, 'The request body is not valid JSON.');
      else send(res, 500, 'The durable engine failed to process the request.');
    }
    return true;
  };

  async function route(
    method: string,
    seg: string[],
    url: URL,
    body: Buffer,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const [head, a, b, c] = seg;
    if (head === 'orchestrators' && a && method === 'POST') {
      const input = body.length > 0 ? (JSON.parse(body.toString('utf8')) as unknown) : null;
      const id = await engine.startNew(a, b && b.length > 0 ? b : undefined, toJsonText(input));
      const timeout = Number(url.searchParams.get('timeout'));
      if (timeout > 0) {
        const interval = Math.max(0.05, Number(url.searchParams.get('pollingInterval')) || 1) * 1000;
        const deadline = Date.now() + timeout * 1000;
        for (;;) {
          const s = await engine.getState(id);
          if (s?.status === RuntimeStatus.Completed) return send(res, 200, parseJsonText(s.output));
          if (s && (s.status === RuntimeStatus.Failed || s.status === RuntimeStatus.Terminated)) {
            return send(res, 200, statusJson(s));
          }
          if (Date.now() >= deadline) break;
          await new Promise((r) => setTimeout(r, interval));
        }
      }
      const urls = managementUrls(
        `${origin()}/runtime/webhooks/durabletask`,
        encodeURIComponent(id),
        'taskHub=&connection=Storage',
      );
      return send(res, 202, { ...urls, id }, { location: urls.statusQueryGetUri ?? '', 'retry-after': '10' });
    }
    if (head === 'entities') {
      // Not 404: the client reads a 404 as "no such entity" and the caller would go on as if it were so.
      throw new DurableApiError(501, 'Durable entities are not supported by the local host.');
    }
    if (head !== 'instances') throw new DurableApiError(404, 'Not found.');
    if (!a) {
      if (method === 'GET') {
        const top = Number(url.searchParams.get('top')) || DEFAULT_PAGE;
        const token = req.headers['x-ms-continuation-token'];
        const page = await engine.listStates(
          buildFilter(url),
          top,
          typeof token === 'string' && token ? token : undefined,
        );
        const showInput = url.searchParams.get('showInput') !== 'false';
        return send(
          res,
          200,
          page.states.map((s) => statusJson(s, { showInput })),
          page.continuationToken ? { 'x-ms-continuation-token': page.continuationToken } : {},
        );
      }
      if (method === 'DELETE') {
        if (!url.searchParams.get('createdTimeFrom'))
          throw new DurableApiError(400, 'createdTimeFrom is required.');
        const deleted = await engine.purgeWhere(buildFilter(url));
        return deleted === 0
          ? send(res, 404, { instancesDeleted: 0 })
          : send(res, 200, { instancesDeleted: deleted });
      }
      throw new DurableApiError(404, 'Not found.');
    }
    if (!b) {
      if (method === 'GET') {
        const state = await engine.getState(a);
        if (!state) throw new DurableApiError(404, `No instance with ID '${a}' found.`);
        const json = statusJson(state, {
          showHistory: flag(url, 'showHistory'),
          showHistoryOutput: flag(url, 'showHistoryOutput'),
          showInput: url.searchParams.get('showInput') !== 'false',
        });
        const running =
          state.status === RuntimeStatus.Running ||
          state.status === RuntimeStatus.Pending ||
          state.status === RuntimeStatus.ContinuedAsNew ||
          state.status === RuntimeStatus.Suspended;
        return running
          ? send(res, 202, json, { location: `${origin()}${req.url ?? ''}`, 'retry-after': '5' })
          : send(res, 200, json);
      }
      if (method === 'DELETE') {
        const n = await engine.purge(a);
        return n === 0 ? send(res, 404, { instancesDeleted: 0 }) : send(res, 200, { instancesDeleted: n });
      }
      throw new DurableApiError(404, 'Not found.');
    }
    if (method !== 'POST') throw new DurableApiError(404, 'Not found.');
    const reason = url.searchParams.get('reason') ?? '';
    switch (b) {
      case 'raiseEvent': {
        if (!c) throw new DurableApiError(400, 'An event name is required.');
        const type = req.headers['content-type'] ?? '';
        if (body.length > 0 && !type.toLowerCase().includes('application/json')) {
          throw new DurableApiError(400, 'The event payload must be application/json.');
        }
        const text = body.length > 0 ? JSON.stringify(JSON.parse(body.toString('utf8'))) : null;
        await engine.raiseEvent(a, c, text);
        return send(res, 202);
      }
      case 'terminate':
        await engine.terminate(a, reason);
        return send(res, 202);
      case 'suspend':
        await engine.suspend(a, reason);
        return send(res, 202);
      case 'resume':
        await engine.resume(a, reason);
        return send(res, 202);
      case 'rewind':
      case 'restart':
        throw new DurableApiError(501, `'${b}' is not supported by the local host.`);
      default:
        throw new DurableApiError(404, 'Not found.');
    }
  }
}
