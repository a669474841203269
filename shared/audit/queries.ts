/**
 * The queries of the audit endpoints, as the handlers validate them and the OpenAPI document
 * describes them: a time range (instants or UTC days) and, for the page, filters.
 */
import { z } from 'zod';
import { ExportFormat } from './format';
import { MAX_PAGE_SIZE, type TimeRange } from './log';
import { AuditAction } from './types';
import { ContinuationTokenQuery } from '#shared/domain/paging';

/** An instant (`2024-05-01T13:00:00Z`, offsets allowed) or a UTC day (`2024-05-01` = its midnight). */
const Instant = z
  .union([z.iso.datetime({ offset: true }), z.iso.date()], {
    error: 'must be an ISO 8601 instant or a date YYYY-MM-DD',
  })
  .meta({
    description:
      'An ISO 8601 instant (`2030-01-06T09:00:00Z`, offsets allowed) or a UTC day (`2030-01-06` = its midnight).',
  })
  .transform((v) => new Date(v.length === 10 ? `${v}T00:00:00.000Z` : v));

const rangeFields = {
  from: Instant.optional().meta({ description: 'Inclusive start: an instant or a UTC day.' }),
  to: Instant.optional().meta({ description: 'Exclusive end: an instant or a UTC day; later than `from`.' }),
};
const orderedRange = (r: TimeRange) => !r.from || !r.to || r.from.getTime() < r.to.getTime();
const rangeError = { error: 'from must be earlier than to', path: ['from'] };

/** `GET /api/audit`. */
export const AuditPageQuery = z
  .strictObject({
    ...rangeFields,
    actor: z.string().trim().min(1).max(256).optional().meta({ description: 'UPN of who acted.' }),
    requestId: z
      .string()
      .trim()
      .min(1)
      .max(128)
      .optional()
      .meta({ description: 'Only events of this request.' }),
    task: z.string().min(1).max(600).optional().meta({ description: 'Only events of this task.' }),
    action: z.enum(AuditAction).optional().meta({ description: 'Only events of this action.' }),
    continuationToken: ContinuationTokenQuery,
    pageSize: z
      .string()
      .regex(/^\d{1,4}$/, 'must be a whole number')
      .transform(Number)
      .pipe(z.number().int().min(1).max(MAX_PAGE_SIZE))
      .optional()
      .meta({ description: `Items per page, 1 to ${MAX_PAGE_SIZE}.` }),
  })
  .refine(orderedRange, rangeError);

/** `GET /api/audit/verify`. */
export const AuditVerifyQuery = z.strictObject(rangeFields).refine(orderedRange, rangeError);

/** `GET /api/audit/export`. */
export const AuditExportQuery = z
  .strictObject({
    ...rangeFields,
    format: z.enum(ExportFormat).default(ExportFormat.Jsonl).meta({
      description:
        '`jsonl` (the default): one JSON record per line; `csv`: a header line, then one row per event.',
    }),
    action: z.enum(AuditAction).optional().meta({
      description:
        'Only records of this action, e.g. `emergency.used` for every emergency access (break glass) in the range.',
    }),
  })
  .refine(orderedRange, rangeError);
