/** Every step of a request, in time order, in words: built from the RequestView alone. */
import type { RequestView } from '../../api/types';

export interface Step {
  readonly at: string;
  readonly text: string;
}

export function targetOf(r: Pick<RequestView, 'task' | 'role' | 'roleGroup'>): string {
  if (r.task !== undefined) return `Task ${r.task}`;
  if (r.role !== undefined) return `Role ${r.role}`;
  return `Role group ${r.roleGroup ?? ''}`;
}

export function timeline(r: RequestView): Step[] {
  const steps: Step[] = [{ at: r.createdAt, text: `Submitted by ${r.requester}` }];
  if (r.emergency)
    steps.push({ at: r.createdAt, text: 'Emergency access: granted at once, reviewed afterwards' });
  const many = r.stages.length > 1;
  r.stages.forEach((stage, i) => {
    const label = many
      ? `stage ${i + 1} of ${r.stages.length} (${stage.approverGroup})`
      : stage.approverGroup;
    // A later stage opens when the one before it is approved: at its last approval.
    const previous = r.stages[i - 1];
    const opened =
      i === 0 ? r.createdAt : previous?.status === 'approved' ? previous.approvals.at(-1)?.at : undefined;
    if (opened !== undefined)
      steps.push({
        at: opened,
        text: `Waiting for ${stage.requiredApprovals} approval${stage.requiredApprovals === 1 ? '' : 's'} from ${label}`,
      });
    for (const a of stage.approvals)
      steps.push({
        at: a.at,
        text: `${a.decision === 'approve' ? 'Approved' : 'Denied'} by ${a.approver} in ${label}${a.comment ? `: “${a.comment}”` : ''}`,
      });
  });
  if (r.decidedAt !== null && (r.status !== 'pending' || r.grantedAt !== null)) {
    const denied = r.status === 'denied';
    steps.push({ at: r.decidedAt, text: denied ? 'Denied' : 'Approved' });
  }
  if (r.grantedAt !== null) {
    const scheduled = r.decidedAt !== null && Date.parse(r.grantedAt) > Date.parse(r.decidedAt);
    steps.push({ at: r.grantedAt, text: scheduled ? 'Access scheduled to start' : 'Access started' });
  }
  for (const e of r.executions) steps.push({ at: e.executedAt, text: `Executed ${e.task}: ${e.status}` });
  for (const e of r.extensions) {
    steps.push({ at: e.createdAt, text: `Asked for ${e.hours} more hours: ${e.reason}` });
    for (const a of e.approvals)
      steps.push({
        at: a.at,
        text: `Extension ${a.decision === 'approve' ? 'approved' : 'denied'} by ${a.approver}${a.comment ? `: “${a.comment}”` : ''}`,
      });
    if (e.status !== 'pending' && e.decidedAt !== null)
      steps.push({ at: e.decidedAt, text: `Extension of ${e.hours} hours ${e.status}` });
  }
  if (r.endedAt !== null) {
    const by = r.endedBy ? ` by ${r.endedBy}` : '';
    const why = r.endReason ? `: ${r.endReason}` : '';
    const words: Partial<Record<RequestView['status'], string>> = {
      canceled: 'Canceled',
      expired: r.grantedAt === null ? 'Expired: no decision in time' : 'Access expired',
      ended: 'Access ended',
      revoked: 'Access revoked',
      failed: 'Failed',
    };
    const word = words[r.status];
    if (word !== undefined) steps.push({ at: r.endedAt, text: `${word}${by}${why}` });
  } else if (r.expiresAt !== null) {
    steps.push({ at: r.expiresAt, text: 'Access ends' });
  }
  // A stable sort keeps steps at the same instant in the order above (submitted before its stage).
  return steps.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
}
