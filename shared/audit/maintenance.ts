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
  /** Rows examined, over the whole log. */
  checked: number;
  chains: number;
  /** Anchored heads checked. */
  anchors: number;
  firstBroken: ChainBreak | null;
  /** See {@link anchorLagSeconds}. */
  anchorLagSeconds: number;
}

/**
 * How long, in whole seconds, the rows of the chain furthest behind have waited for an anchor: 0 when
 * every chain's head is anchored. For a chain whose head is past its last anchored row, the time since
 * that row: no later row can have waited longer, and anchors are written within a minute of a head
 * moving, so a value past a few minutes means anchoring has stopped (a chain never anchored counts from
 * its newest row). Pure: heads, anchored heads and the clock are given.
 */
export function anchorLagSeconds(
  heads: readonly ChainHead[],
  anchored: readonly AnchoredHead[],
  now: Date,
): number {
  const lastAnchored = new Map<number, AnchoredHead>();
  for (const head of anchored) {
    const known = lastAnchored.get(head.chain);
    if (!known || head.sequence > known.sequence) lastAnchored.set(head.chain, head);
  }
  let lag = 0;
  for (const head of heads) {
    const last = lastAnchored.get(head.chain);
    if (last && last.sequence >= head.sequence) continue;
    const since = Date.parse(last?.at ?? head.at);
    lag = Math.max(lag, Math.floor((now.getTime() - since) / 1000));
  }
  return lag;
}

/**
 * The daily verification (the `auditDailyVerify` timer): every chain of the whole log, against
 * itself and the anchors, and how far anchoring lags; recorded as `audit.verified` (outcome success
 * or failure) whatever it finds. When the log cannot be read at all, a failure row is attempted (it
 * may fail too, storage being down) and the error is thrown, so the run itself fails.
 */
export async function verifyDaily(log: AuditLog, now: () => Date): Promise<DailyVerification> {
  let found: DailyVerification;
  try {
    const heads = await log.heads();
    const anchored = await log.anchoredHeads();
    const result = await log.verify();
    found = {
      ok: result.ok,
      checked: result.checked,
      chains: result.chains,
      anchors: result.anchors,
      firstBroken: result.firstBroken ?? null,
      anchorLagSeconds: anchorLagSeconds(heads, anchored.heads, now()),
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
