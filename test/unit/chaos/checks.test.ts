/**
 * The chaos run's checks (test/chaos/checks.ts) over hand-made outcomes: each check passes a run
 * that went right and names what went wrong in one that did not, so a green chaos run means
 * something.
 */
import { describe, expect, it } from 'vitest';
import {
  checkExecutions,
  checkLifecycleOnce,
  checkOnePerSubmit,
  checkOnTime,
  checkStates,
  dueAfterRecovery,
  type AuditRow,
  type CheckInput,
  type Fault,
  type RequestView,
} from '../../chaos/checks';

const T0 = Date.parse('2030-01-06T09:00:00.000Z');
const iso = (ms: number) => new Date(T0 + ms).toISOString();
const KILL: Fault = { kind: 'host kill -9', from: T0 + 20_000, to: T0 + 24_000 };

/** A manual request approved at +1 s for 10 s, ended on time at +11 s. */
function anEndedGrant(overrides: Partial<RequestView> = {}): RequestView {
  return {
    id: 'r1',
    requester: 'ria@contoso.com',
    task: 'Chaos\\One',
    status: 'ended',
    approvalType: 'manual',
    requiredApprovals: 1,
    approvals: [{ approver: 'ann@contoso.com', decision: 'approve' }],
    clientRequestId: 'c1',
    pendingUntil: iso(9000),
    grantedAt: iso(1000),
    expiresAt: iso(11_000),
    endedAt: iso(11_000),
    ...overrides,
  };
}

function row(id: string, action: string, atMs: number, detail?: object): AuditRow {
  return {
    id,
    action,
    at: iso(atMs),
    requestId: id.split(':')[0] ?? id,
    ...(detail ? { detail: JSON.stringify(detail) } : {}),
  };
}

/** The audit of anEndedGrant: its five lifecycle events, each once. */
const endedAudit = (): AuditRow[] => [
  row('r1:request.submitted', 'request.submitted', 0),
  row('r1:request.approved', 'request.approved', 1000),
  row('r1:grant.started', 'grant.started', 1000),
  row('r1:grant.ended', 'grant.ended', 11_100),
];

function input(overrides: Partial<CheckInput> = {}): CheckInput {
  return {
    requests: [anEndedGrant()],
    audit: endedAudit(),
    receipts: [],
    faults: [KILL],
    told: new Map(),
    observed: { leftLive: new Map() },
    now: T0 + 60_000,
    toleranceMs: 2500,
    recoveryToleranceMs: 5000,
    ...overrides,
  };
}

describe('chaos checks', () => {
  it('pass a run that went right', () => {
    // Act
    const results = [checkStates, checkOnePerSubmit, checkOnTime, checkLifecycleOnce, checkExecutions].map(
      (c) => c(input()),
    );

    // Assess
    expect(results.flatMap((r) => r.failures)).toEqual([]);
  });

  it.each([
    {
      scenario: 'still pending after its window',
      requests: [anEndedGrant({ status: 'pending', grantedAt: null, expiresAt: null, endedAt: null })],
      expected: 'r1: still pending after its window (2030-01-06T09:00:09.000Z)',
    },
    {
      scenario: 'still approved after its grant ended',
      requests: [anEndedGrant({ status: 'approved', endedAt: null })],
      expected: 'r1: still approved after its grant ended (2030-01-06T09:00:11.000Z)',
    },
    {
      scenario: 'approved with too few approvals',
      requests: [anEndedGrant({ requiredApprovals: 2 })],
      expected: 'r1: ended with 1/2 approvals and 0 denials',
    },
    {
      scenario: 'a request in a status no request should reach',
      requests: [anEndedGrant({ status: 'failed' })],
      expected: 'r1: in status failed',
    },
  ])('name a request in a wrong state: $scenario', ({ requests, expected }) => {
    expect(checkStates(input({ requests })).failures).toEqual([expected]);
  });

  it('name a submit retried into two requests', () => {
    const twice = [
      anEndedGrant(),
      anEndedGrant({ id: 'r2' }),
      anEndedGrant({ id: 'r3', clientRequestId: null }),
    ];
    expect(checkOnePerSubmit(input({ requests: twice })).failures).toEqual(['c1: 2 requests (r1, r2)']);
  });

  it('hold a request to what a client was told', () => {
    // Act
    const result = checkStates(input({ told: new Map([['r1', new Set(['revoked'] as const)]]) }));

    // Assess
    expect(result.failures).toEqual(['r1: a client was told "revoked", the request is ended']);
  });

  it('measure a late end from its deadline, or from the recovery when the deadline fell in a fault', () => {
    // Prepare: ended 4 s late; and a second grant due during the kill, ended 4 s after the host was back
    const late = [...endedAudit().slice(0, 3), row('r1:grant.ended', 'grant.ended', 15_000)];
    const duringKill = anEndedGrant({ id: 'r2', expiresAt: iso(21_000), endedAt: iso(21_000) });
    const r2Ended = row('r2:grant.ended', 'grant.ended', 28_000);

    // Act
    const result = checkOnTime(input({ requests: [anEndedGrant(), duringKill], audit: [...late, r2Ended] }));

    // Assess
    expect(result.failures).toEqual(['r1: ended 4000 ms after it was due (2030-01-06T09:00:11.000Z)']);
    expect(dueAfterRecovery(T0 + 21_000, [KILL], 2500)).toBe(KILL.to);
    expect(dueAfterRecovery(T0 + 30_000, [KILL], 2500)).toBe(T0 + 30_000);
  });

  it('take the earliest sighting when the audit row came late', () => {
    const late = [...endedAudit().slice(0, 3), row('r1:grant.ended', 'grant.ended', 40_000)];
    const observed = { leftLive: new Map([['r1', { status: 'ended', at: T0 + 11_300 }]]) };
    expect(checkOnTime(input({ audit: late, observed })).failures).toEqual([]);
  });

  it.each([
    {
      scenario: 'a missing event',
      audit: endedAudit().filter((r) => r.action !== 'grant.started'),
      expected: ['r1:grant.started: missing (request ended)'],
    },
    {
      scenario: 'an event the state rules out',
      audit: [...endedAudit(), row('r1:grant.revoked', 'grant.revoked', 5000)],
      expected: ['r1:grant.revoked: audited, but the request is ended'],
    },
    {
      scenario: 'a repeat with no kill between its rows',
      audit: [...endedAudit(), row('r1:grant.started', 'grant.started', 1500)],
      expected: ['r1:grant.started: 2 rows, at 2030-01-06T09:00:01.000Z, 2030-01-06T09:00:01.500Z'],
    },
  ])('name lifecycle events not audited exactly once: $scenario', ({ audit, expected }) => {
    expect(checkLifecycleOnce(input({ audit })).failures).toEqual(expected);
  });

  it('accept a repeat across the kill (appended, then the host died before clearing the row)', () => {
    const audit = [...endedAudit(), row('r1:grant.started', 'grant.started', 51_000)];
    const result = checkLifecycleOnce(input({ audit }));
    expect(result.failures).toEqual([]);
    expect(result.figure).toMatch(/^1 events/);
  });

  it('expect the recorded approvals of a two-approval request', () => {
    const denied = anEndedGrant({
      status: 'denied',
      requiredApprovals: 2,
      approvals: [
        { approver: 'ann@contoso.com', decision: 'approve' },
        { approver: 'ben@contoso.com', decision: 'deny' },
      ],
      grantedAt: null,
      expiresAt: null,
      endedAt: null,
    });
    const audit = [
      row('r1:request.submitted', 'request.submitted', 0),
      row('r1:request.approvalRecorded:1', 'request.approvalRecorded', 500),
      row('r1:request.denied', 'request.denied', 700),
    ];
    expect(checkLifecycleOnce(input({ requests: [denied], audit })).failures).toEqual([]);
  });

  it.each([
    {
      scenario: 'a run with no execution.started row',
      audit: [row('e1', 'execution.succeeded', 5100, { executionId: 'x1' })],
      receivedAt: 5000,
      expected: ['x1: ran, with 0 execution.started rows'],
    },
    {
      scenario: 'a run with no outcome row, long before the kill',
      audit: [row('e0', 'execution.started', 4900, { executionId: 'x1' })],
      receivedAt: 5000,
      expected: ['x1: ran, with 0 outcome rows'],
    },
    {
      scenario: 'a run after the grant ended',
      audit: [
        row('e0', 'execution.started', 12_400, { executionId: 'x1' }),
        row('e1', 'execution.succeeded', 12_600, { executionId: 'x1' }),
      ],
      receivedAt: 12_500,
      expected: [
        'x1: ran at 2030-01-06T09:00:12.500Z, outside the grant of r1 (2030-01-06T09:00:01.000Z – 2030-01-06T09:00:11.000Z, ended)',
      ],
    },
    {
      scenario: 'a run with no outcome row, in flight when the host was killed',
      audit: [row('e0', 'execution.started', 10_000, { executionId: 'x1' })],
      receivedAt: 19_990,
      expected: [],
    },
  ])('name executions without their audit: $scenario', ({ audit, receivedAt, expected }) => {
    // The grant of this case runs to +11 s, except for the one in flight at the kill.
    const request =
      receivedAt > 19_000 ? anEndedGrant({ expiresAt: iso(30_000), endedAt: iso(30_000) }) : anEndedGrant();
    const receipts = [
      { executionId: 'x1', requestId: 'r1', receivedAt: T0 + receivedAt, signatureValid: true },
    ];
    expect(checkExecutions(input({ requests: [request], audit, receipts })).failures).toEqual(expected);
  });
});
