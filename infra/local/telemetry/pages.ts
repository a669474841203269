/**
 * The telemetry page: recent traces as span trees (durations, attributes), the latest value of every
 * metric series and the most recent log records. Everything shown arrived over HTTP from whoever can
 * reach the host, so every value is escaped, and the page runs no script (the mailbox's policy).
 */
import { escapeHtml } from '../mailbox/pages';
import type { Attributes, MetricPoint, ReceivedLog, ReceivedSpan } from './otlp';
import type { TraceSummary } from './store';

export const TELEMETRY_PATH = '/dev/telemetry';

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1b1b1b}
h1{font-size:1.3rem;margin:0 0 .3rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
.note{color:#555;margin:0 0 1rem}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #ddd;vertical-align:top}
th{background:#f4f4f4}
td.n{text-align:right;font-variant-numeric:tabular-nums}
ul.tree,ul.tree ul{list-style:none;margin:0;padding-left:1.2rem;border-left:1px dotted #bbb}
ul.tree{padding-left:0;border:0}
.span{display:flex;gap:.6rem;align-items:baseline}
.ms{color:#555;font-variant-numeric:tabular-nums}
.error{color:#a4262c;font-weight:600}
.attrs{font:12px ui-monospace,monospace;color:#333;margin:.1rem 0 .3rem}
details summary{cursor:pointer}
`;

/** The page: traces newest first (the first few open), metrics, logs. */
export function renderTelemetryPage(
  traces: readonly TraceSummary[],
  spansOf: (traceId: string) => readonly ReceivedSpan[],
  points: readonly MetricPoint[],
  logs: readonly ReceivedLog[],
): string {
  const traceList =
    traces.length === 0
      ? '<p>No traces yet. Use the app, then reload this page.</p>'
      : traces.map((trace, i) => renderTrace(trace, spansOf(trace.traceId), i < 3)).join('\n');
  const body = `<h1>Local telemetry</h1>
<p class="note">Development only: the OpenTelemetry the app exports to this host (OTLP/HTTP JSON at
<code>${TELEMETRY_PATH}/v1/traces</code>, <code>/v1/metrics</code>, <code>/v1/logs</code>), newest first, kept in memory.
${traces.length} trace(s), ${points.length} metric series, ${logs.length} log record(s).
JSON: <a href="${TELEMETRY_PATH}/traces">traces</a>, <a href="${TELEMETRY_PATH}/spans">spans</a> (<code>?trace=</code>, <code>?name=</code>),
<a href="${TELEMETRY_PATH}/metrics">metrics</a> (<code>?name=</code>), <a href="${TELEMETRY_PATH}/logs">logs</a>; <code>DELETE ${TELEMETRY_PATH}</code> clears.
<a href="${TELEMETRY_PATH}">Reload</a></p>
<h2>Traces</h2>
${traceList}
<h2>Metrics (latest point of each series)</h2>
${renderMetrics(points)}
<h2>Logs</h2>
${renderLogs(logs)}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">
<title>Telemetry · Local host</title><style>${STYLE}</style></head>
<body>
${body}
</body></html>
`;
}

function renderTrace(trace: TraceSummary, spans: readonly ReceivedSpan[], open: boolean): string {
  const children = new Map<string, ReceivedSpan[]>();
  const ids = new Set(spans.map((s) => s.spanId));
  const roots: ReceivedSpan[] = [];
  for (const span of spans) {
    if (span.parentSpanId === '' || !ids.has(span.parentSpanId)) roots.push(span);
    else children.set(span.parentSpanId, [...(children.get(span.parentSpanId) ?? []), span]);
  }
  const tree = (list: readonly ReceivedSpan[], seen: Set<string>): string =>
    `<ul class="tree">${list
      .map((span) => {
        // A span id repeated by a confused exporter must not loop forever.
        if (seen.has(span.spanId)) return '';
        seen.add(span.spanId);
        const kids = children.get(span.spanId) ?? [];
        return `<li>${renderSpan(span)}${kids.length > 0 ? tree(kids, seen) : ''}</li>`;
      })
      .join('')}</ul>`;
  const errors = trace.errors > 0 ? ` <span class="error">${trace.errors} error(s)</span>` : '';
  const dropped = trace.dropped > 0 ? `, ${trace.dropped} not kept` : '';
  return `<details${open ? ' open' : ''}><summary><strong>${escapeHtml(trace.name)}</strong>
<span class="ms">${ms(trace.durationMs)}</span> · ${trace.spans} span(s)${dropped} · ${escapeHtml(trace.service)} ·
<time datetime="${escapeHtml(trace.start)}">${escapeHtml(trace.start)}</time> ·
<a href="${TELEMETRY_PATH}/spans?trace=${escapeHtml(trace.traceId)}"><code>${escapeHtml(trace.traceId)}</code></a>${errors}</summary>
${tree(roots, new Set())}
</details>`;
}

function renderSpan(span: ReceivedSpan): string {
  const status =
    span.status.code === 'error'
      ? ` <span class="error">error${span.status.message ? `: ${escapeHtml(span.status.message)}` : ''}</span>`
      : '';
  return `<div class="span"><strong>${escapeHtml(span.name)}</strong><span class="ms">${ms(span.durationMs)}</span>
<span>${escapeHtml(span.kind)}</span>${status}</div>${renderAttributes(span.attributes)}`;
}

function renderAttributes(attributes: Attributes): string {
  const entries = Object.entries(attributes);
  if (entries.length === 0) return '';
  return `<div class="attrs">${entries
    .map(([k, v]) => `${escapeHtml(k)}=${escapeHtml(JSON.stringify(v))}`)
    .join(' · ')}</div>`;
}

function renderMetrics(points: readonly MetricPoint[]): string {
  if (points.length === 0) return '<p>No metrics yet (the app exports them periodically).</p>';
  const rows = points.map((p) => {
    const value =
      p.kind === 'histogram'
        ? `count ${num(p.count)}, sum ${num(p.sum)}, mean ${p.count ? num((p.sum ?? 0) / p.count) : '–'}, min ${num(p.min)}, max ${num(p.max)}`
        : num(p.value);
    return `<tr><td><strong>${escapeHtml(p.name)}</strong></td><td>${escapeHtml(p.kind)}</td><td class="n">${escapeHtml(value)}</td>
<td>${escapeHtml(p.unit)}</td><td>${renderAttributes(p.attributes)}</td><td><time datetime="${escapeHtml(p.at)}">${escapeHtml(p.at)}</time></td></tr>`;
  });
  return `<table><thead><tr><th>Metric</th><th>Kind</th><th>Value</th><th>Unit</th><th>Attributes</th><th>At</th></tr></thead><tbody>
${rows.join('\n')}
</tbody></table>`;
}

function renderLogs(logs: readonly ReceivedLog[]): string {
  if (logs.length === 0) return '<p>No log records.</p>';
  const rows = logs.map(
    (
      l,
    ) => `<tr><td><time datetime="${escapeHtml(l.at)}">${escapeHtml(l.at)}</time></td><td>${escapeHtml(l.severity)}</td>
<td>${escapeHtml(typeof l.body === 'string' ? l.body : JSON.stringify(l.body))}${renderAttributes(l.attributes)}</td></tr>`,
  );
  return `<table><thead><tr><th>At</th><th>Severity</th><th>Message</th></tr></thead><tbody>
${rows.join('\n')}
</tbody></table>`;
}

function ms(value: number): string {
  return `${value < 10 ? value.toFixed(2) : value.toFixed(0)} ms`;
}

function num(value: number | undefined): string {
  if (value === undefined) return '–';
  return Number.isInteger(value) ? String(value) : value.toFixed(3);
}
