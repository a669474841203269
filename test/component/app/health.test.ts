import { describe, expect, it } from 'vitest';
import { health } from '../../../functions/health';
import { call } from '../../support/component';

describe('GET /api/health', () => {
  it('answers ok with the package version, anonymously', async () => {
    const res = await call(health, { path: '/api/health' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', version: '0.1.0' });
    expect(res.headers.get('x-correlation-id')).toBeTruthy();
  });
});
