/**
 * AI agents through ZSA's MCP tools, end to end (issue #19): the official MCP client from
 * `@modelcontextprotocol/sdk` connects to the local host's `/runtime/webhooks/mcp` as an agent
 * would, with development tokens of both agent kinds; people approve through the API; a real
 * webhook target checks what runs. One host; the stories run in order and share its set-up.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caller, send, type Caller } from '../support/api';
import { startLocalHost, type HostProcess } from '../support/local-host';
import { waitForMail } from '../support/mailbox';
import { startWebhookTarget, type WebhookTarget } from '../support/webhook-target';

const KEY = 'e2e-agents-signing-key';
const SECONDS = 1 / 3600;
const TASK = 'Agents\\Restart-Server';
const SHORT = 'Agents\\Restart-Quickly';
const AGENT_APP = 'agent-1';
const SPONSOR = 'carol@contoso.com';

let host: HostProcess;
let hook: WebhookTarget;
let admin: Caller;
let auditor: Caller;
let bob: Caller;
/** Alice through VS Code's agent; bob through the same agent; the agent with its own identity. */
let aliceAgent: Client;
let bobAgent: Client;
let ownAgent: Client;
let agentKey: string;

interface ToolResult {
  isError?: boolean;
  text: string;
  data: Record<string, unknown>;
}

async function token(body: Record<string, unknown>): Promise<string> {
  const r = await send<{ access_token: string }>(`${host.url}/dev/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (r.status !== 200) throw new Error(`token: ${r.status} ${r.text}`);
  return r.body.access_token;
}

async function connect(accessToken: string | undefined): Promise<Client> {
  const client = new Client({ name: 'e2e-agent', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${host.url}/runtime/webhooks/mcp`), {
      requestInit: { headers: accessToken === undefined ? {} : { authorization: `Bearer ${accessToken}` } },
    }),
  );
  return client;
}

/** Calls a tool; the answer's text and its structured content (or the text's JSON, if it is JSON). */
async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<ToolResult> {
  const r = await client.callTool({ name, arguments: args });
  const text = ((r.content ?? []) as { type: string; text?: string }[]).map((c) => c.text ?? '').join('\n');
  let data = (r.structuredContent ?? {}) as Record<string, unknown>;
  if (r.structuredContent === undefined) {
    try {
      data = JSON.parse(text) as Record<string, unknown>;
    } catch {
      data = {};
    }
  }
  return { ...(r.isError === true ? { isError: true } : {}), text, data };
}

function ok(r: ToolResult): ToolResult {
  expect(r.isError, r.text).toBeUndefined();
  return r;
}

function refused(r: ToolResult, says: RegExp): void {
  expect(r.isError, r.text).toBe(true);
  expect(r.text).toMatch(says);
}

async function expectOk<T>(p: Promise<{ status: number; body: T; text: string }>): Promise<T> {
  const res = await p;
  if (res.status >= 300) throw new Error(`expected success, got ${res.status}: ${res.text}`);
  return res.body;
}

async function requestAction(client: Client, task: string, server: string): Promise<string> {
  const r = ok(await call(client, 'request_action', { task, parameters: { server }, reason: 'disk full' }));
  const id = r.data.requestId;
  expect(typeof id, r.text).toBe('string');
  return id as string;
}

/** Polls get_request until the request reaches `status`. */
async function untilStatus(client: Client, requestId: string, status: string): Promise<ToolResult> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = ok(await call(client, 'get_request', { requestId }));
    if (r.data.status === status) return r;
    if (Date.now() > deadline)
      throw new Error(`request ${requestId} is ${String(r.data.status)}, not ${status}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** Polls get_request until the request is neither pending nor approved (its grant ran out). */
async function untilOver(client: Client, requestId: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (
    ['pending', 'approved'].includes(String(ok(await call(client, 'get_request', { requestId })).data.status))
  ) {
    if (Date.now() > deadline) throw new Error(`request ${requestId} is still live`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

beforeAll(async () => {
  hook = await startWebhookTarget(KEY);
  host = await startLocalHost({
    storage: 'shared',
    env: {
      ZSA_MIN_DURATION_SECONDS: '1',
      ZSA_EXECUTOR_ALLOWED_HOSTS: '127.0.0.1',
      ZSA_WEBHOOK_SIGNING_KEY: KEY,
    },
  });
  admin = await caller(host.url, 'admin@contoso.com', ['PAM.Admin']);
  auditor = await caller(host.url, 'auditor@contoso.com', ['PAM.Auditor']);
  bob = await caller(host.url, 'bob@contoso.com');
  const appToken = await token({ app: AGENT_APP });
  agentKey = `${String(decodeJwt(appToken).tid)}:${String(decodeJwt(appToken).oid)}`;
  await expectOk(admin.put('/api/approver-groups/agent-approvers', { members: ['bob@contoso.com'] }));
  await expectOk(admin.post('/api/pam/enable', { defaultApproverGroup: 'agent-approvers' }));
  for (const [task, maxDurationHours] of [
    [TASK, undefined],
    [SHORT, 3 * SECONDS],
  ] as const) {
    await expectOk(
      admin.put('/api/catalog/tasks', {
        name: task,
        description: 'Restarts a server',
        executor: { type: 'webhook', url: hook.url },
        parameters: [
          { name: 'server', type: 'string', required: true, description: 'The server to restart' },
        ],
      }),
    );
    await expectOk(
      admin.post('/api/policies', {
        scope: 'task',
        target: task,
        approvalType: 'manual',
        approverGroup: 'agent-approvers',
        ...(maxDurationHours === undefined ? {} : { maxDurationHours }),
        agents: { mode: 'both', sponsors: { [agentKey]: SPONSOR } },
      }),
    );
  }
  aliceAgent = await connect(await token({ upn: 'alice@contoso.com', azp: 'vscode-agent' }));
  bobAgent = await connect(await token({ upn: 'bob@contoso.com', azp: 'vscode-agent' }));
  ownAgent = await connect(appToken);
}, 90_000);

afterAll(async () => {
  await Promise.all([aliceAgent, bobAgent, ownAgent].map((c) => c.close()));
  await host.stop();
  await hook.close();
});

describe('AI agents through the MCP tools', () => {
  it('lists the four tools, and refuses a caller without a token with a tool error', async () => {
    // Act
    const { tools } = await aliceAgent.listTools();
    const anonymous = await connect(undefined);
    const unsigned = await call(anonymous, 'list_tasks');
    await anonymous.close();

    // Assert: the banner of `npm start` gives agents the URL.
    expect(host.output()).toContain(`${host.url}/runtime/webhooks/mcp`);
    expect(tools.map((t) => t.name).sort()).toEqual([
      'get_request',
      'list_tasks',
      'request_action',
      'run_action',
    ]);
    refused(unsigned, /sign/i);
  });

  it('lists the tasks an agent may request, with their parameters', async () => {
    // Act
    const r = ok(await call(aliceAgent, 'list_tasks'));

    // Assert
    expect(r.text).toContain(TASK);
    expect(r.text).toContain('server');
  });

  let requestId = '';
  it('asks for an exact action, which cannot run before a human approves it', async () => {
    // Act
    requestId = await requestAction(aliceAgent, TASK, 'web-1');
    const early = await call(aliceAgent, 'run_action', { requestId });

    // Assert: pending, with the next step in words; the run is refused and nothing ran.
    const status = ok(await call(aliceAgent, 'get_request', { requestId }));
    expect(status.data.status).toBe('pending');
    refused(early, /approv/i);
    expect(hook.received).toHaveLength(0);
  });

  it('runs once, with exactly the approved parameters, after bob approves', async () => {
    // Arrange
    await expectOk(bob.post(`/api/requests/${requestId}/approve`, {}));
    await untilStatus(aliceAgent, requestId, 'approved');

    // Act
    const changed = await call(aliceAgent, 'run_action', { requestId, parameters: { server: 'db-1' } });
    const run = await call(aliceAgent, 'run_action', { requestId });
    const again = await call(aliceAgent, 'run_action', { requestId });

    // Assert
    refused(changed, /parameter/i);
    ok(run);
    refused(again, /exhausted|used up|no use/i);
    expect(hook.received).toHaveLength(1);
    expect(hook.received[0]?.signatureValid).toBe(true);
    expect(hook.received[0]?.body).toMatchObject({ task: TASK, parameters: { server: 'web-1' } });
  });

  it('refuses a run after the grant expired', async () => {
    // Arrange: a grant of three seconds.
    const id = await requestAction(aliceAgent, SHORT, 'web-2');
    await expectOk(bob.post(`/api/requests/${id}/approve`, {}));
    await untilStatus(aliceAgent, id, 'approved');
    await untilOver(aliceAgent, id);

    // Act
    const late = await call(aliceAgent, 'run_action', { requestId: id });

    // Assert
    // The request ended with its window: refused, and told to ask again.
    refused(late, /ended|expired/i);
    expect(late.text).toMatch(/request_action/);
    expect(hook.received).toHaveLength(1);
  });

  it("shows an agent nothing of other people's requests", async () => {
    // Act
    const other = await call(bobAgent, 'get_request', { requestId });
    const run = await call(bobAgent, 'run_action', { requestId });

    // Assert
    refused(other, /no request of yours/i);
    refused(run, /no request of yours/i);
  });

  it('an agent acting for bob cannot get his own request approved by bob', async () => {
    // Arrange
    const id = await requestAction(bobAgent, TASK, 'web-3');

    // Act
    const selfApproval = await bob.post(`/api/requests/${id}/approve`, {});

    // Assert: the request is bob's (the agent asked for him), so bob approving it is self-approval.
    expect(selfApproval.status, selfApproval.text).toBe(403);
    expect(selfApproval.text).toContain('SELF_APPROVAL');
    expect((await call(bobAgent, 'get_request', { requestId: id })).data.status).toBe('pending');
  });

  let ownRequestId = '';
  it('an agent with its own identity asks, its sponsor is told at once, and the decision reaches the sponsor', async () => {
    // Act
    const id = await requestAction(ownAgent, TASK, 'web-4');
    ownRequestId = id;

    // Assert: before anyone decides, the sponsor hears that the agent asked, for what, exactly.
    const told = await waitForMail(host.url, id, 'agentRequested', SPONSOR);
    expect(told.subject).toContain(`Your agent`);
    expect(told.text).toContain('web-4');
    expect(told.text).toContain('exactly the parameters shown, once');
    expect((await call(ownAgent, 'get_request', { requestId: id })).data.status).toBe('pending');
    await expectOk(bob.post(`/api/requests/${id}/approve`, {}));
    await waitForMail(host.url, id, 'approved', SPONSOR);
  });

  it("the HTTP API refuses an agent's app-only token (401: no user), so an agent can only ask, through the MCP tools", async () => {
    // Act: even with the admin role, an app-only token carries no user the API could act for.
    const id = await requestAction(ownAgent, TASK, 'web-5');
    const approve = await send(`${host.url}/api/requests/${id}/approve`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await token({ app: AGENT_APP, roles: ['PAM.Admin'] })}`,
        'content-type': 'application/json',
      },
      body: '{}',
    });

    // Assert: refused at sign-in (the approve story's own AGENT_CANNOT_APPROVE is a component test's).
    expect(approve.status, approve.text).toBe(401);
    expect((await call(ownAgent, 'get_request', { requestId: id })).data.status).toBe('pending');
  });

  it('the audit shows the agent, the user, the approver and the run', async () => {
    // Act
    const page = await expectOk(
      auditor.get<{ items: { action: string; actor?: string; detail?: Record<string, unknown> }[] }>(
        `/api/audit?requestId=${requestId}&pageSize=1000`,
      ),
    );

    // Assert
    const rows = JSON.stringify(page.items);
    expect(rows).toContain('vscode-agent');
    expect(rows).toContain('alice@contoso.com');
    expect(rows).toContain('bob@contoso.com');
    expect(page.items.map((i) => i.action)).toEqual(
      expect.arrayContaining([
        'agent.toolCalled',
        'request.submitted',
        'request.approved',
        'execution.succeeded',
      ]),
    );
    // The agent with its own identity: itself as the requester (its service principal), its sponsor named.
    const own = await expectOk(
      auditor.get<{ items: unknown[] }>(`/api/audit?requestId=${ownRequestId}&pageSize=1000`),
    );
    expect(JSON.stringify(own.items)).toContain(AGENT_APP);
    expect(JSON.stringify(own.items)).toContain(SPONSOR);
    expect(JSON.stringify(own.items)).toContain(agentKey.split(':')[1]);
  });
});
