import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { benchAudit } from '../../bench/audit';
import { startComponentEnv, type ComponentEnv } from '../../support/component';

let env: ComponentEnv;
beforeAll(async () => {
  env = await startComponentEnv();
});
afterAll(async () => {
  await env.close();
});

describe('the audit benchmark', () => {
  it('measures appends against raw inserts and exports against a raw scan (small sizes)', async () => {
    const report = await benchAudit(env.azurite.connectionString, {
      rounds: 1,
      appends: 200,
      exportRows: 2000,
    });
    expect(report).toMatchObject({
      benchmark: 'audit',
      append: {
        events: 200,
        audit_appends_per_s: expect.any(Number) as number,
        raw_inserts_per_s: expect.any(Number) as number,
      },
      export: {
        rows: 2000,
        raw_scan_rows_per_s: expect.any(Number) as number,
        export_jsonl_rows_per_s: expect.any(Number) as number,
      },
    });
  }, 60_000);
});
