/**
 * `npm run package`: stages the function app's deployment package in `.deploy/` (or `--out <dir>`),
 * the folder azure.yaml's `api` service deploys. It holds only what the app needs at run time:
 *
 * - `dist/functions`, `dist/shared`, `dist/portal` (no tests, tools or connector);
 * - `host.json`;
 * - a `package.json` with the fields the Functions host and Node read (no scripts, workspaces or
 *   devDependencies);
 * - `node_modules` with the production dependency closure exactly as package-lock.json resolves it,
 *   copied from the installed node_modules (no network, so the package holds what the tests ran);
 * - nowhere a source map or a type declaration (`runtimeFile`).
 *
 * The closure is walked from the root's `dependencies` rather than taken from the lock's `dev` flags:
 * npm does not mark a workspace's dependencies as dev even when the workspace itself is a
 * devDependency, so the local host's Azurite, SMTP server and their trees would otherwise ship.
 *
 *   node dist/infra/tools/deploy-package.js [--out .deploy]
 */
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { STAMP_FILE } from './build-portal';
import { runTool } from './tool';

/** The compiled folders the app loads at run time (functions, their modules, the portal's files). */
export const RUNTIME_DIST_FOLDERS = ['functions', 'shared', 'portal'] as const;
/** The package.json fields the host and Node read at run time; everything else stays behind. */
export const PACKAGE_JSON_FIELDS = [
  'name',
  'version',
  'private',
  'type',
  'main',
  'engines',
  'imports',
  'dependencies',
] as const;
/**
 * The unzipped size the package must stay under: the root with its node_modules as installed, the
 * dev toolchain included, is over ten times that.
 */
export const MAX_PACKAGE_BYTES = 50 * 1024 * 1024;

const Dependencies = z.record(z.string(), z.string());
const LockEntry = z
  .object({
    version: z.string().optional(),
    dependencies: Dependencies.optional(),
    optionalDependencies: Dependencies.optional(),
    peerDependencies: Dependencies.optional(),
    peerDependenciesMeta: z
      .record(z.string(), z.object({ optional: z.boolean().optional() }).loose())
      .optional(),
    dev: z.boolean().optional(),
    optional: z.boolean().optional(),
    link: z.boolean().optional(),
  })
  .loose();
export type LockEntry = z.infer<typeof LockEntry>;
// lockfileVersion 2 and 3 carry `packages` (keyed by install path); version 1 does not.
export const PackageLock = z
  .object({ lockfileVersion: z.number().int().min(2), packages: z.record(z.string(), LockEntry) })
  .loose();
export type PackageLock = z.infer<typeof PackageLock>;

const InstalledPackageJson = z.object({ version: z.string() }).loose();

export class PackageError extends Error {}

/**
 * Where Node finds `name` when the package installed at `from` requires it: `from`'s own
 * node_modules, then each enclosing package's, then the root's — looked up in the lock's paths.
 */
function resolveInLock(packages: PackageLock['packages'], from: string, name: string): string | undefined {
  let dir = from;
  for (;;) {
    const candidate = dir === '' ? `node_modules/${name}` : `${dir}/node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (dir === '') return undefined;
    const cut = dir.lastIndexOf('/node_modules/');
    dir = cut === -1 ? '' : dir.slice(0, cut);
  }
}

/**
 * The lock paths (`node_modules/a`, `node_modules/a/node_modules/b`, ...) of every package the
 * root's production dependencies need, sorted. Throws when the lock does not resolve a required
 * dependency or resolves it to a workspace link (a deploy package cannot carry a link).
 */
export function productionClosure(lock: PackageLock): string[] {
  const root = lock.packages[''];
  if (!root) throw new PackageError('package-lock.json has no root entry ("packages"[""]).');
  const found = new Set<string>();
  const pending: { from: string; name: string; required: boolean }[] = [];
  // npm installs peers (but the optional ones) beside their dependent, like dependencies.
  const enqueue = (from: string, entry: LockEntry): void => {
    for (const name of Object.keys(entry.dependencies ?? {})) pending.push({ from, name, required: true });
    for (const name of Object.keys(entry.optionalDependencies ?? {}))
      pending.push({ from, name, required: false });
    for (const name of Object.keys(entry.peerDependencies ?? {}))
      pending.push({ from, name, required: entry.peerDependenciesMeta?.[name]?.optional !== true });
  };
  enqueue('', root);
  for (let next = pending.pop(); next; next = pending.pop()) {
    const path = resolveInLock(lock.packages, next.from, next.name);
    if (path === undefined) {
      if (!next.required) continue;
      throw new PackageError(
        `package-lock.json does not resolve "${next.name}" for ${next.from || 'the root'}: run npm install.`,
      );
    }
    if (found.has(path)) continue;
    const entry = lock.packages[path];
    if (!entry) continue;
    if (entry.link)
      throw new PackageError(
        `"${next.name}" is a workspace link (${path}); a production dependency cannot be one.`,
      );
    found.add(path);
    enqueue(path, entry);
  }
  return [...found].sort();
}

/**
 * Source maps and type declarations: nothing loads them at run time (the host runs without
 * --enable-source-maps), and in the Azure SDKs' node_modules they are about half the bytes
 * (31 MB of maps, 12 MB of declarations of a 89 MB closure).
 */
export function runtimeFile(path: string): boolean {
  return !/\.(?:map|d\.ts|d\.mts|d\.cts)$/.test(path) && !BROWSER_BUILD.test(path);
}

/**
 * A package's builds for browsers and React Native (`dist/browser/`, `dist/react-native/`, as the
 * Azure SDKs ship them): Node resolves neither the `browser` field nor those export conditions, so
 * nothing in the app loads them (about 4 MB of the closure, the room OpenTelemetry's SDK takes).
 */
const BROWSER_BUILD =
  /(?:^|[\\/])node_modules[\\/](?:@[^\\/]+[\\/])?[^\\/]+[\\/]dist[\\/](?:browser|react-native)(?:[\\/]|$)/;

/** Copies `dist/<folder>` without what `runtimeFile` leaves out and the portal's build stamp. */
function copyDist(root: string, out: string): void {
  for (const folder of RUNTIME_DIST_FOLDERS) {
    const from = join(root, 'dist', folder);
    if (!existsSync(from))
      throw new PackageError(`${relative(root, from)} is missing: run npm run build first.`);
    cpSync(from, join(out, 'dist', folder), {
      recursive: true,
      filter: (src) => runtimeFile(src) && basename(src) !== STAMP_FILE,
    });
  }
}

/** The root package.json reduced to what the host and Node read. */
export function runtimePackageJson(rootPackage: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of PACKAGE_JSON_FIELDS)
    if (rootPackage[field] !== undefined) out[field] = rootPackage[field];
  return out;
}

/**
 * Copies each package of the closure from the installed node_modules, each without its own nested
 * node_modules (the closure lists the nested packages it needs on their own), keeping only
 * `runtimeFile`s. An installed version
 * that differs from the lock's means node_modules is stale: the package would not be what was tested.
 */
function copyModules(root: string, out: string, lock: PackageLock, closure: readonly string[]): void {
  for (const path of closure) {
    const entry = lock.packages[path];
    const from = join(root, ...path.split('/'));
    if (!existsSync(from)) {
      // npm skips an optional package it cannot install here (another platform's binary).
      if (entry?.optional) continue;
      throw new PackageError(`${path} is in package-lock.json but not installed: run npm ci.`);
    }
    const installed = InstalledPackageJson.safeParse(
      JSON.parse(readFileSync(join(from, 'package.json'), 'utf8')),
    );
    if (entry?.version !== undefined && (!installed.success || installed.data.version !== entry.version))
      throw new PackageError(
        `${path} is installed at ${installed.success ? installed.data.version : 'an unknown version'}, ` +
          `package-lock.json says ${entry.version}: run npm ci.`,
      );
    const nested = join(from, 'node_modules');
    cpSync(from, join(out, ...path.split('/')), {
      recursive: true,
      verbatimSymlinks: true,
      filter: (src) => src !== nested && runtimeFile(src),
    });
  }
}

export interface PackageSize {
  readonly bytes: number;
  readonly files: number;
}

/** Total size and count of the files under `dir`. */
export function folderSize(dir: string): PackageSize {
  let bytes = 0;
  let files = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    bytes += statSync(join(entry.parentPath, entry.name)).size;
    files += 1;
  }
  return { bytes, files };
}

export interface StagedPackage extends PackageSize {
  readonly out: string;
  /** The lock paths of the packages in its node_modules. */
  readonly modules: readonly string[];
}

/**
 * Stages the package of the app at `root` (built, dependencies installed) into `out`, replacing
 * whatever `out` held. `out` may not be `root` or a folder above it.
 */
export function stagePackage(options: { root: string; out: string }): StagedPackage {
  const root = resolve(options.root);
  const out = resolve(options.out);
  // The folder is emptied first: it must not be the repository or hold it.
  const fromOut = relative(out, root);
  if (!fromOut.startsWith('..') && !isAbsolute(fromOut))
    throw new PackageError(`The output folder ${out} would hold the repository itself; choose another.`);
  const lock = PackageLock.parse(JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')));
  const rootPackage = z
    .record(z.string(), z.unknown())
    .parse(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')));
  const closure = productionClosure(lock);

  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  copyDist(root, out);
  cpSync(join(root, 'host.json'), join(out, 'host.json'));
  writeFileSync(join(out, 'package.json'), `${JSON.stringify(runtimePackageJson(rootPackage), null, 2)}\n`);
  copyModules(root, out, lock, closure);
  return { out, modules: closure, ...folderSize(out) };
}

/** e.g. `34.1 MB` (MiB, as `du -m` counts). */
export function megabytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

function main(): void {
  // The repository root, from dist/infra/tools/.
  const root = resolve(__dirname, '..', '..', '..');
  const { values } = parseArgs({ options: { out: { type: 'string', default: join(root, '.deploy') } } });
  const staged = stagePackage({ root, out: values.out });
  console.log(
    `Staged ${relative(process.cwd(), staged.out) || '.'}: ${megabytes(staged.bytes)} in ` +
      `${staged.files} files, ${staged.modules.length} production packages.`,
  );
}

// Run as a script (`node dist/infra/tools/deploy-package.js`), not when a test imports it.
if (require.main === module) runTool(() => Promise.resolve().then(main));
