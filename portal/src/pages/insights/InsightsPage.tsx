/**
 * Insights (admins and auditors): how ZSA is used over a time range, drawn from the audit log
 * (`GET /api/insights`), never from telemetry. Every chart has its numbers as a table beside it (the
 * accessible alternative, and what a screen reader reads) and a link to the audit page for each
 * action it counts (the audit filters one action at a time), so every event behind a figure is one
 * click away; a ranking's rows link to that person's or task's events. A route of its own, loaded only when opened: the charts weigh nothing
 * on the first page.
 */
import {
  Button,
  Field,
  Input,
  Select,
  Table,
  TableBody,
  TableCell,
  TableHeader,
  TableHeaderCell,
  TableRow,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import {
  DataVizPalette,
  DonutChart,
  HorizontalBarChart,
  HorizontalBarChartVariant,
  VerticalStackedBarChart,
  getColorFromToken,
} from '@fluentui/react-charts';
import { useState, type ReactNode, type SyntheticEvent } from 'react';
import { Link } from 'wouter';
import type { AuditAction, Insights, RequestOutcome } from '../../api/types';
import { usePortal } from '../../app/context';
import { useQuery } from '../../components/data';
import { ErrorBar, Loading, PageHeader } from '../../components/ui';

const PERIODS = [
  { value: '7', label: 'Last 7 UTC days (today so far included)' },
  { value: '30', label: 'Last 30 UTC days (today so far included)' },
  { value: '90', label: 'Last 90 UTC days (today so far included)' },
  { value: '365', label: 'Last 365 UTC days (today so far included)' },
  { value: 'custom', label: 'Custom range (UTC days)' },
] as const;
type Period = (typeof PERIODS)[number]['value'];

/** A palette entry as the colour the charts draw with (they take colours, not palette tokens). */
const colour = (token: string) => getColorFromToken(token);

/** The outcomes in the order they stack, with their words and colours. */
const OUTCOMES: readonly { key: RequestOutcome; label: string; color: string }[] = [
  { key: 'approved', label: 'Approved', color: colour(DataVizPalette.success) },
  { key: 'denied', label: 'Denied', color: colour(DataVizPalette.error) },
  { key: 'pending', label: 'Pending', color: colour(DataVizPalette.color1) },
  { key: 'canceled', label: 'Canceled', color: colour(DataVizPalette.color5) },
  { key: 'expired', label: 'Expired', color: colour(DataVizPalette.warning) },
  { key: 'failed', label: 'Failed', color: colour(DataVizPalette.highError) },
  { key: 'refused', label: 'Refused', color: colour(DataVizPalette.color10) },
];

const DAY_MS = 86_400_000;

export interface Range {
  readonly from?: string | undefined;
  readonly to?: string | undefined;
}

/**
 * The range the API is asked for: the last N whole UTC days up to now (today, so far, is the Nth: the
 * chart per day then shows N days, not N+1 partial ones), or whole UTC days from `from` to `to`
 * inclusive (so the API's exclusive end is the day after `to`).
 */
export function rangeOf(period: Period, from: string, to: string, now = Date.now()): Range {
  if (period !== 'custom') {
    const today = Math.floor(now / DAY_MS) * DAY_MS;
    return { from: new Date(today - (Number(period) - 1) * DAY_MS).toISOString() };
  }
  const end = to
    ? new Date(Date.parse(`${to}T00:00:00.000Z`) + DAY_MS).toISOString().slice(0, 10)
    : undefined;
  return { from: from || undefined, to: end };
}

/**
 * The audit page over the range the figures cover, filtered to one action, or to one person's (UPN)
 * or one task's events.
 */
export function auditHref(
  filter: AuditAction | { actor: string } | { task: string },
  insights: Pick<Insights, 'from' | 'to'>,
): string {
  const query = new URLSearchParams({
    ...(typeof filter === 'string' ? { action: filter } : filter),
    from: insights.from,
    to: insights.to,
  });
  return `/audit?${query.toString()}`;
}

/** The actions a chart counts, each with the words of its link ("See the denials in the audit"). */
type Counted = readonly (readonly [AuditAction, string])[];

const COUNTED = {
  requests: [
    ['request.submitted', 'submits'],
    ['request.refused', 'refused submits'],
  ],
  decision: [
    ['request.submitted', 'submits'],
    ['request.approved', 'final approvals'],
    ['request.denied', 'denials'],
  ],
  firstUse: [
    ['grant.started', 'grants started'],
    ['execution.succeeded', 'successful executions'],
  ],
  submits: [['request.submitted', 'submits']],
  emergency: [
    ['emergency.used', 'emergency uses'],
    ['emergency.reviewed', 'reviews'],
  ],
  executions: [
    ['execution.succeeded', 'successful executions'],
    ['execution.failed', 'failed executions'],
    ['execution.refused', 'refused executions'],
  ],
  approvers: [
    ['request.approvalRecorded', 'approvals recorded'],
    ['request.approved', 'final approvals'],
    ['request.denied', 'denials'],
    ['extension.approvalRecorded', 'extension approvals recorded'],
    ['extension.approved', 'extensions approved'],
    ['extension.denied', 'extensions denied'],
  ],
} as const satisfies Record<string, Counted>;

/** A ranked target's words: a task by its name, a role or role group with its kind. */
function targetName(t: Insights['topTasks'][number]): string {
  return t.kind === 'task' ? t.task : `${t.task} (${t.kind === 'role' ? 'role' : 'role group'})`;
}

/** "1 request", "2 requests". */
export function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** Seconds in words a person reads at a glance: "42 s", "14 min", "2.5 h", "3.1 days". */
export function duration(seconds: number | null): string {
  if (seconds === null) return '—';
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 86_400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} days`;
}

const useStyles = makeStyles({
  filters: {
    display: 'flex',
    flexWrap: 'wrap',
    alignItems: 'end',
    gap: tokens.spacingHorizontalM,
    marginBottom: tokens.spacingVerticalL,
  },
  grid: {
    display: 'grid',
    gridTemplateColumns: 'repeat(auto-fit, minmax(min(100%, 30rem), 1fr))',
    gap: tokens.spacingHorizontalL,
  },
  card: {
    minWidth: 0,
    padding: tokens.spacingHorizontalM,
    border: `${tokens.strokeWidthThin} solid ${tokens.colorNeutralStroke2}`,
    borderRadius: tokens.borderRadiusMedium,
  },
  wide: { gridColumn: '1 / -1' },
  title: { fontSize: tokens.fontSizeBase500, margin: `0 0 ${tokens.spacingVerticalS}` },
  figures: {
    display: 'flex',
    flexWrap: 'wrap',
    gap: tokens.spacingHorizontalXXL,
    margin: `${tokens.spacingVerticalS} 0`,
  },
  figure: { display: 'flex', flexDirection: 'column' },
  number: { fontSize: tokens.fontSizeHero700, fontWeight: tokens.fontWeightSemibold },
  // position: relative contains the table's absolutely placed parts (they would widen a phone's page).
  scroll: { overflowX: 'auto', maxWidth: '100%', position: 'relative' },
  chart: { overflowX: 'auto', maxWidth: '100%' },
  summary: { cursor: 'pointer', margin: `${tokens.spacingVerticalS} 0` },
  foot: { marginTop: tokens.spacingVerticalS },
  // WCAG 2.2 target size: each of a card's event links (a list of them) is at least 24 px tall.
  footLink: { display: 'inline-block', minHeight: '24px', lineHeight: '24px' },
});

export default function InsightsPage() {
  const styles = useStyles();
  const { api } = usePortal();
  const [period, setPeriod] = useState<Period>('30');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [range, setRange] = useState<Range>(() => rangeOf('30', '', ''));

  const insights = useQuery({
    queryKey: ['insights', range],
    queryFn: ({ signal }) => api.get<Insights>('/api/insights', { ...range }, { signal }),
  });

  const submit = (event: SyntheticEvent) => {
    event.preventDefault();
    setRange(rangeOf(period, from, to));
  };

  return (
    <>
      <PageHeader
        title="Insights"
        description="How privileged access is used: requests and their outcomes, how long decisions and first uses take, emergency access, failed executions and who decides. Computed from the audit log; each chart links to its events."
      />
      <form className={styles.filters} onSubmit={submit} aria-label="Time range">
        <Field label="Period">
          <Select value={period} onChange={(_, d) => setPeriod(d.value as Period)}>
            {PERIODS.map((p) => (
              <option key={p.value} value={p.value}>
                {p.label}
              </option>
            ))}
          </Select>
        </Field>
        {period === 'custom' ? (
          <>
            <Field label="From (UTC day)">
              <Input type="date" value={from} onChange={(_, d) => setFrom(d.value)} />
            </Field>
            <Field label="To (UTC day, included)">
              <Input type="date" value={to} onChange={(_, d) => setTo(d.value)} />
            </Field>
          </>
        ) : null}
        <Button appearance="primary" type="submit">
          Show
        </Button>
      </form>
      <ErrorBar error={insights.error} onRetry={() => void insights.refetch()} />
      {insights.isPending ? <Loading /> : null}
      {insights.data ? <Figures insights={insights.data} /> : null}
    </>
  );
}

function Figures({ insights }: { insights: Insights }) {
  const styles = useStyles();
  const range = `${insights.from.slice(0, 10)} to ${insights.to.slice(0, 16).replace('T', ' ')} UTC`;
  return (
    <>
      <p>{`${count(insights.events, 'audit event')} from ${range}.`}</p>
      <div className={styles.grid}>
        <RequestsPerDay insights={insights} />
        <Card
          title="Time to decision"
          insights={insights}
          counted={COUNTED.decision}
          table={durationTable('Time to decision', insights.timeToDecision)}
        >
          <Durations
            figures={[
              ['Median', insights.timeToDecision.medianSeconds],
              ['95th percentile', insights.timeToDecision.p95Seconds],
            ]}
            note={`${count(insights.timeToDecision.count, 'request')} decided by approvers, from the submit to the final decision.`}
          />
        </Card>
        <Card
          title="Time to first use"
          insights={insights}
          counted={COUNTED.firstUse}
          table={durationTable('Time to first use', insights.timeToFirstUse)}
        >
          <Durations
            figures={[
              ['Median', insights.timeToFirstUse.medianSeconds],
              ['95th percentile', insights.timeToFirstUse.p95Seconds],
            ]}
            note={`${count(insights.timeToFirstUse.count, 'grant')} used, from the grant's start to its first successful execution.`}
          />
        </Card>
        <Ranking
          title="Top tasks"
          what="Task"
          unit="Requests"
          rows={insights.topTasks.map((t) => [
            targetName(t),
            t.requests,
            // The audit filters by task; a role's submits are among the submits the card links to.
            t.kind === 'task' ? auditHref({ task: t.task }, insights) : undefined,
          ])}
          insights={insights}
          counted={COUNTED.submits}
        />
        <Ranking
          title="Top requesters"
          what="Requester"
          unit="Requests"
          rows={insights.topRequesters.map((r) => [r.upn, r.requests, auditHref({ actor: r.upn }, insights)])}
          insights={insights}
          counted={COUNTED.submits}
        />
        <Breakdown
          title="Emergency uses and their reviews"
          total={count(insights.emergency.uses, 'emergency use')}
          parts={[
            ['Justified', insights.emergency.justified, DataVizPalette.success],
            ['Unjustified', insights.emergency.unjustified, DataVizPalette.error],
            ['Review open', insights.emergency.open, DataVizPalette.warning],
          ]}
          insights={insights}
          counted={COUNTED.emergency}
        />
        <Breakdown
          title="Executions"
          total={count(insights.executions.succeeded + insights.executions.failed, 'execution')}
          parts={[
            ['Succeeded', insights.executions.succeeded, DataVizPalette.success],
            ['Failed', insights.executions.failed, DataVizPalette.error],
            ['Refused', insights.executions.refused, DataVizPalette.color10],
          ]}
          insights={insights}
          counted={COUNTED.executions}
        >
          <LatestFailures insights={insights} />
        </Breakdown>
        <Ranking
          title="Approvers' load"
          what="Approver"
          unit="Decisions"
          rows={insights.approvers.map((a) => [
            a.upn,
            a.approvals + a.denials,
            auditHref({ actor: a.upn }, insights),
          ])}
          extra={{
            label: 'Approvals / denials',
            values: insights.approvers.map((a) => `${a.approvals} / ${a.denials}`),
          }}
          insights={insights}
          counted={COUNTED.approvers}
        />
      </div>
    </>
  );
}

/**
 * One chart: its title, the chart, its data table (folded, so the page stays short; a screen
 * reader's user opens it as anyone else) and a link to the events of each action it counts.
 */
function Card(props: {
  title: string;
  insights: Insights;
  counted: Counted;
  table: ReactNode;
  wide?: boolean;
  children: ReactNode;
}) {
  const styles = useStyles();
  const id = `insights-${props.title.toLowerCase().replace(/[^a-z]+/g, '-')}`;
  return (
    <section className={`${styles.card} ${props.wide ? styles.wide : ''}`} aria-labelledby={id}>
      <h2 id={id} className={styles.title}>
        {props.title}
      </h2>
      {props.children}
      {props.table ? (
        <details>
          <summary className={styles.summary}>{`${props.title}: data table`}</summary>
          <div className={styles.scroll}>{props.table}</div>
        </details>
      ) : null}
      <ul className={styles.foot} aria-label={`${props.title}: its events in the audit`}>
        {props.counted.map(([action, label]) => (
          <li key={action}>
            <Link className={styles.footLink} href={auditHref(action, props.insights)}>
              {`See the ${label} in the audit`}
            </Link>
          </li>
        ))}
      </ul>
    </section>
  );
}

function DataTable(props: {
  caption: string;
  head: readonly string[];
  rows: readonly (readonly ReactNode[])[];
}) {
  return (
    <Table size="small" aria-label={props.caption}>
      <TableHeader>
        <TableRow>
          {props.head.map((h) => (
            <TableHeaderCell key={h}>{h}</TableHeaderCell>
          ))}
        </TableRow>
      </TableHeader>
      <TableBody>
        {props.rows.map((row, i) => (
          <TableRow key={i}>
            {row.map((cell, j) => (
              <TableCell key={j}>{cell}</TableCell>
            ))}
          </TableRow>
        ))}
      </TableBody>
    </Table>
  );
}

function RequestsPerDay({ insights }: { insights: Insights }) {
  const styles = useStyles();
  const { total, perDay } = insights.requests;
  const shown = OUTCOMES.filter((o) => total[o.key] > 0);
  const submitted = OUTCOMES.reduce((n, o) => n + (o.key === 'refused' ? 0 : total[o.key]), 0);
  return (
    <Card
      title="Requests per day"
      insights={insights}
      counted={COUNTED.requests}
      wide
      table={
        <DataTable
          caption="Requests per day by outcome"
          head={['Day (UTC)', ...OUTCOMES.map((o) => o.label)]}
          rows={[
            ...perDay.map((d) => [d.day, ...OUTCOMES.map((o) => d[o.key])]),
            ['Total', ...OUTCOMES.map((o) => total[o.key])],
          ]}
        />
      }
    >
      <p>{`${count(submitted, 'request')} submitted, ${count(total.refused, 'submit')} refused; each day by how its requests stand now.`}</p>
      {shown.length > 0 ? (
        <div className={styles.chart}>
          <VerticalStackedBarChart
            chartTitle="Requests per day by outcome"
            height={260}
            data={perDay.map((d) => ({
              xAxisPoint: d.day.slice(5),
              chartData: shown.map((o) => ({ legend: o.label, data: d[o.key], color: o.color })),
            }))}
          />
        </div>
      ) : (
        <p>No requests in this range.</p>
      )}
    </Card>
  );
}

function Durations(props: { figures: readonly [string, number | null][]; note: string }) {
  const styles = useStyles();
  return (
    <>
      <div className={styles.figures}>
        {props.figures.map(([label, seconds]) => (
          <div key={label} className={styles.figure}>
            <span className={styles.number}>{duration(seconds)}</span>
            <span>{label}</span>
          </div>
        ))}
      </div>
      <p>{props.note}</p>
    </>
  );
}

/** One interval's figures, in seconds: each duration card has its own table. */
function durationTable(title: string, s: Insights['timeToDecision']): ReactNode {
  return (
    <DataTable
      caption={`${title}, in seconds`}
      head={['Measured', 'Median (s)', '95th percentile (s)']}
      rows={[[s.count, s.medianSeconds ?? '—', s.p95Seconds ?? '—']]}
    />
  );
}

function Ranking(props: {
  title: string;
  what: string;
  unit: string;
  /** Name, count and, where the audit can filter to it, the link to its events. */
  rows: readonly (readonly [string, number, string | undefined])[];
  extra?: { label: string; values: readonly string[] };
  insights: Insights;
  counted: Counted;
}) {
  const styles = useStyles();
  const { extra } = props;
  return (
    <Card
      title={props.title}
      insights={props.insights}
      counted={props.counted}
      table={
        props.rows.length > 0 ? (
          <DataTable
            caption={props.title}
            head={[props.what, props.unit, ...(extra ? [extra.label] : [])]}
            rows={props.rows.map(([name, n, href], i) => [
              href ? <Link href={href}>{name}</Link> : name,
              n,
              ...(extra ? [extra.values[i] ?? ''] : []),
            ])}
          />
        ) : null
      }
    >
      {props.rows.length > 0 ? (
        <div className={styles.chart}>
          <HorizontalBarChart
            variant={HorizontalBarChartVariant.AbsoluteScale}
            data={props.rows.map(([name, n]) => ({
              chartTitle: name,
              chartData: [
                { legend: name, horizontalBarChartdata: { x: n }, color: colour(DataVizPalette.color1) },
              ],
            }))}
          />
        </div>
      ) : (
        <p>None in this range.</p>
      )}
    </Card>
  );
}

function Breakdown(props: {
  title: string;
  total: string;
  parts: readonly [string, number, string][];
  insights: Insights;
  counted: Counted;
  children?: ReactNode;
}) {
  const styles = useStyles();
  const any = props.parts.some(([, n]) => n > 0);
  return (
    <Card
      title={props.title}
      insights={props.insights}
      counted={props.counted}
      table={
        <DataTable caption={props.title} head={['', 'Count']} rows={props.parts.map(([l, n]) => [l, n])} />
      }
    >
      <p>{`${props.total}: ${props.parts.map(([label, n]) => `${n} ${label.toLowerCase()}`).join(', ')}.`}</p>
      {any ? (
        <div className={styles.chart}>
          <DonutChart
            height={200}
            innerRadius={55}
            hideLabels={false}
            data={{
              chartTitle: props.title,
              chartData: props.parts.map(([legend, data, color]) => ({ legend, data, color: colour(color) })),
            }}
          />
        </div>
      ) : null}
      {props.children}
    </Card>
  );
}

function LatestFailures({ insights }: { insights: Insights }) {
  const failures = insights.executions.latestFailures;
  if (failures.length === 0) return null;
  return (
    <details>
      <summary>{`Latest ${failures.length} failed executions`}</summary>
      <DataTable
        caption="Latest failed executions"
        head={['Time (UTC)', 'Task', 'Request', 'Reason']}
        rows={failures.map((f) => [
          f.at.slice(0, 16).replace('T', ' '),
          f.task ?? '—',
          f.requestId ?? '—',
          f.reason ?? '—',
        ])}
      />
    </details>
  );
}
