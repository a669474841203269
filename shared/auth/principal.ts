import { NO_STRENGTH, type AuthStrength } from '#shared/domain/step-up';
import { AuthError } from './errors';
import { Role, knownRoles } from './roles';

export const AuthMethod = {
  Bearer: 'bearer',
  EasyAuth: 'easyAuth',
  /** The emailed single-use decision link was the only credential (functions/decisions.ts). */
  DecisionLink: 'decisionLink',
  /**
   * A Microsoft Teams activity signed by Bot Framework (shared/teams/inbound.ts): the user is its
   * `aadObjectId` in the configured tenant; it proves nothing about how they signed in.
   */
  Teams: 'teams',
} as const;

export type AuthMethod = (typeof AuthMethod)[keyof typeof AuthMethod];

/** The authenticated caller, as every handler sees it, however they signed in. */
export interface Principal {
  /**
   * Stable key for the user: `${tenantId}:${objectId}` (Entra's `sub` is per-application and the
   * UPN can be renamed, so neither is a key); `dev:${sub}` only for a token carrying neither.
   */
  readonly id: string;
  readonly tenantId?: string;
  readonly objectId?: string;
  /**
   * Lower-cased; for display and the audit only. No right follows from it: membership, system
   * accounts and "is this the requester" compare `id`.
   */
  readonly upn: string;
  readonly name?: string;
  readonly roles: readonly Role[];
  readonly isAdmin: boolean;
  readonly isAuditor: boolean;
  readonly authMethod: AuthMethod;
  /**
   * What the credential proves about how the user signed in (`acrs`: Conditional Access
   * authentication contexts satisfied; `amr`: methods used, such as `mfa`). Decisions on a request
   * whose policy asks for step-up check it. The emailed link alone proves nothing (NO_STRENGTH).
   */
  readonly strength: AuthStrength;
  /**
   * Set only for a caller of the MCP tools (shared/agents/identity.ts): the AI agent's client
   * application, and whether the agent is the caller itself (an app-only token) rather than a user
   * signed in to it. The HTTP API never sets it: it refuses app-only tokens (no user name).
   */
  readonly agent?: { readonly appId: string; readonly ownIdentity: boolean } | undefined;
}

/**
 * The claims ZSA reads, already pulled out of a JWT payload or an Easy Auth header. Not `email` or
 * `unique_name`: Microsoft documents them as mutable and unfit for authorization, and a name shown
 * to approvers must not be one the user chose.
 */
export interface IdentityClaims {
  readonly tid?: string | undefined;
  readonly oid?: string | undefined;
  readonly sub?: string | undefined;
  readonly upn?: string | undefined;
  readonly preferred_username?: string | undefined;
  readonly name?: string | undefined;
  readonly roles: readonly string[];
  /** `acrs` values (authentication contexts) as the credential lists them; cleaned in strengthValues. */
  readonly acrs?: readonly unknown[] | undefined;
  /** `amr` values (authentication methods) as the credential lists them; cleaned in strengthValues. */
  readonly amr?: readonly unknown[] | undefined;
  /**
   * The client application the token was issued to (`azp` in v2 tokens, `appid` in v1), whether it
   * is an app-only token (`idtyp: app`), and its delegated scopes (`scp`): what the MCP tools tell
   * an agent acting for a user from an agent acting as itself by (shared/agents/identity.ts).
   */
  readonly azp?: string | undefined;
  readonly appid?: string | undefined;
  readonly idtyp?: string | undefined;
  readonly scp?: string | undefined;
}

export type PrincipalResult =
  { readonly ok: true; readonly principal: Principal } | { readonly ok: false; readonly reason: string };

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isGuid(value: string): boolean {
  return GUID.test(value);
}

const MAX_UPN_LENGTH = 256;
const MAX_NAME_LENGTH = 256;
// Whitespace or control characters in a user name would make it ambiguous in lists and logs.
const UNSAFE_UPN = /[\s\u0000-\u001f\u007f]/;
const CONTROL = /[\u0000-\u001f\u007f]/g;

/**
 * Maps claims to a principal, or says (safely, without echoing values) why they are not enough.
 * Pure: the caller decides which error code a failure becomes.
 */
export function principalFromClaims(claims: IdentityClaims, authMethod: AuthMethod): PrincipalResult {
  const tid = nonEmpty(claims.tid);
  const oid = nonEmpty(claims.oid);
  if (tid !== undefined && !isGuid(tid)) return { ok: false, reason: 'the tenant id (tid) is not a GUID' };
  if (oid !== undefined && !isGuid(oid)) return { ok: false, reason: 'the object id (oid) is not a GUID' };

  let id: string;
  if (tid !== undefined && oid !== undefined) {
    id = `${tid.toLowerCase()}:${oid.toLowerCase()}`;
  } else if (tid === undefined && oid === undefined) {
    const sub = nonEmpty(claims.sub);
    if (sub === undefined) return { ok: false, reason: 'no user identifier (tid and oid, or sub)' };
    id = `dev:${sub}`;
  } else {
    // Half a key would collide across tenants (or within one): refuse rather than guess.
    return { ok: false, reason: 'tid and oid must both be present' };
  }

  // The name shown to approvers and in the audit. Never `email` or `unique_name`: a user can have an
  // address set that names someone else, and an approver must not read "carol" for a stranger.
  const rawUpn = nonEmpty(claims.upn) ?? nonEmpty(claims.preferred_username);
  if (rawUpn === undefined) {
    return { ok: false, reason: 'no user name (upn or preferred_username)' };
  }
  const upn = rawUpn.toLowerCase();
  if (upn.length > MAX_UPN_LENGTH || UNSAFE_UPN.test(upn)) {
    return { ok: false, reason: 'the user name is too long or contains spaces or control characters' };
  }

  const name = nonEmpty(claims.name)?.replace(CONTROL, '').slice(0, MAX_NAME_LENGTH);
  const roles = knownRoles(claims.roles);
  const principal: Principal = {
    id,
    ...(tid !== undefined && oid !== undefined
      ? { tenantId: tid.toLowerCase(), objectId: oid.toLowerCase() }
      : {}),
    upn,
    ...(name !== undefined && name !== '' ? { name } : {}),
    roles,
    isAdmin: roles.includes(Role.Admin),
    isAuditor: roles.includes(Role.Auditor),
    authMethod,
    strength: strengthOf(claims),
  };
  return { ok: true, principal };
}

// Entra lists a handful of each; a credential naming more is not one we should read in full.
const MAX_STRENGTH_VALUES = 32;
const MAX_STRENGTH_VALUE_LENGTH = 64;
const STRENGTH_VALUE = /^[\x21-\x7e]+$/;

/**
 * The bounded, cleaned strength values: strings only, printable ASCII without spaces, at most
 * MAX_STRENGTH_VALUE_LENGTH long, at most MAX_STRENGTH_VALUES of them, without repeats. Anything
 * else is dropped, not refused: a value we cannot read proves nothing, and nothing is what a
 * missing claim proves too.
 */
export function strengthValues(values: readonly unknown[] | undefined): string[] {
  const kept = new Set<string>();
  for (const value of values ?? []) {
    if (kept.size >= MAX_STRENGTH_VALUES) break;
    if (typeof value !== 'string') continue;
    const trimmed = value.trim();
    if (trimmed.length === 0 || trimmed.length > MAX_STRENGTH_VALUE_LENGTH || !STRENGTH_VALUE.test(trimmed))
      continue;
    kept.add(trimmed);
  }
  return [...kept];
}

function strengthOf(claims: IdentityClaims): AuthStrength {
  const acrs = strengthValues(claims.acrs);
  const amr = strengthValues(claims.amr);
  return acrs.length === 0 && amr.length === 0 ? NO_STRENGTH : { acrs, amr };
}

/** A claim that should be an array of strings; a lone string is read as one value, anything else as none. */
function stringList(value: unknown): readonly unknown[] {
  if (Array.isArray(value)) return value.slice(0, MAX_STRENGTH_VALUES * 4);
  return typeof value === 'string' ? [value] : [];
}

/** Reads the claims ZSA uses from a verified JWT payload, ignoring values of the wrong type. */
export function claimsFromJwtPayload(payload: Readonly<Record<string, unknown>>): IdentityClaims {
  const roles = payload['roles'];
  return {
    acrs: stringList(payload['acrs']),
    amr: stringList(payload['amr']),
    tid: stringOrUndefined(payload['tid']),
    oid: stringOrUndefined(payload['oid']),
    sub: stringOrUndefined(payload['sub']),
    upn: stringOrUndefined(payload['upn']),
    preferred_username: stringOrUndefined(payload['preferred_username']),
    name: stringOrUndefined(payload['name']),
    azp: stringOrUndefined(payload['azp']),
    appid: stringOrUndefined(payload['appid']),
    idtyp: stringOrUndefined(payload['idtyp']),
    scp: stringOrUndefined(payload['scp']),
    roles: Array.isArray(roles)
      ? roles.filter((r): r is string => typeof r === 'string')
      : typeof roles === 'string'
        ? [roles]
        : [],
  };
}

/**
 * Refuses with 403 unless the principal holds at least one of the roles. Approver rights are not
 * roles (they come from approver groups), so they are checked elsewhere.
 */
export function requireRole(principal: Principal, ...anyOf: readonly Role[]): void {
  if (!anyOf.some((role) => principal.roles.includes(role))) {
    throw new AuthError('INSUFFICIENT_ROLE', `This operation requires the role ${anyOf.join(' or ')}.`);
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
