/** How long the audit's newest rows have waited for an anchor, as the daily verification records it. */
import { describe, expect, it } from 'vitest';
import { anchorLagSeconds } from '#shared/audit/maintenance';

const NOW = new Date('2030-01-01T12:00:00.000Z');
const hash = 'a'.repeat(64);
const head = (chain: number, sequence: number, at: string) => ({ chain, sequence, hash, at });

describe('anchorLagSeconds', () => {
  it.each([
    { case: 'an empty log', heads: [], anchored: [], lag: 0 },
    {
      case: 'every head anchored (an idle log: however old the anchor)',
      heads: [head(0, 5, '2029-12-01T00:00:00.000Z'), head(1, 2, '2029-12-02T00:00:00.000Z')],
      anchored: [head(0, 5, '2029-12-01T00:00:00.000Z'), head(1, 2, '2029-12-02T00:00:00.000Z')],
      lag: 0,
    },
    {
      case: 'a head past its last anchored row: the time since that row',
      heads: [head(0, 9, '2030-01-01T11:59:00.000Z')],
      anchored: [head(0, 3, '2030-01-01T08:00:00.000Z'), head(0, 7, '2030-01-01T09:00:00.000Z')],
      lag: 3 * 3600,
    },
    {
      case: 'the chain furthest behind wins',
      heads: [head(0, 4, '2030-01-01T11:00:00.000Z'), head(1, 8, '2030-01-01T11:50:00.000Z')],
      anchored: [head(0, 4, '2030-01-01T11:00:00.000Z'), head(1, 6, '2030-01-01T10:30:00.000Z')],
      lag: 90 * 60,
    },
    {
      case: 'a chain never anchored counts from its newest row',
      heads: [head(2, 3, '2030-01-01T11:58:30.500Z')],
      anchored: [],
      lag: 89,
    },
  ])('$case → $lag s', ({ heads, anchored, lag }) => {
    // Act + Assert
    expect(anchorLagSeconds(heads, anchored, NOW)).toBe(lag);
  });
});
