/**
 * Examples shown in the document, taken from the end-to-end story in test/e2e/mission.test.ts
 * (the Microsoft 365 flow: a mailbox move approved by ann, executed by alice) and the Power
 * Automate story in docs/power-automate.md (a ServiceNow ticket becomes a request). The contract
 * test validates every one against its operation's schema, so an example can never show a shape
 * the API refuses or does not send.
 */
const TASK = 'Exchange\\New-MoveRequest';
const GROUP = 'exchange-approvers';
const REQUEST_ID = '5d7e0f3c-2b1a-4c8e-9f6d-3a2b1c0d9e8f';
const POLICY_ID = 'a3f1c9e2-7b4d-4e21-9c55-0d8b6e2f4a17';
const EXECUTION_ID = 'c1e2d3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f';
const CREATED = '2030-01-06T09:00:00.000Z';

const PENDING = {
  id: REQUEST_ID,
  requester: 'alice@contoso.com',
  requesterId: '72f988bf-86f1-41af-91ab-2d7cd011db47:5d6f1b3e-2a4c-4f8e-9b1d-0c3e7a9f6b21',
  task: TASK,
  tasks: [TASK],
  reason: 'Migrate mailbox',
  ticket: 'INC-1',
  durationHours: 3,
  parameters: { mailbox: 'alice@contoso.com' },
  status: 'pending',
  policyId: POLICY_ID,
  approvalType: 'manual',
  approverGroup: GROUP,
  requiredApprovals: 1,
  approvals: [],
  stages: [{ approverGroup: GROUP, requiredApprovals: 1, status: 'open', approvals: [] }],
  currentStage: 0,
  clientRequestId: null,
  createdAt: CREATED,
  pendingUntil: '2030-01-07T09:00:00.000Z',
  decidedAt: null,
  grantedAt: null,
  expiresAt: null,
  endedAt: null,
  endedBy: null,
  endReason: null,
  startAt: null,
  maxUses: null,
  uses: 0,
  maxExtensions: 1,
  maxDurationHours: 8,
  pendingTimeoutHours: 24,
  extensions: [],
  executions: [],
  emergency: false,
  review: null,
  approverAuthContext: null,
} as const;

/** The single stage of a one-group policy as the view shows it, with its status and approvals. */
const stageOf = (status: string, approvals: readonly unknown[]) => ({
  approverGroup: GROUP,
  requiredApprovals: 1,
  status,
  approvals,
});

const ANN_APPROVES = {
  approver: 'ann@contoso.com',
  decision: 'approve',
  comment: 'ok',
  at: '2030-01-06T09:05:00.000Z',
  stage: 0,
} as const;

const APPROVED = {
  ...PENDING,
  status: 'approved',
  approvals: [ANN_APPROVES],
  stages: [stageOf('approved', [ANN_APPROVES])],
  currentStage: null,
  decidedAt: '2030-01-06T09:05:00.000Z',
  grantedAt: '2030-01-06T09:05:00.000Z',
  expiresAt: '2030-01-06T12:05:00.000Z',
  executions: [
    { executionId: EXECUTION_ID, task: TASK, status: 'succeeded', executedAt: '2030-01-06T09:06:00.000Z' },
  ],
} as const;

/** An emergency use (break glass): granted at once, its review closed by an approver afterwards. */
const REVIEWED = {
  ...PENDING,
  requester: 'bob@contoso.com',
  reason: 'INC-4711: the mail flow to the payment team is down',
  durationHours: 1,
  status: 'approved',
  stages: [stageOf('open', [])],
  currentStage: null,
  pendingUntil: CREATED,
  decidedAt: CREATED,
  grantedAt: CREATED,
  expiresAt: '2030-01-06T10:00:00.000Z',
  emergency: true,
  review: {
    status: 'justified',
    reviewer: 'ann@contoso.com',
    reviewerId: '72f988bf-86f1-41af-91ab-2d7cd011db47:8d2c7a40-0f0b-4f61-9c1e-1d2f3a4b5c6d',
    comment: 'Matches INC-4711',
    at: '2030-01-06T11:00:00.000Z',
    remindedAt: null,
  },
  approverAuthContext: 'c1',
} as const;

const ANN_DENIES = {
  approver: 'ann@contoso.com',
  decision: 'deny',
  comment: 'Use the self-service move instead',
  at: '2030-01-06T09:05:00.000Z',
  stage: 0,
} as const;

/** A second stage's group: security signs off after the mailbox owners. */
const SECURITY = 'security-approvers';

/** Two stages (AND): the first approved by ann, the second open, waiting for security. */
const STAGED = {
  ...PENDING,
  requiredApprovals: 2,
  approvals: [ANN_APPROVES],
  stages: [
    stageOf('approved', [ANN_APPROVES]),
    { approverGroup: SECURITY, requiredApprovals: 1, status: 'open', approvals: [] },
  ],
  currentStage: 1,
  startAt: '2030-01-06T18:00:00.000Z',
  maxUses: 1,
} as const;

const EXTENSION_ASKED = {
  id: '1',
  hours: 2,
  reason: 'The move is still copying; INC-1',
  status: 'pending',
  approvals: [],
  createdAt: '2030-01-06T11:30:00.000Z',
  pendingUntil: '2030-01-06T12:05:00.000Z',
  decidedAt: null,
} as const;

/** The live grant with an extension waiting for ann's group; access runs on until `expiresAt`. */
const EXTENSION_PENDING = {
  ...APPROVED,
  extensions: [{ ...EXTENSION_ASKED, stages: [stageOf('open', [])], currentStage: 0 }],
} as const;

const BOSS_APPROVES = {
  approver: 'boss@contoso.com',
  decision: 'approve',
  comment: null,
  at: '2030-01-06T11:40:00.000Z',
  stage: 0,
} as const;

/** The extension approved: `expiresAt` moved two hours later. */
const EXTENDED = {
  ...APPROVED,
  expiresAt: '2030-01-06T14:05:00.000Z',
  extensions: [
    {
      ...EXTENSION_ASKED,
      status: 'approved',
      approvals: [BOSS_APPROVES],
      decidedAt: '2030-01-06T11:40:00.000Z',
      stages: [stageOf('approved', [BOSS_APPROVES])],
      currentStage: null,
    },
  ],
} as const;

/** An example tenant and object ids, shaped as the directory gives them. */
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const SVC_ID = `${TENANT}:9e8d7c6b-5a49-4382-a716-253443526170`;

export const Examples = {
  health: { status: 'ok', version: '0.1.0' },

  approverGroupBody: {
    members: ['boss@contoso.com', 'ann@contoso.com'],
    description: 'Exchange Online administrators who approve mailbox moves',
  },
  approverGroup: {
    name: GROUP,
    description: 'Exchange Online administrators who approve mailbox moves',
    members: ['boss@contoso.com', 'ann@contoso.com'],
    identities: [
      { upn: 'boss@contoso.com', id: `${TENANT}:0b6f2c1e-5d4a-4e3b-9c8d-7a6f5e4d3c2b` },
      { upn: 'ann@contoso.com', id: `${TENANT}:4c3d2e1f-0a9b-4c8d-8e7f-6a5b4c3d2e1f` },
    ],
  },

  enablePamBody: {
    defaultApproverGroup: 'default-approvers',
    systemAccounts: ['svc-automation@contoso.com'],
  },
  pamConfig: {
    enabled: true,
    defaultApproverGroup: 'default-approvers',
    systemAccounts: ['svc-automation@contoso.com'],
    systemAccountIdentities: [{ upn: 'svc-automation@contoso.com', id: SVC_ID }],
    updatedAt: '2030-01-06T08:00:00.000Z',
    updatedBy: 'admin@contoso.com',
  },
  pamConfigDisabled: {
    enabled: false,
    defaultApproverGroup: 'default-approvers',
    systemAccounts: ['svc-automation@contoso.com'],
    systemAccountIdentities: [{ upn: 'svc-automation@contoso.com', id: SVC_ID }],
    updatedAt: '2030-01-06T18:00:00.000Z',
    updatedBy: 'admin@contoso.com',
  },

  task: {
    name: TASK,
    description: 'Move a mailbox',
    executor: { type: 'webhook', url: 'https://automation.contoso.com/webhooks/move-mailbox' },
    parameters: [
      {
        name: 'mailbox',
        type: 'string',
        required: true,
        pattern: '[a-z0-9.-]+@contoso\\.com',
        maxLength: 256,
      },
      { name: 'targetDatabase', type: 'string', required: false },
    ],
  },
  taskSummary: {
    name: TASK,
    description: 'Move a mailbox',
    parameters: [
      {
        name: 'mailbox',
        type: 'string',
        required: true,
        pattern: '[a-z0-9.-]+@contoso\\.com',
        maxLength: 256,
      },
      { name: 'targetDatabase', type: 'string', required: false },
    ],
  },
  role: { name: 'Exchange Recipient Admin', tasks: [TASK, 'Exchange\\Set-Mailbox'] },
  roleGroup: { name: 'Exchange Operators', roles: ['Exchange Recipient Admin'] },

  policyBody: {
    scope: 'task',
    target: TASK,
    approvalType: 'manual',
    approverGroup: GROUP,
    requiredApprovals: 1,
    maxDurationHours: 8,
    pendingTimeoutHours: 24,
    maxExtensions: 1,
  },
  policy: {
    id: POLICY_ID,
    scope: 'task',
    target: TASK,
    approvalType: 'manual',
    approverGroup: GROUP,
    requiredApprovals: 1,
    maxDurationHours: 8,
    pendingTimeoutHours: 24,
    maxStartDelayHours: 168,
    maxExtensions: 1,
    breakGlassMaxHours: 1,
  },
  stagedPolicyBody: {
    scope: 'task',
    target: TASK,
    approvalType: 'manual',
    stages: [
      { approverGroup: GROUP, requiredApprovals: 1 },
      { approverGroup: SECURITY, requiredApprovals: 1 },
    ],
    maxDurationHours: 8,
    maxUses: 1,
    maxStartDelayHours: 24,
  },

  submitRequestBody: {
    task: TASK,
    reason: 'Migrate mailbox',
    ticket: 'INC-1',
    durationHours: 3,
    parameters: { mailbox: 'alice@contoso.com' },
  },
  submitScheduled: {
    task: TASK,
    reason: 'Migrate mailbox after hours',
    ticket: 'INC-1',
    durationHours: 3,
    parameters: { mailbox: 'alice@contoso.com' },
    startAt: '2030-01-06T19:00:00+01:00',
  },
  submitFromServiceNow: {
    task: TASK,
    reason: 'ServiceNow INC0010042: move the mailbox of a user who changed departments',
    ticket: 'INC0010042',
    clientRequestId: 'INC0010042',
  },
  pendingRequest: PENDING,
  approvedRequest: APPROVED,
  reviewedRequest: REVIEWED,
  deniedRequest: {
    ...PENDING,
    status: 'denied',
    approvals: [ANN_DENIES],
    stages: [stageOf('denied', [ANN_DENIES])],
    currentStage: null,
    decidedAt: '2030-01-06T09:05:00.000Z',
    endedAt: '2030-01-06T09:05:00.000Z',
  },
  canceledRequest: {
    ...PENDING,
    status: 'canceled',
    stages: [stageOf('waiting', [])],
    currentStage: null,
    endedAt: '2030-01-06T09:02:00.000Z',
    endedBy: 'alice@contoso.com',
  },
  stagedRequest: STAGED,
  extensionPendingRequest: EXTENSION_PENDING,
  extendedRequest: EXTENDED,
  extendBody: { hours: 2, reason: 'The move is still copying; INC-1' },
  revokedRequest: {
    ...APPROVED,
    status: 'revoked',
    endedAt: '2030-01-06T10:00:00.000Z',
    endedBy: 'ann@contoso.com',
    endReason: 'done',
  },
  approveBody: { comment: 'ok' },
  denyBody: { comment: 'Use the self-service move instead' },
  revokeBody: { comment: 'done' },

  executeBody: { task: TASK, parameters: { mailbox: 'alice@contoso.com' }, requestId: REQUEST_ID },
  executionResult: {
    executionId: EXECUTION_ID,
    requestId: REQUEST_ID,
    task: TASK,
    status: 'succeeded',
    result: { ok: true, ran: TASK },
    executedAt: '2030-01-06T09:06:00.000Z',
  },

  decisionForm: { decision: 'approve', comment: 'ok' },

  auditRecord: {
    v: 1,
    id: 'f3b0c44298fc1c14',
    chain: 0,
    sequence: 42,
    at: '2030-01-06T09:06:00.000Z',
    action: 'execution.succeeded',
    outcome: 'success',
    actorKind: 'user',
    actorId: '72f988bf-86f1-41af-91ab-2d7cd011db47:1b2c3d4e-5f60-4718-293a-4b5c6d7e8f90',
    actorUpn: 'alice@contoso.com',
    actorRoles: '[]',
    tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
    requestId: REQUEST_ID,
    task: TASK,
    correlationId: '0f8fad5b-d9cb-469f-a165-70867728950e',
    prevHash: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
    hash: '60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752',
  },
  auditVerification: { ok: true, checked: 42, chains: 1, anchors: 0 },
  auditAnchor: {
    anchoredAt: '2030-01-06T10:05:00.000Z',
    blob: 'anchors/2030/01/06.jsonl',
    heads: [
      {
        chain: 0,
        sequence: 42,
        hash: '60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752',
        at: '2030-01-06T09:06:00.000Z',
      },
    ],
  },

  insights: {
    from: '2030-01-05T00:00:00.000Z',
    to: '2030-01-07T00:00:00.000Z',
    events: 57,
    requests: {
      total: { approved: 6, denied: 1, canceled: 0, expired: 1, failed: 0, pending: 1, refused: 1 },
      perDay: [
        {
          day: '2030-01-05',
          approved: 2,
          denied: 1,
          canceled: 0,
          expired: 1,
          failed: 0,
          pending: 0,
          refused: 0,
        },
        {
          day: '2030-01-06',
          approved: 4,
          denied: 0,
          canceled: 0,
          expired: 0,
          failed: 0,
          pending: 1,
          refused: 1,
        },
      ],
    },
    timeToDecision: { count: 5, medianSeconds: 840, p95Seconds: 3600 },
    timeToFirstUse: { count: 4, medianSeconds: 120, p95Seconds: 900 },
    topTasks: [{ task: TASK, kind: 'task', requests: 9 }],
    topRequesters: [
      { id: `${TENANT}:1b2c3d4e-5f60-4718-293a-4b5c6d7e8f90`, upn: 'alice@contoso.com', requests: 9 },
    ],
    emergency: { uses: 1, justified: 1, unjustified: 0, open: 0 },
    executions: {
      succeeded: 11,
      failed: 1,
      refused: 2,
      latestFailures: [
        {
          at: '2030-01-06T09:06:00.000Z',
          requestId: REQUEST_ID,
          task: TASK,
          reason: 'executor answered 500',
        },
      ],
    },
    approvers: [
      { id: SVC_ID.replace('9e8d7c6b', '4a3b2c1d'), upn: 'boss@contoso.com', approvals: 5, denials: 1 },
    ],
  },
} as const;

/** Ids the examples share, for path parameters. */
export const ExampleIds = { requestId: REQUEST_ID, policyId: POLICY_ID, group: GROUP, task: TASK } as const;
