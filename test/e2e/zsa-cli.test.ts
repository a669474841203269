/**
 * The `zsa` command line end to end, as an admin meets it in a terminal: the built CLI spawned as a
 * real process (real stdin/stdout/stderr, a profile folder of its own per person) against the local
 * host over HTTP. alice signs in and asks with `--wait`; bob, in a second process, finds it among
 * his approvable requests and approves it, and alice's process returns; alice executes; refusals
 * exit 2 and quote the API's problem detail; no sign-in exits 3; a policy's `approverAuthContext`
 * makes bob's approval meet a claims challenge, which the CLI answers by signing in again and
 * retrying; an auditor exports the audit log and verifies the file offline.
 */
import { spawn } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { caller, mintToken, send, type ApiResponse } from '../support/api';
import { ROOT, sharedStorageEnv, startLocalHost, tempDir, type HostProcess } from '../support/local-host';
import { startWebhookTarget, type WebhookTarget } from '../support/webhook-target';

const CLI = join(ROOT, 'dist', 'cli', 'zsa.js');
const KEY = 'e2e-zsa-cli-signing-key';
const AUDIT_KEY = 'e2e-zsa-cli-audit-key';
const ALICE = 'alice@contoso.com';
const BOB = 'bob@contoso.com';
const AUDREY = 'audrey@contoso.com';
const TASK = 'Restart-Service web';
const STEP_UP_TASK = 'Rotate-Secret vault';

const env = {
  ...sharedStorageEnv(),
  ZSA_EXECUTOR_ALLOWED_HOSTS: '127.0.0.1',
  ZSA_WEBHOOK_SIGNING_KEY: KEY,
  ZSA_AUDIT_HMAC_KEY: AUDIT_KEY,
};

let host: HostProcess;
let hook: WebhookTarget;
/** Each person's profile folder (ZSA_HOME), as each would have their own `~/.zsa`. */
const home = { alice: tempDir('cli-alice'), bob: tempDir('cli-bob'), audrey: tempDir('cli-audrey') };

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Running {
  /** Resolves once stderr has shown `text`. */
  saw(text: string): Promise<void>;
  done: Promise<Run>;
}

/** Starts `zsa <args>` as its own process, with `profile` as its home and stdin closed. */
function start(profile: string, args: string[], extraEnv: Record<string, string> = {}): Running {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, ZSA_HOME: profile, ...extraEnv },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin.end();
  let stdout = '';
  let stderr = '';
  const waiters: { text: string; resolve: () => void }[] = [];
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    for (const w of waiters.filter((x) => stderr.includes(x.text))) w.resolve();
  });
  const done = new Promise<Run>((resolve) =>
    child.once('close', (code) => resolve({ code, stdout, stderr })),
  );
  return {
    saw: (text) =>
      stderr.includes(text)
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            waiters.push({ text, resolve });
            void done.then((r) =>
              reject(new Error(`zsa ended before printing "${text}": ${JSON.stringify(r)}`)),
            );
          }),
    done,
  };
}

function zsa(profile: string, args: string[], extraEnv: Record<string, string> = {}): Promise<Run> {
  return start(profile, args, extraEnv).done;
}

function ok<T>(r: ApiResponse<T>): T {
  if (r.status >= 300) throw new Error(`expected success, got ${r.status}: ${r.text}`);
  return r.body;
}

/** What a successful `--json` run printed, read through its schema. */
function json<S extends z.ZodType>(run: Run, schema: S): z.output<S> {
  expect(run, run.stderr).toMatchObject({ code: 0 });
  return schema.parse(JSON.parse(run.stdout));
}

const View = z.looseObject({
  id: z.string(),
  status: z.string(),
  task: z.string(),
  parameters: z.record(z.string(), z.unknown()),
  approvals: z.array(
    z.looseObject({ approver: z.string(), decision: z.string(), comment: z.string().nullable() }),
  ),
});
const Items = z.object({ items: z.array(View) });

beforeAll(async () => {
  hook = await startWebhookTarget(KEY);
  host = await startLocalHost({ env });
  const admin = await caller(host.url, 'admin@contoso.com', ['PAM.Admin']);
  ok(await admin.put('/api/approver-groups/cli-approvers', { members: [BOB] }));
  ok(await admin.post('/api/pam/enable', { defaultApproverGroup: 'cli-approvers' }));
  for (const name of [TASK, STEP_UP_TASK]) {
    ok(
      await admin.put('/api/catalog/tasks', {
        name,
        description: 'Restart a service',
        executor: { type: 'webhook', url: hook.url },
        parameters: [{ name: 'instances', type: 'number', required: true }],
      }),
    );
  }
  ok(await admin.post('/api/policies', { scope: 'task', target: TASK, approvalType: 'manual' }));
  ok(
    await admin.post('/api/policies', {
      scope: 'task',
      target: STEP_UP_TASK,
      approvalType: 'manual',
      approverAuthContext: 'c1',
    }),
  );
}, 90_000);

afterAll(async () => {
  await host.stop();
  await hook.close();
});

describe('zsa, the command line', () => {
  it('answers --help on every command, and exits 3 when nobody is signed in', async () => {
    // Arrange: every command is listed by the top-level help; commander answers each one's --help
    // the same way, so three of them (one with options, a group, a command in a group) stand for all
    // (each process costs about 0.4 s of CPU, beside the rest of the suite).
    const commands = ['login', 'logout', 'whoami', 'request', 'requests', 'show', 'approve', 'deny'];
    const more = ['revoke', 'cancel', 'exec', 'audit'];
    const samples = [[], ['request'], ['audit'], ['audit', 'export']];

    // Act
    const helps = await Promise.all(samples.map((c) => zsa(home.alice, [...c, '--help'])));
    const anonymous = await zsa(tempDir('cli-nobody'), ['requests']);

    // Assess
    for (const [i, run] of helps.entries()) {
      expect(run.code, samples[i]?.join(' ')).toBe(0);
      expect(run.stdout).toMatch(/^Usage: zsa/);
    }
    for (const name of [...commands, ...more])
      expect(helps[0]?.stdout).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
    expect(helps[1]?.stdout).toContain('--reason');
    expect(helps[2]?.stdout).toMatch(/^  export\b/m);
    expect(helps[3]?.stdout).toContain('--format');
    expect(anonymous.code).toBe(3);
    expect(anonymous.stderr).toContain('zsa login');
  });

  it('signs alice in at the development issuer and keeps the token readable by her alone', async () => {
    // Act
    const run = await zsa(home.alice, ['login', '--url', host.url, '--upn', ALICE, '--json']);

    // Assess
    expect(json(run, z.looseObject({ user: z.string() })).user).toBe(ALICE);
    expect(statSync(join(home.alice, 'session.json')).mode & 0o777).toBe(0o600);
    expect(statSync(home.alice).mode & 0o777).toBe(0o700);
    expect(json(await zsa(home.alice, ['whoami', '--json']), z.looseObject({ upn: z.string() })).upn).toBe(
      ALICE,
    );
  });

  it('refuses the development issuer anywhere but on this machine', async () => {
    // Arrange: a "service" on loopback that claims its development issuer is on another host.
    const liar: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          environment: 'local',
          signIn: {
            authority: 'http://zsa.example.com/dev',
            clientId: 'zsa-portal',
            scope: 'api://zsa/.default',
          },
        }),
      );
    });
    await new Promise<void>((r) => liar.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(liar.address() as AddressInfo).port}`;

    // Act
    const run = await zsa(tempDir('cli-liar'), ['login', '--url', url, '--upn', ALICE]);
    await new Promise<void>((r) => liar.close(() => r()));

    // Assess
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('refusing');
  });

  it('waits on a request with a spinner until bob approves it from a second process, then executes', async () => {
    // Arrange
    expect((await zsa(home.bob, ['login', '--url', host.url, '--upn', BOB])).code).toBe(0);

    // Act: alice asks and waits; bob finds it among those he may approve, and approves.
    const waiting = start(home.alice, [
      'request',
      TASK,
      '--reason',
      'Deploy 2.4 needs a restart',
      '--ticket',
      'CHG-1',
      '--param',
      'instances=3',
      '--wait',
      '--json',
    ]);
    await waiting.saw('Waiting for a decision');
    let approvable: z.output<typeof View>[] = [];
    while (approvable.length === 0) {
      approvable = json(await zsa(home.bob, ['requests', '--approvable', '--json']), Items).items;
    }
    const [pending] = approvable;
    const approved = await zsa(home.bob, ['approve', pending?.id ?? '', '--comment', 'go ahead']);
    const decided = await waiting.done;
    const executed = await zsa(home.alice, ['exec', TASK, '--param', 'instances=3', '--json']);

    // Assess
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toContain('approved');
    const view = json(decided, View);
    expect(view).toMatchObject({
      id: pending?.id,
      status: 'approved',
      task: TASK,
      parameters: { instances: 3 },
    });
    expect(view.approvals).toEqual([
      expect.objectContaining({ approver: BOB, decision: 'approve', comment: 'go ahead' }),
    ]);
    expect(decided.stderr).toContain('approved');
    expect(json(executed, z.looseObject({ status: z.string() })).status).toBe('succeeded');
    expect(hook.received.at(-1)?.body).toMatchObject({ task: TASK, parameters: { instances: 3 } });
  });

  it('exits 2 on a refusal and quotes the problem detail, as JSON with --json', async () => {
    // Arrange: the API's own words for the same refusal.
    const direct = await (
      await caller(host.url, ALICE)
    ).post<{ detail: string; code: string }>('/api/requests', {
      task: 'No such task',
      reason: 'x',
    });

    // Act
    const human = await zsa(home.alice, ['request', 'No such task', '--reason', 'x']);
    const script = await zsa(home.alice, ['request', 'No such task', '--reason', 'x', '--json']);
    const selfApproval = await zsa(home.alice, [
      'deny',
      json(await zsa(home.alice, ['requests', '--mine', '--json']), Items).items[0]?.id ?? '',
    ]);

    // Assess
    expect(direct.status).toBeGreaterThanOrEqual(400);
    expect(direct.status).toBeLessThan(500);
    expect(human.code).toBe(2);
    expect(human.stderr).toContain(direct.body.detail);
    expect(script.code).toBe(2);
    expect(JSON.parse(script.stderr)).toMatchObject({ exitCode: 2, problem: { code: direct.body.code } });
    expect(selfApproval.code).toBe(2);
  });

  it('answers a claims challenge by signing in again with the claims and retrying once', async () => {
    // Arrange: alice asks for a task whose approvers must prove the authentication context c1.
    const submitted = json(
      await zsa(home.alice, [
        'request',
        STEP_UP_TASK,
        '--reason',
        'Quarterly rotation',
        '--param',
        'instances=1',
        '--json',
      ]),
      View,
    );
    const plain = await send(`${host.url}/api/requests/${submitted.id}/approve`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await mintToken(host.url, BOB)}`,
        'content-type': 'application/json',
      },
      body: '{}',
    });

    // Act
    const approved = await zsa(home.bob, ['approve', submitted.id, '--json']);

    // Assess: bob's plain token is challenged; the CLI signs in with c1 and the approval lands.
    expect(plain.status).toBe(401);
    expect(plain.headers.get('www-authenticate')).toContain('insufficient_claims');
    expect(json(approved, View)).toMatchObject({ id: submitted.id, status: 'approved' });
    expect(JSON.parse(readFileSync(join(home.bob, 'session.json'), 'utf8'))).toMatchObject({
      signIn: { acrs: ['c1'] },
    });
  });

  it('exports the audit log with a progress summary and verifies the file offline', async () => {
    // Arrange
    expect(
      (await zsa(home.audrey, ['login', '--url', host.url, '--upn', AUDREY, '--role', 'PAM.Auditor'])).code,
    ).toBe(0);
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    const file = join(home.audrey, 'audit.jsonl');
    const csv = join(home.audrey, 'audit.csv');

    // Act
    const exported = await zsa(home.audrey, [
      'audit',
      'export',
      '--from',
      from,
      '--to',
      to,
      '-o',
      file,
      '--json',
    ]);
    const exportedCsv = await zsa(home.audrey, [
      'audit',
      'export',
      '--from',
      from,
      '--to',
      to,
      '--format',
      'csv',
      '-o',
      csv,
    ]);
    const verified = await zsa(home.audrey, ['audit', 'verify', file], { ZSA_AUDIT_HMAC_KEY: AUDIT_KEY });
    const verifiedCsv = await zsa(home.audrey, ['audit', 'verify', csv], { ZSA_AUDIT_HMAC_KEY: AUDIT_KEY });
    const withoutKey = await zsa(home.audrey, ['audit', 'verify', file], { ZSA_AUDIT_HMAC_KEY: '' });
    // One row rewritten as someone who can edit the file but has no chain key would.
    const lines = readFileSync(file, 'utf8').split('\n');
    lines[0] = JSON.stringify({ ...(JSON.parse(lines[0] ?? '') as object), actorUpn: 'mallory@contoso.com' });
    writeFileSync(file, lines.join('\n'));
    const tampered = await zsa(home.audrey, ['audit', 'verify', file], { ZSA_AUDIT_HMAC_KEY: AUDIT_KEY });
    const aliceExports = await zsa(home.alice, [
      'audit',
      'export',
      '--from',
      from,
      '--to',
      to,
      '-o',
      join(home.alice, 'x.jsonl'),
    ]);

    // Assess
    const summary = json(exported, z.looseObject({ events: z.number() }));
    expect(summary.events).toBeGreaterThan(5);
    expect(readFileSync(csv, 'utf8')).toContain('request.approved');
    expect(exportedCsv.stdout).toMatch(/Exported \d+ events/);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stderr).toContain('intact');
    expect(verifiedCsv.code, verifiedCsv.stderr).toBe(0);
    expect(withoutKey.code).toBe(1);
    expect(withoutKey.stderr).toContain('NOT checked');
    expect(tampered.code).toBe(1);
    expect(tampered.stderr).toContain('BROKEN');
    expect(aliceExports.code).toBe(2);
    expect(aliceExports.stderr).toContain('PAM.');
  });

  it('signs out: the session is gone and commands ask for a sign-in (exit 3)', async () => {
    // Act
    const out = await zsa(home.alice, ['logout']);
    const after = await zsa(home.alice, ['requests', '--mine']);

    // Assess
    expect(out.code).toBe(0);
    expect(after.code).toBe(3);
  });
});
