/**
 * `npm run bench`: runs each benchmark in its own process (each hosts the app or a fixture app,
 * and a process can host only one), one after the other so they do not compete for the two cores,
 * and prints their JSON reports. `BENCH_RUNS` sets the sample count (default 200).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const BENCHES = ['durable', 'pam', 'email', 'audit'];
const only = process.argv.slice(2);

let failed = false;
for (const name of BENCHES.filter((b) => only.length === 0 || only.includes(b))) {
  process.stderr.write(`bench ${name}…\n`);
  const run = spawnSync(process.execPath, [join(__dirname, `${name}.js`)], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: process.env,
  });
  if (run.status !== 0) {
    failed = true;
    process.stderr.write(`bench ${name} failed (exit ${String(run.status)})\n`);
  }
}
process.exitCode = failed ? 1 : 0;
