/**
 * Starts the real local host as `npm start` does (`dist/infra/tools/start.js`, built by `npm test`) as a child process on
 * a free port, the way a developer runs it, so tests exercise real HTTP, real Azurite and a real
 * process that can be killed and restarted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { inject } from 'vitest';
import { uniquePrefix } from './component';

export const ROOT = resolve(__dirname, '..', '..');

/** What `npm start` runs once the tree is built. */
export const START_SCRIPT = join(ROOT, 'dist', 'infra', 'tools', 'start.js');

export interface HostProcess {
  url: string;
  child: ChildProcess;
  output: () => string;
  /** Graceful stop (SIGTERM), resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
}

export interface HostStartOptions {
  dataDir?: string;
  inMemory?: boolean;
  main?: string;
  env?: Record<string, string>;
  port?: number;
  /**
   * `shared`: the suite's Azurite (global-setup.ts) with tables, containers and a task hub of this
   * host's own, instead of an embedded Azurite; for tests that do not restart or kill storage.
   */
  storage?: 'embedded' | 'shared';
}

/** The storage settings of a host on the suite's shared Azurite: names no other host uses. */
export function sharedStorageEnv(): Record<string, string> {
  const prefix = uniquePrefix();
  return {
    AzureWebJobsStorage: inject('sharedAzurite'),
    ZSA_TABLE_PREFIX: prefix,
    ZSA_TASK_HUB: `${prefix}hub`,
  };
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `zsa-${prefix}-`));
}

export async function startLocalHost(opts: HostStartOptions = {}): Promise<HostProcess> {
  const cli = START_SCRIPT;
  if (!existsSync(cli)) throw new Error('The local host is not built; run "npm run build" (npm test does).');
  const args = [cli, '--port', String(opts.port ?? 0)];
  if (opts.inMemory ?? !opts.dataDir) args.push('--in-memory');
  if (opts.dataDir) args.push('--data', opts.dataDir);
  if (opts.main) args.push('--main', opts.main);
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...(opts.storage === 'shared' ? sharedStorageEnv() : {}), ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`The local host did not start in time:\n${out}`)),
      45_000,
    );
    const onData = (): void => {
      const m = /LOCAL_HOST_READY (\S+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        resolveUrl(m[1]);
      }
    };
    child.stdout.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`The local host exited (${code}) during start-up:\n${out}`));
    });
  });
  return {
    url,
    child,
    output: () => out,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (child.exitCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}
