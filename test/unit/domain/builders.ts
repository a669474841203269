// Builders and a fixed clock for the domain's unit tests. Every built value goes through its own
// schema, so a builder can never hand a test something the domain could not have produced.
import { catalogFrom, Role, RoleGroup, Task, type Catalog } from '#shared/domain/catalog';
import { type Actor, type Member } from '#shared/domain/pam';
import { Policy } from '#shared/domain/policy';
import { Request, type RequestStatus } from '#shared/domain/request';
import type { GroupMembers } from '#shared/domain/stages';

/** The fixed "now" of every test. */
export const T0 = new Date('2030-01-01T09:00:00.000Z');

export function minutesAfterT0(minutes: number): Date {
  return new Date(T0.getTime() + minutes * 60_000);
}

export function hoursAfterT0(hours: number): Date {
  return new Date(T0.getTime() + hours * 3_600_000);
}

export function iso(at: Date): string {
  return at.toISOString();
}

export const ALICE = 'alice@contoso.com'; // requester
export const BOB = 'bob@contoso.com'; // approver
export const CAROL = 'carol@contoso.com'; // approver
export const ERIN = 'erin@contoso.com'; // approver
export const MALLORY = 'mallory@contoso.com'; // nobody in particular
export const ADMIN = 'admin@contoso.com';
export const AUDITOR = 'auditor@contoso.com';

export const GROUP = 'exchange-approvers';
/** A configured member as the directory resolved them: their key and their UPN. */
export function memberOf(upn: string): Member {
  return { upn, id: idOf(upn) };
}

/** Who decides, as the rules see a signed-in approver. */
export function who(upn: string): { id: string; upn: string } {
  return { id: idOf(upn), upn };
}

export const GROUP_MEMBERS: readonly Member[] = [BOB, CAROL, ERIN].map(memberOf);

/** The members of each group the rules are given: `GROUP` holds `members`. */
export function inGroup(members: readonly Member[], group = GROUP): GroupMembers {
  return new Map([[group, members]]);
}

/** `GROUP` with Bob, Carol and Erin: the members every single-group test decides with. */
export const MEMBERS: GroupMembers = inGroup(GROUP_MEMBERS);

export const MOVE = 'Exchange\\New-MoveRequest';
export const MAILBOX = 'Exchange\\Set-Mailbox';
export const RESET = 'AD/Reset-Password#1?';

/** The stable id tests give a user: `tenant:object id` in real tokens; derived from the UPN here. */
export function idOf(upn: string): string {
  return `tid:${upn}`;
}

export function anActor(upn: string, roles: { isAdmin?: boolean; isAuditor?: boolean } = {}): Actor {
  return { id: idOf(upn), upn, isAdmin: roles.isAdmin ?? false, isAuditor: roles.isAuditor ?? false };
}

export function aTask(overrides: Partial<Task> = {}): Task {
  return Task.parse({
    name: MOVE,
    description: 'Move a mailbox to another database',
    executor: { type: 'webhook', url: 'https://automation.example.com/webhooks/move' },
    ...overrides,
  });
}

export function aRole(overrides: Partial<Role> = {}): Role {
  return Role.parse({ name: 'Mailbox Operator', tasks: [MOVE, MAILBOX], ...overrides });
}

export function aRoleGroup(overrides: Partial<RoleGroup> = {}): RoleGroup {
  return RoleGroup.parse({ name: 'Exchange Operations', roles: ['Mailbox Operator'], ...overrides });
}

/** A small catalog: two Exchange tasks in one role, in one role group, plus a stand-alone task. */
export function aCatalog(): Catalog {
  return catalogFrom({
    tasks: [aTask(), aTask({ name: MAILBOX }), aTask({ name: RESET })],
    roles: [aRole()],
    roleGroups: [aRoleGroup()],
  });
}

export function aPolicy(overrides: Partial<Policy> = {}): Policy {
  return Policy.parse({
    id: 'policy-move',
    scope: 'task',
    target: MOVE,
    approvalType: 'manual',
    approverGroup: GROUP,
    requiredApprovals: 1,
    pendingTimeoutHours: 24,
    ...overrides,
  });
}

const approvedAt = minutesAfterT0(10);

function fieldsFor(status: RequestStatus, durationHours: number): Partial<Request> {
  const approved: Partial<Request> = {
    approvals: [
      { approver: BOB, approverId: idOf(BOB), decision: 'approve', comment: null, at: iso(approvedAt) },
    ],
    decidedAt: iso(approvedAt),
    grantedAt: iso(approvedAt),
    expiresAt: iso(new Date(approvedAt.getTime() + durationHours * 3_600_000)),
  };
  switch (status) {
    case 'pending':
      return {};
    case 'approved':
      return approved;
    case 'denied':
      return {
        approvals: [
          {
            approver: BOB,
            approverId: idOf(BOB),
            decision: 'deny',
            comment: 'no ticket',
            at: iso(approvedAt),
          },
        ],
        decidedAt: iso(approvedAt),
        endedAt: iso(approvedAt),
      };
    case 'canceled':
      return { endedAt: iso(minutesAfterT0(5)), endedBy: ALICE };
    case 'expired':
      return { endedAt: iso(hoursAfterT0(24)) };
    case 'ended':
      return { ...approved, endedAt: approved.expiresAt ?? null };
    case 'revoked':
      return { ...approved, endedAt: iso(minutesAfterT0(30)), endedBy: ADMIN, endReason: 'done early' };
    case 'failed':
      return { endedAt: iso(minutesAfterT0(1)), endReason: 'orchestration fault' };
  }
}

/**
 * A request as the domain would hold it: Alice asks for `Exchange\New-MoveRequest` for 4 hours at
 * T0 under a 1-approval manual policy; `status` fills in what that status implies (an approved one
 * was approved by Bob 10 minutes later), and any field can be overridden.
 */
export function aRequest(overrides: Partial<Request> = {}): Request {
  const status = overrides.status ?? 'pending';
  const durationHours = overrides.durationHours ?? 4;
  return Request.parse({
    id: 'req-1',
    requester: ALICE,
    requesterId: idOf(ALICE),
    task: MOVE,
    tasks: [MOVE],
    reason: 'INC-42: move the CEO mailbox',
    ticket: 'INC-42',
    durationHours,
    parameters: null,
    status,
    policyId: 'policy-move',
    approvalType: 'manual',
    approverGroup: GROUP,
    requiredApprovals: 1,
    approvals: [],
    clientRequestId: null,
    createdAt: iso(T0),
    pendingUntil: iso(hoursAfterT0(24)),
    decidedAt: null,
    grantedAt: null,
    expiresAt: null,
    endedAt: null,
    endedBy: null,
    endReason: null,
    ...fieldsFor(status, durationHours),
    ...overrides,
  });
}
