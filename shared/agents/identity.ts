/**
 * Who calls an MCP tool. The Functions MCP extension hands every tool the HTTP headers of the MCP
 * request (`transport.properties.headers` of the invocation context): the same Authorization
 * header, or App Service Authentication's `x-ms-client-principal`, that any API call carries. The
 * app's one authenticator verifies it (issuer, audience, tenant); this module decides what kind of
 * agent the verified claims describe (shared/domain/agents.ts). Pure apart from that verification.
 */
import type { AuditOrigin } from '#shared/audit/types';
import {
  isGuid,
  principalFromClaims,
  type AuthMethod,
  type IdentityClaims,
  type Principal,
} from '#shared/auth/principal';
import type { AgentIdentity } from '#shared/domain/agents';
import { NO_STRENGTH } from '#shared/domain/step-up';

/** Why the claims cannot be an agent's; said to the agent as a tool error. */
export class AgentIdentityError extends Error {}

const CONTROL = /[\u0000-\u001f\u007f]/g;
const MAX_NAME = 128;

/** A client-chosen name as the audit may show it: no control characters, bounded; null when empty. */
export function clientNameOf(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const name = value.replace(CONTROL, '').trim().slice(0, MAX_NAME);
  return name === '' ? null : name;
}

/**
 * An app-only token: Entra marks it `idtyp: app` (optional claim); without that claim, a token with
 * neither delegated scopes (`scp`) nor a user name is one too.
 */
function isAppOnly(claims: IdentityClaims): boolean {
  if (claims.idtyp !== undefined) return claims.idtyp === 'app';
  return claims.scp === undefined && claims.upn === undefined && claims.preferred_username === undefined;
}

/** The display name (and audit name) of an agent with its own identity: never a mailbox. */
export function agentUpn(appId: string): string {
  const safe = appId
    .toLowerCase()
    .replace(/[^a-z0-9._-]/g, '-')
    .slice(0, 64);
  return `${safe}@agents.invalid`;
}

/**
 * The caller of a tool from its verified claims: a user signed in to an agent (the user is the
 * principal, the agent its client), or an agent with its own identity (its service principal is
 * the principal, with no roles: an agent is never an admin or an auditor). Throws
 * AgentIdentityError for claims that are neither.
 */
export function agentCallerOf(
  claims: IdentityClaims,
  method: AuthMethod,
  clientName: string | null,
): { principal: Principal; identity: AgentIdentity } {
  const appId = clientNameOf(claims.azp ?? claims.appid);
  if (appId === null) throw new AgentIdentityError('The token names no client application (azp or appid).');
  if (!isAppOnly(claims)) {
    const result = principalFromClaims(claims, method);
    if (!result.ok) throw new AgentIdentityError(`The token is not usable: ${result.reason}.`);
    return {
      principal: { ...result.principal, agent: { appId, ownIdentity: false } },
      identity: { mode: 'onBehalfOf', appId, clientName },
    };
  }
  const tid = claims.tid?.trim();
  const oid = claims.oid?.trim();
  if (tid === undefined || oid === undefined || !isGuid(tid) || !isGuid(oid))
    throw new AgentIdentityError(
      'An app-only token must carry the tenant (tid) and object id (oid) as GUIDs.',
    );
  const key = `${tid.toLowerCase()}:${oid.toLowerCase()}`;
  return {
    principal: {
      id: key,
      tenantId: tid.toLowerCase(),
      objectId: oid.toLowerCase(),
      upn: agentUpn(appId),
      roles: [],
      isAdmin: false,
      isAuditor: false,
      authMethod: method,
      strength: NO_STRENGTH,
      agent: { appId, ownIdentity: true },
    },
    identity: { mode: 'ownIdentity', appId, clientName, key },
  };
}

/** The origin of a tool call's audit rows: the invocation, the MCP client's user agent, the agent. */
export function toolOrigin(
  correlationId: string,
  userAgent: string | null,
  client: Readonly<Record<string, unknown>>,
): AuditOrigin {
  return {
    correlationId,
    userAgent: userAgent?.slice(0, 256) ?? undefined,
    client,
  };
}
