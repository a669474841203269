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
    pattern: z
      .string()
      .min(1)
      .max(512)
      .refine(compiles, 'must be a valid regular expression')
      .meta({
        description:
          'A regular expression (JavaScript, `u` flag) the whole value must match. `PUT` refuses one that could backtrack catastrophically: a repeated group holding a quantifier (`(a+)+`), a repeated group whose alternatives may begin alike (`(a|ab)*`), or a back-reference.',
      })
      .optional(),
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

// --- Pattern safety ---------------------------------------------------------------------------

/**
 * Why an admin-written pattern could make a match take exponential time, or undefined when it
 * cannot. Patterns come from admins and values from any user, so a task is refused when saved with
 * such a pattern (`unsafePatterns`). The check is conservative: it refuses some patterns that
 * would in fact be fast (`(\d+\.)*\d+`), which an admin can always rewrite, rather than let one
 * stall the worker. Steep polynomial patterns (`.*.*.*x`) pass it; the time budget bounds those.
 * Its three rules:
 * - back-references (`\1`, `\k<name>`): matching them is NP-hard in general;
 * - nested quantifiers: a repeated group (`*`, `+`, `{n,}`, or a count above one) holding
 *   something repeated (`(a+)+`, `(a*)*`, `(.*a){20}`). An optional `?` repeats nothing, so
 *   `(?:CONTOSO\\)?[a-z]+` passes;
 * - a repeated group whose alternatives may begin with the same character (`(a|a)*`, `(a|ab)*`,
 *   `(\w|x)+`): each repetition may then try every alternative.
 */
export function patternHazard(pattern: string): string | undefined {
  const read = readPattern(pattern);
  if (read.backReference) return 'it uses a back-reference (\\1, \\k<name>), which can take exponential time';
  if (read.nestedRepetition)
    return 'it repeats a group that holds a quantifier (such as (a+)+ or (.*a){20}), which can take exponential time';
  if (read.repeatedOverlap)
    return 'it repeats a group whose alternatives may begin alike (such as (a|ab)*), which can take exponential time';
  return undefined;
}

/** Field errors for `INVALID_INPUT` on `PUT /api/catalog/tasks`: one per parameter whose pattern is refused. */
export function unsafePatterns(parameters: readonly TaskParameter[] | undefined): readonly FieldError[] {
  return (parameters ?? []).flatMap((p, i) => {
    const hazard = p.pattern === undefined ? undefined : patternHazard(p.pattern);
    return hazard === undefined
      ? []
      : [{ pointer: `#/parameters/${i}/pattern`, detail: `${p.name}: ${hazard}` }];
  });
}

/** One open group while reading a pattern. */
interface OpenGroup {
  /** The first character of each alternative so far (null: it may begin with many). */
  firsts: (string | null)[];
  /** Whether the next atom starts an alternative. */
  atStart: boolean;
  /** Whether anything inside is repeated. */
  holdsRepetition: boolean;
}

/** The quantifier at `i`, if any: its length (a lazy `?` included) and whether it may repeat. */
function quantifierAt(
  pattern: string,
  i: number,
): { length: number; optional: boolean; repeats: boolean } | undefined {
  const m = /^(?:([*+?])|\{(\d+)(,(\d*))?\})\??/.exec(pattern.slice(i));
  if (!m) return undefined;
  const [all, symbol, min, comma, max] = m;
  // The most times it repeats: `?` once, `*` and `+` without end, `{n}` n times, `{n,m}` m times.
  let most = Infinity;
  if (symbol === '?') most = 1;
  else if (symbol === undefined && comma === undefined) most = Number(min);
  else if (symbol === undefined && max !== '') most = Number(max);
  return { length: all.length, optional: symbol === '*' || symbol === '?' || min === '0', repeats: most > 1 };
}

/**
 * Reads the structural facts `patternHazard` needs: escapes and classes are skipped as units, and
 * each group remembers how its alternatives begin and whether it holds a repetition. It assumes a
 * pattern that compiles with the `u` flag (the schema checks that first), where a lone `{`, an
 * unescaped `]` or a quantified lookaround is a syntax error.
 */
function readPattern(pattern: string): {
  backReference: boolean;
  nestedRepetition: boolean;
  repeatedOverlap: boolean;
} {
  const found = { backReference: false, nestedRepetition: false, repeatedOverlap: false };
  const stack: OpenGroup[] = [{ firsts: [], atStart: true, holdsRepetition: false }];
  const top = (): OpenGroup =>
    stack[stack.length - 1] ?? { firsts: [], atStart: false, holdsRepetition: false };
  // The group whose alternative began with the atom just read: if a quantifier lets that atom be
  // skipped (`a?b`), the alternative may begin with whatever follows it.
  let begun: OpenGroup | undefined;
  const atom = (first: string | null): void => {
    const group = top();
    begun = group.atStart ? group : undefined;
    if (!group.atStart) return;
    group.firsts.push(first);
    group.atStart = false;
  };
  let i = 0;
  while (i < pattern.length) {
    const c = pattern.charAt(i);
    if (c === '\\') {
      const next = pattern.charAt(i + 1);
      if (/[1-9]/.test(next) || next === 'k') found.backReference = true;
      // An escaped syntax character is that character; any other escape (\d, \p{L}, \u…) a class.
      atom(/[\\^$.*+?()[\]{}|/-]/.test(next) ? next : null);
      i += 2;
      if (/[pPu]/.test(next) && pattern.charAt(i) === '{') {
        const close = pattern.indexOf('}', i);
        i = close === -1 ? pattern.length : close + 1;
      }
    } else if (c === '[') {
      atom(null);
      i += 1;
      while (i < pattern.length && pattern.charAt(i) !== ']') i += pattern.charAt(i) === '\\' ? 2 : 1;
      i += 1;
    } else if (c === '(') {
      const head = /^\((?:\?(?::|=|!|<=|<!|<[^>]*>))?/.exec(pattern.slice(i))?.[0] ?? '(';
      atom(null);
      stack.push({ firsts: [], atStart: true, holdsRepetition: false });
      i += head.length;
    } else if (c === '|') {
      begun = undefined;
      const group = top();
      if (group.atStart) group.firsts.push(null); // an empty alternative matches where any other does
      group.atStart = true;
      i += 1;
    } else if (c === ')') {
      begun = undefined;
      const group = stack.length > 1 ? stack.pop() : undefined;
      i += 1;
      if (!group) continue;
      if (group.atStart) group.firsts.push(null);
      const quantifier = quantifierAt(pattern, i);
      const repeats = quantifier?.repeats === true;
      if (repeats && group.holdsRepetition) found.nestedRepetition = true;
      if (repeats && group.firsts.length > 1 && mayBeginAlike(group.firsts)) found.repeatedOverlap = true;
      if (repeats || group.holdsRepetition) top().holdsRepetition = true;
      i += quantifier?.length ?? 0;
    } else {
      const quantifier = quantifierAt(pattern, i);
      if (quantifier === undefined) atom(c === '.' || c === '^' || c === '$' ? null : c);
      else {
        if (quantifier.repeats) top().holdsRepetition = true;
        if (quantifier.optional && begun) begun.firsts[begun.firsts.length - 1] = null;
        begun = undefined;
      }
      i += quantifier?.length ?? 1;
    }
  }
  return found;
}

function mayBeginAlike(firsts: readonly (string | null)[]): boolean {
  return firsts.includes(null) || new Set(firsts).size < firsts.length;
}

// --- Pattern matching -------------------------------------------------------------------------

/**
 * The most one request's pattern checks together may hold the worker (they run synchronously).
 * Harmless patterns take microseconds; the budget exists for hazardous ones stored before the
 * check on save existed, and those may spend only `HAZARDOUS_SHARE_MS` of it.
 *
 * Why generous, and why a share: the sandbox's timeout is wall-clock time, so on a busy machine a
 * harmless match can be descheduled, or wait out a garbage collection, long enough to run out of a
 * tight budget, and a valid value would be refused now and then. A harmless pattern therefore gets
 * everything not yet used (at least the 100 ms hazardous ones cannot touch), rather than a slice of
 * its own; a retry would not help, since the budget is a bound on the whole request.
 */
export const PATTERN_BUDGET_MS = 150;
const HAZARDOUS_SHARE_MS = 50;

let patternSandbox: { context: Context; script: Script } | undefined;

/**
 * Whether `value` matches the whole of `pattern`, or undefined when the match did not finish
 * within `timeoutMs`. A backtracking pattern can take exponential time on a crafted value, blocking
 * the whole worker, so the match runs in a sandbox that can be stopped. Anchored so a pattern
 * describes the whole value, which is what an admin writing `[a-z]+` means.
 */
export function matchesWhole(pattern: string, value: string, timeoutMs: number): boolean | undefined {
  const { context, script } = sandbox();
  context.source = `^(?:${pattern})$`;
  context.value = value;
  try {
    return script.runInContext(context, { timeout: Math.max(1, Math.floor(timeoutMs)) }) === true;
  } catch (e) {
    if ((e as { code?: unknown } | null)?.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') return undefined;
    return false;
  }
}

/** The sandbox patterns run in, built once; building it is not charged to any budget. */
function sandbox(): { context: Context; script: Script } {
  patternSandbox ??= {
    context: createContext({ source: '', value: '' }),
    script: new Script("new RegExp(source, 'u').test(value)"),
  };
  return patternSandbox;
}

/** One request's pattern checks, sharing `PATTERN_BUDGET_MS`: undefined when a check was not run or did not finish. */
function patternChecker(): (pattern: string, value: string) => boolean | undefined {
  let spent = 0;
  let spentOnHazardous = 0;
  sandbox();
  return (pattern, value) => {
    const hazardous = patternHazard(pattern) !== undefined;
    const left = Math.min(
      PATTERN_BUDGET_MS - spent,
      hazardous ? HAZARDOUS_SHARE_MS - spentOnHazardous : Number.POSITIVE_INFINITY,
    );
    if (left < 1) return undefined;
    const started = performance.now();
    const matched = matchesWhole(pattern, value, left);
    const took = performance.now() - started;
    spent += took;
    if (hazardous) spentOnHazardous += took;
    return matched;
  };
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
  const matches = patternChecker();
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
    if (p.pattern === undefined) continue;
    const matched = matches(p.pattern, value);
    if (matched === undefined)
      errors.push({
        parameter: p.name,
        code: 'pattern',
        message: `${p.name} could not be checked against ${p.pattern} in time`,
      });
    else if (!matched)
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
