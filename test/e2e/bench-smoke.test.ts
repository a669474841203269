/**
 * `npm run bench` keeps working: the compiled durable, pam and email benchmarks run end to end with
 * a handful of samples and print their reports. Only that they run and report is checked here; their
 * figures are for the bench itself (timed tests would be noise on a shared machine). The audit bench
 * has its own component test (test/component/audit/bench.test.ts).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/local-host';

/** The JSON documents printed one after another (each bench prints one, pretty-printed). */
function documents(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const starts = [...text.matchAll(/^\{$/gm)].map((m) => m.index);
  for (const [i, start] of starts.entries()) {
    out.push(JSON.parse(text.slice(start, starts[i + 1] ?? text.length)) as Record<string, unknown>);
  }
  return out;
}

describe('npm run bench', () => {
  it('runs the durable, pam and email benchmarks and prints a report for each', async () => {
    // Act
    const { code, stdout, stderr } = await new Promise<{
      code: number | null;
      stdout: string;
      stderr: string;
    }>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [join(ROOT, 'dist', 'test', 'bench', 'run.js'), 'durable', 'pam', 'email'],
        { env: { ...process.env, BENCH_RUNS: '3' }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (exit) => resolve({ code: exit, stdout, stderr }));
    });

    // Assess
    expect(code, stderr).toBe(0);
    const reports = documents(stdout);
    expect(reports.map((r) => r['benchmark'])).toEqual([
      'durable-local-host',
      'pam-core',
      'email-notifications',
    ]);
    const pam = reports[1] ?? {};
    expect(pam['execute_noop_webhook']).toMatchObject({ n: 3 });
    expect(pam['structural_floor_http_reads_intent_webhook_outcome']).toMatchObject({ n: 3 });
  }, 120_000);
});
