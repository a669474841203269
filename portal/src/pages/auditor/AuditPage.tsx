/**
 * Audit (admins and auditors): the audit log filtered and paged, the hash chain verified over the
 * range, and the range exported as CSV or JSON Lines. Filters apply when the person asks ("Show
 * events"), so typing a name does not query the log at every key.
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
import { useState, type SyntheticEvent } from 'react';
import { useSearch } from 'wouter';
import type { AuditAction, AuditRecord, AuditVerification, Page } from '../../api/types';
import { usePortal } from '../../app/context';
import { usePaged } from '../../components/data';
import { ErrorBar, LoadMore, Loading, Notice, PageHeader, Time } from '../../components/ui';
import { AUDIT_ACTIONS } from './actions';

const PAGE_SIZES = ['25', '50', '100', '200'] as const;

interface Filters {
  readonly from: string;
  readonly to: string;
  readonly actor: string;
  readonly requestId: string;
  readonly task: string;
  readonly action: AuditAction | '';
  readonly pageSize: string;
}

const NO_FILTERS: Filters = {
  from: '',
  to: '',
  actor: '',
  requestId: '',
  task: '',
  action: '',
  pageSize: '50',
};

const useStyles = makeStyles({
  filters: {
    display: 'grid',
    gridTemplateColumns: 'repeat(auto-fill, minmax(14rem, 1fr))',
    gap: tokens.spacingHorizontalM,
    marginBottom: tokens.spacingVerticalM,
  },
  actions: {
    display: 'flex',
    flexWrap: 'wrap',
    gap: tokens.spacingHorizontalS,
    marginBottom: tokens.spacingVerticalM,
  },
  // position: relative makes this the containing block of the table's absolutely placed parts, which
  // otherwise escape the clip and widen the whole page on a phone.
  scroll: { overflowX: 'auto', maxWidth: '100%', position: 'relative' },
  table: { minWidth: '56rem' },
  details: { overflowWrap: 'anywhere' },
  section: {
    fontSize: tokens.fontSizeBase500,
    margin: `${tokens.spacingVerticalL} 0 ${tokens.spacingVerticalS}`,
  },
});

/** A `datetime-local` value (the person's own time) as the instant the API takes; '' stays unset. */
export function toInstant(local: string): string | undefined {
  if (!local) return undefined;
  const at = new Date(local);
  return Number.isNaN(at.getTime()) ? undefined : at.toISOString();
}

/** `zsa-audit-<from>-<to>.<ext>`: UTC instants to the minute, without colons (safe in any file name). */
export function exportFileName(
  from: string | undefined,
  to: string | undefined,
  format: 'csv' | 'jsonl',
): string {
  const stamp = (iso: string | undefined, fallback: string) =>
    iso ? `${iso.slice(0, 16).replace(/:/g, '')}Z` : fallback;
  return `zsa-audit-${stamp(from, 'start')}-${stamp(to, 'now')}.${format}`;
}

/**
 * An instant as a `datetime-local` value in the person's own time, to the minute; '' when none. A
 * range's start is rounded down and its end up, so the filter never leaves out an event of the range
 * it was given (an end at 10:41:30 would otherwise drop the events of 10:41).
 */
function toLocalInput(iso: string | null, round: 'down' | 'up'): string {
  const at = iso ? new Date(iso) : undefined;
  if (!at || Number.isNaN(at.getTime())) return '';
  const minute = 60_000;
  const ms =
    round === 'down' ? Math.floor(at.getTime() / minute) * minute : Math.ceil(at.getTime() / minute) * minute;
  return new Date(ms - at.getTimezoneOffset() * minute).toISOString().slice(0, 16);
}

/**
 * The filters a link sets (`/audit?action=emergency.used&from=…&to=…`: the Insights page links each
 * chart to its events this way); anything else in the query is ignored.
 */
export function filtersFromSearch(search: string): Filters {
  const q = new URLSearchParams(search);
  const action = q.get('action') ?? '';
  return {
    ...NO_FILTERS,
    from: toLocalInput(q.get('from'), 'down'),
    to: toLocalInput(q.get('to'), 'up'),
    actor: q.get('actor') ?? '',
    requestId: q.get('requestId') ?? '',
    task: q.get('task') ?? '',
    action: AUDIT_ACTIONS.find((a) => a === action) ?? '',
  };
}

function rangeOf(f: Filters) {
  return { from: toInstant(f.from), to: toInstant(f.to) };
}

export default function AuditPage() {
  const styles = useStyles();
  const { api } = usePortal();
  const search = useSearch();
  const [draft, setDraft] = useState<Filters>(() => filtersFromSearch(search));
  const [applied, setApplied] = useState<Filters>(() => filtersFromSearch(search));
  const set = (key: keyof Filters) => (value: string) => setDraft((d) => ({ ...d, [key]: value }));

  const events = usePaged<AuditRecord>(['audit', applied], (token, signal) =>
    api.get<Page<AuditRecord>>(
      '/api/audit',
      {
        ...rangeOf(applied),
        actor: applied.actor.trim(),
        requestId: applied.requestId.trim(),
        task: applied.task.trim(),
        action: applied.action,
        pageSize: applied.pageSize,
        continuationToken: token,
      },
      { signal },
    ),
  );

  const [verifying, setVerifying] = useState(false);
  const [verification, setVerification] = useState<AuditVerification>();
  const [verifyError, setVerifyError] = useState<unknown>();
  const verify = async () => {
    setVerifying(true);
    setVerification(undefined);
    setVerifyError(undefined);
    try {
      setVerification(await api.get<AuditVerification>('/api/audit/verify', rangeOf(applied)));
    } catch (error) {
      setVerifyError(error);
    } finally {
      setVerifying(false);
    }
  };

  const [downloading, setDownloading] = useState<'csv' | 'jsonl'>();
  const [downloaded, setDownloaded] = useState<string>();
  const [downloadError, setDownloadError] = useState<unknown>();
  const download = async (format: 'csv' | 'jsonl') => {
    setDownloading(format);
    setDownloaded(undefined);
    setDownloadError(undefined);
    try {
      const range = rangeOf(applied);
      // The export takes the range and the action; the other filters are the table's alone.
      const blob = await api.download('/api/audit/export', { ...range, action: applied.action, format });
      const name = exportFileName(range.from, range.to, format);
      saveBlob(blob, name);
      setDownloaded(name);
    } catch (error) {
      setDownloadError(error);
    } finally {
      setDownloading(undefined);
    }
  };

  const submit = (event: SyntheticEvent) => {
    event.preventDefault();
    setApplied(draft);
    setVerification(undefined);
  };

  return (
    <>
      <PageHeader
        title="Audit"
        description="Every change and decision, sealed in a hash chain. Filter the events, check that the chain is intact, and export what you need."
      />
      <form onSubmit={submit} aria-label="Audit filters">
        <div className={styles.filters}>
          <Field label="From">
            <Input type="datetime-local" value={draft.from} onChange={(_, d) => set('from')(d.value)} />
          </Field>
          <Field label="To">
            <Input type="datetime-local" value={draft.to} onChange={(_, d) => set('to')(d.value)} />
          </Field>
          <Field label="Actor" hint="Who acted (user principal name).">
            <Input value={draft.actor} onChange={(_, d) => set('actor')(d.value)} />
          </Field>
          <Field label="Request">
            <Input value={draft.requestId} onChange={(_, d) => set('requestId')(d.value)} />
          </Field>
          <Field label="Task">
            <Input value={draft.task} onChange={(_, d) => set('task')(d.value)} />
          </Field>
          <Field label="Action">
            <Select value={draft.action} onChange={(_, d) => set('action')(d.value)}>
              <option value="">Any action</option>
              {AUDIT_ACTIONS.map((a) => (
                <option key={a} value={a}>
                  {a}
                </option>
              ))}
            </Select>
          </Field>
          <Field label="Page size">
            <Select value={draft.pageSize} onChange={(_, d) => set('pageSize')(d.value)}>
              {PAGE_SIZES.map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </Select>
          </Field>
        </div>
        <div className={styles.actions}>
          <Button appearance="primary" type="submit">
            Show events
          </Button>
          <Button onClick={() => void verify()} disabled={verifying}>
            {verifying ? 'Verifying…' : 'Verify'}
          </Button>
          <Button onClick={() => void download('csv')} disabled={downloading !== undefined}>
            Download CSV
          </Button>
          <Button onClick={() => void download('jsonl')} disabled={downloading !== undefined}>
            Download JSONL
          </Button>
        </div>
      </form>
      <VerificationResult result={verification} />
      <ErrorBar error={verifyError} onRetry={() => void verify()} />
      {downloaded ? <Notice intent="success">{`Downloaded ${downloaded}.`}</Notice> : null}
      <ErrorBar error={downloadError} />

      <h2 className={styles.section}>Events</h2>
      <ErrorBar error={events.error} onRetry={events.reload} />
      {events.loading ? <Loading /> : null}
      {!events.loading && events.items.length === 0 && !events.error ? (
        <p>{events.hasMore ? 'No events on this page yet.' : 'No events match these filters.'}</p>
      ) : null}
      {events.items.length > 0 ? (
        <div className={styles.scroll} role="region" aria-label="Audit events" tabIndex={0}>
          <Table className={styles.table} size="small">
            <TableHeader>
              <TableRow>
                <TableHeaderCell>Time</TableHeaderCell>
                <TableHeaderCell>Action</TableHeaderCell>
                <TableHeaderCell>Actor</TableHeaderCell>
                <TableHeaderCell>Request</TableHeaderCell>
                <TableHeaderCell>Task</TableHeaderCell>
                <TableHeaderCell>Details</TableHeaderCell>
              </TableRow>
            </TableHeader>
            <TableBody>
              {events.items.map((e) => (
                <TableRow key={`${e.chain}-${e.sequence}`}>
                  <TableCell>
                    <Time at={e.at} />
                  </TableCell>
                  <TableCell>{e.action}</TableCell>
                  <TableCell>{e.actorUpn}</TableCell>
                  <TableCell>{e.requestId ?? '—'}</TableCell>
                  <TableCell>{e.task ?? '—'}</TableCell>
                  <TableCell className={styles.details}>{detailsOf(e)}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </div>
      ) : null}
      <LoadMore hasMore={events.hasMore} loading={events.loadingMore} onLoadMore={events.loadMore} />
    </>
  );
}

function detailsOf(e: AuditRecord): string {
  return (
    [e.outcome === 'success' ? undefined : e.outcome, e.reason, e.detail].filter(Boolean).join(' · ') || '—'
  );
}

function VerificationResult(props: { result: AuditVerification | undefined }) {
  const r = props.result;
  if (!r) return null;
  const counts = `${r.checked} events checked in ${r.chains} chain${r.chains === 1 ? '' : 's'}, ${r.anchors} anchor${r.anchors === 1 ? '' : 's'}.`;
  if (r.ok) {
    return (
      <Notice intent="success" title="The audit log is intact">
        {`Nothing was changed, removed or reordered in this range: ${counts}`}
      </Notice>
    );
  }
  const at = r.firstBroken;
  const where =
    at && at.chain !== null
      ? `chain ${at.chain}${at.sequence === null ? '' : `, event ${at.sequence}`}`
      : 'the range';
  return (
    <Notice intent="warning" title="The audit log is broken">
      {at ? `First break at ${where}: ${at.reason} — ${at.detail}. ${counts}` : counts}
    </Notice>
  );
}

/** Hands a downloaded Blob to the browser as a file with this name. */
function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.rel = 'noopener';
  document.body.append(link);
  link.click();
  link.remove();
  // Revoke after the click has been handled, so the download has the URL when it starts.
  setTimeout(() => URL.revokeObjectURL(url), 0);
}
