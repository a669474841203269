/**
 * The HTTP contract, version 1 (docs/design.md §5): every operation declared once, with the zod schemas
 * its handler validates with and answers in. The OpenAPI document, the Power Automate connector
 * and the contract test are all derived from this list; a route that is registered but missing
 * here, or declared here but not served, fails the contract test.
 */
import { z } from 'zod';
import { CONTENT_TYPES, ExportFormat } from '#shared/audit/format';
import { AuditExportQuery, AuditPageQuery, AuditVerifyQuery } from '#shared/audit/queries';
import type { AuditPage as AuditPageOf } from '#shared/audit/log';
import * as catalog from '#shared/domain/catalog';
import { InsightsQuery, InsightsView } from '#shared/insights/schemas';
import { EmptyBody } from '#shared/domain/empty';
import * as extensions from '#shared/domain/extensions';
import * as pam from '#shared/domain/pam';
import * as policy from '#shared/domain/policy';
import * as request from '#shared/domain/request';
import { ReviewBody } from '#shared/domain/emergency';
import { DecisionForm, DecisionTokenPath } from '#shared/notifications/decision-form';
import { MeView } from '#shared/requests/me';
import { PolicyPreview, PolicyPreviewQuery } from '#shared/requests/preview';
import { ListReviewsQuery } from '#shared/requests/reviews';
import {
  MAX_ITEMS,
  RETRY_AFTER_SECONDS,
  SETTLE_LAG_MS,
  TriggerQuery,
  type TriggerKind,
} from '#shared/requests/triggers';
import { Examples, ExampleIds } from './examples';
import type { ProblemCode } from './problems';
import {
  ApproverGroupPath,
  AuditAnchor,
  AuditRecord,
  AuditVerification,
  ExecutionResult,
  ExtensionPath,
  Health,
  type Holds,
  listOf,
  pageOf,
  PolicyPath,
  RequestPath,
  type Same,
  TaskSummary,
} from './schemas';

/** Who may call an operation, as far as the token says; finer rules (`who`) come from the data. */
export const Access = {
  /** No token. */
  anyone: 'anyone',
  /** Any signed-in user. */
  user: 'user',
  /** App role PAM.Admin or PAM.Auditor. */
  reader: 'reader',
  /** App role PAM.Admin. */
  admin: 'admin',
  /** No token: the single-use token in the emailed link is the credential. */
  linkHolder: 'linkHolder',
} as const;
export type Access = (typeof Access)[keyof typeof Access];

export const Tag = {
  service: 'Service',
  pam: 'Privileged access',
  approverGroups: 'Approver groups',
  catalog: 'Catalog',
  policies: 'Policies',
  requests: 'Requests',
  execution: 'Execution',
  decisions: 'Email decisions',
  audit: 'Audit',
  triggers: 'Triggers',
} as const;
export type Tag = (typeof Tag)[keyof typeof Tag];

/** How prominent a Power Automate action or field is (`x-ms-visibility`). */
export const Visibility = { important: 'important', advanced: 'advanced', internal: 'internal' } as const;
export type Visibility = (typeof Visibility)[keyof typeof Visibility];

export interface Example {
  readonly summary: string;
  readonly value: unknown;
  /** Shared by several operations: defined once under `components.examples` by this name. */
  readonly shared?: string;
}

export interface Content {
  readonly schema: z.ZodType;
  /** Default `application/json`. */
  readonly mediaType?: string;
  readonly examples?: Readonly<Record<string, Example>>;
}

export interface Success {
  readonly status: 200 | 201 | 202 | 204 | 304;
  readonly description: string;
  /** Absent for 204 and for answers whose body is not described. */
  readonly content?: readonly Content[];
  readonly location?: string;
  /** A `Retry-After` header (seconds) this answer always carries, described. */
  readonly retryAfter?: string;
}

export interface ConnectorField {
  /** `x-ms-summary`: the label Power Automate shows. */
  readonly summary: string;
  readonly visibility?: Visibility;
  /** Offer a drop-down filled by another operation (`x-ms-dynamic-values`). */
  readonly dynamicValues?: {
    readonly operationId: string;
    readonly collection: string;
    readonly valuePath: string;
  };
}

/** How an operation appears in the Power Automate connector; operations without it are left out. */
export interface ConnectorOperation {
  readonly visibility?: Visibility;
  /** Labels of the operation's path, query and body fields, by name. */
  readonly fields: Readonly<Record<string, ConnectorField>>;
  /**
   * A polling trigger (`x-ms-trigger: batch`): every item of a 200 answer starts one run; `hint`
   * (`x-ms-trigger-hint`) tells the maker how to make it fire.
   */
  readonly trigger?: { readonly hint: string };
}

export interface Operation {
  /** PascalCase, stable: Power Automate flows and generated clients refer to it. */
  readonly operationId: string;
  readonly method: 'get' | 'post' | 'put' | 'delete';
  /** Full path with the route prefix, parameters in braces: `/api/requests/{id}`. */
  readonly path: string;
  readonly tag: Tag;
  /** One line, no final period (Power Automate shows it as the action's title). */
  readonly summary: string;
  readonly description: string;
  readonly access: Access;
  /** Who, beyond the app role, when the data decides (requester, approvers). */
  readonly who?: string;
  readonly params?: z.ZodObject;
  readonly query?: z.ZodObject;
  readonly body?: Content & { readonly required: boolean };
  readonly responses: readonly Success[];
  /** Problems specific to this operation; authentication, parsing and 5xx ones are added by kind. */
  readonly problems: readonly ProblemCode[];
  readonly connector?: ConnectorOperation;
}

const json = (schema: z.ZodType, examples?: Record<string, Example>): Content =>
  examples === undefined ? { schema } : { schema, examples };

/** The answers of an upsert (`PUT`): 201 when it created the entry, 200 when it replaced it. */
const upserted = (created: Content, replaced: Content = created): Success[] => [
  { status: 201, description: 'Created.', content: [created] },
  { status: 200, description: 'Replaced.', content: [replaced] },
];

// The domain's schemas, named so the document defines each once (`.meta` returns a copy that
// validates exactly as the original does).
const Task = catalog.Task.meta({
  id: 'Task',
  description: 'A task: what it runs and the parameters it takes.',
});
const Role = catalog.Role.meta({ id: 'Role', description: 'A named set of tasks.' });
const RoleGroup = catalog.RoleGroup.meta({ id: 'RoleGroup', description: 'A named set of roles.' });
const ApproverGroup = pam.ApproverGroupView.meta({
  id: 'ApproverGroup',
  description:
    'Who may decide on requests: `members` as UPNs, and `identities`, the directory object (`<tenant id>:<object id>`) each was resolved to when saved, which is what decides. `id: null` marks a member saved before members were resolved, waiting for the directory migration; it may not decide until then.',
});
const ApproverGroupBody = pam.ApproverGroupBody.meta({ id: 'ApproverGroupBody' });
const EnablePamBody = pam.EnablePamBody.meta({ id: 'EnablePamBody' });
const PamConfig = pam.PamView.meta({
  id: 'PamConfig',
  description:
    'The privileged access configuration. `systemAccountIdentities` gives the directory object each system account was resolved to; that key, never the name in a token, makes a caller a system account.',
});
const POLICY_FIELDS =
  '`stages` (1 to 5, approved in order, each `{approverGroup, requiredApprovals}`) replaces `approverGroup`/`requiredApprovals` for approval by several groups in turn (AND); `maxUses` (1–1000) ends the grant after that many successful executions; `maxStartDelayHours` (default 168) bounds how far ahead a request may schedule its start; `maxExtensions` (0–10, default 0) is how many extensions a grant may be asked for.';
const Policy = policy.Policy.meta({ id: 'Policy', description: `An access policy. ${POLICY_FIELDS}` });
const PolicyBody = policy.PolicyBody.meta({
  id: 'PolicyBody',
  description: `An access policy without its id. ${POLICY_FIELDS}`,
});
const RequestView = request.RequestView.meta({
  id: 'RequestView',
  description:
    "A request as callers see it: who asked for what, its state, approvals, grant window and executions. `stages` shows every approval stage with its status and approvals (a single-group policy shows as one stage), `currentStage` the one deciding now (null once decided); `uses`/`maxUses` count a counted grant's successful executions (`maxUses` null: unlimited); `startAt` is the scheduled start asked for (the grant runs from `grantedAt` to `expiresAt`); `extensions` lists the extensions asked for, each decided like the request; `endReason` says why it ended early (a revoke's comment, `uses exhausted`, or a fault).",
});
const SubmitRequestBody = request.SubmitRequestBody.meta({
  id: 'SubmitRequestBody',
  description:
    "Exactly one of `task`, `role` or `roleGroup`. `startAt` (an ISO 8601 instant, any offset) schedules the grant's start, at most the policy's `maxStartDelayHours` ahead.",
});
const ExtendBody = extensions.ExtendBody.meta({
  id: 'ExtendBody',
  description: "How many more hours (at most the policy's `maxDurationHours`) and why.",
});
const DecisionBody = request.DecisionBody.meta({ id: 'CommentBody', description: 'An optional comment.' });
const RevokeBody = DecisionBody;
const ExecuteBody = request.ExecuteBody.meta({
  id: 'ExecuteBody',
  description: 'The task to run, its parameters, and optionally the grant to run it under.',
});
const ListRequestsQuery = request.ListRequestsQuery;

// Components named once, reused by several operations.
const ApproverGroupList = listOf(ApproverGroup, 'ApproverGroupList', 'Every approver group.');
const TaskList = listOf(z.union([Task, TaskSummary]), 'TaskList', 'Every task (summaries for non-admins).');
const RoleList = listOf(Role, 'RoleList', 'Every role.');
const RoleGroupList = listOf(RoleGroup, 'RoleGroupList', 'Every role group.');
const PolicyList = listOf(Policy, 'PolicyList', 'Every access policy.');
const RequestPage = pageOf(RequestView, 'RequestPage', 'One page of requests the caller may see.');
const AuditPage = pageOf(AuditRecord, 'AuditPage', 'One page of audit events, in time order.');
export type AuditPageMatches = Holds<Same<z.output<typeof AuditPage>, AuditPageOf>>;
const Html = z.string().meta({ description: 'An HTML page.' });

const REQUEST_EXAMPLES = {
  pending: { summary: 'A pending request', value: Examples.pendingRequest, shared: 'request-pending' },
  approved: {
    summary: 'An approved request with one execution',
    value: Examples.approvedRequest,
    shared: 'request-approved',
  },
  denied: { summary: 'A denied request', value: Examples.deniedRequest, shared: 'request-denied' },
  canceled: { summary: 'A canceled request', value: Examples.canceledRequest, shared: 'request-canceled' },
  revoked: { summary: 'A revoked grant', value: Examples.revokedRequest, shared: 'request-revoked' },
  staged: {
    summary: 'Two stages: the first approved, the second deciding now',
    value: Examples.stagedRequest,
    shared: 'request-staged',
  },
  extensionPending: {
    summary: 'A live grant with an extension waiting for a decision',
    value: Examples.extensionPendingRequest,
    shared: 'request-extension-pending',
  },
  extended: {
    summary: 'A grant extended: the extension approved, `expiresAt` moved later',
    value: Examples.extendedRequest,
    shared: 'request-extended',
  },
  reviewed: {
    summary: 'An emergency use, its review closed as justified',
    value: Examples.reviewedRequest,
    shared: 'request-reviewed',
  },
} as const satisfies Record<string, Example>;

/** A 200 answering the request view, with some of the request examples. */
function requestAnswer(description: string, ...examples: (keyof typeof REQUEST_EXAMPLES)[]): Success {
  return {
    status: 200,
    description,
    content: [json(RequestView, Object.fromEntries(examples.map((e) => [e, REQUEST_EXAMPLES[e]])))],
  };
}

const idField: ConnectorField = { summary: 'Request ID' };
const extensionIdField: ConnectorField = { summary: 'Extension Number' };
const commentField: ConnectorField = { summary: 'Comment' };

/** What creating and replacing a policy send, and what every policy answer holds. */
const policyBody = {
  required: true,
  ...json(PolicyBody, {
    manual: { summary: 'One approval, at most 8 hours, one extension', value: Examples.policyBody },
    stages: {
      summary: 'Two stages (mailbox owners, then security), one use, start within a day',
      value: Examples.stagedPolicyBody,
    },
  }),
};
const policyContent = json(Policy, { policy: { summary: 'The policy', value: Examples.policy } });

// --- Polling triggers ----------------------------------------------------------------------------

const TriggerItems = listOf(
  RequestView,
  'TriggerItems',
  'What happened since the last poll, oldest first: each item starts one run of the flow.',
);

interface TriggerSpec {
  readonly operationId: string;
  readonly kind: TriggerKind;
  readonly summary: string;
  readonly description: string;
  readonly access: Access;
  readonly hint: string;
  readonly example: Example;
}

const TRIGGERS: readonly TriggerSpec[] = [
  {
    operationId: 'WhenRequestAwaitsMyApproval',
    kind: 'approvals',
    summary: 'When a request awaits my approval',
    description:
      "Fires once for each request, or extension of a grant, that became the caller's to decide: submitted to one of their approver groups, or the stage before theirs approved. It answers only what is still waiting for them when the poll runs, never their own requests.",
    access: Access.user,
    hint: 'To see it work now, submit a request that your approver group decides.',
    example: REQUEST_EXAMPLES.pending,
  },
  {
    operationId: 'WhenMyRequestIsDecided',
    kind: 'decisions',
    summary: 'When my request is decided',
    description:
      "Fires once for each of the caller's own requests when it is approved (including automatically), denied, or expires without a decision. `status` says which; a canceled request does not fire.",
    access: Access.user,
    hint: 'To see it work now, submit a request and have an approver decide it.',
    example: REQUEST_EXAMPLES.denied,
  },
  {
    operationId: 'WhenEmergencyAccessIsUsed',
    kind: 'emergencies',
    summary: 'When an emergency access is used',
    description:
      "Fires once for each emergency (break-glass) request, when it is granted: every requester's, so only admins and auditors may use it. Open a ticket, page the on-call team, or start the post-incident review from it.",
    access: Access.reader,
    hint: 'To see it work now, use emergency access to a task whose policy names a break-glass group.',
    example: { summary: 'An emergency use', value: Examples.reviewedRequest },
  },
];

const TRIGGER_RETRY_AFTER = `Seconds to wait before the next poll: ${RETRY_AFTER_SECONDS}, or 0 when a 200 holds only the first ${MAX_ITEMS} of what is new.`;
const TRIGGER_LOCATION =
  'The URL to poll next: this operation with the cursor that says where this answer stopped. Poll it as given; the cursor is signed and bound to the caller.';

function triggerOperation(t: TriggerSpec): Operation {
  return {
    operationId: t.operationId,
    method: 'get',
    path: `/api/triggers/${t.kind}`,
    tag: Tag.triggers,
    summary: t.summary,
    description: `${t.description} A polling trigger: the first poll (no \`cursor\`) answers 202 and a cursor of now, so a new flow starts without history; later polls answer 202 while nothing is new and 200 with the new items otherwise, each with \`Location\` (poll it next) and \`Retry-After\`. An event is answered about ${SETTLE_LAG_MS / 60_000} minutes after it happened, so none written during a poll is skipped; a cursor polled again answers the same items.`,
    access: t.access,
    query: TriggerQuery,
    responses: [
      {
        status: 200,
        description: 'Something new: the items, and where to poll next.',
        content: [
          json(TriggerItems, { items: { summary: t.example.summary, value: { items: [t.example.value] } } }),
        ],
        location: TRIGGER_LOCATION,
        retryAfter: TRIGGER_RETRY_AFTER,
      },
      {
        status: 202,
        description: 'Nothing new yet (and the first poll): poll `Location` after `Retry-After` seconds.',
        location: TRIGGER_LOCATION,
        retryAfter: TRIGGER_RETRY_AFTER,
      },
    ],
    problems: [],
    connector: {
      // Every connector operation says how prominent it is (the connector guidance check asks it).
      visibility: Visibility.important,
      fields: { cursor: { summary: 'Cursor', visibility: Visibility.internal } },
      trigger: { hint: t.hint },
    },
  };
}

export const OPERATIONS: readonly Operation[] = [
  // --- Service ------------------------------------------------------------------------------------
  {
    operationId: 'GetHealth',
    method: 'get',
    path: '/api/health',
    tag: Tag.service,
    summary: 'Check that the service is up',
    description: 'Liveness for load balancers and people: no storage is touched and nothing secret is shown.',
    access: Access.anyone,
    responses: [
      {
        status: 200,
        description: 'The service answers.',
        content: [json(Health, { ok: { summary: 'Up', value: Examples.health } })],
      },
    ],
    problems: [],
  },
  {
    operationId: 'GetOpenApiDocument',
    method: 'get',
    path: '/api/openapi.json',
    tag: Tag.service,
    summary: 'Get this OpenAPI document',
    description:
      'The machine-readable contract (OpenAPI 3.1), generated from the schemas that validate every request. `npm run build` writes the same bytes to `dist/openapi.json`.',
    access: Access.anyone,
    responses: [
      {
        status: 200,
        description: 'The OpenAPI 3.1 document.',
        content: [{ schema: z.looseObject({ openapi: z.string() }) }],
      },
      { status: 304, description: 'Unchanged since the `ETag` sent in `If-None-Match`.' },
    ],
    problems: [],
  },

  {
    operationId: 'GetMe',
    method: 'get',
    path: '/api/me',
    tag: Tag.service,
    summary: 'Get who I am',
    description:
      'The signed-in caller as ZSA decides their rights: the stable id (`<tenant id>:<object id>`) every right is keyed on, the app roles, the approver groups that list them and whether they are a system account (both by that id, never by name), and what the sign-in proves (`strength`). The portal builds its navigation from it.',
    access: Access.user,
    responses: [
      {
        status: 200,
        description: 'The caller.',
        content: [
          json(MeView, {
            approver: {
              summary: 'An approver signed in with MFA',
              value: {
                id: '72f988bf-86f1-41af-91ab-2d7cd011db47:0b9c3f2a-6d1e-4a7b-8c5d-2e4f6a8b0c1d',
                upn: 'ann@contoso.com',
                name: 'Ann Lee',
                roles: [],
                approverGroups: [ExampleIds.group],
                systemAccount: false,
                strength: { acrs: [], amr: ['pwd', 'mfa'] },
              },
            },
            admin: {
              summary: 'An admin',
              value: {
                id: '72f988bf-86f1-41af-91ab-2d7cd011db47:9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b',
                upn: 'admin@contoso.com',
                roles: ['PAM.Admin'],
                approverGroups: [],
                systemAccount: false,
              },
            },
          }),
        ],
      },
    ],
    problems: [],
  },

  // --- Privileged access ---------------------------------------------------------------------------
  {
    operationId: 'GetPamConfig',
    method: 'get',
    path: '/api/pam',
    tag: Tag.pam,
    summary: 'Get the privileged access configuration',
    description: 'Whether privileged access is enabled, the default approver group and the system accounts.',
    access: Access.reader,
    responses: [
      {
        status: 200,
        description: 'The configuration.',
        content: [json(PamConfig, { enabled: { summary: 'Enabled', value: Examples.pamConfig } })],
      },
    ],
    problems: [],
  },
  {
    operationId: 'EnablePam',
    method: 'post',
    path: '/api/pam/enable',
    tag: Tag.pam,
    summary: 'Enable privileged access',
    description:
      'Turns privileged access on with a default approver group (which must exist) and the system accounts that run tasks without a request.',
    access: Access.admin,
    body: {
      required: true,
      ...json(EnablePamBody, { enable: { summary: 'With a system account', value: Examples.enablePamBody } }),
    },
    responses: [
      {
        status: 200,
        description: 'The new configuration.',
        content: [json(PamConfig, { enabled: { summary: 'Enabled', value: Examples.pamConfig } })],
      },
    ],
    problems: [],
  },
  {
    operationId: 'DisablePam',
    method: 'post',
    path: '/api/pam/disable',
    tag: Tag.pam,
    summary: 'Disable privileged access',
    description:
      'Turns privileged access off: no request may be submitted. Policies, groups, the default group and system accounts are kept.',
    access: Access.admin,
    body: { required: false, ...json(EmptyBody) },
    responses: [
      {
        status: 200,
        description: 'The new configuration.',
        content: [json(PamConfig, { disabled: { summary: 'Disabled', value: Examples.pamConfigDisabled } })],
      },
    ],
    problems: [],
  },

  // --- Approver groups -----------------------------------------------------------------------------
  {
    operationId: 'ListApproverGroups',
    method: 'get',
    path: '/api/approver-groups',
    tag: Tag.approverGroups,
    summary: 'List approver groups',
    description: 'Every approver group with its members.',
    access: Access.reader,
    responses: [
      {
        status: 200,
        description: 'The groups.',
        content: [
          json(ApproverGroupList, {
            one: { summary: 'One group', value: { items: [Examples.approverGroup] } },
          }),
        ],
      },
    ],
    problems: [],
  },
  {
    operationId: 'GetApproverGroup',
    method: 'get',
    path: '/api/approver-groups/{name}',
    tag: Tag.approverGroups,
    summary: 'Get an approver group',
    description: 'One approver group with its members.',
    access: Access.reader,
    params: ApproverGroupPath,
    responses: [
      {
        status: 200,
        description: 'The group.',
        content: [json(ApproverGroup, { group: { summary: 'A group', value: Examples.approverGroup } })],
      },
    ],
    problems: ['NOT_FOUND'],
  },
  {
    operationId: 'PutApproverGroup',
    method: 'put',
    path: '/api/approver-groups/{name}',
    tag: Tag.approverGroups,
    summary: 'Create or replace an approver group',
    description:
      'Creates the group (201) or replaces its members and description (200). Names are letters, digits and `-_.@`; members are UPNs, lower-cased.',
    access: Access.admin,
    params: ApproverGroupPath,
    body: {
      required: true,
      ...json(ApproverGroupBody, { group: { summary: 'Two approvers', value: Examples.approverGroupBody } }),
    },
    responses: [
      {
        status: 201,
        description: 'Created.',
        location: 'The group: `/api/approver-groups/{name}`.',
        content: [
          json(ApproverGroup, { group: { summary: 'The new group', value: Examples.approverGroup } }),
        ],
      },
      {
        status: 200,
        description: 'Replaced.',
        content: [json(ApproverGroup, { group: { summary: 'The group', value: Examples.approverGroup } })],
      },
    ],
    problems: [],
  },
  {
    operationId: 'DeleteApproverGroup',
    method: 'delete',
    path: '/api/approver-groups/{name}',
    tag: Tag.approverGroups,
    summary: 'Delete an approver group',
    description: 'Refused (409) while it is the default approver group or a policy names it.',
    access: Access.admin,
    params: ApproverGroupPath,
    responses: [{ status: 204, description: 'Deleted.' }],
    problems: ['NOT_FOUND', 'CONFLICT'],
  },

  // --- Catalog -------------------------------------------------------------------------------------
  {
    operationId: 'ListTasks',
    method: 'get',
    path: '/api/catalog/tasks',
    tag: Tag.catalog,
    summary: 'List tasks',
    description:
      'Every task, or one with `?name=` (names carry characters such as `\\`, so they travel in the query, never in the path). Admins and auditors see executors; other users see summaries without them.',
    access: Access.user,
    query: catalog.CatalogGetQuery,
    responses: [
      {
        status: 200,
        description: 'The tasks (`{items}`), or the one named.',
        content: [
          json(z.union([TaskList, Task, TaskSummary]), {
            list: { summary: 'The list, as a user sees it', value: { items: [Examples.taskSummary] } },
            one: { summary: 'One task, as an admin sees it', value: Examples.task },
          }),
        ],
      },
    ],
    problems: ['NOT_FOUND'],
    connector: {
      visibility: Visibility.internal,
      fields: { name: { summary: 'Task Name', visibility: Visibility.advanced } },
    },
  },
  {
    operationId: 'PutTask',
    method: 'put',
    path: '/api/catalog/tasks',
    tag: Tag.catalog,
    summary: 'Create or replace a task',
    description:
      "Upserts a task by name with its executor (a webhook on an allowed host, or a Service Bus queue) and the description of its parameters, against which every request's and execution's parameters are checked.",
    access: Access.admin,
    body: { required: true, ...json(Task, { webhook: { summary: 'A webhook task', value: Examples.task } }) },
    responses: upserted(json(Task, { task: { summary: 'The task', value: Examples.task } })),
    problems: [],
  },
  {
    operationId: 'DeleteTask',
    method: 'delete',
    path: '/api/catalog/tasks',
    tag: Tag.catalog,
    summary: 'Delete a task',
    description: 'Removes the task named by `?name=`; refused (409) while a policy or a role uses it.',
    access: Access.admin,
    query: catalog.CatalogDeleteQuery,
    responses: [{ status: 204, description: 'Deleted.' }],
    problems: ['NOT_FOUND', 'CONFLICT'],
  },
  {
    operationId: 'ListRoles',
    method: 'get',
    path: '/api/catalog/roles',
    tag: Tag.catalog,
    summary: 'List roles',
    description: 'Every role (a named set of tasks), or one with `?name=`.',
    access: Access.user,
    query: catalog.CatalogGetQuery,
    responses: [
      {
        status: 200,
        description: 'The roles (`{items}`), or the one named.',
        content: [
          json(z.union([RoleList, Role]), {
            list: { summary: 'The list', value: { items: [Examples.role] } },
            one: { summary: 'One role', value: Examples.role },
          }),
        ],
      },
    ],
    problems: ['NOT_FOUND'],
  },
  {
    operationId: 'PutRole',
    method: 'put',
    path: '/api/catalog/roles',
    tag: Tag.catalog,
    summary: 'Create or replace a role',
    description: 'Upserts a role by name; every task it lists must exist.',
    access: Access.admin,
    body: { required: true, ...json(Role, { role: { summary: 'Two tasks', value: Examples.role } }) },
    responses: upserted(json(Role, { role: { summary: 'The role', value: Examples.role } })),
    problems: [],
  },
  {
    operationId: 'DeleteRole',
    method: 'delete',
    path: '/api/catalog/roles',
    tag: Tag.catalog,
    summary: 'Delete a role',
    description: 'Removes the role named by `?name=`; refused (409) while a policy or a role group uses it.',
    access: Access.admin,
    query: catalog.CatalogDeleteQuery,
    responses: [{ status: 204, description: 'Deleted.' }],
    problems: ['NOT_FOUND', 'CONFLICT'],
  },
  {
    operationId: 'ListRoleGroups',
    method: 'get',
    path: '/api/catalog/role-groups',
    tag: Tag.catalog,
    summary: 'List role groups',
    description: 'Every role group (a named set of roles), or one with `?name=`.',
    access: Access.user,
    query: catalog.CatalogGetQuery,
    responses: [
      {
        status: 200,
        description: 'The role groups (`{items}`), or the one named.',
        content: [
          json(z.union([RoleGroupList, RoleGroup]), {
            list: { summary: 'The list', value: { items: [Examples.roleGroup] } },
            one: { summary: 'One role group', value: Examples.roleGroup },
          }),
        ],
      },
    ],
    problems: ['NOT_FOUND'],
  },
  {
    operationId: 'PutRoleGroup',
    method: 'put',
    path: '/api/catalog/role-groups',
    tag: Tag.catalog,
    summary: 'Create or replace a role group',
    description: 'Upserts a role group by name; every role it lists must exist.',
    access: Access.admin,
    body: {
      required: true,
      ...json(RoleGroup, { group: { summary: 'One role', value: Examples.roleGroup } }),
    },
    responses: upserted(json(RoleGroup, { group: { summary: 'The role group', value: Examples.roleGroup } })),
    problems: [],
  },
  {
    operationId: 'DeleteRoleGroup',
    method: 'delete',
    path: '/api/catalog/role-groups',
    tag: Tag.catalog,
    summary: 'Delete a role group',
    description: 'Removes the role group named by `?name=`; refused (409) while a policy uses it.',
    access: Access.admin,
    query: catalog.CatalogDeleteQuery,
    responses: [{ status: 204, description: 'Deleted.' }],
    problems: ['NOT_FOUND', 'CONFLICT'],
  },

  // --- Policies ------------------------------------------------------------------------------------
  {
    operationId: 'CreatePolicy',
    method: 'post',
    path: '/api/policies',
    tag: Tag.policies,
    summary: 'Create an access policy',
    description:
      'A policy for one task, role or role group: manual or automatic approval, which group approves, how many approvals, the longest grant and how long a request may wait. One policy per scope and target (409 otherwise).',
    access: Access.admin,
    body: policyBody,
    responses: [
      {
        status: 201,
        description: 'Created.',
        location: 'The policy: `/api/policies/{id}`.',
        content: [policyContent],
      },
    ],
    problems: ['CONFLICT', 'NOT_FOUND', 'DURATION_TOO_SHORT'],
  },
  {
    operationId: 'ListPolicies',
    method: 'get',
    path: '/api/policies',
    tag: Tag.policies,
    summary: 'List access policies',
    description: 'Every access policy.',
    access: Access.reader,
    responses: [
      {
        status: 200,
        description: 'The policies.',
        content: [json(PolicyList, { one: { summary: 'One policy', value: { items: [Examples.policy] } } })],
      },
    ],
    problems: [],
  },
  {
    operationId: 'GetPolicy',
    method: 'get',
    path: '/api/policies/{id}',
    tag: Tag.policies,
    summary: 'Get an access policy',
    description: 'One access policy.',
    access: Access.reader,
    params: PolicyPath,
    responses: [
      {
        status: 200,
        description: 'The policy.',
        content: [policyContent],
      },
    ],
    problems: ['NOT_FOUND'],
  },
  {
    operationId: 'UpdatePolicy',
    method: 'put',
    path: '/api/policies/{id}',
    tag: Tag.policies,
    summary: 'Replace an access policy',
    description: 'Replaces the policy. Requests already submitted keep the rules they were submitted under.',
    access: Access.admin,
    params: PolicyPath,
    body: policyBody,
    responses: [
      {
        status: 200,
        description: 'The policy.',
        content: [policyContent],
      },
    ],
    problems: ['NOT_FOUND', 'CONFLICT', 'DURATION_TOO_SHORT'],
  },
  {
    operationId: 'DeletePolicy',
    method: 'delete',
    path: '/api/policies/{id}',
    tag: Tag.policies,
    summary: 'Delete an access policy',
    description: 'Removes the policy; requests already submitted are not affected.',
    access: Access.admin,
    params: PolicyPath,
    responses: [{ status: 204, description: 'Deleted.' }],
    problems: ['NOT_FOUND'],
  },

  // --- Requests ------------------------------------------------------------------------------------
  {
    operationId: 'SubmitRequest',
    method: 'post',
    path: '/api/requests',
    tag: Tag.requests,
    summary: 'Submit an access request',
    description:
      "Requests just-in-time access to exactly one task, role or role group, for `durationHours` (default 4), from now or from `startAt` (at most the policy's `maxStartDelayHours` ahead). Approvers are notified by email, stage by stage when the policy has stages; an automatic policy grants at once. With `emergency: true` (break glass), a member of the policy's `breakGlassGroup` is granted at once without approval, for at most `breakGlassMaxHours` (default 1), with a reason of at least 20 characters and no `startAt`; the approvers are told at once and one of them reviews the use afterwards (`POST /api/requests/{id}/review`). The same `clientRequestId` from the same user returns the same request (200), so callers that retry, such as Power Automate, never create two. Each user may submit at most `ZSA_SUBMIT_RATE_LIMIT` requests (default 30) per `ZSA_SUBMIT_RATE_WINDOW_SECONDS` (default 10 minutes); more are refused with 429 and `Retry-After`, except a retry with a `clientRequestId` already used, which is never counted twice or refused.",
    access: Access.user,
    body: {
      required: true,
      ...json(SubmitRequestBody, {
        task: { summary: 'A task with its exact parameters', value: Examples.submitRequestBody },
        serviceNow: { summary: 'From a ServiceNow ticket, idempotent', value: Examples.submitFromServiceNow },
        scheduled: { summary: 'Starting at 19:00 Paris time', value: Examples.submitScheduled },
      }),
    },
    responses: [
      {
        status: 202,
        description: 'Submitted: the request view (pending, or approved at once by an automatic policy).',
        location: 'The request: `/api/requests/{id}`.',
        content: [json(RequestView, { pending: REQUEST_EXAMPLES.pending, staged: REQUEST_EXAMPLES.staged })],
      },
      requestAnswer(
        'Already submitted with this `clientRequestId`: the same request, as it is now.',
        'pending',
      ),
    ],
    problems: [
      'NO_POLICY',
      'DURATION_TOO_LONG',
      'DURATION_TOO_SHORT',
      'INVALID_PARAMETERS',
      'INVALID_START',
      'NOT_FOUND',
      'PAM_DISABLED',
      'NO_APPROVER_GROUP',
      'APPROVER_GROUPS_CONFLICT',
      'CONFLICT',
      'RATE_LIMITED',
      'BREAK_GLASS_NOT_ALLOWED',
      'NOT_BREAK_GLASS_MEMBER',
    ],
    connector: {
      visibility: Visibility.important,
      fields: {
        task: {
          summary: 'Task',
          visibility: Visibility.important,
          dynamicValues: { operationId: 'ListTasks', collection: 'items', valuePath: 'name' },
        },
        role: { summary: 'Role', visibility: Visibility.advanced },
        roleGroup: { summary: 'Role Group', visibility: Visibility.advanced },
        reason: { summary: 'Reason', visibility: Visibility.important },
        ticket: { summary: 'Ticket', visibility: Visibility.important },
        durationHours: { summary: 'Duration (Hours)' },
        parameters: { summary: 'Task Parameters', visibility: Visibility.advanced },
        clientRequestId: { summary: 'Client Request ID (for Retries)', visibility: Visibility.important },
        startAt: { summary: 'Start At (Optional)', visibility: Visibility.advanced },
        emergency: { summary: 'Emergency Access (Break Glass)', visibility: Visibility.advanced },
      },
    },
  },
  {
    operationId: 'ListRequests',
    method: 'get',
    path: '/api/requests',
    tag: Tag.requests,
    summary: 'List access requests',
    description:
      "Requests the caller may see (their own, those they may approve; everything for admins and auditors), newest first, a page at a time. `mine=true` keeps the caller's own; `approvable=true` keeps those the caller can decide on now; `decided=true` keeps those the caller approved or denied (in any stage, or an extension of it), read from the caller's approver groups (not with `mine` or `approvable`).",
    access: Access.user,
    query: ListRequestsQuery,
    responses: [
      {
        status: 200,
        description: 'One page.',
        content: [
          json(RequestPage, {
            page: { summary: 'One pending request', value: { items: [Examples.pendingRequest] } },
          }),
        ],
      },
    ],
    problems: [],
    connector: {
      visibility: Visibility.important,
      fields: {
        status: { summary: 'Status' },
        mine: { summary: 'Only Mine' },
        approvable: { summary: 'Only Those I Can Approve' },
        decided: { summary: 'Only Those I Decided' },
        continuationToken: { summary: 'Continuation Token', visibility: Visibility.advanced },
      },
    },
  },
  {
    operationId: 'GetPolicyPreview',
    method: 'get',
    path: '/api/policy-preview',
    tag: Tag.requests,
    summary: 'Preview what a request would do',
    description:
      "What submitting a request for the task, role or role group (exactly one of `task`, `role`, `roleGroup`) would do for the caller now, computed by the submit's own rules: automatic or manual, the approval stages, the longest and default duration, how long it may wait, uses, start delay, extensions, the emergency access the caller may ask for, the sign-in approvers must prove, and a task's parameters. It refuses as a submit would (unknown target, no policy, privileged access disabled, conflicting policies) and writes nothing. `exempt` is true for a system account, which may execute without any request.",
    access: Access.user,
    query: PolicyPreviewQuery,
    responses: [
      {
        status: 200,
        description: 'What a request would do.',
        content: [
          json(PolicyPreview, {
            manual: {
              summary: 'A task approved by one group, at most 8 hours',
              value: {
                target: { kind: 'task', name: ExampleIds.task },
                description: 'Move a mailbox',
                approval: 'manual',
                exempt: false,
                stages: [{ approverGroup: ExampleIds.group, requiredApprovals: 1 }],
                maxDurationHours: 8,
                defaultDurationHours: 4,
                maxPendingHours: 24,
                maxUses: null,
                maxStartDelayHours: 168,
                maxExtensions: 1,
                breakGlass: null,
                approverAuthContext: null,
                parameters: [
                  { name: 'mailbox', type: 'string', required: true },
                  { name: 'targetDatabase', type: 'string', required: false },
                ],
              },
            },
          }),
        ],
      },
    ],
    problems: [
      'NOT_FOUND',
      'NO_POLICY',
      'PAM_DISABLED',
      'NO_APPROVER_GROUP',
      'APPROVER_GROUPS_CONFLICT',
      'CONFLICT',
    ],
    connector: {
      visibility: Visibility.advanced,
      fields: {
        task: {
          summary: 'Task',
          visibility: Visibility.important,
          dynamicValues: { operationId: 'ListTasks', collection: 'items', valuePath: 'name' },
        },
        role: { summary: 'Role', visibility: Visibility.advanced },
        roleGroup: { summary: 'Role Group', visibility: Visibility.advanced },
      },
    },
  },
  {
    operationId: 'GetRequest',
    method: 'get',
    path: '/api/requests/{id}',
    tag: Tag.requests,
    summary: 'Get an access request',
    description: 'The request view. Anyone else gets 404, so ids reveal nothing.',
    access: Access.user,
    who: 'its requester, its approvers, admins and auditors',
    params: RequestPath,
    responses: [requestAnswer('The request.', 'approved', 'staged', 'extended')],
    problems: ['NOT_FOUND'],
    connector: { visibility: Visibility.important, fields: { id: idField } },
  },
  {
    operationId: 'ApproveRequest',
    method: 'post',
    path: '/api/requests/{id}/approve',
    tag: Tag.requests,
    summary: 'Approve an access request',
    description:
      "Records this approver's approval in the stage that decides now; only that stage's group may decide in it (409 `STAGE_NOT_OPEN` for a member of a later stage, who is emailed when it opens). A stage is approved once enough distinct approvers of its group have approved; the next stage then opens, and the request is approved when the last stage is (a denial always wins). Never the requester; once per approver, across all stages.",
    access: Access.user,
    who: "members of the request's approver group, never its requester",
    params: RequestPath,
    body: {
      required: false,
      ...json(DecisionBody, { ok: { summary: 'With a comment', value: Examples.approveBody } }),
    },
    responses: [
      requestAnswer(
        'The request: approved, or still pending for more approvals or a later stage.',
        'approved',
        'staged',
      ),
    ],
    problems: [
      'NOT_FOUND',
      'SELF_APPROVAL',
      'NOT_AN_APPROVER',
      'REQUEST_NOT_PENDING',
      'ALREADY_DECIDED',
      'STAGE_NOT_OPEN',
      'STEP_UP_REQUIRED',
    ],
    connector: { visibility: Visibility.important, fields: { id: idField, comment: commentField } },
  },
  {
    operationId: 'DenyRequest',
    method: 'post',
    path: '/api/requests/{id}/deny',
    tag: Tag.requests,
    summary: 'Deny an access request',
    description:
      'One denial, in the stage that decides now, denies the request, whatever approvals it already has.',
    access: Access.user,
    who: "members of the request's approver group, never its requester",
    params: RequestPath,
    body: {
      required: false,
      ...json(DecisionBody, { no: { summary: 'With a reason', value: Examples.denyBody } }),
    },
    responses: [requestAnswer('The request, denied.', 'denied')],
    problems: [
      'NOT_FOUND',
      'SELF_APPROVAL',
      'NOT_AN_APPROVER',
      'REQUEST_NOT_PENDING',
      'ALREADY_DECIDED',
      'STAGE_NOT_OPEN',
      'STEP_UP_REQUIRED',
    ],
    connector: { visibility: Visibility.important, fields: { id: idField, comment: commentField } },
  },
  {
    operationId: 'CancelRequest',
    method: 'post',
    path: '/api/requests/{id}/cancel',
    tag: Tag.requests,
    summary: 'Cancel an access request',
    description: 'The requester withdraws a request that is still pending.',
    access: Access.user,
    who: 'its requester',
    params: RequestPath,
    body: { required: false, ...json(EmptyBody) },
    responses: [requestAnswer('The request, canceled.', 'canceled')],
    problems: ['NOT_FOUND', 'NOT_REQUESTER', 'REQUEST_NOT_PENDING'],
    connector: { visibility: Visibility.advanced, fields: { id: idField } },
  },
  {
    operationId: 'RevokeRequest',
    method: 'post',
    path: '/api/requests/{id}/revoke',
    tag: Tag.requests,
    summary: 'Revoke an access grant',
    description:
      'Ends a live grant (or one scheduled to start later) at once; executions are refused from then on, and an extension still waiting is canceled.',
    access: Access.user,
    who: 'admins, its approvers, or its requester (ending their own access early)',
    params: RequestPath,
    body: {
      required: false,
      ...json(RevokeBody, { done: { summary: 'With a comment', value: Examples.revokeBody } }),
    },
    responses: [requestAnswer('The request, revoked.', 'revoked')],
    problems: ['NOT_FOUND', 'REVOKE_NOT_ALLOWED', 'REQUEST_NOT_LIVE'],
    connector: { visibility: Visibility.advanced, fields: { id: idField, comment: commentField } },
  },
  {
    operationId: 'ReviewRequest',
    method: 'post',
    path: '/api/requests/{id}/review',
    tag: Tag.requests,
    summary: 'Review an emergency use',
    description:
      "Closes the review of an emergency use (break glass) as `justified`, or `unjustified` with a comment saying why. Once per emergency use: a closed review is 409, except the same reviewer's same outcome repeated (answered with the request as it is). When the policy asks approvers for step-up (`approverAuthContext`), a token without that authentication context is refused 401 with a `WWW-Authenticate` claims challenge, and nothing changes. The requester is told the outcome.",
    access: Access.user,
    who: "members of the request's approver groups, never its requester",
    params: RequestPath,
    body: {
      required: true,
      ...json(ReviewBody.meta({ description: 'The outcome of the review, and why.' }), {
        justified: { summary: 'Justified', value: { outcome: 'justified', comment: 'Matches INC-4711' } },
        unjustified: {
          summary: 'Unjustified, with why',
          value: { outcome: 'unjustified', comment: 'No incident was open; ask for approval next time' },
        },
      }),
    },
    responses: [requestAnswer('The request, its review closed.', 'reviewed')],
    problems: ['NOT_FOUND', 'SELF_APPROVAL', 'NOT_AN_APPROVER', 'REVIEW_NOT_OPEN', 'STEP_UP_REQUIRED'],
    connector: {
      visibility: Visibility.important,
      fields: {
        id: idField,
        outcome: { summary: 'Outcome', visibility: Visibility.important },
        comment: commentField,
      },
    },
  },
  {
    operationId: 'ListReviews',
    method: 'get',
    path: '/api/reviews',
    tag: Tag.requests,
    summary: 'List emergency uses to review',
    description:
      'Emergency uses (break glass) whose review is `open` (the default) or `closed`, a page at a time: those the caller reviews (members of their approver groups); all of them for admins and auditors.',
    access: Access.user,
    query: ListReviewsQuery,
    responses: [
      {
        status: 200,
        description: 'One page.',
        content: [
          json(RequestPage, {
            page: { summary: 'One closed review', value: { items: [Examples.reviewedRequest] } },
          }),
        ],
      },
    ],
    problems: [],
    connector: {
      visibility: Visibility.advanced,
      fields: {
        status: { summary: 'Review Status' },
        continuationToken: { summary: 'Continuation Token', visibility: Visibility.advanced },
      },
    },
  },
  {
    operationId: 'ExtendRequest',
    method: 'post',
    path: '/api/requests/{id}/extend',
    tag: Tag.requests,
    summary: 'Extend access',
    description:
      "The requester of a live grant asks for `hours` more (at most the policy's `maxDurationHours`). The extension is decided like the request, by the same stages and groups, whose first stage is emailed; an automatic policy approves it at once. Access never drops while it waits: once approved, `expiresAt` moves later by `hours`; if the grant ends first, the extension expires. One extension may wait at a time, and a grant takes at most the policy's `maxExtensions` (409 otherwise). The same call repeated within a minute finds the first.",
    access: Access.user,
    who: 'its requester',
    params: RequestPath,
    body: {
      required: true,
      ...json(ExtendBody, { more: { summary: 'Two more hours', value: Examples.extendBody } }),
    },
    responses: [
      requestAnswer(
        'The request with the new extension: waiting for a decision, or approved at once.',
        'extensionPending',
        'extended',
      ),
    ],
    problems: [
      'NOT_FOUND',
      'NOT_REQUESTER',
      'REQUEST_NOT_LIVE',
      'EXTENSION_NOT_ALLOWED',
      'DURATION_TOO_LONG',
      'DURATION_TOO_SHORT',
    ],
    connector: {
      visibility: Visibility.important,
      fields: {
        id: idField,
        hours: { summary: 'More Hours', visibility: Visibility.important },
        reason: { summary: 'Reason', visibility: Visibility.important },
      },
    },
  },
  {
    operationId: 'ApproveExtension',
    method: 'post',
    path: '/api/requests/{id}/extensions/{extensionId}/approve',
    tag: Tag.requests,
    summary: 'Decide on an extension: approve',
    description:
      "Records this approver's approval of the extension, in its stage that decides now (the request's stages, decided afresh for each extension). Once its last stage is approved, the grant's `expiresAt` moves later by the extension's `hours`. Never the requester; once per approver per extension.",
    access: Access.user,
    who: "members of the request's approver groups (the open stage's), never its requester",
    params: ExtensionPath,
    body: {
      required: false,
      ...json(DecisionBody, { ok: { summary: 'With a comment', value: Examples.approveBody } }),
    },
    responses: [
      requestAnswer(
        'The request: the extension approved (`expiresAt` moved), or still waiting for more approvals.',
        'extended',
        'extensionPending',
      ),
    ],
    problems: [
      'NOT_FOUND',
      'SELF_APPROVAL',
      'NOT_AN_APPROVER',
      'ALREADY_DECIDED',
      'EXTENSION_NOT_PENDING',
      'STAGE_NOT_OPEN',
      'STEP_UP_REQUIRED',
    ],
    connector: {
      visibility: Visibility.advanced,
      fields: { id: idField, extensionId: extensionIdField, comment: commentField },
    },
  },
  {
    operationId: 'DenyExtension',
    method: 'post',
    path: '/api/requests/{id}/extensions/{extensionId}/deny',
    tag: Tag.requests,
    summary: 'Decide on an extension: deny',
    description: 'One denial denies the extension; the grant keeps its `expiresAt` and runs on until then.',
    access: Access.user,
    who: "members of the request's approver groups (the open stage's), never its requester",
    params: ExtensionPath,
    body: {
      required: false,
      ...json(DecisionBody, { no: { summary: 'With a reason', value: Examples.denyBody } }),
    },
    responses: [requestAnswer('The request, its extension denied.', 'extensionPending')],
    problems: [
      'NOT_FOUND',
      'SELF_APPROVAL',
      'NOT_AN_APPROVER',
      'ALREADY_DECIDED',
      'EXTENSION_NOT_PENDING',
      'STAGE_NOT_OPEN',
      'STEP_UP_REQUIRED',
    ],
    connector: {
      visibility: Visibility.advanced,
      fields: { id: idField, extensionId: extensionIdField, comment: commentField },
    },
  },
  {
    operationId: 'CancelExtension',
    method: 'post',
    path: '/api/requests/{id}/extensions/{extensionId}/cancel',
    tag: Tag.requests,
    summary: 'Cancel an extension',
    description:
      'The requester withdraws an extension still waiting for a decision; the grant runs on as it was.',
    access: Access.user,
    who: 'its requester',
    params: ExtensionPath,
    body: { required: false, ...json(EmptyBody) },
    responses: [requestAnswer('The request, its extension canceled.', 'approved')],
    problems: ['NOT_FOUND', 'NOT_REQUESTER', 'EXTENSION_NOT_PENDING'],
    connector: { visibility: Visibility.advanced, fields: { id: idField, extensionId: extensionIdField } },
  },

  // --- Execution -----------------------------------------------------------------------------------
  {
    operationId: 'ExecuteTask',
    method: 'post',
    path: '/api/execute',
    tag: Tag.execution,
    summary: 'Execute a task under a live grant',
    description:
      "Runs the task on the caller's behalf with ZSA's own identity, if a live grant of the caller covers it (or the caller is a system account while privileged access is enabled). Checked at every call against the grant's window: before a scheduled start it answers 403 `GRANT_NOT_STARTED`. A counted grant (`maxUses`) takes a use for each execution and gives it back when the task cannot have run (the executor was not reached or answered non-2xx; a call without an answer keeps it held); the last successful use ends the grant, and while the uses left are all held by executions still running it answers 409 `USES_IN_FLIGHT`. Every execution and refusal is audited.",
    access: Access.user,
    who: 'holders of a live grant covering the task, and system accounts',
    body: {
      required: true,
      ...json(ExecuteBody, { grant: { summary: 'Under a named grant', value: Examples.executeBody } }),
    },
    responses: [
      {
        status: 200,
        description: "The task ran and succeeded; `result` is the executor's answer.",
        content: [
          json(ExecutionResult, { ok: { summary: 'A webhook answered', value: Examples.executionResult } }),
        ],
      },
    ],
    problems: [
      'NO_ACTIVE_GRANT',
      'GRANT_NOT_STARTED',
      'USES_IN_FLIGHT',
      'INVALID_PARAMETERS',
      'NOT_FOUND',
      'EXECUTION_FAILED',
    ],
    connector: {
      visibility: Visibility.important,
      fields: {
        task: {
          summary: 'Task',
          visibility: Visibility.important,
          dynamicValues: { operationId: 'ListTasks', collection: 'items', valuePath: 'name' },
        },
        parameters: { summary: 'Task Parameters', visibility: Visibility.important },
        requestId: { summary: 'Request ID', visibility: Visibility.advanced },
      },
    },
  },

  // --- Email decisions -----------------------------------------------------------------------------
  {
    operationId: 'GetDecisionPage',
    method: 'get',
    path: '/api/decisions/{token}',
    tag: Tag.decisions,
    summary: 'Show the decision page of an emailed link',
    description:
      'The page an approver reaches from the email: the request and an Approve / Deny form. Opening it changes nothing (mail scanners open links). Refusals are pages too.',
    access: Access.linkHolder,
    params: DecisionTokenPath,
    responses: [
      {
        status: 200,
        description: 'The confirmation page.',
        content: [{ schema: Html, mediaType: 'text/html' }],
      },
    ],
    problems: [],
  },
  {
    operationId: 'SubmitDecision',
    method: 'post',
    path: '/api/decisions/{token}',
    tag: Tag.decisions,
    summary: 'Decide from an emailed link',
    description: 'Records the decision confirmed on the page. The link works once.',
    access: Access.linkHolder,
    params: DecisionTokenPath,
    body: {
      required: true,
      schema: DecisionForm,
      mediaType: 'application/x-www-form-urlencoded',
      examples: { approve: { summary: 'Approve with a comment', value: Examples.decisionForm } },
    },
    responses: [
      {
        status: 200,
        description: 'A page saying what was recorded.',
        content: [{ schema: Html, mediaType: 'text/html' }],
      },
    ],
    problems: [],
  },

  // --- Audit ---------------------------------------------------------------------------------------
  {
    operationId: 'QueryAudit',
    method: 'get',
    path: '/api/audit',
    tag: Tag.audit,
    summary: 'Query the audit log',
    description:
      'Audit events in a time range, filtered by actor, request, task or action, a page at a time.',
    access: Access.reader,
    query: AuditPageQuery,
    responses: [
      {
        status: 200,
        description: 'One page.',
        content: [
          json(AuditPage, { page: { summary: 'One event', value: { items: [Examples.auditRecord] } } }),
        ],
      },
    ],
    problems: [],
  },
  {
    operationId: 'ExportAudit',
    method: 'get',
    path: '/api/audit/export',
    tag: Tag.audit,
    summary: 'Export the audit log',
    description: 'Streams every audit event in the range as CSV or JSON Lines.',
    access: Access.reader,
    query: AuditExportQuery,
    responses: [
      {
        status: 200,
        description: 'The events, streamed.',
        content: [
          {
            schema: z.string().meta({ description: 'CSV, a header line first.' }),
            mediaType: mediaTypeOf(ExportFormat.Csv),
          },
          {
            schema: z.string().meta({ description: 'One JSON audit record per line.' }),
            mediaType: mediaTypeOf(ExportFormat.Jsonl),
          },
        ],
      },
    ],
    problems: [],
  },
  {
    operationId: 'VerifyAudit',
    method: 'get',
    path: '/api/audit/verify',
    tag: Tag.audit,
    summary: 'Verify the audit chain',
    description:
      'Recomputes the hash chain over the range and reports whether every event is intact and in place.',
    access: Access.reader,
    query: AuditVerifyQuery,
    responses: [
      {
        status: 200,
        description: 'The verification.',
        content: [
          json(AuditVerification, { intact: { summary: 'Intact', value: Examples.auditVerification } }),
        ],
      },
    ],
    problems: [],
  },
  {
    operationId: 'AnchorAudit',
    method: 'post',
    path: '/api/audit/anchor',
    tag: Tag.audit,
    summary: 'Anchor the audit chains now',
    description:
      "Writes every chain's head to the immutable archive at once (it also happens within a minute of any new row, and after every 1,000 rows of a chain), bounding how much recent history could be rewritten unseen.",
    access: Access.admin,
    body: { required: false, ...json(EmptyBody) },
    responses: [
      {
        status: 200,
        description: 'The anchor written.',
        content: [json(AuditAnchor, { anchor: { summary: 'One chain', value: Examples.auditAnchor } })],
      },
    ],
    problems: [],
  },
  {
    operationId: 'GetInsights',
    method: 'get',
    path: '/api/insights',
    tag: Tag.audit,
    summary: 'Usage and outcomes over a time range',
    description:
      "Requests per day by outcome, median and 95th percentile time to decision and to first use, the top tasks and requesters, emergency uses and their reviews, executions and failures, and the approvers' load, computed from the audit log over the range (the last 30 days by default, at most 366 days).",
    access: Access.reader,
    query: InsightsQuery,
    responses: [
      {
        status: 200,
        description: 'The figures.',
        content: [json(InsightsView, { twoDays: { summary: 'Two days', value: Examples.insights } })],
      },
    ],
    problems: [],
  },
  // --- Polling triggers (Power Automate; shared/requests/triggers.ts, functions/triggers.ts) -----
  ...TRIGGERS.map(triggerOperation),
];

/** The export's media type without its parameters (`text/csv; charset=utf-8` → `text/csv`). */
function mediaTypeOf(format: ExportFormat): string {
  return CONTENT_TYPES[format].split(';')[0] ?? CONTENT_TYPES[format];
}

/** Path parameter values that make a documented path concrete (for tests and tools). */
export const SAMPLE_PATH_VALUES: Readonly<Record<string, string>> = {
  id: ExampleIds.requestId,
  extensionId: '1',
  name: ExampleIds.group,
  token: 'sample-token',
};
