import { createContext, Script, type Context } from 'node:vm';
import { z } from 'zod';
import { DomainError, type FieldError } from './errors';
import { CatalogName, codePointLength, RoleGroupName, RoleName, TaskName } from './names';

/** The three things a policy or request can address. */
export const Scope = {
  task: 'task',
  role: 'role',
  roleGroup: 'roleGroup',
} as const;
export type Scope = (typeof Scope)[keyof typeof Scope];
export const ScopeSchema = z.enum(Scope);

/** What a request or policy points at. */
export interface Target {
  readonly scope: Scope;
  readonly name: string;
}

// --- Parameters -------------------------------------------------------------------------------

export const ParameterType = {
  string: 'string',
  number: 'number',
  boolean: 'boolean',
} as const;
export type ParameterType = (typeof ParameterType)[keyof typeof ParameterType];

/** Longest string parameter value accepted anywhere, whatever a task's `maxLength` says. */
export const MAX_PARAMETER_STRING = 8192;
export const MAX_PARAMETERS = 50;

// A letter first keeps `__proto__`, `constructor` look-alikes and empty names out of the records.
const ParameterName = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'must start with a letter: 1 to 64 letters, digits, - or _');

function compiles(pattern: string): boolean {
  try {
    new RegExp(pattern, 'u');
    return true;
  } catch {
    return false;
  }
}

export const TaskParameter = z
  .strictObject({
    name: ParameterName,
    type: z.enum(ParameterType),
    required: z.boolean().default(false),
    description: z.string().max(1000).optional(),
    /** A regular expression (JavaScript, `u` flag) the *whole* string value must match. */
    pattern: z.string().min(1).max(512).refine(compiles, 'must be a valid regular expression').optional(),
    maxLength: z.int().min(1).max(MAX_PARAMETER_STRING).optional(),
  })
  .superRefine((p, ctx) => {
    if (p.type !== 'string' && p.pattern !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['pattern'],
        message: 'only string parameters may have a pattern',
      });
    if (p.type !== 'string' && p.maxLength !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['maxLength'],
        message: 'only string parameters may have a maxLength',
      });
  });
export type TaskParameter = z.output<typeof TaskParameter>;

export const ParameterValue = z.union([z.string().max(MAX_PARAMETER_STRING), z.number(), z.boolean()]);
export type ParameterValue = z.output<typeof ParameterValue>;

/** Parameter values as given in a request or an execution. */
export const ParameterValues = z
  .record(ParameterName, ParameterValue)
  .refine((v) => Object.keys(v).length <= MAX_PARAMETERS, `must have at most ${MAX_PARAMETERS} parameters`);
export type ParameterValues = z.output<typeof ParameterValues>;

// --- Entries ----------------------------------------------------------------------------------

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

export const WebhookExecutor = z.strictObject({
  type: z.literal('webhook'),
  url: z
    .url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL' })
    .max(2048)
    .superRefine((raw, ctx) => {
      const url = new URL(raw);
      // Plain http would expose the signed execution on the wire; only loopback test servers may use it.
      if (url.protocol === 'http:' && !LOOPBACK_HOSTS.has(url.hostname))
        ctx.addIssue({ code: 'custom', message: 'must use https (plain http only for loopback)' });
      if (url.username !== '' || url.password !== '')
        ctx.addIssue({ code: 'custom', message: 'must not carry credentials' });
    }),
});

export const ServiceBusExecutor = z.strictObject({
  type: z.literal('serviceBus'),
  queue: z
    .string()
    .regex(
      /^[A-Za-z0-9](?:[A-Za-z0-9._/-]{0,258}[A-Za-z0-9])?$/,
      'must be a Service Bus queue name: 1 to 260 letters, digits, . _ - /, starting and ending with a letter or digit',
    ),
});

export const Executor = z.discriminatedUnion('type', [WebhookExecutor, ServiceBusExecutor]);
export type Executor = z.output<typeof Executor>;

function uniqueBy<T>(key: (item: T) => string, what: string) {
  return (items: readonly T[], ctx: z.RefinementCtx) => {
    const seen = new Set<string>();
    items.forEach((item, index) => {
      const k = key(item);
      if (seen.has(k))
        ctx.addIssue({
          code: 'custom',
          path: [index],
          message: `${what} ${JSON.stringify(k)} is listed twice`,
        });
      seen.add(k);
    });
  };
}

// Names travel in the body or in `?name=`, never in the path: task names carry `\` and `/`.

/** Query of `GET /api/catalog/*`: the whole list, or one entry with `?name=`. */
export const CatalogGetQuery = z.strictObject({
  name: CatalogName.optional().meta({
    description: 'One entry by its exact name (names may hold `\\ / # ?`).',
  }),
});

/** Query of `DELETE /api/catalog/*?name=`. */
export const CatalogDeleteQuery = z.strictObject({
  name: CatalogName.meta({ description: 'The exact name of the entry to remove.' }),
});

/** Body of `PUT /api/catalog/tasks`, and a stored task. */
export const Task = z.strictObject({
  name: TaskName,
  description: z.string().trim().min(1, 'must not be empty').max(2000),
  executor: Executor,
  parameters: z
    .array(TaskParameter)
    .max(MAX_PARAMETERS)
    .superRefine(uniqueBy((p) => p.name, 'parameter'))
    .optional(),
});
export type Task = z.output<typeof Task>;

/** Upper bound on a role's tasks and a role group's roles; storage keeps one row per member. */
export const MAX_MEMBERS = 500;

/** Body of `PUT /api/catalog/roles`, and a stored role. */
export const Role = z.strictObject({
  name: RoleName,
  tasks: z
    .array(TaskName)
    .min(1, 'must name at least one task')
    .max(MAX_MEMBERS)
    .superRefine(uniqueBy((t) => t, 'task')),
});
export type Role = z.output<typeof Role>;

/** Body of `PUT /api/catalog/role-groups`, and a stored role group. */
export const RoleGroup = z.strictObject({
  name: RoleGroupName,
  roles: z
    .array(RoleName)
    .min(1, 'must name at least one role')
    .max(MAX_MEMBERS)
    .superRefine(uniqueBy((r) => r, 'role')),
});
export type RoleGroup = z.output<typeof RoleGroup>;

/** What every user may see of a task: its executor stays hidden (webhook URLs often carry a secret token). */
export interface TaskSummary {
  readonly name: string;
  readonly description: string;
  readonly parameters?: readonly TaskParameter[];
}

export function toTaskSummary(task: Task): TaskSummary {
  return task.parameters === undefined
    ? { name: task.name, description: task.description }
    : { name: task.name, description: task.description, parameters: task.parameters };
}

// --- Lookups ----------------------------------------------------------------------------------

/** Read-only view of the catalog that the pure rules need; adapters build it with `catalogFrom`. */
export interface Catalog {
  task(name: string): Task | undefined;
  role(name: string): Role | undefined;
  roleGroup(name: string): RoleGroup | undefined;
  /** Roles listing the task, ordered by name. */
  rolesContainingTask(task: string): readonly Role[];
  /** Role groups listing the role, ordered by name. */
  roleGroupsContainingRole(role: string): readonly RoleGroup[];
}

/** Orders names by UTF-16 code units, the order Table Storage and `Array.prototype.sort` use. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function catalogFrom(entries: {
  readonly tasks?: readonly Task[];
  readonly roles?: readonly Role[];
  readonly roleGroups?: readonly RoleGroup[];
}): Catalog {
  const tasks = new Map((entries.tasks ?? []).map((t) => [t.name, t]));
  const roles = new Map((entries.roles ?? []).map((r) => [r.name, r]));
  const roleGroups = new Map((entries.roleGroups ?? []).map((g) => [g.name, g]));
  const sorted = <T extends { name: string }>(items: Iterable<T>) =>
    [...items].sort((a, b) => compareNames(a.name, b.name));
  return {
    task: (name) => tasks.get(name),
    role: (name) => roles.get(name),
    roleGroup: (name) => roleGroups.get(name),
    rolesContainingTask: (task) => sorted(roles.values()).filter((r) => r.tasks.includes(task)),
    roleGroupsContainingRole: (role) => sorted(roleGroups.values()).filter((g) => g.roles.includes(role)),
  };
}

export function describeTarget(target: Target): string {
  const label = { task: 'task', role: 'role', roleGroup: 'role group' } as const satisfies Record<
    Scope,
    string
  >;
  return `${label[target.scope]} ${JSON.stringify(target.name)}`;
}

/**
 * The tasks a target grants, in a stable order (a role's own order; a role group's roles in their
 * order, duplicates dropped). Throws `NOT_FOUND` when the target itself does not exist. Members
 * that no longer exist are skipped, since they cannot be executed anyway; a target left with no
 * task at all is a `CONFLICT`, because granting it would grant nothing.
 */
export function effectiveTasks(target: Target, catalog: Catalog): readonly Task[] {
  const notFound = () => new DomainError('NOT_FOUND', `The catalog has no ${describeTarget(target)}`);
  let names: readonly string[];
  switch (target.scope) {
    case 'task': {
      const task = catalog.task(target.name);
      if (task === undefined) throw notFound();
      return [task];
    }
    case 'role': {
      const role = catalog.role(target.name);
      if (role === undefined) throw notFound();
      names = role.tasks;
      break;
    }
    case 'roleGroup': {
      const group = catalog.roleGroup(target.name);
      if (group === undefined) throw notFound();
      names = [...new Set(group.roles.flatMap((r) => catalog.role(r)?.tasks ?? []))];
      break;
    }
  }
  const tasks = names.flatMap((n) => catalog.task(n) ?? []);
  if (tasks.length === 0)
    throw new DomainError(
      'CONFLICT',
      `The ${describeTarget(target)} grants no task that exists in the catalog`,
    );
  return tasks;
}

/**
 * Members of a role (its tasks) or a role group (its roles) that the catalog lacks, as field
 * errors for `INVALID_INPUT` on `PUT`: an entry must not point at nothing.
 */
export function missingMembers(entry: Role | RoleGroup, catalog: Catalog): readonly FieldError[] {
  if ('tasks' in entry)
    return entry.tasks.flatMap((t, i) =>
      catalog.task(t) === undefined
        ? [{ pointer: `#/tasks/${i}`, detail: `no task named ${JSON.stringify(t)}` }]
        : [],
    );
  return entry.roles.flatMap((r, i) =>
    catalog.role(r) === undefined
      ? [{ pointer: `#/roles/${i}`, detail: `no role named ${JSON.stringify(r)}` }]
      : [],
  );
}

// --- Parameter validation ---------------------------------------------------------------------

export const ParameterErrorCode = {
  unknown: 'unknown',
  missing: 'missing',
  type: 'type',
  pattern: 'pattern',
  maxLength: 'maxLength',
} as const;
export type ParameterErrorCode = (typeof ParameterErrorCode)[keyof typeof ParameterErrorCode];

export interface ParameterError {
  readonly parameter: string;
  readonly code: ParameterErrorCode;
  readonly message: string;
}

export type ParameterCheck =
  { readonly ok: true } | { readonly ok: false; readonly errors: readonly ParameterError[] };

/** How long one admin-written pattern may run on one value before the value is refused. */
export const PATTERN_BUDGET_MS = 50;
let patternSandbox: { context: Context; script: Script } | undefined;

/**
 * Whether `value` matches the whole of `pattern`. Patterns come from admins and values from any
 * user, and a backtracking pattern can take exponential time on a crafted value, blocking the whole
 * worker; so the match runs in a sandbox with a time budget, and running out of it is a mismatch.
 * Anchored so a pattern describes the whole value, which is what an admin writing `[a-z]+` means.
 */
export function matchesWhole(pattern: string, value: string): boolean {
  patternSandbox ??= {
    context: createContext({ source: '', value: '' }),
    script: new Script("new RegExp(source, 'u').test(value)"),
  };
  const { context, script } = patternSandbox;
  context.source = `^(?:${pattern})$`;
  context.value = value;
  try {
    return script.runInContext(context, { timeout: PATTERN_BUDGET_MS }) === true;
  } catch {
    return false;
  }
}

/**
 * Checks given values against a task's parameter description. Errors come in a stable order:
 * the description's order first (missing, type, pattern, length), then unknown names sorted.
 */
export function validateParameters(
  description: readonly TaskParameter[] | undefined,
  given: ParameterValues | null | undefined,
): ParameterCheck {
  const values = new Map(Object.entries(given ?? {}));
  const errors: ParameterError[] = [];
  for (const p of description ?? []) {
    const value = values.get(p.name);
    if (value === undefined) {
      if (p.required) errors.push({ parameter: p.name, code: 'missing', message: `${p.name} is required` });
      continue;
    }
    if (typeof value !== p.type) {
      errors.push({
        parameter: p.name,
        code: 'type',
        message: `${p.name} must be a ${p.type}, got a ${typeof value}`,
      });
      continue;
    }
    if (typeof value !== 'string') continue;
    if (p.maxLength !== undefined && codePointLength(value) > p.maxLength) {
      errors.push({
        parameter: p.name,
        code: 'maxLength',
        message: `${p.name} must be at most ${p.maxLength} characters`,
      });
      // Too long already: never hand an oversized value to an admin-written regular expression.
      continue;
    }
    if (p.pattern !== undefined && !matchesWhole(p.pattern, value))
      errors.push({ parameter: p.name, code: 'pattern', message: `${p.name} must match ${p.pattern}` });
  }
  const known = new Set((description ?? []).map((p) => p.name));
  const unknown = [...values.keys()].filter((name) => !known.has(name)).sort(compareNames);
  for (const name of unknown)
    errors.push({ parameter: name, code: 'unknown', message: `${name} is not a parameter of this task` });
  return errors.length === 0 ? { ok: true } : { ok: false, errors };
}

/** `validateParameters` that throws `INVALID_PARAMETERS`, with one field error per problem under `#/parameters/…`. */
export function assertParameters(task: Task, given: ParameterValues | null | undefined): void {
  const check = validateParameters(task.parameters, given);
  if (check.ok) return;
  throw new DomainError(
    'INVALID_PARAMETERS',
    `Parameters do not fit task ${JSON.stringify(task.name)}: ${check.errors.map((e) => e.message).join('; ')}`,
    { errors: check.errors.map((e) => ({ pointer: `#/parameters/${e.parameter}`, detail: e.message })) },
  );
}
