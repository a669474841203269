import type { FieldError, Problem } from './types';

/** A refusal or failure the API answered with problem+json (or a status without one). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem | null,
    /** Seconds the API asked us to wait (Retry-After), when it said. */
    readonly retryAfterSeconds?: number,
  ) {
    super(problem?.detail ?? `The service answered HTTP ${status}.`);
    this.name = 'ApiError';
  }

  get code(): string | undefined {
    return this.problem?.code;
  }

  /**
   * Field messages keyed by the field's path in the request body (`#/durationHours` → `durationHours`,
   * `#/stages/0/approverGroup` → `stages.0.approverGroup`), so a form can show each next to its field.
   */
  get fieldErrors(): Readonly<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const e of this.problem?.errors ?? []) out[fieldOf(e)] ??= e.detail;
    return out;
  }
}

/** The service could not be reached at all (network down, the host restarting). */
export class NetworkError extends Error {
  constructor(cause: unknown) {
    super('The service cannot be reached. Check your connection; the portal retries safe reads by itself.', {
      cause,
    });
    this.name = 'NetworkError';
  }
}

/** The API asked for a stronger sign-in (claims challenge); the session re-authenticates with `claims`. */
export class StepUpRequired extends Error {
  constructor(readonly claims: string) {
    super('This action needs a stronger sign-in.');
    this.name = 'StepUpRequired';
  }
}

/** The stronger sign-in came back and the API still asks for more: said, not signed in again. */
export class StepUpNotSatisfied extends Error {
  constructor() {
    super(
      'You signed in again, but the sign-in still does not give what this action needs (for example multi-factor authentication, or the authentication context your organisation requires). Sign in with it, or ask your administrator.',
    );
    this.name = 'StepUpNotSatisfied';
  }
}

/** No usable session: the person must sign in (again). */
export class SignInRequired extends Error {
  constructor() {
    super('Your sign-in has ended. Sign in again to go on.');
    this.name = 'SignInRequired';
  }
}

function fieldOf(error: FieldError): string {
  return error.pointer
    .replace(/^#?\//, '')
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

/** Words for any error a call can throw, for a message bar. */
export function describeError(error: unknown): { title: string; detail: string } {
  if (error instanceof ApiError) {
    const title = error.problem?.title ?? `HTTP ${error.status}`;
    const id = error.problem?.correlationId ? ` (reference ${error.problem.correlationId})` : '';
    return { title, detail: `${error.message}${id}` };
  }
  if (error instanceof NetworkError) return { title: 'Service unreachable', detail: error.message };
  if (error instanceof SignInRequired) return { title: 'Signed out', detail: error.message };
  if (error instanceof StepUpRequired) return { title: 'Stronger sign-in needed', detail: error.message };
  if (error instanceof StepUpNotSatisfied)
    return { title: 'Stronger sign-in not enough', detail: error.message };
  return { title: 'Something went wrong', detail: error instanceof Error ? error.message : String(error) };
}
