import { describe, expect, it } from 'vitest';
import {
  GENESIS_HASH,
  canonicalRecord,
  chainHash,
  hashMatches,
  normalizeInstant,
  partitionKeyOf,
  rowKeyOf,
  sealRecord,
  type RecordContent,
} from '#shared/audit/record';
import { AuditAction, AuditOutcome } from '#shared/audit/types';

const content: RecordContent = {
  id: 'id-1',
  action: AuditAction.ExecutionSucceeded,
  outcome: AuditOutcome.Success,
  actorKind: 'user',
  actorId: 't:o',
  actorUpn: 'alice@contoso.com',
  actorRoles: '["PAM.Admin"]',
  task: 'Exchange\\New-MoveRequest',
  detail: '{"a":1}',
};

describe('canonical serialization', () => {
  it('is the hashed columns, keys sorted, absent columns null, no whitespace', () => {
    // Prepare
    const record = sealRecord(content, {
      chain: 3,
      sequence: 7,
      at: '2030-01-01T10:00:00.000Z',
      prevHash: GENESIS_HASH,
    });

    // Act
    const canonical = canonicalRecord(record);

    // Assess
    expect(canonical).toBe(
      '{"action":"execution.succeeded","actorId":"t:o","actorKind":"user","actorRoles":"[\\"PAM.Admin\\"]",' +
        '"actorUpn":"alice@contoso.com","at":"2030-01-01T10:00:00.000Z","chain":3,"clientIp":null,' +
        '"correlationId":null,"detail":"{\\"a\\":1}","id":"id-1","outcome":"success","reason":null,' +
        '"requestId":null,"sequence":7,"task":"Exchange\\\\New-MoveRequest","tenantId":null,"userAgent":null,"v":1}',
    );
    expect(canonical).not.toMatch(/\s/);
  });

  it('does not depend on the order the fields were given in', () => {
    const position = { chain: 0, sequence: 1, at: '2030-01-01T10:00:00.000Z', prevHash: GENESIS_HASH };
    const reversed = Object.fromEntries(Object.entries(content).reverse()) as RecordContent;
    expect(sealRecord(reversed, position).hash).toBe(sealRecord(content, position).hash);
  });

  it('hash = SHA-256(canonical ‖ prevHash), so the same content after another row hashes differently', () => {
    const at = '2030-01-01T10:00:00.000Z';
    const first = sealRecord(content, { chain: 0, sequence: 1, at, prevHash: GENESIS_HASH });
    const other = sealRecord(content, { chain: 0, sequence: 1, at, prevHash: 'f'.repeat(64) });
    expect(first.hash).toBe(chainHash(canonicalRecord(first), GENESIS_HASH));
    expect(first.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(other.hash).not.toBe(first.hash);
  });

  it.each([
    ['a column', { task: 'Exchange\\Remove-Mailbox' }],
    ['an absent column made present', { reason: 'x' }],
    ['the time by a millisecond', { at: '2030-01-01T10:00:00.001Z' }],
    ['the sequence', { sequence: 8 }],
    ['the chain', { chain: 4 }],
    ['the previous hash', { prevHash: 'a'.repeat(64) }],
  ])('detects a change of %s', (_name, change) => {
    const record = sealRecord(content, {
      chain: 3,
      sequence: 7,
      at: '2030-01-01T10:00:00.000Z',
      prevHash: GENESIS_HASH,
    });
    expect(hashMatches(record)).toBe(true);
    expect(hashMatches({ ...record, ...change })).toBe(false);
  });
});

describe('keys', () => {
  it('derive from chain and sequence only, a thousand sequences a partition', () => {
    expect(partitionKeyOf(3, 1)).toBe('c03-00000000');
    expect(partitionKeyOf(3, 1000)).toBe('c03-00000000');
    expect(partitionKeyOf(3, 1001)).toBe('c03-00000001');
    expect(rowKeyOf(42)).toBe('000000000042');
  });
});

describe('stored instants', () => {
  it.each([
    ['2030-01-01T10:00:00.123Z', '2030-01-01T10:00:00.123Z'],
    ['2030-01-01T10:00:00.1230000Z', '2030-01-01T10:00:00.123Z'],
    ['2030-01-01T10:00:00Z', '2030-01-01T10:00:00.000Z'],
    ['2030-01-01T10:00:00.1234567Z', undefined],
    ['2030-02-30T10:00:00.000Z', undefined],
    ['yesterday', undefined],
  ])('%s → %s', (stored, expected) => {
    expect(normalizeInstant(stored)).toBe(expected);
  });
});
