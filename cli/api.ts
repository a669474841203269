/**
 * The one way `zsa` calls the service: the public HTTP API with the session's bearer token.
 * problem+json answers become CliErrors that quote the problem's `detail` and carry the exit code
 * (401 → needs sign-in, other 4xx → refused); a claims challenge signs in again with the claims and
 * replays the call once (a second challenge is reported, never looped).
 */
import { z } from 'zod';
import { freshSession, stepUp, type AuthIo } from './auth';
import { CliError, Exit, SIGN_IN_HINT } from './errors';
import { loadSession } from './session';

const ProblemSchema = z.looseObject({
  title: z.string().optional(),
  status: z.number().optional(),
  detail: z.string().optional(),
  code: z.string().optional(),
  errors: z.array(z.object({ pointer: z.string(), detail: z.string() })).optional(),
});

export type Query = Record<string, string | undefined>;

export interface Api {
  json<T>(method: string, path: string, options?: { query?: Query; body?: unknown }): Promise<T>;
  /** A GET whose body is streamed (exports); the response is returned only when it is a 2xx. */
  stream(path: string, query?: Query): Promise<Response>;
}

/** `error="insufficient_claims", claims="…"` from a `WWW-Authenticate` header, if it is one. */
export function claimsChallenge(header: string | null): string | undefined {
  if (header === null || !/error="insufficient_claims"/.test(header)) return undefined;
  return /claims="([^"]+)"/.exec(header)?.[1];
}

async function problemError(res: Response): Promise<CliError> {
  const text = await res.text();
  let problem: z.infer<typeof ProblemSchema> | undefined;
  try {
    const parsed = ProblemSchema.safeParse(JSON.parse(text));
    problem = parsed.success ? parsed.data : undefined;
  } catch {
    problem = undefined;
  }
  const fields = (problem?.errors ?? []).map((e) => `\n  ${e.pointer}: ${e.detail}`).join('');
  const said = problem?.detail ?? (text.trim().slice(0, 500) || res.statusText);
  const code = problem?.code ? ` [${problem.code}]` : '';
  const exit =
    res.status === 401 ? Exit.signIn : res.status >= 400 && res.status < 500 ? Exit.refused : Exit.other;
  const hint =
    res.status === 401 && !claimsChallenge(res.headers.get('www-authenticate')) ? ` (${SIGN_IN_HINT})` : '';
  return new CliError(`${res.status}${code}: ${said}${hint}${fields}`, exit, problem ?? text);
}

function withQuery(url: string, query: Query | undefined): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) params.set(k, v);
  const qs = params.toString();
  return qs === '' ? url : `${url}?${qs}`;
}

/** The API as the saved session calls it; a command without a session is refused (exit 3). */
export function openApi(io: AuthIo): Api {
  const saved = loadSession(io.dir);
  if (saved === undefined) throw new CliError(`not signed in: ${SIGN_IN_HINT}`, Exit.signIn);
  let session = saved;

  async function send(method: string, url: string, body: unknown): Promise<Response> {
    // Renewed before each call, not once per command: `request --wait` can outlive a token.
    session = await freshSession(session, io);
    let steppedUp = false;
    for (;;) {
      let res: Response;
      try {
        res = await io.fetch(url, {
          method,
          headers: {
            authorization: `Bearer ${session.accessToken}`,
            accept: 'application/json',
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
      } catch (e) {
        const cause = e instanceof Error && e.cause instanceof Error ? `: ${e.cause.message}` : '';
        throw new CliError(`cannot reach ${session.url}${cause}`, Exit.other);
      }
      const claims = res.status === 401 ? claimsChallenge(res.headers.get('www-authenticate')) : undefined;
      if (claims !== undefined && !steppedUp) {
        // The call is refused before anything changes, so replaying it after the sign-in is safe.
        await res.body?.cancel();
        session = await stepUp(session, claims, io);
        steppedUp = true;
        continue;
      }
      return res;
    }
  }

  return {
    async json<T>(method: string, path: string, options: { query?: Query; body?: unknown } = {}): Promise<T> {
      const res = await send(method, withQuery(`${session.url}${path}`, options.query), options.body);
      if (!res.ok) throw await problemError(res);
      const text = await res.text();
      return (text === '' ? undefined : JSON.parse(text)) as T;
    },
    async stream(path: string, query?: Query): Promise<Response> {
      const res = await send('GET', withQuery(`${session.url}${path}`, query), undefined);
      if (!res.ok) throw await problemError(res);
      return res;
    },
  };
}
