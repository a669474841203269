/**
 * Just enough reading of Bicep text for the infra and settings tests: no Bicep compiler can run
 * here, so these find blocks, keys, params, modules and resources structurally (comments and
 * string contents never count as code) and let the tests assert what a reviewer would check.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

export const REPO = join(__dirname, '..', '..', '..');
export const INFRA = join(REPO, 'infra');

export interface BicepFile {
  /** Path relative to the repository, with `/`. */
  readonly path: string;
  readonly text: string;
  /** Same length as `text`; comments and string contents (not interpolations) are spaces. */
  readonly code: string;
}

export function readBicep(path: string): BicepFile {
  const text = readFileSync(path, 'utf8');
  return { path: relative(REPO, path).split('\\').join('/'), text, code: maskNonCode(text) };
}

/** Every `.bicep` file under infra/ except the local host's folder. */
export function allBicepFiles(): BicepFile[] {
  const out: BicepFile[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (full !== join(INFRA, 'local')) walk(full);
      } else if (entry.name.endsWith('.bicep')) {
        out.push(readBicep(full));
      }
    }
  };
  walk(INFRA);
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

type Context = 'code' | 'string' | 'multiline' | 'line' | 'block';

/**
 * Blanks comments and the literal parts of strings (`'…'` and multi-line `'''…'''`), keeping code,
 * quotes and the code inside `${…}` interpolations. Throws on an unterminated string, comment or interpolation.
 */
export function maskNonCode(src: string): string {
  const out = src.split('');
  // Each interpolation remembers how many `{` it has open, so its closing `}` returns to the string.
  const stack: { ctx: Context; depth: number }[] = [{ ctx: 'code', depth: 0 }];
  const top = (): { ctx: Context; depth: number } => {
    const t = stack[stack.length - 1];
    if (t === undefined) throw new Error('Bicep scan: unbalanced interpolation');
    return t;
  };
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    const next = src[i + 1];
    const t = top();
    switch (t.ctx) {
      case 'line':
        if (c === '\n') stack.pop();
        else out[i] = ' ';
        break;
      case 'block':
        if (c === '*' && next === '/') {
          out[i] = ' ';
          out[i + 1] = ' ';
          i++;
          stack.pop();
        } else if (c !== '\n') out[i] = ' ';
        break;
      case 'multiline':
        // A ''' string: no escapes, no interpolation; it ends at the next '''.
        if (c === "'" && next === "'" && src[i + 2] === "'") {
          i += 2;
          stack.pop();
        } else if (c !== '\n') out[i] = ' ';
        break;
      case 'string':
        if (c === '\\') {
          out[i] = ' ';
          if (next !== undefined && next !== '\n') out[i + 1] = ' ';
          i++;
        } else if (c === "'") {
          stack.pop();
        } else if (c === '$' && next === '{') {
          out[i] = ' ';
          out[i + 1] = ' ';
          i++;
          stack.push({ ctx: 'code', depth: 0 });
        } else if (c === '\n') {
          throw new Error(`Bicep scan: unterminated string at ${lineOf(src, i)}`);
        } else out[i] = ' ';
        break;
      case 'code':
        if (c === '/' && next === '/') {
          out[i] = ' ';
          out[i + 1] = ' ';
          i++;
          stack.push({ ctx: 'line', depth: 0 });
        } else if (c === '/' && next === '*') {
          out[i] = ' ';
          out[i + 1] = ' ';
          i++;
          stack.push({ ctx: 'block', depth: 0 });
        } else if (c === "'" && next === "'" && src[i + 2] === "'") {
          i += 2;
          stack.push({ ctx: 'multiline', depth: 0 });
        } else if (c === "'") {
          stack.push({ ctx: 'string', depth: 0 });
        } else if (c === '{') {
          t.depth++;
        } else if (c === '}') {
          if (t.depth === 0 && stack.length > 1) {
            stack.pop(); // end of an interpolation: back in its string
            out[i] = ' ';
          } else t.depth--;
        }
        break;
    }
  }
  const last = top();
  if (stack.length === 2 && last.ctx === 'line') return out.join('');
  if (stack.length !== 1) throw new Error(`Bicep scan: unterminated ${last.ctx}`);
  return out.join('');
}

function lineOf(src: string, index: number): string {
  return `line ${src.slice(0, index).split('\n').length}`;
}

const PAIRS: Record<string, string> = { '{': '}', '[': ']', '(': ')' };
const CLOSERS = new Set(Object.values(PAIRS));

/** Undefined when every bracket in the code is closed by its partner, else where it goes wrong. */
export function bracketProblem(file: BicepFile): string | undefined {
  const stack: { c: string; at: number }[] = [];
  for (let i = 0; i < file.code.length; i++) {
    const c = file.code[i] ?? '';
    if (c in PAIRS) stack.push({ c, at: i });
    else if (CLOSERS.has(c)) {
      const open = stack.pop();
      if (open === undefined || PAIRS[open.c] !== c) {
        return `${file.path}: unexpected "${c}" at ${lineOf(file.text, i)}`;
      }
    }
  }
  const open = stack.pop();
  return open === undefined
    ? undefined
    : `${file.path}: "${open.c}" at ${lineOf(file.text, open.at)} is never closed`;
}

/** Index of the bracket closing the one at `open` (in masked code). */
export function closingIndex(code: string, open: number): number {
  const opener = code[open] ?? '';
  const closer = PAIRS[opener];
  if (closer === undefined) throw new Error(`No bracket at ${open}`);
  let depth = 0;
  for (let i = open; i < code.length; i++) {
    if (code[i] === opener) depth++;
    else if (code[i] === closer) {
      depth--;
      if (depth === 0) return i;
    }
  }
  throw new Error(`Bracket at ${open} is never closed`);
}

/** A `{…}` or `[…]` block: its original text and masked code, including the brackets. */
export interface Block {
  readonly text: string;
  readonly code: string;
  readonly start: number;
}

/** The block opened by the first bracket at or after `from`. */
export function blockFrom(file: { text: string; code: string }, from: number): Block {
  const open = file.code.slice(from).search(/[{[]/);
  if (open < 0) throw new Error('No block follows');
  const start = from + open;
  const end = closingIndex(file.code, start);
  return { text: file.text.slice(start, end + 1), code: file.code.slice(start, end + 1), start };
}

/** Keys of the object literal `block` at its top level (not nested objects), in order. */
export function topLevelKeys(block: Block): string[] {
  const keys: string[] = [];
  let depth = 0;
  let depthAtLineStart = 0;
  let lineStart = 0;
  for (let i = 0; i <= block.code.length; i++) {
    const c = block.code[i];
    if (c === '\n' || c === undefined) {
      if (depthAtLineStart === 1) {
        const m = /^\s*(?:([A-Za-z_][A-Za-z0-9_]*)|'([^']+)')\s*:/.exec(block.text.slice(lineStart, i));
        const key = m?.[1] ?? m?.[2];
        if (key !== undefined) keys.push(key);
      }
      lineStart = i + 1;
      depthAtLineStart = depth;
    } else if (c === '{' || c === '[' || c === '(') depth++;
    else if (c === '}' || c === ']' || c === ')') depth--;
  }
  return keys;
}

/** The text of a top-level property `key:` inside `block` (up to its line end or block end). */
export function propertyValue(block: Block, key: string): string | undefined {
  const re = new RegExp(`^(\\s*)${key}\\s*:\\s*`, 'm');
  const m = re.exec(block.code);
  if (!m) return undefined;
  const valueStart = m.index + m[0].length;
  const c = block.code[valueStart];
  if (c === '{' || c === '[') {
    const end = closingIndex(block.code, valueStart);
    return block.text.slice(valueStart, end + 1);
  }
  const lineEnd = block.text.indexOf('\n', valueStart);
  return block.text.slice(valueStart, lineEnd < 0 ? undefined : lineEnd).trim();
}

export interface Param {
  readonly name: string;
  readonly type: string;
  readonly hasDefault: boolean;
  readonly secure: boolean;
}

/** `param` declarations, with whether each has a default and is `@secure()`. */
export function params(file: BicepFile): Param[] {
  const out: Param[] = [];
  const re = /^param\s+([A-Za-z_][A-Za-z0-9_]*)\s+([A-Za-z]+)(\s*=)?/gm;
  for (const m of file.code.matchAll(re)) {
    const before = file.text.slice(0, m.index);
    const decorators = before.slice(before.lastIndexOf('\n\n') + 1);
    out.push({
      name: m[1] ?? '',
      type: m[2] ?? '',
      hasDefault: m[3] !== undefined,
      secure: /@secure\(\)/.test(decorators.slice(decorators.lastIndexOf('\nparam ') + 1)),
    });
  }
  return out;
}

/** `output` names. */
export function outputs(file: BicepFile): string[] {
  return [...file.code.matchAll(/^output\s+([A-Za-z_][A-Za-z0-9_]*)\s/gm)].map((m) => m[1] ?? '');
}

export interface ResourceDecl {
  readonly symbol: string;
  readonly type: string;
  readonly apiVersion: string;
  readonly existing: boolean;
  /** The `if (…)` condition's expression, when the resource is deployed only if it holds. */
  readonly condition: string | undefined;
  /** The declaration's body (after `=` and any `if (…)` or `[for …:`). */
  readonly body: Block;
  /** Comment lines directly above the declaration. */
  readonly comment: string;
}

export function resources(file: BicepFile): ResourceDecl[] {
  const out: ResourceDecl[] = [];
  const re = /^resource\s+([A-Za-z_][A-Za-z0-9_]*)\s+'([^'@]+)@([^']+)'(\s+existing)?\s*=/gm;
  // Types and versions sit inside quotes, which the mask blanks: read them from the text.
  for (const m of file.code.matchAll(/^resource\s+[A-Za-z_]/gm)) {
    re.lastIndex = m.index;
    const d = re.exec(file.text);
    if (d?.index !== m.index)
      throw new Error(`${file.path}: unreadable resource at ${lineOf(file.text, m.index)}`);
    const after = m.index + d[0].length;
    const body = blockFrom(file, bodyStart(file.code, after));
    out.push({
      symbol: d[1] ?? '',
      type: d[2] ?? '',
      apiVersion: d[3] ?? '',
      existing: d[4] !== undefined,
      condition: conditionAt(file, after),
      body,
      comment: commentAbove(file.text, m.index),
    });
  }
  return out;
}

export interface ModuleDecl {
  readonly symbol: string;
  /** `modules/x.bicep` or `br/public:…`. */
  readonly source: string;
  readonly body: Block;
}

export function modules(file: BicepFile): ModuleDecl[] {
  const out: ModuleDecl[] = [];
  const re = /^module\s+([A-Za-z_][A-Za-z0-9_]*)\s+'([^']+)'\s*=/gm;
  for (const m of file.code.matchAll(/^module\s+[A-Za-z_]/gm)) {
    re.lastIndex = m.index;
    const d = re.exec(file.text);
    if (d?.index !== m.index)
      throw new Error(`${file.path}: unreadable module at ${lineOf(file.text, m.index)}`);
    const body = blockFrom(file, bodyStart(file.code, m.index + d[0].length));
    out.push({ symbol: d[1] ?? '', source: d[2] ?? '', body });
  }
  return out;
}

/** The expression inside an `if (…)` that starts at `after`, if one does. */
function conditionAt(file: BicepFile, after: number): string | undefined {
  const cond = /^\s*if\s*\(/.exec(file.code.slice(after));
  if (!cond) return undefined;
  const open = after + cond[0].length - 1;
  return file.text.slice(open + 1, closingIndex(file.code, open)).trim();
}

/** Skips `if (…)` and `[for … :` so the body's own `{` is found. */
function bodyStart(code: string, after: number): number {
  let i = after;
  const rest = code.slice(i);
  const cond = /^\s*if\s*\(/.exec(rest);
  if (cond) {
    const open = i + cond[0].length - 1;
    i = closingIndex(code, open) + 1;
  }
  const loop = /^\s*\[\s*for\b[^:]*:/.exec(code.slice(i));
  if (loop) i += loop[0].length;
  return i;
}

function commentAbove(text: string, index: number): string {
  const lines = text.slice(0, index).split('\n');
  lines.pop();
  const comment: string[] = [];
  for (let line = lines.pop(); line !== undefined && /^\s*\/\//.test(line); line = lines.pop()) {
    comment.unshift(line.replace(/^\s*\/\/\s?/, ''));
  }
  return comment.join('\n');
}

/** `var name = {…}` object literals whose name matches `pattern`, as name → block. */
export function objectVars(file: BicepFile, pattern: RegExp): Map<string, Block> {
  const out = new Map<string, Block>();
  for (const m of file.code.matchAll(/^var\s+([A-Za-z_][A-Za-z0-9_]*)\s*=\s*\{/gm)) {
    const name = m[1] ?? '';
    if (!pattern.test(name)) continue;
    out.set(name, blockFrom(file, m.index + m[0].length - 1));
  }
  return out;
}
