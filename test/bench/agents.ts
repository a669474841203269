/**
 * Issue 19 benchmark, on the local host with the real app (in this process), an agent connected
 * with the official MCP client from `@modelcontextprotocol/sdk` as a user's delegate:
 * - tool call `request_action` → the approval email in the mailbox (p50/p95), next to its floor in
 *   the same run: the same user's `POST /api/requests` of the same action → its approval email,
 *   alternating which goes first;
 * - `run_action` next to `POST /api/execute` in the same run: each sample runs a fresh single-use
 *   grant the agent asked for and the approver approved (untimed), the tool for one, the API (the
 *   same user, her own token) for its twin, alternating which goes first; the ratio of the two is
 *   the MCP path's overhead (target ≤ 1.3×).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startHost } from '@zsa/local-host';
import { startMailbox } from '@zsa/local-host/mailbox';
import { caller, send } from '../support/api';
import { startWebhookTarget } from '../support/webhook-target';
import { benchHostOptions, must } from './host-options';
import { now, ratio, summarize } from './stats';

const RUNS = Number(process.env.BENCH_RUNS ?? 200);
const WARM = 5;
const KEY = 'bench-agents-key';
const TASK = 'Bench\\Agent';
const USER = 'user@contoso.com';
const APPROVER = 'approver@contoso.com';

async function main(): Promise<void> {
  const hook = await startWebhookTarget(KEY);
  const mailbox = await startMailbox({ maxMessages: 10 * (RUNS + WARM) });
  const host = await startHost({
    ...benchHostOptions(KEY, {
      ZSA_SMTP_URL: mailbox.smtpUrl,
      // The agent asks far more often than one would: its own limit at its highest, still on.
      ZSA_AGENT_RATE_LIMIT: '500',
    }),
    log: () => undefined,
  });
  let agent: Client | undefined;
  try {
    const admin = await caller(host.url, 'admin@contoso.com', ['PAM.Admin']);
    await must(admin.put('/api/approver-groups/bench-approvers', { members: [APPROVER] }));
    await must(admin.post('/api/pam/enable', { defaultApproverGroup: 'bench-approvers' }));
    await must(
      admin.put('/api/catalog/tasks', {
        name: TASK,
        description: 'bench',
        executor: { type: 'webhook', url: hook.url },
        parameters: [{ name: 'server', type: 'string', required: true }],
      }),
    );
    await must(
      admin.post('/api/policies', {
        scope: 'task',
        target: TASK,
        approvalType: 'manual',
        approverGroup: 'bench-approvers',
        agents: { mode: 'onBehalfOf' },
      }),
    );
    const user = await caller(host.url, USER);
    const approver = await caller(host.url, APPROVER);
    const delegated = await send<{ access_token: string }>(`${host.url}/dev/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ upn: USER, azp: 'bench-agent' }),
    });
    if (delegated.status !== 200) throw new Error(`token: ${delegated.status} ${delegated.text}`);
    agent = new Client({ name: 'bench-agent', version: '1.0.0' });
    await agent.connect(
      new StreamableHTTPClientTransport(new URL(`${host.url}/runtime/webhooks/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${delegated.body.access_token}` } },
      }),
    );
    const client = agent;
    const tool = async (name: string, args: Record<string, unknown>) => {
      const r = await client.callTool({ name, arguments: args });
      if (r.isError === true) throw new Error(`${name}: ${JSON.stringify(r.content)}`);
      return (r.structuredContent ?? {}) as Record<string, unknown>;
    };
    const ask = async (i: number): Promise<string> => {
      const r = await tool('request_action', {
        task: TASK,
        parameters: { server: `web-${i}` },
        reason: 'bench',
      });
      if (typeof r.requestId !== 'string')
        throw new Error(`request_action: no requestId in ${JSON.stringify(r)}`);
      return r.requestId;
    };
    const approvedGrant = async (i: number): Promise<string> => {
      const id = await ask(i);
      await must(approver.post(`/api/requests/${id}/approve`, {}));
      for (;;) {
        const r = await user.get<{ status: string }>(`/api/requests/${id}`);
        if (r.body.status === 'approved') return id;
        if (r.body.status !== 'pending') throw new Error(`request ${id} is ${r.body.status}`);
        await new Promise((res) => setTimeout(res, 5));
      }
    };

    // 1. request_action → approval email in the mailbox, next to the API's submit → approval email.
    const approvalMail = (id: string) =>
      mailbox.waitFor(
        (m) => m.headers['x-zsa-request-id'] === id && m.headers['x-zsa-event'] === 'approvalNeeded',
        30_000,
      );
    const toMail: number[] = [];
    const apiToMail: number[] = [];
    for (let i = 0; i < RUNS + WARM; i++) {
      const steps = [
        async () => {
          const t = now();
          await approvalMail(await ask(i));
          return ['tool', now() - t] as const;
        },
        async () => {
          const t = now();
          const r = await user.post<{ id: string }>('/api/requests', {
            task: TASK,
            parameters: { server: `api-${i}` },
            reason: 'bench',
          });
          if (r.status !== 202) throw new Error(`submit (pending): ${r.status} ${r.text}`);
          await approvalMail(r.body.id);
          return ['api', now() - t] as const;
        },
      ];
      for (const step of i % 2 === 0 ? steps : [...steps].reverse()) {
        const [which, ms] = await step();
        if (i >= WARM) (which === 'tool' ? toMail : apiToMail).push(ms);
      }
    }

    // 2. run_action next to POST /api/execute, each on a fresh approved single-use grant.
    const viaTool: number[] = [];
    const viaApi: number[] = [];
    for (let i = 0; i < RUNS + WARM; i++) {
      const forTool = await approvedGrant(2 * i);
      const forApi = await approvedGrant(2 * i + 1);
      const steps = [
        async () => {
          const t = now();
          await tool('run_action', { requestId: forTool });
          return ['tool', now() - t] as const;
        },
        async () => {
          const t = now();
          const r = await user.post('/api/execute', {
            task: TASK,
            requestId: forApi,
            parameters: { server: `web-${2 * i + 1}` },
          });
          if (r.status !== 200) throw new Error(`execute: ${r.status} ${r.text}`);
          return ['api', now() - t] as const;
        },
      ];
      for (const step of i % 2 === 0 ? steps : [...steps].reverse()) {
        const [which, ms] = await step();
        if (i >= WARM) (which === 'tool' ? viaTool : viaApi).push(ms);
      }
    }

    const mail = summarize(toMail);
    const apiMail = summarize(apiToMail);
    const run = summarize(viaTool);
    const api = summarize(viaApi);
    const over = { p50: ratio(run.p50, api.p50), p95: ratio(run.p95, api.p95) };
    process.stdout.write(
      `${JSON.stringify(
        {
          benchmark: 'agents-mcp',
          runs: RUNS,
          unit: 'ms',
          request_action_to_approval_email_in_mailbox: mail,
          floor_api_submit_to_approval_email_in_mailbox: apiMail,
          request_action_over_api_submit: {
            p50: ratio(mail.p50, apiMail.p50),
            p95: ratio(mail.p95, apiMail.p95),
          },
          run_action_noop_webhook: run,
          api_execute_noop_webhook: api,
          run_action_over_api_execute: over,
          targets: { run_action_over_api_execute: 1.3 },
          met: { run_action_over_api_execute: over.p50 <= 1.3 && over.p95 <= 1.3 },
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await agent?.close();
    await host.close();
    await mailbox.close();
    await hook.close();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
