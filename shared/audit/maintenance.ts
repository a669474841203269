/**
 * The audit's own chores, as use cases the entry points call: the daily archive (every finished
 * day exported to Blob storage, then an anchor), anchoring on demand and the daily verification.
 * Each chore is audited.
 */
import { AuditAction, AuditOutcome, SYSTEM_ACTOR, type AuditActor, type AuditOrigin } from './types';
import { DAY_SETTLE_MS, type Anchor, type DayExport } from './archive';
import type { ChainHead } from './chains';
import { record } from '#shared/telemetry/metrics';
import type { AuditLog } from './log';
import type { AnchoredHead, ChainBreak } from './verify';

/** How many finished days each run looks back over, so missed runs catch up. */
export const ARCHIVE_LOOKBACK_DAYS = 7;

export async function anchorNow(log: AuditLog, actor: AuditActor, origin?: AuditOrigin): Promise<Anchor> {
  const anchor = await log.anchor();
  await log.append({
    action: AuditAction.AuditAnchored,
    actor,
    outcome: AuditOutcome.Success,
    detail: { blob: anchor.blob, anchoredAt: anchor.anchoredAt, chains: anchor.heads.length },
    origin,
  });
  return anchor;
}

/** The finished UTC days of the look-back window, oldest first. */
export function daysToArchive(now: Date, lookback = ARCHIVE_LOOKBACK_DAYS): string[] {
  const lastFinished = new Date(now.getTime() - DAY_SETTLE_MS);
  const days: string[] = [];
  for (let back = lookback; back >= 1; back--) {
    const day = new Date(
      Date.UTC(lastFinished.getUTCFullYear(), lastFinished.getUTCMonth(), lastFinished.getUTCDate() - back),
    );
    days.push(day.toISOString().slice(0, 10));
  }
  return days;
}

/** Exports every finished day of the window not exported yet, then anchors. Safe to run twice. */
export async function archiveDays(
  log: AuditLog,
  now: Date,
): Promise<{ exports: DayExport[]; anchor: Anchor }> {
  const exports: DayExport[] = [];
  for (const day of daysToArchive(now)) {
    const result = await log.exportDay(day);
    exports.push(result);
    if (result.status === 'exported') {
      await log.append({
        action: AuditAction.AuditExported,
        actor: SYSTEM_ACTOR,
        outcome: AuditOutcome.Success,
        detail: { day, blob: result.blob, rows: result.manifest.rows, sha256: result.manifest.sha256 },
      });
    }
  }
  return { exports, anchor: await anchorNow(log, SYSTEM_ACTOR) };
}

/**
 * How the daily verification's log line starts (`<prefix> outcome=success|failure …`): the alert
 * rule "audit verification failing" (infra/modules/monitoring.bicep) searches for it.
 */
export const VERIFICATION_LINE = 'zsa.audit.verification';

/** What the daily verification found, as its `audit.verified` row records it. */
export interface DailyVerification {
  ok: boolean;
  /** Where the check started (see {@link verificationStart}); it runs to the newest row. */
  from: string;
  /** Rows examined. */
  checked: number;
  chains: number;
  /** Anchored heads checked. */
  anchors: number;
  firstBroken: ChainBreak | null;
  /** See {@link anchorLagSeconds}. */
  anchorLagSeconds: number;
}

/** A chain whose head is past its last anchored row: its rows after `after` wait for an anchor. */
export interface Unanchored {
  chain: number;
  /** The last anchored sequence; undefined when no anchor line of the window names the chain. */
  after: number | undefined;
}

/**
 * The chains with rows waiting for an anchor: each head past the newest anchored head of its chain
 * (every chain is anchored within a minute of its head moving, so anything else means anchoring has
 * stopped). Pure: the heads read from the table, the anchored heads from the anchor lines.
 */
export function unanchoredChains(
  heads: readonly ChainHead[],
  anchored: readonly AnchoredHead[],
): Unanchored[] {
  const lastAnchored = new Map<number, number>();
  for (const head of anchored) {
    lastAnchored.set(head.chain, Math.max(head.sequence, lastAnchored.get(head.chain) ?? 0));
  }
  return heads
    .filter((head) => (lastAnchored.get(head.chain) ?? -1) < head.sequence)
    .map((head) => ({ chain: head.chain, after: lastAnchored.get(head.chain) }));
}

/**
 * How long, in whole seconds, the oldest row waiting for an anchor has waited: 0 when none waits.
 * Counted from each chain's FIRST unanchored row (not its last anchored one: on a chain idle for
 * days, one new row has waited seconds, not days). Pure: the waiting rows' times and the clock.
 */
export function anchorLagSeconds(firstUnanchoredAt: readonly string[], now: Date): number {
  let lag = 0;
  for (const at of firstUnanchoredAt)
    lag = Math.max(lag, Math.floor((now.getTime() - Date.parse(at)) / 1000));
  return lag;
}

/**
 * How far back the daily verification reaches when no successful run is found in it: the archive's
 * look-back, so every row is checked at least once before it may be archived and deleted, and the
 * check never reaches the deleted beginning of a log under a retention policy (rows are kept longer
 * than this; a whole-log check, GET /api/audit/verify without `from`, would report that as
 * `sequence-gap`).
 */
export const VERIFY_LOOKBACK_MS = ARCHIVE_LOOKBACK_DAYS * 24 * 3600_000;

/**
 * How far before the last successful run the next one starts: rows appended while that run was
 * reading (it reads the chains one by one) are checked again rather than missed.
 */
export const VERIFY_OVERLAP_MS = 3600_000;

/**
 * Where the daily verification starts: an hour before the last successful `audit.verified` row of
 * the look-back window, or the window's start when there is none (a first run, or days of failures,
 * which are then checked again). Incremental, so a day's run reads about a day of rows, not the log.
 */
export async function verificationStart(log: AuditLog, now: Date): Promise<Date> {
  const floor = new Date(now.getTime() - VERIFY_LOOKBACK_MS);
  let last: string | undefined;
  let token: string | undefined;
  do {
    const page = await log.query({ action: AuditAction.AuditVerified, from: floor }, token);
    for (const row of page.items) if (row.outcome === AuditOutcome.Success) last = row.at;
    token = page.continuationToken;
  } while (token);
  if (last === undefined) return floor;
  return new Date(Math.max(floor.getTime(), Date.parse(last) - VERIFY_OVERLAP_MS));
}

/**
 * The daily verification (the `auditDailyVerify` timer): every chain from {@link verificationStart}
 * on, against itself and the anchors of that range, and how far anchoring lags; recorded as `audit.verified` (outcome success
 * or failure) whatever it finds. When the log cannot be read at all, a failure row is attempted (it
 * may fail too, storage being down) and the error is thrown, so the run itself fails.
 */
export async function verifyDaily(log: AuditLog, now: () => Date): Promise<DailyVerification> {
  let found: DailyVerification;
  try {
    const from = await verificationStart(log, now());
    const result = await log.verify({ from });
    found = {
      from: from.toISOString(),
      ok: result.ok,
      checked: result.checked,
      chains: result.chains,
      anchors: result.anchors,
      firstBroken: result.firstBroken ?? null,
      anchorLagSeconds: await log.anchorLag(),
    };
  } catch (e) {
    record.auditVerification('failure');
    await log
      .append({
        action: AuditAction.AuditVerified,
        actor: SYSTEM_ACTOR,
        outcome: AuditOutcome.Failure,
        reason: `The audit could not be read: ${e instanceof Error ? e.message : String(e)}`,
      })
      .catch(() => undefined);
    throw e;
  }
  await log.append({
    action: AuditAction.AuditVerified,
    actor: SYSTEM_ACTOR,
    outcome: found.ok ? AuditOutcome.Success : AuditOutcome.Failure,
    ...(found.firstBroken ? { reason: `${found.firstBroken.reason}: ${found.firstBroken.detail}` } : {}),
    detail: { ...found },
  });
  record.auditVerification(found.ok ? 'success' : 'failure');
  return found;
}
