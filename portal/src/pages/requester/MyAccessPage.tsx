/**
 * My access: the caller's live grants, each with a countdown, uses left, an "Execute" form (the
 * task's parameter fields) and "End access". Refreshes every second while visible, so an approval
 * shows here within the two seconds the portal promises.
 */
import {
  Button,
  Card,
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
import { useEffect, useState, type SyntheticEvent } from 'react';
import { Link } from 'wouter';
import { ApiError } from '../../api/errors';
import type { ExecutionResult, Page, RequestView, Task } from '../../api/types';
import { usePortal } from '../../app/context';
import { CATALOG_KEY, useChange, usePaged, useQuery } from '../../components/data';
import { Countdown, ErrorBar, LoadMore, Loading, Notice, PageHeader, Time } from '../../components/ui';
import { ParameterFields, typedValues, type ParameterDraft } from './parameters';
import { targetOf } from './timeline';

const REFRESH_MS = 1_000;

type TaskSummary = Pick<Task, 'name' | 'description' | 'parameters'>;

const useStyles = makeStyles({
  list: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalL },
  form: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalS, maxWidth: '36rem' },
  actions: { display: 'flex', flexWrap: 'wrap', gap: tokens.spacingHorizontalS },
  output: { overflowX: 'auto', whiteSpace: 'pre-wrap', wordBreak: 'break-word', margin: 0 },
});

function live(r: RequestView, now: number): boolean {
  return (
    r.status === 'approved' &&
    r.grantedAt !== null &&
    Date.parse(r.grantedAt) <= now &&
    r.expiresAt !== null &&
    Date.parse(r.expiresAt) > now
  );
}

/** The time, ticking each second: a grant leaves the list when it ends, without a reload. */
function useNow(): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), REFRESH_MS);
    return () => clearInterval(timer);
  }, []);
  return now;
}

export default function MyAccessPage() {
  const styles = useStyles();
  const { api } = usePortal();
  const grants = usePaged(
    ['access', 'mine'],
    (token, signal) =>
      api.get<Page<RequestView>>(
        '/api/requests',
        { mine: 'true', status: 'approved', continuationToken: token },
        { signal },
      ),
    { refreshMs: REFRESH_MS },
  );
  const now = useNow();
  const current = grants.items.filter((r) => live(r, now));
  const scheduled = grants.items.filter((r) => r.grantedAt !== null && Date.parse(r.grantedAt) > now);
  return (
    <>
      <PageHeader title="My access" description="Your access now. It refreshes by itself." />
      <ErrorBar error={grants.error} onRetry={grants.reload} />
      {grants.loading ? <Loading /> : null}
      {!grants.loading && current.length === 0 && !grants.hasMore ? (
        <p>
          You have no access now. <Link href="/request">Request access</Link>
        </p>
      ) : null}
      <div className={styles.list}>
        {current.map((r) => (
          <Grant key={r.id} request={r} />
        ))}
      </div>
      {scheduled.length > 0 ? (
        <section aria-label="Scheduled">
          <h2>Scheduled</h2>
          <ul>
            {scheduled.map((r) => (
              <li key={r.id}>
                <Link href={`/requests/${encodeURIComponent(r.id)}`}>{targetOf(r)}</Link> starts{' '}
                <Time at={r.grantedAt} />
              </li>
            ))}
          </ul>
        </section>
      ) : null}
      <LoadMore hasMore={grants.hasMore} loading={grants.loadingMore} onLoadMore={grants.loadMore} />
    </>
  );
}

function Grant(props: { request: RequestView }) {
  const styles = useStyles();
  const { api } = usePortal();
  const r = props.request;
  const [confirming, setConfirming] = useState(false);
  const end = useChange(
    () => api.send<RequestView>('POST', `/api/requests/${encodeURIComponent(r.id)}/revoke`, {}, 'End access'),
    [['access'], ['requests']],
  );
  const title = targetOf(r);
  return (
    <Card role="group" aria-label={title}>
      <h2>{title}</h2>
      <p>
        {r.expiresAt ? <Countdown until={r.expiresAt} /> : null}
        {r.maxUses !== null ? ` · ${r.maxUses - r.uses} of ${r.maxUses} uses left` : ''} ·{' '}
        <Link href={`/requests/${encodeURIComponent(r.id)}`}>Details</Link>
      </p>
      <ExecuteForm request={r} />
      <ErrorBar error={end.error} />
      <div className={styles.actions}>
        <Button onClick={() => setConfirming(true)} disabled={end.isPending}>
          End access
        </Button>
      </div>
      <Dialog open={confirming} onOpenChange={(_, d) => setConfirming(d.open)}>
        <DialogSurface>
          <DialogBody>
            <DialogTitle>End this access now?</DialogTitle>
            <DialogContent>{`${title} ends at once; you would need a new request to use it again.`}</DialogContent>
            <DialogActions>
              <Button
                appearance="primary"
                onClick={() => {
                  setConfirming(false);
                  end.mutate(undefined);
                }}
              >
                Yes, end it
              </Button>
              <Button onClick={() => setConfirming(false)}>Keep it</Button>
            </DialogActions>
          </DialogBody>
        </DialogSurface>
      </Dialog>
    </Card>
  );
}

function ExecuteForm(props: { request: RequestView }) {
  const styles = useStyles();
  const { api } = usePortal();
  const r = props.request;
  const [task, setTask] = useState(r.tasks[0] ?? '');
  const [draft, setDraft] = useState<ParameterDraft>({});
  // A grant that fixed its parameters at request time runs with exactly those.
  const fixed = r.parameters !== null;
  const schema = useQuery({
    queryKey: [...CATALOG_KEY, 'task', task],
    queryFn: ({ signal }) => api.get<TaskSummary>('/api/catalog/tasks', { name: task }, { signal }),
    enabled: !fixed && task !== '',
  });
  const parameters = schema.data?.parameters ?? [];
  const execute = useChange(
    (body: Record<string, unknown>) => api.send<ExecutionResult>('POST', '/api/execute', body, 'Execute'),
    [['access']],
  );
  const errors = execute.error instanceof ApiError ? execute.error.fieldErrors : {};
  const onSubmit = (event: SyntheticEvent) => {
    event.preventDefault();
    const body: Record<string, unknown> = { task, requestId: r.id };
    if (fixed) body.parameters = r.parameters;
    else if (parameters.length > 0) body.parameters = typedValues(parameters, draft);
    execute.mutate(body);
  };
  return (
    <form className={styles.form} onSubmit={onSubmit} noValidate aria-label={`Execute under ${targetOf(r)}`}>
      {r.tasks.length > 1 ? (
        <Field label="Task">
          <Select
            value={task}
            onChange={(_, d) => {
              setTask(d.value);
              setDraft({});
              execute.reset();
            }}
          >
            {r.tasks.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </Select>
        </Field>
      ) : null}
      {fixed ? (
        <p>
          Runs with the parameters approved:{' '}
          {Object.entries(r.parameters ?? {})
            .map(([k, v]) => `${k} = ${String(v)}`)
            .join(', ')}
        </p>
      ) : (
        <ParameterFields parameters={parameters} values={draft} onChange={setDraft} errors={errors} />
      )}
      {schema.error ? <ErrorBar error={schema.error} /> : null}
      <div>
        <Button
          type="submit"
          appearance="primary"
          disabled={execute.isPending || (!fixed && schema.isPending)}
        >
          {execute.isPending ? 'Running…' : 'Execute'}
        </Button>
      </div>
      {execute.error ? <ErrorBar error={execute.error} /> : null}
      {execute.data ? (
        // A failed execution is a problem (the ErrorBar above); an answer is always a success.
        <Notice intent="success" title="Succeeded">
          <pre className={styles.output} aria-label="Result">
            {execute.data.result === undefined ? '(no output)' : JSON.stringify(execute.data.result, null, 2)}
          </pre>
        </Notice>
      ) : null}
    </form>
  );
}
