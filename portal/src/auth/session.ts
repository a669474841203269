/**
 * Sign-in: OpenID Connect authorization code with PKCE (oidc-client-ts), against Entra ID in Azure and
 * the local host's development issuer alike; the portal has no second path for either.
 *
 * Tokens live in sessionStorage (the library's default): gone when the tab closes, never in cookies.
 * Renewal uses the refresh token the provider issues to single-page apps, so no hidden iframes.
 */
import { ErrorResponse, UserManager, WebStorageStateStore, type User } from 'oidc-client-ts';
import type { PendingCall } from '../api/client';

export interface SignInSettings {
  readonly authority: string;
  readonly clientId: string;
  readonly scope: string;
}

/** Where the provider sends people back; served by the portal like any client route. */
export const CALLBACK_PATH = '/signin-callback';

/** What the sign-in carries across the redirect. */
export interface SignInState {
  /** The page to return to. */
  readonly returnTo: string;
  /** A call the API refused for want of a stronger sign-in, to make again. */
  readonly pending?: PendingCall;
}

export interface Identity {
  readonly upn: string;
  readonly name: string | undefined;
}

export interface Session {
  /** The signed-in person as the id token names them (display only: the API decides everything). */
  identity(): Promise<Identity | null>;
  accessToken(): Promise<string | null>;
  renew(): Promise<boolean>;
  signIn(options?: {
    returnTo?: string;
    loginHint?: string;
    claims?: string;
    pending?: PendingCall;
  }): Promise<never>;
  /** Finishes a sign-in when the page is the callback; answers what the sign-in carried. */
  completeSignIn(url: string): Promise<SignInState>;
  signOut(): Promise<never>;
}

export function createSession(settings: SignInSettings, origin = window.location.origin): Session {
  const manager = new UserManager({
    authority: settings.authority,
    client_id: settings.clientId,
    redirect_uri: `${origin}${CALLBACK_PATH}`,
    post_logout_redirect_uri: `${origin}/`,
    response_type: 'code',
    // offline_access: a refresh token, so renewal needs no iframe (third-party cookies are blocked).
    scope: `openid profile offline_access ${settings.scope}`,
    // Tokens and the sign-in's own state (PKCE verifier, the call to replay with its body) stay in
    // this tab's session storage and go with it; the library's default for the latter is local storage.
    userStore: new WebStorageStateStore({ store: window.sessionStorage }),
    stateStore: new WebStorageStateStore({ store: window.sessionStorage }),
    // Renewal happens when a call needs a token (renew below), one at a time: a timer renewing on
    // its own would race it, and a refresh token may be redeemed only once.
    automaticSilentRenew: false,
    loadUserInfo: false,
    monitorSession: false,
  });

  const current = async (): Promise<User | null> => {
    const user = await manager.getUser();
    return user && !user.expired ? user : null;
  };

  // Sign-ins abandoned half-way leave their state behind.
  void manager.clearStaleState().catch(() => undefined);

  /** The renewal in flight: every call that finds its token expired waits for the same one. */
  let renewing: Promise<boolean> | null = null;
  const renewOnce = async (): Promise<boolean> => {
    const user = await manager.getUser();
    if (!user?.refresh_token) return false;
    try {
      return (await manager.signinSilent()) !== null;
    } catch (error) {
      // Only a refused refresh token ends the session; a network blip leaves it for the next call.
      if (error instanceof ErrorResponse && error.error === 'invalid_grant') await manager.removeUser();
      return false;
    }
  };

  const redirect = async (args: Parameters<UserManager['signinRedirect']>[0]): Promise<never> => {
    await manager.signinRedirect(args);
    // The browser is leaving; nothing after this runs.
    return new Promise<never>(() => undefined);
  };

  return {
    async identity() {
      const user = await current();
      if (!user) return null;
      const p = user.profile;
      const upn = typeof p.preferred_username === 'string' ? p.preferred_username : p.sub;
      return { upn, name: typeof p.name === 'string' ? p.name : undefined };
    },
    async accessToken() {
      const user = await current();
      if (user) return user.access_token;
      return (await this.renew()) ? ((await current())?.access_token ?? null) : null;
    },
    renew() {
      renewing ??= renewOnce().finally(() => {
        renewing = null;
      });
      return renewing;
    },
    async signIn(options = {}) {
      const state: SignInState = {
        returnTo: options.returnTo ?? currentPath(),
        ...(options.pending ? { pending: options.pending } : {}),
      };
      const user = await manager.getUser();
      const hint =
        options.loginHint ??
        (typeof user?.profile.preferred_username === 'string' ? user.profile.preferred_username : undefined);
      return redirect({
        state,
        ...(hint ? { login_hint: hint } : {}),
        // Entra's claims challenge is base64 JSON; the authorize request takes the JSON itself.
        ...(options.claims ? { extraQueryParams: { claims: decodeClaims(options.claims) } } : {}),
      });
    },
    async completeSignIn(url) {
      const user = await manager.signinRedirectCallback(url);
      const state = user.state as Partial<SignInState> | undefined;
      const pending = isPendingCall(state?.pending) ? state.pending : undefined;
      return { returnTo: safeReturn(state?.returnTo), ...(pending ? { pending } : {}) };
    },
    async signOut() {
      const user = await manager.getUser();
      await manager.removeUser();
      await manager.signoutRedirect(user?.id_token ? { id_token_hint: user.id_token } : {});
      return new Promise<never>(() => undefined);
    },
  };
}

function currentPath(): string {
  return `${window.location.pathname}${window.location.search}`;
}

/** Only a path on this site: a sign-in must never send the person elsewhere. */
export function safeReturn(path: string | undefined): string {
  if (!path || !path.startsWith('/') || path.startsWith('//') || path.startsWith(CALLBACK_PATH)) return '/';
  return path;
}

/** Only a change to the API is ever replayed after a sign-in, whatever the stored state says. */
function isPendingCall(value: unknown): value is PendingCall {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    (v['method'] === 'POST' || v['method'] === 'PUT' || v['method'] === 'DELETE') &&
    typeof v['path'] === 'string' &&
    v['path'].startsWith('/api/') &&
    typeof v['label'] === 'string'
  );
}

/** The claims challenge decoded (base64 or base64url JSON); left as is when it is JSON already. */
export function decodeClaims(claims: string): string {
  if (claims.trim().startsWith('{')) return claims;
  const b64 = claims.replace(/-/g, '+').replace(/_/g, '/');
  return atob(b64.padEnd(b64.length + ((4 - (b64.length % 4)) % 4), '='));
}
