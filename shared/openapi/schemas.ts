/**
 * The parts of the HTTP contract that no handler validates with: problem details, list envelopes,
 * paths, and answers built from interfaces (checked against them at compile time). Every body,
 * query and form in the document is the schema its handler validates with, imported where it is
 * declared (`shared/domain/*`, `shared/audit/queries.ts`, `shared/notifications/decision-form.ts`).
 */
import { z } from 'zod';
import type { Anchor } from '#shared/audit/archive';
import type { ChainHead } from '#shared/audit/chains';
import { AuditRecordSchema } from '#shared/audit/record';
import { BreakReason, type VerifyResult } from '#shared/audit/verify';
import { Task, type TaskSummary as TaskSummaryOf } from '#shared/domain/catalog';
import { ExtensionId } from '#shared/domain/extensions';
import { Id, CatalogName, ApproverGroupName } from '#shared/domain/names';
import { Timestamp } from '#shared/domain/time';
import type { FieldError as FieldErrorOf } from '#shared/domain/errors';
import type { Problem as ProblemOf } from '#shared/http/problem';
import type { ExecutionResult as ExecutionResultOf } from '#shared/requests/execute';

/** `true` when A and B are the same type (each assignable to the other). */
export type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** Fails to compile unless given `true`: how a schema is held to the interface a handler returns. */
export type Holds<T extends true> = T;

// --- Problems (RFC 9457) ----------------------------------------------------------------------

export const FieldError = z
  .strictObject({
    pointer: z
      .string()
      .meta({ description: 'JSON Pointer fragment of the offending field, e.g. `#/durationHours`.' }),
    detail: z.string().meta({ description: 'What is wrong with the field.' }),
  })
  .meta({ id: 'FieldError', description: 'One field-level problem.' });

export const Problem = z
  .looseObject({
    type: z.string().meta({
      description:
        "`urn:zsa:problem:<code>` (the code lower-cased, `_` → `-`) for the app's problems; `about:blank` for the host's own (no such route, method not allowed).",
      examples: ['urn:zsa:problem:no-active-grant'],
    }),
    title: z.string().meta({ description: 'The HTTP status phrase.' }),
    status: z.int().min(400).max(599).meta({ description: 'The HTTP status code.' }),
    detail: z.string().meta({ description: 'What went wrong, written for a person who can act on it.' }),
    code: z.string().optional().meta({ description: 'The stable error code, e.g. `NO_ACTIVE_GRANT`.' }),
    errors: z
      .array(FieldError)
      .readonly()
      .optional()
      .meta({ description: 'On `INVALID_INPUT`: each offending field.' }),
    correlationId: z
      .string()
      .optional()
      .meta({ description: 'On 500s: quote it to support; the details are in the log.' }),
  })
  .meta({
    id: 'Problem',
    description:
      'RFC 9457 problem details (`application/problem+json`). Extension members (e.g. `executionId`) may appear.',
  });

export type FieldErrorMatches = Holds<Same<z.output<typeof FieldError>, FieldErrorOf>>;
// The interface has an index signature for extensions; the schema is loose for the same reason.
export type ProblemFits = Holds<ProblemOf extends z.input<typeof Problem> ? true : false>;

// --- Answers built from interfaces ---------------------------------------------------------------

export const Health = z
  .strictObject({ status: z.literal('ok'), version: z.string() })
  .meta({ id: 'Health', description: 'Liveness: the app answers and which version it runs.' });

export const ExecutionResult = z
  .strictObject({
    executionId: Id.meta({ description: 'The execution id, as audited.' }),
    requestId: Id.nullable().meta({ description: 'The grant it ran under; null for a system account.' }),
    task: CatalogName.meta({ description: 'The task that ran.' }),
    status: z.literal('succeeded').meta({ description: 'Always `succeeded`: a failure answers a problem.' }),
    result: z
      .unknown()
      .meta({ description: "The executor's answer: its JSON body, or its text (at most 64 KiB)." }),
    executedAt: Timestamp.meta({ description: 'When it ran.' }),
  })
  .meta({ id: 'ExecutionResult', description: 'A task that ran and succeeded.' });
export type ExecutionResultMatches = Holds<Same<z.output<typeof ExecutionResult>, ExecutionResultOf>>;

/** What every user sees of a task: the executor stays hidden (webhook URLs often carry a secret). */
export const TaskSummary = Task.pick({ name: true, description: true, parameters: true }).meta({
  id: 'TaskSummary',
  description: 'A task as every user sees it: without its executor.',
});
export type TaskSummaryMatches = Holds<Same<keyof z.output<typeof TaskSummary>, keyof TaskSummaryOf>>;

/** `{items}`: a whole list. */
export function listOf<T extends z.ZodType>(item: T, id: string, description: string) {
  return z
    .strictObject({ items: z.array(item).meta({ description: 'Every entry.' }) })
    .meta({ id, description });
}

/** `{items, continuationToken?}`: one page; pass the token back for the next. */
export function pageOf<T extends z.ZodType>(item: T, id: string, description: string) {
  return z
    .strictObject({
      items: z.array(item).meta({ description: 'The entries of this page.' }),
      continuationToken: z.string().optional().meta({
        description: 'Present when there is more: send it back as `continuationToken` for the next page.',
      }),
    })
    .meta({ id, description });
}

// --- Paths ------------------------------------------------------------------------------------

export const RequestPath = z.strictObject({ id: Id.meta({ description: 'The request id.' }) });
export const ExtensionPath = z.strictObject({
  id: Id.meta({ description: 'The request id.' }),
  extensionId: ExtensionId.meta({ description: "The extension's number within the request: 1, 2, …" }),
});
export const PolicyPath = z.strictObject({ id: Id.meta({ description: 'The policy id.' }) });
export const ApproverGroupPath = z.strictObject({
  name: ApproverGroupName.meta({ description: 'The group name.' }),
});

// --- Audit answers -----------------------------------------------------------------------------

/** One audit event as stored, queried and exported (the audit log's own schema). */
export const AuditRecord = AuditRecordSchema.meta({
  id: 'AuditRecord',
  description: 'One audit event, sealed in its hash chain (`prevHash` → `hash`).',
});

const ChainBreak = z.strictObject({
  chain: z.int().nullable(),
  sequence: z.int().nullable(),
  reason: z.enum(BreakReason),
  detail: z.string(),
});

export const AuditVerification = z
  .strictObject({
    ok: z.boolean(),
    checked: z.int().min(0).meta({ description: 'Rows examined.' }),
    chains: z.int().min(0).meta({ description: 'Distinct chains seen.' }),
    anchors: z.int().min(0).meta({ description: 'Anchored chain heads inside the range that were checked.' }),
    firstBroken: ChainBreak.optional().meta({
      description: 'The first place the chain is broken, when it is.',
    }),
  })
  .meta({ id: 'AuditVerification', description: 'The result of checking the audit chain over the range.' });
export type AuditVerificationMatches = Holds<Same<z.output<typeof AuditVerification>, VerifyResult>>;

const ChainHeadSchema = z.strictObject({
  chain: z.int().min(0),
  sequence: z.int().min(1),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  at: Timestamp,
});
export type ChainHeadMatches = Holds<Same<z.output<typeof ChainHeadSchema>, ChainHead>>;

export const AuditAnchor = z
  .strictObject({
    anchoredAt: Timestamp,
    blob: z.string().meta({ description: 'The immutable blob the anchor line was appended to.' }),
    heads: z.array(ChainHeadSchema),
  })
  .meta({ id: 'AuditAnchor', description: "Every chain's head, written to the immutable archive." });
export type AuditAnchorMatches = Holds<Same<z.output<typeof AuditAnchor>, Anchor>>;
