/**
 * `npm run package` stages what azd deploys: the test stages the built repository into a temporary
 * folder (outside the repository, so Node cannot fall back on the repository's node_modules) and
 * checks its size, that it holds no devDependency and no local-host or test code, its package.json,
 * and that Node loads every function module from it alone. Needs `npm run build` first (as
 * `npm test` does).
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entryPoints } from '@zsa/local-host';
import {
  MAX_PACKAGE_BYTES,
  megabytes,
  PACKAGE_JSON_FIELDS,
  PackageError,
  PackageLock,
  runtimeFile,
  stagePackage,
  type StagedPackage,
} from '../../../infra/tools/deploy-package';
import { REPO } from '../../unit/infra/bicep-text';

/** Devtools that must never ship (spot checks beside the lock-wide rule). */
const NEVER_SHIPPED = [
  'typescript',
  'vitest',
  'azurite',
  'eslint',
  'smtp-server',
  'playwright-core',
  'vite',
  '@zsa/local-host',
];

/** The lock paths of the packages installed under `dir`'s node_modules, recursively. */
function installedPackages(dir: string, prefix = ''): string[] {
  const modules = join(dir, 'node_modules');
  if (!existsSync(modules)) return [];
  const names = readdirSync(modules)
    .filter((n) => !n.startsWith('.'))
    .flatMap((n) => (n.startsWith('@') ? readdirSync(join(modules, n)).map((s) => `${n}/${s}`) : [n]));
  return names.flatMap((name) => {
    const path = `${prefix}node_modules/${name}`;
    return [path, ...installedPackages(join(modules, name), `${path}/`)];
  });
}

/** Every file under `dir`, relative and `/`-separated. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'));
}

/** Runs Node in the staged folder, requiring each file as the Functions worker does. */
function requireAll(cwd: string, files: readonly string[]) {
  const env = { ...process.env };
  delete env.NODE_PATH;
  delete env.NODE_OPTIONS;
  return spawnSync(process.execPath, ['-e', `for (const f of ${JSON.stringify(files)}) require(f);`], {
    cwd,
    env,
    encoding: 'utf8',
    timeout: 30_000,
  });
}

const lock = PackageLock.parse(JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')));
const rootPackage = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
};
let out: string;
let staged: StagedPackage;

beforeAll(() => {
  if (!existsSync(join(REPO, 'dist', 'functions')))
    throw new Error('dist/ is missing: run npm run build first (npm test does).');
  out = mkdtempSync(join(tmpdir(), 'zsa-deploy-'));
  staged = stagePackage({ root: REPO, out });
  console.log(`deploy package: ${megabytes(staged.bytes)} in ${staged.files} files`);
}, 60_000);

afterAll(() => {
  if (out) rmSync(out, { recursive: true, force: true });
});

describe('the staged deploy package', () => {
  it(`stays under ${megabytes(MAX_PACKAGE_BYTES)} unzipped`, () => {
    // Assess
    expect(staged.bytes).toBeGreaterThan(0);
    expect(staged.bytes).toBeLessThanOrEqual(MAX_PACKAGE_BYTES);
  });

  it('holds dist, host.json, package.json and node_modules, and of dist only what runs', () => {
    // Act
    const top = readdirSync(out).sort();
    const dist = readdirSync(join(out, 'dist')).sort();

    // Assess
    expect(top).toEqual(['dist', 'host.json', 'node_modules', 'package.json']);
    expect(dist).toEqual(['functions', 'portal', 'shared']);
    expect(readFileSync(join(out, 'host.json'), 'utf8')).toBe(readFileSync(join(REPO, 'host.json'), 'utf8'));
  });

  it('holds no local-host, test or tool code, and no source map or declaration', () => {
    // Act
    const files = filesUnder(out);
    const ours = files.filter((f) => !f.startsWith('node_modules/'));

    // Assess
    expect(ours.filter((f) => !/^dist\/(functions|shared|portal)\/|^(host|package)\.json$/.test(f))).toEqual(
      [],
    );
    expect(ours.filter((f) => /\/(test|infra|local)\//.test(f))).toEqual([]);
    expect(files.filter((f) => f.startsWith('node_modules/@zsa/'))).toEqual([]);
    expect(files.filter((f) => !runtimeFile(f))).toEqual([]);
  });

  it('installs exactly the production closure, each package as the lock records it', () => {
    // Act
    const installed = installedPackages(out).sort();

    // Assess: what is on disk is what the tool says it staged, and each is a non-dev lock entry.
    expect(installed).toEqual([...staged.modules]);
    expect(installed.filter((p) => lock.packages[p] === undefined || lock.packages[p].dev === true)).toEqual(
      [],
    );
    for (const name of Object.keys(rootPackage.dependencies))
      expect(existsSync(join(out, 'node_modules', name, 'package.json')), name).toBe(true);
  });

  it("holds nothing built for one platform: it is staged on the deployer's machine and runs on Linux", () => {
    // Arrange
    const platformBound = (path: string) => {
      const entry = lock.packages[path];
      return entry?.hasInstallScript === true || entry?.os !== undefined || entry?.cpu !== undefined;
    };

    // Act
    const addons = filesUnder(out).filter((f) => f.endsWith('.node'));

    // Assess
    expect(staged.modules.filter(platformBound)).toEqual([]);
    expect(addons).toEqual([]);
  });

  it('holds no devDependency nor anything only the local host uses', () => {
    // Act
    const names = installedPackages(out).map((p) =>
      p.slice(p.lastIndexOf('node_modules/') + 'node_modules/'.length),
    );

    // Assess
    expect(names.filter((n) => NEVER_SHIPPED.includes(n))).toEqual([]);
  });

  it("has a package.json without scripts, workspaces or devDependencies, with the root's dependencies", () => {
    // Act
    const pkg = JSON.parse(readFileSync(join(out, 'package.json'), 'utf8')) as Record<string, unknown>;

    // Assess
    expect(Object.keys(pkg).filter((k) => !(PACKAGE_JSON_FIELDS as readonly string[]).includes(k))).toEqual(
      [],
    );
    expect(pkg).not.toHaveProperty('scripts');
    expect(pkg).not.toHaveProperty('workspaces');
    expect(pkg).not.toHaveProperty('devDependencies');
    expect(pkg.dependencies).toEqual(rootPackage.dependencies);
  });

  it('names every compiled function module through package.json `main`', () => {
    // Arrange
    const compiled = readdirSync(join(out, 'dist', 'functions'))
      .filter((f) => f.endsWith('.js'))
      .map((f) => `dist/functions/${f}`);
    const sources = readdirSync(join(REPO, 'functions')).filter((f) => f.endsWith('.ts'));

    // Act
    const matched = entryPoints(out).map((f) => relative(out, f).split(sep).join('/'));

    // Assess
    expect(matched).toEqual(compiled.sort());
    expect(matched).toHaveLength(sources.length);
  });

  it('loads every function module with Node from the folder alone, and fails without a dependency', () => {
    // Arrange
    const files = entryPoints(out).map((f) => `./${relative(out, f).split(sep).join('/')}`);
    const jose = join(out, 'node_modules', 'jose');

    // Act
    const whole = requireAll(out, files);
    renameSync(jose, `${jose}.off`);
    let broken: ReturnType<typeof requireAll>;
    try {
      broken = requireAll(out, files);
    } finally {
      renameSync(`${jose}.off`, jose);
    }

    // Assess
    expect(whole.stderr).not.toMatch(/Error/);
    expect(whole.status).toBe(0);
    expect(broken.status).not.toBe(0);
    expect(broken.stderr).toMatch(/Cannot find module 'jose'/);
  });
});

describe('staging refuses', () => {
  /** A built app with one production dependency, `dep` 1.0.0, installed as `installed` says. */
  function fixture(installed: string | undefined): string {
    const root = mkdtempSync(join(tmpdir(), 'zsa-deploy-fixture-'));
    for (const folder of ['functions', 'shared', 'portal'])
      mkdirSync(join(root, 'dist', folder), { recursive: true });
    writeFileSync(join(root, 'dist', 'functions', 'f.js'), '');
    writeFileSync(join(root, 'host.json'), '{ "version": "2.0" }');
    writeFileSync(
      join(root, 'package.json'),
      JSON.stringify({ name: 'app', main: 'dist/functions/*.js', dependencies: { dep: '1' } }),
    );
    writeFileSync(
      join(root, 'package-lock.json'),
      JSON.stringify({
        lockfileVersion: 3,
        packages: { '': { dependencies: { dep: '1' } }, 'node_modules/dep': { version: '1.0.0' } },
      }),
    );
    if (installed !== undefined) {
      mkdirSync(join(root, 'node_modules', 'dep'), { recursive: true });
      writeFileSync(
        join(root, 'node_modules', 'dep', 'package.json'),
        JSON.stringify({ version: installed }),
      );
    }
    return root;
  }

  it.each([
    [
      'a dependency the lock lists but node_modules lacks',
      undefined,
      /node_modules\/dep is in package-lock.json but not installed: run npm ci/,
    ],
    [
      "an installed version that is not the lock's",
      '1.0.1',
      /node_modules\/dep is installed at 1.0.1, package-lock.json says 1.0.0: run npm ci/,
    ],
  ])('%s', (_label, installed, message) => {
    // Arrange
    const root = fixture(installed);
    const target = `${root}-out`;

    // Act
    const stage = () => stagePackage({ root, out: target });

    // Assess
    try {
      expect(stage).toThrow(PackageError);
      expect(stage).toThrow(message);
    } finally {
      rmSync(root, { recursive: true, force: true });
      rmSync(target, { recursive: true, force: true });
    }
  });

  it('an output folder that is the repository or holds it, before deleting anything', () => {
    // Arrange
    const root = fixture('1.0.0');

    // Act
    const intoRoot = () => stagePackage({ root, out: root });
    const aboveRoot = () => stagePackage({ root, out: join(root, '..') });

    // Assess
    try {
      expect(intoRoot).toThrow(/would hold the repository itself/);
      expect(aboveRoot).toThrow(/would hold the repository itself/);
      expect(existsSync(join(root, 'package.json'))).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("nothing when the fixture is whole (the two refusals above are not the fixture's fault)", () => {
    // Arrange
    const root = fixture('1.0.0');
    const target = `${root}-out`;

    // Act
    const result = stagePackage({ root, out: target });

    // Assess
    try {
      expect(result.modules).toEqual(['node_modules/dep']);
      expect(existsSync(join(target, 'node_modules', 'dep', 'package.json'))).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
      rmSync(target, { recursive: true, force: true });
    }
  });
});
