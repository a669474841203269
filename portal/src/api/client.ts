/**
 * The one way the portal calls the API: a bearer token from the session on every call, problem+json
 * turned into ApiError, safe reads retried when the service is briefly away, and the API's claims
 * challenge turned into a stronger sign-in that replays the call afterwards.
 *
 * The same code runs against Entra ID in Azure and the development issuer on the local host: only the
 * session's authority differs, never the calls.
 */
import { ApiError, NetworkError, SignInRequired, StepUpNotSatisfied, StepUpRequired } from './errors';
import type { Problem } from './types';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
export type Query = Readonly<Record<string, string | number | boolean | undefined | null>>;

/** A call to make again after a stronger sign-in; kept in the sign-in's state across the redirect. */
export interface PendingCall {
  readonly method: Exclude<Method, 'GET'>;
  readonly path: string;
  readonly body?: unknown;
  /** What the call does, in words, for the message shown when it is replayed. */
  readonly label: string;
}

export interface ApiDeps {
  /** The current access token, or null when nobody is signed in. */
  readonly accessToken: () => Promise<string | null>;
  /** Renews the session (refresh token); answers false when a new sign-in is needed. */
  readonly renew: () => Promise<boolean>;
  /** Starts the stronger sign-in the API asked for; never returns normally (the page navigates). */
  readonly stepUp: (claims: string, pending: PendingCall) => Promise<never>;
  readonly fetch?: typeof fetch;
  /** Waits between retries of safe reads; tests pass a fast one. */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface SendOptions {
  /**
   * This call is the replay after a stronger sign-in: a second claims challenge is an error to show,
   * not another sign-in (which, if the authority cannot give what was asked, would loop forever).
   */
  readonly replay?: boolean;
}

export interface Api {
  get<T>(path: string, query?: Query, init?: { signal?: AbortSignal }): Promise<T>;
  send<T>(
    method: Exclude<Method, 'GET'>,
    path: string,
    body: unknown,
    label: string,
    options?: SendOptions,
  ): Promise<T>;
  /** A raw GET with the bearer token (downloads: CSV, JSONL). */
  download(path: string, query?: Query): Promise<Blob>;
}

const RETRYABLE = new Set([502, 503, 504]);
const READ_ATTEMPTS = 3;
const MAX_RETRY_WAIT_MS = 5_000;

export function createApi(deps: ApiDeps): Api {
  const doFetch = deps.fetch ?? ((input, init) => fetch(input, init));
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));

  async function call(method: Method, url: string, body: unknown, signal?: AbortSignal): Promise<Response> {
    let renewed = false;
    for (;;) {
      const token = await deps.accessToken();
      if (!token) throw new SignInRequired();
      const headers: Record<string, string> = {
        authorization: `Bearer ${token}`,
        accept: 'application/json',
      };
      if (body !== undefined) headers['content-type'] = 'application/json';
      let response: Response;
      try {
        response = await doFetch(url, {
          method,
          headers,
          body: body === undefined ? null : JSON.stringify(body),
          signal: signal ?? null,
          // Never send or store cookies: the bearer token is the only credential.
          credentials: 'omit',
          cache: 'no-store',
        });
      } catch (cause) {
        if (signal?.aborted) throw cause;
        throw new NetworkError(cause);
      }
      if (response.status === 401) {
        const challenge = parseChallenge(response.headers.get('www-authenticate'));
        if (challenge.error === 'insufficient_claims' && challenge.claims) {
          throw new StepUpRequired(challenge.claims);
        }
        // An expired or rejected token: renew once, then the person must sign in again.
        if (!renewed && (await deps.renew())) {
          renewed = true;
          continue;
        }
        throw new SignInRequired();
      }
      return response;
    }
  }

  async function read<T>(path: string, query: Query | undefined, signal?: AbortSignal): Promise<T> {
    const url = withQuery(path, query);
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await call('GET', url, undefined, signal);
        if (response.ok) return (await response.json()) as T;
        const error = await toApiError(response);
        if (!RETRYABLE.has(response.status) || attempt >= READ_ATTEMPTS) throw error;
        await sleep(retryWait(attempt, error.retryAfterSeconds));
      } catch (error) {
        if (!(error instanceof NetworkError) || attempt >= READ_ATTEMPTS) throw error;
        await sleep(retryWait(attempt));
      }
    }
  }

  return {
    get: (path, query, init) => read(path, query, init?.signal),
    async send<T>(
      method: Exclude<Method, 'GET'>,
      path: string,
      body: unknown,
      label: string,
      options: SendOptions = {},
    ): Promise<T> {
      // Changes are never retried blindly: the person sees the outcome and decides.
      try {
        const response = await call(method, path, body);
        if (!response.ok) throw await toApiError(response);
        if (response.status === 204) return undefined as T;
        const text = await response.text();
        return (text === '' ? undefined : JSON.parse(text)) as T;
      } catch (error) {
        if (error instanceof StepUpRequired) {
          if (options.replay) throw new StepUpNotSatisfied();
          return deps.stepUp(error.claims, { method, path, body, label });
        }
        throw error;
      }
    },
    async download(path, query) {
      const response = await call('GET', withQuery(path, query), undefined);
      if (!response.ok) throw await toApiError(response);
      return response.blob();
    },
  };
}

export function withQuery(path: string, query: Query | undefined): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

function retryWait(attempt: number, retryAfterSeconds?: number): number {
  if (retryAfterSeconds !== undefined) return Math.min(retryAfterSeconds * 1000, MAX_RETRY_WAIT_MS);
  return Math.min(400 * 3 ** (attempt - 1), MAX_RETRY_WAIT_MS);
}

async function toApiError(response: Response): Promise<ApiError> {
  const retryAfter = Number(response.headers.get('retry-after'));
  const retryAfterSeconds = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined;
  let problem: Problem | null = null;
  const type = response.headers.get('content-type') ?? '';
  if (type.includes('json')) {
    try {
      const body = (await response.json()) as unknown;
      if (isProblem(body)) problem = body;
    } catch {
      // A body that is not JSON leaves only the status to go on.
    }
  }
  return new ApiError(response.status, problem, retryAfterSeconds);
}

function isProblem(value: unknown): value is Problem {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.status === 'number' && typeof v.detail === 'string' && typeof v.title === 'string';
}

/** The `error` and `claims` parameters of a Bearer challenge (RFC 6750 §3 with Entra's `claims`). */
export function parseChallenge(header: string | null): { error?: string; claims?: string } {
  if (!header || !/^\s*Bearer\b/i.test(header)) return {};
  const out: { error?: string; claims?: string } = {};
  for (const m of header.matchAll(/([A-Za-z_]+)="([^"]*)"/g)) {
    const [, name, value] = m;
    if (name === 'error') out.error = value;
    if (name === 'claims') out.claims = value;
  }
  return out;
}
