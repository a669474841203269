import {
  app,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
  type Timer,
} from '@azure/functions';
import { getDeps } from '#shared/app/deps';
import { record } from '#shared/telemetry/metrics';
import { telemetryStarted } from '#shared/telemetry/spans';
import { CONTENT_TYPES, openExport } from '#shared/audit/format';
import type { AuditRecord } from '#shared/audit/record';
import { anchorNow, archiveDays, VERIFICATION_LINE, verifyDaily } from '#shared/audit/maintenance';
import { AuditExportQuery, AuditPageQuery, AuditVerifyQuery } from '#shared/audit/queries';
import { AuditAction, AuditOutcome } from '#shared/audit/types';
import { auditActor, auditOrigin, authenticate, requireAdmin, requireReader } from '#shared/http/auth';
import { EmptyBody } from '#shared/domain/empty';
import { handled, json, readJson, readQuery } from '#shared/http/handler';

/** `GET /api/audit` (admin, auditor): one page of audit records in time order. */
export const auditQuery = handled(async (request: HttpRequest): Promise<HttpResponseInit> => {
  const principal = await authenticate(request);
  const { continuationToken, pageSize, ...filters } = readQuery(request, AuditPageQuery);
  requireReader(principal);
  return json(200, await getDeps().audit.query(filters, continuationToken, pageSize));
});

/** `GET /api/audit/verify` (admin, auditor): the integrity of every chain over the range. */
export const auditVerify = handled(async (request: HttpRequest): Promise<HttpResponseInit> => {
  const principal = await authenticate(request);
  const range = readQuery(request, AuditVerifyQuery);
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
    const { format, action, ...range } = readQuery(request, AuditExportQuery);
    requireReader(principal);
    const audit = getDeps().audit;
    await audit.append({
      action: AuditAction.AuditExported,
      actor: auditActor(principal),
      outcome: AuditOutcome.Success,
      detail: {
        format,
        from: range.from?.toISOString() ?? null,
        to: range.to?.toISOString() ?? null,
        ...(action === undefined ? {} : { action }),
      },
      origin: auditOrigin(request, context.invocationId),
    });
    const rows = audit.exportRows(range);
    const body = await openExport(action === undefined ? rows : onlyAction(rows, action), format);
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

/** The export's records of one action (`?action=emergency.used`: every emergency use), as they stream. */
async function* onlyAction(
  rows: AsyncIterable<AuditRecord>,
  action: AuditAction,
): AsyncGenerator<AuditRecord> {
  for await (const row of rows) if (row.action === action) yield row;
}

function stamp(at: Date | undefined): string | undefined {
  return at?.toISOString().replace(/[-:]/g, '').replace('.000', '');
}

/** `POST /api/audit/anchor` (admin): writes every chain's head to the immutable archive now. */
export const auditAnchor = handled(
  async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const principal = await authenticate(request);
    await readJson(request, EmptyBody);
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

/**
 * Every minute: anchors the chain heads if any moved, so no row waits more than a minute to be
 * anchored (appends anchor sooner after many rows). An idle log writes nothing. Unlike the anchors
 * above, this one appends no `audit.anchored` row: the row would move a head and so call for the
 * next minute's anchor, forever; the anchor line is its own record.
 */
export async function auditMinuteAnchor(_timer: Timer, context: InvocationContext): Promise<void> {
  const audit = getDeps().audit;
  try {
    const anchor = await audit.anchorIfMoved();
    if (anchor) context.log(`Audit anchored ${anchor.heads.length} chain heads to ${anchor.blob}.`);
  } finally {
    // Gauged from storage whether or not this anchor was written, so a failing anchor shows as a
    // growing lag; if storage cannot be read, no point is sent, and the alert's "no point for 30
    // minutes" condition covers that (infra/modules/monitoring.bicep). Read only when telemetry
    // runs: the gauge is its only reader, and it costs the heads and the day's anchor lines.
    if (telemetryStarted()) {
      const lag = await audit.anchorLag().catch(() => undefined);
      if (lag !== undefined) record.auditAnchorLag(lag);
    }
  }
}

/**
 * Daily, 03:30 UTC (after the archive, away from the hour's other timers): verifies every chain and
 * records `audit.verified`. Its line starts with VERIFICATION_LINE (`zsa.audit.verification
 * outcome=…`), so the alert in infra/modules/monitoring.bicep finds a failure, or a day without a
 * success (docs/operations.md).
 */
export async function auditDailyVerify(_timer: Timer, context: InvocationContext): Promise<void> {
  const deps = getDeps();
  const found = await verifyDaily(deps.audit, deps.now).catch((e: unknown) => {
    // The same line as a broken chain, so one alert covers both; the run still fails.
    context.error(
      `${VERIFICATION_LINE} outcome=failure reason=unreadable ${e instanceof Error ? e.message : String(e)}`,
    );
    throw e;
  });
  const broken = found.firstBroken;
  const line =
    `${VERIFICATION_LINE} outcome=${found.ok ? 'success' : 'failure'} checked=${found.checked} ` +
    `chains=${found.chains} anchors=${found.anchors} anchorLagSeconds=${found.anchorLagSeconds}` +
    (broken
      ? ` reason=${broken.reason} chain=${broken.chain ?? '-'} sequence=${broken.sequence ?? '-'}`
      : '');
  if (found.ok) context.log(line);
  else context.error(line);
}

app.http('auditQuery', { methods: ['GET'], route: 'api/audit', authLevel: 'anonymous', handler: auditQuery });
app.http('auditVerify', {
  methods: ['GET'],
  route: 'api/audit/verify',
  authLevel: 'anonymous',
  handler: auditVerify,
});
app.http('auditExport', {
  methods: ['GET'],
  route: 'api/audit/export',
  authLevel: 'anonymous',
  handler: auditExport,
});
app.http('auditAnchor', {
  methods: ['POST'],
  route: 'api/audit/anchor',
  authLevel: 'anonymous',
  handler: auditAnchor,
});
app.timer('auditDailyArchive', { schedule: '0 15 0 * * *', handler: auditDailyArchive });
app.timer('auditDailyVerify', { schedule: '0 30 3 * * *', handler: auditDailyVerify });
app.timer('auditMinuteAnchor', { schedule: '0 * * * * *', handler: auditMinuteAnchor });
