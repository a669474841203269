/**
 * The Functions MCP extension's remote MCP server, played locally: every `mcpToolTrigger` function
 * the app registered (`app.mcpTool(...)`) is served as an MCP tool over Streamable HTTP at
 * `/runtime/webhooks/mcp`, built on the official `@modelcontextprotocol/sdk` server and transport.
 *
 * What the app sees is what the extension (Microsoft.Azure.Functions.Extensions.Mcp) gives it, read
 * from its source (https://github.com/Azure/azure-functions-mcp-extension):
 * - Stateless Streamable HTTP, POST only (anything else 405); an initialize answer carries an
 *   `Mcp-Session-Id` that later requests echo. The extension keeps no session, so a tool call never
 *   knows the client's initialize `clientInfo` (it is absent from the invocation there too).
 * - Tool input schemas built from the trigger's `toolProperties` as PropertyBasedToolInputSchema
 *   writes them; missing required arguments are a JSON-RPC -32602 error before the function runs.
 * - The trigger value (the handler's first argument) is the ToolInvocationContext JSON: `name`,
 *   `arguments`, `sessionid`, `clientinfo` and `transport` (`http-streamable`, with every request
 *   header under `properties.headers`, names as sent: look them up case-insensitively). Trigger
 *   metadata carries `mcptoolcontext`, `mcpsessionid` and `mcptoolargs` (argument values as
 *   strings, as the extension's `JsonElement.ToString()` gives them).
 * - Results as ToolReturnValueBinder maps them (`useResultSchema`, which @azure/functions always
 *   sets): an McpToolResult `{type, content, structuredContent}`, where `call_tool_result` carries
 *   a whole CallToolResult and `multi_content_result` an array of blocks. A function that throws
 *   answers a tool result with isError and the SDK's generic text, which hides the message.
 *
 * Not played: the platform's own gate. In Azure the endpoint needs the `mcp_extension` system key or
 * App Service Authentication in front of it; here, as with Core Tools, nothing checks the caller
 * before the app does, so the app must validate the bearer token it finds in the headers.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  CallToolRequestSchema,
  CallToolResultSchema,
  ContentBlockSchema,
  ErrorCode,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  type CallToolResult,
  type ContentBlock,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { StartupError } from '../app-loader';
import type { BindingInfo, FunctionRegistry, RegisteredFunction, RpcTypedData } from '../core/functions-core';

/** The extension's webhook path, which clients are given. */
export const MCP_PATH = '/runtime/webhooks/mcp';

// The SDK transport's own cap on a message.
const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** host.json `extensions.mcp`, with the extension's defaults. */
export interface McpServerSettings {
  readonly serverName?: string | undefined;
  readonly serverVersion?: string | undefined;
  readonly instructions?: string | undefined;
}

/** Supplies a non-trigger input binding (e.g. `durableClient`); undefined refuses the function. */
export type McpExtraInputs = (
  fn: RegisteredFunction,
  bindingName: string,
  binding: BindingInfo,
) => RpcTypedData | undefined;

export interface McpEndpointOptions {
  /** A started registry: tools are read once, from what is registered now. */
  registry: Pick<FunctionRegistry, 'functions' | 'invoke'>;
  settings?: McpServerSettings;
  extraInputs?: McpExtraInputs;
  log: (line: string) => void;
}

export interface McpEndpoint {
  /** The served tools, in registration order. */
  readonly tools: readonly Tool[];
  /** Answers requests to {@link MCP_PATH}; false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
}

// The extension's tool property, as `toolProperties` carries it (a JSON array).
const ToolProperty = z.object({
  propertyName: z.string(),
  propertyType: z.string().min(1),
  description: z.string().nullish(),
  isRequired: z.boolean().nullish(),
  isArray: z.boolean().nullish(),
  enumValues: z.array(z.string()).nullish(),
});
type ToolProperty = z.infer<typeof ToolProperty>;

// What a binding may carry: the extension's McpToolTriggerAttribute properties @azure/functions sends.
// Anything else (resultSchema, inputSchema, …) would be ignored or treated otherwise in Azure, so it
// is refused here rather than played half-way.
const TRIGGER_KEYS = new Set([
  'type',
  'direction',
  'name',
  'toolName',
  'description',
  'toolProperties',
  'useResultSchema',
  'metadata',
  // The worker's own binding properties (supportsDeferredBinding), not the extension's.
  'properties',
]);

const McpToolResult = z.object({
  type: z.string(),
  content: z.string().nullish(),
  structuredContent: z.string().nullish(),
});

interface ServedTool {
  readonly tool: Tool;
  readonly fn: RegisteredFunction;
  readonly required: readonly string[];
  readonly useResultSchema: boolean;
}

/** Reads every `mcpToolTrigger` registration; refuses (StartupError) what the extension would not serve alike. */
export function createMcpEndpoint(options: McpEndpointOptions): McpEndpoint {
  const settings = {
    name: options.settings?.serverName ?? 'Azure Functions MCP server',
    version: options.settings?.serverVersion ?? '1.0.0',
    instructions: options.settings?.instructions,
  };
  const served = new Map<string, ServedTool>();
  for (const fn of options.registry.functions.values()) {
    const type = fn.trigger.type.toLowerCase();
    if (type === 'mcpresourcetrigger' || type === 'mcpprompttrigger') {
      throw new StartupError(
        `Function "${fn.metadata.name}" uses ${fn.trigger.type}, which this local host does not serve (MCP tools only).`,
      );
    }
    if (type !== 'mcptooltrigger') continue;
    const entry = readTool(fn, options.extraInputs);
    const key = entry.tool.name.toLowerCase();
    if (served.has(key)) {
      throw new StartupError(`Tool with name '${entry.tool.name}' is already registered.`);
    }
    served.set(key, entry);
  }
  const tools = [...served.values()].map((s) => s.tool);

  const invoke = async (
    entry: ServedTool,
    args: Record<string, unknown> | undefined,
    req: IncomingMessage,
  ): Promise<CallToolResult> => {
    const missing = entry.required.filter((p) => args?.[p] === undefined || args[p] === null);
    if (missing.length > 0) {
      throw rpcError(
        ErrorCode.InvalidParams,
        `One or more required tool properties are missing values. Please provide: ${missing.join(', ')}`,
      );
    }
    const sessionId = headerValue(req, 'mcp-session-id');
    const context = {
      name: entry.tool.name,
      ...(args === undefined ? {} : { arguments: args }),
      ...(sessionId === undefined ? {} : { sessionid: sessionId }),
      transport: {
        name: 'http-streamable',
        ...(sessionId === undefined ? {} : { sessionId }),
        properties: { headers: requestHeaders(req) },
      },
    };
    const contextJson = JSON.stringify(context);
    const inputData: { name: string; data: RpcTypedData }[] = [
      { name: entry.fn.triggerName, data: { json: contextJson } },
    ];
    for (const [name, binding] of Object.entries(entry.fn.metadata.bindings)) {
      if (binding.direction !== 'in' || name === entry.fn.triggerName) continue;
      const data = options.extraInputs?.(entry.fn, name, binding);
      if (data !== undefined) inputData.push({ name, data });
    }
    const triggerMetadata: Record<string, RpcTypedData> = {
      [entry.fn.triggerName]: { json: contextJson },
      mcptoolcontext: { json: contextJson },
      ...(sessionId === undefined ? {} : { mcpsessionid: { string: sessionId } }),
      ...(args === undefined ? {} : { mcptoolargs: { json: JSON.stringify(argumentStrings(args)) } }),
    };
    try {
      const { returnValue } = await options.registry.invoke(entry.fn, inputData, triggerMetadata);
      return toCallToolResult(returnValue, entry.useResultSchema);
    } catch (e) {
      // The C# SDK turns any failure of the tool into this result and keeps the message to the log.
      options.log(
        `[${entry.fn.metadata.name}] MCP tool ${entry.tool.name} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
      );
      return {
        isError: true,
        content: [{ type: 'text', text: `An error occurred invoking '${entry.tool.name}'.` }],
      };
    }
  };

  const newServer = (req: IncomingMessage): McpServer => {
    // The tools come with their JSON schemas already built, so the protocol-level handlers are set
    // directly rather than through registerTool (which takes zod schemas).
    const server = new McpServer(
      { name: settings.name, version: settings.version },
      {
        // The extension announces resources and prompts too, with none registered here.
        capabilities: { tools: {}, resources: {}, prompts: {} },
        ...(settings.instructions === undefined ? {} : { instructions: settings.instructions }),
      },
    );
    server.server.setRequestHandler(ListToolsRequestSchema, () => ({ tools }));
    server.server.setRequestHandler(ListResourcesRequestSchema, () => ({ resources: [] }));
    server.server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({ resourceTemplates: [] }));
    server.server.setRequestHandler(ListPromptsRequestSchema, () => ({ prompts: [] }));
    server.server.setRequestHandler(CallToolRequestSchema, async (request) => {
      const entry = served.get(request.params.name.toLowerCase());
      if (!entry) throw rpcError(ErrorCode.InvalidParams, `Unknown tool: '${request.params.name}'`);
      return invoke(entry, request.params.arguments, req);
    });
    return server;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path !== MCP_PATH && path !== `${MCP_PATH}/`) return false;
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' });
      res.end();
      return true;
    }
    const body = await readJson(req);
    if (body === undefined) {
      // The extension's answer to a body that is no JSON-RPC message (or too large to be one).
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          jsonrpc: '2.0',
          error: {
            code: -32000,
            message: 'Bad Request: The POST body did not contain a valid JSON-RPC message.',
          },
          id: null,
        }),
      );
      return true;
    }
    // A new server and transport per request, as the extension's stateless handler does.
    const server = newServer(req);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.once('close', () => {
      void transport.close();
      void server.close();
    });
    if (isInitialize(body) && headerValue(req, 'mcp-session-id') === undefined) {
      res.setHeader('mcp-session-id', randomUUID().replace(/-/g, ''));
    }
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
    return true;
  };

  return { tools, handle };
}

function readTool(fn: RegisteredFunction, extraInputs: McpExtraInputs | undefined): ServedTool {
  const where = `MCP tool function "${fn.metadata.name}"`;
  const t = fn.trigger;
  const unknown = Object.keys(t).filter((k) => !TRIGGER_KEYS.has(k));
  if (unknown.length > 0) {
    throw new StartupError(
      `${where}: the local host does not support the trigger option(s) ${unknown.join(', ')}.`,
    );
  }
  for (const [name, binding] of Object.entries(fn.metadata.bindings)) {
    if (name === fn.triggerName) continue;
    const supplied = binding.direction === 'in' && extraInputs?.(fn, name, binding) !== undefined;
    if (!supplied && !(binding.direction === 'out' && name === '$return')) {
      throw new StartupError(
        `${where}: the local host does not support its ${binding.direction} binding "${name}" (${binding.type}).`,
      );
    }
  }
  if (typeof t.toolName !== 'string' || t.toolName.trim() === '') {
    throw new StartupError(`${where} has no toolName.`);
  }
  let properties: ToolProperty[] = [];
  if (t.toolProperties !== undefined && t.toolProperties !== null) {
    const parsed = z
      .array(ToolProperty)
      .safeParse(typeof t.toolProperties === 'string' ? safeJson(t.toolProperties) : undefined);
    if (!parsed.success) {
      throw new StartupError(`${where}: toolProperties is not a JSON array of tool properties.`);
    }
    properties = parsed.data.filter((p) => p.propertyName.trim() !== '');
  }
  let meta: Record<string, unknown> | undefined;
  if (typeof t.metadata === 'string' && t.metadata.trim() !== '') {
    const parsed = z.record(z.string(), z.unknown()).safeParse(safeJson(t.metadata));
    if (!parsed.success) throw new StartupError(`${where}: metadata is not a JSON object.`);
    if (Object.keys(parsed.data).length > 0) meta = parsed.data;
  }
  const required = [...new Set(properties.filter((p) => p.isRequired === true).map((p) => p.propertyName))];
  const tool: Tool = {
    name: t.toolName,
    ...(typeof t.description === 'string' ? { description: t.description } : {}),
    inputSchema: {
      type: 'object',
      properties: Object.fromEntries(properties.map((p) => [p.propertyName, propertySchema(p)])),
      required,
    },
    ...(meta === undefined ? {} : { _meta: meta }),
  };
  return { tool, fn, required, useResultSchema: t.useResultSchema === true };
}

/** One property as PropertyBasedToolInputSchema writes it: the type verbatim, `enum`, then `description`. */
function propertySchema(p: ToolProperty): Record<string, unknown> {
  const typed = {
    type: p.propertyType,
    ...(p.enumValues && p.enumValues.length > 0 ? { enum: p.enumValues } : {}),
  };
  return p.isArray === true
    ? { type: 'array', items: typed, description: p.description ?? '' }
    : { ...typed, description: p.description ?? '' };
}

/** The function's return value as the extension's return value binders map it. */
function toCallToolResult(value: RpcTypedData | null | undefined, useResultSchema: boolean): CallToolResult {
  const text = typedText(value);
  // A null result: the listener answers an empty result.
  if (text === undefined) return { content: [] };
  if (!useResultSchema) return { content: [{ type: 'text', text }] };
  const result = McpToolResult.parse(JSON.parse(text));
  const type = result.type.toLowerCase();
  if (type === 'call_tool_result') return CallToolResultSchema.parse(JSON.parse(result.content ?? 'null'));
  const content: ContentBlock[] =
    type === 'multi_content_result'
      ? z.array(ContentBlockSchema).parse(JSON.parse(result.content ?? 'null'))
      : [ContentBlockSchema.parse(JSON.parse(result.content ?? 'null'))];
  if (content.length === 0) throw new Error('No content items were produced from the McpToolResult.');
  const structured =
    result.structuredContent === undefined ||
    result.structuredContent === null ||
    result.structuredContent === ''
      ? undefined
      : z.record(z.string(), z.unknown()).parse(JSON.parse(result.structuredContent));
  return { content, ...(structured === undefined ? {} : { structuredContent: structured }) };
}

function typedText(value: RpcTypedData | null | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value.string === 'string') return value.string;
  if (typeof value.json === 'string') return value.json;
  if (value.int !== undefined && value.int !== null) return String(value.int);
  if (value.double !== undefined && value.double !== null) return String(value.double);
  return undefined;
}

/**
 * `mcptoolargs`: each value as .NET's JsonElement.ToString() gives it: a string's text, `True` or
 * `False`, an empty string for null, else the JSON text (re-serialized here, so compact).
 */
function argumentStrings(args: Record<string, unknown>): Record<string, string> {
  const asString = (v: unknown): string =>
    typeof v === 'string'
      ? v
      : v === true
        ? 'True'
        : v === false
          ? 'False'
          : v === null
            ? ''
            : JSON.stringify(v);
  return Object.fromEntries(Object.entries(args).map(([k, v]) => [k, asString(v)]));
}

/** Every request header, names as sent, repeated values joined with a comma (as the extension does). */
function requestHeaders(req: IncomingMessage): Record<string, string> {
  const headers = new Map<string, { name: string; values: string[] }>();
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i] ?? '';
    const value = req.rawHeaders[i + 1] ?? '';
    const entry = headers.get(name.toLowerCase());
    if (entry) entry.values.push(value);
    else headers.set(name.toLowerCase(), { name, values: [value] });
  }
  return Object.fromEntries([...headers.values()].map((h) => [h.name, h.values.join(',')]));
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  const s = Array.isArray(v) ? v.join(',') : v;
  return s === undefined || s === '' ? undefined : s;
}

function isInitialize(body: unknown): boolean {
  const messages = Array.isArray(body) ? (body as unknown[]) : [body];
  return messages.some(
    (m) => typeof m === 'object' && m !== null && (m as { method?: unknown }).method === 'initialize',
  );
}

/** The body, parsed; undefined when it is no JSON or larger than MAX_BODY_BYTES. */
async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return safeJson(Buffer.concat(chunks).toString('utf8'));
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** A JSON-RPC error with the extension's message (the SDK's McpError would prefix it). */
function rpcError(code: number, message: string): Error {
  return Object.assign(new Error(message), { code });
}
