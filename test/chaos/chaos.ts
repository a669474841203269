/**
 * A chaos run against the local host: a bounded, seeded mix of submits, approvals (API and emailed
 * links), denials, cancels, executions and revokes from several clients at once, during which
 * storage goes away for a few seconds (Azurite stopped and started again on the same data, behind
 * endpoints that stay put) and the host is killed with -9 and started again on the same data. Then
 * the checks of checks.ts, plus: every grant still live is usable, and the audit verifies.
 *
 * The seed fixes every choice the clients make (which operation, on which request, by whom, how
 * long); the interleaving with the faults and the workflows still depends on timing.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@zsa/local-host';
import { caller, type ApiResponse, type Caller } from '../support/api';
import { startFlakyStorage } from '../support/flaky-storage';
import { startLocalHost, tempDir, type HostProcess, type HostStartOptions } from '../support/local-host';
import { decideByLink, decisionLink, readMailbox } from '../support/mailbox';
import { startWebhookTarget } from '../support/webhook-target';
import { seeded } from '../unit/audit/builders';
import {
  runChecks,
  type AuditRow,
  type CheckResult,
  type Fault,
  type Receipt,
  type RequestView,
  type Told,
} from './checks';

export interface ChaosOptions {
  seed: number;
  /** How long the clients keep going. */
  loadMs: number;
  /** Clients running at once. */
  clients: number;
  /** When storage goes away (from the start of the load), and for how long. */
  outageAtMs: number;
  outageMs: number;
  /** When the host is killed (from the start of the load). */
  killAtMs: number;
  /** How late after its deadline a grant may end or a request expire. */
  toleranceMs: number;
  /** How late after the recovery, when its deadline fell during a fault. */
  recoveryToleranceMs: number;
  log: (line: string) => void;
}

export const DEFAULT_OPTIONS: Omit<ChaosOptions, 'seed' | 'log'> = {
  loadMs: 30_000,
  clients: 4,
  outageAtMs: 7_000,
  outageMs: 4_000,
  killAtMs: 17_000,
  toleranceMs: 2_500,
  recoveryToleranceMs: 5_000,
};

export interface ChaosReport {
  seed: number;
  /** Per operation, how many answers of each status (`no answer`: the connection failed or timed out). */
  operations: Record<string, Record<string, number>>;
  faults: Fault[];
  /** When the load began (the faults' times are in the same clock). */
  loadStartedAt: number;
  /** The run's folder: storage, the host's data, and each host's output (host-<n>.log). */
  data: string;
  /** Requests by final status. */
  requests: Record<string, number>;
  executionsReceived: number;
  /** Answers 500 (never expected, even during a fault: 503 says "try again"). */
  internalErrors: string[];
  checks: CheckResult[];
  ms: { setup: number; load: number; settle: number; total: number };
  /** The machine's 1-minute load average at the start and at the end, and its cores. */
  machine: { loadAtStart: number; loadAtEnd: number; cores: number };
}

const KEY = 'chaos-signing-key';
const SECOND = 1 / 3600;
const GROUP = 'chaos-approvers';
const APPROVERS = ['ann@contoso.com', 'ben@contoso.com'];
const REQUESTERS = ['ria@contoso.com', 'raj@contoso.com', 'rosa@contoso.com', 'rob@contoso.com'];
/** Manual with one approval, manual with two, automatic; short pending windows so requests expire. */
const TASKS = [
  { name: 'Chaos\\One', approvalType: 'manual', requiredApprovals: 1, pendingSeconds: 9 },
  { name: 'Chaos\\Two', approvalType: 'manual', requiredApprovals: 2, pendingSeconds: 12 },
  { name: 'Chaos\\Auto', approvalType: 'auto', requiredApprovals: 1, pendingSeconds: 9 },
] as const;
/**
 * How long a client keeps retrying a submit that got no answer: longer than both faults together on
 * a busy machine (an answer comes within a second of the recovery).
 */
const SUBMIT_RETRY_MS = 60_000;
/** No answer within this is a lost answer (the call itself may still land). */
const CALL_TIMEOUT_MS = 15_000;

interface Known {
  id: string;
  requester: string;
  task: string;
  status: string;
}

type Op = 'submit' | 'approve' | 'deny' | 'link' | 'execute' | 'revoke' | 'cancel';
const WEIGHTS: [Op, number][] = [
  ['submit', 30],
  ['approve', 14],
  ['link', 10],
  ['deny', 5],
  ['execute', 26],
  ['revoke', 8],
  ['cancel', 7],
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const t0 = Date.now();
  const loadAtStart = loadavg()[0] ?? 0;
  const random = seeded(options.seed);
  const pick = <T>(items: readonly T[]): T | undefined => items[Math.floor(random() * items.length)];
  const log = options.log;

  const data = tempDir('chaos');
  const storage = await startFlakyStorage(join(data, 'storage'));
  const hook = await startWebhookTarget(KEY);
  const hostOptions: HostStartOptions = {
    dataDir: join(data, 'host'),
    port: await freePort(),
    env: {
      AzureWebJobsStorage: storage.connectionString,
      ZSA_MIN_DURATION_SECONDS: '1',
      ZSA_EXECUTOR_ALLOWED_HOSTS: '127.0.0.1',
      ZSA_WEBHOOK_SIGNING_KEY: KEY,
      // The per-user submit limit is not what this run is about, and its clients submit often.
      ZSA_SUBMIT_RATE_LIMIT: '0',
    },
  };
  let host: HostProcess = await startLocalHost(hostOptions);
  // What each host said, kept beside the data for reading after a failed run.
  const hostLogs: string[] = [];
  const keepLog = (h: HostProcess) => {
    const file = join(data, `host-${hostLogs.length + 1}.log`);
    writeFileSync(file, h.output());
    hostLogs.push(file);
  };
  // Whatever happens, nothing this run started outlives it.
  try {
    const url = host.url;
    log(`chaos: seed ${options.seed}, host ${url}, data ${data}`);

    const operations: ChaosReport['operations'] = {};
    const internalErrors: string[] = [];
    const faults: Fault[] = [];
    const told = new Map<string, Set<Told>>();
    const known = new Map<string, Known>();
    const leftLive = new Map<string, { status: string; at: number }>();

    const tally = (op: string, outcome: string) => {
      const counts = (operations[op] ??= {});
      counts[outcome] = (counts[outcome] ?? 0) + 1;
    };
    /** One call, tallied; undefined when no answer came (refused connection, reset, timeout). */
    const attempt = async <T>(
      op: string,
      who: Caller,
      method: string,
      path: string,
      body?: unknown,
    ): Promise<ApiResponse<T> | undefined> => {
      try {
        const res = (await who.raw(path, {
          method,
          headers: body === undefined ? {} : { 'content-type': 'application/json' },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
        })) as ApiResponse<T>;
        tally(op, String(res.status));
        if (res.status === 500) internalErrors.push(`${op} ${method} ${path}: ${res.text.slice(0, 300)}`);
        return res;
      } catch {
        tally(op, 'no answer');
        return undefined;
      }
    };
    const tell = (id: string, what: Told) => told.set(id, (told.get(id) ?? new Set()).add(what));
    const note = (view: { id: string; status: string }) => {
      const k = known.get(view.id);
      if (k) k.status = view.status;
    };

    // --- configuration ---
    const admin = await caller(url, 'admin@contoso.com', ['PAM.Admin']);
    const must = async (res: Promise<ApiResponse | undefined>) => {
      const r = await res;
      if (!r || r.status >= 300) throw new Error(`chaos set-up failed: ${r?.status} ${r?.text}`);
    };
    await must(attempt('setup', admin, 'PUT', `/api/approver-groups/${GROUP}`, { members: APPROVERS }));
    await must(attempt('setup', admin, 'POST', '/api/pam/enable', { defaultApproverGroup: GROUP }));
    for (const task of TASKS) {
      await must(
        attempt('setup', admin, 'PUT', '/api/catalog/tasks', {
          name: task.name,
          description: 'chaos',
          executor: { type: 'webhook', url: hook.url },
        }),
      );
      await must(
        attempt('setup', admin, 'POST', '/api/policies', {
          scope: 'task',
          target: task.name,
          approvalType: task.approvalType,
          requiredApprovals: task.requiredApprovals,
          pendingTimeoutHours: task.pendingSeconds * SECOND,
          ...(task.approvalType === 'manual' ? { approverGroup: GROUP } : {}),
        }),
      );
    }
    const people = new Map<string, Caller>();
    for (const upn of [...REQUESTERS, ...APPROVERS]) people.set(upn, await caller(url, upn));
    const as = (upn: string): Caller => {
      const who = people.get(upn);
      if (!who) throw new Error(`no caller for ${upn}`);
      return who;
    };
    const auditor = await caller(url, 'auditor@contoso.com', ['PAM.Auditor']);
    const setupMs = Date.now() - t0;

    // --- the watcher: when each request left its live state, as seen from outside ---
    const listLive = async (): Promise<Map<string, string> | undefined> => {
      const live = new Map<string, string>();
      for (const status of ['pending', 'approved']) {
        let token: string | undefined;
        do {
          const q = `status=${status}${token ? `&continuationToken=${encodeURIComponent(token)}` : ''}`;
          const res = await attempt<{ items: RequestView[]; continuationToken?: string }>(
            'watch',
            admin,
            'GET',
            `/api/requests?${q}`,
          );
          if (res?.status !== 200) return undefined;
          for (const r of res.body.items) live.set(r.id, r.status);
          token = res.body.continuationToken;
        } while (token);
      }
      return live;
    };
    const stopWatching = new AbortController();
    const wasLive = new Set<string>();
    const watcher = (async () => {
      while (!stopWatching.signal.aborted) {
        const live = await listLive();
        const seenAt = Date.now();
        if (live) {
          for (const id of wasLive) {
            if (live.has(id) || leftLive.has(id)) continue;
            const res = await attempt<RequestView>('watch', admin, 'GET', `/api/requests/${id}`);
            if (res?.status === 200 && !['pending', 'approved'].includes(res.body.status))
              leftLive.set(id, { status: res.body.status, at: seenAt });
          }
          for (const [id, status] of live) {
            wasLive.add(id);
            note({ id, status });
          }
        }
        await sleep(250);
      }
    })();

    // --- the load ---
    const loadStart = Date.now();
    const loadEnd = loadStart + options.loadMs;
    let submits = 0;
    const inStatus = (status: string) => [...known.values()].filter((k) => k.status === status);

    const operation = async (op: Op): Promise<void> => {
      switch (op) {
        case 'submit': {
          const requester = pick(REQUESTERS) ?? '';
          const roll = random();
          const task = roll < 0.45 ? TASKS[0] : roll < 0.65 ? TASKS[1] : TASKS[2];
          const seconds = random() < 0.1 ? 3600 : 3 + Math.floor(random() * 8);
          const body = {
            task: task.name,
            reason: 'chaos',
            durationHours: seconds * SECOND,
            clientRequestId: `chaos-${options.seed}-${++submits}`,
          };
          // A submit that got no answer (or 503) is tried again with the same clientRequestId until it
          // gets one, as the API asks of clients: the first attempt may have stored the request and
          // died before starting its workflow, and only a retry (or, minutes later, the reconciler)
          // finishes it. The same request must come back, never a second one.
          const giveUpAt = Date.now() + SUBMIT_RETRY_MS;
          for (;;) {
            const res = await attempt<RequestView>('submit', as(requester), 'POST', '/api/requests', body);
            if (res?.status === 200 || res?.status === 202) {
              known.set(res.body.id, {
                id: res.body.id,
                requester,
                task: task.name,
                status: res.body.status,
              });
              return;
            }
            if ((res && res.status !== 503) || Date.now() > giveUpAt) return;
            await sleep(1000);
          }
        }
        case 'approve':
        case 'deny': {
          const target = pick(inStatus('pending'));
          if (!target) return tally(op, 'nothing to do');
          const res = await attempt<RequestView>(
            op,
            as(pick(APPROVERS) ?? ''),
            'POST',
            `/api/requests/${target.id}/${op}`,
            {},
          );
          if (res?.status !== 200) return;
          note(res.body);
          if (op === 'deny') tell(target.id, 'denied');
          else if (res.body.status === 'approved') tell(target.id, 'approved');
          return;
        }
        case 'link': {
          const target = pick(inStatus('pending'));
          const approver = pick(APPROVERS) ?? '';
          if (!target) return tally(op, 'nothing to do');
          let link: string | undefined;
          try {
            link = decisionLink(await readMailbox(url), url, target.id, approver);
          } catch {
            return tally(op, 'no answer');
          }
          if (!link) return tally(op, 'no email yet');
          try {
            const res = await decideByLink(link, random() < 0.8 ? 'approve' : 'deny');
            tally(op, String(res.status));
            if (res.status === 500) internalErrors.push(`link POST ${target.id}: ${res.text.slice(0, 300)}`);
          } catch {
            tally(op, 'no answer');
          }
          return;
        }
        case 'execute': {
          const target = pick(inStatus('approved'));
          if (!target) return tally(op, 'nothing to do');
          const res = await attempt<{ code?: string }>(
            'execute',
            as(target.requester),
            'POST',
            '/api/execute',
            {
              task: target.task,
              requestId: target.id,
            },
          );
          // Refused: the grant is over (the client learns it only now).
          if (res?.status === 403) target.status = 'over';
          return;
        }
        case 'revoke': {
          const target = pick(inStatus('approved'));
          if (!target) return tally(op, 'nothing to do');
          const roll = random();
          const who = roll < 0.4 ? as(target.requester) : roll < 0.7 ? admin : as(pick(APPROVERS) ?? '');
          const res = await attempt<RequestView>(
            'revoke',
            who,
            'POST',
            `/api/requests/${target.id}/revoke`,
            {},
          );
          if (res?.status === 200) {
            note(res.body);
            tell(target.id, 'revoked');
          } else if (res?.status === 409) target.status = 'over';
          return;
        }
        case 'cancel': {
          const target = pick(inStatus('pending'));
          if (!target) return tally(op, 'nothing to do');
          const res = await attempt<RequestView>(
            'cancel',
            as(target.requester),
            'POST',
            `/api/requests/${target.id}/cancel`,
            {},
          );
          if (res?.status === 200) {
            note(res.body);
            tell(target.id, 'canceled');
          }
          return;
        }
      }
    };
    const total = WEIGHTS.reduce((s, [, w]) => s + w, 0);
    const chooseOp = (): Op => {
      let roll = random() * total;
      for (const [op, w] of WEIGHTS) if ((roll -= w) < 0) return op;
      return 'submit';
    };
    // Choices are drawn before each call, from one generator, so a seed replays the same sequence of
    // choices; which client makes each call depends on timing.
    const client = async () => {
      while (Date.now() < loadEnd) {
        await operation(chooseOp());
        await sleep(50 + Math.floor(random() * 150));
      }
    };

    const chaos = (async () => {
      await sleep(loadStart + options.outageAtMs - Date.now());
      log(`chaos: storage goes away for ${options.outageMs} ms`);
      faults.push({ kind: 'storage outage', ...(await storage.outage(options.outageMs)) });
      log('chaos: storage is back');
      await sleep(loadStart + options.killAtMs - Date.now());
      const from = Date.now();
      log('chaos: kill -9 of the host');
      await host.kill();
      keepLog(host);
      host = await startLocalHost(hostOptions);
      faults.push({ kind: 'host kill -9', from, to: Date.now() });
      log(`chaos: host back after ${Date.now() - from} ms`);
    })();

    await Promise.all([...Array.from({ length: options.clients }, client), chaos]);
    const loadMs = Date.now() - loadStart;

    // --- settle: every short window passes, then the audit catches up ---
    const settleStart = Date.now();
    const lastRecovery = Math.max(...faults.map((f) => f.to));
    const views = async (): Promise<RequestView[]> => {
      const all: RequestView[] = [];
      let token: string | undefined;
      do {
        const q = token ? `?continuationToken=${encodeURIComponent(token)}` : '';
        const res = await attempt<{ items: RequestView[]; continuationToken?: string }>(
          'final read',
          admin,
          'GET',
          `/api/requests${q}`,
        );
        if (res?.status !== 200) throw new Error(`listing requests failed: ${res?.status} ${res?.text}`);
        all.push(...res.body.items);
        token = res.body.continuationToken;
      } while (token);
      return all;
    };
    const shortDeadline = (r: RequestView) => {
      const deadline = r.status === 'pending' ? Date.parse(r.pendingUntil) : Date.parse(r.expiresAt ?? '');
      return deadline - Date.now() < 60_000 ? deadline : undefined;
    };
    // Done when every request with a short window is final (or, if one is stuck, after a bound: the
    // checks then name it).
    while (Date.now() < settleStart + 30_000) {
      const live = (await views()).filter((r) => ['pending', 'approved'].includes(r.status));
      if (live.every((r) => shortDeadline(r) === undefined)) break;
      await sleep(500);
    }
    stopWatching.abort();
    await watcher;

    // Events whose maker died wait in the request row for their claim to run out (30 s), then the
    // next touch appends them (at the latest the workflow's sweep when the request ends): give the
    // audit until then, re-checking as it fills.
    const auditDeadline = Math.max(Date.now() + 3000, lastRecovery + 45_000);
    let checks: CheckResult[];
    let requests: RequestView[];
    for (;;) {
      requests = await views();
      // Read as text: JSON Lines is not one JSON document.
      const exported = await fetch(`${url}/api/audit/export?format=jsonl`, {
        headers: { authorization: `Bearer ${auditor.token}` },
      });
      if (exported.status !== 200) throw new Error(`audit export failed: ${exported.status}`);
      const audit = (await exported.text())
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as AuditRow);
      const receipts: Receipt[] = hook.received.map((r) => ({
        executionId: String(r.body.executionId),
        requestId: typeof r.body.requestId === 'string' ? r.body.requestId : null,
        receivedAt: r.receivedAt,
        signatureValid: r.signatureValid,
      }));
      checks = runChecks({
        requests,
        audit,
        receipts,
        faults,
        told,
        observed: { leftLive },
        now: Date.now(),
        toleranceMs: options.toleranceMs,
        recoveryToleranceMs: options.recoveryToleranceMs,
      });
      if (checks.every((c) => c.failures.length === 0) || Date.now() > auditDeadline) break;
      await sleep(2000);
    }

    // A grant still live must work after the faults. Checked after the audit above, so that this
    // run's own executions (which append events waiting in the row first) hide nothing from it. A
    // 503 is retried, as the API asks: it is the answer while an event's maker may still append it.
    const liveGrants = requests.filter((r) => r.status === 'approved');
    const usable: CheckResult = {
      name: 'live grants usable after recovery (503 retried for up to 35 s)',
      checked: liveGrants.length,
      failures: [],
    };
    for (const r of liveGrants) {
      const giveUpAt = Date.now() + 35_000;
      let res: ApiResponse | undefined;
      for (let tries = 0; ; tries++) {
        if (tries > 0) await sleep(1000);
        res = await attempt('execute after recovery', as(r.requester), 'POST', '/api/execute', {
          task: r.task,
          requestId: r.id,
        });
        if ((res !== undefined && res.status !== 503) || Date.now() > giveUpAt) break;
      }
      if (res?.status !== 200)
        usable.failures.push(`${r.id}: execute answered ${res?.status ?? 'nothing'} ${res?.text ?? ''}`);
    }

    const verify = await attempt<{ ok: boolean; checked: number; firstBroken?: unknown }>(
      'final read',
      auditor,
      'GET',
      '/api/audit/verify',
    );
    checks.push(
      {
        name: 'GET /api/audit/verify',
        checked: verify?.body.checked ?? 0,
        failures: verify?.body.ok ? [] : [`verify answered ${verify?.status}: ${verify?.text ?? ''}`],
      },
      usable,
      {
        name: 'every request a client was given is listed',
        checked: known.size,
        failures: [...known.keys()]
          .filter((id) => !requests.some((r) => r.id === id))
          .map((id) => `${id}: not listed`),
      },
    );
    const settleMs = Date.now() - settleStart;

    const byStatus: Record<string, number> = {};
    for (const r of requests) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    return {
      seed: options.seed,
      operations,
      faults,
      loadStartedAt: loadStart,
      data,
      requests: byStatus,
      executionsReceived: hook.received.length,
      internalErrors,
      checks,
      ms: { setup: setupMs, load: loadMs, settle: settleMs, total: Date.now() - t0 },
      machine: { loadAtStart, loadAtEnd: loadavg()[0] ?? 0, cores: availableParallelism() },
    };
  } finally {
    await host.stop();
    keepLog(host);
    await hook.close();
    await storage.close();
  }
}

/** The report as a person reads it. */
export function summary(report: ChaosReport): string {
  const lines = [`chaos run, seed ${report.seed} (replay: CHAOS_SEED=${report.seed} npm run chaos)`];
  lines.push(`data and host logs: ${report.data}`);
  lines.push('operations (answers by status):');
  for (const [op, counts] of Object.entries(report.operations)) {
    const parts = Object.entries(counts)
      .sort()
      .map(([k, v]) => `${k} ×${v}`);
    lines.push(`  ${op.padEnd(24)} ${parts.join(', ')}`);
  }
  lines.push(`requests by final status: ${JSON.stringify(report.requests)}`);
  lines.push(`executions received by the webhook: ${report.executionsReceived}`);
  lines.push('faults injected:');
  for (const f of report.faults)
    lines.push(
      `  ${f.kind.padEnd(16)} at +${f.from - report.loadStartedAt} ms (${new Date(f.from).toISOString()}), ` +
        `back after ${f.to - f.from} ms`,
    );
  if (report.internalErrors.length > 0) {
    lines.push(`answers 500 (${report.internalErrors.length}):`);
    for (const e of report.internalErrors.slice(0, 10)) lines.push(`  ${e}`);
  }
  lines.push('checks:');
  for (const c of report.checks) {
    const figure = c.figure ? `; ${c.figure}` : '';
    lines.push(`  ${c.failures.length === 0 ? 'PASS' : 'FAIL'} ${c.name} (${c.checked} checked${figure})`);
    for (const f of c.failures.slice(0, 20)) lines.push(`       ${f}`);
    if (c.failures.length > 20) lines.push(`       … and ${c.failures.length - 20} more`);
  }
  const { setup, load, settle, total } = report.ms;
  lines.push(`time: set-up ${setup} ms, load ${load} ms, settle and checks ${settle} ms, total ${total} ms`);
  const { loadAtStart, loadAtEnd, cores } = report.machine;
  lines.push(
    `machine: load average ${loadAtStart.toFixed(1)} at the start, ${loadAtEnd.toFixed(1)} at the end, ${cores} cores`,
  );
  // The deadlines are measured in wall time: on a machine this busy, lateness is partly the machine's.
  if (Math.max(loadAtStart, loadAtEnd) > 2 * cores)
    lines.push(
      '  (overloaded: a late transition or a slow restart may be the machine, not the app; run again when it is quieter)',
    );
  return lines.join('\n');
}
