/**
 * The per-user submit rate limit through the real `POST /api/requests` handler, with the limit's
 * row in real Azurite. Privileged access is left disabled, so a submit the limit admits is refused
 * by the story next (409 `PAM_DISABLED`) and writes no request: the limit is taken before that,
 * and only the limit answers 429.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTables } from '#shared/adapters/tables';
import { settings } from '#shared/config';
import { encodeKey } from '#shared/domain/names';
import { indexKeys } from '#shared/requests/repository';
import { submitRequest } from '../../../functions/requests';
import { call, startComponentEnv, type ComponentEnv } from '../../support/component';

const LIMIT = 3;
const WINDOW_SECONDS = 600;

let env: ComponentEnv;

beforeAll(async () => {
  env = await startComponentEnv({
    ZSA_SUBMIT_RATE_LIMIT: String(LIMIT),
    ZSA_SUBMIT_RATE_WINDOW_SECONDS: String(WINDOW_SECONDS),
  });
}, 60_000);

afterAll(async () => {
  await env.close();
});

/** A user of their own per test: the dev issuer gives each UPN its own stable object id. */
async function submitter(upn: string) {
  const token = await env.token(upn);
  return (clientRequestId?: string) =>
    call(submitRequest, {
      method: 'POST',
      path: '/api/requests',
      token,
      body: { task: 'Any\\Task', reason: 'r', ...(clientRequestId ? { clientRequestId } : {}) },
      durableClient: true,
    });
}

describe('the per-user submit rate limit', () => {
  it(`refuses submit ${LIMIT + 1} in the window with 429 problem+json and Retry-After; other users are unaffected`, async () => {
    // Prepare
    const ann = await submitter('ann-rl@contoso.com');
    const ben = await submitter('ben-rl@contoso.com');

    // Act
    const admitted = [await ann(), await ann(), await ann()];
    const refused = await ann();
    const other = await ben();

    // Assess
    expect(admitted.map((r) => r.status)).toEqual([409, 409, 409]);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toBe('application/problem+json');
    expect(refused.body).toMatchObject({
      type: 'urn:zsa:problem:rate-limited',
      title: 'Too Many Requests',
      status: 429,
      code: 'RATE_LIMITED',
      detail: expect.stringMatching(/at most 3 per 10 minutes per user/) as unknown,
    });
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(WINDOW_SECONDS - 60);
    expect(retryAfter).toBeLessThanOrEqual(WINDOW_SECONDS);
    expect(other.status).toBe(409);
  });

  it('a retry with the same clientRequestId is never counted twice nor refused', async () => {
    // Prepare
    const cal = await submitter('cal-rl@contoso.com');

    // Act: the first attempt and five retries, then two new submits fill the allowance.
    const first = await cal('INC-1');
    const retries = [await cal('INC-1'), await cal('INC-1'), await cal('INC-1'), await cal('INC-1')];
    const fill = [await cal('INC-2'), await cal()];
    const refused = await cal('INC-3');
    const retryWhenFull = await cal('INC-1');

    // Assess
    expect([first, ...retries, ...fill].map((r) => r.status)).toEqual(Array(7).fill(409));
    expect(refused.status).toBe(429);
    expect(retryWhenFull.status).toBe(409);
  });

  it('past the window, a retry of a request already stored is still let through', async () => {
    // Prepare: the request for INC-OLD was stored longer ago than the window (its claim is in the
    // request index, its submit no longer in the limit's log), and the allowance is spent since.
    const dee = await submitter('dee-rl@contoso.com');
    await dee();
    const userId = await submitterId('dee-rl@contoso.com');
    const index = await createTables(settings()).get('RequestIndex');
    await index.createEntity({
      partitionKey: indexKeys.client(userId),
      rowKey: encodeKey('INC-OLD'),
      RequestId: '00000000-0000-4000-8000-000000000001',
    });
    await dee();
    await dee();

    // Act
    const refused = await dee('INC-NEW');
    const retry = await dee('INC-OLD');

    // Assess
    expect(refused.status).toBe(429);
    expect(retry.status).toBe(409);
  });

  it(`a burst of concurrent submits by one user admits exactly ${LIMIT}`, async () => {
    // Prepare
    const eve = await submitter('eve-rl@contoso.com');

    // Act: every submit reads and swaps the same row at once, as many instances would.
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => eve(`burst-${i}`)));

    // Assess
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses).toEqual([...Array<number>(LIMIT).fill(409), ...Array<number>(12 - LIMIT).fill(429)]);
  });
});

/** The stable id the app keys the limit and the claims by, as the dev issuer mints it. */
async function submitterId(upn: string): Promise<string> {
  const token = await env.token(upn);
  const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as {
    tid?: string;
    oid?: string;
    sub?: string;
  };
  return payload.tid !== undefined && payload.oid !== undefined
    ? `${payload.tid.toLowerCase()}:${payload.oid.toLowerCase()}`
    : `dev:${payload.sub ?? ''}`;
}
