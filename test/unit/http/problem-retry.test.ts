/**
 * When a refusal says when to retry: an outage always (503), another refusal only when its rule
 * knows (a counted grant whose uses are all held by running executions: 409 with Retry-After).
 */
import { describe, expect, it } from 'vitest';
import { DomainError } from '#shared/domain/errors';
import { toProblem } from '#shared/http/problem';

describe('Retry-After on problems', () => {
  it.each([
    ['an outage without a hint', new DomainError('UNAVAILABLE', 'down'), 503, '5'],
    ['an outage with one', new DomainError('UNAVAILABLE', 'down', { retryAfterSeconds: 2 }), 503, '2'],
    [
      'uses held by running executions',
      new DomainError('USES_IN_FLIGHT', 'held', { retryAfterSeconds: 1 }),
      409,
      '1',
    ],
    ['a conflict that retrying cannot mend', new DomainError('ALREADY_DECIDED', 'decided'), 409, undefined],
  ])('%s', (_name, error, status, retryAfter) => {
    const { problem, headers } = toProblem(error, 'c1');
    expect(problem.status).toBe(status);
    expect(headers['retry-after']).toBe(retryAfter);
  });
});
