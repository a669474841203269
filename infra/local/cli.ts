/**
 * The command line of a local host: `[--port <n>] [--data <dir>] [--in-memory] [--root <app folder>]`.
 * An app's launcher calls `runCli` with its own defaults and `configure`; `main.ts` runs it bare.
 * Exits non-zero with a one-line reason when it cannot start (port taken, app not built, …).
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { StartupError } from './app-loader';
import { startHost, type HostOptions } from './host';

export interface CliOptions extends Pick<
  HostOptions,
  'name' | 'defaultDataDirName' | 'devAudience' | 'devTokenExample' | 'configure'
> {
  /** How the command is run, for the usage line (default `local-host`). */
  readonly command?: string;
  /** Port when --port is not given (default 7071, as Core Tools). */
  readonly defaultPort?: number;
  /** Text printed before the banner (for example how long start-up took). */
  readonly startedAt?: number;
}

/** Printed once the host serves requests; tests and tools read it to learn the port of --port 0. */
export const READY_LINE_PREFIX = 'LOCAL_HOST_READY';

export async function runCli(
  options: CliOptions = {},
  argv: readonly string[] = process.argv.slice(2),
): Promise<void> {
  const usage = `usage: ${options.command ?? 'local-host'} [--port <n>] [--data <dir>] [--in-memory] [--root <app folder>] [--main <glob>]`;
  try {
    await run(options, argv, usage);
  } catch (e: unknown) {
    if (e instanceof StartupError) fail(e.message);
    else fail(e instanceof Error ? (e.stack ?? e.message) : String(e));
    // Something may still hold the event loop (a half-started child); leave now.
    setTimeout(() => process.exit(1), 100).unref();
  }
}

async function run(options: CliOptions, argv: readonly string[], usage: string): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        port: { type: 'string', default: String(options.defaultPort ?? 7071) },
        data: { type: 'string' },
        'in-memory': { type: 'boolean', default: false },
        root: { type: 'string', default: process.cwd() },
        main: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }));
  } catch (e) {
    fail(`${e instanceof Error ? e.message : String(e)}\n${usage}`);
    return;
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    fail(`--port must be a port number, not "${values.port}".`);
    return;
  }
  const host = await startHost({
    root: resolve(values.root),
    port,
    ...(values.data ? { dataDir: resolve(values.data) } : {}),
    inMemory: values['in-memory'],
    ...(values.main ? { main: values.main } : {}),
    ...(options.name ? { name: options.name } : {}),
    ...(options.defaultDataDirName ? { defaultDataDirName: options.defaultDataDirName } : {}),
    ...(options.devAudience ? { devAudience: options.devAudience } : {}),
    ...(options.devTokenExample ? { devTokenExample: options.devTokenExample } : {}),
    ...(options.configure ? { configure: options.configure } : {}),
  });
  process.stdout.write(`${host.banner}\n`);
  if (options.startedAt !== undefined) {
    process.stdout.write(`  Ready in ${((Date.now() - options.startedAt) / 1000).toFixed(1)} s.\n\n`);
  }
  process.stdout.write(`${READY_LINE_PREFIX} ${host.url}\n`);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping the local host…\n`);
    const force = setTimeout(() => process.exit(1), 8000);
    force.unref();
    void host.close().then(() => {
      process.stdout.write('stopped.\n');
      process.exit(0);
    });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

function fail(reason: string): void {
  process.stderr.write(`local host: ${reason}\n`);
  process.exitCode = 1;
}
