// Counted grants: a use is taken when an execution is admitted (by the same compare-and-swap), given
// back when it fails, counted when it succeeds; the last success ends the grant. An outcome never
// recorded keeps its use.
import { describe, expect, it } from 'vitest';
import type { ErrorCode } from '#shared/domain/errors';
import {
  type Extension,
  MAX_IN_FLIGHT,
  type Request,
  requireCoveringGrant,
  USES_EXHAUSTED,
} from '#shared/domain/request';
import { admitUse, settleUse, usesLeft } from '#shared/domain/uses';
import { ALICE, aRequest, hoursAfterT0, idOf, iso, minutesAfterT0, MOVE } from './builders';

const at = minutesAfterT0(30);

/** Alice's approved grant (live from T0+10 min for 4 hours), counted to `maxUses`. */
const counted = (maxUses: number | null, overrides: Partial<Request> = {}) =>
  aRequest({ status: 'approved', maxUses, ...overrides });

const claim = (executionId: string) => ({ executionId, at: iso(minutesAfterT0(20)) });

const waitingExtension: Extension = {
  id: '1',
  hours: 1,
  reason: 'more',
  status: 'pending',
  approvals: [],
  createdAt: iso(minutesAfterT0(20)),
  pendingUntil: iso(minutesAfterT0(250)),
  decidedAt: null,
};

describe('uses left', () => {
  it.each([
    { name: 'unlimited', maxUses: null, uses: 0, running: 0, left: null },
    { name: 'none used', maxUses: 3, uses: 0, running: 0, left: 3 },
    { name: 'one ran, one running', maxUses: 3, uses: 1, running: 1, left: 1 },
    { name: 'every use held by running executions', maxUses: 2, uses: 0, running: 2, left: 0 },
    { name: 'every use ran', maxUses: 2, uses: 2, running: 0, left: 0 },
  ])('$name → $left', ({ maxUses, uses, running, left }) => {
    // Prepare
    const inFlight = Array.from({ length: running }, (_, i) => claim(`e${i}`));

    // Act / Assess
    expect(usesLeft({ maxUses, uses, inFlight })).toBe(left);
  });
});

describe('admitting an execution', () => {
  it.each<{ name: string; request: () => Request; when?: Date; code?: ErrorCode; holds?: number }>([
    { name: 'an unlimited grant → admitted, nothing held', request: () => counted(null), holds: 0 },
    { name: 'a counted grant with uses left → admitted, one use held', request: () => counted(2), holds: 1 },
    {
      name: 'the last use left while another runs → admitted, both held',
      request: () => counted(2, { inFlight: [claim('other')] }),
      holds: 2,
    },
    {
      name: 'every use held by executions still running → USES_IN_FLIGHT',
      request: () => counted(2, { uses: 1, inFlight: [claim('other')] }),
      code: 'USES_IN_FLIGHT',
    },
    {
      name: `${MAX_IN_FLIGHT} executions running under a large count → USES_IN_FLIGHT (the row's bound)`,
      request: () =>
        counted(1000, { inFlight: Array.from({ length: MAX_IN_FLIGHT }, (_, i) => claim(`e${i}`)) }),
      code: 'USES_IN_FLIGHT',
    },
    {
      name: 'a grant whose uses ran out → NO_ACTIVE_GRANT',
      request: () =>
        counted(1, { uses: 1, status: 'ended', endedAt: iso(minutesAfterT0(20)), endReason: USES_EXHAUSTED }),
      code: 'NO_ACTIVE_GRANT',
    },
    {
      name: 'a grant past its end (timer not run yet) → NO_ACTIVE_GRANT',
      request: () => counted(2),
      when: hoursAfterT0(5),
      code: 'NO_ACTIVE_GRANT',
    },
    {
      name: 'a scheduled grant before its start → NO_ACTIVE_GRANT',
      request: () =>
        counted(2, {
          grantedAt: iso(hoursAfterT0(2)),
          expiresAt: iso(hoursAfterT0(6)),
          startAt: iso(hoursAfterT0(2)),
        }),
      code: 'NO_ACTIVE_GRANT',
    },
    {
      name: 'a pending request → NO_ACTIVE_GRANT',
      request: () => aRequest({ maxUses: 2 }),
      code: 'NO_ACTIVE_GRANT',
    },
  ])('$name', ({ request, when, code, holds }) => {
    // Prepare
    const before = request();

    // Act
    const t = admitUse(before, 'exec-1', when ?? at);

    // Assess
    if (code !== undefined) {
      expect(t.kind === 'refused' && t.refusal.code).toBe(code);
      return;
    }
    expect(t.kind).toBe('applied');
    if (t.kind !== 'applied') return;
    expect(t.request.inFlight).toHaveLength(holds ?? 0);
    if (before.maxUses !== null)
      expect(t.request.inFlight.at(-1)).toEqual({ executionId: 'exec-1', at: iso(at) });
    expect(t.request.uses).toBe(before.uses);
  });

  it('uses held by running executions are a 409 to retry shortly, saying what holds them', () => {
    // Act
    const t = admitUse(counted(2, { uses: 1, inFlight: [claim('other')] }), 'exec-1', at);

    // Assess
    expect(t.kind === 'refused' && t.refusal).toMatchObject({
      kind: 'conflict',
      retryAfterSeconds: 1,
      message:
        'All 2 uses of request req-1 are taken: 1 ran, 1 held by executions still running or whose outcome never came back (those stay held until the grant ends); try again once running ones finish',
    });
  });

  it('a used-up grant says so', () => {
    // Act
    const t = admitUse(
      counted(3, { uses: 3, status: 'ended', endedAt: iso(minutesAfterT0(20)), endReason: USES_EXHAUSTED }),
      'exec-1',
      at,
    );

    // Assess
    expect(t.kind === 'refused' && t.refusal.message).toBe('Request req-1 was used 3 times, its maximum');
  });

  it('the same execution admitted again (a retry) → already applied, still one use held', () => {
    // Prepare
    const once = counted(1, { inFlight: [claim('exec-1')] });

    // Act
    const t = admitUse(once, 'exec-1', at);

    // Assess
    expect(t.kind).toBe('alreadyApplied');
    expect(t.kind !== 'refused' && t.request).toBe(once);
  });
});

describe('recording an outcome', () => {
  it.each<{
    name: string;
    request: () => Request;
    executionId?: string;
    succeeded: boolean;
    outcome: string;
    uses: number;
    running: number;
    status: Request['status'];
  }>([
    {
      name: 'a success, uses still left → counted',
      request: () => counted(3, { inFlight: [claim('exec-1')] }),
      succeeded: true,
      outcome: 'counted',
      uses: 1,
      running: 0,
      status: 'approved',
    },
    {
      name: 'a failure → the use is given back',
      request: () => counted(3, { uses: 2, inFlight: [claim('exec-1')] }),
      succeeded: false,
      outcome: 'returned',
      uses: 2,
      running: 0,
      status: 'approved',
    },
    {
      name: 'the last use succeeds → exhausted, the grant ends',
      request: () => counted(3, { uses: 2, inFlight: [claim('exec-1')] }),
      succeeded: true,
      outcome: 'exhausted',
      uses: 3,
      running: 0,
      status: 'ended',
    },
    {
      name: 'a success while another still runs under the last uses → counted, the other keeps its use',
      request: () => counted(3, { uses: 1, inFlight: [claim('exec-1'), claim('exec-2')] }),
      succeeded: true,
      outcome: 'counted',
      uses: 2,
      running: 1,
      status: 'approved',
    },
    {
      name: 'the outcome recorded again (a retry) → unchanged',
      request: () => counted(3, { uses: 1 }),
      succeeded: true,
      outcome: 'unchanged',
      uses: 1,
      running: 0,
      status: 'approved',
    },
    {
      name: 'an execution never admitted → unchanged',
      request: () => counted(3, { inFlight: [claim('exec-2')] }),
      succeeded: true,
      outcome: 'unchanged',
      uses: 0,
      running: 1,
      status: 'approved',
    },
    {
      name: 'a success after the grant was revoked → counted, still revoked',
      request: () =>
        counted(1, {
          status: 'revoked',
          endedAt: iso(minutesAfterT0(25)),
          endedBy: ALICE,
          inFlight: [claim('exec-1')],
        }),
      succeeded: true,
      outcome: 'counted',
      uses: 1,
      running: 0,
      status: 'revoked',
    },
  ])('$name', ({ request, succeeded, outcome, uses, running, status }) => {
    // Act
    const t = settleUse(request(), 'exec-1', succeeded, at);

    // Assess
    expect(t.outcome).toBe(outcome);
    expect(t.request.uses).toBe(uses);
    expect(t.request.inFlight).toHaveLength(running);
    expect(t.request.status).toBe(status);
  });

  it('the last use ends the grant now, "uses exhausted", and cancels an extension that waits', () => {
    // Act
    const t = settleUse(
      counted(1, { maxExtensions: 1, extensions: [waitingExtension], inFlight: [claim('exec-1')] }),
      'exec-1',
      true,
      at,
    );

    // Assess
    expect(t.request).toMatchObject({
      status: 'ended',
      endedAt: iso(at),
      endReason: USES_EXHAUSTED,
      endedBy: null,
      extensions: [{ id: '1', status: 'canceled', decidedAt: iso(at) }],
    });
  });
});

describe('a counted grant, end to end in the rules', () => {
  it('two uses: concurrent executions never exceed them, a failure gives its use back, the last success ends it', () => {
    // Prepare
    let request = counted(2);
    const admit = (id: string) => {
      const t = admitUse(request, id, at);
      if (t.kind === 'applied') request = t.request;
      return t.kind === 'refused' ? t.refusal.code : t.kind;
    };
    const settle = (id: string, ok: boolean) => {
      const t = settleUse(request, id, ok, at);
      request = t.request;
      return t.outcome;
    };

    // Act / Assess
    expect([admit('a'), admit('b'), admit('c')]).toEqual(['applied', 'applied', 'USES_IN_FLIGHT']);
    expect(settle('a', false)).toBe('returned');
    expect(admit('c')).toBe('applied');
    expect([settle('b', true), settle('c', true)]).toEqual(['counted', 'exhausted']);
    expect(admit('d')).toBe('NO_ACTIVE_GRANT');
    expect(request).toMatchObject({ uses: 2, inFlight: [], status: 'ended', endReason: USES_EXHAUSTED });
  });

  it('an execution whose outcome is never recorded keeps its use, however long after', () => {
    // Prepare: one use, taken by an execution whose host died before it recorded the outcome
    const t = admitUse(counted(1), 'lost', at);
    const held = t.kind === 'applied' ? t.request : counted(1);

    // Act
    const later = admitUse(held, 'next', hoursAfterT0(3));

    // Assess: unknown is not "failed"; the count must never be exceeded
    expect(later.kind === 'refused' && later.refusal.code).toBe('USES_IN_FLIGHT');
    expect(held.uses).toBe(0);
  });
});

describe('which grant an execution runs under', () => {
  const query = { requester: ALICE, requesterId: idOf(ALICE), task: MOVE };

  it.each([
    {
      name: 'an unlimited grant before a counted one that expires later (a use is spent only where nothing else covers)',
      requests: () => [
        counted(3, { id: 'counted', expiresAt: iso(hoursAfterT0(8)) }),
        counted(null, { id: 'unlimited' }),
      ],
      chosen: 'unlimited',
    },
    {
      name: 'a counted grant when it alone covers',
      requests: () => [
        counted(3, { id: 'counted' }),
        counted(null, { id: 'other', task: 'x', tasks: ['x'] }),
      ],
      chosen: 'counted',
    },
    {
      name: 'of two counted grants, the one that expires last',
      requests: () => [
        counted(3, { id: 'soon' }),
        counted(3, { id: 'late', expiresAt: iso(hoursAfterT0(8)) }),
      ],
      chosen: 'late',
    },
  ])('$name', ({ requests, chosen }) => {
    // Act / Assess
    expect(requireCoveringGrant(requests(), query, at).id).toBe(chosen);
  });
});
