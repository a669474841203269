/**
 * Exit codes scripts can rely on, and the one error type every command throws to set one. The
 * message is what the person reads; for a refusal it quotes the API's problem `detail`.
 */
export const Exit = {
  ok: 0,
  /** Anything else: a network failure, a 5xx, a broken audit file. */
  other: 1,
  /** The service refused (a 4xx other than 401), or a request ended denied, canceled or expired. */
  refused: 2,
  /** Nobody is signed in, or the sign-in is no longer accepted: run `zsa login`. */
  signIn: 3,
} as const;
export type ExitCode = (typeof Exit)[keyof typeof Exit];

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    /** The API's problem, when the service answered with one (printed whole with `--json`). */
    readonly problem?: unknown,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const SIGN_IN_HINT = 'run "zsa login" first';
