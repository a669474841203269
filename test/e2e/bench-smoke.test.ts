/**
 * `npm run bench` keeps working: the compiled durable, pam and email benchmarks run end to end with
 * a handful of samples and print their reports. Only that they run and report is checked here; their
 * figures are for the bench itself (timed tests would be noise on a shared machine). The audit bench
 * has its own component test (test/component/audit/bench.test.ts). The cloud and load benches take
 * minutes, so only the latency proxy they stand on is checked here: it delays each way, counts the
 * requests and tells sequential ones from side-by-side ones.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { sequentialDepth, startLatencyProxy } from '../bench/latency-proxy';
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
        // On the suite's Azurite: each bench's host starting an Azurite of its own was about a
        // quarter of the benches' CPU.
        {
          env: { ...process.env, BENCH_RUNS: '3', AzureWebJobsStorage: inject('sharedAzurite') },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
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
    // A handful of samples is all a smoke run needs (a hundred took most of its time).
    const email = reports[2] ?? {};
    expect(email['submitted_to_approval_email_in_mailbox']).toMatchObject({ n: 3 });
    expect(email['servicebus_send_to_trigger_invoked']).toMatchObject({ n: 3 });
  }, 120_000);

  it('puts one round trip on each request through the latency proxy and counts the sequential ones', async () => {
    // Prepare: an HTTP upstream, and the proxy in front of it with 15 ms each way
    const upstream = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    const address = upstream.address();
    const proxy = await startLatencyProxy({
      upstreamPort: typeof address === 'object' && address ? address.port : 0,
      oneWayMs: 15,
    });
    const get = (path: string) => fetch(`http://127.0.0.1:${proxy.port}${path}`).then((r) => r.text());
    try {
      await get('/warm');

      // Act: two requests one after the other, then two side by side
      const started = performance.now();
      await get('/a');
      await get('/b');
      await Promise.all([get('/c'), get('/d')]);
      const elapsed = performance.now() - started;

      // Assess: three round trips of 30 ms, four requests seen, three of them in sequence
      expect(elapsed).toBeGreaterThanOrEqual(3 * 30 - 3);
      const measured = proxy.requests.slice(1);
      expect(measured.map((r) => `${r.method} ${r.path}`).sort()).toEqual([
        'GET /a',
        'GET /b',
        'GET /c',
        'GET /d',
      ]);
      // Each answer reached the proxy no sooner than the request's own delay on the way up.
      for (const r of measured) expect((r.answeredAt ?? 0) - r.sentAt).toBeGreaterThanOrEqual(14);
      expect(sequentialDepth(measured)).toBe(3);
    } finally {
      await proxy.close();
      await new Promise<void>((r) => upstream.close(() => r()));
    }
  });
});
