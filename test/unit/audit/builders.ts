/** Builders for audit unit tests: valid chains of sealed records. */
import { GENESIS_HASH, sealRecord, type AuditRecord, type RecordContent } from '#shared/audit/record';
import { AuditAction, AuditOutcome } from '#shared/audit/types';

export function aContent(i: number, overrides: Partial<RecordContent> = {}): RecordContent {
  return {
    id: `id-${i}`,
    action: AuditAction.ExecutionSucceeded,
    outcome: AuditOutcome.Success,
    actorKind: 'user',
    actorId: `t:user-${i % 5}`,
    actorUpn: `user${i % 5}@contoso.com`,
    actorRoles: '[]',
    task: i % 2 === 0 ? '=HYPERLINK("http://evil")' : 'Exchange\\New-MoveRequest',
    reason: i % 3 === 0 ? `a "quoted", multi-line\r\nreason ${i}` : undefined,
    detail: JSON.stringify({ n: i, s: '-1+2' }),
    ...overrides,
  };
}

/** `perChain` rows on each chain, a second apart, as an export lists them (chain, then sequence). */
export function aLog(chains: number, perChain: number, start = Date.UTC(2030, 0, 1, 10)): AuditRecord[] {
  const rows: AuditRecord[] = [];
  for (let chain = 0; chain < chains; chain++) {
    let prevHash = GENESIS_HASH;
    for (let sequence = 1; sequence <= perChain; sequence++) {
      const record = sealRecord(aContent(chain * 1000 + sequence), {
        chain,
        sequence,
        at: new Date(start + sequence * 1000).toISOString(),
        prevHash,
      });
      prevHash = record.hash;
      rows.push(record);
    }
  }
  return rows;
}

/** A deterministic pseudo-random source (mulberry32), so a failing trial can be replayed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
