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
  const approvalType = overrides.approvalType ?? 'manual';
  const approverGroup = overrides.approverGroup === undefined ? GROUP : overrides.approverGroup;
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
    // A single-group request is one stage; these are what a request without the #13 features holds.
    stages:
      approvalType === 'manual' && approverGroup !== null
        ? [{ approverGroup, requiredApprovals: overrides.requiredApprovals ?? 1 }]
        : [],
    startAt: null,
    maxUses: null,
    uses: 0,
    inFlight: [],
    maxExtensions: 0,
    maxDurationHours: null,
    pendingTimeoutHours: 24,
    extensions: [],
    ...fieldsFor(status, durationHours),
    ...overrides,
  });
}

// --- Approval stages, counted grants, scheduled starts and extensions -------------------------

export const DANA = 'dana@contoso.com'; // security approver
export const FRANK = 'frank@contoso.com'; // security approver

/** The second stage's group: Dana, Frank, and Erin, who sits in both groups. */
export const SECURITY = 'security-approvers';
export const SECURITY_MEMBERS: readonly Member[] = [DANA, FRANK, ERIN].map(memberOf);

/** Both groups: `GROUP` (Bob, Carol, Erin) and `SECURITY` (Dana, Frank, Erin). */
export const STAGED_MEMBERS: GroupMembers = new Map([
  [GROUP, GROUP_MEMBERS],
  [SECURITY, SECURITY_MEMBERS],
]);

/** Two stages: one approval of `GROUP`, then one of `SECURITY` (each can be raised). */
export function twoStages(first = 1, second = 1): Request['stages'] {
  return [
    { approverGroup: GROUP, requiredApprovals: first },
    { approverGroup: SECURITY, requiredApprovals: second },
  ];
}

/** One decision, in `stage`, `minutes` after T0. */
export function aDecision(
  upn: string,
  stage: number,
  decision: 'approve' | 'deny' = 'approve',
  minutes = 1,
): Request['approvals'][number] {
  return {
    approver: upn,
    approverId: idOf(upn),
    decision,
    comment: null,
    at: iso(minutesAfterT0(minutes)),
    stage,
  };
}

/**
 * Alice's request under a two-stage policy (`twoStages`), pending unless `overrides` says otherwise.
 * For another status, pass the fields it implies (see `aStagedGrant`).
 */
export function aStagedRequest(overrides: Partial<Request> = {}): Request {
  const stages = overrides.stages ?? twoStages();
  return aRequest({
    stages,
    requiredApprovals: stages.reduce((n, s) => n + s.requiredApprovals, 0),
    approvals: [],
    ...overrides,
  });
}

/** Alice's two-stage request approved by Bob (stage 1) and Dana (stage 2) 10 minutes after T0, live for 4 hours. */
export function aStagedGrant(overrides: Partial<Request> = {}): Request {
  return aStagedRequest({
    status: 'approved',
    approvals: [aDecision(BOB, 0, 'approve', 5), aDecision(DANA, 1, 'approve', 10)],
    decidedAt: iso(minutesAfterT0(10)),
    grantedAt: iso(minutesAfterT0(10)),
    expiresAt: iso(minutesAfterT0(250)),
    ...overrides,
  });
}
