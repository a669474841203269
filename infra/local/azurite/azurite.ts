/**
 * Runs Azurite (tables, queues, blobs) in a child process on loopback ports of its own.
 *
 * A child process rather than in-process: Azurite's LokiJS stores save every 5 s, so if Azurite
 * lived inside the host, `kill -9` of the host would lose the last seconds of writes. The child
 * watches its IPC channel and, when the host dies for any reason, shuts Azurite down gracefully,
 * which flushes its data to disk.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort } from '../net';

/** Azurite's well-known development account (public, documented by Microsoft; not a secret). */
export const DEV_ACCOUNT = 'devstoreaccount1';
export const DEV_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteOptions {
  /** Folder for Azurite's data; undefined = in memory. */
  location?: string;
  log: (line: string) => void;
}

export interface RunningAzurite {
  connectionString: string;
  ports: { blob: number; queue: number; table: number };
  close(): Promise<void>;
}

export function connectionStringFor(ports: { blob: number; queue: number; table: number }): string {
  const base = (p: number) => `http://127.0.0.1:${p}/${DEV_ACCOUNT}`;
  return (
    `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_KEY};` +
    `BlobEndpoint=${base(ports.blob)};QueueEndpoint=${base(ports.queue)};TableEndpoint=${base(ports.table)};`
  );
}

/**
 * The child's whole program: Azurite reads its options from process.argv; we add the rule that a
 * vanished parent (IPC disconnect, e.g. the host was killed with -9) means a graceful shutdown, so
 * Azurite's stores are flushed, and one correction. Azurite's table service joins the body's network
 * chunks as separately decoded strings, so a character of several UTF-8 bytes that a chunk boundary
 * splits arrives as two U+FFFD: an entity over about 64 KiB with non-ASCII text (a long list of
 * approvals with accented comments) would come back changed, which the real service never does.
 * Decoding the stream as UTF-8 before Azurite reads it (Node's decoder carries a split character
 * over) fixes that for the table service's JSON bodies; batches (multipart) are read as bytes and
 * left alone.
 */
const CHILD_SOURCE = `
const main = process.argv[1];
process.argv = [process.argv[0], 'azurite', ...process.argv.slice(2)];
const tablePort = Number(process.argv[process.argv.indexOf('--tablePort') + 1]);
const http = require('http');
const emit = http.Server.prototype.emit;
http.Server.prototype.emit = function (event, req, ...rest) {
  if (event === 'request' && this.address()?.port === tablePort &&
      /json/i.test(String(req.headers['content-type'] || ''))) req.setEncoding('utf8');
  return emit.call(this, event, req, ...rest);
};
const pidFile = process.env.LOCAL_HOST_AZURITE_PID_FILE;
process.on('exit', () => { if (pidFile) try { require('fs').rmSync(pidFile, { force: true }); } catch {} });
process.on('disconnect', () => {
  process.emit('SIGTERM');
  setTimeout(() => process.kill(process.pid, 'SIGKILL'), 5000).unref();
});
require(main);
`;

async function waitForPort(port: number, deadline: number): Promise<void> {
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => {
        resolve(false);
      });
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`Azurite did not start listening on port ${port}.`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** True only if `pid` is an Azurite child of ours for this folder (pids are reused after a reboot). */
function isOurAzurite(pid: number, location: string): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('azurite') && cmdline.includes(location);
  } catch {
    // No /proc (macOS, Windows): trust the pid file, which the child removes when it exits.
    return alive(pid);
  }
}

/** A previous host killed with -9 leaves its Azurite flushing; wait for it before reusing the folder. */
async function waitForPrevious(location: string): Promise<void> {
  const pidFile = join(location, 'azurite.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8'));
  const ours = Number.isInteger(pid) && pid > 0 && isOurAzurite(pid, location);
  // It is flushing and exiting on its own since its host vanished; give it time, then make sure.
  const deadline = Date.now() + 10_000;
  while (ours && alive(pid) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  if (ours && alive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(pidFile, { force: true });
}

/** Raised when Azurite exits before it listens; `output` is what it wrote to stderr. */
class AzuriteStartError extends Error {
  constructor(readonly output: string) {
    super(`Azurite exited during start-up.${output ? ` It said: ${output}` : ''}`);
  }
}

/**
 * Starts Azurite on three free ports. A port found free can be taken by another process before
 * Azurite binds it (several hosts starting at once, as tests do), so a start that fails that way is
 * tried again on new ports, twice at most.
 */
export async function startAzurite(opts: AzuriteOptions): Promise<RunningAzurite> {
  if (opts.location) {
    mkdirSync(opts.location, { recursive: true });
    await waitForPrevious(opts.location);
  }
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (e) {
      if (!(e instanceof AzuriteStartError) || !/EADDRINUSE/.test(e.output) || attempt === 3) throw e;
      opts.log(`azurite: a port was taken while it started; trying again on other ports`);
    }
  }
}

async function startOnce(opts: AzuriteOptions): Promise<RunningAzurite> {
  const ports = { blob: await freePort(), queue: await freePort(), table: await freePort() };
  const args = [
    '--blobHost',
    '127.0.0.1',
    '--queueHost',
    '127.0.0.1',
    '--tableHost',
    '127.0.0.1',
    '--blobPort',
    String(ports.blob),
    '--queuePort',
    String(ports.queue),
    '--tablePort',
    String(ports.table),
    '--disableTelemetry',
    '--skipApiVersionCheck',
    '--loose',
    '--silent',
    ...(opts.location ? ['--location', opts.location] : ['--inMemoryPersistence']),
  ];
  const child: ChildProcess = spawn(
    process.execPath,
    ['-e', CHILD_SOURCE, require.resolve('azurite/dist/src/azurite.js'), ...args],
    {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      // Its own process group: Ctrl+C reaches the host, which then stops Azurite in order.
      detached: true,
      env: {
        ...process.env,
        ...(opts.location ? { LOCAL_HOST_AZURITE_PID_FILE: join(opts.location, 'azurite.pid') } : {}),
      },
    },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 4096) stderr += d.toString();
    opts.log(`azurite: ${d.toString().trim()}`);
  });
  if (opts.location && child.pid) writeFileSync(join(opts.location, 'azurite.pid'), String(child.pid));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 30_000;
  await Promise.race([
    Promise.all([
      waitForPort(ports.blob, deadline),
      waitForPort(ports.queue, deadline),
      waitForPort(ports.table, deadline),
    ]),
    exited.then(() => {
      throw new AzuriteStartError(stderr.trim());
    }),
  ]);
  return {
    connectionString: connectionStringFor(ports),
    ports,
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        // The IPC channel alone would keep the child alive after Azurite has closed its servers.
        if (child.connected) child.disconnect();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      if (opts.location) rmSync(join(opts.location, 'azurite.pid'), { force: true });
    },
  };
}
