/**
 * My requests: the caller's own requests (newest first, paged, refreshing while visible) and
 * `/requests/<id>`: one request with a timeline of every step, and "Cancel request" while pending.
 */
import {
  Button,
  Dialog,
  DialogActions,
  DialogBody,
  DialogContent,
  DialogSurface,
  DialogTitle,
  Field,
  Select,
  makeStyles,
  tokens,
} from '@fluentui/react-components';
import { useState } from 'react';
import { Link, useRoute } from 'wouter';
import type { Page, RequestStatus, RequestView } from '../../api/types';
import { usePortal } from '../../app/context';
import { useChange, usePaged, useQuery } from '../../components/data';
import { ErrorBar, LoadMore, Loading, Notice, PageHeader, StatusBadge, Time } from '../../components/ui';
import { targetOf, timeline } from './timeline';

const LIST_REFRESH_MS = 2_000;
const PENDING_REFRESH_MS = 1_000;
const STATUSES: readonly RequestStatus[] = [
  'pending',
  'approved',
  'denied',
  'canceled',
  'expired',
  'ended',
  'revoked',
  'failed',
];

const useStyles = makeStyles({
  scroll: { overflowX: 'auto' },
  list: {
    listStyle: 'none',
    padding: 0,
    display: 'flex',
    flexDirection: 'column',
    gap: tokens.spacingVerticalS,
  },
  item: {
    display: 'flex',
    flexWrap: 'wrap',
    gap: tokens.spacingHorizontalM,
    alignItems: 'center',
    borderBottom: `1px solid ${tokens.colorNeutralStroke2}`,
    paddingBottom: tokens.spacingVerticalS,
  },
  steps: { paddingLeft: tokens.spacingHorizontalL },
  filter: { maxWidth: '16rem', marginBottom: tokens.spacingVerticalM },
});

export default function MyRequestsPage() {
  const [detail, params] = useRoute('/requests/:id');
  if (detail) return <RequestDetail id={params.id} />;
  return <MyRequestList />;
}

function MyRequestList() {
  const styles = useStyles();
  const { api } = usePortal();
  const [status, setStatus] = useState<RequestStatus | ''>('');
  const list = usePaged(
    ['requests', 'mine', status],
    (token, signal) =>
      api.get<Page<RequestView>>(
        '/api/requests',
        { mine: 'true', status: status === '' ? undefined : status, continuationToken: token },
        { signal },
      ),
    { refreshMs: LIST_REFRESH_MS },
  );
  return (
    <>
      <PageHeader
        title="My requests"
        description="Your requests, newest first. The list refreshes by itself."
      />
      <Field label="Status" className={styles.filter}>
        <Select value={status} onChange={(_, d) => setStatus(d.value as RequestStatus | '')}>
          <option value="">Any</option>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </Select>
      </Field>
      <ErrorBar error={list.error} onRetry={list.reload} />
      {list.loading ? <Loading /> : null}
      {!list.loading && list.items.length === 0 && !list.hasMore ? (
        <p>
          No requests yet. <Link href="/request">Request access</Link>
        </p>
      ) : null}
      <ul className={styles.list} aria-label="My requests">
        {list.items.map((r) => (
          <li key={r.id} className={styles.item}>
            <Link href={`/requests/${encodeURIComponent(r.id)}`}>{targetOf(r)}</Link>
            <StatusBadge status={r.status} />
            <span>
              asked <Time at={r.createdAt} />
            </span>
            <span>{r.reason}</span>
          </li>
        ))}
      </ul>
      <LoadMore hasMore={list.hasMore} loading={list.loadingMore} onLoadMore={list.loadMore} />
    </>
  );
}

function RequestDetail(props: { id: string }) {
  const styles = useStyles();
  const { api } = usePortal();
  const [confirming, setConfirming] = useState(false);
  const request = useQuery({
    queryKey: ['requests', 'one', props.id],
    queryFn: ({ signal }) =>
      api.get<RequestView>(`/api/requests/${encodeURIComponent(props.id)}`, undefined, { signal }),
    // Follow a pending request closely, so the decision shows within a second or two.
    refetchInterval: (q) => (q.state.data?.status === 'pending' ? PENDING_REFRESH_MS : LIST_REFRESH_MS * 5),
  });
  const cancel = useChange(
    () =>
      api.send<RequestView>(
        'POST',
        `/api/requests/${encodeURIComponent(props.id)}/cancel`,
        {},
        'Cancel request',
      ),
    [['requests'], ['access']],
  );
  const r = cancel.data ?? request.data;
  return (
    <>
      <PageHeader
        title={r ? targetOf(r) : 'Request'}
        description={<Link href="/requests">All my requests</Link>}
      />
      <ErrorBar error={request.error} onRetry={() => void request.refetch()} />
      {request.isPending ? <Loading /> : null}
      {r ? (
        <>
          <div>
            <StatusBadge status={r.status} /> {r.reason}
            {r.ticket ? ` (ticket ${r.ticket})` : ''} · {r.durationHours} h
          </div>
          {cancel.isSuccess ? <Notice intent="success">Your request is canceled.</Notice> : null}
          <ErrorBar error={cancel.error} />
          {r.status === 'pending' ? (
            <Button onClick={() => setConfirming(true)} disabled={cancel.isPending}>
              Cancel request
            </Button>
          ) : null}
          <section aria-label="Timeline">
            <h2>Timeline</h2>
            <ol className={styles.steps}>
              {timeline(r).map((step, i) => (
                <li key={i}>
                  <Time at={step.at} /> — {step.text}
                </li>
              ))}
            </ol>
          </section>
          <Dialog open={confirming} onOpenChange={(_, d) => setConfirming(d.open)}>
            <DialogSurface>
              <DialogBody>
                <DialogTitle>Cancel this request?</DialogTitle>
                <DialogContent>The approvers will no longer be asked. This cannot be undone.</DialogContent>
                <DialogActions>
                  <Button
                    appearance="primary"
                    onClick={() => {
                      setConfirming(false);
                      cancel.mutate(undefined);
                    }}
                  >
                    Yes, cancel it
                  </Button>
                  <Button onClick={() => setConfirming(false)}>Keep it</Button>
                </DialogActions>
              </DialogBody>
            </DialogSurface>
          </Dialog>
        </>
      ) : null}
    </>
  );
}
