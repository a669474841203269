/**
 * Access policies: one partition holding a row per policy (`id|<id>`) and a row per target
 * (`t|<scope>|<sha256 of the name>`, a fixed-length key because a name can fill a whole key) that
 * names the policy governing it. Both rows are written in one entity-group transaction, so "one
 * policy per scope and target" holds atomically: a second create fails on the target row.
 */
import { createHash } from 'node:crypto';
import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';
import { z } from 'zod';
import { readEntity, statusOf, unavailable, type Tables } from '#shared/adapters/tables';
import { compareNames, describeTarget, ScopeSchema, type Target } from '#shared/domain/catalog';
import { DomainError } from '#shared/domain/errors';
import { Policy, policyGroups, policyTarget } from '#shared/domain/policy';
import { AdminTable, corruptRow, MAX_WRITE_ATTEMPTS, submitOrLose } from './store';

const PARTITION = 'policy';
const ID = 'id|';
const TARGET = 't|';

// Table Storage drops null properties, so absent optional fields are simply missing.
const PolicyRow = z.object({
  rowKey: z.string().startsWith(ID),
  etag: z.string(),
  scope: z.string(),
  target: z.string(),
  approvalType: z.string(),
  approverGroup: z.string().optional(),
  requiredApprovals: z.number().optional(),
  /** JSON of the stages (a list, in one column: at most 5 short entries). */
  stages: z.string().optional(),
  maxDurationHours: z.number().optional(),
  pendingTimeoutHours: z.number(),
  maxUses: z.number().optional(),
  maxStartDelayHours: z.number().optional(),
  maxExtensions: z.number().optional(),
  breakGlassGroup: z.string().optional(),
  breakGlassMaxHours: z.number().optional(),
  approverAuthContext: z.string().optional(),
  /** JSON of the agents field (mode, sponsors, limits: one short object). */
  agents: z.string().optional(),
});
const TargetRow = z.object({
  etag: z.string(),
  policyId: z.string(),
  scope: ScopeSchema,
  target: z.string(),
});

interface Stored {
  readonly policy: Policy;
  readonly etag: string;
}

function idKey(id: string): string {
  return `${ID}${id}`;
}

function targetKey(target: Target): string {
  return `${TARGET}${target.scope}|${createHash('sha256').update(target.name, 'utf8').digest('hex')}`;
}

function sameTarget(a: Target, b: Target): boolean {
  return a.scope === b.scope && a.name === b.name;
}

function toStored(row: unknown): Stored {
  const parsed = PolicyRow.safeParse(row);
  if (!parsed.success) throw corruptRow(AdminTable.policies, PARTITION, parsed.error);
  const { rowKey, etag, stages, agents, ...fields } = parsed.data;
  let stageList: unknown;
  let agentsField: unknown;
  try {
    stageList = stages === undefined ? undefined : JSON.parse(stages);
    agentsField = agents === undefined ? undefined : JSON.parse(agents);
  } catch (e) {
    throw corruptRow(AdminTable.policies, PARTITION, e);
  }
  const policy = Policy.safeParse({
    id: rowKey.slice(ID.length),
    ...fields,
    ...(stageList === undefined ? {} : { stages: stageList }),
    ...(agentsField === undefined ? {} : { agents: agentsField }),
  });
  if (!policy.success) throw corruptRow(AdminTable.policies, PARTITION, policy.error);
  return { policy: policy.data, etag };
}

function policyRow(policy: Policy) {
  return {
    partitionKey: PARTITION,
    rowKey: idKey(policy.id),
    scope: policy.scope,
    target: policy.target,
    approvalType: policy.approvalType,
    ...(policy.approverGroup === undefined ? {} : { approverGroup: policy.approverGroup }),
    ...(policy.requiredApprovals === undefined ? {} : { requiredApprovals: policy.requiredApprovals }),
    ...(policy.stages === undefined ? {} : { stages: JSON.stringify(policy.stages) }),
    ...(policy.maxDurationHours === undefined ? {} : { maxDurationHours: policy.maxDurationHours }),
    pendingTimeoutHours: policy.pendingTimeoutHours,
    ...(policy.maxUses === undefined ? {} : { maxUses: policy.maxUses }),
    maxStartDelayHours: policy.maxStartDelayHours,
    maxExtensions: policy.maxExtensions,
    ...(policy.breakGlassGroup === undefined ? {} : { breakGlassGroup: policy.breakGlassGroup }),
    breakGlassMaxHours: policy.breakGlassMaxHours,
    ...(policy.approverAuthContext === undefined ? {} : { approverAuthContext: policy.approverAuthContext }),
    ...(policy.agents === undefined ? {} : { agents: JSON.stringify(policy.agents) }),
  };
}

function targetRow(policy: Policy) {
  return {
    partitionKey: PARTITION,
    rowKey: targetKey(policyTarget(policy)),
    policyId: policy.id,
    scope: policy.scope,
    target: policy.target,
  };
}

async function table(tables: Tables): Promise<TableClient> {
  return tables.get(AdminTable.policies);
}

async function readStored(client: TableClient, id: string): Promise<Stored | undefined> {
  const row = await readEntity<Record<string, unknown>>(client, PARTITION, idKey(id));
  return row && toStored(row);
}

async function query(client: TableClient, filter: string): Promise<Policy[]> {
  const rows: unknown[] = [];
  try {
    for await (const row of client.listEntities({ queryOptions: { filter } })) {
      rows.push(row);
    }
  } catch (e) {
    throw unavailable(e);
  }
  return rows
    .map((row) => toStored(row).policy)
    .sort(
      (a, b) =>
        compareNames(a.target, b.target) || compareNames(a.scope, b.scope) || compareNames(a.id, b.id),
    );
}

const ALL = odata`PartitionKey eq ${PARTITION} and RowKey ge ${ID} and RowKey lt ${'id}'}`;

export async function getPolicy(tables: Tables, id: string): Promise<Policy | undefined> {
  return (await readStored(await table(tables), id))?.policy;
}

/** Every policy, ordered by target, then scope. */
export async function listPolicies(tables: Tables): Promise<Policy[]> {
  return query(await table(tables), ALL);
}

/**
 * Policies that name the approver group explicitly, as their group or in a stage. The stages sit in
 * one JSON column the table service cannot search, so this reads every policy (there are few) and
 * filters here.
 */
export async function policiesNamingGroup(tables: Tables, group: string): Promise<Policy[]> {
  return (await listPolicies(tables)).filter((p) => policyGroups(p).includes(group));
}

/** The policy that names exactly this scope and target, if any (read only). */
export async function policyFor(tables: Tables, target: Target): Promise<Policy | undefined> {
  const client = await table(tables);
  const row = await readEntity<Record<string, unknown>>(client, PARTITION, targetKey(target));
  if (row === undefined) return undefined;
  const index = TargetRow.safeParse(row);
  if (!index.success) throw corruptRow(AdminTable.policies, PARTITION, index.error);
  const stored = await readStored(client, index.data.policyId);
  // A target row whose policy is gone or moved is left over from an interrupted delete.
  return stored && sameTarget(policyTarget(stored.policy), target) ? stored.policy : undefined;
}

/**
 * The policy holding the target row, for a write that just failed on it. A left-over row (its
 * policy deleted or moved by an interrupted write) is removed, so the caller can try again.
 */
async function holderOf(client: TableClient, target: Target): Promise<Policy | undefined> {
  const key = targetKey(target);
  const row = await readEntity<Record<string, unknown>>(client, PARTITION, key);
  if (row === undefined) return undefined;
  const index = TargetRow.safeParse(row);
  if (!index.success) throw corruptRow(AdminTable.policies, PARTITION, index.error);
  const stored = await readStored(client, index.data.policyId);
  if (stored && sameTarget(policyTarget(stored.policy), target)) return stored.policy;
  await deleteQuietly(client, key, index.data.etag);
  return undefined;
}

function alreadyGoverned(target: Target, holder: Policy): DomainError {
  return new DomainError(
    'CONFLICT',
    `The ${describeTarget(target)} already has a policy (id ${holder.id}); change that one instead`,
  );
}

function contended(id: string): DomainError {
  return new DomainError(
    'CONFLICT',
    `Policy ${id} was being changed by someone else at the same time; read it again and retry.`,
  );
}

/** Stores a new policy; CONFLICT when its scope and target already have one. */
export async function insertPolicy(tables: Tables, policy: Policy): Promise<void> {
  const client = await table(tables);
  for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
    if (
      await submitOrLose(client, [
        ['create', policyRow(policy)],
        ['create', targetRow(policy)],
      ])
    )
      return;
    const holder = await holderOf(client, policyTarget(policy));
    if (holder) throw alreadyGoverned(policyTarget(policy), holder);
  }
  throw contended(policy.id);
}

/**
 * Replaces policy `id` with what `change` makes of it, compare-and-swap. NOT_FOUND when there is no
 * such policy; CONFLICT when the new scope and target already have another policy.
 */
export async function replacePolicy(
  tables: Tables,
  id: string,
  change: (current: Policy) => Policy,
): Promise<{ before: Policy; after: Policy }> {
  const client = await table(tables);
  for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
    const current = await readStored(client, id);
    if (current === undefined) throw new DomainError('NOT_FOUND', `No policy with id ${id}`);
    const before = current.policy;
    const after = change(before);
    const moved = !sameTarget(policyTarget(before), policyTarget(after));
    const actions: TransactionAction[] = [['update', policyRow(after), 'Replace', { etag: current.etag }]];
    if (moved) {
      // The old target row goes in the same transaction; skip it if an interrupted write lost it.
      const oldKey = targetKey(policyTarget(before));
      if ((await readEntity(client, PARTITION, oldKey)) !== undefined)
        actions.push(['delete', { partitionKey: PARTITION, rowKey: oldKey }]);
      actions.push(['create', targetRow(after)]);
    }
    if (await submitOrLose(client, actions)) return { before, after };
    if (moved) {
      const holder = await holderOf(client, policyTarget(after));
      if (holder && holder.id !== id) throw alreadyGoverned(policyTarget(after), holder);
    }
  }
  throw contended(id);
}

/** Removes policy `id`; answers what it was, or undefined when there was none. */
export async function removePolicy(tables: Tables, id: string): Promise<Policy | undefined> {
  const client = await table(tables);
  for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
    const current = await readStored(client, id);
    if (current === undefined) return undefined;
    try {
      await client.deleteEntity(PARTITION, idKey(id), { etag: current.etag });
    } catch (e) {
      const status = statusOf(e);
      if (status === 404 || status === 412) continue;
      throw unavailable(e);
    }
    // The policy is gone; its target row is now a left-over whichever way this ends, and
    // `holderOf` clears left-overs, so a failure here must not report the delete as failed.
    const key = targetKey(policyTarget(current.policy));
    const index = await readEntity<Record<string, unknown>>(client, PARTITION, key).catch(() => undefined);
    const parsed = TargetRow.safeParse(index);
    if (parsed.success && parsed.data.policyId === id) await deleteQuietly(client, key, parsed.data.etag);
    return current.policy;
  }
  throw contended(id);
}

async function deleteQuietly(client: TableClient, rowKey: string, etag: string): Promise<void> {
  // Only ever used on left-over target rows: losing this race means someone else cleared it.
  await client.deleteEntity(PARTITION, rowKey, { etag }).catch(() => undefined);
}
