/**
 * `GET /api/policy-preview`: what submitting a request for a target would do for the caller now,
 * before they write a reason. It runs the submit story's own reads and rules in the same order
 * (privileged access enabled → the target exists → the policy that governs it, combined with its
 * members' → its approval stages), so the preview and the submit can never disagree, and it
 * refuses with the same problems. It writes nothing, audits nothing and takes no submit allowance.
 */
import { z } from 'zod';
import type { Principal } from '#shared/auth/index';
import { effectiveTasks, TaskParameter } from '#shared/domain/catalog';
import { DomainError } from '#shared/domain/errors';
import { ApproverGroupName, CatalogName } from '#shared/domain/names';
import { assertPamEnabled, isMember, isSystemAccount } from '#shared/domain/pam';
import { policyStages, requirePolicy } from '#shared/domain/policy';
import { DEFAULT_DURATION_HOURS, targetOf } from '#shared/domain/request';
import { describeTarget, ScopeSchema } from '#shared/domain/catalog';
import type { RequestContext } from './context';

/** Query of `GET /api/policy-preview`: exactly one of `task`, `role`, `roleGroup`, as submit takes them. */
export const PolicyPreviewQuery = z
  .strictObject({
    task: CatalogName.optional().meta({ description: 'A task, by its exact name.' }),
    role: CatalogName.optional().meta({ description: 'A role, by its exact name.' }),
    roleGroup: CatalogName.optional().meta({ description: 'A role group, by its exact name.' }),
  })
  .superRefine((value, ctx) => {
    const given = [value.task, value.role, value.roleGroup].filter((v) => v !== undefined).length;
    if (given !== 1)
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: `give exactly one of task, role or roleGroup (got ${given === 0 ? 'none' : given})`,
      });
  });
export type PolicyPreviewQuery = z.output<typeof PolicyPreviewQuery>;

const Hours = z.number().positive();

export const PolicyPreview = z
  .strictObject({
    target: z
      .strictObject({
        kind: ScopeSchema.meta({ description: '`task`, `role` or `roleGroup`.' }),
        name: CatalogName.meta({ description: 'Its name.' }),
      })
      .meta({ description: 'What the request would be for.' }),
    description: z.string().optional().meta({ description: "The task's description (tasks only)." }),
    approval: z.enum(['automatic', 'manual']).meta({
      description: 'Whether a request is granted at once (`automatic`) or waits for approvers (`manual`).',
    }),
    exempt: z.boolean().meta({
      description:
        'The caller is a system account: they may execute without any request while privileged access is enabled. A request they submit is still decided as `approval` says.',
    }),
    stages: z
      .array(
        z.strictObject({
          approverGroup: ApproverGroupName.meta({
            description: 'The approver group that decides in this stage.',
          }),
          requiredApprovals: z
            .int()
            .min(1)
            .meta({ description: 'Approvals from distinct members the stage needs.' }),
        }),
      )
      .meta({ description: 'Who approves, in order (empty when automatic).' }),
    maxDurationHours: Hours.nullable().meta({ description: 'The longest grant; null: no maximum.' }),
    defaultDurationHours: Hours.meta({ description: 'What a submit without `durationHours` asks for.' }),
    maxPendingHours: Hours.nullable().meta({
      description: 'How long a request waits for approvers before it expires (null when automatic).',
    }),
    maxUses: z.int().min(1).nullable().meta({ description: 'Executions a grant allows; null: unlimited.' }),
    maxStartDelayHours: Hours.meta({ description: 'How far ahead `startAt` may be.' }),
    maxExtensions: z.int().min(0).meta({ description: 'How many extensions a grant may be asked for.' }),
    breakGlass: z
      .strictObject({
        maxDurationHours: Hours.meta({ description: 'The longest emergency grant, in hours.' }),
      })
      .nullable()
      .meta({
        description:
          'Emergency access the caller may ask for (they are in the policy’s break-glass group), or null.',
      }),
    approverAuthContext: z.string().nullable().meta({
      description: 'The sign-in (`c1` … `c99`, or `mfa`) approvers must prove to decide; null: none.',
    }),
    parameters: z
      .array(TaskParameter)
      .optional()
      .meta({ description: "The task's parameters, for a form (tasks only)." }),
  })
  .meta({
    id: 'PolicyPreview',
    description: 'What a request for the target would do if the caller submitted it now.',
  });
export type PolicyPreview = z.output<typeof PolicyPreview>;

/** `GET /api/policy-preview`. Any signed-in user; refuses as submit would, and never writes. */
export async function previewPolicy(
  ctx: Pick<RequestContext, 'config'>,
  principal: Principal,
  query: PolicyPreviewQuery,
): Promise<PolicyPreview> {
  const target = targetOf(query);
  const [config, { catalog, policies }] = await Promise.all([
    ctx.config.pamConfig(),
    ctx.config.policyContext(target),
  ]);
  assertPamEnabled(config);
  const [task] = effectiveTasks(target, catalog);
  const policy = requirePolicy(target, catalog, policies, config.defaultApproverGroup);
  const stages = policyStages(policy, config.defaultApproverGroup);
  if (stages === undefined)
    // The refusal planRequest gives a submit for this policy.
    throw new DomainError(
      'NO_APPROVER_GROUP',
      `The policy for the ${describeTarget(target)} names no approver group and no default group is configured`,
    );
  const breakGlass =
    policy.breakGlassGroup !== undefined &&
    isMember(await ctx.config.groupMembers(policy.breakGlassGroup), principal.id)
      ? { maxDurationHours: policy.breakGlassMaxHours }
      : null;
  const automatic = policy.approvalType === 'auto';
  const ownTask = target.scope === 'task' ? task : undefined;
  return {
    target: { kind: target.scope, name: target.name },
    ...(ownTask === undefined ? {} : { description: ownTask.description }),
    approval: automatic ? 'automatic' : 'manual',
    exempt: isSystemAccount(config, principal.id),
    stages,
    maxDurationHours: policy.maxDurationHours ?? null,
    defaultDurationHours: DEFAULT_DURATION_HOURS,
    maxPendingHours: automatic ? null : policy.pendingTimeoutHours,
    maxUses: policy.maxUses ?? null,
    maxStartDelayHours: policy.maxStartDelayHours,
    maxExtensions: policy.maxExtensions,
    breakGlass,
    approverAuthContext: policy.approverAuthContext ?? null,
    ...(ownTask?.parameters === undefined ? {} : { parameters: ownTask.parameters }),
  };
}
