/** What an approver reads: outcomes and refusals in words, not status codes. */
import { ApiError } from '../../api/errors';
import type { RequestView } from '../../api/types';

/** The target of a request: "task restart-vm", "role operator", "role group on-call". */
export function targetOf(request: Pick<RequestView, 'task' | 'role' | 'roleGroup'>): string {
  if (request.task) return `Task ${request.task}`;
  if (request.role) return `Role ${request.role}`;
  if (request.roleGroup) return `Role group ${request.roleGroup}`;
  return 'Unknown target';
}

/**
 * Who asks, as the emailed decision page says it: the requester, or the AI agent that asked for
 * them, or the agent itself with the sponsor who takes its mail (then `requester` is the sponsor).
 */
export function askedBy(request: Pick<RequestView, 'requester' | 'agent'>): string {
  const agent = request.agent;
  if (agent === undefined) return request.requester;
  const name = `AI agent ${agent.name ?? agent.appId}`;
  return agent.mode === 'onBehalfOf'
    ? `${name} for ${request.requester}`
    : `${name} (its own identity; sponsor ${request.requester})`;
}

/** What an approver must know of an agent's request before approving it. */
export const AGENT_TERMS = 'It may run exactly the parameters shown, once, and only if you approve.';

/** What the approver's decision did, from the request the API answered with. */
export function decisionOutcome(
  before: RequestView,
  after: RequestView,
  decision: 'approve' | 'deny',
): string {
  if (decision === 'deny' || after.status === 'denied') return 'Denied';
  if (after.status !== 'pending') return 'Approved';
  if (after.currentStage !== null && after.currentStage !== before.currentStage) {
    return `Approved — waiting for stage ${after.currentStage + 1}`;
  }
  return 'Approved — waiting for more approvals';
}

/** An extension's outcome, likewise. */
export function extensionOutcome(
  after: RequestView,
  extensionId: string,
  decision: 'approve' | 'deny',
): string {
  if (decision === 'deny') return 'Extension denied';
  const extension = after.extensions.find((e) => e.id === extensionId);
  if (!extension || extension.status === 'approved') return 'Extension approved';
  return 'Approved — the extension waits for more approvals';
}

const REFUSALS: Readonly<Record<string, string>> = {
  ALREADY_DECIDED: 'You already decided on this.',
  REQUEST_NOT_PENDING: 'Someone decided first: the request is no longer waiting for a decision.',
  EXTENSION_NOT_PENDING: 'Someone decided first: the extension is no longer waiting for a decision.',
  STAGE_NOT_OPEN:
    'It is not your stage yet: an earlier stage decides first. You will be told when your stage opens.',
  SELF_APPROVAL: 'You cannot decide on your own request.',
  NOT_AN_APPROVER: 'You are not an approver of this request.',
  REVIEW_NOT_OPEN: 'This review is already closed: someone reviewed it first.',
};

/** A refusal of a decision in words (the problem's detail stays below it); undefined when not a known refusal. */
export function refusalWords(error: unknown): string | undefined {
  if (!(error instanceof ApiError) || !error.code) return undefined;
  return REFUSALS[error.code];
}
