/**
 * ASP.NET Core style route templates, as the Functions host matches `route` of an HTTP trigger.
 *
 * Pure: no I/O, no Node APIs. Templates are compiled once (constraint regexes included) so that
 * matching a request only walks arrays and runs precompiled predicates.
 *
 * Supported: literal segments (case-insensitive), `{name}`, optional `{name?}`, defaults `{name=v}`,
 * catch-all `{*rest}` / `{**rest}`, complex segments (`{name}.{ext?}`), `{{`/`}}` escapes, and the
 * inline constraints int, long, bool, guid, alpha, decimal, double, float, datetime, required,
 * length, minlength, maxlength, min, max, range and regex (several may be chained: `{id:int:min(1)}`).
 */

export const SegmentKind = {
  Literal: 'literal',
  Parameter: 'parameter',
  Complex: 'complex',
  CatchAll: 'catchAll',
} as const;
export type SegmentKind = (typeof SegmentKind)[keyof typeof SegmentKind];

export type RouteValues = Record<string, string>;

/** Thrown when a route template cannot be compiled (the message names the template). */
export class RouteTemplateError extends Error {
  constructor(
    readonly template: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(`Invalid route template "${template}": ${reason}`, options);
    this.name = 'RouteTemplateError';
  }
}

interface Constraint {
  readonly text: string;
  test(value: string): boolean;
}

interface Parameter {
  readonly name: string;
  readonly optional: boolean;
  readonly defaultValue: string | undefined;
  readonly constraints: readonly Constraint[];
}

type Segment =
  | { readonly kind: typeof SegmentKind.Literal; readonly lower: string }
  | { readonly kind: typeof SegmentKind.Parameter; readonly parameter: Parameter }
  | { readonly kind: typeof SegmentKind.CatchAll; readonly parameter: Parameter }
  | { readonly kind: typeof SegmentKind.Complex; readonly alternatives: readonly ComplexAlternative[] };

/** One way to match a complex segment: a regex whose groups bind `parameters` in order. */
interface ComplexAlternative {
  readonly regex: RegExp;
  readonly parameters: readonly Parameter[];
  /** The optional tail this alternative leaves out (bound to its default, if any). */
  readonly absent?: Parameter;
}

/** A request path split into decoded segments, with a lower-cased copy for literal comparison. */
export interface RequestPath {
  readonly segments: readonly string[];
  readonly lower: readonly string[];
}

export interface CompiledRoute {
  /** The template as written (after trimming slashes). */
  readonly template: string;
  /** ASP.NET inbound precedence digits per segment; smaller sorts first (more specific). */
  readonly precedence: readonly number[];
  /** Route values when the path matches the template, otherwise undefined. */
  match(path: RequestPath): RouteValues | undefined;
}

// ---------------------------------------------------------------------------------------------
// Request paths

const ENCODED_SLASH = /%2F/gi;

/**
 * Splits the path part of a request target into decoded segments, the way Kestrel hands paths to
 * routing: percent-decoded except `%2F` (so an encoded slash never creates a segment), dot segments
 * resolved, a trailing slash ignored. Malformed escapes leave the segment as sent.
 */
export function parseRequestPath(rawPath: string): RequestPath {
  const raw = rawPath.split('/');
  // A path starts with '/', so the first element is the empty string before it.
  if (raw[0] === '') raw.shift();
  if (raw.length > 0 && raw[raw.length - 1] === '') raw.pop();
  const segments: string[] = [];
  for (const piece of raw) {
    const segment = piece.includes('%') ? decodeSegment(piece) : piece;
    if (segment === '.') continue;
    if (segment === '..') {
      segments.pop();
      continue;
    }
    segments.push(segment);
  }
  return { segments, lower: segments.map((s) => s.toLowerCase()) };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment.replace(ENCODED_SLASH, '%252F'));
  } catch {
    return segment;
  }
}

/** The rest of `path` after `prefix` (lower-case segments), or undefined when it is not under it. */
export function stripPrefix(path: RequestPath, prefix: readonly string[]): RequestPath | undefined {
  if (path.lower.length < prefix.length) return undefined;
  for (let i = 0; i < prefix.length; i++) {
    if (path.lower[i] !== prefix[i]) return undefined;
  }
  if (prefix.length === 0) return path;
  return { segments: path.segments.slice(prefix.length), lower: path.lower.slice(prefix.length) };
}

// ---------------------------------------------------------------------------------------------
// Compilation

/** Compiles a route template; throws RouteTemplateError when it is not valid. */
export function compileRouteTemplate(template: string): CompiledRoute {
  const trimmed = trimTemplate(template);
  const segments = tokenize(trimmed).map((parts, i, all) => toSegment(trimmed, parts, i === all.length - 1));
  checkNames(trimmed, segments);
  return {
    template: trimmed,
    precedence: segments.map(precedenceDigit),
    match: (path) => matchSegments(segments, path),
  };
}

/**
 * Orders routes the way ASP.NET routing prefers them: segment by segment, literal before complex
 * before constrained parameter before parameter before catch-all; then by template text so the
 * order never depends on registration order.
 */
export function compareRoutePrecedence(a: CompiledRoute, b: CompiledRoute): number {
  const length = Math.max(a.precedence.length, b.precedence.length);
  for (let i = 0; i < length; i++) {
    // A missing segment counts as 0: ASP.NET compares these digits as a decimal fraction.
    const diff = (a.precedence[i] ?? 0) - (b.precedence[i] ?? 0);
    if (diff !== 0) return diff;
  }
  const ta = a.template.toLowerCase();
  const tb = b.template.toLowerCase();
  return ta < tb ? -1 : ta > tb ? 1 : 0;
}

function trimTemplate(template: string): string {
  let t = template.startsWith('~/') ? template.slice(2) : template;
  while (t.startsWith('/')) t = t.slice(1);
  while (t.endsWith('/')) t = t.slice(0, -1);
  return t;
}

type Part = { literal: string } | { parameter: string };

/** Splits a template into segments of literal and parameter parts, honouring `{{`/`}}` escapes. */
function tokenize(template: string): Part[][] {
  if (template === '') return [];
  const segments: Part[][] = [[]];
  let literal = '';
  const current = (): Part[] => segments[segments.length - 1] ?? [];
  const flush = (): void => {
    if (literal !== '') current().push({ literal });
    literal = '';
  };
  let i = 0;
  while (i < template.length) {
    const c = template.charAt(i);
    const next = template.charAt(i + 1);
    if (c === '{' && next === '{') {
      literal += '{';
      i += 2;
    } else if (c === '}' && next === '}') {
      literal += '}';
      i += 2;
    } else if (c === '}') {
      throw new RouteTemplateError(template, 'unmatched "}"');
    } else if (c === '{') {
      const { text, end } = readParameter(template, i + 1);
      flush();
      current().push({ parameter: text });
      i = end + 1;
    } else if (c === '/') {
      flush();
      if (current().length === 0) throw new RouteTemplateError(template, 'empty segment');
      segments.push([]);
      i++;
    } else if (c === '?') {
      throw new RouteTemplateError(template, '"?" is only allowed inside a parameter');
    } else {
      literal += c;
      i++;
    }
  }
  flush();
  if (current().length === 0) throw new RouteTemplateError(template, 'empty segment');
  return segments;
}

function readParameter(template: string, start: number): { text: string; end: number } {
  let text = '';
  let j = start;
  while (j < template.length) {
    const c = template.charAt(j);
    const next = template.charAt(j + 1);
    if (c === '}') {
      if (next !== '}') return { text, end: j };
      text += '}';
      j += 2;
    } else if (c === '{') {
      if (next !== '{') throw new RouteTemplateError(template, 'unescaped "{" inside a parameter');
      text += '{';
      j += 2;
    } else {
      text += c;
      j++;
    }
  }
  throw new RouteTemplateError(template, 'unterminated parameter');
}

interface ParsedParameter extends Parameter {
  readonly catchAll: boolean;
}

const PARAMETER_NAME = /^[^{}/?*=:]+$/;

/** Parses the text between braces: `[*|**]name(:constraint[(args)])*[?|=default]`. */
function parseParameter(template: string, text: string): ParsedParameter {
  let p = 0;
  let catchAll = false;
  if (text.startsWith('**')) {
    catchAll = true;
    p = 2;
  } else if (text.startsWith('*')) {
    catchAll = true;
    p = 1;
  }
  let nameEnd = p;
  while (nameEnd < text.length && !':?='.includes(text.charAt(nameEnd))) nameEnd++;
  const name = text.slice(p, nameEnd);
  if (!PARAMETER_NAME.test(name))
    throw new RouteTemplateError(template, `invalid parameter name in "{${text}}"`);
  p = nameEnd;
  const constraints: Constraint[] = [];
  while (text[p] === ':') {
    let q = p + 1;
    while (q < text.length && !'(:?='.includes(text.charAt(q))) q++;
    const constraintName = text.slice(p + 1, q);
    let args: string | undefined;
    if (text[q] === '(') {
      const close = findArgumentsEnd(text, q + 1);
      if (close === -1) throw new RouteTemplateError(template, `unterminated arguments in "{${text}}"`);
      args = text.slice(q + 1, close);
      q = close + 1;
    }
    constraints.push(createConstraint(template, constraintName, args));
    p = q;
  }
  let optional = false;
  let defaultValue: string | undefined;
  if (text[p] === '?') {
    optional = true;
    p++;
  } else if (text[p] === '=') {
    defaultValue = text.slice(p + 1);
    p = text.length;
  }
  if (p !== text.length) throw new RouteTemplateError(template, `unexpected text in "{${text}}"`);
  if (catchAll && optional) {
    throw new RouteTemplateError(template, 'a catch-all parameter cannot be marked optional');
  }
  return { name, optional, defaultValue, constraints, catchAll };
}

/** The `)` that closes constraint arguments: the first one followed by `:`, `?`, `=` or the end. */
function findArgumentsEnd(text: string, from: number): number {
  for (let k = from; k < text.length; k++) {
    if (text[k] === ')' && (k + 1 === text.length || ':?='.includes(text.charAt(k + 1)))) return k;
  }
  return -1;
}

function toSegment(template: string, parts: Part[], isLast: boolean): Segment {
  const [only] = parts;
  if (parts.length === 1 && only) {
    if ('literal' in only) return { kind: SegmentKind.Literal, lower: only.literal.toLowerCase() };
    const parameter = parseParameter(template, only.parameter);
    if (parameter.catchAll) {
      if (!isLast) throw new RouteTemplateError(template, 'a catch-all parameter must be the last segment');
      return { kind: SegmentKind.CatchAll, parameter };
    }
    return { kind: SegmentKind.Parameter, parameter };
  }
  return toComplexSegment(template, parts);
}

/**
 * A segment mixing literals and parameters (`{name}.{ext}`). Greedy groups reproduce ASP.NET's
 * right-to-left matching: in `{a}-{b}` against `x-y-z`, a = `x-y` and b = `z`. An optional last
 * parameter (`{name}.{ext?}`) adds a second alternative without its literal and parameter.
 */
function toComplexSegment(template: string, parts: Part[]): Segment {
  const parameters: Parameter[] = [];
  const sources: string[] = [];
  let optionalTail: Parameter | undefined;
  parts.forEach((part, i) => {
    if ('literal' in part) {
      sources.push(escapeRegex(part.literal));
      return;
    }
    const parameter = parseParameter(template, part.parameter);
    if (parameter.catchAll)
      throw new RouteTemplateError(template, 'a catch-all parameter must be a whole segment');
    const previous = parts[i - 1];
    if (previous && 'parameter' in previous) {
      throw new RouteTemplateError(template, 'a segment cannot contain two consecutive parameters');
    }
    if (parameter.optional || parameter.defaultValue !== undefined) {
      if (i !== parts.length - 1 || i < 2) {
        throw new RouteTemplateError(
          template,
          'an optional parameter in a segment must end it, after a literal',
        );
      }
      optionalTail = parameter;
    }
    sources.push('([\\s\\S]+)');
    parameters.push(parameter);
  });
  const full: ComplexAlternative = { regex: new RegExp(`^${sources.join('')}$`, 'i'), parameters };
  if (!optionalTail) return { kind: SegmentKind.Complex, alternatives: [full] };
  const short: ComplexAlternative = {
    regex: new RegExp(`^${sources.slice(0, -2).join('')}$`, 'i'),
    parameters: parameters.slice(0, -1),
    absent: optionalTail,
  };
  return { kind: SegmentKind.Complex, alternatives: [full, short] };
}

const REGEX_SPECIALS = /[.*+?^${}()|[\]\\]/g;
function escapeRegex(text: string): string {
  return text.replace(REGEX_SPECIALS, '\\$&');
}

function checkNames(template: string, segments: readonly Segment[]): void {
  const seen = new Set<string>();
  for (const segment of segments) {
    const parameters =
      segment.kind === SegmentKind.Complex
        ? (segment.alternatives[0]?.parameters ?? [])
        : segment.kind === SegmentKind.Literal
          ? []
          : [segment.parameter];
    for (const { name } of parameters) {
      const key = name.toLowerCase();
      if (seen.has(key)) throw new RouteTemplateError(template, `parameter "${name}" appears more than once`);
      seen.add(key);
    }
  }
}

/** ASP.NET Core RoutePrecedence.ComputeInbound digits. */
function precedenceDigit(segment: Segment): number {
  switch (segment.kind) {
    case SegmentKind.Literal:
      return 1;
    case SegmentKind.Complex:
      return 2;
    case SegmentKind.Parameter:
      return segment.parameter.constraints.length > 0 ? 2 : 3;
    case SegmentKind.CatchAll:
      return segment.parameter.constraints.length > 0 ? 4 : 5;
  }
}

// ---------------------------------------------------------------------------------------------
// Matching

function matchSegments(segments: readonly Segment[], path: RequestPath): RouteValues | undefined {
  const values: RouteValues = {};
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    if (!segment) break;
    if (segment.kind === SegmentKind.CatchAll) {
      // Kestrel keeps %2F encoded, so joining decoded segments cannot forge extra separators.
      const rest = path.segments.slice(i).join('/');
      if (rest === '') return bindAbsent(segment.parameter, true, values) ? values : undefined;
      if (!satisfies(segment.parameter, rest)) return undefined;
      values[segment.parameter.name] = rest;
      return values;
    }
    const value = path.segments[i];
    if (value === undefined) return bindRemainingAbsent(segments, i, values) ? values : undefined;
    switch (segment.kind) {
      case SegmentKind.Literal:
        if (path.lower[i] !== segment.lower) return undefined;
        break;
      case SegmentKind.Parameter:
        if (value === '' || !satisfies(segment.parameter, value)) return undefined;
        values[segment.parameter.name] = value;
        break;
      case SegmentKind.Complex:
        if (!segment.alternatives.some((alternative) => matchComplex(alternative, value, values)))
          return undefined;
        break;
    }
  }
  return path.segments.length > segments.length ? undefined : values;
}

function matchComplex(alternative: ComplexAlternative, value: string, values: RouteValues): boolean {
  const m = alternative.regex.exec(value);
  if (!m) return false;
  const bound: RouteValues = {};
  for (let k = 0; k < alternative.parameters.length; k++) {
    const parameter = alternative.parameters[k];
    const captured = m[k + 1];
    if (!parameter || captured === undefined || !satisfies(parameter, captured)) return false;
    bound[parameter.name] = captured;
  }
  const absent = alternative.absent;
  if (absent?.defaultValue !== undefined) bound[absent.name] = absent.defaultValue;
  Object.assign(values, bound);
  return true;
}

/** The path ended early: every remaining segment must be optional, defaulted or a catch-all. */
function bindRemainingAbsent(segments: readonly Segment[], from: number, values: RouteValues): boolean {
  for (let j = from; j < segments.length; j++) {
    const segment = segments[j];
    if (!segment || segment.kind === SegmentKind.Literal) return false;
    if (segment.kind === SegmentKind.Complex) {
      // Only the short alternative of `{name}.{ext?}` could apply, and it still needs `name`.
      return false;
    }
    if (!bindAbsent(segment.parameter, segment.kind === SegmentKind.CatchAll, values)) return false;
  }
  return true;
}

/** A parameter with no value: its default if it has one; otherwise allowed only when optional. */
function bindAbsent(parameter: Parameter, isCatchAll: boolean, values: RouteValues): boolean {
  if (parameter.defaultValue !== undefined) {
    values[parameter.name] = parameter.defaultValue;
    return true;
  }
  // A catch-all matches zero segments, like an optional parameter.
  return parameter.optional || isCatchAll;
}

function satisfies(parameter: Parameter, value: string): boolean {
  for (const constraint of parameter.constraints) {
    if (!constraint.test(value)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Constraints

const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/;
const FLOATING = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const ALPHA = /^[a-z]+$/i;
const BOOL = /^(?:true|false)$/i;
// The Guid.TryParse formats D, N, B and P.
const GUID =
  /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}|\{[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}|\([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\))$/i;
const INT32_MIN = -(2n ** 31n);
const INT32_MAX = 2n ** 31n - 1n;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function integerIn(value: string, min: bigint, max: bigint): boolean {
  if (!INTEGER.test(value)) return false;
  const n = BigInt(value);
  return n >= min && n <= max;
}

function createConstraint(template: string, name: string, args: string | undefined): Constraint {
  const text = args === undefined ? name : `${name}(${args})`;
  const fail = (reason: string): RouteTemplateError =>
    new RouteTemplateError(template, `constraint "${text}" ${reason}`);
  const noArgs = (test: (value: string) => boolean): Constraint => {
    if (args !== undefined) throw fail('takes no arguments');
    return { text, test };
  };
  const integers = (count: readonly number[]): bigint[] => {
    const list = args === undefined ? [] : args.split(',').map((a) => a.trim());
    if (!count.includes(list.length) || !list.every((a) => INTEGER.test(a))) {
      throw fail(`needs ${count.join(' or ')} integer argument(s)`);
    }
    return list.map((a) => BigInt(a));
  };
  switch (name.toLowerCase()) {
    case 'int':
      return noArgs((v) => integerIn(v, INT32_MIN, INT32_MAX));
    case 'long':
      return noArgs((v) => integerIn(v, INT64_MIN, INT64_MAX));
    case 'bool':
      return noArgs((v) => BOOL.test(v));
    case 'guid':
      return noArgs((v) => GUID.test(v));
    case 'alpha':
      return noArgs((v) => ALPHA.test(v));
    case 'decimal':
      return noArgs((v) => DECIMAL.test(v));
    case 'double':
    case 'float':
      return noArgs((v) => FLOATING.test(v));
    case 'datetime':
      // Approximates DateTime.TryParse (invariant culture) with the JS date parser.
      return noArgs((v) => !Number.isNaN(Date.parse(v)));
    case 'required':
      return noArgs((v) => v !== '');
    case 'length': {
      const [a = 0n, b] = integers([1, 2]);
      return b === undefined
        ? { text, test: (v) => BigInt(v.length) === a }
        : { text, test: (v) => BigInt(v.length) >= a && BigInt(v.length) <= b };
    }
    case 'minlength': {
      const [min = 0n] = integers([1]);
      return { text, test: (v) => BigInt(v.length) >= min };
    }
    case 'maxlength': {
      const [max = 0n] = integers([1]);
      return { text, test: (v) => BigInt(v.length) <= max };
    }
    case 'min': {
      const [min = 0n] = integers([1]);
      return { text, test: (v) => integerIn(v, min, INT64_MAX) };
    }
    case 'max': {
      const [max = 0n] = integers([1]);
      return { text, test: (v) => integerIn(v, INT64_MIN, max) };
    }
    case 'range': {
      const [min = 0n, max = 0n] = integers([2]);
      return { text, test: (v) => integerIn(v, min, max) };
    }
    case 'regex': {
      if (args === undefined || args === '') throw fail('needs a pattern');
      let regex: RegExp;
      try {
        // ASP.NET uses IgnoreCase | CultureInvariant and does not anchor the pattern for you.
        regex = new RegExp(args, 'i');
      } catch (cause) {
        throw new RouteTemplateError(template, `constraint "${text}" is not a valid pattern`, { cause });
      }
      return { text, test: (v) => regex.test(v) };
    }
    default:
      throw fail('is not supported');
  }
}
