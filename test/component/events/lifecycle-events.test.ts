/**
 * Lifecycle events on the Service Bus topic, as a subscriber sees them: the real request stories
 * with the app's own wiring (getDeps: the audit log wrapped by the event stream, the app's Service
 * Bus client), real Azurite, the local Service Bus with the topic and an `all` subscription, and the
 * real SDK receiving from that subscription. The orchestration client is a stand-in that mirrors
 * the decision as the real orchestration would. Faults are injected around the real sender.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceBusReceivedMessage, ServiceBusReceiver } from '@azure/service-bus';
import { startServiceBus, type ServiceBusHandle } from '@zsa/local-host/servicebus';
import { getDeps, resetDeps } from '#shared/app/deps';
import { createEventStream, publishingAudit } from '#shared/events/publisher';
import { execute, type ExecuteContext } from '#shared/requests/execute';
import type { OrchestrationState, Orchestrations } from '#shared/requests/orchestrations';
import { cancelRequest, decide, revokeRequest, submitRequest } from '#shared/requests/usecases';
import type { Caller, RequestContext } from '#shared/requests/context';
import { catalogRolePut, catalogTaskPut } from '../../../functions/catalog';
import { policyCreate } from '../../../functions/policies';
import { enablePam } from '../../support/admin';
import { call, startComponentEnv, type ComponentEnv } from '../../support/component';
import { REQUESTER, callerOf, userKey } from '../../support/requests';
import { startWebhookTarget, type WebhookTarget } from '../../support/webhook-target';
import { newClient } from '../servicebus/bus';

const TOPIC = 'zsa-events';
const ANN = 'ann@contoso.com';
const GROUP = 'event-approvers';
const TASK = 'Events\\Reset-Password';
const ROLE = 'Events Operator';
const SECRET = 'hunter2-never-published';

let env: ComponentEnv;
let bus: ServiceBusHandle;
let hook: WebhookTarget;
let subscriber: ReturnType<typeof newClient>;
let all: ServiceBusReceiver;

const mirrors = new Map<string, OrchestrationState>();
const orchestrations: Orchestrations = {
  start: (id) => {
    mirrors.set(id, { running: true, mirror: { status: 'pending' } });
    return Promise.resolve();
  },
  state: (id) => Promise.resolve(mirrors.get(id)),
  // The real orchestration re-reads the row on any event; its mirror then says the row's state.
  raise: async (id) => {
    const row = (await getDeps().requests.read(id))?.request;
    if (row) mirrors.set(id, { running: true, mirror: { status: row.status } });
  },
};

beforeAll(async () => {
  bus = await startServiceBus({ entities: [{ topic: TOPIC, subscriptions: ['all'] }], log: () => undefined });
  env = await startComponentEnv({ ServiceBusConnection: bus.connectionString, ZSA_EVENTS_TOPIC: TOPIC });
  // The app's wiring, built from these settings (another file in this process may have built it).
  await resetDeps();
  hook = await startWebhookTarget('component-test-signing-key');
  subscriber = newClient(bus.connectionString);
  all = subscriber.createReceiver(TOPIC, 'all', { receiveMode: 'receiveAndDelete' });
  const token = await env.token('admin@contoso.com', ['PAM.Admin']);
  await enablePam(token, { group: GROUP, members: [ANN] });
  const ok = (r: { status: number; body: unknown }) =>
    expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
  ok(
    await call(catalogTaskPut, {
      method: 'PUT',
      path: '/x',
      token,
      body: {
        name: TASK,
        description: 'd',
        executor: { type: 'webhook', url: hook.url },
        parameters: [{ name: 'password', type: 'string' }],
      },
    }),
  );
  ok(
    await call(policyCreate, {
      method: 'POST',
      path: '/x',
      token,
      body: { scope: 'task', target: TASK, approvalType: 'manual' },
    }),
  );
  ok(await call(catalogRolePut, { method: 'PUT', path: '/x', token, body: { name: ROLE, tasks: [TASK] } }));
  ok(
    await call(policyCreate, {
      method: 'POST',
      path: '/x',
      token,
      body: { scope: 'role', target: ROLE, approvalType: 'manual' },
    }),
  );
  // Configuration is audited but is no event: nothing of it may be waiting on the subscription.
  expect(await receive(1, 300)).toEqual([]);
}, 60_000);

afterAll(async () => {
  await subscriber.close();
  await hook.close();
  await resetDeps();
  await bus.close();
  await env.close();
});

function userOf(upn: string): Caller {
  // An address the events must never carry.
  return callerOf(upn, { correlationId: 'c1', clientIp: '10.1.2.3' });
}

function requestContext(): RequestContext {
  const deps = getDeps();
  return {
    repo: deps.requests,
    config: deps.config,
    orchestrations,
    audit: deps.audit,
    now: new Date(),
    minDurationSeconds: 1,
  };
}

function executeContext(): ExecuteContext {
  const deps = getDeps();
  return {
    repo: deps.requests,
    config: deps.config,
    orchestrations,
    audit: deps.audit,
    bus: () => deps.bus,
    now: () => new Date(),
    webhook: {
      allowedHosts: ['127.0.0.1'],
      signingKey: 'component-test-signing-key',
      timeoutMs: 5000,
    },
    adminsExecuteWhileDisabled: true,
  };
}

/** The next `count` messages on the subscription (fewer if they do not come within `waitMs`). */
async function receive(count: number, waitMs: number): Promise<ServiceBusReceivedMessage[]> {
  const out: ServiceBusReceivedMessage[] = [];
  const deadline = Date.now() + waitMs;
  while (out.length < count && Date.now() < deadline) {
    // Receive-and-delete returns as soon as `count` arrived, else at the wait's end.
    out.push(...(await all.receiveMessages(count - out.length, { maxWaitTimeInMs: deadline - Date.now() })));
  }
  return out;
}

describe('lifecycle events on the topic', () => {
  it('submit → approve → execute → revoke publishes exactly its five events, in order, without secrets', async () => {
    // Act
    const submitted = await submitRequest(requestContext(), userOf(REQUESTER), {
      task: TASK,
      reason: `rotate ${SECRET}`,
      ticket: 'INC-42',
      durationHours: 1,
    });
    const id = submitted.view.id;
    await decide(requestContext(), userOf(ANN), id, 'approve', `approved, see ${SECRET}`);
    const ran = await execute(executeContext(), userOf(REQUESTER), {
      task: TASK,
      requestId: id,
      parameters: { password: SECRET },
    });
    await revokeRequest(requestContext(), userOf(ANN), id, `done with ${SECRET}`);
    const messages = await receive(5, 5000);
    const more = await receive(1, 300);

    // Assess
    expect(more).toEqual([]);
    const events = messages.map((m) => m.body as Record<string, unknown>);
    expect(events.map((e) => [e.type, e.status])).toEqual([
      ['submitted', 'pending'],
      ['approved', 'approved'],
      ['granted', 'approved'],
      ['execution.succeeded', 'succeeded'],
      ['revoked', 'revoked'],
    ]);
    expect(messages.map((m) => m.messageId)).toEqual([
      `${id}:request.submitted`,
      `${id}:request.approved`,
      `${id}:grant.started`,
      events[3]?.id,
      `${id}:grant.revoked`,
    ]);
    expect(events[3]).toMatchObject({ executionId: ran.executionId, requestId: id, task: TASK });
    expect(events[0]).toMatchObject({
      schema: 'zsa.event',
      version: 1,
      requestId: id,
      task: TASK,
      actor: { kind: 'user', id: userKey(REQUESTER), upn: REQUESTER },
    });
    expect(events[1]?.actor).toEqual({ kind: 'user', id: userKey(ANN), upn: ANN });
    const wire = JSON.stringify(messages.map((m): unknown[] => [m.body, m.applicationProperties, m.subject]));
    for (const leak of [SECRET, 'INC-42', '/api/decisions', '10.1.2.3', 'signature', 'result']) {
      expect(wire).not.toContain(leak);
    }
  });

  it('names the role of a role request in every event, though only its submission audits the role', async () => {
    // Act
    const submitted = await submitRequest(requestContext(), userOf(REQUESTER), {
      role: ROLE,
      reason: 'r',
      durationHours: 1,
    });
    await cancelRequest(requestContext(), userOf(REQUESTER), submitted.view.id);
    const messages = await receive(2, 3000);

    // Assess
    expect(messages.map((m): unknown => m.body)).toMatchObject([
      { type: 'submitted', role: ROLE, status: 'pending' },
      { type: 'canceled', role: ROLE, status: 'canceled' },
    ]);
    expect(messages.map((m): unknown => m.body)).not.toContainEqual(expect.objectContaining({ task: TASK }));
  });

  it('a story never waits for the topic; a failed send is retried, ahead of newer events', async () => {
    // Prepare: the app's audit and sender, whose first send hangs until it is made to fail.
    const deps = getDeps();
    let attempts = 0;
    let fail: ((e: Error) => void) | undefined;
    const stream = createEventStream({
      send: async (messages, signal) => {
        attempts += 1;
        if (attempts === 1)
          await new Promise<void>((_resolve, reject) => {
            fail = reject;
            signal.addEventListener('abort', () => {
              reject(new Error('the topic did not answer'));
            });
          });
        await deps.bus.sender(TOPIC).sendMessages(messages, { abortSignal: signal });
      },
      targetOf: () => Promise.resolve(undefined),
      now: () => new Date(),
      log: () => undefined,
      timeoutMs: 10_000,
      retryDelayMs: 50,
    });
    const ctx = { ...requestContext(), audit: publishingAudit(deps.audit, stream) };
    const body = { task: TASK, reason: 'r', durationHours: 1 };
    const a = await submitRequest(requestContext(), userOf(REQUESTER), body);
    const b = await submitRequest(requestContext(), userOf(REQUESTER), body);
    expect(await receive(2, 3000)).toHaveLength(2);

    // Act: two stories while the topic hangs, then the hanging send fails.
    const started = Date.now();
    await cancelRequest(ctx, userOf(REQUESTER), a.view.id);
    await cancelRequest(ctx, userOf(REQUESTER), b.view.id);
    const took = Date.now() - started;
    const waiting = stream.waiting();
    fail?.(new Error('connection lost'));
    await stream.drained(3000);
    const later = await receive(2, 3000);
    const more = await receive(1, 200);
    stream.close();

    // Assess: the stories did not wait the send's 10 s bound; nothing was lost, reordered or doubled.
    expect(took).toBeLessThan(5000);
    expect(waiting).toBe(2);
    expect(attempts).toBe(2);
    expect(later.map((m) => m.messageId)).toEqual([
      `${a.view.id}:request.canceled`,
      `${b.view.id}:request.canceled`,
    ]);
    expect(more).toEqual([]);
  });
});
