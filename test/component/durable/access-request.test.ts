/**
 * The request orchestration over windows of days, on the local engine as the extension runs timers
 * (sub-timers over 6 days, cancelled timers still firing) and a clock the test moves. The real
 * `accessRequest` orchestrator runs; its activities are replaced by a scripted request row (the
 * activities themselves are tested against storage elsewhere), so the test sees when each runs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as df from 'durable-functions';
import { FunctionRegistry, installCoreModule } from '@zsa/local-host/core';
import { clockedEngine, DAY, HOUR, type ClockedEngine } from './clocked-engine';

const T0 = new Date('2026-03-01T00:00:00.000Z');
const at = (ms: number): string => new Date(T0.getTime() + ms).toISOString();

interface Row {
  status: 'pending' | 'approved' | 'expired' | 'ended' | 'revoked';
  pendingUntil: string;
  expiresAt: string | null;
}

let registry: FunctionRegistry;
/** Each scenario runs on an engine (and a clock) of its own, starting at T0. */
let clocked: ClockedEngine;
const rows = new Map<string, Row>();
const calls: { activity: string; requestId: string; at: string }[] = [];
/** Per request, when the claim on audit events still waiting in its row runs out (one answer each). */
const waitingClaims = new Map<string, string[]>();

function rowOf(requestId: unknown): Row {
  const row = rows.get(String(requestId));
  if (!row) throw new Error(`no request ${String(requestId)}`);
  return row;
}

function called(activity: string, requestId: unknown): void {
  calls.push({ activity, requestId: String(requestId), at: new Date(clocked.now()).toISOString() });
}

beforeAll(async () => {
  registry = new FunctionRegistry(() => undefined);
  installCoreModule(registry);
  await import('../../../functions/access-request.js');
  // The app's activities read and write storage on the app's clock: replace them with the row.
  for (const name of ['loadRequest', 'expireRequest', 'endGrant', 'sweepAudit'])
    registry.functions.delete(name.toLowerCase());
  df.app.activity('loadRequest', {
    handler: (id: unknown) => {
      called('loadRequest', id);
      return rowOf(id);
    },
  });
  df.app.activity('expireRequest', {
    handler: (id: unknown) => {
      called('expireRequest', id);
      const row = rowOf(id);
      if (row.status === 'pending' && clocked.now() >= Date.parse(row.pendingUntil)) row.status = 'expired';
      return row;
    },
  });
  df.app.activity('endGrant', {
    handler: (id: unknown) => {
      called('endGrant', id);
      const row = rowOf(id);
      if (row.status === 'approved' && row.expiresAt && clocked.now() >= Date.parse(row.expiresAt))
        row.status = 'ended';
      return row;
    },
  });
  df.app.activity('sweepAudit', {
    handler: (id: unknown) => {
      called('sweepAudit', id);
      return { claimableAt: waitingClaims.get(String(id))?.shift() ?? null };
    },
  });
  df.app.activity('notify', {
    handler: (input: unknown) => {
      const { requestId, event } = input as { requestId: string; event: string };
      called(`notify:${event}`, requestId);
    },
  });
  await registry.start(process.cwd());
});

beforeEach(async () => {
  clocked = await clockedEngine(registry, T0);
});

afterEach(() => {
  // No timer longer than the extension runs as one was cancelled (in Azure that shifts task ids).
  expect(clocked.warnings).toEqual([]);
});

/** Starts an instance as the app did before shapes were numbered (shape 1), or with `shape`. */
async function start(requestId: string, pendingDays: number, shape?: number): Promise<void> {
  rows.set(requestId, { status: 'pending', pendingUntil: at(pendingDays * DAY), expiresAt: null });
  const input = shape === undefined ? { requestId } : { requestId, shape };
  await clocked.engine.startNew('accessRequest', requestId, JSON.stringify(input));
}

/** The decision as the app makes it: the row first, then the event that says "look again". */
async function approve(requestId: string, grantMs: number): Promise<void> {
  const row = rowOf(requestId);
  row.status = 'approved';
  row.expiresAt = new Date(clocked.now() + grantMs).toISOString();
  await clocked.engine.raiseEvent(requestId, 'RequestDecided', JSON.stringify({ status: 'approved' }));
}

function callsOf(requestId: string, activity: string): string[] {
  return calls.filter((c) => c.requestId === requestId && c.activity === activity).map((c) => c.at);
}

async function statusOf(requestId: string): Promise<{ status: string; output: unknown }> {
  const state = await clocked.engine.getState(requestId);
  return { status: state?.status ?? 'unknown', output: JSON.parse(state?.output ?? 'null') };
}

describe('the request orchestration over windows of days', () => {
  it('10-day pending window, approved at 1 hour, 5-day grant → the grant ends on time and the orchestration completes', async () => {
    // Prepare
    await start('long-1', 10);
    await clocked.advance(HOUR);

    // Act
    await approve('long-1', 5 * DAY);
    await clocked.advance(12 * DAY);

    // Assess
    expect(await statusOf('long-1')).toEqual({ status: 'Completed', output: 'ended' });
    expect(callsOf('long-1', 'endGrant')).toEqual([at(HOUR + 5 * DAY)]);
    expect(callsOf('long-1', 'notify:ended')).toEqual([at(HOUR + 5 * DAY)]);
    expect(callsOf('long-1', 'sweepAudit')).toEqual([at(HOUR + 5 * DAY)]);
    expect(callsOf('long-1', 'expireRequest')).toEqual([]);
  });

  it('10-day pending window, approved at 1 hour, 8-day grant → the grant ends on time (a chained expiry; the cancelled deadline fires harmlessly)', async () => {
    await start('long-2', 10);
    await clocked.advance(HOUR);

    await approve('long-2', 8 * DAY);
    await clocked.advance(12 * DAY);

    expect(await statusOf('long-2')).toEqual({ status: 'Completed', output: 'ended' });
    expect(callsOf('long-2', 'endGrant')).toEqual([at(HOUR + 8 * DAY)]);
  });

  it('10-day pending window, approved on day 7 (after a chained timer fired) → the grant goes live and ends on time', async () => {
    await start('long-4', 10);
    await clocked.advance(7 * DAY);

    await approve('long-4', 2 * DAY);
    await clocked.advance(4 * DAY);

    expect(await statusOf('long-4')).toEqual({ status: 'Completed', output: 'ended' });
    expect(callsOf('long-4', 'expireRequest')).toEqual([]);
    expect(callsOf('long-4', 'endGrant')).toEqual([at(9 * DAY)]);
  });

  it('14-day grant revoked on day 10 (in its second chained timer) → it ends then, not at its expiry', async () => {
    await start('long-5', 1);
    await approve('long-5', 14 * DAY);
    await clocked.advance(10 * DAY);

    rowOf('long-5').status = 'revoked';
    await clocked.engine.raiseEvent('long-5', 'GrantRevoked', JSON.stringify({ status: 'revoked' }));
    await clocked.advance(5 * DAY);

    expect(await statusOf('long-5')).toEqual({ status: 'Completed', output: 'revoked' });
    expect(callsOf('long-5', 'endGrant')).toEqual([]);
    expect(callsOf('long-5', 'loadRequest').at(-1)).toBe(at(10 * DAY));
  });

  it('20-day pending window, no decision → the request expires at its deadline, not before', async () => {
    await start('long-3', 20);

    await clocked.advance(19 * DAY);
    const before = await statusOf('long-3');
    await clocked.advance(2 * DAY);

    expect(before.status).toBe('Running');
    expect(await statusOf('long-3')).toEqual({ status: 'Completed', output: 'expired' });
    expect(callsOf('long-3', 'expireRequest')).toEqual([at(20 * DAY)]);
  });
});

/**
 * The same 10-day window, decided at 1 hour, with an 8-day grant, fed straight to the SDK as a
 * history in the shape the extension writes on Azure Storage (no local engine): built by hand from
 * DurableTask.Core's rules — one `TaskScheduled`/`TimerCreated` per action with the next sequence
 * number, and the cancelled pending timer's `TimerFired` still appended when it comes due
 * (TaskOrchestrationContext.CreateTimer forgets only the task) — and the extension's timer limits.
 */
describe('audit events of a caller that died, during a grant', () => {
  it('shape 2: appended once the claim runs out, while the grant is live, and the grant still ends on time', async () => {
    // Prepare: the approval's caller recorded its events and died; their claim runs out 30 s later.
    await start('died-1', 1, 2);
    await clocked.advance(HOUR);
    waitingClaims.set('died-1', [new Date(clocked.now() + 30_000).toISOString()]);

    // Act
    await approve('died-1', 5 * DAY);
    await clocked.advance(HOUR);
    const duringGrant = callsOf('died-1', 'sweepAudit');
    await clocked.advance(5 * DAY);

    // Assess: one sweep when pending began; at the grant a sweep at once, another just past the claim
    // (the activity's clock may lag); then the end.
    expect(duringGrant).toEqual([at(0), at(HOUR), at(HOUR + 32_000)]);
    expect(callsOf('died-1', 'endGrant')).toEqual([at(HOUR + 5 * DAY)]);
    expect(await statusOf('died-1')).toEqual({ status: 'Completed', output: 'ended' });
  });

  it('shape 2: a submit whose caller died is appended while the request is still pending', async () => {
    waitingClaims.set('died-3', [new Date(clocked.now() + 30_000).toISOString()]);
    await start('died-3', 1, 2);
    await clocked.advance(HOUR);

    expect(callsOf('died-3', 'sweepAudit')).toEqual([at(0), at(32_000)]);
    expect(await statusOf('died-3')).toMatchObject({ status: 'Running' });
  });

  it('shape 2: a revoke while waiting for the claim ends the grant at once', async () => {
    await start('died-2', 1, 2);
    waitingClaims.set('died-2', [new Date(clocked.now() + 60_000).toISOString()]);
    await approve('died-2', DAY);
    await clocked.advance(10_000);

    rowOf('died-2').status = 'revoked';
    await clocked.engine.raiseEvent('died-2', 'GrantRevoked', JSON.stringify({ status: 'revoked' }));
    await clocked.advance(1000);

    expect(await statusOf('died-2')).toEqual({ status: 'Completed', output: 'revoked' });
    expect(callsOf('died-2', 'endGrant')).toEqual([]);
  });

  it('shape 1 (started before shapes were numbered) replays its own steps: no sweep until the grant is over', async () => {
    await start('old-1', 1);
    waitingClaims.set('old-1', [new Date(clocked.now() + 30_000).toISOString()]);
    await approve('old-1', DAY);
    await clocked.advance(HOUR);

    expect(callsOf('old-1', 'sweepAudit')).toEqual([]);
  });
});

describe('the request orchestration fed a history in the extension shape', () => {
  const E = {
    ExecutionStarted: 0,
    TaskScheduled: 4,
    TaskCompleted: 5,
    TimerCreated: 10,
    TimerFired: 11,
    OrchestratorStarted: 12,
    OrchestratorCompleted: 13,
    EventRaised: 15,
  } as const;
  const SECOND = 1000;
  const pending = { status: 'pending', pendingUntil: at(10 * DAY), expiresAt: null };
  const approved = { ...pending, status: 'approved', expiresAt: at(HOUR + 8 * DAY) };
  const ended = { ...approved, status: 'ended' };

  const ev = (type: number, fields: Record<string, unknown> = {}) => ({
    EventType: type,
    EventId: -1,
    ...fields,
  });
  const scheduled = (id: number, name: string, input: unknown) =>
    ev(E.TaskScheduled, { EventId: id, Name: name, Input: JSON.stringify(input) });
  const completed = (id: number, result: unknown) =>
    ev(E.TaskCompleted, { TaskScheduledId: id, Result: JSON.stringify(result ?? null) });
  const timerCreated = (id: number, fireAt: number) =>
    ev(E.TimerCreated, { EventId: id, FireAt: at(fireAt) });
  const timerFired = (id: number, fireAt: number) => ev(E.TimerFired, { TimerId: id, FireAt: at(fireAt) });
  /** One episode: OrchestratorStarted at `t`, its events, OrchestratorCompleted. */
  const episode = (t: number, ...events: Record<string, unknown>[]) =>
    [ev(E.OrchestratorStarted), ...events, ev(E.OrchestratorCompleted)].map((e) => ({
      IsPlayed: false,
      Timestamp: at(t),
      ...e,
    }));
  const notice = (event: string) => ({ requestId: 'azure-1', event });

  // The pending race's timer: 6 days from when it was created; the grant's: 6 days, then the rest.
  const PENDING_STEP = 2 * SECOND + 6 * DAY;
  const GRANT_STEP = HOUR + 3 * SECOND + 6 * DAY;
  const history = [
    ...episode(
      0,
      ev(E.ExecutionStarted, { Name: 'accessRequest', Input: '{"requestId":"azure-1"}' }),
      scheduled(0, 'loadRequest', 'azure-1'),
    ),
    ...episode(SECOND, completed(0, pending), scheduled(1, 'notify', notice('approvalNeeded'))),
    ...episode(2 * SECOND, completed(1, null), timerCreated(2, PENDING_STEP)),
    ...episode(
      HOUR,
      ev(E.EventRaised, { Name: 'RequestDecided', Input: '{"status":"approved"}' }),
      scheduled(3, 'loadRequest', 'azure-1'),
    ),
    ...episode(
      HOUR + SECOND,
      completed(3, approved),
      scheduled(4, 'notify', notice('approved')),
      scheduled(5, 'notify', notice('granted')),
    ),
    ...episode(HOUR + 2 * SECOND, completed(4, null)),
    ...episode(HOUR + 3 * SECOND, completed(5, null), timerCreated(6, GRANT_STEP)),
    // The cancelled pending timer still fires; DurableTask appends it and ignores it.
    ...episode(PENDING_STEP, timerFired(2, PENDING_STEP)),
    ...episode(GRANT_STEP, timerFired(6, GRANT_STEP), timerCreated(7, HOUR + 8 * DAY)),
    ...episode(HOUR + 8 * DAY, timerFired(7, HOUR + 8 * DAY), scheduled(8, 'endGrant', 'azure-1')),
    ...episode(HOUR + 8 * DAY + SECOND, completed(8, ended), scheduled(9, 'notify', notice('ended'))),
    ...episode(HOUR + 8 * DAY + 2 * SECOND, completed(9, null), scheduled(10, 'sweepAudit', 'azure-1')),
    ...episode(HOUR + 8 * DAY + 3 * SECOND, completed(10, { claimableAt: null })),
  ];

  it("takes the extension's ids for every task and completes once endGrant's result arrives", async () => {
    // Act
    const fn = registry.get('accessRequest');
    if (!fn) throw new Error('accessRequest is not registered');
    const trigger = {
      history,
      input: { requestId: 'azure-1' },
      instanceId: 'azure-1',
      isReplaying: false,
      parentInstanceId: null,
      upperSchemaVersion: 2,
      upperSchemaVersionNew: 2,
      longRunningTimerIntervalDuration: '3.00:00:00',
      maximumShortTimerDuration: '6.00:00:00',
      defaultHttpAsyncRequestSleepTimeMillseconds: 30000,
    };
    const { returnValue } = await registry.invoke(fn, [
      { name: fn.triggerName, data: { json: JSON.stringify(trigger) } },
    ]);
    const state = JSON.parse(returnValue?.json ?? 'null') as {
      isDone: boolean;
      output: unknown;
      actions: unknown[][];
    };

    // Assess: done, and the SDK scheduled exactly what the history did, in the same order (ids 0–10).
    expect(state).toMatchObject({ isDone: true, output: 'ended' });
    const idTaking: string[] = [];
    const walk = (a: { actionType: number; functionName?: string; compoundActions?: unknown[] }): void => {
      if (a.compoundActions) for (const c of a.compoundActions) walk(c as typeof a);
      else if (a.actionType === 1 || a.actionType === 0) idTaking.push(a.functionName ?? '');
      else if (a.actionType === 5) idTaking.push('timer');
    };
    for (const a of state.actions[0] ?? []) walk(a as Parameters<typeof walk>[0]);
    expect(idTaking).toEqual([
      'loadRequest',
      'notify',
      'timer',
      'loadRequest',
      'notify',
      'notify',
      'timer',
      'timer',
      'endGrant',
      'notify',
      'sweepAudit',
    ]);
  });
});

/**
 * Instances started before shape 3 keep running after the upgrade: a shape-2 history recorded on
 * the local engine by the orchestrator as it was before shape 3 (a pending window with a sweep of a
 * dead caller's events, an approval at one hour, an 8-day grant in two timers, its end, the final
 * sweeps) is fed to today's orchestrator, which must schedule exactly what the history holds.
 */
describe('a shape-2 instance after the upgrade', () => {
  it('replays its recorded history to the end with the same task ids', async () => {
    // Prepare
    const recorded = JSON.parse(
      readFileSync(join(process.cwd(), 'test/component/durable/shape2-history.json'), 'utf8'),
    ) as { EventType: number; Name?: string }[];
    const history = recorded.map((e) => ({ ...e, IsPlayed: true }));
    const scheduledInHistory = history
      .filter((e) => e.EventType === 4 || e.EventType === 10)
      .map((e) => (e.EventType === 4 ? String(e.Name) : 'timer'));
    const fn = registry.get('accessRequest');
    if (!fn) throw new Error('accessRequest is not registered');
    const trigger = {
      history,
      input: { requestId: 'shape2-1', shape: 2 },
      instanceId: 'shape2-1',
      isReplaying: true,
      parentInstanceId: null,
      upperSchemaVersion: 2,
      upperSchemaVersionNew: 2,
      longRunningTimerIntervalDuration: '3650.00:00:00',
      maximumShortTimerDuration: '3650.00:00:00',
      defaultHttpAsyncRequestSleepTimeMillseconds: 30000,
    };

    // Act
    const { returnValue } = await registry.invoke(fn, [
      { name: fn.triggerName, data: { json: JSON.stringify(trigger) } },
    ]);
    const state = JSON.parse(returnValue?.json ?? 'null') as {
      isDone: boolean;
      output: unknown;
      actions: unknown[][];
    };

    // Assess
    expect(state).toMatchObject({ isDone: true, output: 'ended' });
    const idTaking: string[] = [];
    const walk = (a: { actionType: number; functionName?: string; compoundActions?: unknown[] }): void => {
      if (a.compoundActions) for (const c of a.compoundActions) walk(c as typeof a);
      else if (a.actionType === 1 || a.actionType === 0) idTaking.push(a.functionName ?? '');
      else if (a.actionType === 5) idTaking.push('timer');
    };
    for (const a of state.actions[0] ?? []) walk(a as Parameters<typeof walk>[0]);
    expect(idTaking).toEqual(scheduledInHistory);
    expect(scheduledInHistory).toContain('sweepAudit');
  });
});
