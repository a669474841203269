/**
 * The request row holds every bounded list of a request (approvals of each round, extensions, uses
 * in flight). The worst case the rules allow — five stages needing 20 approvals, ten extensions
 * each decided by as many people, every comment and reason at its maximum, every use in flight —
 * must still be one Table Storage entity: under 1 MiB as the service counts it, with no string
 * property over 64 KiB. Written to real Azurite and read back exactly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTables } from '#shared/adapters/tables';
import { settings } from '#shared/config';
import {
  MAX_COMMENT,
  MAX_IN_FLIGHT,
  MAX_REASON,
  type Approval,
  type Extension,
} from '#shared/domain/request';
import { MAX_EXTENSIONS } from '#shared/domain/policy';
import { MAX_STAGES, MAX_TOTAL_APPROVALS } from '#shared/domain/stages';
import { createRequestRepository } from '#shared/requests/repository';
import { startComponentEnv, type ComponentEnv } from '../../support/component';
import { aPendingRequest } from '../../support/requests';

let env: ComponentEnv;

beforeAll(async () => {
  env = await startComponentEnv();
}, 60_000);

afterAll(async () => {
  await env.close();
});

/** An entity's size as Table Storage counts it: keys and strings as UTF-16, plus per-property overhead. */
function entitySize(entity: Record<string, unknown>): number {
  let size = 4;
  for (const [name, value] of Object.entries(entity)) {
    if (name === 'partitionKey' || name === 'rowKey') {
      size += 2 * String(value).length + 2;
      continue;
    }
    size += 8 + 2 * name.length;
    size += typeof value === 'string' ? 4 + 2 * value.length : 8;
  }
  return size;
}

describe('the largest request the rules allow', () => {
  it('fits one entity (under 1 MiB, no property over 64 KiB) and round-trips exactly', async () => {
    // Prepare: the longest names and texts, every bound at its maximum.
    const upn = (n: number) => `${'a'.repeat(60)}${n}@${'contoso'.repeat(8)}.com`;
    const comment = 'é'.repeat(MAX_COMMENT);
    const round = (stages: number): Approval[] =>
      Array.from({ length: MAX_TOTAL_APPROVALS + 1 }, (_v, i) => ({
        approver: upn(i),
        approverId: `${'0'.repeat(8)}-0000-0000-0000-${String(i).padStart(12, '0')}:${'f'.repeat(8)}-0000-0000-0000-${String(i).padStart(12, '0')}`,
        decision: i === MAX_TOTAL_APPROVALS ? 'deny' : 'approve',
        comment,
        at: '2030-01-01T00:00:00.000Z',
        stage: i % stages,
      }));
    const stages = Array.from({ length: MAX_STAGES }, (_v, i) => ({
      approverGroup: `group-${'x'.repeat(50)}-${i}`,
      requiredApprovals: MAX_TOTAL_APPROVALS / MAX_STAGES,
    }));
    const extensions: Extension[] = Array.from({ length: MAX_EXTENSIONS }, (_v, i) => ({
      id: String(i + 1),
      hours: 1,
      reason: 'r'.repeat(MAX_REASON),
      status: 'denied',
      approvals: round(MAX_STAGES),
      createdAt: '2030-01-01T00:00:00.000Z',
      pendingUntil: '2030-01-01T01:00:00.000Z',
      decidedAt: '2030-01-01T00:30:00.000Z',
    }));
    const request = aPendingRequest({
      reason: 'q'.repeat(MAX_REASON),
      approverGroup: stages[0]?.approverGroup ?? null,
      requiredApprovals: MAX_TOTAL_APPROVALS,
      stages,
      approvals: round(MAX_STAGES),
      extensions,
      maxExtensions: MAX_EXTENSIONS,
      maxUses: 1000,
      inFlight: Array.from({ length: MAX_IN_FLIGHT }, (_v, i) => ({
        executionId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
        at: '2030-01-01T00:00:00.000Z',
      })),
    });
    const tables = createTables(settings());
    const repo = createRequestRepository(tables);

    // Act
    await repo.create(request);
    const raw = await (await tables.get('Requests')).getEntity(request.id, 'request');
    const back = await repo.read(request.id);

    // Assess
    expect(back?.request).toEqual(request);
    const size = entitySize(raw);
    expect(size).toBeLessThan(1024 * 1024);
    for (const value of Object.values(raw))
      if (typeof value === 'string') expect(2 * value.length).toBeLessThanOrEqual(64 * 1024);
    // The row really is cut into pieces (one piece would be over the property limit).
    expect(Object.keys(raw).filter((k) => /^Data\d*$/.test(k)).length).toBeGreaterThan(1);
  });
});
