/**
 * Workflows that cannot go on: the real request orchestration and its real activities on the local
 * Durable engine (a clock the test moves, history in real Azurite), the real request stories,
 * audit and Service Bus (the local endpoint), driven through the real DurableClient over the
 * engine's HTTP API. Storage "down for good" for one request is an activity wrapper that throws
 * what the table client throws when storage does not answer.
 *
 * - a permanent activity error (no such request) stops the workflow at once; a transient one is
 *   retried for about an hour, then the workflow marks the request failed itself;
 * - the reconciler closes as failed what the workflow could not (failed or terminated instance,
 *   a workflow never started), alerts the requester and the approver group once, and costs nothing
 *   when nothing is due;
 * - a submit whose index write fails leaves no request that no list shows.
 */
import { registry } from './app-registry';
import { createServer, type Server } from 'node:http';
import { TableClient } from '@azure/data-tables';
import type { ServiceBusReceivedMessage } from '@azure/service-bus';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as df from 'durable-functions';
import { DEV_TENANT_ID } from '@zsa/local-host';
import { createDurableApi } from '@zsa/local-host/durable';
import { createTables, type Tables } from '#shared/adapters/tables';
import { getDeps } from '#shared/app/deps';
import type { Principal } from '#shared/auth/index';
import { resetSettingsCache, settings } from '#shared/config';
import { DomainError } from '#shared/domain/errors';
import { NOTIFICATIONS_QUEUE, NotificationMessage } from '#shared/notifications/messages';
import { publishNotification } from '#shared/notifications/publish';
import { publishContext } from '#shared/notifications/wiring';
import type { Caller, RequestContext } from '#shared/requests/context';
import { classified, durableOrchestrations } from '#shared/requests/orchestrations';
import { reconcile, RECHECK_MS, type ReconcileReport } from '#shared/requests/reconcile';
import { createRequestRepository } from '#shared/requests/repository';
import { START_GRACE_MS, submitRequest } from '#shared/requests/usecases';
import { catalogTaskPut } from '../../../functions/catalog';
import { policyCreate } from '../../../functions/policies';
import { enablePam } from '../../support/admin';
import { call, startComponentEnv, type ComponentEnv } from '../../support/component';
import { durableClientFor } from '../../support/durable-client';
import { aPendingRequest, REQUESTER as ALICE, userKey } from '../../support/requests';
import { peekAll, startTestBus, type TestBus } from '../servicebus/bus';
import { clockedEngine, HOUR, type ClockedEngine } from './clocked-engine';

const ANN = 'ann@contoso.com';
const BEN = 'ben@contoso.com';
const GROUP = 'fault-approvers';
const MANUAL = 'Faults\\Manual';
const AUTO = 'Faults\\Auto';
const MINUTE = 60_000;

let env: ComponentEnv;
let bus: TestBus;
let server: Server;
let origin = '';
let clocked: ClockedEngine;
let client: df.DurableClient;

/**
 * Requests whose storage is "down for good" for the activities named: `transient`, thrown as the
 * table client's outage is; `permanent`, answered as a row that can never be read.
 */
const broken = new Map<string, Map<string, 'transient' | 'permanent'>>();
/** Attempts of each activity, per request: `<activity> <requestId>`. */
const attempts: string[] = [];

beforeAll(async () => {
  bus = await startTestBus({ entities: [{ queue: NOTIFICATIONS_QUEUE }] });
  env = await startComponentEnv({ ServiceBusConnection: bus.bus.connectionString, ZSA_EVENTS_TOPIC: '' });
  if (process.env.ZSA_TENANT_ID === undefined) {
    // Members are resolved through the development issuer's directory.
    Object.assign(process.env, {
      ZSA_TENANT_ID: DEV_TENANT_ID,
      ZSA_DIRECTORY_URL: env.issuer.directoryUrl,
    });
    resetSettingsCache();
  }
  const admin = await env.token('admin@contoso.com', ['PAM.Admin']);
  await enablePam(admin, { group: GROUP, members: [ANN, BEN] });
  const ok = (r: { status: number; body: unknown }) =>
    expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
  for (const [name, approvalType] of [
    [MANUAL, 'manual'],
    [AUTO, 'auto'],
  ] as const) {
    ok(
      await call(catalogTaskPut, {
        method: 'PUT',
        path: '/x',
        token: admin,
        body: { name, description: 'd', executor: { type: 'webhook', url: 'http://127.0.0.1:1/hook' } },
      }),
    );
    ok(
      await call(policyCreate, {
        method: 'POST',
        path: '/x',
        token: admin,
        body: { scope: 'task', target: name, approvalType },
      }),
    );
  }

  const activities = await import('../../../functions/access-request.js');
  await import('../../../functions/notifications.js');
  // The real activities, counted, and failing as storage does for the requests marked broken.
  const real: Record<string, df.ActivityHandler> = {
    loadRequest: activities.loadRequest,
    endGrant: activities.endGrantActivity,
    settleRequest: activities.settleRequestActivity,
    failRequest: activities.failRequestActivity,
  };
  for (const [name, handler] of Object.entries(real)) {
    registry.functions.delete(name.toLowerCase());
    df.app.activity(name, {
      handler: (input: unknown, context) => {
        const id = typeof input === 'string' ? input : (input as { requestId: string }).requestId;
        attempts.push(`${name} ${id}`);
        const fault = broken.get(id)?.get(name);
        if (fault === 'transient')
          throw new DomainError('UNAVAILABLE', 'Storage is not reachable right now (injected)');
        if (fault === 'permanent')
          return classified(() => {
            throw new DomainError('INVALID_INPUT', 'The stored request is not valid (injected)');
          });
        return handler(input, context) as unknown;
      },
    });
  }
  await registry.start(process.cwd());

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
  origin = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  client = durableClientFor(origin, 'Faults');
}, 60_000);

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await bus.close();
  await env.close();
});

beforeEach(async () => {
  // Each scenario on an engine (and clock) of its own, starting now; the app reads the same clock.
  clocked = await clockedEngine(registry, new Date());
  getDeps().now = () => new Date(clocked.now());
});

const alice: Caller = (() => {
  const principal: Principal = {
    id: userKey(ALICE),
    upn: ALICE,
    roles: [],
    isAdmin: false,
    isAuditor: false,
    authMethod: 'bearer',
    strength: { acrs: [], amr: [] },
  };
  return { principal, actor: { kind: 'user', id: principal.id, upn: ALICE, roles: [] }, origin: {} };
})();

function requestContext(repo = getDeps().requests): RequestContext {
  const deps = getDeps();
  return {
    repo,
    config: deps.config,
    orchestrations: durableOrchestrations(client),
    audit: deps.audit,
    now: deps.now(),
    minDurationSeconds: 1,
  };
}

async function submit(task: string, durationHours = 1): Promise<string> {
  const { view } = await submitRequest(requestContext(), alice, { task, reason: 'INC-42', durationHours });
  await clocked.engine.whenIdle();
  return view.id;
}

function reconcileNow(): Promise<ReconcileReport> {
  const deps = getDeps();
  return reconcile({
    repo: deps.requests,
    audit: deps.audit,
    orchestrations: durableOrchestrations(client),
    alert: (requestId) =>
      publishNotification(publishContext(), { requestId, event: 'failed' }).then(() => undefined),
    now: deps.now(),
    log: () => undefined,
  });
}

const row = async (id: string) => (await getDeps().requests.read(id))?.request;
const runtimeOf = async (id: string) => (await clocked.engine.getState(id))?.status;
const tries = (activity: string, id: string) => attempts.filter((a) => a === `${activity} ${id}`).length;
const actions = async (id: string) =>
  (await getDeps().audit.query({ requestId: id })).items.map((a) => a.action).sort();

async function messagesOf(id: string): Promise<string[]> {
  const all: ServiceBusReceivedMessage[] = await peekAll(bus, NOTIFICATIONS_QUEUE);
  return all
    .filter((m) => m.applicationProperties?.requestId === id)
    .map((m) => NotificationMessage.parse(m.body))
    .map((m) => `${m.event}:${m.recipient}`)
    .sort();
}

describe('activity errors', () => {
  it('a permanent error (no such request) stops the workflow at once: one attempt, no hour of retries', async () => {
    // Act
    await clocked.engine.startNew(
      'accessRequest',
      'no-such-request',
      JSON.stringify({ requestId: 'no-such-request' }),
    );
    await clocked.engine.whenIdle();

    // Assess: over without the clock moving, after one attempt
    expect(await runtimeOf('no-such-request')).toBe('Failed');
    expect(tries('loadRequest', 'no-such-request')).toBe(1);
    expect((await clocked.engine.getState('no-such-request'))?.output).toContain('NOT_FOUND');
  });

  it('a transient error is retried for about an hour; then the workflow marks the request failed, out of the live index, audited, alerted', async () => {
    // Prepare: a live grant whose end cannot be written (storage down for good, for it)
    const id = await submit(AUTO, 1);
    // Past the workflow's look at the submit's own audit events, which it may find still claimed.
    await clocked.advance(MINUTE);
    broken.set(id, new Map([['settleRequest', 'transient']]));
    const healthy = tries('settleRequest', id);
    expect(await getDeps().requests.liveIds(userKey(ALICE))).toContain(id);

    // Act: past the end, and ten minutes of retries
    await clocked.advance(HOUR + 9 * MINUTE);
    const retrying = { runtime: await runtimeOf(id), tries: tries('settleRequest', id) - healthy };
    await clocked.advance(2 * HOUR);

    // Assess: retried while there was hope, then failed with the reason
    expect(retrying.runtime).toBe('Running');
    expect(retrying.tries).toBeGreaterThan(3);
    expect(tries('settleRequest', id) - healthy).toBe(20);
    expect(await row(id)).toMatchObject({
      status: 'failed',
      endReason: "Activity function 'settleRequest' failed: Storage is not reachable right now (injected)",
    });
    expect(await getDeps().requests.liveIds(userKey(ALICE))).not.toContain(id);
    expect(await actions(id)).toEqual(['grant.started', 'request.failed', 'request.submitted']);
    expect(await messagesOf(id)).toContain(`failed:${ALICE}`);
    expect(await runtimeOf(id)).toBe('Failed');
  });
});

describe('the reconciler', () => {
  it('closes a grant whose workflow failed for good (it could not even mark it) as failed, alerts once, and then has nothing to do', async () => {
    // Prepare: the workflow cannot end the grant, nor mark it failed
    const id = await submit(AUTO, 1);
    broken.set(
      id,
      new Map([
        ['settleRequest', 'permanent'],
        ['failRequest', 'permanent'],
      ]),
    );
    await clocked.advance(HOUR + START_GRACE_MS);
    expect(await runtimeOf(id)).toBe('Failed');
    expect((await row(id))?.status).toBe('approved');
    broken.delete(id); // repaired

    // Act
    const first = await reconcileNow();
    const second = await reconcileNow();

    // Assess
    expect(first.failed).toEqual([id]);
    expect(await row(id)).toMatchObject({
      status: 'failed',
      endReason:
        "workflow failed: Orchestrator function 'accessRequest' failed: settleRequest: INVALID_INPUT: The stored request is not valid (injected)",
    });
    expect(await getDeps().requests.liveIds(userKey(ALICE))).not.toContain(id);
    expect(await actions(id)).toEqual(['grant.started', 'request.failed', 'request.submitted']);
    expect(await messagesOf(id)).toEqual([
      `failed:${ALICE}`,
      `failed:${ANN}`,
      `failed:${BEN}`,
      `granted:${ALICE}`,
    ]);
    expect(second).toEqual({ looked: 0, failed: [], closed: 0, errors: 0, nudged: [] });
  });

  it('a terminated pending workflow: the request is failed with the reason, and the requester and the whole group are alerted', async () => {
    // Prepare
    const id = await submit(MANUAL);
    await client.terminate(id, 'an operator stopped it');
    await clocked.advance(START_GRACE_MS);

    // Act
    const report = await reconcileNow();

    // Assess
    expect(report.failed).toContain(id);
    expect(await row(id)).toMatchObject({
      status: 'failed',
      endReason: 'workflow terminated: an operator stopped it',
    });
    expect((await messagesOf(id)).filter((m) => m.startsWith('failed:'))).toEqual([
      `failed:${ALICE}`,
      `failed:${ANN}`,
      `failed:${BEN}`,
    ]);
  });

  it('a workflow that never started: left alone while a submit could still start it, failed after', async () => {
    // Prepare: stored as a submit does, which then died before starting the workflow
    const request = aPendingRequest({ approverGroup: GROUP }, new Date(clocked.now()));
    await getDeps().requests.create(request, [], new Date(clocked.now() + START_GRACE_MS).toISOString());

    // Act
    const early = await reconcileNow();
    await clocked.advance(START_GRACE_MS);
    const late = await reconcileNow();

    // Assess
    expect(early.looked).toBe(0);
    expect(late.failed).toContain(request.id);
    expect(await row(request.id)).toMatchObject({
      status: 'failed',
      endReason: 'its workflow never started',
    });
  });

  it('a running workflow is left alone and looked at again later, not at every run', async () => {
    // Prepare
    const id = await submit(MANUAL);
    await clocked.advance(START_GRACE_MS);

    // Act
    const due = await reconcileNow();
    const soon = await reconcileNow();
    await clocked.advance(RECHECK_MS);
    const later = await reconcileNow();

    // Assess: looked at when due, then not before the recheck
    expect(due.looked).toBeGreaterThan(0);
    expect(due.failed).not.toContain(id);
    expect(soon.looked).toBe(0);
    expect(later.looked).toBeGreaterThan(0);
    expect(later.failed).not.toContain(id);
    expect((await row(id))?.status).toBe('pending');
  });
});

describe('submit', () => {
  it('an index write that fails leaves no request that no list shows, and starts no workflow', async () => {
    // Prepare: the real repository, whose index table is one that does not exist
    const real = createTables(settings());
    const tables: Tables = {
      get: (name) =>
        name === 'RequestIndex'
          ? Promise.resolve(
              TableClient.fromConnectionString(
                env.azurite.connectionString,
                `${settings().ZSA_TABLE_PREFIX}gone`,
                {
                  allowInsecureConnection: true,
                },
              ),
            )
          : real.get(name),
    };
    const before = await requestIds();

    // Act
    const failed = await submitRequest(requestContext(createRequestRepository(tables)), alice, {
      task: MANUAL,
      reason: 'INC-43',
      durationHours: 1,
    }).catch((e: unknown) => e);

    // Assess: refused as an outage, and nothing stored that a list would not show
    expect(failed).toMatchObject({ code: 'UNAVAILABLE' });
    const orphans = (await requestIds()).filter((id) => !before.includes(id));
    expect(orphans).toEqual([]);
  });
});

/** Every request row of this file's tables. */
async function requestIds(): Promise<string[]> {
  const t = await getDeps().tables.get('Requests');
  const ids: string[] = [];
  for await (const e of t.listEntities({ queryOptions: { filter: "RowKey eq 'request'" } }))
    ids.push(e.partitionKey as string);
  return ids;
}
