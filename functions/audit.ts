import {
  app,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
  type Timer,
} from '@azure/functions';
import { z } from 'zod';
import { getDeps } from '#shared/app/deps';
import { CONTENT_TYPES, ExportFormat, openExport } from '#shared/audit/format';
import { MAX_PAGE_SIZE, type TimeRange } from '#shared/audit/log';
import { anchorNow, archiveDays } from '#shared/audit/maintenance';
import { AuditAction, AuditOutcome, SYSTEM_ACTOR } from '#shared/audit/types';
import { auditActor, auditOrigin, authenticate, requireAdmin, requireReader } from '#shared/http/auth';
import { handled, json, readJson, readQuery } from '#shared/http/handler';

/** An instant (`2024-05-01T13:00:00Z`, offsets allowed) or a UTC day (`2024-05-01` = its midnight). */
const Instant = z
  .union([z.iso.datetime({ offset: true }), z.iso.date()], {
    error: 'must be an ISO 8601 instant or a date YYYY-MM-DD',
  })
  .transform((v) => new Date(v.length === 10 ? `${v}T00:00:00.000Z` : v));

const rangeFields = { from: Instant.optional(), to: Instant.optional() };
const orderedRange = (r: TimeRange) => !r.from || !r.to || r.from.getTime() < r.to.getTime();
const rangeError = { error: 'from must be earlier than to', path: ['from'] };

const actions = Object.values(AuditAction) as [AuditAction, ...AuditAction[]];

const AuditQuery = z
  .strictObject({
    ...rangeFields,
    actor: z.string().trim().min(1).max(256).optional(),
    requestId: z.string().trim().min(1).max(128).optional(),
    task: z.string().min(1).max(600).optional(),
    action: z.enum(actions).optional(),
    continuationToken: z.string().min(1).max(4096).optional(),
    pageSize: z
      .string()
      .regex(/^\d{1,4}$/, 'must be a whole number')
      .transform(Number)
      .pipe(z.number().int().min(1).max(MAX_PAGE_SIZE))
      .optional(),
  })
  .refine(orderedRange, rangeError);

const VerifyQuery = z.strictObject(rangeFields).refine(orderedRange, rangeError);

const ExportQuery = z
  .strictObject({
    ...rangeFields,
    format: z.enum([ExportFormat.Csv, ExportFormat.Jsonl]).default(ExportFormat.Jsonl),
  })
  .refine(orderedRange, rangeError);

const NoBody = z.strictObject({});

/** `GET /api/audit` (admin, auditor): one page of audit records in time order. */
export const auditQuery = handled(async (request: HttpRequest): Promise<HttpResponseInit> => {
  const principal = await authenticate(request);
  const { continuationToken, pageSize, ...filters } = readQuery(request, AuditQuery);
  requireReader(principal);
  return json(200, await getDeps().audit.query(filters, continuationToken, pageSize));
});

/** `GET /api/audit/verify` (admin, auditor): the integrity of every chain over the range. */
export const auditVerify = handled(async (request: HttpRequest): Promise<HttpResponseInit> => {
  const principal = await authenticate(request);
  const range = readQuery(request, VerifyQuery);
  requireReader(principal);
  return json(200, await getDeps().audit.verify(range));
});

/**
 * `GET /api/audit/export` (admin, auditor): the range as CSV or JSONL, produced while it is read.
 * The export itself is audited first: no record, no export.
 */
export const auditExport = handled(
  async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const principal = await authenticate(request);
    const { format, ...range } = readQuery(request, ExportQuery);
    requireReader(principal);
    const audit = getDeps().audit;
    await audit.append({
      action: AuditAction.AuditExported,
      actor: auditActor(principal),
      outcome: AuditOutcome.Success,
      detail: { format, from: range.from?.toISOString() ?? null, to: range.to?.toISOString() ?? null },
      origin: auditOrigin(request, context.invocationId),
    });
    const body = await openExport(audit.exportRows(range), format);
    const name = `zsa-audit-${stamp(range.from) ?? 'start'}-${stamp(range.to) ?? 'now'}.${format}`;
    return {
      status: 200,
      headers: {
        'content-type': CONTENT_TYPES[format],
        'content-disposition': `attachment; filename="${name}"`,
      },
      body,
    };
  },
);

function stamp(at: Date | undefined): string | undefined {
  return at?.toISOString().replace(/[-:]/g, '').replace('.000', '');
}

/** `POST /api/audit/anchor` (admin): writes every chain's head to the immutable archive now. */
export const auditAnchor = handled(
  async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const principal = await authenticate(request);
    await readJson(request, NoBody);
    requireAdmin(principal);
    const anchor = await anchorNow(
      getDeps().audit,
      auditActor(principal),
      auditOrigin(request, context.invocationId),
    );
    return json(200, anchor);
  },
);

/** Daily, 00:15 UTC: every finished day not yet archived goes to Blob storage, then an anchor. */
export async function auditDailyArchive(_timer: Timer, context: InvocationContext): Promise<void> {
  const deps = getDeps();
  const { exports, anchor } = await archiveDays(deps.audit, deps.now());
  const written = exports
    .filter((e) => e.status === 'exported')
    .map((e) => `${e.day} (${e.manifest.rows} rows)`);
  context.log(
    `Audit archive: ${written.length > 0 ? `exported ${written.join(', ')}` : 'nothing new'}; anchored ${anchor.heads.length} chain heads.`,
  );
}

/** Hourly: anchors the chain heads, bounding how much recent history an attacker could rewrite unseen. */
export async function auditHourlyAnchor(_timer: Timer, context: InvocationContext): Promise<void> {
  const anchor = await anchorNow(getDeps().audit, SYSTEM_ACTOR);
  context.log(`Audit anchored ${anchor.heads.length} chain heads to ${anchor.blob}.`);
}

app.http('auditQuery', { methods: ['GET'], route: 'audit', authLevel: 'anonymous', handler: auditQuery });
app.http('auditVerify', {
  methods: ['GET'],
  route: 'audit/verify',
  authLevel: 'anonymous',
  handler: auditVerify,
});
app.http('auditExport', {
  methods: ['GET'],
  route: 'audit/export',
  authLevel: 'anonymous',
  handler: auditExport,
});
app.http('auditAnchor', {
  methods: ['POST'],
  route: 'audit/anchor',
  authLevel: 'anonymous',
  handler: auditAnchor,
});
app.timer('auditDailyArchive', { schedule: '0 15 0 * * *', handler: auditDailyArchive });
app.timer('auditHourlyAnchor', { schedule: '0 5 * * * *', handler: auditHourlyAnchor });
