/**
 * `npm start -- [--port <n>] [--data <dir>] [--in-memory]` — runs the local host.
 * Exits non-zero with a one-line reason when it cannot start (port taken, app not built, …).
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { StartupError } from './app-loader';
import { startHost } from './host';

const USAGE = 'usage: npm start -- [--port <n>] [--data <dir>] [--in-memory] [--root <app folder>]';

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string', default: process.env.ZSA_LOCAL_PORT ?? '7071' },
        data: { type: 'string' },
        'in-memory': { type: 'boolean', default: false },
        root: { type: 'string', default: process.cwd() },
        main: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }));
  } catch (e) {
    fail(`${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
    return;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
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
  });
  process.stdout.write(`${host.banner}\n`);
  // Tests and tools read this line to learn the port when started with --port 0.
  process.stdout.write(`ZSA_LOCAL_HOST_READY ${host.url}\n`);

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
  process.stderr.write(`zsa local host: ${reason}\n`);
  process.exitCode = 1;
}

main().catch((e: unknown) => {
  if (e instanceof StartupError) fail(e.message);
  else fail(e instanceof Error ? (e.stack ?? e.message) : String(e));
  // Something may still hold the event loop (a half-started child); leave now.
  setTimeout(() => process.exit(1), 100).unref();
});
