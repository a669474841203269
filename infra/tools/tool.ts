/**
 * How the deployment tools (hooks, keys, package, write-openapi) end: a refusal is one line saying
 * what is wrong and one with the command that fixes it, anything else its first line; exit code 1.
 */

/** A refusal: one line saying what is wrong, and the command that fixes it. Exit code 1. */
export class ToolError extends Error {
  constructor(
    message: string,
    readonly fix: string,
    /** Refused for want of a role: right after a provision grants it, it may not apply yet. */
    readonly forbidden = false,
  ) {
    super(message);
  }
}

/** Runs a tool's main function: a ToolError is two lines (what, then the fix) and exit code 1. */
export function runTool(main: () => Promise<void>): void {
  main().then(
    () => {
      process.exitCode = 0;
    },
    (e: unknown) => {
      if (e instanceof ToolError) {
        process.stderr.write(`${e.message}\n  fix: ${e.fix}\n`);
      } else {
        process.stderr.write(`${e instanceof Error ? e.message.split('\n')[0] : String(e)}\n`);
      }
      process.exitCode = 1;
    },
  );
}
