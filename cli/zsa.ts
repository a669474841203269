#!/usr/bin/env node
/**
 * `zsa`: Zero Standing Access from a terminal (`npx zsa --help`). Runs the commands of
 * ./commands.ts and turns their failures into the documented exit codes: 0 ok, 2 refused, 3 needs
 * sign-in, 1 anything else. Errors go to stderr (as JSON with `--json`), results to stdout.
 */
import { CommanderError } from 'commander';
import { buildProgram } from './commands';
import { CliError, Exit } from './errors';
import { profileDir } from './session';

async function main(argv: readonly string[]): Promise<number> {
  const json = argv.includes('--json');
  const ctx = {
    env: process.env,
    dir: profileDir(process.env),
    fetch: globalThis.fetch,
    tell: (line: string) => process.stderr.write(`${line}\n`),
    stdout: (text: string) => process.stdout.write(text),
    stderr: (text: string) => process.stderr.write(text),
    interactive: process.stderr.isTTY,
    pollMs: 1000,
  };
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return Exit.ok;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? Exit.ok : Exit.other;
    const error =
      e instanceof CliError ? e : new CliError(e instanceof Error ? e.message : String(e), Exit.other);
    process.stderr.write(
      json
        ? `${JSON.stringify({ error: error.message, exitCode: error.exitCode, problem: error.problem ?? null })}\n`
        : `zsa: ${error.message}\n`,
    );
    return error.exitCode;
  }
}

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
