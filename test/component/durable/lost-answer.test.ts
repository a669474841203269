/**
 * An activity's result whose write landed but whose answer was lost (storage dropped the connection
 * after committing, as the chaos run's storage outage does) still reaches the orchestration: the
 * engine's retry of that write must not wait for ever on a work row its first attempt deleted.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { FunctionRegistry, installCoreModule } from '@zsa/local-host/core';
import { DurableEngine, DurableStore, RuntimeStatus } from '@zsa/local-host/durable';

/** Storage that commits an activity's result, then loses the answer once. */
class AnswerLosingStore extends DurableStore {
  lost = 0;
  override async commit(instanceId: string, ops: Parameters<DurableStore['commit']>[1]): Promise<void> {
    await super.commit(instanceId, ops);
    if (this.lost === 0 && ops.some((op) => op.type === 'deleteWork')) {
      this.lost++;
      throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    }
  }
}

let engine: DurableEngine;
let store: AnswerLosingStore;

beforeAll(async () => {
  const registry = new FunctionRegistry(() => undefined);
  installCoreModule(registry);
  await import('../../fixtures/durable-app/index.js');
  await registry.start(process.cwd());
  const opened = await DurableStore.open(
    inject('sharedAzurite'),
    `LostAnswer${randomUUID().replace(/-/g, '').slice(0, 12)}`,
  );
  store = new AnswerLosingStore(opened.table);
  engine = new DurableEngine({ registry, store, log: () => undefined });
}, 60_000);

afterAll(async () => {
  await engine.close();
});

it('delivers an activity result whose write landed but whose answer was lost', async () => {
  // Act
  const id = await engine.startNew('sequence', undefined, 'null');
  const deadline = Date.now() + 5000;
  let state = await engine.getState(id);
  while (state?.status !== RuntimeStatus.Completed && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    state = await engine.getState(id);
  }

  // Assess
  expect(store.lost).toBe(1);
  expect(state?.status).toBe(RuntimeStatus.Completed);
  expect(state?.output).toBe(JSON.stringify(['Hello Tokyo', 'Hello Seattle', 'Hello London']));
});
