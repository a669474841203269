/**
 * What every bench's local host shares: ZSA's launcher options on a free port, in memory, with
 * short windows allowed, the loopback webhook allowed and signed with `signingKey`, and the
 * per-user submit limit at its highest setting (benches submit far more than a person does; the
 * limiter stays on, so its storage work is part of a submit's cost). `env` adds or overrides.
 */
import { resolve } from 'node:path';
import type { HostOptions } from '@zsa/local-host';
import { zsaHostOptions } from '../../infra/tools/local-host';
import type { Caller } from '../support/api';

export function benchHostOptions(
  signingKey: string,
  env: Readonly<Record<string, string>> = {},
): HostOptions & ReturnType<typeof zsaHostOptions> {
  return {
    ...zsaHostOptions(),
    root: resolve(__dirname, '..', '..', '..'),
    port: 0,
    inMemory: true,
    env: {
      ...process.env,
      ZSA_MIN_DURATION_SECONDS: '1',
      ZSA_EXECUTOR_ALLOWED_HOSTS: '127.0.0.1',
      ZSA_WEBHOOK_SIGNING_KEY: signingKey,
      ZSA_SUBMIT_RATE_LIMIT: '500',
      ...env,
    },
  };
}

/** Fails a bench's set-up call loudly (status and body). */
export async function must(p: Promise<{ status: number; text: string }>): Promise<void> {
  const r = await p;
  if (r.status >= 300) throw new Error(`bench set-up: ${r.status} ${r.text}`);
}

/**
 * The configuration every bench starts from, through the API as an admin: the approver group
 * `bench-approvers` with `approver`, privileged access enabled with it as default, and each task
 * run by `webhookUrl` under a task policy of its approval type.
 */
export async function setUpBench(
  admin: Caller,
  opts: { approver: string; webhookUrl: string; tasks: readonly (readonly [string, 'manual' | 'auto'])[] },
): Promise<void> {
  await must(admin.put('/api/approver-groups/bench-approvers', { members: [opts.approver] }));
  await must(admin.post('/api/pam/enable', { defaultApproverGroup: 'bench-approvers' }));
  for (const [task, approvalType] of opts.tasks) {
    await must(
      admin.put('/api/catalog/tasks', {
        name: task,
        description: 'bench',
        executor: { type: 'webhook', url: opts.webhookUrl },
      }),
    );
    await must(
      admin.post('/api/policies', {
        scope: 'task',
        target: task,
        approvalType,
        ...(approvalType === 'manual' ? { approverGroup: 'bench-approvers' } : {}),
      }),
    );
  }
}
