/**
 * The rules of `npm run package` that need no files: which packages of a lock are the production
 * closure, which package.json fields ship, which files are left out. The staged folder itself is
 * checked in test/component/infra/deploy-package.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  PackageError,
  PackageLock,
  productionClosure,
  runtimeFile,
  runtimePackageJson,
} from '../../../infra/tools/deploy-package';
import { REPO } from './bicep-text';

/** A lock of lockfileVersion 3 with the given `packages`. */
function lock(packages: Record<string, object>): PackageLock {
  return PackageLock.parse({ lockfileVersion: 3, packages });
}

describe('productionClosure', () => {
  it('follows dependencies from the root, nested copies before hoisted ones, as Node resolves them', () => {
    // Arrange: app → a → b; a has its own b (2.0), c uses the hoisted b (1.0).
    const packages = lock({
      '': { dependencies: { a: '^1', c: '^1' } },
      'node_modules/a': { version: '1.0.0', dependencies: { b: '^2' } },
      'node_modules/a/node_modules/b': { version: '2.0.0' },
      'node_modules/b': { version: '1.0.0' },
      'node_modules/c': { version: '1.0.0', dependencies: { b: '^1' } },
    });

    // Act
    const closure = productionClosure(packages);

    // Assess
    expect(closure).toEqual([
      'node_modules/a',
      'node_modules/a/node_modules/b',
      'node_modules/b',
      'node_modules/c',
    ]);
  });

  it('leaves out devDependencies and the dependencies of a workspace, which npm does not flag as dev', () => {
    // Arrange: the local host workspace is a devDependency; its azurite has no `dev` flag in the lock.
    const packages = lock({
      '': { dependencies: { zod: '^4' }, devDependencies: { '@zsa/local-host': '0.1.0', vitest: '4' } },
      'infra/local': { dependencies: { azurite: '3', zod: '^4' } },
      'node_modules/@zsa/local-host': { resolved: 'infra/local', link: true },
      'node_modules/azurite': { version: '3.35.0' },
      'node_modules/vitest': { version: '4.1.12', dev: true },
      'node_modules/zod': { version: '4.6.7' },
    });

    // Act
    const closure = productionClosure(packages);

    // Assess
    expect(closure).toEqual(['node_modules/zod']);
  });

  it('follows scoped names and nested scoped copies', () => {
    // Arrange
    const packages = lock({
      '': { dependencies: { '@azure/identity': '^4' } },
      'node_modules/@azure/identity': { dependencies: { '@azure/abort-controller': '^2' } },
      'node_modules/@azure/identity/node_modules/@azure/abort-controller': { version: '2.1.2' },
      'node_modules/@azure/abort-controller': { version: '1.1.0' },
    });

    // Act
    const closure = productionClosure(packages);

    // Assess
    expect(closure).toEqual([
      'node_modules/@azure/identity',
      'node_modules/@azure/identity/node_modules/@azure/abort-controller',
    ]);
  });

  it('takes installed optional dependencies and peers, and skips optional ones the lock lacks', () => {
    // Arrange
    const packages = lock({
      '': { dependencies: { a: '1' }, optionalDependencies: { missing: '1', present: '1' } },
      'node_modules/a': {
        peerDependencies: { p: '1', q: '1' },
        peerDependenciesMeta: { q: { optional: true } },
      },
      'node_modules/p': {},
      'node_modules/present': { optional: true },
    });

    // Act
    const closure = productionClosure(packages);

    // Assess
    expect(closure).toEqual(['node_modules/a', 'node_modules/p', 'node_modules/present']);
  });

  it.each([
    [
      'a required dependency the lock does not resolve',
      { '': { dependencies: { a: '1' } } },
      /does not resolve "a" for the root/,
    ],
    [
      'a missing required peer',
      { '': { dependencies: { a: '1' } }, 'node_modules/a': { peerDependencies: { p: '1' } } },
      /does not resolve "p" for node_modules\/a/,
    ],
    [
      'a production dependency that is a workspace link',
      { '': { dependencies: { w: '1' } }, 'node_modules/w': { resolved: 'w', link: true } },
      /"w" is a workspace link/,
    ],
  ])('refuses %s', (_label, packages, message) => {
    // Act
    const closure = () => productionClosure(lock(packages));

    // Assess
    expect(closure).toThrow(PackageError);
    expect(closure).toThrow(message);
  });

  it('refuses a lockfileVersion 1 lock, which has no `packages` by install path', () => {
    // Act
    const parsed = PackageLock.safeParse({ lockfileVersion: 1, packages: {} });

    // Assess
    expect(parsed.success).toBe(false);
  });
});

describe('runtimePackageJson', () => {
  it('keeps what the host and Node read and drops scripts, workspaces and devDependencies', () => {
    // Arrange
    const root = {
      name: 'zsa',
      version: '0.1.0',
      private: true,
      description: 'x',
      main: 'dist/functions/**/*.js',
      engines: { node: '>=20.19 <23' },
      imports: { '#shared/*': { default: './dist/shared/*.js' } },
      workspaces: ['infra/local'],
      scripts: { build: 'tsc' },
      dependencies: { zod: '^4' },
      devDependencies: { vitest: '4' },
    };

    // Act
    const reduced = runtimePackageJson(root);

    // Assess
    expect(reduced).toEqual({
      name: 'zsa',
      version: '0.1.0',
      private: true,
      main: 'dist/functions/**/*.js',
      engines: { node: '>=20.19 <23' },
      imports: { '#shared/*': { default: './dist/shared/*.js' } },
      dependencies: { zod: '^4' },
    });
  });
});

describe('runtimeFile', () => {
  it.each([
    ['dist/functions/health.js', true],
    ['node_modules/zod/index.cjs', true],
    ['node_modules/zod/index.d.cts.txt', true],
    ['node_modules/source-map/package.json', true],
    ['dist/functions/health.js.map', false],
    ['node_modules/zod/index.d.ts', false],
    ['node_modules/zod/index.d.cts', false],
    ['node_modules/jose/dist/types/index.d.mts', false],
    ['node_modules/@azure/core-util/dist/browser/index.js', false],
    ['node_modules/@azure/core-util/dist/react-native/index.js', false],
    ['node_modules/@azure/core-util/dist/commonjs/index.js', true],
    ['dist/portal/browser/index.js', true],
  ])('%s → %s', (path, kept) => {
    // Act
    const keep = runtimeFile(path);

    // Assess
    expect(keep).toBe(kept);
  });
});

describe('azure.yaml', () => {
  const yaml = readFileSync(join(REPO, 'azure.yaml'), 'utf8');
  const scripts = (
    JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  ).scripts;

  it('deploys the staged folder, staged by a prepackage hook, with node_modules and no remote build', () => {
    // Arrange: the api service's block, up to the next top-level key or the end.
    const api = /^ {2}api:\n((?: {4}.*\n|\s*\n)*)/m.exec(yaml)?.[1] ?? '';

    // Assess
    expect(api).toMatch(/^ {4}dist: \.deploy$/m);
    expect(api).toMatch(/^ {4}remoteBuild: false$/m);
    expect(api).toMatch(/^ {6}prepackage:\n(?: {8}.*\n)*? {10}run: npm run --silent package$/m);
    expect(scripts.package).toBe('npm run build --silent && node dist/infra/tools/deploy-package.js');
  });

  it.each(['preprovision', 'postprovision'])(
    'runs the %s hook through npm on both platforms, stopping azd on failure',
    (hook) => {
      // Arrange
      const block = new RegExp(`^ {2}${hook}:\\n((?: {4}.*\\n)*)`, 'm').exec(yaml)?.[1] ?? '';

      // Assess
      for (const [platform, shell] of [
        ['posix', 'sh'],
        ['windows', 'pwsh'],
      ] as const) {
        const entry = new RegExp(`^ {4}${platform}:\\n((?: {6}.*\\n)*)`, 'm').exec(block)?.[1] ?? '';
        expect(entry).toContain(`shell: ${shell}\n`);
        expect(entry).toContain(`run: npm run --silent azd:${hook}\n`);
        expect(entry).toContain('continueOnError: false\n');
        expect(entry).toContain('interactive: false\n');
      }
    },
  );

  it('runs azd up one step after the other on an azd that ships node_modules from dist', () => {
    // Arrange: azd 1.25+ packages while it provisions unless a workflow says otherwise, and the
    // provision hooks compile into the dist/ that packaging copies.
    const steps = /^workflows:\n {2}up:\n {4}steps:\n((?: {6}- azd: .*\n)+)/m.exec(yaml)?.[1] ?? '';

    // Assess
    expect([...steps.matchAll(/- azd: (.*)/g)].map((m) => m[1])).toEqual([
      'package --all',
      'provision',
      'deploy --all',
    ]);
    expect(yaml).toMatch(/^requiredVersions:\n {2}azd: '>= 1\.23\.12'$/m);
  });

  it('names only npm scripts that exist', () => {
    // Act
    const named = [...yaml.matchAll(/run: npm run --silent (\S+)/g)].map((m) => m[1] ?? '');

    // Assess
    expect(named.length).toBeGreaterThanOrEqual(3);
    expect(named.filter((name) => !(name in scripts))).toEqual([]);
  });
});
