import { RE2JS } from 're2js';
import { z } from 'zod';
import { DomainError, type FieldError } from './errors';
import { CatalogName, codePointLength, RoleGroupName, RoleName, TaskName } from './names';
import { isHttpsOrLoopback } from './loopback';

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
/**
 * Most steps a compiled pattern may have. A match costs up to steps × value length, so this keeps
 * one check bounded; only long counted repetitions come near it (`.{0,1000}` is about 2,000 steps,
 * an IPv4 address 31), and `maxLength` bounds a length better than `{0,5000}` does.
 */
export const MAX_PATTERN_STEPS = 3000;

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
    name: ParameterName.meta({ description: 'The parameter name: a letter, then letters, digits, - or _.' }),
    type: z.enum(ParameterType).meta({ description: '`string`, `number` or `boolean`.' }),
    required: z
      .boolean()
      .default(false)
      .meta({ description: 'Whether every request and execution must give it (default false).' }),
    description: z
      .string()
      .max(1000)
      .optional()
      .meta({ description: 'What the parameter is, for whoever fills it in.' }),
    /** A regular expression (JavaScript syntax, `u` flag) the *whole* string value must match, in linear time. */
    pattern: z
      .string()
      .min(1)
      .max(512)
      .refine(compiles, 'must be a valid regular expression')
      .meta({
        description: `A regular expression (JavaScript syntax, \`u\` flag) the whole value must match. It is matched in time linear in the value's length (RE2), so \`PUT\` refuses what no linear-time engine runs: back-references (\`\\1\`, \`\\k<name>\`) and lookaround (\`(?=\`, \`(?!\`, \`(?<=\`, \`(?<!\`), and a pattern that compiles to more than ${MAX_PATTERN_STEPS} steps (a long counted repetition: use \`maxLength\`).`,
      })
      .optional(),
    maxLength: z
      .int()
      .min(1)
      .max(MAX_PARAMETER_STRING)
      .optional()
      .meta({ description: 'The longest string value allowed, in characters.' }),
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

export const WebhookExecutor = z.strictObject({
  type: z.literal('webhook').meta({ description: '`webhook`: ZSA calls an HTTPS URL, signed.' }),
  url: z
    .url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL' })
    .max(2048)
    .superRefine((raw, ctx) => {
      const url = new URL(raw);
      // Plain http would expose the signed execution on the wire; only loopback test servers may use it.
      if (!isHttpsOrLoopback(url))
        ctx.addIssue({ code: 'custom', message: 'must use https (plain http only for loopback)' });
      if (url.username !== '' || url.password !== '')
        ctx.addIssue({ code: 'custom', message: 'must not carry credentials' });
    })
    .meta({ description: 'The URL ZSA calls (https; plain http only for loopback).' }),
});

export const ServiceBusExecutor = z.strictObject({
  type: z
    .literal('serviceBus')
    .meta({ description: '`serviceBus`: ZSA sends a message to a Service Bus queue.' }),
  queue: z
    .string()
    .regex(
      /^[A-Za-z0-9](?:[A-Za-z0-9._/-]{0,258}[A-Za-z0-9])?$/,
      'must be a Service Bus queue name: 1 to 260 letters, digits, . _ - /, starting and ending with a letter or digit',
    )
    .meta({ description: 'The queue ZSA sends the execution to.' }),
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
  name: TaskName.meta({ description: 'The task name (any printable Unicode, `\\` and `/` included).' }),
  description: z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(2000)
    .meta({ description: 'What the task does, as users see it.' }),
  executor: Executor.meta({
    description: 'What runs the task: a webhook or a Service Bus queue (admins and auditors only).',
  }),
  parameters: z
    .array(TaskParameter)
    .max(MAX_PARAMETERS)
    .superRefine(uniqueBy((p) => p.name, 'parameter'))
    .optional()
    .meta({ description: 'The parameters a request or an execution of the task gives, each checked.' }),
});
export type Task = z.output<typeof Task>;

/** Upper bound on a role's tasks and a role group's roles; storage keeps one row per member. */
export const MAX_MEMBERS = 500;

/** Body of `PUT /api/catalog/roles`, and a stored role. */
export const Role = z.strictObject({
  name: RoleName.meta({ description: 'The role name.' }),
  tasks: z
    .array(TaskName)
    .min(1, 'must name at least one task')
    .max(MAX_MEMBERS)
    .superRefine(uniqueBy((t) => t, 'task'))
    .meta({ description: 'The tasks the role holds.' }),
});
export type Role = z.output<typeof Role>;

/** Body of `PUT /api/catalog/role-groups`, and a stored role group. */
export const RoleGroup = z.strictObject({
  name: RoleGroupName.meta({ description: 'The role group name.' }),
  roles: z
    .array(RoleName)
    .min(1, 'must name at least one role')
    .max(MAX_MEMBERS)
    .superRefine(uniqueBy((r) => r, 'role'))
    .meta({ description: 'The roles the role group holds.' }),
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

// --- Patterns -----------------------------------------------------------------------------------

/*
 * Patterns are written by admins and matched against any user's values, so they run on a
 * linear-time engine (RE2, through `re2js`; docs/decisions/0008-linear-time-patterns.md): a match
 * costs time in proportion to the value's length, whatever the pattern, and cannot backtrack
 * catastrophically. Admins still write JavaScript syntax (`u` flag), and a value matches exactly
 * when `new RegExp('^(?:' + pattern + ')$', 'u')` would say so: the few places where RE2 reads the
 * same text differently are rewritten before it compiles (`toEngineSyntax`), and the constructs
 * RE2 cannot run at all (back-references, lookaround) are refused when the task is saved.
 */

/** What ECMAScript's `\s` matches (WhiteSpace and LineTerminator); RE2's `\s` is ASCII only. */
const JS_SPACE: readonly (readonly [number, number])[] = [
  [0x09, 0x0d],
  [0x20, 0x20],
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x2000, 0x200a],
  [0x2028, 0x2029],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
  [0xfeff, 0xfeff],
];

function complement(ranges: readonly (readonly [number, number])[]): [number, number][] {
  const out: [number, number][] = [];
  let next = 0;
  for (const [lo, hi] of ranges) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= 0x10ffff) out.push([next, 0x10ffff]);
  return out;
}

const classBody = (ranges: readonly (readonly [number, number])[]): string =>
  ranges
    .map(([lo, hi]) =>
      lo === hi ? `\\x{${lo.toString(16)}}` : `\\x{${lo.toString(16)}}-\\x{${hi.toString(16)}}`,
    )
    .join('');

const SPACE = classBody(JS_SPACE);
const NOT_SPACE = classBody(complement(JS_SPACE));
/** JavaScript's `.` (without the `s` flag) stops at every line terminator; RE2's only at `\n`. */
const DOT = '[^\\n\\r\\x{2028}\\x{2029}]';

/**
 * The pattern in RE2's syntax with JavaScript's meaning, or the construct RE2 cannot run. Assumes
 * a pattern that compiles with the `u` flag (the schema checks that first), where every escape is
 * well formed and a class is closed. `re2js`'s own translation then handles `\u…`, `\cX` and
 * named groups; this pass covers what it would silently change: `.`, `\s`, `\S`, `[]`, `[^]`,
 * `\p{Script=…}`, and back-references (it turns `\k<n>` into the literal text `k<n>`).
 */
function toEngineSyntax(pattern: string): { source: string } | { unsupported: string } {
  let out = '';
  let inClass = false;
  let i = 0;
  while (i < pattern.length) {
    const c = pattern.charAt(i);
    if (c === '\\') {
      const next = pattern.charAt(i + 1);
      if (!inClass && /[1-9]/.test(next)) return { unsupported: `a back-reference (\\${next})` };
      if (next === 'k') return { unsupported: 'a named back-reference (\\k<name>)' };
      if (inClass && next === 'b')
        return { unsupported: 'a backspace escape in a class ([\\b]; write \\x08)' };
      if (next === 's' || next === 'S') {
        const set = next === 's' ? SPACE : NOT_SPACE;
        out += inClass ? set : `[${set}]`;
        i += 2;
        continue;
      }
      if ((next === 'p' || next === 'P') && pattern.charAt(i + 2) === '{') {
        const close = pattern.indexOf('}', i);
        const property = pattern.slice(i + 3, close);
        if (/^(Script_Extensions|scx)=/.test(property))
          return { unsupported: `a Script_Extensions property (\\${next}{${property}})` };
        // RE2 names categories and scripts bare: \p{Lu}, \p{Greek}.
        const bare = /^(?:General_Category|gc|Script|sc)=(.+)$/.exec(property)?.[1] ?? property;
        out += `\\${next}{${bare}}`;
        i = close + 1;
        continue;
      }
      out += c + next;
      i += 2;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      i += 1;
      continue;
    }
    if (pattern.startsWith('[]', i)) {
      out += '[^\\x{0}-\\x{10ffff}]'; // JavaScript's empty class matches nothing; RE2 reads `[]…]`
      i += 2;
    } else if (pattern.startsWith('[^]', i)) {
      out += '[\\x{0}-\\x{10ffff}]';
      i += 3;
    } else if (c === '[') {
      inClass = true;
      out += c;
      i += 1;
    } else if (pattern.startsWith('(?=', i) || pattern.startsWith('(?!', i)) {
      return { unsupported: 'a lookahead ((?=…) or (?!…))' };
    } else if (pattern.startsWith('(?<=', i) || pattern.startsWith('(?<!', i)) {
      return { unsupported: 'a lookbehind ((?<=…) or (?<!…))' };
    } else {
      out += c === '.' ? DOT : c;
      i += 1;
    }
  }
  return { source: RE2JS.translateRegExp(out) };
}

type Compiled = { readonly regex: RE2JS } | { readonly unsupported: string };

/**
 * Compiled patterns, by source, least recently used first. Compiling costs up to a few
 * milliseconds, so a task's patterns stay compiled; each holds the engine's lazily built automaton,
 * which crafted values can grow to a few megabytes (the engine caps it at 8 MB), so not too many.
 */
const compiledPatterns = new Map<string, Compiled>();
const MAX_COMPILED_PATTERNS = 128;

function compilePattern(pattern: string): Compiled {
  const cached = compiledPatterns.get(pattern);
  if (cached !== undefined) {
    compiledPatterns.delete(pattern);
    compiledPatterns.set(pattern, cached);
    return cached;
  }
  let compiled: Compiled;
  try {
    new RegExp(pattern, 'u');
    const syntax = toEngineSyntax(pattern);
    if ('unsupported' in syntax) compiled = syntax;
    else {
      // Anchored in the pattern, not by the call: the engine's unanchored search keeps its
      // automaton's transitions, which makes repeated checks far cheaper than its anchored one.
      const regex = RE2JS.compile(`^(?:${syntax.source})$`);
      const steps = regex.programSize();
      compiled =
        steps > MAX_PATTERN_STEPS
          ? {
              unsupported: `a pattern of ${steps} steps, more than ${MAX_PATTERN_STEPS} (a long counted repetition such as {0,5000}: bound the length with maxLength instead)`,
            }
          : { regex };
    }
  } catch (e) {
    // A syntax RE2 lacks (say, a Unicode property it does not know), or not a pattern at all.
    const detail = e instanceof Error ? e.message.replace(/^error parsing regexp: /, '') : String(e);
    compiled = { unsupported: `a construct the linear-time engine cannot compile (${detail})` };
  }
  if (compiledPatterns.size >= MAX_COMPILED_PATTERNS) {
    const oldest = compiledPatterns.keys().next();
    if (oldest.done !== true) compiledPatterns.delete(oldest.value);
  }
  compiledPatterns.set(pattern, compiled);
  return compiled;
}

/**
 * Why ZSA cannot match values against `pattern`, or undefined when it can: it uses a
 * back-reference or a lookaround (which no linear-time engine runs), something else RE2 lacks,
 * or it compiles to more than `MAX_PATTERN_STEPS`.
 */
export function unsupportedPattern(pattern: string): string | undefined {
  const compiled = compilePattern(pattern);
  return 'unsupported' in compiled ? `it uses ${compiled.unsupported}, which ZSA cannot run` : undefined;
}

/** Field errors for `INVALID_INPUT` on `PUT /api/catalog/tasks`: one per parameter whose pattern ZSA cannot run. */
export function unsupportedPatterns(parameters: readonly TaskParameter[] | undefined): readonly FieldError[] {
  return (parameters ?? []).flatMap((p, i) => {
    const reason = p.pattern === undefined ? undefined : unsupportedPattern(p.pattern);
    return reason === undefined
      ? []
      : [{ pointer: `#/parameters/${i}/pattern`, detail: `${p.name}: ${reason}` }];
  });
}

/**
 * Whether `value` matches the whole of `pattern` (what an admin writing `[a-z]+` means), in time
 * linear in the value's length; undefined when ZSA cannot run the pattern (`unsupportedPattern`).
 */
export function matchesWhole(pattern: string, value: string): boolean | undefined {
  const compiled = compilePattern(pattern);
  return 'regex' in compiled ? compiled.regex.test(value) : undefined;
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
    if (p.pattern === undefined) continue;
    const unsupported = unsupportedPattern(p.pattern);
    if (unsupported !== undefined)
      // A task saved before such patterns were refused on save: the value cannot be judged, so it
      // is refused, and the message says what would fix it (the task, not the value).
      errors.push({
        parameter: p.name,
        code: 'pattern',
        message: `${p.name} cannot be checked: the task's pattern ${unsupported}; an admin must save the task again with a pattern ZSA supports`,
      });
    else if (matchesWhole(p.pattern, value) !== true)
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
