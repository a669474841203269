/**
 * The API's types, taken from the app's own zod schemas (type-only imports: nothing of the server
 * is bundled). Never copy a shape here by hand: if the API changes, the portal stops compiling.
 */
import type { z } from 'zod';
import type {
  AuditRecord as AuditRecordSchema,
  AuditVerification as AuditVerificationSchema,
  ExecutionResult as ExecutionResultSchema,
  Problem as ProblemSchema,
} from '#shared/openapi/schemas';
import type { MeView } from '#shared/requests/me';
import type { PolicyPreview as PolicyPreviewSchema } from '#shared/requests/preview';

export type Problem = z.output<typeof ProblemSchema>;
export type FieldError = NonNullable<Problem['errors']>[number];
export type { RequestView, RequestStatus, ExecuteBody, SubmitRequestInput } from '#shared/domain/request';
export type {
  Task,
  Role as CatalogRole,
  RoleGroup,
  TaskParameter,
  ParameterValues,
} from '#shared/domain/catalog';

/** One page of a list: the API's continuation token says where the next page starts. */
export interface Page<T> {
  readonly items: readonly T[];
  readonly continuationToken?: string | null | undefined;
}

export type Me = z.output<typeof MeView>;
export type PolicyPreview = z.output<typeof PolicyPreviewSchema>;
export type { AuditAction } from '#shared/audit/types';
export type { ExtensionView } from '#shared/domain/request';
export type AuditRecord = z.output<typeof AuditRecordSchema>;
export type AuditVerification = z.output<typeof AuditVerificationSchema>;
export type ExecutionResult = z.output<typeof ExecutionResultSchema>;
export type { InsightsView as Insights, RequestOutcome } from '#shared/insights/schemas';

// Administration (the admin pages).
export type { PamView, ApproverGroupView, EnablePamBody, ApproverGroupBody } from '#shared/domain/pam';
export type { Policy, PolicyInput } from '#shared/domain/policy';
