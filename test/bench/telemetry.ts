/**
 * Telemetry overhead benchmark (#21), on the local host with the real app, through the HTTP API: a
 * submit (automatic approval) and an execution against a loopback webhook, with telemetry on
 * (spans and metrics exported over OTLP/HTTP JSON to the host's /dev/telemetry receiver) next to
 * telemetry off (`ZSA_TELEMETRY=off`: no SDK at all), measured in alternating rounds in the same
 * run. A process hosts one app, and telemetry is per process, so each mode runs in a child process
 * of this one (`telemetry.js --serve on|off`) and this process drives both. Target: ≤ 10 % at p50.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { startHost } from '@zsa/local-host';
import { caller, type Caller } from '../support/api';
import { startWebhookTarget } from '../support/webhook-target';
import { benchHostOptions, setUpBench } from './host-options';
import { now, ratio, summarize } from './stats';

const RUNS = Number(process.env.BENCH_RUNS ?? 200);
const KEY = 'bench-signing-key';
const WARM = 10;
const TASK = 'Bench\\Auto';
const MODES = ['on', 'off'] as const;
type Mode = (typeof MODES)[number];

/** Child: hosts the app with telemetry `mode`, says `READY <url>`, and runs until its stdin closes. */
async function serve(mode: Mode): Promise<void> {
  const host = await startHost({
    // Metrics at their default interval (a minute), as deployed.
    ...benchHostOptions(KEY, { ZSA_TELEMETRY: mode }),
    log: () => undefined,
  });
  process.stdout.write(`READY ${host.url}\n`);
  process.stdin.resume();
  await new Promise<void>((r) => process.stdin.on('end', () => r()));
  await host.close();
}

/** Starts a child hosting the app with telemetry `mode`; its URL once it is ready. */
async function child(mode: Mode): Promise<{ url: string; process: ChildProcess }> {
  const proc = spawn(process.execPath, [__filename, '--serve', mode], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: process.env,
  });
  const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
  const url = await new Promise<string>((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`the ${mode} host exited (${String(code)})`)));
    lines.on('line', (line) => {
      const m = /^READY (\S+)$/.exec(line);
      if (m?.[1]) resolve(m[1]);
    });
  });
  return { url, process: proc };
}

async function main(): Promise<void> {
  const hook = await startWebhookTarget(KEY);
  const children = await Promise.all(MODES.map((mode) => child(mode)));
  try {
    const users = new Map<Mode, Caller>();
    for (const [i, mode] of MODES.entries()) {
      const url = children[i]?.url ?? '';
      const admin = await caller(url, 'admin@contoso.com', ['PAM.Admin']);
      await setUpBench(admin, {
        approver: 'approver@contoso.com',
        webhookUrl: hook.url,
        tasks: [[TASK, 'auto']],
      });
      users.set(mode, await caller(url, 'user@contoso.com'));
    }

    /** One submit and one successful execution under it: the time of each. */
    const round = async (who: Caller): Promise<{ submit: number; execute: number }> => {
      let t = now();
      const r = await who.post<{ id: string; status: string }>('/api/requests', {
        task: TASK,
        reason: 'bench',
        durationHours: 1,
      });
      const submit = now() - t;
      if (r.status >= 300 || r.body.status !== 'approved') throw new Error(`submit: ${r.status} ${r.text}`);
      for (;;) {
        t = now();
        const x = await who.post('/api/execute', { task: TASK, requestId: r.body.id });
        if (x.status === 200) return { submit, execute: now() - t };
        // The workflow may be a moment behind the submit.
        if (x.status !== 403 && x.status !== 503) throw new Error(`execute: ${x.status} ${x.text}`);
      }
    };

    const samples = {
      on: { submit: [] as number[], execute: [] as number[] },
      off: { submit: [] as number[], execute: [] as number[] },
    };
    for (let i = 0; i < RUNS + WARM; i++) {
      const order: readonly Mode[] = i % 2 === 0 ? ['on', 'off'] : ['off', 'on'];
      for (const mode of order) {
        const who = users.get(mode);
        if (!who) throw new Error(`no caller for ${mode}`);
        const { submit, execute } = await round(who);
        if (i >= WARM) {
          samples[mode].submit.push(submit);
          samples[mode].execute.push(execute);
        }
      }
    }

    const on = { submit: summarize(samples.on.submit), execute: summarize(samples.on.execute) };
    const off = { submit: summarize(samples.off.submit), execute: summarize(samples.off.execute) };
    const overhead = {
      submit: { p50: ratio(on.submit.p50, off.submit.p50), p95: ratio(on.submit.p95, off.submit.p95) },
      execute: { p50: ratio(on.execute.p50, off.execute.p50), p95: ratio(on.execute.p95, off.execute.p95) },
    };
    process.stdout.write(
      `${JSON.stringify(
        {
          benchmark: 'telemetry',
          runs: RUNS,
          unit: 'ms',
          telemetry_on: on,
          floor_telemetry_off: off,
          on_over_off: overhead,
          targets: { on_over_off_p50: 1.1 },
          met: {
            submit: on.submit.p50 <= 1.1 * off.submit.p50,
            execute: on.execute.p50 <= 1.1 * off.execute.p50,
          },
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    for (const c of children) c.process.stdin?.end();
    await Promise.all(children.map((c) => new Promise((r) => c.process.once('exit', r))));
    await hook.close();
  }
}

const serving = process.argv.indexOf('--serve');
const run = serving >= 0 ? serve(process.argv[serving + 1] === 'on' ? 'on' : 'off') : main();
run.catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
