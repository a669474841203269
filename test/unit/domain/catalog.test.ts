import { describe, expect, it } from 'vitest';
import {
  assertParameters,
  catalogFrom,
  effectiveTasks,
  missingMembers,
  type ParameterErrorCode,
  PATTERN_BUDGET_MS,
  patternHazard,
  Role,
  RoleGroup,
  Task,
  type TaskParameter,
  toTaskSummary,
  unsafePatterns,
  validateParameters,
} from '#shared/domain/catalog';
import { isDomainError } from '#shared/domain/errors';
import { aCatalog, aRole, aRoleGroup, aTask, MAILBOX, MOVE, RESET } from './builders';

describe('task schema', () => {
  const base = { name: MOVE, description: 'Move a mailbox' };

  it.each([
    {
      name: 'https webhook',
      executor: { type: 'webhook', url: 'https://automation.example.com/hook?token=x' },
    },
    { name: 'http webhook on loopback', executor: { type: 'webhook', url: 'http://127.0.0.1:8080/hook' } },
    { name: 'http webhook on localhost', executor: { type: 'webhook', url: 'http://localhost:8080/hook' } },
    { name: 'Service Bus queue', executor: { type: 'serviceBus', queue: 'exchange-commands' } },
  ])('accepts a $name', ({ executor }) => {
    // Act / Assess
    expect(Task.safeParse({ ...base, executor }).success).toBe(true);
  });

  it.each([
    {
      name: 'plain http to a remote host',
      task: { ...base, executor: { type: 'webhook', url: 'http://automation.example.com/hook' } },
      message: 'https',
    },
    {
      name: 'a URL with credentials',
      task: { ...base, executor: { type: 'webhook', url: 'https://u:p@example.com/' } },
      message: 'credentials',
    },
    {
      name: 'a non-http URL',
      task: { ...base, executor: { type: 'webhook', url: 'ftp://example.com/' } },
      message: 'http(s)',
    },
    {
      name: 'an unknown executor type',
      task: { ...base, executor: { type: 'shell', command: 'rm' } },
      message: '',
    },
    {
      name: 'a bad queue name',
      task: { ...base, executor: { type: 'serviceBus', queue: '-queue-' } },
      message: 'queue',
    },
    {
      name: 'an unknown field',
      task: { ...base, executor: { type: 'serviceBus', queue: 'q' }, owner: 'x' },
      message: 'owner',
    },
    {
      name: 'a blank description',
      task: { ...base, description: ' ', executor: { type: 'serviceBus', queue: 'q' } },
      message: 'empty',
    },
    {
      name: 'duplicate parameter names',
      task: {
        ...base,
        executor: { type: 'serviceBus', queue: 'q' },
        parameters: [
          { name: 'Id', type: 'string' },
          { name: 'Id', type: 'number' },
        ],
      },
      message: 'twice',
    },
    {
      name: 'a pattern on a number',
      task: {
        ...base,
        executor: { type: 'serviceBus', queue: 'q' },
        parameters: [{ name: 'N', type: 'number', pattern: '\\d+' }],
      },
      message: 'pattern',
    },
    {
      name: 'an invalid pattern',
      task: {
        ...base,
        executor: { type: 'serviceBus', queue: 'q' },
        parameters: [{ name: 'S', type: 'string', pattern: '(' }],
      },
      message: 'regular expression',
    },
    {
      name: 'a parameter named __proto__',
      task: {
        ...base,
        executor: { type: 'serviceBus', queue: 'q' },
        parameters: [{ name: '__proto__', type: 'string' }],
      },
      message: 'letter',
    },
  ])('refuses $name', ({ task, message }) => {
    // Act
    const result = Task.safeParse(task);

    // Assess
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.message).join('\n')).toContain(message);
  });

  it('hides the executor from the summary every user may list', () => {
    // Act
    const summary = toTaskSummary(
      aTask({ parameters: [{ name: 'Identity', type: 'string', required: true }] }),
    );

    // Assess
    expect(summary).toEqual({
      name: MOVE,
      description: 'Move a mailbox to another database',
      parameters: [{ name: 'Identity', type: 'string', required: true }],
    });
    expect(JSON.stringify(summary)).not.toContain('automation.example.com');
  });
});

describe('role and role group schemas', () => {
  it.each([
    { name: 'a role with no task', parse: () => Role.safeParse({ name: 'R', tasks: [] }) },
    { name: 'a role listing a task twice', parse: () => Role.safeParse({ name: 'R', tasks: [MOVE, MOVE] }) },
    { name: 'a role group with no role', parse: () => RoleGroup.safeParse({ name: 'G', roles: [] }) },
    {
      name: 'a role group with an unknown field',
      parse: () => RoleGroup.safeParse({ name: 'G', roles: ['R'], tasks: [] }),
    },
  ])('refuses $name', ({ parse }) => {
    // Act / Assess
    expect(parse().success).toBe(false);
  });

  it('reports members the catalog lacks, pointing at each one', () => {
    // Prepare
    const catalog = aCatalog();

    // Act
    const roleErrors = missingMembers(aRole({ tasks: [MOVE, 'Ghost\\Task'] }), catalog);
    const groupErrors = missingMembers(aRoleGroup({ roles: ['Nobody', 'Mailbox Operator'] }), catalog);

    // Assess
    expect(roleErrors).toEqual([{ pointer: '#/tasks/1', detail: 'no task named "Ghost\\\\Task"' }]);
    expect(groupErrors).toEqual([{ pointer: '#/roles/0', detail: 'no role named "Nobody"' }]);
  });
});

describe('effective tasks', () => {
  it.each([
    { name: 'a task → itself', target: { scope: 'task', name: RESET }, tasks: [RESET] },
    {
      name: 'a role → its tasks, in its order',
      target: { scope: 'role', name: 'Mailbox Operator' },
      tasks: [MOVE, MAILBOX],
    },
    {
      name: 'a role group → its roles’ tasks',
      target: { scope: 'roleGroup', name: 'Exchange Operations' },
      tasks: [MOVE, MAILBOX],
    },
  ] as const)('$name', ({ target, tasks }) => {
    // Act / Assess
    expect(effectiveTasks(target, aCatalog()).map((t) => t.name)).toEqual(tasks);
  });

  it('a role group whose roles overlap lists each task once, dangling members skipped', () => {
    // Prepare
    const catalog = catalogFrom({
      tasks: [aTask(), aTask({ name: MAILBOX }), aTask({ name: RESET })],
      roles: [
        aRole({ name: 'A', tasks: [MOVE, MAILBOX] }),
        aRole({ name: 'B', tasks: [MAILBOX, 'Gone', RESET] }),
      ],
      roleGroups: [aRoleGroup({ name: 'G', roles: ['A', 'Missing', 'B'] })],
    });

    // Act
    const tasks = effectiveTasks({ scope: 'roleGroup', name: 'G' }, catalog);

    // Assess
    expect(tasks.map((t) => t.name)).toEqual([MOVE, MAILBOX, RESET]);
  });

  it.each([
    { name: 'an unknown task → NOT_FOUND', target: { scope: 'task', name: 'Nope' }, code: 'NOT_FOUND' },
    { name: 'an unknown role → NOT_FOUND', target: { scope: 'role', name: 'Nope' }, code: 'NOT_FOUND' },
    {
      name: 'a role whose tasks are all gone → CONFLICT',
      target: { scope: 'role', name: 'Empty' },
      code: 'CONFLICT',
    },
  ] as const)('$name', ({ target, code }) => {
    // Prepare
    const catalog = catalogFrom({ tasks: [aTask()], roles: [aRole({ name: 'Empty', tasks: ['Gone'] })] });

    // Act
    let error: unknown;
    try {
      effectiveTasks(target, catalog);
    } catch (e) {
      error = e;
    }

    // Assess
    expect(isDomainError(error, code)).toBe(true);
  });

  it('lists containing roles and groups by name, whatever the input order', () => {
    // Prepare
    const catalog = catalogFrom({
      roles: [aRole({ name: 'Zeta' }), aRole({ name: 'Alpha' }), aRole({ name: 'Other', tasks: [RESET] })],
      roleGroups: [
        aRoleGroup({ name: 'Z', roles: ['Zeta'] }),
        aRoleGroup({ name: 'A', roles: ['Zeta', 'Alpha'] }),
      ],
    });

    // Act / Assess
    expect(catalog.rolesContainingTask(MOVE).map((r) => r.name)).toEqual(['Alpha', 'Zeta']);
    expect(catalog.roleGroupsContainingRole('Zeta').map((g) => g.name)).toEqual(['A', 'Z']);
  });
});

describe('parameter validation', () => {
  const description: TaskParameter[] = [
    { name: 'Identity', type: 'string', required: true, pattern: '[a-z]+@contoso\\.com', maxLength: 20 },
    { name: 'Count', type: 'number', required: false },
    { name: 'Force', type: 'boolean', required: false },
  ];

  it.each<{
    name: string;
    given: Record<string, string | number | boolean> | undefined;
    errors: [string, ParameterErrorCode][];
  }>([
    { name: 'all valid', given: { Identity: 'ceo@contoso.com', Count: 2, Force: true }, errors: [] },
    { name: 'only the required one', given: { Identity: 'ceo@contoso.com' }, errors: [] },
    { name: 'missing required', given: { Count: 1 }, errors: [['Identity', 'missing']] },
    { name: 'nothing given at all', given: undefined, errors: [['Identity', 'missing']] },
    {
      name: 'wrong type (number as string)',
      given: { Identity: 'ceo@contoso.com', Count: '2' },
      errors: [['Count', 'type']],
    },
    {
      name: 'wrong type (boolean as string)',
      given: { Identity: 'ceo@contoso.com', Force: 'true' },
      errors: [['Force', 'type']],
    },
    {
      name: 'pattern must match the whole value',
      given: { Identity: 'x ceo@contoso.com' },
      errors: [['Identity', 'pattern']],
    },
    {
      name: 'too long',
      given: { Identity: 'averyveryverylongname@contoso.com' },
      errors: [['Identity', 'maxLength']],
    },
    {
      name: 'unknown parameters, sorted',
      given: { Identity: 'ceo@contoso.com', Zed: 1, Alpha: 'x' },
      errors: [
        ['Alpha', 'unknown'],
        ['Zed', 'unknown'],
      ],
    },
  ])('$name', ({ given, errors }) => {
    // Act
    const check = validateParameters(description, given);

    // Assess
    expect(check.ok ? [] : check.errors.map((e) => [e.parameter, e.code])).toEqual(errors);
  });

  it('a task without parameters refuses any', () => {
    // Act
    const check = validateParameters(undefined, { Identity: 'x' });

    // Assess
    expect(check).toMatchObject({ ok: false, errors: [{ parameter: 'Identity', code: 'unknown' }] });
  });

  it('assertParameters throws INVALID_PARAMETERS with a pointer per problem', () => {
    // Prepare
    const task = aTask({ parameters: description });

    // Act
    let error: unknown;
    try {
      assertParameters(task, { Count: 'x' });
    } catch (e) {
      error = e;
    }

    // Assess
    expect(isDomainError(error, 'INVALID_PARAMETERS')).toBe(true);
    expect(isDomainError(error) ? error.errors : []).toEqual([
      { pointer: '#/parameters/Identity', detail: 'Identity is required' },
      { pointer: '#/parameters/Count', detail: 'Count must be a number, got a string' },
    ]);
  });
});

describe('admin-written patterns cannot stall the worker', () => {
  it('refuses a crafted value against a catastrophic pattern within the time budget', () => {
    // Prepare: nested quantifiers backtrack exponentially on a near-miss.
    const params = [
      { name: 'alias', type: 'string' as const, required: true, pattern: '([A-Za-z0-9]+[ -]?)+' },
    ];
    // Act
    const started = performance.now();
    const check = validateParameters(params, { alias: `${'a'.repeat(40)}!` });
    const elapsed = performance.now() - started;
    // Assess
    expect(check.ok).toBe(false);
    expect(elapsed).toBeLessThan(1000);
    expect(validateParameters(params as TaskParameter[], { alias: 'john-doe 42' }).ok).toBe(true);
  });

  it('never runs the pattern on a value already over maxLength', () => {
    const params = [
      { name: 'a', type: 'string' as const, required: true, maxLength: 5, pattern: '(x+x+)+y' },
    ];
    const check = validateParameters(params, { a: 'x'.repeat(5000) });
    expect(check).toMatchObject({ ok: false, errors: [{ code: 'maxLength' }] });
  });
});

describe('patterns that could backtrack catastrophically are refused when a task is saved', () => {
  it.each<{ name: string; pattern: string; hazard: RegExp | undefined }>([
    { name: 'an address', pattern: '[a-z]+@contoso\\.com', hazard: undefined },
    { name: 'distinct alternatives, repeated', pattern: '(foo|bar)+', hazard: undefined },
    { name: 'a bounded repetition', pattern: '[a-z0-9-]{1,63}', hazard: undefined },
    { name: 'Unicode properties', pattern: '\\p{Lu}[\\p{L}\\p{M}]*', hazard: undefined },
    { name: 'a lookahead', pattern: '(?=.*\\d)[a-z0-9]{8,}', hazard: undefined },
    { name: 'a repeated group with nothing repeated inside', pattern: '(ab)+', hazard: undefined },
    { name: 'alternatives inside a group that is not repeated', pattern: '(a|ab)c', hazard: undefined },
    { name: 'an escaped digit in a class', pattern: '[\\d.]+', hazard: undefined },
    { name: 'a lookbehind', pattern: '(?<=a)b', hazard: undefined },
    { name: 'an optional domain prefix', pattern: '(?:CONTOSO\\\\)?[a-z]+', hazard: undefined },
    { name: 'a host name label', pattern: '[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?', hazard: undefined },
    { name: 'a counted group with nothing repeated inside', pattern: '(ab){1,100}', hazard: undefined },
    { name: 'nested +', pattern: '(a+)+', hazard: /holds a quantifier/ },
    { name: 'nested *', pattern: '(a*)*', hazard: /holds a quantifier/ },
    { name: 'nested, in a non-capturing group', pattern: '(?:a+)+b', hazard: /holds a quantifier/ },
    { name: 'nested, in a named group', pattern: '(?<x>a+)+', hazard: /holds a quantifier/ },
    { name: 'a counted group holding a quantifier', pattern: '(.*a){20}', hazard: /holds a quantifier/ },
    { name: 'the dotted-words shape', pattern: '([A-Za-z0-9]+[ -]?)+', hazard: /holds a quantifier/ },
    { name: 'a twice-repeated group holding a quantifier', pattern: '(a+){2}', hazard: /holds a quantifier/ },
    { name: 'a quantifier two groups deep', pattern: '((a+)?b)*', hazard: /holds a quantifier/ },
    { name: 'a lazy quantifier inside', pattern: '(a+?)+', hazard: /holds a quantifier/ },
    { name: 'the same alternative twice, repeated', pattern: '(a|a)*', hazard: /alternatives/ },
    { name: 'an alternative that begins another, repeated', pattern: '(a|ab)*c', hazard: /alternatives/ },
    { name: 'an alternative that may begin anywhere, repeated', pattern: '(\\w|x)+', hazard: /alternatives/ },
    { name: 'an optional first character, repeated', pattern: '(a?b|b)+', hazard: /alternatives/ },
    { name: 'an empty alternative, repeated', pattern: '(a|)+', hazard: /alternatives/ },
    { name: 'a numbered back-reference', pattern: '(\\w)\\1', hazard: /back-reference/ },
    { name: 'a named back-reference', pattern: '(?<w>a)\\k<w>', hazard: /back-reference/ },
  ])('$name: $pattern', ({ pattern, hazard }) => {
    // Act
    const found = patternHazard(pattern);

    // Assess
    if (hazard === undefined) expect(found).toBeUndefined();
    else expect(found).toMatch(hazard);
  });

  it('names each parameter whose pattern is refused, with a pointer to it', () => {
    // Prepare
    const parameters: TaskParameter[] = [
      { name: 'Identity', type: 'string', required: true, pattern: '[a-z]+' },
      { name: 'Alias', type: 'string', required: false, pattern: '(a+)+' },
      { name: 'Count', type: 'number', required: false },
      { name: 'Ref', type: 'string', required: false, pattern: '(x)\\1' },
    ];

    // Act
    const errors = unsafePatterns(parameters);

    // Assess
    expect(errors.map((e) => e.pointer)).toEqual(['#/parameters/1/pattern', '#/parameters/3/pattern']);
    expect(errors[0]?.detail).toMatch(/^Alias: /);
    expect(errors[1]?.detail).toMatch(/^Ref: /);
  });
});

describe('one pattern budget per request', () => {
  /** String parameters with a pattern saved before the check above existed. */
  const hostile = (count: number): TaskParameter[] =>
    Array.from({ length: count }, (_, i) => ({
      name: `p${i}`,
      type: 'string' as const,
      required: true,
      pattern: '(a+)+b',
    }));
  const nearMiss = (params: readonly TaskParameter[]) =>
    Object.fromEntries(params.map((p) => [p.name, 'a'.repeat(30)]));

  it('fifty values against a catastrophic pattern hold the worker for one budget, not fifty', () => {
    // Prepare
    const params = hostile(50);

    // Act
    const started = performance.now();
    const check = validateParameters(params, nearMiss(params));
    const elapsed = performance.now() - started;

    // Assess: every value refused, in about one budget (50 budgets of the old rule took 2.5 s).
    expect(check.ok ? [] : check.errors.map((e) => e.code)).toEqual(Array(50).fill('pattern'));
    // The margin is for other test files sharing the cores; the old rule took 2.5 s.
    expect(elapsed).toBeLessThan(PATTERN_BUDGET_MS + 850);
  });

  it('a harmless pattern is still checked after catastrophic ones spent their share', () => {
    // Prepare
    const params = [
      ...hostile(5),
      { name: 'alias', type: 'string' as const, required: true, pattern: '[a-z]+' },
    ];

    // Act
    const check = validateParameters(params, { ...nearMiss(hostile(5)), alias: 'abc' });

    // Assess: only the hostile ones are refused.
    expect(check.ok ? [] : check.errors.map((e) => e.parameter)).toEqual(['p0', 'p1', 'p2', 'p3', 'p4']);
  });

  it('a catastrophic pattern still accepts a value it matches at once', () => {
    // Act: the budget is wall-clock time and other test files share the cores, so one attempt can be
    // descheduled past its 50 ms share; a rule that never accepts would fail every attempt.
    const attempts = Array.from({ length: 3 }, () =>
      validateParameters(hostile(3), { p0: 'aab', p1: 'ab', p2: 'aaaab' }),
    );

    // Assess
    expect(attempts).toContainEqual({ ok: true });
  });
});
