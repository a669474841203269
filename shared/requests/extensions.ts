/**
 * The extension stories: the requester asks for more hours on a live grant, the request's approvers
 * decide (stage by stage, as for the request), the requester may withdraw it while it waits. Each is
 * a caller transition run by the one helper in ./transition.ts: read → pure rule
 * (shared/domain/extensions.ts) → compare-and-swap with its audit events → tell the orchestration
 * (`GrantChanged`: "look again", it moves the grant's timer or tells who must hear) → flush.
 *
 * Audit ids are numbered so that a retry records the same ids: an extension's own events by its
 * number, its approvals by `extension × 100 + approval` (a round holds at most 20 approvals) and its
 * stages by `extension × 100 + stage`.
 */
import { AuditAction, type AuditEventInput } from '#shared/audit/types';
import {
  cancelExtensionTransition,
  decideExtensionTransition,
  extendTransition,
  extensionOf,
  type ExtendBody,
  type ExtendOutcome,
} from '#shared/domain/extensions';
import {
  canView,
  isGranted,
  type Decision,
  type DecisionOutcome,
  type Extension,
  type Request,
  type RequestView,
} from '#shared/domain/request';
import { pending, type PendingAudit } from './audit-outbox';
import { actorOf, type Caller, type RequestContext } from './context';
import { RequestEvent } from './orchestrations';
import { runTransition } from './transition';
import { stageEvents } from './usecases';

/** The number of an extension's approval or stage event: unique within the request's log. */
const numbered = (extensionId: string, n: number) => Number(extensionId) * 100 + n;

function extensionIn(request: Request, extensionId: string): Extension {
  const extension = extensionOf(request, extensionId);
  // The rule just wrote it: its absence is a bug, not a state.
  if (extension === undefined) throw new Error(`Request ${request.id} lost extension ${extensionId}`);
  return extension;
}

function baseOf(request: Request, caller: Caller): Omit<AuditEventInput, 'action' | 'detail'> {
  return {
    actor: caller.actor,
    outcome: 'success',
    requestId: request.id,
    task: request.task,
    origin: caller.origin,
  };
}

/** What every event of an extension says: which one, how many hours, and the grant's end now. */
function extensionDetail(request: Request, extension: Extension): Record<string, unknown> {
  return { extensionId: extension.id, hours: extension.hours, expiresAt: request.expiresAt };
}

/** The approved extension's event: the grant's new end. */
function approvedEvent(request: Request, extension: Extension, caller: Caller, at: Date): PendingAudit {
  return pending(
    request.id,
    {
      ...baseOf(request, caller),
      action: AuditAction.ExtensionApproved,
      detail: { ...extensionDetail(request, extension), approvals: extension.approvals.length },
    },
    at,
    Number(extension.id),
  );
}

/**
 * `POST /api/requests/{id}/extend`: the requester of a live grant asks for `hours` more. Waits for
 * the request's approvers (its first stage is asked), or, under an automatic policy, is approved at
 * once and `expiresAt` moves.
 */
export async function extendGrant(
  ctx: RequestContext,
  caller: Caller,
  id: string,
  body: ExtendBody,
): Promise<RequestView> {
  return runTransition<ExtendOutcome>(ctx, caller, id, {
    rule: (request) => extendTransition(request, caller.principal, body, ctx.minDurationSeconds, ctx.now),
    events: (outcome, next) => {
      const extension = next.extensions.at(-1);
      if (extension === undefined) throw new Error(`Request ${next.id} lost its new extension`);
      const requested = pending(
        next.id,
        {
          ...baseOf(next, caller),
          action: AuditAction.ExtensionRequested,
          detail: {
            ...extensionDetail(next, extension),
            reason: extension.reason,
            pendingUntil: extension.pendingUntil,
            // Who is asked first (none: an automatic policy approves it at once).
            stage: next.stages.length === 0 ? null : 0,
            approverGroup: next.stages[0]?.approverGroup ?? null,
          },
        },
        ctx.now,
        Number(extension.id),
      );
      return outcome === 'approved'
        ? [requested, approvedEvent(next, extension, caller, ctx.now)]
        : [requested];
    },
    follow: (outcome) => ({ liveIndex: outcome === 'approved', event: RequestEvent.GrantChanged }),
    // The same hours and reason again within a minute: a retry, answered with the extension it made.
    answersRetries: true,
  });
}

/**
 * `POST /api/requests/{id}/extensions/{extensionId}/approve|deny`, and an emailed extension link
 * (`linkStage`: the stage the link was minted for; it counts only while that stage is open). One
 * decision per approver per extension, in its open stage; `approved` moves `expiresAt` later.
 */
export async function decideExtension(
  ctx: RequestContext,
  caller: Caller,
  id: string,
  extensionId: string,
  decision: Decision,
  comment: string | undefined,
  linkStage?: number,
): Promise<RequestView> {
  const { principal } = caller;
  const input = { approver: principal, decision, comment, linkStage, strength: principal.strength };
  return runTransition<DecisionOutcome>(ctx, caller, id, {
    addressable: (request, members) => canView(request, actorOf(principal), members),
    rule: (request, members) => decideExtensionTransition(request, extensionId, input, members, ctx.now),
    events: (outcome, next) => {
      const extension = extensionIn(next, extensionId);
      const stage = extension.approvals.at(-1)?.stage ?? 0;
      const base = baseOf(next, caller);
      const detail = {
        ...extensionDetail(next, extension),
        decision,
        comment: comment ?? null,
        approvals: extension.approvals.length,
        stage,
        approverGroup: next.stages[stage]?.approverGroup ?? null,
        via: principal.authMethod,
      };
      const recorded = () =>
        pending(
          next.id,
          { ...base, action: AuditAction.ExtensionApprovalRecorded, detail },
          ctx.now,
          numbered(extensionId, extension.approvals.length),
        );
      switch (outcome) {
        case 'recorded':
          return [recorded()];
        case 'stageApproved':
          return [
            recorded(),
            ...stageEvents(
              next.id,
              next.stages,
              stage,
              { approved: AuditAction.ExtensionStageApproved },
              base,
              { ...extensionDetail(next, extension), stages: next.stages.length, nextStage: stage + 1 },
              ctx.now,
              (s) => numbered(extensionId, s),
            ),
          ];
        case 'approved':
          return [approvedEvent(next, extension, caller, ctx.now)];
        case 'denied':
          return [
            pending(
              next.id,
              { ...base, action: AuditAction.ExtensionDenied, detail },
              ctx.now,
              Number(extensionId),
            ),
          ];
      }
    },
    follow: (outcome, request) => ({
      liveIndex: outcome === 'approved' && isGranted(request, ctx.now),
      // A recorded approval leaves the stage waiting: nothing for the orchestration to do.
      ...(outcome === 'recorded' ? {} : { event: RequestEvent.GrantChanged }),
    }),
    refusals: { audited: AuditAction.DecisionRefused, unaddressable: 'NOT_AN_APPROVER' },
  });
}

/** `POST /api/requests/{id}/extensions/{extensionId}/cancel`: the requester withdraws the extension that waits. */
export async function cancelExtension(
  ctx: RequestContext,
  caller: Caller,
  id: string,
  extensionId: string,
): Promise<RequestView> {
  return runTransition(ctx, caller, id, {
    rule: (request) => cancelExtensionTransition(request, extensionId, caller.principal, ctx.now),
    events: (_outcome, next) => [
      pending(
        next.id,
        {
          ...baseOf(next, caller),
          action: AuditAction.ExtensionCanceled,
          detail: extensionDetail(next, extensionIn(next, extensionId)),
        },
        ctx.now,
        Number(extensionId),
      ),
    ],
    follow: () => ({ liveIndex: false, event: RequestEvent.GrantChanged }),
  });
}
