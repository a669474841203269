import { z } from 'zod';
import { DomainError } from './errors';

/** Longest catalog name (task, role, role group), in Unicode code points. */
export const MAX_NAME_LENGTH = 256;

/**
 * Longest PartitionKey/RowKey, in UTF-16 code units. The service says "1 KiB" (512 UTF-16 code
 * units) and Azurite refuses keys longer than 512 characters, so 512 holds on both.
 */
export const MAX_KEY_LENGTH = 512;

// In `u` mode \p{Cs} matches only unpaired surrogates: such a string cannot be sent as UTF-8 and
// would come back as U+FFFD, so it could never round-trip.
const CONTROL = /[\p{Cc}\p{Cs}\u2028\u2029]/u;

/** Length in Unicode code points, the unit a person counts in (an emoji is one, not two). */
export function codePointLength(value: string): number {
  let length = 0;
  for (const _ of value) length++;
  return length;
}

function describe(char: string): string {
  return `U+${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * A task, role or role group name: any printable Unicode, including the `\ / # ?` that Table keys
 * forbid (`Exchange\New-MoveRequest`), 1–256 code points, no control characters, and no leading or
 * trailing white space (two names that look the same must be the same name). Names are not
 * normalised: they round-trip exactly as given.
 */
export const CatalogName = z.string().superRefine((value, ctx) => {
  const length = codePointLength(value);
  if (length === 0) ctx.addIssue({ code: 'custom', message: 'must not be empty' });
  if (length > MAX_NAME_LENGTH)
    ctx.addIssue({
      code: 'custom',
      message: `must be at most ${MAX_NAME_LENGTH} characters (got ${length})`,
    });
  const control = CONTROL.exec(value);
  if (control !== null)
    ctx.addIssue({
      code: 'custom',
      message: `must not contain control characters (found ${describe(control[0])} at index ${control.index})`,
    });
  if (/^\s|\s$/u.test(value))
    ctx.addIssue({ code: 'custom', message: 'must not start or end with white space' });
});
export type CatalogName = z.output<typeof CatalogName>;

export const TaskName = CatalogName;
export type TaskName = CatalogName;
export const RoleName = CatalogName;
export type RoleName = CatalogName;
export const RoleGroupName = CatalogName;
export type RoleGroupName = CatalogName;

/** Approver group names are plain identifiers so they can sit in URLs and emails unescaped. */
export const ApproverGroupName = z
  .string()
  .regex(/^[A-Za-z0-9._@-]{1,64}$/, 'must be 1 to 64 letters, digits or the characters - _ . @');
export type ApproverGroupName = z.output<typeof ApproverGroupName>;

/**
 * Anything but `@`, white space and control characters. Spelled out (ECMA-262's `\s`, and Cc as
 * U+0000–U+001F, U+007F–U+009F) rather than `\s` and `\p{Cc}` because the pattern is published in
 * the OpenAPI document and the connector: `\p{…}` needs the `u` flag that JSON Schema validators and
 * generated clients may not use, and .NET's `\s` (Power Platform) differs from ECMA-262's.
 */
const UPN_CHAR = String.raw`[^@ \x00-\x1f\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff`;
const UPN = new RegExp(String.raw`^${UPN_CHAR}]+@${UPN_CHAR}.]+(?:\.${UPN_CHAR}.]+)*$`);

/** Lower-cases and trims a UPN; the one comparison form for requesters, approvers and members. */
export function normalizeUpn(upn: string): string {
  return upn.trim().toLowerCase();
}

/** A user principal name, normalised to lower case (Entra UPNs are case-insensitive). */
export const Upn = z
  .string()
  .trim()
  .toLowerCase()
  .max(256, 'must be at most 256 characters')
  .regex(UPN, 'must look like name@domain');
export type Upn = z.output<typeof Upn>;

/**
 * Identifiers the service generates (request ids, policy ids): also Durable instance ids and
 * Table keys, so kept to characters that need no escaping anywhere.
 */
export const Id = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'must be 1 to 64 letters, digits, - or _');
export type Id = z.output<typeof Id>;

// ---------------------------------------------------------------------------------------------
// Table Storage keys
//
// PartitionKey and RowKey may not contain / \ # ? or U+0000–U+001F, U+007F–U+009F. `%` and `'`
// are allowed by the service but break some of its URL-addressed operations and tools (Storage
// Explorer, the 2012 "percent in keys" service bug), so they are escaped too. The escape
// character is `!`: it needs no URL or OData escaping, and it sorts below every other printable
// ASCII character except space, close to where # % ' / ? sort, so most orderings survive.
//
// Every character a valid catalog name can hold escapes to two code units, so any valid name
// (≤ 256 code points) encodes to at most 512 code units, the key limit. Characters that a name
// cannot hold (controls, unpaired surrogates) use a six-unit form; they exist only so that
// *every* string round-trips.
// ---------------------------------------------------------------------------------------------

const ESCAPE = '!';

// Second characters ascend with the escaped character, so escaped names still order among
// themselves as their raw forms do.
const SHORT_ESCAPES: ReadonlyMap<string, string> = new Map([
  ['!', '0'],
  ['#', '1'],
  ['%', '2'],
  ["'", '3'],
  ['/', '4'],
  ['?', '5'],
  ['\\', '6'],
]);
const SHORT_UNESCAPES: ReadonlyMap<string, string> = new Map(
  [...SHORT_ESCAPES].map(([raw, code]) => [code, raw]),
);

function isForbiddenInKey(unit: number): boolean {
  return unit <= 0x1f || (unit >= 0x7f && unit <= 0x9f);
}

function longEscape(unit: number): string {
  return `${ESCAPE}u${unit.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * Encodes any string into a valid Table key, injectively and reversibly (`decodeKey`). Strings
 * that need no escaping (no `! # % ' / ? \`, no controls) encode to themselves, so their order is
 * preserved; escaped characters sort as `!` does. Throws `INVALID_INPUT` if the result exceeds
 * `MAX_KEY_LENGTH` (impossible for a valid `CatalogName`, `Upn` or `Id`).
 */
export function encodeKey(value: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const unit = value.charCodeAt(i);
    const char = value.charAt(i);
    const short = SHORT_ESCAPES.get(char);
    if (short !== undefined) {
      out += ESCAPE + short;
    } else if (isForbiddenInKey(unit)) {
      out += longEscape(unit);
    } else if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = value.charCodeAt(i + 1); // NaN past the end
      if (next >= 0xdc00 && next <= 0xdfff) {
        out += value.slice(i, i + 2);
        i++;
      } else {
        out += longEscape(unit);
      }
    } else if (unit >= 0xdc00 && unit <= 0xdfff) {
      out += longEscape(unit); // a low surrogate reached here has no high surrogate before it
    } else {
      out += char;
    }
  }
  if (out.length > MAX_KEY_LENGTH)
    throw new DomainError(
      'INVALID_INPUT',
      `Name is too long to store: ${out.length} characters once encoded, at most ${MAX_KEY_LENGTH}`,
    );
  return out;
}

/**
 * Inverse of `encodeKey`. Accepts only keys that `encodeKey` can produce (canonical form), so the
 * pair is a bijection; anything else is a corrupt row and throws `INVALID_INPUT`.
 */
export function decodeKey(key: string): string {
  const invalid = (why: string) =>
    new DomainError('INVALID_INPUT', `Not an encoded key (${why}): ${JSON.stringify(key)}`);
  let out = '';
  for (let i = 0; i < key.length; i++) {
    const char = key.charAt(i);
    if (char !== ESCAPE) {
      out += char;
      continue;
    }
    const code = key.charAt(i + 1);
    const raw = SHORT_UNESCAPES.get(code);
    if (raw !== undefined) {
      out += raw;
      i += 1;
    } else if (code === 'u' && /^[0-9A-F]{4}$/.test(key.slice(i + 2, i + 6))) {
      out += String.fromCharCode(parseInt(key.slice(i + 2, i + 6), 16));
      i += 5;
    } else {
      throw invalid(`bad escape at index ${i}`);
    }
  }
  // Re-encoding rejects every non-canonical key at once: raw forbidden characters, escapes of
  // characters that need none, escaped halves of a valid surrogate pair.
  if (encodeKey(out) !== key) throw invalid('not in canonical form');
  return out;
}
