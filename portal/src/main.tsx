/**
 * The portal starts here: read the sign-in settings the server serves, finish a sign-in when the
 * provider sends the person back, then show the sign-in screen or the app.
 */
import { Button, FluentProvider, Spinner, makeStyles, tokens } from '@fluentui/react-components';
import { QueryClientProvider } from '@tanstack/react-query';
import { StrictMode, useEffect, useState, type ReactNode } from 'react';
import { createRoot } from 'react-dom/client';
import { Router } from 'wouter';
import type { z } from 'zod';
import type { PortalConfig } from '#shared/portal/config';
import { createApi, type PendingCall } from './api/client';
import { App } from './app/App';
import { fluentTheme, initialTheme, rememberTheme, type ThemeChoice } from './app/theme';
import { CALLBACK_PATH, createSession, type Session } from './auth/session';
import { createQueryClient } from './components/data';
import { ErrorBar, Notice } from './components/ui';

type Config = z.output<typeof PortalConfig>;

const useStyles = makeStyles({
  centre: {
    minHeight: '100vh',
    display: 'flex',
    flexDirection: 'column',
    alignItems: 'center',
    justifyContent: 'center',
    gap: tokens.spacingVerticalL,
    padding: tokens.spacingHorizontalL,
    textAlign: 'center',
  },
  title: { margin: 0, fontSize: tokens.fontSizeHero800, lineHeight: tokens.lineHeightHero800 },
  lead: { maxWidth: '52ch', color: tokens.colorNeutralForeground2 },
});

type Boot =
  | { kind: 'loading' }
  | { kind: 'failed'; error: unknown }
  | { kind: 'unconfigured'; reason: string }
  | { kind: 'signedOut'; session: Session; error?: unknown }
  | { kind: 'signedIn'; session: Session; pending?: PendingCall | undefined };

async function boot(): Promise<Boot> {
  const response = await fetch('/portal-config.json', { cache: 'no-store', credentials: 'omit' });
  if (!response.ok) throw new Error(`The portal's settings could not be read (HTTP ${response.status}).`);
  const config = (await response.json()) as Config;
  if (config.signIn === null)
    return { kind: 'unconfigured', reason: 'reason' in config ? config.reason : '' };
  const session = createSession(config.signIn);
  if (window.location.pathname === CALLBACK_PATH) {
    try {
      const state = await session.completeSignIn(window.location.href);
      window.history.replaceState(null, '', state.returnTo);
      return { kind: 'signedIn', session, pending: state.pending };
    } catch (error) {
      window.history.replaceState(null, '', '/');
      return { kind: 'signedOut', session, error };
    }
  }
  return (await session.identity()) ? { kind: 'signedIn', session } : { kind: 'signedOut', session };
}

let booting: Promise<Boot> | undefined;

function Root() {
  const [theme, setTheme] = useState<ThemeChoice>(initialTheme);
  const [state, setState] = useState<Boot>({ kind: 'loading' });
  useEffect(() => {
    // Once per page load, even when React runs effects twice (StrictMode in development): a sign-in
    // callback can be completed only once.
    booting ??= boot();
    booting.then(setState, (error: unknown) => setState({ kind: 'failed', error }));
  }, []);
  const onTheme = (choice: ThemeChoice) => {
    rememberTheme(choice);
    setTheme(choice);
  };
  return (
    <FluentProvider theme={fluentTheme(theme)} style={{ minHeight: '100vh' }}>
      <Screen state={state} theme={theme} onTheme={onTheme} />
    </FluentProvider>
  );
}

function Screen(props: { state: Boot; theme: ThemeChoice; onTheme: (t: ThemeChoice) => void }) {
  const { state } = props;
  switch (state.kind) {
    case 'loading':
      return (
        <Centre>
          <Spinner label="Starting…" />
        </Centre>
      );
    case 'failed':
      return (
        <Centre>
          <ErrorBar error={state.error} onRetry={() => window.location.reload()} />
        </Centre>
      );
    case 'unconfigured':
      return (
        <Centre>
          <Notice intent="warning" title="Sign-in is not configured">
            {state.reason}
          </Notice>
        </Centre>
      );
    case 'signedOut':
      return <SignIn session={state.session} error={state.error} />;
    case 'signedIn':
      return (
        <QueryClientProvider client={queryClient}>
          <Router>
            <App
              api={apiFor(state.session)}
              session={state.session}
              theme={props.theme}
              onTheme={props.onTheme}
              pending={state.pending}
            />
          </Router>
        </QueryClientProvider>
      );
  }
}

const queryClient = createQueryClient();
const apis = new WeakMap<Session, ReturnType<typeof createApi>>();
function apiFor(session: Session) {
  let api = apis.get(session);
  if (!api) {
    api = createApi({
      accessToken: () => session.accessToken(),
      renew: () => session.renew(),
      stepUp: (claims, pending) => session.signIn({ claims, pending }),
    });
    apis.set(session, api);
  }
  return api;
}

function SignIn(props: { session: Session; error?: unknown }) {
  const styles = useStyles();
  return (
    <Centre>
      <h1 className={styles.title}>Zero Standing Access</h1>
      <p className={styles.lead}>
        Ask for just-in-time access to one privileged task, have it approved, and let ZSA run it for you while
        the grant lasts. Every step is audited.
      </p>
      {props.error !== undefined ? <ErrorBar error={props.error} /> : null}
      <Button appearance="primary" size="large" onClick={() => void props.session.signIn()}>
        Sign in
      </Button>
    </Centre>
  );
}

function Centre(props: { children: ReactNode }) {
  const styles = useStyles();
  return <main className={styles.centre}>{props.children}</main>;
}

const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <Root />
    </StrictMode>,
  );
}
