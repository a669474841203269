import { describe, expect, it } from 'vitest';
import { isDomainError } from '#shared/domain/errors';
import {
  ApproverGroupName,
  CatalogName,
  decodeKey,
  encodeKey,
  Id,
  MAX_KEY_LENGTH,
  MAX_NAME_LENGTH,
  Upn,
} from '#shared/domain/names';

// Characters Table Storage refuses in PartitionKey and RowKey.
const FORBIDDEN_IN_KEY = /[/\\#?\u0000-\u001F\u007F-\u009F]/u;

describe('catalog names', () => {
  it.each([
    { name: 'an Exchange cmdlet with a backslash', value: 'Exchange\\New-MoveRequest' },
    { name: 'every character Table keys forbid', value: 'a/b\\c#d?e' },
    { name: 'accents and CJK', value: 'Réinitialiser 密码' },
    { name: 'emoji, including a ZWJ sequence', value: 'Deploy 🚀 👩‍💻' },
    { name: 'exactly 256 emoji (512 UTF-16 units)', value: '😀'.repeat(MAX_NAME_LENGTH) },
    { name: 'one character', value: 'x' },
  ])('accepts $name', ({ value }) => {
    // Act / Assess
    expect(CatalogName.parse(value)).toBe(value);
  });

  it.each([
    { name: 'empty', value: '', message: 'must not be empty' },
    { name: '257 characters', value: 'x'.repeat(MAX_NAME_LENGTH + 1), message: 'at most 256' },
    { name: 'a newline', value: 'a\nb', message: 'U+000A' },
    { name: 'a C1 control (NEL)', value: 'a\u0085b', message: 'U+0085' },
    { name: 'DEL', value: 'a\u007Fb', message: 'U+007F' },
    { name: 'an unpaired surrogate', value: 'a\uD800b', message: 'control characters' },
    { name: 'a line separator', value: 'a\u2028b', message: 'U+2028' },
    { name: 'leading white space', value: ' Task', message: 'white space' },
    { name: 'trailing white space', value: 'Task\u00A0', message: 'white space' },
  ])('refuses $name', ({ value, message }) => {
    // Act
    const result = CatalogName.safeParse(value);

    // Assess
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.message).join('\n')).toContain(message);
  });
});

describe('approver group names', () => {
  it.each(['exchange-approvers', 'Tier0_Admins', 'ops.team@contoso', 'a', 'x'.repeat(64)])(
    'accepts %j',
    (value) => {
      // Act / Assess
      expect(ApproverGroupName.safeParse(value).success).toBe(true);
    },
  );

  it.each(['', 'x'.repeat(65), 'with space', 'slash/name', 'back\\slash', 'émile', 'hash#'])(
    'refuses %j',
    (value) => {
      // Act / Assess
      expect(ApproverGroupName.safeParse(value).success).toBe(false);
    },
  );
});

describe('UPNs', () => {
  it.each([
    { value: 'alice@contoso.com', upn: 'alice@contoso.com' },
    { value: '  Alice@Contoso.COM ', upn: 'alice@contoso.com' },
    {
      value: 'bob_fabrikam.com#EXT#@contoso.onmicrosoft.com',
      upn: 'bob_fabrikam.com#ext#@contoso.onmicrosoft.com',
    },
    { value: 'admin@localhost', upn: 'admin@localhost' },
    // Beyond ASCII, astral characters included (the published pattern is read without the u flag).
    { value: 'josé@société.fr', upn: 'josé@société.fr' },
    { value: 'ops😀@contoso.com', upn: 'ops😀@contoso.com' },
  ])('normalises $value to $upn', ({ value, upn }) => {
    // Act / Assess
    expect(Upn.parse(value)).toBe(upn);
  });

  it.each([
    'alice',
    '@contoso.com',
    'alice@',
    'al ice@contoso.com',
    'alice@contoso..com',
    'a@b@c',
    `${'a'.repeat(251)}@b.com`,
    // Control characters (C0, DEL, C1) and ECMA-262 white space inside, spelled out in the pattern.
    'al\u0007ice@contoso.com',
    'alice@con\u007ftoso.com',
    'al\u0085ice@contoso.com',
    'al\u00a0ice@contoso.com',
    'alice@contoso\u3000.com',
    'al\ufeffice@contoso.com',
    'alice@contoso.c\u2028om',
  ])('refuses %j', (value) => {
    // Act / Assess
    expect(Upn.safeParse(value).success).toBe(false);
  });
});

describe('ids', () => {
  it.each([
    { value: '3f2b9c1e-8a47-4d7e-9c1f-2b3a4c5d6e7f', ok: true },
    { value: 'req_1', ok: true },
    { value: '-leading-dash', ok: false },
    { value: 'has space', ok: false },
    { value: 'x'.repeat(65), ok: false },
  ])('$value → $ok', ({ value, ok }) => {
    // Act / Assess
    expect(Id.safeParse(value).success).toBe(ok);
  });
});

// --- Table keys -------------------------------------------------------------------------------

/** mulberry32: a tiny seeded PRNG, so a failing case reproduces from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Pools weighted toward the characters the encoding must get right.
const POOLS: readonly (readonly string[])[] = [
  ['a', 'z', 'A', 'Z', '0', '9', ' ', '-', '_', '.', '~', '"', '$', '&', '+', '@', '[', ']', '{', '}'],
  ['!', '#', '%', "'", '/', '?', '\\'],
  ['!0', '!1', '!6', '!u', '!u0000', '!uD800', 'u0041'],
  ['\u0000', '\u0001', '\u001F', '\u007F', '\u0085', '\u009F', '\u00A0'],
  ['é', 'ß', '密', '\u2028', '\uFEFF', '\uFFFD', '\uFFFF'],
  ['😀', '👩‍💻', '🚀', '\u{10FFFF}'],
  ['\uD800', '\uDBFF', '\uDC00', '\uDFFF'],
];

function randomString(next: () => number, maxLength: number): string {
  const length = Math.floor(next() * (maxLength + 1));
  let out = '';
  for (let i = 0; i < length; i++) {
    const pool = POOLS[Math.floor(next() * POOLS.length)] ?? [];
    out += pool[Math.floor(next() * pool.length)] ?? '';
  }
  return out;
}

describe('Table key encoding', () => {
  it.each([
    { name: 'plain ASCII is unchanged', raw: 'Mailbox Operator', key: 'Mailbox Operator' },
    { name: 'backslash', raw: 'Exchange\\New-MoveRequest', key: 'Exchange!6New-MoveRequest' },
    { name: 'each forbidden character', raw: '/\\#?', key: '!4!6!1!5' },
    { name: 'the escape character itself', raw: 'Hi!', key: 'Hi!0' },
    { name: 'percent and quote', raw: "100% it's", key: '100!2 it!3s' },
    { name: 'a control character', raw: 'a\tb', key: 'a!u0009b' },
    { name: 'a C1 control', raw: '\u0085', key: '!u0085' },
    { name: 'an unpaired surrogate', raw: 'x\uD83D', key: 'x!uD83D' },
    { name: 'non-ASCII and emoji are unchanged', raw: 'Réinitialiser 🚀', key: 'Réinitialiser 🚀' },
    { name: 'the empty string', raw: '', key: '' },
  ])('$name', ({ raw, key }) => {
    // Act
    const encoded = encodeKey(raw);

    // Assess
    expect(encoded).toBe(key);
    expect(decodeKey(encoded)).toBe(raw);
  });

  it('round-trips 20 000 random strings, never emits a forbidden character, and never collides', () => {
    // Prepare
    const next = prng(20300101);
    const seen = new Map<string, string>();
    // Collected and asserted once: 60,000 separate expect() calls were most of this test's time.
    const wrong: string[] = [];

    for (let i = 0; i < 20_000; i++) {
      const raw = randomString(next, 40);

      // Act
      const key = encodeKey(raw);
      const back = decodeKey(key);

      // Assess (collected, reported together)
      const earlier = seen.get(key);
      if (FORBIDDEN_IN_KEY.test(key)) wrong.push(`forbidden character in ${JSON.stringify({ raw, key })}`);
      if (/\p{Cs}/u.test(key)) wrong.push(`lone surrogate in ${JSON.stringify({ raw, key })}`);
      if (back !== raw) wrong.push(`no round trip: ${JSON.stringify({ raw, key, back })}`);
      if (earlier !== undefined && earlier !== raw)
        wrong.push(`collision: ${JSON.stringify({ raw, earlier, key })}`);
      seen.set(key, raw);
    }
    expect(wrong).toEqual([]);
  });

  it('preserves the order of names that need no escaping (they encode to themselves)', () => {
    // Prepare
    const next = prng(7);
    const plain = [
      'a',
      'A',
      'z',
      'Z',
      '0',
      '9',
      ' ',
      '-',
      '_',
      '.',
      '~',
      '@',
      '$',
      '&',
      '+',
      '[',
      ']',
      '{',
      '}',
      '"',
      'é',
      'ß',
      '密',
      '😀',
    ];
    const names = Array.from({ length: 500 }, () =>
      Array.from(
        { length: 1 + Math.floor(next() * 12) },
        () => plain[Math.floor(next() * plain.length)] ?? '',
      ).join(''),
    );

    // Act
    const byRaw = [...names].sort();
    const byKey = names
      .map((n) => ({ n, k: encodeKey(n) }))
      .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));

    // Assess
    expect(byKey.map((x) => x.n)).toEqual(byRaw);
  });

  it('orders escaped characters among themselves as their raw forms', () => {
    // Prepare
    const specials = ['!', '#', '%', "'", '/', '?', '\\'];

    // Act
    const keys = specials.map((c) => encodeKey(`Exchange${c}X`));

    // Assess
    expect([...keys].sort()).toEqual(keys);
  });

  it('encodes every valid catalog name, even the worst case, within the key limit', () => {
    // Prepare
    const worst = [
      '\\'.repeat(MAX_NAME_LENGTH),
      '😀'.repeat(MAX_NAME_LENGTH),
      `${'#'.repeat(128)}${'😀'.repeat(128)}`,
    ];

    // Act / Assess
    for (const name of worst) {
      expect(CatalogName.safeParse(name).success).toBe(true);
      expect(encodeKey(name).length).toBeLessThanOrEqual(MAX_KEY_LENGTH);
    }
  });

  it('refuses a string too long to be a key', () => {
    // Act
    const act = () => encodeKey('\u0001'.repeat(100));

    // Assess
    expect(act).toThrow(/too long/);
  });

  it.each([
    { name: 'a dangling escape', key: 'abc!' },
    { name: 'an unknown short escape', key: 'a!9' },
    { name: 'a short long-escape', key: '!u12' },
    { name: 'lower-case hex', key: '!u000a' },
    { name: 'a long escape of a character that needs none', key: '!u0041' },
    { name: 'a long escape of a character that has a short one', key: '!u005C' },
    { name: 'an escaped valid surrogate pair', key: '!uD83D!uDE00' },
    { name: 'a raw forbidden character', key: 'a/b' },
  ])('decodeKey refuses $name', ({ key }) => {
    // Act
    let error: unknown;
    try {
      decodeKey(key);
    } catch (e) {
      error = e;
    }

    // Assess
    expect(isDomainError(error, 'INVALID_INPUT')).toBe(true);
  });
});
