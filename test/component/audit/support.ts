/**
 * Shared set-up for the audit component tests: an audit log over the component environment's
 * Azurite, in a table of its own, with a clock the test moves.
 */
import { createBlobs } from '#shared/adapters/blobs';
import { createTables, type Tables } from '#shared/adapters/tables';
import { AuditKeyPurpose, auditSubkey } from '#shared/audit/keys';
import { createAuditLog, type AuditLog } from '#shared/audit/log';
import { AuditAction, AuditOutcome, type AuditEventInput } from '#shared/audit/types';
import { settings } from '#shared/config';

export const HMAC_KEY = 'audit-component-test-key';
/** The key rows of these logs are sealed with, as the log derives it. */
export const CHAIN_KEY = auditSubkey(HMAC_KEY, AuditKeyPurpose.chain);

export interface TestClock {
  now: () => Date;
  set(at: Date | string): void;
  advance(ms: number): void;
}

export function testClock(start = '2030-01-01T10:00:00.000Z'): TestClock {
  let current = new Date(start);
  return {
    now: () => current,
    set(at) {
      current = new Date(at);
    },
    advance(ms) {
      current = new Date(current.getTime() + ms);
    },
  };
}

let counter = 0;

/** A log over its own table (`<prefix><name>`), so tests in one file do not see each other's rows. */
export function testLog(
  clock: TestClock,
  extra: { chains?: number; name?: string; tables?: Tables; anchorAfterRows?: number } = {},
): { log: AuditLog; name: string; tables: Tables } {
  counter += 1;
  const name = extra.name ?? `audit${counter}x${Date.now().toString(36)}`;
  const s = settings();
  const tables = extra.tables ?? createTables(s);
  const log = createAuditLog({
    tables,
    blobs: createBlobs(s),
    now: clock.now,
    hmacKey: HMAC_KEY,
    name,
    ...(extra.chains === undefined ? {} : { chains: extra.chains }),
    ...(extra.anchorAfterRows === undefined ? {} : { anchorAfterRows: extra.anchorAfterRows }),
  });
  return { log, name, tables };
}

/** An event built from a number, with varied content (some with secrets to digest). */
export function anEvent(i: number, overrides: Partial<AuditEventInput> = {}): AuditEventInput {
  const actions = Object.values(AuditAction);
  return {
    action: actions[i % actions.length] ?? AuditAction.ExecutionStarted,
    actor: {
      kind: 'user',
      id: `tenant:user-${i % 7}`,
      upn: `User${i % 7}@Contoso.com`,
      roles: i % 3 === 0 ? ['PAM.Admin'] : [],
      tenantId: 'tenant',
    },
    outcome: i % 5 === 0 ? AuditOutcome.Refused : AuditOutcome.Success,
    requestId: `req-${i % 11}`,
    task: i % 2 === 0 ? 'Exchange\\New-MoveRequest' : '=cmd|calc',
    reason: i % 4 === 0 ? `reason "${i}", with, commas\nand a newline` : undefined,
    detail: { n: i, parameters: { mailbox: `m${i}@contoso.com`, password: `p@ss${i}` } },
    origin: { correlationId: `corr-${i}`, clientIp: '10.0.0.1', userAgent: 'vitest' },
    ...overrides,
  };
}

/** A valid log written straight to the table with batch transactions (see the bench). */
export { seedAuditTable as seedChains } from '../../bench/audit';

export async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}
