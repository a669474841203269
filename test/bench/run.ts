/**
 * `npm run bench`: runs each benchmark in its own process (each hosts the app or a fixture app,
 * and a process can host only one), one after the other so they do not compete for the two cores,
 * and prints their JSON reports. `BENCH_RUNS` sets the sample count (default 200).
 *
 * `npm run bench -- <names…>` runs only those (durable, pam, flows, emergency, email, audit, cloud,
 * load, portal: the portal's bundle size and load and approval times in headless Chromium; teams:
 * approval cards through the local host's development Teams channel; agents: an MCP agent's
 * request_action → approval email and run_action next to POST /api/execute; telemetry: submit and
 * execute with telemetry on and off; insights: GET /api/insights's read and fold over 100,000 audit events);
 * `--rtt <ms>` sets the simulated round trip of the cloud bench (default 10) and, without names,
 * runs the cloud bench alone.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

const BENCHES = [
  'durable',
  'pam',
  'flows',
  'emergency',
  'email',
  'audit',
  'cloud',
  'load',
  'portal',
  'teams',
  'agents',
  'telemetry',
  'insights',
];
/** Node flags a bench needs: the load bench forces collections to measure the heap per live grant. */
const FLAGS: Record<string, string[]> = { load: ['--expose-gc'] };

const args = process.argv.slice(2);
const env = { ...process.env };
const only: string[] = [];
let rttGiven = false;
for (let i = 0; i < args.length; i++) {
  const arg = args[i] ?? '';
  if (arg === '--rtt' || arg.startsWith('--rtt=')) {
    const value = arg === '--rtt' ? args[++i] : arg.slice('--rtt='.length);
    if (!value || !(Number(value) > 0)) throw new Error('--rtt needs a round trip in milliseconds (> 0)');
    env.BENCH_RTT_MS = value;
    rttGiven = true;
  } else if (BENCHES.includes(arg)) only.push(arg);
  else throw new Error(`unknown bench or option ${JSON.stringify(arg)}; benches: ${BENCHES.join(', ')}`);
}
if (rttGiven && only.length === 0) only.push('cloud');

/**
 * On storage the settings name (the suite's smoke run hands the benches its shared Azurite instead
 * of an embedded one each), every bench gets tables and a task hub of its own, as its own Azurite
 * would give it: two benches hosting the app would otherwise configure the same deployment.
 */
function ownStorageNames(name: string): Record<string, string> {
  if (!env.AzureWebJobsStorage) return {};
  const prefix = `b${name}${randomBytes(3).toString('hex')}`;
  return { ZSA_TABLE_PREFIX: prefix, ZSA_TASK_HUB: `${prefix}hub` };
}

let failed = false;
for (const name of BENCHES.filter((b) => only.length === 0 || only.includes(b))) {
  process.stderr.write(`bench ${name}…\n`);
  const run = spawnSync(process.execPath, [...(FLAGS[name] ?? []), join(__dirname, `${name}.js`)], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...env, ...ownStorageNames(name) },
  });
  if (run.status !== 0) {
    failed = true;
    process.stderr.write(`bench ${name} failed (exit ${String(run.status)})\n`);
  }
}
process.exitCode = failed ? 1 : 0;
