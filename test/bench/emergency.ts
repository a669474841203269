/**
 * Emergency access benchmark (#14), on the local host with the real app, through the HTTP API: an
 * emergency submit → its first successful execution (the grant is written at once, like an
 * automatic approval, but its submit also opens the review, indexes it and records `emergency.used`,
 * and its workflow emails every approver), next to an automatic approval's submit → first
 * successful execution, its floor, measured in alternating rounds in the same run. Target: ≤ 1.2×
 * at p95.
 */
import { startHost } from '@zsa/local-host';
import { benchHostOptions, must, setUpBench } from './host-options';
import { caller, type Caller } from '../support/api';
import { startWebhookTarget } from '../support/webhook-target';
import { now, ratio, summarize } from './stats';

const RUNS = Number(process.env.BENCH_RUNS ?? 200);
const KEY = 'bench-signing-key';
const WARM = 5;

const AUTO = 'Bench\\Auto';
const GUARDED = 'Bench\\BreakGlass';
const REASON = 'Production outage: the bench is on fire (INC-1)';

async function main(): Promise<void> {
  const hook = await startWebhookTarget(KEY);
  const host = await startHost({ ...benchHostOptions(KEY), log: () => undefined });
  try {
    const admin = await caller(host.url, 'admin@contoso.com', ['PAM.Admin']);
    await setUpBench(admin, {
      approver: 'approver@contoso.com',
      webhookUrl: hook.url,
      tasks: [[AUTO, 'auto']],
    });
    await must(admin.put('/api/approver-groups/bench-oncall', { members: ['oncall@contoso.com'] }));
    await must(
      admin.put('/api/catalog/tasks', {
        name: GUARDED,
        description: 'bench',
        executor: { type: 'webhook', url: hook.url },
      }),
    );
    await must(
      admin.post('/api/policies', {
        scope: 'task',
        target: GUARDED,
        approvalType: 'manual',
        approverGroup: 'bench-approvers',
        breakGlassGroup: 'bench-oncall',
        breakGlassMaxHours: 1,
      }),
    );
    // Two requesters: each stays under the per-user submit limit.
    const user = await caller(host.url, 'user@contoso.com');
    const oncall = await caller(host.url, 'oncall@contoso.com');

    /** Submits, then executes until it succeeds (the workflow may be a moment behind); the time it took. */
    const submitToUsable = async (who: Caller, task: string, emergency: boolean): Promise<number> => {
      const t = now();
      const r = await who.post<{ id: string; status: string }>('/api/requests', {
        task,
        reason: REASON,
        durationHours: 1,
        ...(emergency ? { emergency: true } : {}),
      });
      if (r.status >= 300 || r.body.status !== 'approved') throw new Error(`submit: ${r.status} ${r.text}`);
      for (;;) {
        const x = await who.post('/api/execute', { task, requestId: r.body.id });
        if (x.status === 200) return now() - t;
        if (x.status !== 403 && x.status !== 503) throw new Error(`execute: ${x.status} ${x.text}`);
      }
    };

    const samples = { auto: [] as number[], emergency: [] as number[] };
    const steps = {
      auto: () => submitToUsable(user, AUTO, false),
      emergency: () => submitToUsable(oncall, GUARDED, true),
    };
    for (let i = 0; i < RUNS + WARM; i++) {
      const order = i % 2 === 0 ? (['auto', 'emergency'] as const) : (['emergency', 'auto'] as const);
      for (const name of order) {
        const ms = await steps[name]();
        if (i >= WARM) samples[name].push(ms);
      }
    }

    const e = summarize(samples.emergency);
    const a = summarize(samples.auto);
    process.stdout.write(
      `${JSON.stringify(
        {
          benchmark: 'emergency',
          runs: RUNS,
          unit: 'ms',
          emergency_submit_to_first_successful_execution: e,
          floor_auto_approval_submit_to_first_successful_execution: a,
          emergency_over_auto: { p50: ratio(e.p50, a.p50), p95: ratio(e.p95, a.p95) },
          targets: { emergency_over_auto_p95: 1.2 },
          met: { emergency: e.p95 <= 1.2 * a.p95 },
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await host.close();
    await hook.close();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
