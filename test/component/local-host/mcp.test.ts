/**
 * The local host's MCP endpoint, generic: a fixture app's `app.mcpTool` functions served over
 * Streamable HTTP and reached with the official MCP client, checked against what the Functions MCP
 * extension gives a Node handler and answers a client (see infra/local/mcp/server.ts).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FunctionRegistry, installCoreModule, type RegisteredFunction } from '@zsa/local-host/core';
import { createMcpEndpoint, MCP_PATH, StartupError } from '@zsa/local-host';

const INSTRUCTIONS = 'Wait for a human.';
let server: Server;
let url: string;
let client: Client;
let transport: StreamableHTTPClientTransport;
const log: string[] = [];

beforeAll(async () => {
  const registry = new FunctionRegistry(() => undefined);
  installCoreModule(registry);
  await import('../../fixtures/mcp-app/index.js');
  await registry.start(process.cwd());
  const mcp = createMcpEndpoint({
    registry,
    settings: { instructions: INSTRUCTIONS },
    log: (line) => log.push(line),
  });
  server = createServer((req, res) => {
    void mcp.handle(req, res).then((handled) => {
      if (!handled) res.writeHead(404).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${MCP_PATH}`;
  transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: 'Bearer the-token' } },
  });
  client = new Client({ name: 'fixture-client', version: '0.0.1' });
  await client.connect(transport);
});

afterAll(async () => {
  await client.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

function text(result: Record<string, unknown>): string {
  return ((result.content ?? []) as { type: string; text?: string }[]).map((c) => c.text ?? '').join('');
}

describe('local host MCP endpoint', () => {
  it('introduces itself as the extension does and lists the tools with the schemas it builds', async () => {
    // Arrange: connected in beforeAll.
    // Act
    const { tools } = await client.listTools();

    // Assert: the extension's default name and version, host.json's instructions.
    expect(client.getServerVersion()).toEqual({ name: 'Azure Functions MCP server', version: '1.0.0' });
    expect(client.getInstructions()).toBe(INSTRUCTIONS);
    expect(transport.sessionId).toMatch(/^[0-9a-f]{32}$/);
    expect(tools.map((t) => t.name)).toEqual(['echo', 'plain', 'fails', 'refuses', 'multi', 'marked']);
    const echo = tools.find((t) => t.name === 'echo');
    expect(echo).toEqual({
      name: 'echo',
      description: 'Answers what it received.',
      inputSchema: {
        type: 'object',
        properties: {
          message: { type: 'string', description: 'Said back.' },
          count: { type: 'integer', description: 'How many.' },
          tags: { type: 'array', items: { type: 'string' }, description: 'Labels.' },
        },
        required: ['message'],
      },
      _meta: { owner: 'fixture' },
    });
    expect(tools.find((t) => t.name === 'plain')?.inputSchema).toEqual({
      type: 'object',
      properties: {},
      required: [],
    });
  });

  it('hands the function the invocation context and trigger metadata the extension sends', async () => {
    // Act
    const result = await client.callTool({
      name: 'echo',
      arguments: { message: 'hi', count: 3, tags: ['a', 'b'], urgent: true, note: null },
    });

    // Assert: the first argument is the ToolInvocationContext; no clientinfo (the extension keeps no session).
    expect(result.isError).toBeUndefined();
    expect(text(result)).toBe('echoed');
    const { invocation, triggerMetadata } = result.structuredContent as {
      invocation: {
        name: string;
        arguments: unknown;
        sessionid: string;
        clientinfo?: unknown;
        transport: { name: string; sessionId: string; properties: { headers: Record<string, string> } };
      };
      triggerMetadata: Record<string, unknown>;
    };
    const sessionId = transport.sessionId;
    expect(invocation.name).toBe('echo');
    expect(invocation.arguments).toEqual({
      message: 'hi',
      count: 3,
      tags: ['a', 'b'],
      urgent: true,
      note: null,
    });
    expect(invocation.sessionid).toBe(sessionId);
    expect(invocation).not.toHaveProperty('clientinfo');
    expect(invocation.transport.name).toBe('http-streamable');
    expect(invocation.transport.sessionId).toBe(sessionId);
    const headers = Object.fromEntries(
      Object.entries(invocation.transport.properties.headers).map(([k, v]) => [k.toLowerCase(), v]),
    );
    expect(headers.authorization).toBe('Bearer the-token');
    expect(headers['mcp-session-id']).toBe(sessionId);
    // mcptoolargs holds each value as .NET's JsonElement.ToString() writes it.
    expect(triggerMetadata.mcptoolargs).toEqual({
      message: 'hi',
      count: '3',
      tags: '["a","b"]',
      urgent: 'True',
      note: '',
    });
    expect(triggerMetadata.mcpsessionid).toBe(sessionId);
    expect(triggerMetadata.mcptoolcontext).toMatchObject({ name: 'echo', sessionid: sessionId });
  });

  it('maps each kind of return value as the extension does', async () => {
    // Act
    const plain = await client.callTool({ name: 'plain', arguments: {} });
    const fails = await client.callTool({ name: 'fails', arguments: {} });
    const refuses = await client.callTool({ name: 'refuses', arguments: {} });
    const multi = await client.callTool({ name: 'multi', arguments: {} });
    const marked = await client.callTool({ name: 'marked', arguments: {} });

    // Assert: a string is one text block; a throw is the SDK's generic error (its message only
    // logged); a whole CallToolResult carries the app's own isError and text; blocks stay blocks;
    // a class marked McpContent is its JSON as text and as structured content.
    expect(plain).toEqual({ content: [{ type: 'text', text: 'just text' }] });
    expect(fails.isError).toBe(true);
    expect(text(fails)).toBe("An error occurred invoking 'fails'.");
    expect(log.join('\n')).toContain('secret detail');
    expect(refuses.isError).toBe(true);
    expect(text(refuses)).toBe('Not approved yet: wait for a human.');
    expect(refuses.structuredContent).toEqual({ status: 'pending' });
    expect(multi).toEqual({
      content: [
        { type: 'text', text: 'one' },
        { type: 'text', text: 'two' },
      ],
    });
    expect(marked).toEqual({
      content: [{ type: 'text', text: '{"status":"approved"}' }],
      structuredContent: { status: 'approved' },
    });
  });

  it('refuses a call without a required argument, or to an unknown tool, as JSON-RPC errors', async () => {
    // Act + Assert
    await expect(client.callTool({ name: 'echo', arguments: { count: 1 } })).rejects.toMatchObject({
      code: -32602,
      message: expect.stringContaining('Please provide: message') as unknown,
    });
    await expect(client.callTool({ name: 'nope', arguments: {} })).rejects.toMatchObject({
      code: -32602,
      message: expect.stringContaining("Unknown tool: 'nope'") as unknown,
    });
  });

  it('answers only POST, and a body that is no JSON-RPC message with 400', async () => {
    // Act
    const get = await fetch(url, { headers: { accept: 'text/event-stream' } });
    const bad = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: '{not json',
    });

    // Assert
    expect(get.status).toBe(405);
    expect(bad.status).toBe(400);
  });
});

describe('local host MCP registrations', () => {
  const fn = (name: string, trigger: Record<string, unknown>): RegisteredFunction => ({
    metadata: { name, bindings: { t: { direction: 'in', type: 'mcpToolTrigger', ...trigger } } },
    callback: () => undefined,
    triggerName: 't',
    trigger: { direction: 'in', type: 'mcpToolTrigger', ...trigger },
  });
  const endpoint =
    (...fns: RegisteredFunction[]) =>
    () =>
      createMcpEndpoint({
        registry: {
          functions: new Map(fns.map((f) => [f.metadata.name, f])),
          invoke: () => Promise.reject(new Error()),
        },
        log: () => undefined,
      });

  const withBlob: RegisteredFunction = {
    ...fn('a', { toolName: 'a', toolProperties: '[]' }),
    metadata: {
      name: 'a',
      bindings: {
        t: { direction: 'in', type: 'mcpToolTrigger', toolName: 'a', toolProperties: '[]' },
        blob: { direction: 'in', type: 'blob', path: 'x/{mcptoolargs.name}' },
      },
    },
  };
  const resource: RegisteredFunction = {
    ...fn('r', {}),
    trigger: { direction: 'in', type: 'mcpResourceTrigger', uri: 'file://x' },
  };

  it.each([
    {
      case: 'an input binding the local host does not supply',
      fns: [withBlob],
      error: /does not support its in binding "blob" \(blob\)/,
    },
    {
      case: 'an MCP resource (only tools are served)',
      fns: [resource],
      error: /uses mcpResourceTrigger, which this local host does not serve/,
    },
    {
      case: 'an option the local host does not play',
      fns: [fn('a', { toolName: 'a', description: '', toolProperties: '[]', resultSchema: '{}' })],
      error: /does not support the trigger option\(s\) resultSchema/,
    },
    {
      case: 'two tools of one name (case-insensitive)',
      fns: [
        fn('a', { toolName: 'same', toolProperties: '[]' }),
        fn('b', { toolName: 'SAME', toolProperties: '[]' }),
      ],
      error: /Tool with name 'SAME' is already registered/,
    },
    {
      case: 'tool properties that are no array',
      fns: [fn('a', { toolName: 'a', toolProperties: '{"x":1}' })],
      error: /toolProperties is not a JSON array/,
    },
  ])('refuses to start with $case', ({ fns, error }) => {
    // Act + Assert
    expect(endpoint(...fns)).toThrow(StartupError);
    expect(endpoint(...fns)).toThrow(error);
  });
});
