/**
 * Durable conformance: the fixture app's orchestrations run on the local engine (real Azurite, real
 * `durable-functions` SDK replaying real histories) and are driven through the real DurableClient
 * over the Durable HTTP API.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EntityId, OrchestrationRuntimeStatus, type DurableClient } from 'durable-functions';
import { startAzurite, type RunningAzurite } from '@zsa/local-host';
import { FunctionRegistry, installCoreModule } from '@zsa/local-host/core';
import { createDurableApi, DurableEngine, DurableStore } from '@zsa/local-host/durable';
import { durableClientFor, waitForStatus } from '../../support/durable-client';

let azurite: RunningAzurite;
let server: Server;
let engine: DurableEngine;
let client: DurableClient;
let origin = '';

beforeAll(async () => {
  azurite = await startAzurite({ log: () => undefined });
  const registry = new FunctionRegistry(() => undefined);
  installCoreModule(registry);
  await import('../../fixtures/durable-app/index.js');
  await registry.start(process.cwd());
  const store = await DurableStore.open(azurite.connectionString, 'ConformanceDurable');
  engine = new DurableEngine({ registry, store, log: () => undefined });
  const api = createDurableApi(engine, () => origin);
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void api(req, res, Buffer.concat(chunks)).then((handled) => {
        if (!handled) res.writeHead(404).end();
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  origin = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  client = durableClientFor(origin, 'Conformance');
}, 60_000);

afterAll(async () => {
  await engine.close();
  await new Promise<void>((r) => server.close(() => r()));
  await azurite.close();
});

function eventTypes(status: { historyEvents?: unknown; history?: unknown }): string[] {
  const events = (status.history ?? status.historyEvents ?? []) as { EventType: string }[];
  return events.map((e) => e.EventType);
}

describe('durable engine conformance (real SDK, real Azurite, real client)', () => {
  it('runs activities in sequence and records the history in order', async () => {
    const id = await client.startNew('sequence', { instanceId: 'seq-1' });
    expect(id).toBe('seq-1');
    const s = await waitForStatus(client, id, ['Completed']);
    expect(s.output).toEqual(['Hello Tokyo', 'Hello Seattle', 'Hello London']);
    expect(eventTypes(s)).toEqual([
      'ExecutionStarted',
      'TaskCompleted',
      'TaskCompleted',
      'TaskCompleted',
      'ExecutionCompleted',
    ]);
    const raw = await client.getStatus(id, { showHistory: true, showHistoryOutput: true });
    const events = (raw.history ?? []) as { FunctionName?: string; Result?: unknown }[];
    expect(events[1]).toMatchObject({ FunctionName: 'hello', Result: 'Hello Tokyo' });
  });

  it('fans out with Task.all and fans in', async () => {
    const id = await client.startNew('fanOut', { input: 20 });
    const s = await waitForStatus(client, id, ['Completed']);
    expect(s.output).toBe(2 * ((19 * 20) / 2));
  });

  it('retries an activity with callActivityWithRetry, and surfaces exhaustion as a catchable failure', async () => {
    const id = await client.startNew('retry', { instanceId: 'retry-1' });
    const s = await waitForStatus(client, id, ['Completed']);
    expect(s.output).toEqual({ ok: 'succeeded on attempt 3', caught: true });
    const types = eventTypes(s);
    expect(types.filter((t) => t === 'TaskFailed')).toHaveLength(4);
    expect(types.filter((t) => t === 'TimerFired')).toHaveLength(4);
  });

  it('races an external event against a durable timer (event wins, timer cancelled, custom status)', async () => {
    const id = await client.startNew('approval', { input: { seconds: 60 } });
    await waitForStatus(client, id, ['Running']);
    await expect.poll(async () => (await client.getStatus(id)).customStatus).toEqual({ stage: 'waiting' });
    await client.raiseEvent(id, 'Approve', 'bob');
    const s = await waitForStatus(client, id, ['Completed']);
    expect(s.output).toEqual({ outcome: 'approved', by: 'bob' });
    expect(s.customStatus).toEqual({ stage: 'approved' });
    expect(eventTypes(s)).toEqual(['ExecutionStarted', 'TimerCreated', 'EventRaised', 'ExecutionCompleted']);
  });

  it('races an external event against a durable timer (timer wins)', async () => {
    const id = await client.startNew('approval', { input: { seconds: 0.5 } });
    const s = await waitForStatus(client, id, ['Completed']);
    expect(s.output).toEqual({ outcome: 'timedOut' });
    expect(eventTypes(s)).toContain('TimerFired');
  });

  it('buffers an event raised before the orchestrator waits for it', async () => {
    const id = await client.startNew('bufferedEvent');
    await client.raiseEvent(id, 'Go', { n: 42 });
    const s = await waitForStatus(client, id, ['Completed']);
    expect(s.output).toEqual({ n: 42 });
  });

  it('ends Failed with the error when the orchestrator throws', async () => {
    const id = await client.startNew('throws');
    const s = await waitForStatus(client, id, ['Failed']);
    expect(String(s.output)).toContain("Orchestrator function 'throws' failed");
    expect(String(s.output)).toContain('the orchestrator gave up');
  });

  it('continues as new with a fresh history', async () => {
    const id = await client.startNew('counter', { input: 0 });
    const s = await waitForStatus(client, id, ['Completed']);
    expect(s.output).toBe(3);
    expect(eventTypes(s)).toEqual(['ExecutionStarted', 'TaskCompleted', 'ExecutionCompleted']);
  });

  it('terminates a running instance, then answers 410 to events', async () => {
    const id = await client.startNew('waitForever');
    await waitForStatus(client, id, ['Running']);
    expect((await client.getStatus(id)).customStatus).toBe('waiting forever');
    await client.terminate(id, 'enough');
    const s = await waitForStatus(client, id, ['Terminated']);
    expect(s.output).toBe('enough');
    const res = await fetch(`${origin}/runtime/webhooks/durabletask/instances/${id}/raiseEvent/Never`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(410);
  });

  it('refuses to start an id that is still running, and replaces a finished one', async () => {
    await client.startNew('waitForever', { instanceId: 'single-1' });
    await waitForStatus(client, 'single-1', ['Running']);
    await expect(client.startNew('waitForever', { instanceId: 'single-1' })).rejects.toThrow();
    await client.terminate('single-1', 'done');
    await waitForStatus(client, 'single-1', ['Terminated']);
    await client.startNew('sequence', { instanceId: 'single-1' });
    const s = await waitForStatus(client, 'single-1', ['Completed']);
    expect(s.name).toBe('sequence');
  });

  it('answers 404 for events to unknown instances and 410 for finished ones', async () => {
    await expect(client.raiseEvent('nobody-here', 'Approve', 1)).rejects.toThrow(/No instance/);
    const id = await client.startNew('sequence');
    await waitForStatus(client, id, ['Completed']);
    await expect(client.raiseEvent(id, 'Approve', 1)).resolves.toBeUndefined();
  });

  it('queries with filters and continuation, and purges', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await client.startNew('sequence', { instanceId: `query-${i}` }));
    for (const id of ids) await waitForStatus(client, id, ['Completed']);
    const all = await client.getStatusAll();
    expect(all.map((s) => s.instanceId)).toEqual(expect.arrayContaining(ids));
    const completed = await client.getStatusBy({ runtimeStatus: ['Completed' as never] });
    expect(completed.every((s) => s.runtimeStatus === OrchestrationRuntimeStatus.Completed)).toBe(true);
    const purged = await client.purgeInstanceHistory('query-0');
    expect(purged.instancesDeleted).toBe(1);
    await expect(client.getStatus('query-0')).rejects.toThrow();
  });

  it('pages a query with top and the continuation header, with filters', async () => {
    for (let i = 0; i < 5; i++) await client.startNew('sequence', { instanceId: `page-${i}` });
    for (let i = 0; i < 5; i++) await waitForStatus(client, `page-${i}`, ['Completed']);
    const seen: string[] = [];
    let token: string | null = null;
    let pages = 0;
    do {
      const res: Response = await fetch(
        `${origin}/runtime/webhooks/durabletask/instances/?top=2&instanceIdPrefix=page-&runtimeStatus=Completed`,
        { headers: token ? { 'x-ms-continuation-token': token } : {} },
      );
      expect(res.status).toBe(200);
      const items = (await res.json()) as { instanceId: string; runtimeStatus: string }[];
      expect(items.length).toBeLessThanOrEqual(2);
      expect(items.every((i) => i.runtimeStatus === 'Completed')).toBe(true);
      seen.push(...items.map((i) => i.instanceId));
      token = res.headers.get('x-ms-continuation-token');
      pages++;
    } while (token && pages < 10);
    expect(seen.sort()).toEqual(['page-0', 'page-1', 'page-2', 'page-3', 'page-4']);
    expect(pages).toBeGreaterThanOrEqual(3);
  });

  it('answers 501 to every entity route (entities are not supported), so a client fails instead of reading "no entity"', async () => {
    const entity = new EntityId('counter', 'one');
    await expect(client.readEntityState(entity)).rejects.toThrow();
    await expect(client.signalEntity(entity, 'add', 1)).rejects.toThrow();
    for (const [method, path] of [
      ['GET', 'entities/counter/one'],
      ['GET', 'entities/counter'],
      ['GET', 'entities/'],
      ['POST', 'entities/counter/one?op=add'],
      ['DELETE', 'entities/counter/one'],
    ] as const) {
      const res = await fetch(`${origin}/runtime/webhooks/durabletask/${path}`, { method });
      expect({ method, path, status: res.status }).toEqual({ method, path, status: 501 });
    }
  });

  it('runs different instances concurrently', async () => {
    const started = Date.now();
    const ids = await Promise.all(
      Array.from({ length: 10 }, () => client.startNew('approval', { input: { seconds: 1 } })),
    );
    for (const id of ids) await waitForStatus(client, id, ['Completed']);
    // Ten 1-second timers in parallel finish in far less than ten seconds.
    expect(Date.now() - started).toBeLessThan(6000);
  });
});
