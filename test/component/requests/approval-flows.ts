/**
 * What the approval-flow component tests (stages, extensions) share: the real request handlers
 * against real Azurite and the real development issuer, with the real Durable engine and its HTTP
 * client API on loopback, so that submits start workflows and decisions raise their events through
 * the `durable-functions` client exactly as in the app. The workflow itself is a stand-in that
 * only waits (the request orchestration is tested under test/component/durable/): the tests read
 * the events it was sent from its history.
 *
 * It installs the `@azure/functions-core` module, so the files using it run in a process of their
 * own (vitest.config.mts, OWN_PROCESS), and loads the app's handlers after it (`flow.fn`): a test
 * file must not import functions/ itself, or `@azure/functions` would start in its test mode.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import * as df from 'durable-functions';
import { expect, inject } from 'vitest';
import { FunctionRegistry, installCoreModule } from '@zsa/local-host/core';
import {
  clientBindingData,
  createDurableApi,
  DurableEngine,
  DurableStore,
  EventType,
} from '@zsa/local-host/durable';
import { getDeps, resetDeps } from '#shared/app/deps';
import type { AuditRecord } from '#shared/audit/record';
import { ORCHESTRATOR } from '#shared/requests/orchestrations';
import { call as callAdmin, startComponentEnv, type ComponentEnv } from '../../support/component';

/** The app's handlers, loaded once the core module is in place (as the worker loads them). */
async function loadHandlers() {
  const [groups, catalog, pam, policies, requests, mcp] = await Promise.all([
    import('../../../functions/approver-groups.js'),
    import('../../../functions/catalog.js'),
    import('../../../functions/pam.js'),
    import('../../../functions/policies.js'),
    import('../../../functions/requests.js'),
    import('../../../functions/mcp.js'),
  ]);
  return { ...groups, ...catalog, ...pam, ...policies, ...requests, ...mcp };
}
export type Handlers = Awaited<ReturnType<typeof loadHandlers>>;

type Handler = (req: HttpRequest, ctx: InvocationContext) => Promise<HttpResponseInit>;

export interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
}

export interface FlowEnv {
  env: ComponentEnv;
  /** The app's handlers (import them from here, never statically: see `loadHandlers`). */
  fn: Handlers;
  /** An admin's token. */
  admin: string;
  /** A signed-in user's token (cached per UPN). */
  token(upn: string): Promise<string>;
  /** The durable client binding `call` gives handlers, for handlers of other triggers (MCP tools). */
  clientBinding: unknown;
  /** Calls a handler as the Functions runtime would, with a durable client bound to the engine. */
  call(
    handler: Handler,
    opts: { token: string; params?: Record<string, string>; body?: unknown; method?: string },
  ): Promise<Answer>;
  /** The events the request's workflow was sent, in order: name and payload. */
  raised(requestId: string): Promise<{ name: string; input: unknown }[]>;
  /** The request's audit records, in order, with their detail parsed. */
  audit(requestId: string): Promise<(AuditRecord & { parsed: Record<string, unknown> })[]>;
  close(): Promise<void>;
}

export async function startFlowEnv(): Promise<FlowEnv> {
  const registry = new FunctionRegistry(() => undefined);
  installCoreModule(registry);
  // The stand-in workflow: it waits for ever; events raised to it land in its history.
  df.app.orchestration(ORCHESTRATOR, function* (context) {
    yield context.df.waitForExternalEvent('never');
  });
  const fn = await loadHandlers();
  await registry.start(process.cwd());
  const store = await DurableStore.open(
    inject('sharedAzurite'),
    `Flows${randomUUID().replace(/-/g, '').slice(0, 12)}`,
  );
  const engine = new DurableEngine({ registry, store, log: () => undefined });
  let origin = '';
  const api = createDurableApi(engine, () => origin);
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void api(req, res, Buffer.concat(chunks)).then((handled) => {
        if (!handled) res.writeHead(404).end();
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const binding = clientBindingData(origin, 'FlowsHub');
  // Without it the client rewrites the binding's URLs to the Functions host's default port.
  process.env.WEBSITE_HOSTNAME = new URL(origin).host;

  const env = await startComponentEnv();
  await resetDeps();
  const tokens = new Map<string, Promise<string>>();
  const token = (upn: string) => {
    let t = tokens.get(upn);
    if (t === undefined) tokens.set(upn, (t = env.token(upn)));
    return t;
  };
  const admin = await env.token('admin@contoso.com', ['PAM.Admin']);

  return {
    env,
    fn,
    admin,
    token,
    clientBinding: binding,
    async call(handler, opts) {
      const headers: Record<string, string> = { authorization: `Bearer ${opts.token}` };
      if (opts.body !== undefined) headers['content-type'] = 'application/json';
      const request = new HttpRequest({
        method: opts.method ?? 'POST',
        url: 'http://127.0.0.1:7071/api/x',
        headers,
        params: opts.params ?? {},
        ...(opts.body !== undefined
          ? { body: { string: typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body) } }
          : {}),
      });
      const input = df.input.durableClient();
      const context = new InvocationContext({ functionName: 'test', options: { extraInputs: [input] } });
      context.extraInputs.set(input, binding);
      const res = await handler(request, context);
      const h = new Headers(res.headers);
      let body: unknown = res.jsonBody;
      if (body === undefined && typeof res.body === 'string' && res.body.length > 0)
        body = JSON.parse(res.body);
      return { status: res.status ?? 200, headers: h, body };
    },
    async raised(requestId) {
      await engine.whenIdle();
      const state = await engine.getState(requestId);
      return (state?.history ?? [])
        .filter((e) => e.EventType === EventType.EventRaised)
        .map((e) => ({ name: e.Name ?? '', input: e.Input ? (JSON.parse(e.Input) as unknown) : null }));
    },
    async audit(requestId) {
      const page = await getDeps().audit.query({ requestId }, undefined, 500);
      return page.items.map((r) => ({
        ...r,
        parsed: r.detail === undefined ? {} : (JSON.parse(r.detail) as Record<string, unknown>),
      }));
    },
    async close() {
      await engine.close();
      await new Promise<void>((r) => server.close(() => r()));
      await registry.terminate();
      await env.close();
    },
  };
}

/** Asserts a refusal: its status and code, as problem+json. */
export function expectProblem(answer: Answer, status: number, code: string): void {
  expect({ status: answer.status, code: (answer.body as { code?: string } | undefined)?.code }).toEqual({
    status,
    code,
  });
  expect(answer.headers.get('content-type')).toContain('application/problem+json');
}

export interface Setup {
  /** Approver groups and their members; the first is the default group. */
  groups: Record<string, string[]>;
  tasks: string[];
  roles?: Record<string, string[]>;
  policies: Record<string, unknown>[];
}

/** Configures groups, tasks, roles and policies through the real admin handlers. */
export async function configure(flow: FlowEnv, setup: Setup): Promise<void> {
  const ok = (what: string, r: { status: number; body: unknown }) =>
    expect(r.status, `${what}: ${JSON.stringify(r.body)}`).toBeLessThan(300);
  const token = flow.admin;
  const { approverGroupPut, pamEnable, catalogTaskPut, catalogRolePut, policyCreate } = flow.fn;
  for (const [name, members] of Object.entries(setup.groups))
    ok(
      name,
      await callAdmin(approverGroupPut, {
        method: 'PUT',
        path: '/x',
        token,
        params: { name },
        body: { members },
      }),
    );
  const [first] = Object.keys(setup.groups);
  ok(
    'enable',
    await callAdmin(pamEnable, { method: 'POST', path: '/x', token, body: { defaultApproverGroup: first } }),
  );
  for (const name of setup.tasks)
    ok(
      name,
      await callAdmin(catalogTaskPut, {
        method: 'PUT',
        path: '/x',
        token,
        // Never run here: the flows end before any execution.
        body: { name, description: 'd', executor: { type: 'webhook', url: 'http://127.0.0.1:9/never' } },
      }),
    );
  for (const [name, tasks] of Object.entries(setup.roles ?? {}))
    ok(name, await callAdmin(catalogRolePut, { method: 'PUT', path: '/x', token, body: { name, tasks } }));
  for (const body of setup.policies)
    ok(JSON.stringify(body), await callAdmin(policyCreate, { method: 'POST', path: '/x', token, body }));
}

/** `n` approvers of a group: `<prefix>1@contoso.com` … */
export function members(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i + 1}@contoso.com`);
}
