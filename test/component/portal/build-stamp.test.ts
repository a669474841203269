/**
 * The portal's build is skipped only when none of its inputs changed (infra/tools/build-portal.ts):
 * over a small stand-in repository on disk, without running Vite.
 */
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { inputsHash, isPortalCurrent, STAMP_FILE } from '../../../infra/tools/build-portal';

let root: string;
const out = () => join(root, 'dist', 'portal');

function stamp(modules: string[]): void {
  writeFileSync(join(out(), STAMP_FILE), JSON.stringify({ hash: inputsHash(root, modules), modules }));
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'zsa-stamp-'));
  for (const dir of ['portal/src', 'shared/portal', 'shared/domain', 'dist/portal']) {
    mkdirSync(join(root, dir), { recursive: true });
  }
  writeFileSync(join(root, 'portal', 'src', 'main.tsx'), 'render()');
  writeFileSync(join(root, 'shared', 'portal', 'config.ts'), 'export {}');
  writeFileSync(join(root, 'shared', 'domain', 'request.ts'), 'export const A = 1');
  writeFileSync(join(root, 'shared', 'domain', 'unrelated.ts'), 'export const B = 1');
  writeFileSync(join(root, 'package-lock.json'), '{}');
  writeFileSync(join(out(), 'index.html'), '<!doctype html>');
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('the portal build stamp', () => {
  it('is current when nothing changed, and a file touched without a change keeps it so', () => {
    stamp(['shared/domain/request.ts']);
    writeFileSync(join(root, 'portal', 'src', 'main.tsx'), 'render()');
    expect(isPortalCurrent(root, out())).toBe(true);
  });

  const changes: [scenario: string, change: () => void][] = [
    ['a portal source changes', () => appendFileSync(join(root, 'portal', 'src', 'main.tsx'), ';')],
    ['a portal source is added', () => writeFileSync(join(root, 'portal', 'src', 'new.tsx'), '')],
    ['shared/portal changes', () => appendFileSync(join(root, 'shared', 'portal', 'config.ts'), ';')],
    ['the lock file changes', () => writeFileSync(join(root, 'package-lock.json'), '{"x":1}')],
    [
      'an app module the bundle used changes',
      () => appendFileSync(join(root, 'shared', 'domain', 'request.ts'), ';'),
    ],
    ['an app module the bundle used is deleted', () => rmSync(join(root, 'shared', 'domain', 'request.ts'))],
    ['the build output is gone', () => rmSync(join(out(), 'index.html'))],
    ['the stamp is unreadable', () => writeFileSync(join(out(), STAMP_FILE), 'not json')],
  ];
  it.each(changes)('rebuilds when %s', (_scenario, change) => {
    // Prepare
    stamp(['shared/domain/request.ts']);

    // Act
    change();

    // Assess
    expect(isPortalCurrent(root, out())).toBe(false);
  });

  it('ignores app files the bundle did not use', () => {
    stamp(['shared/domain/request.ts']);
    appendFileSync(join(root, 'shared', 'domain', 'unrelated.ts'), ';');
    expect(isPortalCurrent(root, out())).toBe(true);
  });

  it('builds a clean clone (no stamp)', () => {
    expect(isPortalCurrent(root, out())).toBe(false);
  });
});
