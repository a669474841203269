/**
 * The audit's own chores, as use cases the entry points call: the daily archive (every finished
 * day exported to Blob storage, then an anchor) and anchoring on demand. Each chore is audited.
 */
import { AuditAction, AuditOutcome, SYSTEM_ACTOR, type AuditActor, type AuditOrigin } from './types';
import { DAY_SETTLE_MS, type Anchor, type DayExport } from './archive';
import type { AuditLog } from './log';

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
