/**
 * AI agents as requesters (docs/agents.md, docs/decisions/0015-mcp-tools.md). An agent calls ZSA's
 * MCP tools with an Entra token, in one of two modes:
 *
 * - `onBehalfOf`: a delegated token — a user signed in to the agent (VS Code, Claude…). The user
 *   is the requester; the agent is recorded as the client on every audit row.
 * - `ownIdentity`: an app-only token — a service principal or managed identity. The agent itself
 *   is the requester (its `<tenant id>:<object id>` key), and the human sponsor the policy names
 *   for it is told of every request (request mail that would go to a requester goes to them).
 *
 * A policy opts in per target with its `agents` field; without it no agent may ask for the target.
 * Only a manual-approval policy may let agents ask: a person approves every agent's action.
 * An agent's grant is always a single use of exactly the approved parameters, for the shorter of
 * the policy's agent maximum and `ZSA_AGENT_GRANT_MINUTES`. Pure: no I/O, no clock.
 */
import { z } from 'zod';
import { DomainError } from './errors';
import { Upn } from './names';
import { UserKey } from './pam';
import type { Policy } from './policy';

/** The most minutes an agent's grant may last, whatever a policy or the setting says: one day. */
export const MAX_AGENT_GRANT_MINUTES = 1440;

export const AgentMode = {
  /** No agent may request the target (the default when a policy has no `agents`). */
  none: 'none',
  onBehalfOf: 'onBehalfOf',
  ownIdentity: 'ownIdentity',
  both: 'both',
} as const;
export type AgentMode = (typeof AgentMode)[keyof typeof AgentMode];

/** A policy's `agents` field: which agents may request its target, and on what terms. */
export const AgentsPolicy = z
  .strictObject({
    mode: z.enum(AgentMode).meta({
      description:
        '`onBehalfOf`: agents a user signed in to may ask as that user; `ownIdentity`: agents with their own identity (app-only token) may ask, their sponsor is told; `both`; `none`.',
    }),
    sponsors: z.record(UserKey, Upn).optional().meta({
      description:
        'Per agent identity (`<tenant id>:<object id>` of its service principal), the person told of each of its requests (UPN). An agent with its own identity and no sponsor here may not ask.',
    }),
    sponsorIds: z.record(UserKey, UserKey).optional().meta({
      description:
        "Set by ZSA when the policy is saved (any value sent is replaced): each sponsor's stable key (`<tenant id>:<object id>`), resolved through the directory, so a sponsor may not approve their agent's request.",
    }),
    maxGrantMinutes: z.int().min(1).max(MAX_AGENT_GRANT_MINUTES).optional().meta({
      description:
        'The longest grant an agent may get, in minutes (the shorter of this, the policy maximum and ZSA_AGENT_GRANT_MINUTES).',
    }),
  })
  .meta({ description: 'Whether and how AI agents may request this target through the MCP tools.' });
export type AgentsPolicy = z.output<typeof AgentsPolicy>;

/** Who an agent is, as the MCP tools authenticated it. */
export type AgentIdentity =
  | {
      readonly mode: 'onBehalfOf';
      /** The client application the user signed in to (`azp`/`appid`). */
      readonly appId: string;
      /** The MCP client's own name (`clientInfo` of the handshake), when the host passed it on. */
      readonly clientName: string | null;
    }
  | {
      readonly mode: 'ownIdentity';
      readonly appId: string;
      readonly clientName: string | null;
      /** The service principal's stable key, `<tenant id>:<object id>`: the requester. */
      readonly key: string;
    };

/** How the client of a call is recorded on every audit row it writes (`detail.client`). */
export interface AgentClient {
  readonly kind: 'agent';
  readonly appId: string;
  readonly name: string | null;
  readonly mode: AgentIdentity['mode'];
  readonly sponsor?: string | undefined;
}

export function agentClient(identity: AgentIdentity, sponsor?: string): AgentClient {
  return {
    kind: 'agent',
    appId: identity.appId,
    name: identity.clientName,
    mode: identity.mode,
    ...(sponsor === undefined ? {} : { sponsor }),
  };
}

/** What a request made by an agent records of it (shown to approvers, in mail and in the API). */
export const RequestAgent = z
  .strictObject({
    mode: z.enum(['onBehalfOf', 'ownIdentity']).meta({
      description:
        '`onBehalfOf`: the requester signed in to the agent; `ownIdentity`: the agent asked as itself.',
    }),
    appId: z.string().min(1).max(128).meta({ description: "The agent's client application id." }),
    name: z.string().max(128).nullable().meta({ description: "The agent's MCP client name, if known." }),
    sponsor: Upn.nullable().meta({
      description: 'For an agent with its own identity, the person told of its requests.',
    }),
    sponsorId: UserKey.nullable().optional().meta({
      description:
        "The sponsor's stable key, as the policy resolved it when saved (absent or null when unknown): the sponsor may not approve the request.",
    }),
  })
  .meta({ description: 'Set when an AI agent made the request through the MCP tools.' });
export type RequestAgent = z.output<typeof RequestAgent>;

function modeAllows(mode: AgentMode, wanted: AgentIdentity['mode']): boolean {
  return mode === 'both' || mode === wanted;
}

/**
 * Whether this agent may request a target governed by `policy`: refuses AGENT_NOT_ALLOWED (the
 * policy does not let agents, or not this kind of agent, ask; it approves automatically; or an
 * agent with its own identity has no sponsor). Answers the sponsor (null for an agent acting for
 * a user).
 */
export function admitAgent(
  policy: Pick<Policy, 'agents' | 'approvalType'>,
  identity: AgentIdentity,
): { sponsor: string | null; sponsorId: string | null } {
  const agents = policy.agents;
  // Policy validation refuses agents on an automatic policy; a row stored before that rule is
  // refused here too, so no agent's action ever runs without a person's approval.
  if (agents !== undefined && agents.mode !== 'none' && policy.approvalType !== 'manual') {
    throw new DomainError(
      'AGENT_NOT_ALLOWED',
      'The policy for this task approves automatically; agents may only ask where a person approves',
    );
  }
  if (agents === undefined || !modeAllows(agents.mode, identity.mode)) {
    throw new DomainError(
      'AGENT_NOT_ALLOWED',
      identity.mode === 'onBehalfOf'
        ? 'The policy for this task does not let agents request it for a user; ask a person to request it in the portal'
        : 'The policy for this task does not let agents with their own identity request it',
    );
  }
  if (identity.mode === 'onBehalfOf') return { sponsor: null, sponsorId: null };
  const sponsor = agents.sponsors?.[identity.key];
  if (sponsor === undefined) {
    throw new DomainError(
      'AGENT_NOT_ALLOWED',
      `No sponsor is named for this agent (${identity.key}) in the policy; an admin must name the person responsible for it`,
    );
  }
  return { sponsor, sponsorId: agents.sponsorIds?.[identity.key] ?? null };
}

/**
 * The policy an agent's request is planned by: at most one use (`maxUses: 1`), and a grant of at
 * most the policy's agent maximum and `settingMinutes` (and the policy's own maximum). The rest
 * (approvers, stages, pending window) stays the policy's.
 */
export function agentPolicy(policy: Policy, settingMinutes: number): Policy {
  const minutes = Math.min(
    policy.agents?.maxGrantMinutes ?? MAX_AGENT_GRANT_MINUTES,
    settingMinutes,
    MAX_AGENT_GRANT_MINUTES,
  );
  const hours = minutes / 60;
  return {
    ...policy,
    maxUses: 1,
    maxDurationHours: Math.min(policy.maxDurationHours ?? hours, hours),
    // An agent's grant is one exact action: nothing to extend, nothing to schedule or break glass for.
    maxExtensions: 0,
  };
}

/** How long an agent's grant lasts: the longest its (narrowed) policy allows. */
export function agentDurationHours(policy: Pick<Policy, 'maxDurationHours'>): number {
  if (policy.maxDurationHours === undefined) throw new Error('an agent policy always has a maximum');
  return policy.maxDurationHours;
}
