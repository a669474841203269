/**
 * The per-user submit rate limit in Table Storage (the rule is shared/domain/rate-limit.ts).
 *
 * Table `SubmitLimits`: PartitionKey = the encoded user id (`principal.id`: tenant + object id,
 * never a name), RowKey `submits`; `Log` holds the window's admitted submits as JSON
 * `[[epoch ms, retry key | null], …]`. Every instance shares the row and changes it by
 * compare-and-swap on its ETag, so the count holds across instances, and a burst of concurrent
 * submits by one user admits exactly the limit.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { compareAndSwap, type Tables } from '#shared/adapters/tables';
import { encodeKey } from '#shared/domain/names';
import { admitSubmit, type Admission, type RateLimit, type SubmitEntry } from '#shared/domain/rate-limit';
import { HttpError } from '#shared/http/problem';
import type { RequestRepository } from './repository';

const TABLE = 'SubmitLimits';
const ROW = 'submits';
/**
 * Compare-and-swap attempts before a submit is refused as too many at once: the row only contends
 * when one user submits concurrently, and then the user is the one to slow down.
 */
const MAX_ATTEMPTS = 10;

interface LimitRow {
  partitionKey: string;
  rowKey: string;
  Log: string;
}

const StoredLog = z.array(z.tuple([z.number().int(), z.string().max(64).nullable()]));

/** A refused submit: 429 with `Retry-After`, through the edge's problem mapping. */
export class SubmitRateLimited extends HttpError {
  constructor(
    readonly retryAfterSeconds: number,
    rule: RateLimit,
  ) {
    super(
      429,
      'RATE_LIMITED',
      `Too many requests submitted: at most ${rule.limit} per ${describeWindow(rule.windowSeconds)} per user. Try again in ${retryAfterSeconds} s.`,
      { 'retry-after': String(retryAfterSeconds) },
    );
  }
}

function describeWindow(seconds: number): string {
  if (seconds % 3600 === 0) return seconds === 3600 ? 'hour' : `${seconds / 3600} hours`;
  if (seconds % 60 === 0) return seconds === 60 ? 'minute' : `${seconds / 60} minutes`;
  return `${seconds} seconds`;
}

/** The log as stored; a row that cannot be read back (never written so by ZSA) counts as empty. */
function logOf(row: LimitRow | undefined): SubmitEntry[] {
  if (row === undefined) return [];
  try {
    const parsed = StoredLog.safeParse(JSON.parse(row.Log));
    return parsed.success ? parsed.data.map(([at, key]) => ({ at, key })) : [];
  } catch {
    return [];
  }
}

/** A digest stands for the `clientRequestId` (up to 128 characters) so a full window fits one property. */
function retryKey(clientRequestId: string | undefined): string | null {
  return clientRequestId === undefined
    ? null
    : createHash('sha256').update(clientRequestId).digest('base64url').slice(0, 16);
}

/**
 * Takes one submit from `userId`'s allowance, or throws `SubmitRateLimited`. Costs one read and one
 * conditional write (none when the limit is off, one read for a retry); the submit story runs it
 * in parallel with its own reads. A retried submit is never refused when it would answer a request
 * it already made: its key is in the log, or, past the window, its claim is in the request index.
 */
export async function takeSubmit(
  tables: Tables,
  claims: Pick<RequestRepository, 'claimOf'>,
  rule: RateLimit,
  userId: string,
  clientRequestId: string | undefined,
  now: Date,
): Promise<void> {
  if (rule.limit <= 0) return;
  const partitionKey = encodeKey(userId);
  const key = retryKey(clientRequestId);
  const admission = await compareAndSwap<LimitRow, Admission>(
    await tables.get(TABLE),
    partitionKey,
    ROW,
    (row) => {
      const admitted = admitSubmit(logOf(row), key, rule, now);
      if (!admitted.admitted || admitted.log === undefined) return { result: admitted };
      const Log = JSON.stringify(admitted.log.map((e) => [e.at, e.key]));
      return { entity: { partitionKey, rowKey: ROW, Log }, result: admitted };
    },
    // Another submit of this user's keeps winning the row: the user is the one to slow down.
    { maxAttempts: MAX_ATTEMPTS, contended: () => new SubmitRateLimited(1, rule) },
  );
  if (admission.admitted) return;
  // Already claimed by this user: the submit is a retry of a request it made.
  if (clientRequestId !== undefined && (await claims.claimOf(userId, clientRequestId)) !== undefined) return;
  throw new SubmitRateLimited(admission.retryAfterSeconds, rule);
}
