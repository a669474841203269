/** A failed Teams publish is tried again in the notify activity a few times, briefly, then given up. */
import { describe, expect, it } from 'vitest';
import { TEAMS_PUBLISH_RETRY, withTeamsRetry } from '#shared/notifications/failures';

describe('withTeamsRetry', () => {
  it('tries a failed publish again after a short, growing wait, and answers its result', async () => {
    // Arrange
    const waits: number[] = [];
    let calls = 0;

    // Act
    const result = await withTeamsRetry(
      () => (++calls < 3 ? Promise.reject(new Error('blip')) : Promise.resolve('published')),
      () => undefined,
      (ms) => {
        waits.push(ms);
        return Promise.resolve();
      },
    );

    // Assert
    expect(result).toBe('published');
    expect(waits).toEqual([250, 500]);
  });

  it('throws the last failure after its attempts', async () => {
    // Arrange
    let calls = 0;
    const retried: number[] = [];

    // Act
    const publishing = withTeamsRetry(
      () => Promise.reject(new Error(`failure ${++calls}`)),
      (attempt) => retried.push(attempt),
      () => Promise.resolve(),
    );

    // Assert
    await expect(publishing).rejects.toThrow(`failure ${TEAMS_PUBLISH_RETRY.attempts}`);
    expect(retried).toEqual([1, 2]);
  });
});
