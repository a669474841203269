/**
 * `GET /api/insights`: the range settled (defaults, the one-year bound), then the audit log's
 * records of the range read a page at a time into the aggregator (aggregate.ts).
 */
import type { z } from 'zod';
import type { AuditLog } from '#shared/audit/log';
import { MAX_PAGE_SIZE } from '#shared/audit/log';
import { DomainError } from '#shared/domain/errors';
import { DAY_MS, createInsightsAggregator, type InsightsRange } from './aggregate';
import { DEFAULT_DAYS, MAX_DAYS, type InsightsQuery, type InsightsView } from './schemas';

/** The range asked for, with its defaults: `to` now, `from` DEFAULT_DAYS before `to`; at most MAX_DAYS. */
export function insightsRange(query: z.output<typeof InsightsQuery>, now: Date): InsightsRange {
  const to = query.to ?? now;
  const from = query.from ?? new Date(to.getTime() - DEFAULT_DAYS * DAY_MS);
  if (from.getTime() >= to.getTime()) {
    throw new DomainError('INVALID_INPUT', 'Invalid query: from must be earlier than to.', {
      errors: [{ pointer: '#/from', detail: 'must be earlier than to' }],
    });
  }
  if (to.getTime() - from.getTime() > MAX_DAYS * DAY_MS) {
    throw new DomainError('INVALID_INPUT', `Invalid query: the range may cover at most ${MAX_DAYS} days.`, {
      errors: [{ pointer: '#/from', detail: `must be at most ${MAX_DAYS} days before to` }],
    });
  }
  return { from, to };
}

/** The figures of the range, from every audit record in it, read `pageSize` records at a time. */
export async function readInsights(
  audit: Pick<AuditLog, 'query'>,
  range: InsightsRange,
  pageSize = MAX_PAGE_SIZE,
): Promise<InsightsView> {
  const aggregator = createInsightsAggregator(range);
  let token: string | undefined;
  do {
    const page = await audit.query(range, token, pageSize);
    for (const record of page.items) aggregator.add(record);
    token = page.continuationToken;
  } while (token !== undefined);
  return aggregator.result();
}
