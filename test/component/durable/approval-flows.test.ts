/**
 * The request orchestration of shape 3 — approval stages, a scheduled start, extensions, counted
 * grants — on the local Durable engine with a clock the test moves (history in real Azurite), with
 * its real settle and start activities over the real request repository and audit. The stories that
 * change the row are played as they commit: the domain's transition written by compare-and-swap,
 * then the event that says "look again". Notices are recorded instead of published (the notify
 * activity is tested with the notifications).
 */
import { registry } from './app-registry';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as df from 'durable-functions';
import { getDeps } from '#shared/app/deps';
import { decideExtensionTransition, extendTransition } from '#shared/domain/extensions';
import {
  closeWaitingExtension,
  decideTransition,
  Request,
  type GroupMembers,
  type Transition,
} from '#shared/domain/request';
import { admitUse, settleUse } from '#shared/domain/uses';
import { createDurableApi } from '@zsa/local-host/durable';
import { durableOrchestrations, RequestEvent } from '#shared/requests/orchestrations';
import { reconcile, type ReconcileReport } from '#shared/requests/reconcile';
import { startComponentEnv, type ComponentEnv } from '../../support/component';
import { durableClientFor } from '../../support/durable-client';
import { userKey } from '../../support/requests';
import { clockedEngine, HOUR, type ClockedEngine } from './clocked-engine';

const ALICE = 'alice@contoso.com';
const ANN = 'ann@contoso.com';
const BEN = 'ben@contoso.com';
const MINUTE = 60_000;
const members: GroupMembers = new Map([
  ['g1', [{ upn: ANN, id: userKey(ANN) }]],
  ['g2', [{ upn: BEN, id: userKey(BEN) }]],
]);

let env: ComponentEnv;
let server: Server;
let client: df.DurableClient;
let clocked: ClockedEngine;
let t0 = 0;
/** A promise and the function that resolves it. */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** When set, the next settle activity waits, after reading the row, until `released`. */
let hold: { reached: () => void; released: Promise<void> } | undefined;
/** Settle activities still to fail (storage not answering) before one gets through; each is retried. */
let settleFailures = 0;
/** Every notice the workflow asked for: `<event>[:stage s][:ext n] @<ms since t0>`. */
const notices: { requestId: string; text: string }[] = [];

beforeAll(async () => {
  env = await startComponentEnv();
  const activities = await import('../../../functions/access-request.js');
  // The real settle activity, which a test may hold after it has read the row.
  registry.functions.delete('settlerequest');
  df.app.activity('settleRequest', {
    handler: async (input: unknown, context) => {
      if (settleFailures > 0) {
        settleFailures--;
        throw new Error('storage did not answer');
      }
      const snapshot: unknown = await activities.settleRequestActivity(input, context);
      const held = hold;
      if (held !== undefined) {
        hold = undefined;
        held.reached();
        await held.released;
      }
      return snapshot;
    },
  });
  registry.functions.delete('notify');
  df.app.activity('notify', {
    handler: (input: unknown) => {
      const n = input as { requestId: string; event: string; stage?: number; extensionId?: string };
      const text = [
        n.event,
        ...(n.stage === undefined ? [] : [`stage ${n.stage}`]),
        ...(n.extensionId === undefined ? [] : [`ext ${n.extensionId}`]),
      ].join(':');
      notices.push({ requestId: n.requestId, text: `${text} @${clocked.now() - t0}` });
    },
  });
  await registry.start(process.cwd());
  // The engine's Durable HTTP API, for the reconciler's real client.
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void createDurableApi(clocked.engine, () => origin)(req, res, Buffer.concat(chunks)).then((handled) => {
        if (!handled) res.writeHead(404).end();
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  const origin = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  client = durableClientFor(origin, 'Flows');
}, 60_000);

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await env.close();
});

beforeEach(async () => {
  settleFailures = 0;
  // Each scenario on an engine (and clock) of its own; the app reads the same clock.
  t0 = Date.parse('2026-03-01T00:00:00.000Z') + Math.floor(Math.random() * 1000) * HOUR;
  clocked = await clockedEngine(registry, new Date(t0));
  getDeps().now = () => new Date(clocked.now());
});

afterEach(() => {
  expect(clocked.warnings).toEqual([]);
});

const now = () => new Date(clocked.now());
const at = (ms: number) => new Date(t0 + ms).toISOString();
const noticesOf = (id: string) => notices.filter((n) => n.requestId === id).map((n) => n.text);
const row = async (id: string) => (await getDeps().requests.read(id))?.request;

async function auditOf(id: string): Promise<{ action: string; actor: string; id: string }[]> {
  const page = await getDeps().audit.query({ requestId: id });
  return page.items.map((r) => ({ action: r.action, actor: r.actorKind, id: r.id }));
}

/** Alice's request, submitted now under two stages (g1 then g2) unless `overrides` say otherwise. */
function aRequest(overrides: Partial<Request> = {}): Request {
  const created = now();
  return Request.parse({
    id: randomUUID(),
    requester: ALICE,
    requesterId: userKey(ALICE),
    task: 'Flows\\Task',
    tasks: ['Flows\\Task'],
    reason: 'INC-13',
    ticket: null,
    durationHours: 1,
    parameters: null,
    status: 'pending',
    policyId: 'p1',
    approvalType: 'manual',
    approverGroup: 'g1',
    requiredApprovals: 2,
    approvals: [],
    stages: [
      { approverGroup: 'g1', requiredApprovals: 1 },
      { approverGroup: 'g2', requiredApprovals: 1 },
    ],
    clientRequestId: null,
    createdAt: created.toISOString(),
    pendingUntil: new Date(created.getTime() + 24 * HOUR).toISOString(),
    decidedAt: null,
    grantedAt: null,
    expiresAt: null,
    endedAt: null,
    endedBy: null,
    endReason: null,
    startAt: null,
    maxUses: null,
    uses: 0,
    inFlight: [],
    maxExtensions: 2,
    maxDurationHours: null,
    pendingTimeoutHours: 24,
    extensions: [],
    ...overrides,
  });
}

/** Stores the request and starts its workflow (shape 3), as a submit does. */
async function submitted(request: Request): Promise<string> {
  await getDeps().requests.create(request, [], new Date(clocked.now() + HOUR).toISOString());
  await clocked.engine.startNew(
    'accessRequest',
    request.id,
    JSON.stringify({ requestId: request.id, shape: 3 }),
  );
  await clocked.engine.whenIdle();
  return request.id;
}

/** A story's commit: the rule by compare-and-swap, then (unless lost) the event that says "look again". */
async function commit(
  id: string,
  rule: (r: Request) => Transition<string> | Request,
  event: string | undefined,
): Promise<Request> {
  const next = await getDeps().requests.update(id, (current) => {
    const t = rule(current);
    if ('kind' in t) {
      if (t.kind !== 'applied') throw t.refusal;
      return { next: t.request, result: t.request };
    }
    return { next: t, result: t };
  });
  if (event !== undefined)
    await clocked.engine.raiseEvent(id, event, JSON.stringify({ status: next.status }));
  await clocked.engine.whenIdle();
  return next;
}

const approve = (id: string, upn: string) =>
  commit(
    id,
    (r) => decideTransition(r, { approver: { id: userKey(upn), upn }, decision: 'approve' }, members, now()),
    RequestEvent.Decided,
  );

/** Alice asks to extend her grant; `lost`: its event never reaches the workflow. */
const extend = (id: string, hours: number, reason = 'more', lost = false) =>
  commit(
    id,
    (r) => extendTransition(r, { id: userKey(ALICE), upn: ALICE }, { hours, reason }, 1, now()),
    lost ? undefined : RequestEvent.GrantChanged,
  );

/** A decision on an extension (1 unless told); `lost`: its event never reaches the workflow. */
const decideExtension = (
  id: string,
  upn: string,
  decision: 'approve' | 'deny',
  { lost = false, extensionId = '1' }: { lost?: boolean; extensionId?: string } = {},
) =>
  commit(
    id,
    (r) =>
      decideExtensionTransition(
        r,
        extensionId,
        { approver: { id: userKey(upn), upn }, decision },
        members,
        now(),
      ),
    lost ? undefined : RequestEvent.GrantChanged,
  );

/** An approval of extension 1; `lost`: its event never reaches the workflow. */
const approveExtension = (id: string, upn: string, lost = false) =>
  decideExtension(id, upn, 'approve', { lost });

async function runtime(id: string): Promise<{ status: string; output: unknown; mirror: unknown }> {
  const state = await clocked.engine.getState(id);
  return {
    status: state?.status ?? 'unknown',
    output: JSON.parse(state?.output ?? 'null'),
    mirror: JSON.parse(state?.customStatus ?? 'null'),
  };
}

describe('approval stages', () => {
  it("stage 1's approval asks stage 2's approvers; stage 2's approval starts the grant, which ends on time", async () => {
    // Prepare
    const id = await submitted(aRequest());

    // Act
    await clocked.advance(10 * MINUTE);
    await approve(id, ANN);
    const midway = await runtime(id);
    await clocked.advance(10 * MINUTE);
    await approve(id, BEN);
    await clocked.advance(2 * HOUR);

    // Assess
    expect(midway.mirror).toMatchObject({ status: 'pending', stage: 1 });
    expect(noticesOf(id)).toEqual([
      'approvalNeeded:stage 0 @0',
      `approvalNeeded:stage 1 @${10 * MINUTE}`,
      `approved @${20 * MINUTE}`,
      `granted @${20 * MINUTE}`,
      `ended @${20 * MINUTE + HOUR}`,
    ]);
    expect(await runtime(id)).toMatchObject({ status: 'Completed', output: 'ended' });
    expect(await row(id)).toMatchObject({ status: 'ended', endedAt: at(20 * MINUTE + HOUR) });
    expect(await auditOf(id)).toContainEqual({
      action: 'grant.ended',
      actor: 'system',
      id: `${id}:grant.ended`,
    });
  });
});

describe('a scheduled start', () => {
  it('approved before its start: waits, audits grant.started as the system at the start, tells the requester, ends an hour later', async () => {
    // Prepare: one stage, to start in 2 hours
    const id = await submitted(
      aRequest({ stages: [{ approverGroup: 'g1', requiredApprovals: 1 }], startAt: at(2 * HOUR) }),
    );

    // Act
    await clocked.advance(10 * MINUTE);
    await approve(id, ANN);
    const waiting = { row: await row(id), audit: await auditOf(id) };
    await clocked.advance(4 * HOUR);

    // Assess
    expect(waiting.row).toMatchObject({
      status: 'approved',
      grantedAt: at(2 * HOUR),
      expiresAt: at(3 * HOUR),
    });
    expect(waiting.audit.map((a) => a.action)).not.toContain('grant.started');
    expect(noticesOf(id)).toEqual([
      'approvalNeeded:stage 0 @0',
      `approved @${10 * MINUTE}`,
      `granted @${10 * MINUTE}`,
      `started @${2 * HOUR}`,
      `ended @${3 * HOUR}`,
    ]);
    expect(await auditOf(id)).toContainEqual({
      action: 'grant.started',
      actor: 'system',
      id: `${id}:grant.started`,
    });
    expect(await runtime(id)).toMatchObject({ status: 'Completed', output: 'ended' });
  });

  it('a week ahead: the wait is a chain of timers of at most 6 days, and the grant still starts and ends on time', async () => {
    // Prepare
    const DAY = 24 * HOUR;
    const id = await submitted(
      aRequest({ stages: [{ approverGroup: 'g1', requiredApprovals: 1 }], startAt: at(7 * DAY) }),
    );

    // Act
    await approve(id, ANN);
    await clocked.advance(8 * DAY);

    // Assess
    expect(noticesOf(id).slice(-2)).toEqual([`started @${7 * DAY}`, `ended @${7 * DAY + HOUR}`]);
    const fireAts = (await clocked.stored(id)).history
      .filter((e) => e.EventType === 10)
      .map((e) => Date.parse(String(e.FireAt)) - t0);
    expect(fireAts).toContain(6 * DAY);
    expect(await runtime(id)).toMatchObject({ status: 'Completed', output: 'ended' });
  });

  it('revoked while it waits for its start: over at once, never started', async () => {
    // Prepare
    const id = await submitted(
      aRequest({ stages: [{ approverGroup: 'g1', requiredApprovals: 1 }], startAt: at(2 * HOUR) }),
    );
    await approve(id, ANN);
    await clocked.advance(30 * MINUTE);

    // Act
    await commit(
      id,
      (r) => ({
        ...r,
        status: 'revoked',
        endedAt: now().toISOString(),
        endedBy: ALICE,
        extensions: closeWaitingExtension(r, 'canceled', now()),
      }),
      RequestEvent.Revoked,
    );

    // Assess
    expect(await runtime(id)).toMatchObject({ status: 'Completed', output: 'revoked' });
    expect(noticesOf(id)).toEqual([
      'approvalNeeded:stage 0 @0',
      'approved @0',
      'granted @0',
      `revoked @${30 * MINUTE}`,
    ]);
    await clocked.advance(3 * HOUR);
    expect((await auditOf(id)).map((a) => a.action)).not.toContain('grant.started');
  });

  it('revoked a second after its start, while the look at the start waited on storage: it did start, so grant.started is audited (as the system) before it is over', async () => {
    // Prepare: approved, to start in 2 hours; storage does not answer the look at the start
    const id = await submitted(
      aRequest({ stages: [{ approverGroup: 'g1', requiredApprovals: 1 }], startAt: at(2 * HOUR) }),
    );
    await approve(id, ANN);
    settleFailures = 1;
    await clocked.advance(2 * HOUR + 1000);

    // Act: revoked before the look is retried (2 s later)
    await commit(
      id,
      (r) => ({ ...r, status: 'revoked', endedAt: now().toISOString(), endedBy: ALICE }),
      RequestEvent.Revoked,
    );
    await clocked.advance(5000);

    // Assess
    expect(await runtime(id)).toMatchObject({ status: 'Completed', output: 'revoked' });
    expect(await auditOf(id)).toContainEqual({
      action: 'grant.started',
      actor: 'system',
      id: `${id}:grant.started`,
    });
    // Over when the workflow looked: the requester is told it was revoked, not that it started.
    expect(noticesOf(id).slice(1)).toEqual(['approved @0', 'granted @0', `revoked @${2 * HOUR + 2000}`]);
  });
});

describe('extensions', () => {
  /** A live one-hour grant, approved in both stages at t0. */
  async function liveGrant(overrides: Partial<Request> = {}): Promise<string> {
    const request = aRequest(overrides);
    const id = await submitted(request);
    for (const approver of [ANN, BEN].slice(0, request.stages.length)) await approve(id, approver);
    return id;
  }

  it('approved in both stages: each stage is asked in turn, and the grant ends at its new end, not the old', async () => {
    // Prepare
    const id = await liveGrant();
    await clocked.advance(20 * MINUTE);

    // Act
    await extend(id, 1);
    await clocked.advance(5 * MINUTE);
    await approveExtension(id, ANN);
    await clocked.advance(5 * MINUTE);
    await approveExtension(id, BEN);
    const extended = await runtime(id);
    await clocked.advance(3 * HOUR);

    // Assess
    expect(extended.mirror).toMatchObject({
      status: 'approved',
      expiresAt: at(2 * HOUR),
      extensions: [{ id: '1', status: 'approved', stage: null }],
    });
    expect(noticesOf(id).slice(4)).toEqual([
      `extensionRequested:stage 0:ext 1 @${20 * MINUTE}`,
      `extensionRequested:stage 1:ext 1 @${25 * MINUTE}`,
      `extensionApproved:ext 1 @${30 * MINUTE}`,
      `ended @${2 * HOUR}`,
    ]);
    expect(await row(id)).toMatchObject({ status: 'ended', endedAt: at(2 * HOUR) });
  });

  it('approved while its event was lost: the workflow wakes at the old end, finds it not due, and ends at the new one', async () => {
    // Prepare
    const id = await liveGrant({ stages: [{ approverGroup: 'g1', requiredApprovals: 1 }] });
    await clocked.advance(20 * MINUTE);
    await extend(id, 1);

    // Act: the approval's event never arrives
    await approveExtension(id, ANN, true);
    await clocked.advance(HOUR + MINUTE);
    const atOldEnd = await row(id);
    await clocked.advance(2 * HOUR);

    // Assess
    expect(atOldEnd).toMatchObject({ status: 'approved', expiresAt: at(2 * HOUR) });
    expect(noticesOf(id).slice(-2)).toEqual([`extensionApproved:ext 1 @${HOUR}`, `ended @${2 * HOUR}`]);
    expect(await row(id)).toMatchObject({ status: 'ended', endedAt: at(2 * HOUR) });
  });

  it('still waiting when the grant ends: it expires with the grant, both audited by the system', async () => {
    // Prepare
    const id = await liveGrant();
    await clocked.advance(40 * MINUTE);

    // Act
    await extend(id, 1);
    await clocked.advance(HOUR);

    // Assess
    expect(noticesOf(id).slice(4)).toEqual([
      `extensionRequested:stage 0:ext 1 @${40 * MINUTE}`,
      `extensionExpired:ext 1 @${HOUR}`,
      `ended @${HOUR}`,
    ]);
    const stored = await row(id);
    expect(stored).toMatchObject({ status: 'ended', endedAt: at(HOUR) });
    expect(stored?.extensions[0]).toMatchObject({ status: 'expired', decidedAt: at(HOUR) });
    const audit = await auditOf(id);
    expect(audit).toContainEqual({
      action: 'extension.expired',
      actor: 'system',
      id: `${id}:extension.expired:1`,
    });
    expect(audit).toContainEqual({ action: 'grant.ended', actor: 'system', id: `${id}:grant.ended` });
    // The grant it would have extended is over: the events topic reports the extension with `ended`.
    const expired = (await getDeps().audit.query({ requestId: id })).items.find(
      (r) => r.action === 'extension.expired',
    );
    expect(JSON.parse(expired?.detail ?? '{}')).toMatchObject({ extensionId: '1', status: 'ended' });
  });

  it('past its own deadline (the policy window) while the grant runs: it expires then, and the grant runs on', async () => {
    // Prepare: extensions wait at most 15 minutes
    const id = await liveGrant({ pendingTimeoutHours: 0.25 });
    await clocked.advance(10 * MINUTE);

    // Act
    await extend(id, 1);
    await clocked.advance(20 * MINUTE);
    const meanwhile = await runtime(id);
    await clocked.advance(HOUR);

    // Assess
    expect(meanwhile).toMatchObject({
      status: 'Running',
      mirror: { status: 'approved', extensions: [{ id: '1', status: 'expired', stage: null }] },
    });
    expect(noticesOf(id).slice(4)).toEqual([
      `extensionRequested:stage 0:ext 1 @${10 * MINUTE}`,
      `extensionExpired:ext 1 @${25 * MINUTE}`,
      `ended @${HOUR}`,
    ]);
  });

  it.each([
    ['approve', 'extensionApproved'],
    ['deny', 'extensionDenied'],
  ] as const)(
    "decided (%s) while its event was lost, then a second asked for: the first's outcome is told before the second's ask",
    async (decision, told) => {
      // Prepare: extension 1 asked for, then decided without its event reaching the workflow
      const id = await liveGrant({ stages: [{ approverGroup: 'g1', requiredApprovals: 1 }] });
      await clocked.advance(10 * MINUTE);
      await extend(id, 1, 'first');
      await decideExtension(id, ANN, decision, { lost: true });
      await clocked.advance(5 * MINUTE);

      // Act
      await extend(id, 1, 'second');

      // Assess
      expect(noticesOf(id).slice(3)).toEqual([
        `extensionRequested:stage 0:ext 1 @${10 * MINUTE}`,
        `${told}:ext 1 @${15 * MINUTE}`,
        `extensionRequested:stage 0:ext 2 @${15 * MINUTE}`,
      ]);
      expect((await runtime(id)).mirror).toMatchObject({
        extensions: [
          { id: '1', status: decision === 'approve' ? 'approved' : 'denied', stage: null },
          { id: '2', status: 'pending', stage: 0 },
        ],
      });
    },
  );

  it('automatic: two extensions back to back, the workflow looking once, tells the requester of both', async () => {
    // Prepare: a live automatic grant
    const id = await submitted(
      aRequest({
        approvalType: 'auto',
        approverGroup: null,
        requiredApprovals: 0,
        stages: [],
        status: 'approved',
        decidedAt: now().toISOString(),
        grantedAt: now().toISOString(),
        expiresAt: at(HOUR),
      }),
    );
    await clocked.advance(10 * MINUTE);

    // Act: the first's event has not come when the second is asked for
    await extend(id, 1, 'first', true);
    await extend(id, 1, 'second');
    await clocked.advance(4 * HOUR);

    // Assess
    expect(noticesOf(id)).toEqual([
      'granted @0',
      `extensionApproved:ext 1 @${10 * MINUTE}`,
      `extensionApproved:ext 2 @${10 * MINUTE}`,
      `ended @${3 * HOUR}`,
    ]);
  });

  it('a second change told while the workflow looks at the first is heard, even after its waits were raced more than once', async () => {
    // Prepare: extension 1 expires at its own deadline (the workflow's wait for a change is raced
    // again after that timer), then extension 2 is asked for while the workflow's look is held
    const id = await liveGrant({
      stages: [{ approverGroup: 'g1', requiredApprovals: 1 }],
      pendingTimeoutHours: 0.25,
    });
    await clocked.advance(10 * MINUTE);
    await extend(id, 1);
    await clocked.advance(20 * MINUTE);
    const looking = signal();
    const released = signal();
    hold = { reached: looking.resolve, released: released.promise };
    const events = async () =>
      (await clocked.stored(id)).history.filter(
        (e) => e.EventType === 15 && e.Name === RequestEvent.GrantChanged,
      ).length;
    await getDeps().requests.update(id, (r) => {
      const t = extendTransition(
        r,
        { id: userKey(ALICE), upn: ALICE },
        { hours: 1, reason: 'again' },
        1,
        now(),
      );
      if (t.kind !== 'applied') throw t.refusal;
      return { next: t.request, result: undefined };
    });
    await clocked.engine.raiseEvent(id, RequestEvent.GrantChanged, '{"status":"approved"}');
    await looking.promise;

    // Act: extension 2 approved, and its event raised, while the look at the request is held
    await getDeps().requests.update(id, (r) => {
      const t = decideExtensionTransition(
        r,
        '2',
        { approver: { id: userKey(ANN), upn: ANN }, decision: 'approve' },
        members,
        now(),
      );
      if (t.kind !== 'applied') throw t.refusal;
      return { next: t.request, result: undefined };
    });
    const before = await events();
    await clocked.engine.raiseEvent(id, RequestEvent.GrantChanged, '{"status":"approved"}');
    await expect.poll(events).toBe(before + 1);
    released.resolve();
    await clocked.engine.whenIdle();

    // Assess: told at once, not at the next deadline
    expect(noticesOf(id).slice(-2)).toEqual([
      `extensionRequested:stage 0:ext 2 @${30 * MINUTE}`,
      `extensionApproved:ext 2 @${30 * MINUTE}`,
    ]);
  });
});

describe('a counted grant', () => {
  it('its last use ends it: the workflow finishes at once and tells the requester', async () => {
    // Prepare
    const id = await submitted(
      aRequest({ stages: [{ approverGroup: 'g1', requiredApprovals: 1 }], maxUses: 1 }),
    );
    await approve(id, ANN);
    await clocked.advance(5 * MINUTE);

    // Act: one execution admitted, and its success recorded (the last use)
    await commit(id, (r) => admitUse(r, 'run-1', now()), undefined);
    await commit(id, (r) => settleUse(r, 'run-1', true, now()).request, RequestEvent.GrantChanged);

    // Assess
    expect(await runtime(id)).toMatchObject({ status: 'Completed', output: 'ended' });
    expect(noticesOf(id).at(-1)).toBe(`ended @${5 * MINUTE}`);
    expect(await row(id)).toMatchObject({ status: 'ended', endReason: 'uses exhausted' });
  });
});

describe('the reconciler, for an event that was lost', () => {
  function reconcileNow(): Promise<ReconcileReport> {
    const deps = getDeps();
    return reconcile({
      repo: deps.requests,
      audit: deps.audit,
      orchestrations: durableOrchestrations(client),
      alert: () => Promise.resolve(),
      now: deps.now(),
      log: () => undefined,
    });
  }

  /** The request, due for the reconciler's look from the start. */
  async function watched(request: Request): Promise<string> {
    await getDeps().requests.create(request, [], request.createdAt);
    await clocked.engine.startNew(
      'accessRequest',
      request.id,
      JSON.stringify({ requestId: request.id, shape: 3 }),
    );
    await clocked.engine.whenIdle();
    return request.id;
  }

  it("a stage approved without its event: left alone for a moment (it may be on its way), then told again, and stage 2's approvers are asked", async () => {
    // Prepare: stage 1 approved in the row only
    const id = await watched(aRequest());
    await commit(
      id,
      (r) =>
        decideTransition(
          r,
          { approver: { id: userKey(ANN), upn: ANN }, decision: 'approve' },
          members,
          now(),
        ),
      undefined,
    );

    // Act
    await clocked.advance(1000);
    const early = await reconcileNow();
    await clocked.advance(2000);
    const late = await reconcileNow();
    await clocked.engine.whenIdle();

    // Assess
    expect(early.nudged).not.toContain(id);
    expect(late.nudged).toContain(id);
    expect((await runtime(id)).mirror).toMatchObject({ status: 'pending', stage: 1 });
    expect(noticesOf(id)).toEqual(['approvalNeeded:stage 0 @0', 'approvalNeeded:stage 1 @3000']);
  });

  it('an extension approved without its event: told again, the requester hears at once, and the grant ends at its new end', async () => {
    // Prepare
    const request = aRequest({ stages: [{ approverGroup: 'g1', requiredApprovals: 1 }] });
    const id = await watched(request);
    await approve(id, ANN);
    await clocked.advance(10 * MINUTE);
    await extend(id, 1);
    await approveExtension(id, ANN, true);

    // Act
    await clocked.advance(5000);
    const report = await reconcileNow();
    await clocked.engine.whenIdle();
    const told = noticesOf(id).at(-1);
    await clocked.advance(3 * HOUR);

    // Assess
    expect(report.nudged).toContain(id);
    expect(told).toBe(`extensionApproved:ext 1 @${10 * MINUTE + 5000}`);
    expect(await row(id)).toMatchObject({ status: 'ended', endedAt: at(2 * HOUR) });
  });

  it('a workflow that is up to date is not told anything', async () => {
    // Prepare
    const id = await watched(aRequest());
    await approve(id, ANN);
    await clocked.advance(5000);

    // Act
    const report = await reconcileNow();

    // Assess
    expect(report.nudged).not.toContain(id);
  });
});
