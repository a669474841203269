/** Which chains wait for an anchor, and how long their oldest waiting row has waited. */
import { describe, expect, it } from 'vitest';
import { anchorLagSeconds, unanchoredChains } from '#shared/audit/maintenance';

const NOW = new Date('2030-01-01T12:00:00.000Z');
const hash = 'a'.repeat(64);
const head = (chain: number, sequence: number, at = '2030-01-01T00:00:00.000Z') => ({
  chain,
  sequence,
  hash,
  at,
});

describe('unanchoredChains', () => {
  it.each([
    { case: 'an empty log', heads: [], anchored: [], waiting: [] },
    {
      case: 'every head anchored (an idle log: however old the anchor)',
      heads: [head(0, 5), head(1, 2)],
      anchored: [head(0, 5), head(1, 2)],
      waiting: [],
    },
    {
      case: 'a head past its newest anchored row: rows after that one wait',
      heads: [head(0, 9)],
      anchored: [head(0, 7), head(0, 3)],
      waiting: [{ chain: 0, after: 7 }],
    },
    {
      case: 'a chain no anchor line names: its rows of the window wait',
      heads: [head(0, 4), head(2, 3)],
      anchored: [head(0, 4)],
      waiting: [{ chain: 2, after: undefined }],
    },
  ])('$case', ({ heads, anchored, waiting }) => {
    // Act + Assert
    expect(unanchoredChains(heads, anchored)).toEqual(waiting);
  });
});

describe('anchorLagSeconds', () => {
  it.each([
    { case: 'no row waits', at: [], lag: 0 },
    { case: 'one chain: since its first unanchored row', at: ['2030-01-01T09:00:00.000Z'], lag: 3 * 3600 },
    {
      case: 'the chain waiting longest wins',
      at: ['2030-01-01T11:50:00.000Z', '2030-01-01T10:30:00.000Z'],
      lag: 90 * 60,
    },
    { case: 'whole seconds, rounded down', at: ['2030-01-01T11:58:30.500Z'], lag: 89 },
  ])('$case → $lag s', ({ at, lag }) => {
    // Act + Assert
    expect(anchorLagSeconds(at, NOW)).toBe(lag);
  });
});
