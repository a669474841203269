/**
 * docs/deploy.md against what it describes: every value an operator sets through azd (the `${VAR}`
 * names in infra/main.parameters.json) has its row in section 4's table, every other parameter of
 * main.bicep is named, and every `npm run <script>` the guide tells someone to run exists.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { INFRA, REPO, params, readBicep } from './bicep-text';

const doc = readFileSync(join(REPO, 'docs', 'deploy.md'), 'utf8');
const main = readBicep(join(INFRA, 'main.bicep'));
const parameterFile = z
  .object({ parameters: z.record(z.string(), z.object({ value: z.unknown() })) })
  .parse(JSON.parse(readFileSync(join(INFRA, 'main.parameters.json'), 'utf8')));
const scripts = z
  .object({ scripts: z.record(z.string(), z.string()) })
  .parse(JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'))).scripts;

/** main.parameters.json's parameter → the azd environment value it reads (`${NAME}` or `${NAME=default}`). */
const azdValues = new Map(
  Object.entries(parameterFile.parameters).map(([param, { value }]) => [
    param,
    typeof value === 'string' ? (/\$\{([A-Z][A-Z0-9_]*)(?:=[^}]*)?\}/.exec(value)?.[1] ?? '') : '',
  ]),
);

/** Section 4's table: the first cell of each row, the azd values it names. */
function section(title: string): string {
  const start = doc.indexOf(`\n## ${title}`);
  const end = doc.indexOf('\n## ', start + 1);
  if (start < 0) throw new Error(`docs/deploy.md has no section "${title}"`);
  return doc.slice(start, end < 0 ? undefined : end);
}
const tableNames = new Set(
  section('4. `azd up`')
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .flatMap((line) => [...(line.split('|')[1] ?? '').matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1])),
);

describe('docs/deploy.md names what the templates let an operator set', () => {
  it('reads an azd value for every parameter in main.parameters.json, and each is a main.bicep parameter', () => {
    // Arrange
    const declared = new Set(params(main).map((p) => p.name));

    // Assess: a parameter without a `${VAR}` would be a value written in the file itself
    expect([...azdValues].filter(([, name]) => name === '')).toEqual([]);
    expect([...azdValues.keys()].filter((p) => !declared.has(p))).toEqual([]);
  });

  it.each([...azdValues].map(([param, name]) => ({ param, name })))(
    '$name ($param) has its row in section 4',
    ({ name }) => {
      // Assess
      expect(tableNames.has(name)).toBe(true);
    },
  );

  it.each(params(main).filter((p) => !azdValues.has(p.name)))(
    'main.bicep parameter $name, not read from azd, is named in the guide',
    ({ name }) => {
      // Assess
      expect(doc).toContain(`\`${name}\``);
    },
  );

  it('mentions no parameter file function that reads keys back (secretOrRandomPassword)', () => {
    // Assess
    expect(doc).not.toMatch(/secretOrRandomPassword/);
    expect(JSON.stringify(parameterFile)).not.toMatch(/secretOrRandomPassword/);
  });
});

describe("docs/deploy.md's npm commands exist", () => {
  const named = [
    ...new Set([...doc.matchAll(/npm run (?:--silent )?([a-z][a-z0-9:_-]*)/g)].map((m) => m[1] ?? '')),
  ];

  it('names the key rotation and the hooks', () => {
    // Assess: the guide's procedures run through these scripts
    expect(named).toEqual(
      expect.arrayContaining(['keys', 'azd:preprovision', 'azd:postprovision', 'package']),
    );
  });

  it.each(named)('npm run %s is a script in package.json', (script) => {
    // Assess
    expect(Object.keys(scripts)).toContain(script);
  });
});
