/**
 * Where the local engine once differed from the Durable extension (issue #20), each case as the
 * extension and DurableTask behave, read from their source (real SDK, real Azurite, a clock the test
 * moves). Timers have their own file (timers.test.ts).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { FunctionRegistry, installCoreModule } from '@zsa/local-host/core';
import { EventType, type HistoryEvent } from '@zsa/local-host/durable';
import { clockedEngine, HOUR, type ClockedEngine } from './clocked-engine';

const T0 = new Date('2026-03-01T00:00:00.000Z');
let registry: FunctionRegistry;
let drift: { variant: string };

beforeAll(async () => {
  registry = new FunctionRegistry(() => undefined);
  installCoreModule(registry);
  ({ drift } = await import('../../fixtures/durable-app/index.js'));
  await registry.start(process.cwd());
});

async function stateOf(clocked: ClockedEngine, id: string) {
  const state = await clocked.engine.getState(id);
  if (!state) throw new Error(`no instance ${id}`);
  return state;
}

const typesOf = (history: HistoryEvent[]): number[] =>
  history
    .map((e) => e.EventType)
    .filter((t) => t !== EventType.OrchestratorStarted && t !== EventType.OrchestratorCompleted);

describe('completion with open tasks (DurableTask TaskOrchestrationExecutor, HasOpenTasks)', () => {
  it('keeps the instance Running while a Task.any loser that was not cancelled is open, then completes', async () => {
    // Prepare
    const clocked = await clockedEngine(registry, T0);

    // Act
    const id = await clocked.engine.startNew('anyLoser', undefined, '1');
    await clocked.advance(0);
    const running = await stateOf(clocked, id);
    await clocked.advance(HOUR);

    // Assess
    expect(running.status).toBe('Running');
    expect(running.output).toBeNull();
    const done = await stateOf(clocked, id);
    expect(done.status).toBe('Completed');
    expect(JSON.parse(done.output ?? 'null')).toBe('activity');
    expect(typesOf(done.history)).toEqual([
      EventType.ExecutionStarted,
      EventType.TaskScheduled,
      EventType.TimerCreated,
      EventType.TaskCompleted,
      EventType.TimerFired,
      EventType.ExecutionCompleted,
    ]);
  });
});

describe('retryTimeoutInMilliseconds (DurableTask RetryInterceptor; azure-functions-durable-js issue 629)', () => {
  it('fails the orchestration at once, naming the option, instead of a retry that Azure never finishes', async () => {
    const clocked = await clockedEngine(registry, T0);

    const id = await clocked.engine.startNew('retryTimeout', undefined, 'null');
    await clocked.advance(0);

    const failed = await stateOf(clocked, id);
    expect(failed.status).toBe('Failed');
    expect(JSON.parse(failed.output ?? 'null')).toMatch(
      /^Orchestrator function 'retryTimeout' failed: .*retryTimeoutInMilliseconds/,
    );
    // Refused before anything ran.
    expect(failed.history.some((e) => e.EventType === EventType.TaskScheduled)).toBe(false);
  });
});

describe('non-determinism (DurableTask TaskOrchestrationContext, NonDeterministicOrchestrationException)', () => {
  const NOT_DETERMINISTIC = /^Non-Deterministic workflow detected: /;
  it.each([
    {
      scenario: 'the replay schedules fewer actions than the history has',
      variant: 'fewer',
      expected:
        /scheduled an activity task named 'echo' with sequence number 0, but the replay has not scheduled it/,
    },
    {
      scenario: 'the replay schedules a timer where the history has an activity',
      variant: 'kind',
      expected: /named 'echo' with sequence number 0, but the replay now scheduled a timer task/,
    },
    {
      scenario: 'the replay calls an activity by another name',
      variant: 'renamed',
      expected:
        /named 'echo' with sequence number 0, but the replay now scheduled an activity task named 'double'/,
    },
  ])('$scenario → Failed, naming the mismatch', async ({ variant, expected }) => {
    // Prepare: the first episode scheduled echo (id 0); the orchestration waits for Go.
    const clocked = await clockedEngine(registry, T0);
    drift.variant = 'original';
    const id = await clocked.engine.startNew('drifting', undefined, 'null');
    await clocked.advance(0);

    // Act: the code changes, and the next replay differs.
    drift.variant = variant;
    await clocked.engine.raiseEvent(id, 'Go', null);
    await clocked.advance(0);
    drift.variant = 'original';

    // Assess
    const failed = await stateOf(clocked, id);
    expect(failed.status).toBe('Failed');
    const output = String(JSON.parse(failed.output ?? 'null'));
    expect(output).toMatch(NOT_DETERMINISTIC);
    expect(output).toMatch(expected);
  });

  it('a name that differs only in case is the same activity (DurableTask compares ignoring case)', async () => {
    const clocked = await clockedEngine(registry, T0);
    drift.variant = 'original';
    const id = await clocked.engine.startNew('drifting', undefined, 'null');
    await clocked.advance(0);

    drift.variant = 'renamedCase';
    await clocked.engine.raiseEvent(id, 'Go', null);
    await clocked.advance(0);
    drift.variant = 'original';

    const done = await stateOf(clocked, id);
    expect(done.status).toBe('Completed');
  });
});

describe('custom status (extension DurableOrchestrationContext.SetCustomStatus, OutOfProcOrchestrationShim; DurableTask AzureTableTrackingStore)', () => {
  // 16 KB of UTF-16, in whole KB: the JSON text of a string of n characters is n + 2 characters.
  it.each([
    { scenario: '16 KB and a little (whole KB) → accepted', length: 8701, status: 'Completed' },
    {
      scenario: '17 KB → the orchestration fails, the status before it is kept',
      length: 8702,
      status: 'Failed',
    },
  ])('$scenario', async ({ length, status }) => {
    const clocked = await clockedEngine(registry, T0);

    const id = await clocked.engine.startNew('bigStatus', undefined, String(length));
    await clocked.advance(0);

    const state = await stateOf(clocked, id);
    expect(state.status).toBe(status);
    if (status === 'Failed') {
      expect(JSON.parse(state.output ?? 'null')).toMatch(
        /^Orchestrator function 'bigStatus' failed: The UTF-16 size of the JSON-serialized payload must not exceed 16 KB\. The current payload size is 17 KB\.$/,
      );
      expect(state.customStatus).toBeNull();
    } else {
      expect(JSON.parse(state.customStatus ?? 'null')).toHaveLength(length);
    }
  });

  it('keeps the custom status set in the episode that fails', async () => {
    const clocked = await clockedEngine(registry, T0);

    const id = await clocked.engine.startNew('throwsWithStatus', undefined, 'null');
    await clocked.advance(0);

    const failed = await stateOf(clocked, id);
    expect(failed.status).toBe('Failed');
    expect(JSON.parse(failed.customStatus ?? 'null')).toEqual({ stage: 'failing' });
  });
});

describe('after a Task.all fails (extension OutOfProcOrchestrationShim: each action awaited in turn)', () => {
  it('schedules the next action only once every child has finished', async () => {
    // Prepare
    const clocked = await clockedEngine(registry, T0);

    // Act: the activity fails at once; the 1-hour timer is still running.
    const id = await clocked.engine.startNew('allFails', undefined, '1');
    await clocked.advance(0);
    const early = await stateOf(clocked, id);
    await clocked.advance(HOUR);

    // Assess
    expect(early.status).toBe('Running');
    expect(typesOf(early.history)).toEqual([
      EventType.ExecutionStarted,
      EventType.TaskScheduled,
      EventType.TimerCreated,
      EventType.TaskFailed,
    ]);
    const done = await stateOf(clocked, id);
    expect(done.status).toBe('Completed');
    expect(JSON.parse(done.output ?? 'null')).toBe('after');
    expect(typesOf(done.history).slice(4)).toEqual([
      EventType.TimerFired,
      EventType.TaskScheduled,
      EventType.TaskCompleted,
      EventType.ExecutionCompleted,
    ]);
    // The SDK numbered the next activity 2; the extension, scheduling it later, gives it the same id.
    expect(done.history.filter((e) => e.EventType === EventType.TaskScheduled).map((e) => e.EventId)).toEqual(
      [0, 2],
    );
  });
});

describe('a failure with a task still open (extension TaskOrchestrationShim; DurableTask HasOpenTasks)', () => {
  it('records the failure of an uncaught Task.all only once every child has finished', async () => {
    const clocked = await clockedEngine(registry, T0);

    const id = await clocked.engine.startNew('allFailsUncaught', undefined, '1');
    await clocked.advance(0);
    const early = await stateOf(clocked, id);
    await clocked.advance(HOUR);

    expect(early.status).toBe('Running');
    const failed = await stateOf(clocked, id);
    expect(failed.status).toBe('Failed');
    expect(JSON.parse(failed.output ?? 'null')).toMatch(
      /^Orchestrator function 'allFailsUncaught' failed: .*this activity always fails/s,
    );
    expect(typesOf(failed.history).slice(-2)).toEqual([EventType.TimerFired, EventType.ExecutionCompleted]);
  });
});

describe('a failure with a Task.any loser still open (DurableTask HasOpenTasks)', () => {
  it('records the failure only once the loser has finished', async () => {
    const clocked = await clockedEngine(registry, T0);

    const id = await clocked.engine.startNew('anyLoserThenThrow', undefined, '1');
    await clocked.advance(0);
    const early = await stateOf(clocked, id);
    await clocked.advance(HOUR);

    expect(early.status).toBe('Running');
    const failed = await stateOf(clocked, id);
    expect(failed.status).toBe('Failed');
    expect(JSON.parse(failed.output ?? 'null')).toMatch(/gave up with the timer still open/);
  });
});

describe('history shape (DurableTask TaskOrchestrationDispatcher)', () => {
  it('ends an execution with ExecutionCompleted, then OrchestratorCompleted', async () => {
    const clocked = await clockedEngine(registry, T0);

    const id = await clocked.engine.startNew('sequence', undefined, 'null');
    await clocked.advance(0);

    const done = await stateOf(clocked, id);
    expect(done.status).toBe('Completed');
    expect(done.history.slice(-3).map((e) => e.EventType)).toEqual([
      EventType.TaskCompleted,
      EventType.ExecutionCompleted,
      EventType.OrchestratorCompleted,
    ]);
  });
});
