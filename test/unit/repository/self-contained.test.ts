/**
 * The repository stands on its own: whoever clones it (or unpacks a `git archive` of it) has every
 * file that its sources, tests, configuration and documents read, link or cite. Nothing may point at
 * notes kept beside the repository on one machine, and no Markdown link may leave the repository or
 * point at a file that does not exist.
 */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = resolve(__dirname, '..', '..', '..');

/** Directories the tree walk skips: dependencies, build output and local data, all git-ignored. */
const NOT_SOURCES = new Set(['.git', 'node_modules', 'dist', '.zsa', 'coverage']);

// The forbidden texts are assembled from pieces, so this file can be scanned like any other.
const SHARED = ['..', 'shared', ''].join('/');
const NOTES = ['DESIGN', 'STYLE'].map((name) => `${name}.md`);

/** Texts that refer outside the repository, each with what it is. */
const FORBIDDEN: readonly { pattern: RegExp; what: string }[] = [
  { pattern: new RegExp(escape(SHARED)), what: 'a path beside the repository' },
  { pattern: new RegExp(escape(['', 'work', ''].join('/'))), what: 'an absolute path on one machine' },
  ...NOTES.map((note) => ({ pattern: new RegExp(`\\b${escape(note)}`), what: 'a design note kept outside' })),
  { pattern: new RegExp(escape(['shared', 'reference'].join('/'))), what: 'reference notes kept outside' },
  // Citations by section of the notes above, without their file names.
  {
    pattern: new RegExp(`\\b(?:${['DES', 'IGN'].join('')}|${['STY', 'LE'].join('')})\\s*§`),
    what: 'a section of a design note kept outside',
  },
  { pattern: new RegExp(`\\breference\\s+§`), what: 'a section of a reference note kept outside' },
];

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** The files of the checkout: git's list (tracked, and new files not ignored) or, outside git, a walk. */
function repositoryFiles(root: string): string[] {
  try {
    const top = execFileSync('git', ['rev-parse', '--show-toplevel'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    if (resolve(top) === resolve(root)) {
      const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
        cwd: root,
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      });
      return [...new Set(out.split('\0').filter((f) => f !== ''))].filter((f) => existsSync(join(root, f)));
    }
  } catch {
    // Not a git checkout (a `git archive` copy, a tarball): walk the tree instead.
  }
  return walk(root, '');
}

function walk(root: string, dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = dir === '' ? entry.name : `${dir}/${entry.name}`;
    if (entry.isDirectory()) return NOT_SOURCES.has(entry.name) ? [] : walk(root, path);
    return entry.isFile() ? [path] : [];
  });
}

/** Text files only: a NUL byte near the start means binary. */
function readText(path: string): string | undefined {
  const bytes = readFileSync(path);
  return bytes.subarray(0, 8000).includes(0) ? undefined : bytes.toString('utf8');
}

/** Each line of `text` that refers outside the repository, with why. */
function outsideReferences(text: string): { line: number; what: string; text: string }[] {
  return text.split('\n').flatMap((line, index) =>
    FORBIDDEN.filter(({ pattern }) => pattern.test(line)).map(({ what }) => ({
      line: index + 1,
      what,
      text: line.trim().slice(0, 160),
    })),
  );
}

/** Markdown without fenced code blocks and inline code, where link syntax means nothing. */
function proseOf(markdown: string): string {
  return markdown
    .replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, (block) => block.replace(/[^\n]/g, ' '))
    .replace(/`[^`\n]*`/g, (span) => ' '.repeat(span.length));
}

/** Relative link targets of a Markdown text: inline `[x](target)`, images, and `[x]: target` definitions. */
function linkTargets(markdown: string): string[] {
  const prose = proseOf(markdown);
  const inline = [...prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map(
    (m) => m[1] ?? '',
  );
  const definitions = [...prose.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)].map(
    (m) => m[1] ?? '',
  );
  return [...inline, ...definitions].filter((t) => t !== '' && !/^(?:[a-z][a-z0-9+.-]*:|#)/i.test(t));
}

/** Links of the Markdown file `file` (relative to `root`) that leave `root` or name nothing there. */
function brokenLinks(root: string, file: string, markdown: string): { target: string; why: string }[] {
  return linkTargets(markdown).flatMap((target) => {
    let path: string;
    try {
      path = decodeURIComponent(target.replace(/[#?].*$/, ''));
    } catch {
      return [{ target, why: 'not a valid URL path' }];
    }
    if (path === '') return [];
    const absolute = path.startsWith('/') ? join(root, path) : resolve(root, dirname(file), path);
    const inside = relative(root, absolute);
    if (inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside))
      return [{ target, why: 'outside the repository' }];
    return existsSync(absolute) ? [] : [{ target, why: 'no such file' }];
  });
}

describe('the repository refers to nothing outside itself', () => {
  const files = repositoryFiles(REPO);
  const texts = files.flatMap((file) => {
    const text = readText(join(REPO, file));
    return text === undefined ? [] : [{ file, text }];
  });

  it('reads the whole checkout: sources, tests, configuration and documents', () => {
    // Assess
    for (const file of [
      'README.md',
      'package.json',
      'host.json',
      'docs/design.md',
      'docs/api.md',
      'shared/config.ts',
      'functions/health.ts',
      'test/unit/repository/self-contained.test.ts',
    ])
      expect(files, file).toContain(file);
    expect(files.some((f) => f.startsWith('node_modules/') || f.startsWith('dist/'))).toBe(false);
  });

  it('cites no notes kept beside it, no path beside it and no absolute path of one machine', () => {
    // Act
    const found = texts.flatMap(({ file, text }) =>
      outsideReferences(text).map((r) => `${file}:${r.line}: ${r.what}: ${r.text}`),
    );

    // Assess
    expect(found).toEqual([]);
  });

  it('has Markdown links that stay inside it and land on files that exist', () => {
    // Act
    const broken = texts
      .filter(({ file }) => file.endsWith('.md'))
      .flatMap(({ file, text }) =>
        brokenLinks(REPO, file, text).map((l) => `${file}: ${l.target} (${l.why})`),
      );

    // Assess
    expect(broken).toEqual([]);
  });
});

describe('the checks themselves', () => {
  it('catch each kind of outside reference, and pass ordinary text', () => {
    // Prepare
    const samples = [
      `see ${SHARED}DESIGN`,
      `read ${['', 'work', 'shared', 'x.md'].join('/')}`,
      `the contract (${NOTES[0] ?? ''} §5)`,
      `style (${NOTES[1] ?? ''})`,
      `notes in ${['shared', 'reference'].join('/')}/durable.md`,
      `${['DES', 'IGN'].join('')} §5a`,
      ['the security reference', '§A.2'].join(' '),
    ];

    // Act + Assess
    for (const sample of samples) expect(outsideReferences(sample), sample).toHaveLength(1);
    expect(
      outsideReferences('docs/design.md §5, shared/admin/store.ts, const STYLE = {}, network/workers'),
    ).toEqual([]);
  });

  it('catch links that leave the repository or land nowhere, and pass the rest', () => {
    // Prepare
    const OUTSIDE = ['..', '..', 'shared', NOTES[0] ?? ''].join('/');
    const root = mkdtempSync(join(tmpdir(), 'zsa-links-'));
    try {
      mkdirSync(join(root, 'docs', 'decisions'), { recursive: true });
      writeFileSync(join(root, 'docs', 'design.md'), '# Design\n');
      writeFileSync(join(root, 'docs', 'decisions', '0001-x.md'), '# X\n');
      const markdown = [
        '[design](design.md) [x](decisions/0001-x.md#why) [dir](decisions/) [top](../README.md)',
        '[web](https://example.com/a.md) [mail](mailto:a@b.c) [here](#design)',
        `[outside](${OUTSIDE}) [missing](api.md) ![img](img/diagram.png)`,
        '[ref]: ./gone.md',
        '```',
        '[in code](nowhere.md)',
        '```',
        'and `[inline](nowhere.md)`',
      ].join('\n');

      // Act
      const broken = brokenLinks(root, 'docs/index.md', markdown);

      // Assess
      expect(broken).toEqual([
        { target: '../README.md', why: 'no such file' },
        { target: OUTSIDE, why: 'outside the repository' },
        { target: 'api.md', why: 'no such file' },
        { target: 'img/diagram.png', why: 'no such file' },
        { target: './gone.md', why: 'no such file' },
      ]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('walk the tree when the copy is not a git checkout', () => {
    // Prepare
    const root = mkdtempSync(join(tmpdir(), 'zsa-archive-'));
    try {
      mkdirSync(join(root, 'docs'));
      mkdirSync(join(root, 'node_modules', 'x'), { recursive: true });
      writeFileSync(join(root, 'README.md'), 'hello\n');
      writeFileSync(join(root, 'docs', 'design.md'), '# Design\n');
      writeFileSync(join(root, 'node_modules', 'x', 'index.js'), '');

      // Act
      const files = repositoryFiles(root);

      // Assess
      expect(files.sort()).toEqual(['README.md', 'docs/design.md']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
