/** Small pieces every page uses: the page heading, error bars, "load more", times and statuses. */
import {
  Badge,
  Button,
  MessageBar,
  MessageBarActions,
  MessageBarBody,
  MessageBarTitle,
  Spinner,
  makeStyles,
  tokens,
  type BadgeProps,
} from '@fluentui/react-components';
import { useEffect, useState, type ReactNode } from 'react';
import { describeError } from '../api/errors';
import type { RequestStatus } from '../api/types';

const useStyles = makeStyles({
  header: { marginBottom: tokens.spacingVerticalL },
  title: { margin: 0, fontSize: tokens.fontSizeHero700, lineHeight: tokens.lineHeightHero700 },
  description: {
    marginTop: tokens.spacingVerticalXS,
    color: tokens.colorNeutralForeground2,
    maxWidth: '72ch',
  },
  more: { marginTop: tokens.spacingVerticalM },
});

export function PageHeader(props: { title: string; description?: ReactNode; actions?: ReactNode }) {
  const styles = useStyles();
  return (
    <header className={styles.header}>
      <h1 className={styles.title}>{props.title}</h1>
      {props.description ? <p className={styles.description}>{props.description}</p> : null}
      {props.actions}
    </header>
  );
}

/** An error in words the person can act on, with a retry when one makes sense. */
export function ErrorBar(props: { error: unknown; onRetry?: (() => void) | undefined }) {
  if (props.error === undefined || props.error === null) return null;
  const { title, detail } = describeError(props.error);
  return (
    <MessageBar intent="error" role="alert" layout="multiline">
      <MessageBarBody>
        <MessageBarTitle>{title}</MessageBarTitle>
        {detail}
      </MessageBarBody>
      {props.onRetry ? (
        <MessageBarActions>
          <Button onClick={props.onRetry}>Try again</Button>
        </MessageBarActions>
      ) : null}
    </MessageBar>
  );
}

export function Notice(props: {
  intent: 'success' | 'info' | 'warning';
  title?: string;
  children: ReactNode;
}) {
  return (
    <MessageBar intent={props.intent} role="status" layout="multiline">
      <MessageBarBody>
        {props.title ? <MessageBarTitle>{props.title}</MessageBarTitle> : null}
        {props.children}
      </MessageBarBody>
    </MessageBar>
  );
}

export function Loading(props: { label?: string }) {
  return <Spinner size="small" label={props.label ?? 'Loading…'} />;
}

/** "Load more" under a paged list; the API's continuation token says whether there is more. */
export function LoadMore(props: { hasMore: boolean; loading: boolean; onLoadMore: () => void }) {
  const styles = useStyles();
  if (!props.hasMore) return null;
  return (
    <div className={styles.more}>
      <Button onClick={props.onLoadMore} disabled={props.loading}>
        {props.loading ? 'Loading…' : 'Load more'}
      </Button>
    </div>
  );
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** An instant in the person's own time zone, with the exact UTC time on hover. */
export function Time(props: { at: string | null | undefined }) {
  if (!props.at) return <span>—</span>;
  const date = new Date(props.at);
  return (
    <time dateTime={props.at} title={date.toISOString()}>
      {dateTime.format(date)}
    </time>
  );
}

/** "2 h 05 m left", ticking every second; "ended" once past. */
export function Countdown(props: { until: string; now?: () => number }) {
  const now = props.now ?? Date.now;
  const [, setTick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => setTick((t) => t + 1), 1000);
    return () => clearInterval(timer);
  }, []);
  return <span aria-live="off">{remaining(Date.parse(props.until) - now())}</span>;
}

export function remaining(ms: number): string {
  if (ms <= 0) return 'ended';
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h} h ${String(m).padStart(2, '0')} m left`;
  if (m > 0) return `${m} m ${String(sec).padStart(2, '0')} s left`;
  return `${sec} s left`;
}

const STATUS_COLOURS: Record<RequestStatus, BadgeProps['color']> = {
  pending: 'warning',
  approved: 'success',
  denied: 'danger',
  canceled: 'subtle',
  expired: 'subtle',
  ended: 'informative',
  revoked: 'danger',
  failed: 'severe',
};

export function StatusBadge(props: { status: RequestStatus }) {
  return (
    <Badge appearance="tint" color={STATUS_COLOURS[props.status]}>
      {props.status}
    </Badge>
  );
}
