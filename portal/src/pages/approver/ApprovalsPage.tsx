/**
 * Approvals: what waits for my decision (live), what I decided, and emergency uses to review.
 * `/approvals/<id>` is one request's decision view, the target of the emailed and chat links.
 *
 * Step-up needs nothing here: the API client turns a claims challenge into a stronger sign-in and
 * replays the decision; the page only warns which items will ask for it.
 */
import { Tab, TabList, makeStyles, tokens } from '@fluentui/react-components';
import { useCallback, useState } from 'react';
import { Link, useRoute } from 'wouter';
import type { Page, RequestView } from '../../api/types';
import { usePortal } from '../../app/context';
import { usePaged, useQuery } from '../../components/data';
import { ErrorBar, LoadMore, Loading, Notice, PageHeader } from '../../components/ui';
import { DecidedContext, DecisionForm, ExtensionForm, RequestCard, ReviewForm } from './parts';
import { askedBy, targetOf } from './words';

type TabName = 'waiting' | 'decided' | 'reviews';

const WAITING_REFRESH_MS = 3_000;

const useStyles = makeStyles({
  tabs: { marginBottom: tokens.spacingVerticalL, overflowX: 'auto' },
  list: { display: 'flex', flexDirection: 'column' },
  recent: {
    display: 'flex',
    flexDirection: 'column',
    gap: tokens.spacingVerticalXS,
    marginBottom: tokens.spacingVerticalM,
  },
});

export default function ApprovalsPage() {
  const [detail, params] = useRoute('/approvals/:id');
  if (detail) return <DecisionView id={params.id} />;
  return <ApprovalLists />;
}

function ApprovalLists() {
  const styles = useStyles();
  const { api } = usePortal();
  const [tab, setTab] = useState<TabName>('waiting');
  const requests = (query: Record<string, string>) => (token: string | undefined, signal: AbortSignal) =>
    api.get<Page<RequestView>>('/api/requests', { ...query, continuationToken: token }, { signal });
  const waiting = usePaged(['approvals', 'waiting'], requests({ approvable: 'true' }), {
    refreshMs: WAITING_REFRESH_MS,
    enabled: tab === 'waiting',
  });
  const decided = usePaged(['approvals', 'decided'], requests({ decided: 'true' }), {
    enabled: tab === 'decided',
  });
  const reviews = usePaged(
    ['reviews', 'open'],
    (token, signal) => api.get<Page<RequestView>>('/api/reviews', { continuationToken: token }, { signal }),
    {},
  );
  const hasReviews = reviews.items.length > 0 || tab === 'reviews';
  // The last few decisions made here, newest first: their cards may leave the list at its next refresh.
  const [recent, setRecent] = useState<readonly { key: number; text: string }[]>([]);
  const onDecided = useCallback((r: RequestView, outcome: string) => {
    setRecent((list) =>
      [
        { key: Date.now() + Math.random(), text: `${targetOf(r)} for ${askedBy(r)}: ${outcome}` },
        ...list,
      ].slice(0, 5),
    );
  }, []);
  return (
    <DecidedContext.Provider value={onDecided}>
      <PageHeader
        title="Approvals"
        description="Requests waiting for your decision refresh by themselves. Each shows what the requester asked for and why."
      />
      <TabList
        className={styles.tabs}
        selectedValue={tab}
        onTabSelect={(_, d) => setTab(d.value as TabName)}
        aria-label="Approvals"
      >
        <Tab value="waiting">Waiting for me</Tab>
        <Tab value="decided">Decided by me</Tab>
        {hasReviews ? <Tab value="reviews">{`Reviews (${reviews.items.length})`}</Tab> : null}
      </TabList>
      {recent.length > 0 ? (
        <div className={styles.recent}>
          {recent.map((d) => (
            <Notice key={d.key} intent="success">
              {d.text}
            </Notice>
          ))}
        </div>
      ) : null}
      {tab === 'waiting' ? (
        <RequestList
          list={waiting}
          empty="Nothing waits for your decision."
          render={(r) => (
            <RequestCard key={r.id} request={r}>
              {r.status === 'pending' ? <DecisionForm request={r} /> : null}
              {r.extensions
                .filter((e) => e.status === 'pending')
                .map((e) => (
                  <ExtensionForm key={e.id} request={r} extension={e} />
                ))}
              <Link href={`/approvals/${encodeURIComponent(r.id)}`}>Open this request on its own</Link>
            </RequestCard>
          )}
        />
      ) : null}
      {tab === 'decided' ? (
        <RequestList
          list={decided}
          empty="You have not decided on any request yet."
          render={(r) => <RequestCard key={r.id} request={r} />}
        />
      ) : null}
      {tab === 'reviews' ? (
        <RequestList
          list={reviews}
          empty="No emergency access waits for your review."
          render={(r) => (
            <RequestCard key={r.id} request={r}>
              <ReviewForm request={r} />
            </RequestCard>
          )}
        />
      ) : null}
    </DecidedContext.Provider>
  );
}

function RequestList(props: {
  list: ReturnType<typeof usePaged<RequestView>>;
  empty: string;
  render: (r: RequestView) => React.ReactNode;
}) {
  const styles = useStyles();
  const { list } = props;
  if (list.loading) return <Loading />;
  return (
    <div className={styles.list}>
      <ErrorBar error={list.error} onRetry={list.reload} />
      {list.items.length === 0 && !list.error ? (
        // A page may be empty and still carry a token: "Load more" stays while there is one.
        <p>{list.hasMore ? 'Nothing on this page yet.' : props.empty}</p>
      ) : null}
      {list.items.map(props.render)}
      <LoadMore hasMore={list.hasMore} loading={list.loadingMore} onLoadMore={list.loadMore} />
    </div>
  );
}

/** One request, as the emailed link opens it: everything to decide on, and the decision. */
function DecisionView(props: { id: string }) {
  const { api } = usePortal();
  const request = useQuery({
    queryKey: ['request', props.id],
    queryFn: ({ signal }) =>
      api.get<RequestView>(`/api/requests/${encodeURIComponent(props.id)}`, undefined, { signal }),
    refetchInterval: (q) => (q.state.data?.status === 'pending' ? WAITING_REFRESH_MS : false),
  });
  const r = request.data;
  const pendingExtensions = r?.extensions.filter((e) => e.status === 'pending') ?? [];
  return (
    <>
      <PageHeader title="Decide on a request" />
      <p>
        <Link href="/approvals">Back to approvals</Link>
      </p>
      {request.isPending ? <Loading /> : null}
      <ErrorBar error={request.error ?? undefined} onRetry={() => void request.refetch()} />
      {r ? (
        <RequestCard request={r}>
          {r.status === 'pending' ? <DecisionForm request={r} /> : null}
          {pendingExtensions.map((e) => (
            <ExtensionForm key={e.id} request={r} extension={e} />
          ))}
          {r.review?.status === 'open' ? <ReviewForm request={r} /> : null}
          {r.status !== 'pending' && pendingExtensions.length === 0 && r.review?.status !== 'open' ? (
            <Notice intent="info">{`Nothing to decide: the request is ${r.status}.`}</Notice>
          ) : null}
        </RequestCard>
      ) : null}
    </>
  );
}
