import { describe, expect, it } from 'vitest';
import {
  compareRoutePrecedence,
  compileRouteTemplate,
  parseRequestPath,
  RouteTemplateError,
  stripPrefix,
} from '@zsa/local-host/http';

const GUID = '0f8fad5b-d9cb-469f-a165-70867728950e';

describe('compileRouteTemplate → match', () => {
  const cases: {
    scenario: string;
    template: string;
    path: string;
    values: Record<string, string> | undefined;
  }[] = [
    { scenario: 'literal matches', template: 'health', path: '/health', values: {} },
    { scenario: 'literals ignore case', template: 'Pam/Enable', path: '/pAM/ENABLE', values: {} },
    { scenario: 'literal mismatch', template: 'health', path: '/healthz', values: undefined },
    { scenario: 'trailing slash is ignored', template: 'health', path: '/health/', values: {} },
    { scenario: 'extra segment does not match', template: 'health', path: '/health/x', values: undefined },
    {
      scenario: 'parameter binds the segment',
      template: 'requests/{id}',
      path: '/requests/r1',
      values: { id: 'r1' },
    },
    {
      scenario: 'parameter keeps its case',
      template: 'requests/{id}',
      path: '/REQUESTS/AbC',
      values: { id: 'AbC' },
    },
    {
      scenario: 'parameter is percent-decoded (%5C is a backslash)',
      template: 'tasks/{name}',
      path: '/tasks/Exchange%5CNew-MoveRequest',
      values: { name: 'Exchange\\New-MoveRequest' },
    },
    {
      scenario: 'an encoded slash stays encoded and inside one segment',
      template: 'tasks/{name}',
      path: '/tasks/a%2Fb',
      values: { name: 'a%2Fb' },
    },
    {
      scenario: 'malformed escape is left as sent',
      template: 'tasks/{name}',
      path: '/tasks/100%',
      values: { name: '100%' },
    },
    {
      scenario: 'missing required parameter',
      template: 'requests/{id}',
      path: '/requests',
      values: undefined,
    },
    { scenario: 'empty segment never binds', template: 'a/{x}/b', path: '/a//b', values: undefined },
    {
      scenario: 'optional present',
      template: 'groups/{name?}',
      path: '/groups/ops',
      values: { name: 'ops' },
    },
    { scenario: 'optional absent is left out', template: 'groups/{name?}', path: '/groups', values: {} },
    { scenario: 'two optionals, one given', template: 'a/{x?}/{y?}', path: '/a/1', values: { x: '1' } },
    { scenario: 'default fills an absent value', template: 'page/{n=1}', path: '/page', values: { n: '1' } },
    { scenario: 'default is overridden', template: 'page/{n:int=1}', path: '/page/7', values: { n: '7' } },
    {
      scenario: 'catch-all takes the rest',
      template: 'files/{*path}',
      path: '/files/a/b/c.txt',
      values: { path: 'a/b/c.txt' },
    },
    { scenario: 'catch-all may be empty', template: 'files/{*path}', path: '/files', values: {} },
    {
      scenario: 'double-star catch-all',
      template: 'files/{**path}',
      path: '/files/x/y',
      values: { path: 'x/y' },
    },
    { scenario: 'guid accepted', template: 't/{id:guid}', path: `/t/${GUID}`, values: { id: GUID } },
    {
      scenario: 'guid in braces accepted',
      template: 't/{id:guid}',
      path: `/t/{${GUID}}`,
      values: { id: `{${GUID}}` },
    },
    { scenario: 'guid rejected', template: 't/{id:guid}', path: '/t/not-a-guid', values: undefined },
    { scenario: 'int accepted', template: 't/{n:int}', path: '/t/-42', values: { n: '-42' } },
    { scenario: 'int rejected', template: 't/{n:int}', path: '/t/4x', values: undefined },
    { scenario: 'int overflow rejected', template: 't/{n:int}', path: '/t/2147483648', values: undefined },
    {
      scenario: 'long accepts beyond int',
      template: 't/{n:long}',
      path: '/t/2147483648',
      values: { n: '2147483648' },
    },
    { scenario: 'alpha accepted', template: 't/{x:alpha}', path: '/t/abcXYZ', values: { x: 'abcXYZ' } },
    { scenario: 'alpha rejected', template: 't/{x:alpha}', path: '/t/abc1', values: undefined },
    { scenario: 'bool ignores case', template: 't/{b:bool}', path: '/t/TRUE', values: { b: 'TRUE' } },
    { scenario: 'bool rejected', template: 't/{b:bool}', path: '/t/yes', values: undefined },
    {
      scenario: 'length range accepted',
      template: 't/{x:length(3,5)}',
      path: '/t/abcd',
      values: { x: 'abcd' },
    },
    { scenario: 'length range rejected', template: 't/{x:length(3,5)}', path: '/t/ab', values: undefined },
    { scenario: 'exact length', template: 't/{x:length(2)}', path: '/t/ab', values: { x: 'ab' } },
    { scenario: 'minlength rejected', template: 't/{x:minlength(3)}', path: '/t/ab', values: undefined },
    { scenario: 'maxlength rejected', template: 't/{x:maxlength(3)}', path: '/t/abcd', values: undefined },
    { scenario: 'min accepted', template: 't/{n:min(10)}', path: '/t/10', values: { n: '10' } },
    { scenario: 'max rejected', template: 't/{n:max(10)}', path: '/t/11', values: undefined },
    { scenario: 'range accepted', template: 't/{n:range(1,3)}', path: '/t/2', values: { n: '2' } },
    { scenario: 'chained constraints', template: 't/{n:int:min(1)}', path: '/t/0', values: undefined },
    { scenario: 'regex accepted', template: 't/{x:regex(^\\d{{3}}$)}', path: '/t/123', values: { x: '123' } },
    { scenario: 'regex rejected', template: 't/{x:regex(^\\d{{3}}$)}', path: '/t/1234', values: undefined },
    { scenario: 'regex with a slash', template: 't/{x:regex(^a/?b$)}', path: '/t/ab', values: { x: 'ab' } },
    { scenario: 'optional with constraint absent', template: 't/{n:int?}', path: '/t', values: {} },
    { scenario: 'optional with constraint wrong', template: 't/{n:int?}', path: '/t/x', values: undefined },
    {
      scenario: 'complex segment',
      template: 'f/{name}.{ext}',
      path: '/f/a.b.txt',
      values: { name: 'a.b', ext: 'txt' },
    },
    {
      scenario: 'complex optional tail given',
      template: 'f/{name}.{ext?}',
      path: '/f/x.json',
      values: { name: 'x', ext: 'json' },
    },
    {
      scenario: 'complex optional tail absent',
      template: 'f/{name}.{ext?}',
      path: '/f/x',
      values: { name: 'x' },
    },
    {
      scenario: 'complex literals ignore case',
      template: 'v{major}-Beta',
      path: '/V2-BETA',
      values: { major: '2' },
    },
    { scenario: 'escaped braces are literal', template: 'a{{b}}', path: '/a{b}', values: {} },
    { scenario: 'dot segments are resolved', template: 'a/b', path: '/a/x/../b', values: {} },
    { scenario: 'empty template matches the root', template: '', path: '/', values: {} },
    { scenario: 'leading slash in template ignored', template: '/health', path: '/health', values: {} },
  ];

  it.each(cases)('$scenario', ({ template, path, values }) => {
    // Prepare
    const route = compileRouteTemplate(template);

    // Act
    const result = route.match(parseRequestPath(path));

    // Assess
    expect(result).toEqual(values);
  });
});

describe('compileRouteTemplate rejects invalid templates', () => {
  const cases: { scenario: string; template: string }[] = [
    { scenario: 'catch-all not last', template: '{*rest}/x' },
    { scenario: 'optional catch-all', template: '{*rest?}' },
    { scenario: 'unknown constraint', template: '{x:colour}' },
    { scenario: 'constraint with bad arguments', template: '{x:length(a)}' },
    { scenario: 'arguments on a constraint that takes none', template: '{x:int(3)}' },
    { scenario: 'invalid regex', template: '{x:regex(()}' },
    { scenario: 'duplicate parameter names', template: '{id}/{ID}' },
    { scenario: 'unterminated parameter', template: 'a/{id' },
    { scenario: 'unmatched closing brace', template: 'a}' },
    { scenario: 'empty segment', template: 'a//b' },
    { scenario: 'question mark in a literal', template: 'a?b' },
    { scenario: 'two consecutive parameters', template: '{a}{b}' },
    { scenario: 'empty parameter name', template: '{}' },
  ];

  it.each(cases)('$scenario', ({ template }) => {
    // Act
    const act = (): unknown => compileRouteTemplate(template);

    // Assess
    expect(act).toThrow(RouteTemplateError);
  });
});

describe('compareRoutePrecedence', () => {
  it('orders literal, constrained, plain parameter, catch-all, then by template text', () => {
    // Prepare
    const templates = ['t/{*rest}', 't/{id}', 'b', 't/{id:int}', 't/latest', 'a', 't/{x}.{y}'];

    // Act
    const ordered = templates.map(compileRouteTemplate).sort(compareRoutePrecedence);

    // Assess
    expect(ordered.map((r) => r.template)).toEqual([
      'a',
      'b',
      't/latest',
      't/{id:int}',
      't/{x}.{y}',
      't/{id}',
      't/{*rest}',
    ]);
  });

  it('prefers the shorter template when both can match the same path', () => {
    // Prepare
    const routes = ['a/{x?}', 'a'].map(compileRouteTemplate);

    // Act
    const [first] = routes.sort(compareRoutePrecedence);

    // Assess
    expect(first?.template).toBe('a');
  });
});

describe('parseRequestPath and stripPrefix', () => {
  const cases: { scenario: string; path: string; prefix: string[]; rest: string[] | undefined }[] = [
    { scenario: 'under the prefix', path: '/api/a/b', prefix: ['api'], rest: ['a', 'b'] },
    { scenario: 'prefix ignores case', path: '/API/a', prefix: ['api'], rest: ['a'] },
    { scenario: 'the prefix itself', path: '/api', prefix: ['api'], rest: [] },
    { scenario: 'not under the prefix', path: '/apix/a', prefix: ['api'], rest: undefined },
    {
      scenario: 'dot segments leave the prefix',
      path: '/api/../dev/token',
      prefix: ['api'],
      rest: undefined,
    },
    { scenario: 'empty prefix takes everything', path: '/x/y', prefix: [], rest: ['x', 'y'] },
    { scenario: 'multi-segment prefix', path: '/v1/api/x', prefix: ['v1', 'api'], rest: ['x'] },
  ];

  it.each(cases)('$scenario', ({ path, prefix, rest }) => {
    // Act
    const result = stripPrefix(parseRequestPath(path), prefix);

    // Assess
    expect(result?.segments).toEqual(rest);
  });
});
