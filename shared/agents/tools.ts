/**
 * The MCP tools' stories (functions/mcp.ts registers them): thin entries over the request stories
 * and the execution guard, answering an agent with text it can act on and structured content.
 *
 * - `list_tasks`: the tasks this agent may request (policies that let agents of its kind ask).
 * - `request_action`: submits a request bound to the exact parameters, one use, a short grant.
 * - `get_request`: the caller's own request only (any other id: not found), and whether it may run.
 * - `run_action`: the approved action, once, through the execution guard.
 *
 * Every call is audited (`agent.toolCalled`) besides the rows the stories write; every row carries
 * the agent as `detail.client`. Nothing in a result names another person's request.
 */
import { AuditAction, type AuditOutcome, type AuditSink } from '#shared/audit/types';
import type { Tables } from '#shared/adapters/tables';
import type { Catalog, Task, TaskParameter } from '#shared/domain/catalog';
import { admitAgent, agentDurationHours, agentPolicy, type AgentIdentity } from '#shared/domain/agents';
import { DomainError, parseOrThrow } from '#shared/domain/errors';
import { resolvePolicy, type Policy } from '#shared/domain/policy';
import {
  isLive,
  SubmitRequestBody,
  toRequestView,
  type Request,
  type RequestView,
} from '#shared/domain/request';
import { z } from 'zod';
import type { Caller, RequestContext } from '#shared/requests/context';
import { execute, ExecutionFailedError, type ExecuteContext } from '#shared/requests/execute';
import { SubmitRateLimited, takeSubmit } from '#shared/requests/rate-limit';
import { submitRequest } from '#shared/requests/usecases';

export interface AgentToolsContext {
  requests: RequestContext;
  execute: ExecuteContext;
  /** The catalog's tasks, in name order, and the catalog they resolve policies in. */
  tasks(): Promise<readonly Task[]>;
  catalog(): Promise<Catalog>;
  tables: Tables;
  audit: AuditSink;
  /** `ZSA_AGENT_GRANT_MINUTES`. */
  grantMinutes: number;
  /** `ZSA_AGENT_RATE_LIMIT` over `ZSA_SUBMIT_RATE_WINDOW_SECONDS`. */
  rateLimit: { limit: number; windowSeconds: number };
}

/** Who calls: the caller the stories see, and what kind of agent it is. */
export interface AgentCaller {
  caller: Caller;
  identity: AgentIdentity;
}

/** A tool's answer: text for the model, structured content for the client; `error` makes it a tool error. */
export interface ToolAnswer {
  readonly text: string;
  readonly data: Record<string, unknown>;
  readonly error?: { readonly code: string } | undefined;
}

export const ToolName = {
  listTasks: 'list_tasks',
  requestAction: 'request_action',
  getRequest: 'get_request',
  runAction: 'run_action',
} as const;
export type ToolName = (typeof ToolName)[keyof typeof ToolName];

// --- Arguments (validated at the edge: the extension passes whatever the client sent) ----------

const Parameters = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]));

export const RequestActionArgs = z.strictObject({
  task: z.string().min(1).max(256),
  parameters: Parameters.optional(),
  reason: z.string().min(1).max(1000),
  ticket: z.string().min(1).max(128).optional(),
  clientRequestId: z.string().min(1).max(128).optional(),
});
export type RequestActionArgs = z.output<typeof RequestActionArgs>;

export const RequestIdArgs = z.strictObject({ requestId: z.string().min(1).max(64) });

export const RunActionArgs = z.strictObject({
  requestId: z.string().min(1).max(64),
  parameters: Parameters.optional(),
});
export type RunActionArgs = z.output<typeof RunActionArgs>;

// --- The tools --------------------------------------------------------------------------------

/** `list_tasks`: what this agent may ask for, with each task's parameters as a JSON Schema. */
export async function listTasks(ctx: AgentToolsContext, who: AgentCaller): Promise<ToolAnswer> {
  const [config, tasks, catalog, policies] = await Promise.all([
    ctx.requests.config.pamConfig(),
    ctx.tasks(),
    ctx.catalog(),
    ctx.requests.config.policies(),
  ]);
  if (!config.enabled)
    return refusal('PAM_DISABLED', 'Privileged access is disabled: no task may be requested now.', {
      tasks: [],
    });
  const allowed = tasks.filter((task) =>
    agentMayAsk(task, catalog, policies, config.defaultApproverGroup, who),
  );
  const shown = allowed.map((task) => ({
    name: task.name,
    description: task.description,
    parameters: parameterSchema(task.parameters ?? []),
  }));
  const text =
    shown.length === 0
      ? 'No task may be requested by you as an agent. An admin must allow agents in a policy.'
      : `You may request ${shown.length} task(s) with request_action (a human must approve each):\n` +
        shown.map((t) => `- ${t.name}: ${t.description}`).join('\n');
  return { text, data: { tasks: shown } };
}

function agentMayAsk(
  task: Task,
  catalog: Catalog,
  policies: readonly Policy[],
  defaultApproverGroup: string | null,
  who: AgentCaller,
): boolean {
  try {
    const policy = resolvePolicy({ scope: 'task', name: task.name }, catalog, policies, defaultApproverGroup);
    if (policy === undefined) return false;
    admitAgent(policy, who.identity);
    return true;
  } catch (e) {
    if (e instanceof DomainError) return false;
    throw e;
  }
}

/** A task's parameters as the JSON Schema of request_action's `parameters`. */
export function parameterSchema(parameters: readonly TaskParameter[]): Record<string, unknown> {
  return {
    type: 'object',
    properties: Object.fromEntries(
      parameters.map((p) => [
        p.name,
        {
          type: p.type,
          ...(p.description === undefined ? {} : { description: p.description }),
          ...(p.pattern === undefined ? {} : { pattern: p.pattern }),
          ...(p.maxLength === undefined ? {} : { maxLength: p.maxLength }),
        },
      ]),
    ),
    required: parameters.filter((p) => p.required).map((p) => p.name),
    additionalProperties: false,
  };
}

/** `request_action`: one exact action, one use, a short grant; answers at once, never waits. */
export async function requestAction(
  ctx: AgentToolsContext,
  who: AgentCaller,
  args: RequestActionArgs,
): Promise<ToolAnswer> {
  const { caller, identity } = who;
  const body = parseOrThrow(
    SubmitRequestBody,
    {
      task: args.task,
      reason: args.reason,
      ...(args.ticket === undefined ? {} : { ticket: args.ticket }),
      // An agent retrying after a lost answer gets the earlier request back, not a second one.
      ...(args.clientRequestId === undefined ? {} : { clientRequestId: args.clientRequestId }),
      // Always bound: an agent's grant runs exactly what was approved, and nothing else.
      parameters: args.parameters ?? {},
    },
    'request_action arguments',
  );
  // Per identity, apart from the person's own submits: an agent in a loop is held to its allowance.
  const admission = takeSubmit(
    ctx.tables,
    ctx.requests.repo,
    ctx.rateLimit,
    `agent|${caller.principal.id}`,
    undefined,
    ctx.requests.now,
  );
  admission.catch(() => undefined);
  const { view } = await submitRequest(ctx.requests, caller, body, admission, {
    plan: (policy) => {
      const { sponsor, sponsorId } = admitAgent(policy, identity);
      const narrowed = agentPolicy(policy, ctx.grantMinutes);
      return {
        policy: narrowed,
        durationHours: agentDurationHours(narrowed),
        // Mail a requester would get goes to the agent's sponsor: an agent has no mailbox.
        requester: sponsor ?? caller.principal.upn,
        agent: { mode: identity.mode, appId: identity.appId, name: identity.clientName, sponsor, sponsorId },
      };
    },
  });
  return { text: requestText(view, ctx.requests.now), data: requestData(view, ctx.requests.now) };
}

/** `get_request`: the caller's own request, and whether run_action may run it now. */
export async function getRequest(
  ctx: AgentToolsContext,
  who: AgentCaller,
  requestId: string,
): Promise<ToolAnswer> {
  const request = await ownRequest(ctx, who, requestId);
  const view = await viewOf(ctx, request);
  return { text: requestText(view, ctx.requests.now), data: requestData(view, ctx.requests.now) };
}

/** `run_action`: the approved action, once, with exactly the approved parameters. */
export async function runAction(
  ctx: AgentToolsContext,
  who: AgentCaller,
  args: RunActionArgs,
): Promise<ToolAnswer> {
  const request = await ownRequest(ctx, who, args.requestId);
  if (request.task === undefined)
    return refusal(
      'NO_ACTIVE_GRANT',
      'This request is not for a single task; run_action runs tasks only.',
      {},
    );
  try {
    const result = await execute(
      ctx.execute,
      who.caller,
      {
        task: request.task,
        requestId: request.id,
        parameters: args.parameters ?? request.parameters ?? {},
      },
      // Only the named, approved grant covers an agent's run: never a system account's exemption
      // or an admin's standing access (the person behind the agent approved nothing of it).
      { exemptions: false },
    );
    return {
      text: `Done: ${request.task} ran (execution ${result.executionId}). The approval is used up; ask again with request_action for another run.`,
      data: { ...result },
    };
  } catch (e) {
    if (e instanceof ExecutionFailedError)
      return refusal('EXECUTION_FAILED', e.message, { executionId: e.executionId });
    if (e instanceof DomainError && e.kind !== 'unavailable') {
      const fresh = (await ctx.requests.repo.read(request.id))?.request ?? request;
      return refusal(e.code, `${e.message}. ${runHint(fresh, args, ctx.execute.now())}`, {
        requestId: request.id,
      });
    }
    throw e;
  }
}

/**
 * What the agent should do after a refused run, from the request as it is now: wait for the
 * approval, ask again, or run with the approved parameters.
 */
export function runHint(request: Request, args: Pick<RunActionArgs, 'parameters'>, now: Date): string {
  switch (request.status) {
    case 'pending':
      return 'Not approved yet: a human must approve it first. Call get_request later; do not retry in a loop.';
    case 'approved':
      if (request.maxUses !== null && request.uses >= request.maxUses)
        return 'Its one run is used up. Ask again with request_action if another run is needed.';
      if (!isLive(request, now))
        return 'The approval is not live now (it has not started or has ended). Ask again with request_action.';
      if (args.parameters !== undefined)
        return `run_action runs only the approved parameters: ${JSON.stringify(request.parameters ?? {})}. Call it without parameters, or ask again with request_action for other ones.`;
      return 'Call get_request to see its state.';
    default:
      return `The request is ${request.status}${request.endReason === null ? '' : ` (${request.endReason})`}: it can no longer run. Ask again with request_action if still needed.`;
  }
}

// --- Helpers ----------------------------------------------------------------------------------

/**
 * A request this agent made: the caller's, made through the MCP tools in the same mode by the same
 * client application. Any other id, existing or not, is "not found" (nothing to learn) — above all
 * the person's own portal or CLI requests, whose grants may allow any parameters any number of times.
 */
async function ownRequest(ctx: AgentToolsContext, who: AgentCaller, requestId: string): Promise<Request> {
  const request = (await ctx.requests.repo.read(requestId))?.request;
  if (
    request === undefined ||
    request.requesterId !== who.caller.principal.id ||
    request.agent?.mode !== who.identity.mode ||
    request.agent.appId !== who.identity.appId
  )
    throw new DomainError('NOT_FOUND', `No request of yours has id ${requestId}`);
  return request;
}

async function viewOf(ctx: AgentToolsContext, request: Request): Promise<RequestView> {
  return toRequestView(request, await ctx.requests.repo.executions(request.id));
}

function refusal(code: string, text: string, data: Record<string, unknown>): ToolAnswer {
  return { text, data: { ...data, error: code }, error: { code } };
}

/** Who must approve now: the open stage's group (a name, never its members). */
function approverOf(view: RequestView): string | null {
  const stage = view.currentStage === null ? undefined : view.stages[view.currentStage];
  return stage?.approverGroup ?? view.approverGroup;
}

function requestData(view: RequestView, now: Date): Record<string, unknown> {
  const runnable = isLive(view, now) && (view.maxUses === null || view.uses < view.maxUses);
  return {
    requestId: view.id,
    status: view.status,
    task: view.task ?? null,
    parameters: view.parameters,
    approverGroup: view.status === 'pending' ? approverOf(view) : null,
    decideBy: view.status === 'pending' ? view.pendingUntil : null,
    expiresAt: view.expiresAt,
    usesLeft: view.maxUses === null ? null : Math.max(0, view.maxUses - view.uses),
    runnable,
  };
}

function requestText(view: RequestView, now: Date): string {
  const head = `Request ${view.id} for ${view.task ?? 'a task'} is ${view.status}.`;
  switch (view.status) {
    case 'pending':
      return `${head} A human in approver group "${approverOf(view) ?? 'the default group'}" must approve it by ${view.pendingUntil}. Wait for them; call get_request later to see whether it was approved. Do not call run_action before.`;
    case 'approved': {
      const left = view.maxUses === null ? null : Math.max(0, view.maxUses - view.uses);
      if (left === 0) return `${head} Its one run is used up; ask again with request_action if needed.`;
      if (view.expiresAt !== null && Date.parse(view.expiresAt) <= now.getTime())
        return `${head} Its grant expired at ${view.expiresAt}; ask again with request_action if needed.`;
      if (!isLive(view, now))
        return `${head} Its grant starts at ${view.grantedAt ?? 'its start'}; call get_request then.`;
      return `${head} run_action may run it now (${left === null ? 'no use limit' : `${left} use left`}, until ${view.expiresAt ?? 'the grant ends'}), with exactly the approved parameters.`;
    }
    default:
      return `${head} It can no longer run.`;
  }
}

/**
 * Runs one tool for one caller and audits the call: `agent.toolCalled` with the tool, the agent's
 * mode, the outcome and the refusal code. A story's refusal (DomainError, the rate limit) becomes a
 * tool error the agent can read; anything else fails the call (and is audited as a failure).
 */
export async function callTool(
  ctx: Pick<AgentToolsContext, 'audit'>,
  who: AgentCaller,
  tool: ToolName,
  run: () => Promise<ToolAnswer>,
): Promise<ToolAnswer> {
  let answer: ToolAnswer;
  let outcome: AuditOutcome = 'success';
  try {
    answer = await run();
    // The task ran and failed: a failure, not a refusal (the guard let it run).
    if (answer.error !== undefined)
      outcome = answer.error.code === 'EXECUTION_FAILED' ? 'failure' : 'refused';
  } catch (e) {
    if (e instanceof SubmitRateLimited) {
      answer = refusal('RATE_LIMITED', `${e.message} Wait before asking again.`, {
        retryAfterSeconds: e.retryAfterSeconds,
      });
      outcome = 'refused';
    } else if (e instanceof DomainError && e.kind !== 'unavailable') {
      answer = refusal(e.code, e.message, {});
      outcome = 'refused';
    } else if (e instanceof DomainError) {
      // Momentarily unavailable (a grant being activated, storage busy): a tool error the agent
      // can act on, with when to try again, rather than the client's generic failure text.
      const retryAfterSeconds = e.retryAfterSeconds ?? 1;
      answer = refusal(e.code, `${e.message} Try again in ${retryAfterSeconds} second(s).`, {
        retryAfterSeconds,
      });
      outcome = 'failure';
    } else {
      await audit(ctx, who, tool, 'failure', undefined).catch(() => undefined);
      throw e;
    }
  }
  await audit(ctx, who, tool, outcome, answer);
  return answer;
}

function audit(
  ctx: Pick<AgentToolsContext, 'audit'>,
  who: AgentCaller,
  tool: ToolName,
  outcome: AuditOutcome,
  answer: ToolAnswer | undefined,
): Promise<unknown> {
  const requestId = answer?.data['requestId'];
  return ctx.audit.append({
    action: AuditAction.AgentToolCalled,
    actor: who.caller.actor,
    outcome,
    requestId: typeof requestId === 'string' ? requestId : undefined,
    detail: {
      tool,
      mode: who.identity.mode,
      outcome,
      ...(answer?.error === undefined ? {} : { code: answer.error.code }),
    },
    origin: who.caller.origin,
  });
}
