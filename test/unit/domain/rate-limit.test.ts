import { describe, expect, it } from 'vitest';
import { admitSubmit, type SubmitEntry } from '#shared/domain/rate-limit';

const NOW = new Date('2026-12-03T12:00:00Z');
const at = (secondsAgo: number, key: string | null = null): SubmitEntry => ({
  at: NOW.getTime() - secondsAgo * 1000,
  key,
});
const RULE = { limit: 3, windowSeconds: 600 };

describe('the per-user submit limit', () => {
  it.each<{
    name: string;
    log: SubmitEntry[];
    key: string | null;
    rule?: { limit: number; windowSeconds: number };
    expected: { admitted: true; logged: number | undefined } | { admitted: false; retryAfterSeconds: number };
  }>([
    { name: 'a first submit', log: [], key: null, expected: { admitted: true, logged: 1 } },
    {
      name: 'below the limit',
      log: [at(30), at(20)],
      key: 'k',
      expected: { admitted: true, logged: 3 },
    },
    {
      name: 'at the limit: refused until the oldest leaves the window',
      log: [at(500), at(20), at(10)],
      key: null,
      expected: { admitted: false, retryAfterSeconds: 100 },
    },
    {
      name: 'entries older than the window are forgotten',
      log: [at(601), at(700), at(20), at(10)],
      key: null,
      expected: { admitted: true, logged: 3 },
    },
    {
      name: 'a retry of a submit in the window: admitted, not counted',
      log: [at(500), at(20, 'k'), at(10)],
      key: 'k',
      expected: { admitted: true, logged: undefined },
    },
    {
      name: 'a new key at the limit is refused',
      log: [at(500, 'a'), at(20, 'b'), at(10, 'c')],
      key: 'd',
      expected: { admitted: false, retryAfterSeconds: 100 },
    },
    {
      name: 'a limit lowered since: waits until enough have left',
      log: [at(590), at(400), at(300), at(200), at(100)],
      key: null,
      rule: { limit: 2, windowSeconds: 600 },
      expected: { admitted: false, retryAfterSeconds: 400 },
    },
    {
      name: 'never "retry after 0"',
      log: [at(599.9), at(20), at(10)],
      key: null,
      expected: { admitted: false, retryAfterSeconds: 1 },
    },
    {
      name: 'limit 0 turns it off',
      log: [at(3), at(2), at(1)],
      key: null,
      rule: { limit: 0, windowSeconds: 600 },
      expected: { admitted: true, logged: undefined },
    },
  ])('$name', ({ log, key, rule, expected }) => {
    // Act
    const admission = admitSubmit(log, key, rule ?? RULE, NOW);

    // Assess
    if (expected.admitted) {
      expect(admission.admitted).toBe(true);
      expect(admission.admitted ? admission.log?.length : 'refused').toBe(expected.logged);
      if (admission.admitted && admission.log)
        expect(admission.log.at(-1)).toEqual({ at: NOW.getTime(), key });
    } else {
      expect(admission).toMatchObject(expected);
    }
  });

  it('the stored log never holds more than the limit', () => {
    // Act: a user submitting every second for an hour, with a limit of 3 per 10 minutes.
    let log: readonly SubmitEntry[] = [];
    let admitted = 0;
    for (let s = 0; s < 3600; s++) {
      const a = admitSubmit(log, `k${s}`, RULE, new Date(NOW.getTime() + s * 1000));
      if (a.admitted && a.log) {
        log = a.log;
        admitted++;
      }
      expect(log.length).toBeLessThanOrEqual(RULE.limit);
    }

    // Assess: 3 per window, 6 windows.
    expect(admitted).toBe(18);
  });
});
