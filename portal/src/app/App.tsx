/**
 * The shell: header, navigation (only what the person may use), the page, and the replay of a call
 * that needed a stronger sign-in.
 */
import { Button, Spinner, Text, makeStyles, mergeClasses, tokens } from '@fluentui/react-components';
import { useQueryClient } from '@tanstack/react-query';
import { Suspense, useEffect, useMemo, useRef, useState } from 'react';
import { Link, Redirect, Route, Switch, useLocation } from 'wouter';
import type { Api, PendingCall } from '../api/client';
import type { Me } from '../api/types';
import type { Session } from '../auth/session';
import { ME_KEY, useQuery } from '../components/data';
import { ErrorBar, Notice } from '../components/ui';
import { PortalContext, usePortal, type Portal } from './context';
import { HOME, ROUTES } from './routes';
import type { ThemeChoice } from './theme';

const useStyles = makeStyles({
  skip: {
    position: 'absolute',
    left: '-10000px',
    ':focus': { left: tokens.spacingHorizontalM, top: tokens.spacingVerticalM, zIndex: 10 },
  },
  header: {
    display: 'flex',
    flexWrap: 'wrap',
    alignItems: 'center',
    gap: tokens.spacingHorizontalM,
    padding: `${tokens.spacingVerticalS} ${tokens.spacingHorizontalL}`,
    backgroundColor: tokens.colorBrandBackground,
    color: tokens.colorNeutralForegroundOnBrand,
  },
  brand: { fontWeight: tokens.fontWeightSemibold, fontSize: tokens.fontSizeBase400, marginRight: 'auto' },
  who: { color: tokens.colorNeutralForegroundOnBrand },
  // A subtle button's own text colour is dark grey, unreadable on the brand blue (axe: 1.86:1).
  onBrand: {
    color: tokens.colorNeutralForegroundOnBrand,
    ':hover': { color: tokens.colorNeutralForeground1 },
  },
  nav: {
    display: 'flex',
    flexWrap: 'wrap',
    gap: tokens.spacingHorizontalXS,
    padding: `${tokens.spacingVerticalXS} ${tokens.spacingHorizontalL}`,
    borderBottom: `${tokens.strokeWidthThin} solid ${tokens.colorNeutralStroke2}`,
    backgroundColor: tokens.colorNeutralBackground2,
  },
  navLink: {
    padding: `${tokens.spacingVerticalS} ${tokens.spacingHorizontalM}`,
    borderRadius: tokens.borderRadiusMedium,
    color: tokens.colorNeutralForeground1,
    textDecoration: 'none',
    ':hover': { backgroundColor: tokens.colorNeutralBackground1Hover },
    ':focus-visible': { outline: `${tokens.strokeWidthThick} solid ${tokens.colorStrokeFocus2}` },
  },
  current: {
    fontWeight: tokens.fontWeightSemibold,
    boxShadow: `inset 0 -3px 0 ${tokens.colorBrandStroke1}`,
  },
  main: { padding: tokens.spacingHorizontalL, maxWidth: '1200px', margin: '0 auto' },
  stack: { display: 'flex', flexDirection: 'column', gap: tokens.spacingVerticalM },
});

export interface AppProps {
  readonly api: Api;
  readonly session: Session;
  readonly theme: ThemeChoice;
  readonly onTheme: (theme: ThemeChoice) => void;
  /** A call to make again after a stronger sign-in. */
  readonly pending?: PendingCall | undefined;
}

export function App(props: AppProps) {
  const styles = useStyles();
  const me = useQuery({
    queryKey: ME_KEY,
    queryFn: ({ signal }) => props.api.get<Me>('/api/me', undefined, { signal }),
    staleTime: 60_000,
  });

  if (me.error) {
    return (
      <main className={styles.main}>
        <ErrorBar error={me.error} onRetry={() => void me.refetch()} />
      </main>
    );
  }
  if (!me.data) {
    return (
      <main className={styles.main}>
        <Spinner label="Signing you in…" />
      </main>
    );
  }
  return <Shell {...props} me={me.data} reloadMe={() => void me.refetch()} />;
}

function Shell(props: AppProps & { me: Me; reloadMe: () => void }) {
  const styles = useStyles();
  const [location] = useLocation();
  const { api, session, me, reloadMe } = props;
  const portal: Portal = useMemo(() => ({ api, session, me, reloadMe }), [api, session, me, reloadMe]);
  const routes = ROUTES.filter((r) => r.visible(me));
  const dark = props.theme === 'dark';

  return (
    <PortalContext.Provider value={portal}>
      <a className={styles.skip} href="#main">
        Skip to content
      </a>
      <header className={styles.header}>
        <span className={styles.brand}>ZSA · Zero Standing Access</span>
        <Text className={styles.who} aria-label="Signed in as">
          {me.name ?? me.upn}
          {me.roles.length > 0 ? ` · ${me.roles.join(', ')}` : ''}
        </Text>
        <Button
          appearance="subtle"
          className={styles.onBrand}
          onClick={() => props.onTheme(dark ? 'light' : 'dark')}
        >
          {dark ? 'Light theme' : 'Dark theme'}
        </Button>
        <Button appearance="subtle" className={styles.onBrand} onClick={() => void session.signOut()}>
          Sign out
        </Button>
      </header>
      <nav aria-label="Main" className={styles.nav}>
        {routes.map((r) => {
          const current = location === r.href || location.startsWith(`${r.href}/`);
          return (
            <Link
              key={r.href}
              href={r.href}
              className={mergeClasses(styles.navLink, current && styles.current)}
              aria-current={current ? 'page' : undefined}
            >
              {r.label}
            </Link>
          );
        })}
      </nav>
      <main id="main" className={styles.main} tabIndex={-1}>
        <div className={styles.stack}>
          {props.pending ? <Replay pending={props.pending} /> : null}
          <Suspense fallback={<Spinner label="Loading…" />}>
            <Switch>
              <Route path="/">
                <Redirect to={HOME} replace />
              </Route>
              {ROUTES.map((r) => (
                <Route key={r.href} path={r.path}>
                  {r.visible(me) ? <r.component /> : <NotForYou label={r.label} />}
                </Route>
              ))}
              <Route>
                <NotFound />
              </Route>
            </Switch>
          </Suspense>
        </div>
      </main>
    </PortalContext.Provider>
  );
}

/** Makes the call that waited for a stronger sign-in, once, and says how it went. */
function Replay(props: { pending: PendingCall }) {
  const { api } = usePortal();
  const client = useQueryClient();
  // One call per replay, even when React runs the effect twice (StrictMode in development): the
  // second run waits for the same call instead of sending the change again.
  const call = useRef<Promise<unknown> | null>(null);
  const [state, setState] = useState<{ done: boolean; error?: unknown }>({ done: false });
  useEffect(() => {
    let live = true;
    call.current ??= api
      .send(props.pending.method, props.pending.path, props.pending.body, props.pending.label, {
        replay: true,
      })
      // What the call changed shows on every page (a decision, a grant, the navigation).
      .then(() => client.invalidateQueries());
    call.current
      .then(() => live && setState({ done: true }))
      .catch((error: unknown) => live && setState({ done: true, error }));
    return () => {
      live = false;
    };
  }, [api, client, props.pending]);
  if (!state.done) return <Spinner label={`${props.pending.label} with your stronger sign-in…`} />;
  if (state.error !== undefined) return <ErrorBar error={state.error} />;
  return (
    <Notice
      intent="success"
      title="Done"
    >{`${props.pending.label}: done with your stronger sign-in.`}</Notice>
  );
}

function NotForYou(props: { label: string }) {
  return (
    <Notice intent="warning" title={`${props.label} is not available to you`}>
      Your account does not have the role this page needs. Ask a ZSA admin if you think it should.
    </Notice>
  );
}

function NotFound() {
  return (
    <Notice intent="info" title="Nothing here">
      This page does not exist. <Link href={HOME}>Go to Request access</Link>.
    </Notice>
  );
}
