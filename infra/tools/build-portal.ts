/**
 * The portal's part of `npm run build`: `vite build --config portal/vite.config.mts` into
 * dist/portal/, skipped when none of its inputs changed since the last build. `npm start` and
 * `npm test` build every time, and a portal build takes seconds a type-check does not, so a stamp
 * in dist/portal/ (a dot file: never served) records a hash of the inputs: everything under portal/
 * and shared/portal/, the lock file, and every file of the repository the last bundle was made of
 * (the portal imports the app's schemas through `#shared/*`). A clean clone builds once.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { Plugin } from 'vite';

export const STAMP_FILE = '.build-stamp.json';

interface Stamp {
  readonly hash: string;
  /** Files of the repository (relative, `/`-separated) the last bundle was made of. */
  readonly modules: readonly string[];
}

/** Every file under `dir` (relative to `root`, `/`-separated), in a stable order. */
function filesUnder(root: string, dir: string): string[] {
  const abs = join(root, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)).split(sep).join('/'));
}

/**
 * The hash of the portal's inputs. A file that no longer exists counts as such (its name, no
 * content), so deleting an imported module also rebuilds.
 */
export function inputsHash(root: string, modules: readonly string[]): string {
  const files = new Set([
    ...filesUnder(root, 'portal'),
    ...filesUnder(root, 'shared/portal'),
    'package-lock.json',
    ...modules,
  ]);
  const hash = createHash('sha256');
  for (const file of [...files].sort()) {
    const abs = join(root, file);
    hash.update(file).update('\0');
    hash.update(existsSync(abs) ? createHash('sha256').update(readFileSync(abs)).digest('hex') : '-');
    hash.update('\n');
  }
  return hash.digest('hex');
}

function readStamp(outDir: string): Stamp | undefined {
  const file = join(outDir, STAMP_FILE);
  if (!existsSync(file) || !existsSync(join(outDir, 'index.html'))) return undefined;
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<Stamp>;
    if (typeof parsed.hash !== 'string' || !Array.isArray(parsed.modules)) return undefined;
    return { hash: parsed.hash, modules: parsed.modules.filter((m): m is string => typeof m === 'string') };
  } catch {
    return undefined;
  }
}

/** True when dist/portal/ was built from exactly the inputs there are now. */
export function isPortalCurrent(root: string, outDir: string): boolean {
  const stamp = readStamp(outDir);
  return stamp !== undefined && stamp.hash === inputsHash(root, stamp.modules);
}

/** Records which files of the repository (outside node_modules) the bundle was made of. */
function collectModules(root: string, into: Set<string>): Plugin {
  return {
    name: 'zsa-portal-inputs',
    generateBundle(_options, bundle) {
      for (const output of Object.values(bundle)) {
        if (output.type !== 'chunk') continue;
        for (const id of output.moduleIds) {
          const path = id.split('?')[0] ?? '';
          if (!isAbsolute(path) || path.includes(`${sep}node_modules${sep}`)) continue;
          const rel = relative(root, path);
          if (rel.startsWith('..') || isAbsolute(rel)) continue;
          into.add(rel.split(sep).join('/'));
        }
      }
    },
  };
}

/** Builds the portal unless it is current; answers what it did, for the build's log. */
export async function buildPortal(root: string): Promise<'built' | 'current'> {
  const outDir = join(root, 'dist', 'portal');
  if (isPortalCurrent(root, outDir)) return 'current';
  const { build } = await import('vite');
  const modules = new Set<string>();
  await build({
    configFile: join(root, 'portal', 'vite.config.mts'),
    logLevel: 'warn',
    plugins: [collectModules(root, modules)],
  });
  const sorted = [...modules].sort();
  const stamp: Stamp = { hash: inputsHash(root, sorted), modules: sorted };
  writeFileSync(join(outDir, STAMP_FILE), `${JSON.stringify(stamp)}\n`);
  return 'built';
}

if (require.main === module) {
  const started = Date.now();
  const root = resolve(__dirname, '..', '..', '..');
  buildPortal(root).then(
    (what) => {
      if (what === 'built')
        process.stdout.write(`Portal built into dist/portal/ in ${Date.now() - started} ms.\n`);
    },
    (error: unknown) => {
      process.stderr.write(
        `The portal did not build: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      process.exitCode = 1;
    },
  );
}
