/**
 * Configuration through the real admin handlers, for component tests whose subject is something
 * else: an approver group, and privileged access enabled with it as the default.
 */
import { approverGroupPut } from '../../functions/approver-groups';
import { pamEnable } from '../../functions/pam';
import { call } from './component';

export async function enablePam(
  adminToken: string,
  opts: { group: string; members: string[]; systemAccounts?: string[] },
): Promise<void> {
  const group = await call(approverGroupPut, {
    method: 'PUT',
    path: '/x',
    token: adminToken,
    params: { name: opts.group },
    body: { members: opts.members },
  });
  if (group.status >= 300)
    throw new Error(`PUT approver group: ${group.status} ${JSON.stringify(group.body)}`);
  const enabled = await call(pamEnable, {
    method: 'POST',
    path: '/x',
    token: adminToken,
    body: {
      defaultApproverGroup: opts.group,
      ...(opts.systemAccounts ? { systemAccounts: opts.systemAccounts } : {}),
    },
  });
  if (enabled.status >= 300)
    throw new Error(`POST /api/pam/enable: ${enabled.status} ${JSON.stringify(enabled.body)}`);
}
