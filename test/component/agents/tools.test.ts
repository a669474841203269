/**
 * The MCP tools' stories through the real tool handlers (functions/mcp.ts), called with the
 * invocation context the Functions MCP extension passes (headers under `transport.properties`),
 * against real Azurite, the real development issuer and the real Durable client (approval-flows.ts):
 * an agent's request is bound to its parameters, one use, short; a policy decides which agents may
 * ask; an agent identity never approves; an agent acting for an approver cannot get that approver's
 * approval; other people's requests are invisible; the rate limit holds; every call is audited with
 * the agent as the client. The run itself is covered end to end (test/e2e/agents.test.ts), where
 * the real workflow makes the grant live.
 */
import { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devAppId, DEV_TENANT_ID } from '@zsa/local-host';
import { getDeps } from '#shared/app/deps';
import { AuditAction } from '#shared/audit/types';
import { agentCallerOf } from '#shared/agents/identity';
import { auditActor } from '#shared/http/auth';
import type { RequestView } from '#shared/domain/request';
import { decide } from '#shared/requests/usecases';
import { requestContext } from '#shared/requests/wiring';
import { call as callAdmin } from '../../support/component';
import { configure, startFlowEnv, type FlowEnv } from '../requests/approval-flows';

const ALICE = 'alice@contoso.com'; // a user with an agent
const BOB = 'bob@contoso.com'; // approver (owners)
const CAROL = 'carol@contoso.com'; // sponsor of agent-1
const DAVE = 'dave@contoso.com'; // a system account
const TASK = 'Ops\\Restart-Service';
const CLOSED = 'Ops\\Wipe-Disk'; // its policy lets no agent ask
const OWN = 'Ops\\Rotate-Key'; // agents with their own identity only
const AGENT = 'agent-1';
const AGENT_KEY = `${DEV_TENANT_ID}:${devAppId(AGENT)}`;
const REASON = 'CHG-42: the queue worker is stuck';

interface Result {
  content: { type: string; text: string }[];
  structuredContent: Record<string, unknown>;
  isError?: boolean;
}

let flow: FlowEnv;

beforeAll(async () => {
  process.env.ZSA_AGENT_GRANT_MINUTES = '15';
  flow = await startFlowEnv();
  await configure(flow, {
    groups: { owners: [BOB, CAROL] },
    tasks: [TASK, CLOSED, OWN],
    policies: [
      {
        scope: 'task',
        target: TASK,
        approvalType: 'manual',
        approverGroup: 'owners',
        maxUses: 5,
        agents: { mode: 'both', sponsors: { [AGENT_KEY]: CAROL }, maxGrantMinutes: 30 },
      },
      { scope: 'task', target: CLOSED, approvalType: 'manual', approverGroup: 'owners' },
      {
        scope: 'task',
        target: OWN,
        approvalType: 'manual',
        approverGroup: 'owners',
        agents: { mode: 'ownIdentity', sponsors: { [AGENT_KEY]: CAROL } },
      },
    ],
  });
}, 60_000);

afterAll(async () => {
  delete process.env.ZSA_AGENT_GRANT_MINUTES;
  await flow.close();
});

/** A user's token through an agent client, and an agent's own token. */
const viaAgent = (upn: string) => flow.env.issuer.mint({ upn, azp: 'vscode-agent' });
const ownToken = () => flow.env.issuer.mint({ app: AGENT });

/** Calls a tool as the extension does: the ToolInvocationContext first, headers in its transport. */
async function call(
  handler: (trigger: unknown, context: InvocationContext) => Promise<unknown>,
  token: string | null,
  args: Record<string, unknown>,
): Promise<Result> {
  const input = df.input.durableClient();
  const context = new InvocationContext({ functionName: 'mcp', options: { extraInputs: [input] } });
  context.extraInputs.set(input, flow.clientBinding);
  const headers: Record<string, string> = { 'User-Agent': 'test-agent/1.0' };
  if (token !== null) headers['Authorization'] = `Bearer ${token}`;
  const answer = await handler(
    {
      name: 'tool',
      arguments: args,
      sessionid: 's',
      transport: { name: 'http-streamable', properties: { headers } },
    },
    context,
  );
  // What the library sends the host for a `call_tool_result` block: the whole CallToolResult.
  return JSON.parse(JSON.stringify(answer)) as Result;
}

/** The request stories' context, with the durable client bound (as a handler gets it). */
function storyContext() {
  const input = df.input.durableClient();
  const context = new InvocationContext({ functionName: 'story', options: { extraInputs: [input] } });
  context.extraInputs.set(input, flow.clientBinding);
  return requestContext(context);
}

/** How many requests were submitted so far (the audit's `request.submitted` rows). */
async function submittedCount(): Promise<number> {
  return (await getDeps().audit.query({ action: AuditAction.RequestSubmitted }, undefined, 1000)).items
    .length;
}

const ask = (token: string, args: Record<string, unknown>) => call(flow.fn.requestActionTool, token, args);

describe('who may call', () => {
  it('answers a tool error saying sign-in is needed without a token, and with a token of another issuer', async () => {
    // Act
    const none = await call(flow.fn.listTasksTool, null, {});
    const forged = await call(flow.fn.listTasksTool, 'e30.e30.sig', {});

    // Assert
    for (const result of [none, forged]) {
      expect(result.isError).toBe(true);
      expect(result.structuredContent).toMatchObject({ error: 'SIGN_IN_REQUIRED' });
      expect(result.content[0]?.text).toMatch(/^Sign-in is needed/);
    }
  });

  it('lists the tasks each kind of agent may request, with their parameter schemas', async () => {
    // Act
    const forUser = await call(flow.fn.listTasksTool, await viaAgent(ALICE), {});
    const forAgent = await call(flow.fn.listTasksTool, await ownToken(), {});

    // Assert
    const names = (r: Result) => (r.structuredContent['tasks'] as { name: string }[]).map((t) => t.name);
    expect(names(forUser)).toEqual([TASK]);
    expect(names(forAgent).sort()).toEqual([OWN, TASK].sort());
    expect((forUser.structuredContent['tasks'] as { parameters: unknown }[])[0]?.parameters).toMatchObject({
      type: 'object',
      additionalProperties: false,
    });
  });
});

describe('request_action', () => {
  it('submits for the user, bound to the parameters, one use, the agent grant, and names who approves', async () => {
    // Act
    const result = await ask(await viaAgent(ALICE), { task: TASK, reason: REASON, parameters: {} });

    // Assert: an answer at once, and the request as the approvers see it.
    expect(result.isError, JSON.stringify(result)).toBeUndefined();
    expect(result.structuredContent).toMatchObject({
      status: 'pending',
      approverGroup: 'owners',
      runnable: false,
    });
    expect(result.content[0]?.text).toMatch(/must approve it by .*Wait for them/);
    const id = result.structuredContent['requestId'] as string;
    const request = (await getDeps().requests.read(id))?.request;
    expect(request).toMatchObject({
      requester: ALICE,
      parameters: {},
      maxUses: 1,
      durationHours: 0.25,
      agent: { mode: 'onBehalfOf', appId: 'vscode-agent', sponsor: null },
    });
    // Every row the call wrote names the agent as the client.
    const rows = await flow.audit(id);
    expect(rows.map((r) => r.action)).toEqual(
      expect.arrayContaining(['request.submitted', 'agent.toolCalled']),
    );
    for (const row of rows)
      expect(row.parsed['client']).toMatchObject({ kind: 'agent', appId: 'vscode-agent' });
  });

  it('answers the same request to a retry with the same clientRequestId', async () => {
    // Act
    const args = { task: TASK, reason: REASON, clientRequestId: 'retry-1' };
    const first = await ask(await viaAgent(ALICE), args);
    const again = await ask(await viaAgent(ALICE), args);

    // Assert
    expect(first.structuredContent['requestId']).toEqual(expect.any(String));
    expect(again.structuredContent['requestId']).toBe(first.structuredContent['requestId']);
  });

  it('submits as the agent itself, its sponsor taking the requester’s mail', async () => {
    // Act
    const result = await ask(await ownToken(), { task: OWN, reason: REASON });

    // Assert
    const id = result.structuredContent['requestId'] as string;
    expect((await getDeps().requests.read(id))?.request).toMatchObject({
      requester: CAROL,
      requesterId: AGENT_KEY,
      maxUses: 1,
      agent: { mode: 'ownIdentity', appId: AGENT, sponsor: CAROL },
    });
  });

  it.each([
    { scenario: 'a policy that lets no agent ask', task: CLOSED, code: 'AGENT_NOT_ALLOWED' },
    { scenario: 'a policy for agents with their own identity only', task: OWN, code: 'AGENT_NOT_ALLOWED' },
    { scenario: 'a task nobody has', task: 'Ops\\Nothing', code: 'NOT_FOUND' },
  ])('refuses $scenario with a tool error and writes no request', async ({ task, code }) => {
    // Arrange
    const before = await submittedCount();

    // Act
    const result = await ask(await viaAgent(ALICE), { task, reason: REASON });

    // Assert: no request id answered, and no request submitted since.
    expect(result.isError).toBe(true);
    expect(result.structuredContent).toEqual({ error: code });
    expect(await submittedCount()).toBe(before);
  });

  it('refuses to save a policy that lets agents ask where approval is automatic', async () => {
    // Act
    const saved = await callAdmin(flow.fn.policyCreate, {
      method: 'POST',
      path: '/x',
      token: flow.admin,
      body: { scope: 'task', target: CLOSED, approvalType: 'auto', agents: { mode: 'onBehalfOf' } },
    });

    // Assert
    expect(saved.status).toBe(400);
    expect(JSON.stringify(saved.body)).toMatch(/manual approval/);
  });
});

describe('decisions and visibility', () => {
  it('lets no agent identity approve, and no agent acting for bob get bob to approve its request', async () => {
    // Arrange: the agent acting for bob (an approver) asks; the agent asks as itself.
    const forBob = await ask(await viaAgent(BOB), { task: TASK, reason: REASON });
    const bobsId = forBob.structuredContent['requestId'] as string;
    const mine = await ask(await viaAgent(ALICE), { task: TASK, reason: REASON });
    const alicesId = mine.structuredContent['requestId'] as string;

    // Act: bob approves the request his agent made; the agent's own token tries the API.
    const self = await flow.call(flow.fn.approveRequest, {
      token: await flow.token(BOB),
      params: { id: bobsId },
      body: {},
    });
    const byAgent = await flow.call(flow.fn.approveRequest, {
      token: await ownToken(),
      params: { id: alicesId },
      body: {},
    });

    // Assert
    expect((self.body as { code?: string }).code).toBe('SELF_APPROVAL');
    expect(byAgent.status).toBe(401);
    expect((await getDeps().requests.read(alicesId))?.request.status).toBe('pending');
  });

  it('refuses a decision by an agent identity in the decision story itself (AGENT_CANNOT_APPROVE), audited', async () => {
    // Arrange: a request, and the agent's principal as the MCP tools authenticate it.
    const asked = await ask(await viaAgent(ALICE), { task: TASK, reason: REASON });
    const id = asked.structuredContent['requestId'] as string;
    const { principal } = agentCallerOf(
      { tid: DEV_TENANT_ID, oid: devAppId(AGENT), idtyp: 'app', azp: AGENT, roles: [] },
      'bearer',
      null,
    );
    const caller = { principal, actor: auditActor(principal), origin: {} };

    // Act
    const refused = await decide(storyContext(), caller, id, 'approve', undefined).catch((e: unknown) => e);

    // Assert
    expect(refused).toMatchObject({ code: 'AGENT_CANNOT_APPROVE' });
    expect((await getDeps().requests.read(id))?.request.status).toBe('pending');
    expect((await flow.audit(id)).map((r) => r.action)).toContain('request.decisionRefused');
  });

  it('shows an agent only its caller’s own requests: any other id is not found', async () => {
    // Arrange
    const alices = await ask(await viaAgent(ALICE), { task: TASK, reason: REASON });
    const id = alices.structuredContent['requestId'] as string;

    // Act
    const own = await call(flow.fn.getRequestTool, await viaAgent(ALICE), { requestId: id });
    const bobs = await call(flow.fn.getRequestTool, await viaAgent(BOB), { requestId: id });
    const agents = await call(flow.fn.runActionTool, await ownToken(), { requestId: id });

    // Assert
    expect(own.structuredContent).toMatchObject({ requestId: id, status: 'pending' });
    for (const other of [bobs, agents]) {
      expect(other.structuredContent).toEqual({ error: 'NOT_FOUND' });
      expect(JSON.stringify(other)).not.toContain(ALICE);
    }
  });

  it('lets an agent reach none of its person’s portal requests: run_action and get_request answer not found', async () => {
    // Arrange: alice's own approved request from the portal (no bound parameters, no use limit).
    const submitted = await flow.call(flow.fn.submitRequest, {
      token: await flow.token(ALICE),
      body: { task: TASK, reason: REASON, durationHours: 1 },
    });
    const id = (submitted.body as RequestView).id;
    const approved = await flow.call(flow.fn.approveRequest, {
      token: await flow.token(BOB),
      params: { id },
      body: {},
    });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);

    // Act: alice's agent tries to run it with parameters of its choosing, and to read it.
    const run = await call(flow.fn.runActionTool, await viaAgent(ALICE), {
      requestId: id,
      parameters: { anything: 'x' },
    });
    const read = await call(flow.fn.getRequestTool, await viaAgent(ALICE), { requestId: id });

    // Assert
    for (const answer of [run, read]) expect(answer.structuredContent).toEqual({ error: 'NOT_FOUND' });
    expect((await getDeps().requests.read(id))?.request.uses).toBe(0);
  });

  it('refuses the sponsor’s approval of their own agent’s request (SELF_APPROVAL, by the key resolved when the policy was saved)', async () => {
    // Arrange: agent-1 asks as itself; carol, its sponsor, is also an approver of the task.
    const asked = await ask(await ownToken(), { task: OWN, reason: REASON });
    const id = asked.structuredContent['requestId'] as string;

    // Act
    const bySponsor = await flow.call(flow.fn.approveRequest, {
      token: await flow.token(CAROL),
      params: { id },
      body: {},
    });

    // Assert
    expect((await getDeps().requests.read(id))?.request.agent?.sponsorId).toMatch(/^[0-9a-f-]+:[0-9a-f-]+$/);
    expect(bySponsor.status).toBe(403);
    expect((bySponsor.body as { code?: string }).code).toBe('SELF_APPROVAL');
    expect((await getDeps().requests.read(id))?.request.status).toBe('pending');
  });

  it('refuses a run before approval, saying to wait for a human', async () => {
    // Arrange
    const asked = await ask(await viaAgent(ALICE), { task: TASK, reason: REASON });

    // Act
    const run = await call(flow.fn.runActionTool, await viaAgent(ALICE), {
      requestId: asked.structuredContent['requestId'],
    });

    // Assert
    expect(run.isError).toBe(true);
    expect(run.structuredContent['error']).toBe('NO_ACTIVE_GRANT');
    expect(run.content[0]?.text).toMatch(/Not approved yet/);
  });
});

describe('the rate limit', () => {
  it('holds an agent identity to its allowance (ZSA_AGENT_RATE_LIMIT, default 10), apart from other identities', async () => {
    // Arrange: a fresh agent identity, which no policy sponsors (each ask is refused by the policy,
    // after it was admitted).
    const token = await flow.env.issuer.mint({ app: 'agent-2' });

    // Act
    const answers = [];
    for (let i = 0; i < 11; i++) answers.push(await ask(token, { task: OWN, reason: REASON }));
    const other = await ask(await ownToken(), { task: OWN, reason: REASON });

    // Assert: ten admitted, the eleventh refused by the limit; agent-1 still asks.
    const codes = answers.map((a) => a.structuredContent['error']);
    expect(codes.slice(0, 10)).toEqual(Array(10).fill('AGENT_NOT_ALLOWED'));
    expect(codes[10]).toBe('RATE_LIMITED');
    expect(answers[10]?.content[0]?.text).toMatch(/Wait before asking again/);
    expect(other.structuredContent).toMatchObject({ status: 'pending' });
  });
});

describe('a system account through an agent', () => {
  it('keeps no exemption: run_action on its unapproved request is refused and runs nothing', async () => {
    // Arrange: dave (whose agent has not asked yet: its own rate-limit allowance) becomes a system account (who may execute without any request in the portal);
    // his agent asks, and nobody approves.
    const enabled = await callAdmin(flow.fn.pamEnable, {
      method: 'POST',
      path: '/x',
      token: flow.admin,
      body: { defaultApproverGroup: 'owners', systemAccounts: [DAVE] },
    });
    expect(enabled.status, JSON.stringify(enabled.body)).toBeLessThan(300);
    const asked = await ask(await viaAgent(DAVE), { task: TASK, reason: REASON });
    const requestId = asked.structuredContent['requestId'] as string;

    // Act
    const run = await call(flow.fn.runActionTool, await viaAgent(DAVE), { requestId });

    // Assert
    expect(run.structuredContent).toMatchObject({ error: 'NO_ACTIVE_GRANT', requestId });
    expect((await getDeps().requests.read(requestId))?.request).toMatchObject({ status: 'pending', uses: 0 });
    expect((await flow.audit(requestId)).map((r) => r.action)).toContain('execution.refused');
  });
});
