/**
 * ZSA as a remote MCP server (docs/agents.md, docs/decisions/0015-mcp-tools.md): four tools served by
 * the Functions MCP extension at `/runtime/webhooks/mcp` (the local host serves them the same way).
 * Each handler: authenticate (the MCP request's own headers) → parse → story → answer.
 */
import { app, arg, McpContentBlock, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { z } from 'zod';
import { getDeps } from '#shared/app/deps';
import { AuthError } from '#shared/auth/index';
import { listCatalogEntries } from '#shared/admin/catalog-repository';
import { loadCatalog } from '#shared/admin/config-reader';
import { agentClient } from '#shared/domain/agents';
import { parseOrThrow } from '#shared/domain/errors';
import { auditActor } from '#shared/http/auth';
import { AgentIdentityError, agentCallerOf, clientNameOf, toolOrigin } from '#shared/agents/identity';
import {
  callTool,
  getRequest,
  listTasks,
  requestAction,
  RequestActionArgs,
  RequestIdArgs,
  runAction,
  RunActionArgs,
  ToolName,
  type AgentCaller,
  type AgentToolsContext,
  type ToolAnswer,
} from '#shared/agents/tools';
import { executeContext, requestContext } from '#shared/requests/wiring';

/**
 * The trigger value the extension passes (its ToolInvocationContext, as JSON). Only what ZSA reads
 * is checked; the extension may add fields. `clientinfo` is absent over stateless Streamable HTTP.
 */
const ToolInvocation = z.object({
  name: z.string(),
  arguments: z.record(z.string(), z.unknown()).nullish(),
  clientinfo: z.object({ name: z.unknown() }).nullish(),
  transport: z
    .object({ properties: z.object({ headers: z.record(z.string(), z.unknown()).nullish() }).nullish() })
    .nullish(),
});
type ToolInvocation = z.output<typeof ToolInvocation>;

/**
 * A whole MCP CallToolResult as one content block: the extension (ToolReturnValueBinder) maps a
 * result of type `call_tool_result` to exactly this result, which is the only way @azure/functions
 * lets a tool answer `isError` together with its own message and structured content (its
 * McpToolResponse drops `isError`, and a thrown error reaches the agent as generic text).
 */
class CallToolResult extends McpContentBlock {
  readonly type = 'call_tool_result';
  constructor(private readonly answer: ToolAnswer) {
    super();
  }
  toJSON(): Record<string, unknown> {
    return {
      content: [{ type: 'text', text: this.answer.text }],
      structuredContent: this.answer.data,
      ...(this.answer.error === undefined ? {} : { isError: true }),
    };
  }
}

/** Request headers as the extension forwards them: names as the client sent them, read case-insensitively. */
function headersOf(invocation: ToolInvocation): { get(name: string): string | null } {
  const given = invocation.transport?.properties?.headers ?? {};
  const byName = new Map(
    Object.entries(given).flatMap(([k, v]) => (typeof v === 'string' ? [[k.toLowerCase(), v] as const] : [])),
  );
  return { get: (name) => byName.get(name.toLowerCase()) ?? null };
}

function toolsContext(invocation: InvocationContext): AgentToolsContext {
  const deps = getDeps();
  return {
    requests: requestContext(invocation),
    execute: executeContext(invocation),
    tasks: () => listCatalogEntries(deps.tables, 'task'),
    catalog: () => loadCatalog(deps.tables),
    tables: deps.tables,
    audit: deps.audit,
    grantMinutes: deps.settings.ZSA_AGENT_GRANT_MINUTES,
    rateLimit: {
      limit: deps.settings.ZSA_AGENT_RATE_LIMIT,
      windowSeconds: deps.settings.ZSA_SUBMIT_RATE_WINDOW_SECONDS,
    },
  };
}

const SIGN_IN =
  'Sign-in is needed: call this tool with an Entra access token for ZSA (Authorization: Bearer), either signed in as a user or as the agent’s own identity.';

/** Authenticates the MCP request's caller as an agent, or answers why not (a tool error, never details of a token). */
async function callerOf(
  invocation: ToolInvocation,
  context: InvocationContext,
): Promise<AgentCaller | ToolAnswer> {
  const headers = headersOf(invocation);
  try {
    const { claims, method } = await getDeps().authenticator.claims(headers);
    const { principal, identity } = agentCallerOf(claims, method, clientNameOf(invocation.clientinfo?.name));
    const caller = {
      principal,
      actor: auditActor(principal),
      origin: toolOrigin(context.invocationId, headers.get('user-agent'), { ...agentClient(identity) }),
    };
    return { caller, identity };
  } catch (e) {
    if (e instanceof AuthError || e instanceof AgentIdentityError) {
      context.warn(`MCP tool call refused: ${e.message}`);
      return {
        text: `${SIGN_IN} (${e.message})`,
        data: { error: 'SIGN_IN_REQUIRED' },
        error: { code: 'SIGN_IN_REQUIRED' },
      };
    }
    throw e;
  }
}

function tool<S extends z.ZodType>(
  name: ToolName,
  schema: S,
  story: (ctx: AgentToolsContext, who: AgentCaller, args: z.output<S>) => Promise<ToolAnswer>,
) {
  return async (trigger: unknown, context: InvocationContext): Promise<CallToolResult> => {
    const invocation = parseOrThrow(ToolInvocation, trigger, 'MCP tool invocation');
    const who = await callerOf(invocation, context);
    if (!('caller' in who)) return new CallToolResult(who);
    const ctx = toolsContext(context);
    return new CallToolResult(
      await callTool(ctx, who, name, () =>
        story(ctx, who, parseOrThrow(schema, invocation.arguments ?? {}, `${name} arguments`)),
      ),
    );
  };
}

export const listTasksTool = tool(ToolName.listTasks, z.object({}), (ctx, who) => listTasks(ctx, who));
export const requestActionTool = tool(ToolName.requestAction, RequestActionArgs, requestAction);
export const getRequestTool = tool(ToolName.getRequest, RequestIdArgs, (ctx, who, args) =>
  getRequest(ctx, who, args.requestId),
);
export const runActionTool = tool(ToolName.runAction, RunActionArgs, runAction);

const WAIT =
  'This asks a human; it does not run anything. A person must approve before anything can run: wait for them, and never ask the user to approve their own request.';

const client = { extraInputs: [df.input.durableClient()] };
app.mcpTool('mcpListTasks', {
  toolName: ToolName.listTasks,
  description:
    'Lists the privileged tasks you may ask ZSA for, with what each does and the parameters request_action must bind (as a JSON Schema). Read-only.',
  toolProperties: {},
  handler: listTasksTool,
  ...client,
});
app.mcpTool('mcpRequestAction', {
  toolName: ToolName.requestAction,
  description: `Asks for approval to run one privileged task once, with exactly these parameters. ${WAIT} Answers at once with the request id, who must approve and by when; then call get_request later, and run_action once it is approved.`,
  toolProperties: {
    task: arg.string().describe('The task name, as list_tasks gives it.'),
    parameters: arg
      .object()
      .describe("The task's exact parameters (list_tasks gives their schema); run_action may run only these.")
      .optional(),
    reason: arg.string().describe('Why the task must run: shown to the approvers and kept in the audit.'),
    ticket: arg.string().describe('The change or incident ticket, if any.').optional(),
    clientRequestId: arg
      .string()
      .describe(
        'Your own id for this request: sending it again returns the same request, never a second one.',
      )
      .optional(),
  },
  handler: requestActionTool,
  ...client,
});
app.mcpTool('mcpGetRequest', {
  toolName: ToolName.getRequest,
  description:
    'Says where one of your requests stands: waiting for a human, approved (then run_action may run it, once, until it expires), or over. Read-only; call it now and then, not in a tight loop.',
  toolProperties: { requestId: arg.string().describe('The id request_action answered.') },
  handler: getRequestTool,
  ...client,
});
app.mcpTool('mcpRunAction', {
  toolName: ToolName.runAction,
  description:
    'Runs an approved request, once, with exactly the approved parameters, and answers the result. Refused (with what to do) before approval, after its one use, after it expires, or with other parameters.',
  toolProperties: {
    requestId: arg.string().describe('The approved request to run.'),
    parameters: arg
      .object()
      .describe('Leave out to run the approved parameters; anything else is refused.')
      .optional(),
  },
  handler: runActionTool,
  ...client,
});
