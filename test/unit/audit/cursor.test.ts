import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, filtersFingerprint } from '#shared/audit/cursor';
import { isDomainError } from '#shared/domain/errors';

describe('continuation tokens', () => {
  const f = filtersFingerprint({ requestId: 'r1' });
  const cursor = { v: 1 as const, f, a: [[3, 42]] as [number, number][], x: [5] };

  it('round-trip when signed with the same key for the same filters', () => {
    expect(decodeCursor(encodeCursor(cursor, 'k'), 'k', f)).toEqual(cursor);
  });

  it.each([
    ['another key', (t: string) => t, 'k2', f],
    ['other filters', (t: string) => t, 'k', filtersFingerprint({ requestId: 'r2' })],
    ['a changed payload', (t: string) => `x${t.slice(1)}`, 'k', f],
    ['no signature', (t: string) => t.split('.')[0] ?? '', 'k', f],
    ['junk', () => '!!!', 'k', f],
  ])('are refused with %s', (_name, change, key, fingerprint) => {
    expect(() => decodeCursor(change(encodeCursor(cursor, 'k')), key, fingerprint)).toThrow();
    try {
      decodeCursor(change(encodeCursor(cursor, 'k')), key, fingerprint);
    } catch (e) {
      expect(isDomainError(e, 'INVALID_INPUT')).toBe(true);
    }
  });
});
