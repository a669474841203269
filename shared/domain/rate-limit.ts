/**
 * The per-user submit rate limit (docs/design.md §7.1): a sliding window over the last admitted
 * submits, kept as a short log so that a retried submit is recognised and never counted twice.
 * Pure: the clock comes in as `now`, the log as plain data; shared/requests/rate-limit.ts stores it.
 */

/**
 * How many submits one user may make per window; `limit` 0 turns the limit off. Settings allow at
 * most 500, so that a window's log fits one Table Storage property.
 */
export interface RateLimit {
  readonly limit: number;
  readonly windowSeconds: number;
}

/** One admitted submit: when (epoch milliseconds), and its retry key (a digest of `clientRequestId`), if any. */
export interface SubmitEntry {
  readonly at: number;
  readonly key: string | null;
}

export type Admission =
  /** `log` is the log to store, or undefined when nothing changes (a retry, or the limit is off). */
  | { readonly admitted: true; readonly log: readonly SubmitEntry[] | undefined }
  | { readonly admitted: false; readonly retryAfterSeconds: number; readonly recent: number };

/**
 * Whether a user whose admitted submits are `log` may submit now. A retry (same `key` as a submit
 * still in the window) is admitted and not counted: it answers the request it already made. A
 * refusal says when the oldest submit that must leave the window will have left it.
 */
export function admitSubmit(
  log: readonly SubmitEntry[],
  key: string | null,
  rule: RateLimit,
  now: Date,
): Admission {
  if (rule.limit <= 0) return { admitted: true, log: undefined };
  const windowMs = rule.windowSeconds * 1000;
  const nowMs = now.getTime();
  // Entries from the future (another instance's clock running ahead) count until they fall out.
  const recent = log.filter((e) => e.at > nowMs - windowMs).sort((a, b) => a.at - b.at);
  if (key !== null && recent.some((e) => e.key === key)) return { admitted: true, log: undefined };
  if (recent.length >= rule.limit) {
    // With the limit lowered since, several entries may have to leave before one more fits.
    const leaving = recent[recent.length - rule.limit] ?? recent[0];
    const waitMs = (leaving?.at ?? nowMs) + windowMs - nowMs;
    return {
      admitted: false,
      retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)),
      recent: recent.length,
    };
  }
  return { admitted: true, log: [...recent, { at: nowMs, key }] };
}
