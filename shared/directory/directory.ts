/**
 * The directory: who a UPN names, as a stable key (`<tenant id>:<object id>`). Approver group
 * members and system accounts are resolved through it when an admin saves them, so every later
 * authorization compares keys and never a name a token merely carries.
 *
 * One client, Microsoft Graph's `GET /users/{upn}`: in Azure at Graph itself with the app's managed
 * identity (application permission `User.Read.All`), on the local host at the development issuer's
 * Graph-shaped directory (`ZSA_DIRECTORY_URL`), which answers every UPN with the object id its tokens
 * carry. Only a loopback directory is called without a token, and the start-up guard refuses one in
 * Azure.
 */
import type { TokenCredential } from '@azure/identity';
import { z } from 'zod';
import { DomainError } from '#shared/domain/errors';
import { normalizeUpn } from '#shared/domain/names';
import type { Member } from '#shared/domain/pam';
import { isLoopbackHost } from '#shared/domain/loopback';

export interface Directory {
  /**
   * The members `upns` name, in order, undefined where the directory knows no such user. Throws
   * UNAVAILABLE when it cannot be asked.
   */
  lookup(upns: readonly string[]): Promise<(Member | undefined)[]>;
  /**
   * `lookup`, for an admin's input: throws INVALID_INPUT (with a pointer per unknown UPN, under
   * `pointer`) when the directory knows some of them not.
   */
  resolve(upns: readonly string[], pointer: string): Promise<Member[]>;
}

/** `Directory.resolve` from a `lookup`. */
export function resolving(lookup: Directory['lookup']): Directory {
  return {
    lookup,
    async resolve(upns, pointer) {
      const found = await lookup(upns);
      const errors = upns.flatMap((upn, i) =>
        found[i] === undefined
          ? [{ pointer: `${pointer}/${i}`, detail: `the directory has no user ${JSON.stringify(upn)}` }]
          : [],
      );
      if (errors.length > 0)
        throw new DomainError(
          'INVALID_INPUT',
          `The directory knows no user by ${errors.length === 1 ? 'one of these names' : `${errors.length} of these names`}; give each person's user principal name (UPN)`,
          { errors },
        );
      return found as Member[];
    },
  };
}

export const GRAPH_V1 = 'https://graph.microsoft.com/v1.0';
const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';
const TIMEOUT_MS = 10_000;
/** Lookups in flight at once: Graph throttles per app and tenant, and groups hold up to 500 members. */
const IN_PARALLEL = 8;

const GraphUser = z.object({ id: z.string(), userPrincipalName: z.string().nullish() });
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface DirectoryOptions {
  /** Graph's base URL with its version (`https://graph.microsoft.com/v1.0`), or the local host's. */
  readonly baseUrl: string;
  /** The tenant every resolved user belongs to: the tenant whose tokens ZSA accepts. */
  readonly tenantId: string;
  /** How to get a Graph token; undefined only for a loopback directory. */
  readonly credential: TokenCredential | undefined;
}

export function isLoopbackUrl(url: string): boolean {
  try {
    const { protocol, hostname } = new URL(url);
    return protocol === 'http:' && isLoopbackHost(hostname);
  } catch {
    return false;
  }
}

function directoryUnavailable(detail: string, cause?: unknown): DomainError {
  return new DomainError(
    'UNAVAILABLE',
    `The directory could not resolve users right now (${detail}); try again shortly.`,
    {
      cause,
    },
  );
}

/**
 * `users/{upn}`, or, for a UPN that starts with `$` (which Graph would read as a system segment),
 * `users('{upn}')` with quotes doubled, as Graph asks.
 */
export function userPath(upn: string): string {
  return upn.startsWith('$')
    ? `users('${encodeURIComponent(upn.replace(/'/g, "''"))}')`
    : `users/${encodeURIComponent(upn)}`;
}

export function graphDirectory(options: DirectoryOptions): Directory {
  if (!GUID.test(options.tenantId)) throw new Error('The directory needs the tenant id as a GUID.');
  const tenantId = options.tenantId.toLowerCase();
  const base = options.baseUrl.replace(/\/+$/, '');

  async function authorization(): Promise<Record<string, string>> {
    if (options.credential === undefined) return {};
    let token;
    try {
      token = await options.credential.getToken(GRAPH_SCOPE);
    } catch (e) {
      throw directoryUnavailable('no token for Microsoft Graph', e);
    }
    if (!token) throw directoryUnavailable('no token for Microsoft Graph');
    return { authorization: `Bearer ${token.token}` };
  }

  /** The member, or undefined when the directory has no such user. */
  async function lookup(upn: string, headers: Record<string, string>): Promise<Member | undefined> {
    let res: Response;
    try {
      res = await fetch(`${base}/${userPath(upn)}?$select=id,userPrincipalName`, {
        headers: { ...headers, accept: 'application/json' },
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (e) {
      throw directoryUnavailable('the directory did not answer', e);
    }
    // 400: Graph's answer to a name it cannot look up at all (not a UPN): unknown, the admin's to fix.
    if (res.status === 404 || res.status === 400) {
      await res.body?.cancel();
      return undefined;
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw directoryUnavailable(
        `the directory refused ZSA (HTTP ${res.status}); its identity needs the Microsoft Graph permission User.Read.All`,
      );
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw directoryUnavailable(`the directory answered HTTP ${res.status}`);
    }
    const user = GraphUser.safeParse(await res.json().catch(() => undefined));
    if (!user.success || !GUID.test(user.data.id))
      throw directoryUnavailable('the directory answered something unexpected');
    return {
      upn: normalizeUpn(user.data.userPrincipalName ?? upn),
      id: `${tenantId}:${user.data.id.toLowerCase()}`,
    };
  }

  return resolving(async (upns) => {
    if (upns.length === 0) return [];
    const headers = await authorization();
    const found: (Member | undefined)[] = [];
    for (let i = 0; i < upns.length; i += IN_PARALLEL)
      found.push(...(await Promise.all(upns.slice(i, i + IN_PARALLEL).map((upn) => lookup(upn, headers)))));
    return found;
  });
}
