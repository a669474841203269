/**
 * Golden histories: the fixture app's orchestrations run on the local engine (real SDK, real
 * Azurite, a clock the test moves), and the history the engine stored is compared, event by event,
 * with the history the Durable extension (DurableTask.Core, Azure Storage provider) writes for the
 * same run. Timestamps and instance-specific ids (execution ids) are left out; everything the SDK
 * or a reader of the history correlates on is compared: the event types, the EventId of scheduling
 * events and of ExecutionCompleted, TaskScheduledId / TimerId of completions, FireAt, Name, Input /
 * Result (JSON text, except a failure's message), and IsPlayed as the SDK receives it.
 *
 * Each expected history is written in the shape Azure gives when every message reaches the
 * orchestration in a work item of its own (DurableTask may batch messages that arrive together
 * into one episode: fewer OrchestratorStarted/OrchestratorCompleted pairs, the same ids; ADR 0001).
 * Per episode, DurableTask's TaskOrchestrationDispatcher appends OrchestratorStarted, then the
 * message's event, then one event per new action of the orchestrator (TaskScheduled or TimerCreated,
 * numbered by the orchestration context's counter in the order the actions were scheduled), then,
 * if the orchestration ended, ExecutionCompleted, and last OrchestratorCompleted.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { FunctionRegistry, installCoreModule } from '@zsa/local-host/core';
import { EventType, type HistoryEvent } from '@zsa/local-host/durable';
import { clockedEngine, HOUR, type ClockedEngine } from './clocked-engine';

const T0 = new Date('2026-03-01T00:00:00.000Z');
const SECOND = 1000;
const at = (ms: number): string => new Date(T0.getTime() + ms).toISOString();
const json = (value: unknown): string => JSON.stringify(value);

let registry: FunctionRegistry;
/** Every history the engine handed the SDK, per instance, one per episode in order. */
const handed = new Map<string, HistoryEvent[][]>();

beforeAll(async () => {
  registry = new FunctionRegistry(() => undefined);
  installCoreModule(registry);
  await import('../../fixtures/durable-app/index.js');
  await registry.start(process.cwd());
  const invoke = registry.invoke.bind(registry);
  registry.invoke = (fn, inputData, triggerMetadata) => {
    const data = inputData[0]?.data;
    if (fn.trigger.type === 'orchestrationTrigger' && typeof data?.json === 'string') {
      const trigger = JSON.parse(data.json) as { instanceId: string; history: HistoryEvent[] };
      handed.set(trigger.instanceId, [...(handed.get(trigger.instanceId) ?? []), trigger.history]);
    }
    return invoke(fn, inputData, triggerMetadata);
  };
});

/** The engine on a clock the test moves; one activity at a time, so completions arrive in the order the activities were scheduled. */
const engineAt = (start: Date) => clockedEngine(registry, start, { maxConcurrentActivities: 1 });

/** One event in the extension's terms: its type by name and the fields that correlate. */
interface Golden {
  EventType: keyof typeof EventType;
  EventId?: number;
  Name?: string;
  Input?: string | null;
  Result?: unknown;
  TaskScheduledId?: number;
  TimerId?: number;
  FireAt?: string;
  OrchestrationStatus?: number;
  Reason?: unknown;
  Details?: unknown;
}

const NAMES = Object.fromEntries(Object.entries(EventType).map(([k, v]) => [v, k])) as Record<
  number,
  keyof typeof EventType
>;

/** A stored event reduced to what the golden histories compare (no timestamps, no host bookkeeping). */
function golden(e: HistoryEvent): Golden {
  // DurableTask gives an id to the events of actions (scheduling and completing the execution);
  // every other event has -1.
  const withId = [
    EventType.TaskScheduled,
    EventType.TimerCreated,
    EventType.SubOrchestrationInstanceCreated,
    EventType.EventSent,
    EventType.ExecutionCompleted,
  ] as number[];
  const fields = (
    [
      'Name',
      'Input',
      'Result',
      'TaskScheduledId',
      'TimerId',
      'FireAt',
      'OrchestrationStatus',
      'Reason',
      'Details',
    ] as const
  ).filter((key) => e[key] !== undefined);
  return {
    EventType: NAMES[e.EventType] ?? (String(e.EventType) as keyof typeof EventType),
    ...(withId.includes(e.EventType) ? { EventId: e.EventId } : {}),
    ...Object.fromEntries(fields.map((key) => [key, e[key]])),
  };
}

/** The expected shape of one episode's bracket events. */
const started: Golden = { EventType: 'OrchestratorStarted' };
const completed: Golden = { EventType: 'OrchestratorCompleted' };
const executionStarted = (name: string, input: unknown): Golden => ({
  EventType: 'ExecutionStarted',
  Name: name,
  Input: json(input),
});
const taskScheduled = (id: number, name: string, input: unknown): Golden => ({
  EventType: 'TaskScheduled',
  EventId: id,
  Name: name,
  Input: json(input),
});
const taskCompleted = (id: number, result: unknown): Golden => ({
  EventType: 'TaskCompleted',
  TaskScheduledId: id,
  Result: json(result),
});
const timerCreated = (id: number, fireAt: string): Golden => ({
  EventType: 'TimerCreated',
  EventId: id,
  FireAt: fireAt,
});
const timerFired = (id: number, fireAt: string): Golden => ({
  EventType: 'TimerFired',
  TimerId: id,
  FireAt: fireAt,
});
const eventRaised = (name: string, input: unknown): Golden => ({
  EventType: 'EventRaised',
  Name: name,
  Input: json(input),
});
/** ExecutionCompleted (id: the next id) with OrchestrationStatus Completed (1) or Failed (3). */
const executionCompleted = (id: number, result: unknown, status = 1): Golden => ({
  EventType: 'ExecutionCompleted',
  EventId: id,
  OrchestrationStatus: status,
  Result: result,
});

/**
 * Compares a stored history with the golden one event by event, and checks IsPlayed where it
 * matters, in the history each episode hands the SDK (the SDK's `isReplaying` reads it): true for
 * every event of an earlier episode, false for the episode's own OrchestratorStarted and new event
 * (what the extension hands the SDK: the episode's new messages are not replays). Each handed
 * history is also the stored one up to that episode's new event.
 */
async function expectHistory(
  run: ClockedEngine,
  id: string,
  status: string,
  expected: Golden[],
): Promise<void> {
  const stored = await run.stored(id);
  expect(stored.status).toBe(status);
  expect(stored.history.map(golden)).toEqual(expected);
  const episodes = handed.get(id) ?? [];
  // The current execution's episodes: a continued execution starts again from ExecutionStarted.
  const current = episodes.slice(
    episodes
      .map((h) => h.some((e) => e.EventType === EventType.ExecutionStarted && !e.IsPlayed))
      .lastIndexOf(true),
  );
  expect(current.length).toBe(expected.filter((e) => e.EventType === 'OrchestratorStarted').length);
  for (const history of current) {
    const lastStart = history.map((e) => e.EventType).lastIndexOf(EventType.OrchestratorStarted);
    expect(history.map((e) => e.IsPlayed)).toEqual(history.map((_, i) => i < lastStart));
    expect(history.map(golden)).toEqual(expected.slice(0, history.length));
  }
}

describe('golden histories: the engine stores what the extension stores, event by event', () => {
  it('(1) three activities in sequence', async () => {
    // Provenance: each TaskCompleted resumes the orchestrator, whose one new action (the next
    // callActivity) the dispatcher turns into TaskScheduled with the next id of the orchestration
    // context's counter; once the orchestrator returns, the completion action becomes
    // ExecutionCompleted with the output as JSON text, before OrchestratorCompleted.
    const run = await engineAt(T0);
    const id = await run.engine.startNew('sequence', 'golden-sequence', 'null');
    await run.advance(0);
    await expectHistory(run, id, 'Completed', [
      started,
      executionStarted('sequence', null),
      taskScheduled(0, 'hello', 'Tokyo'),
      completed,
      started,
      taskCompleted(0, 'Hello Tokyo'),
      taskScheduled(1, 'hello', 'Seattle'),
      completed,
      started,
      taskCompleted(1, 'Hello Seattle'),
      taskScheduled(2, 'hello', 'London'),
      completed,
      started,
      taskCompleted(2, 'Hello London'),
      executionCompleted(3, json(['Hello Tokyo', 'Hello Seattle', 'Hello London'])),
      completed,
    ]);
  });

  it('(2) fan-out/fan-in of three activities with Task.all', async () => {
    // Provenance: the first episode returns the three calls as one Task.all; the extension's shim
    // schedules each child in array order, so DurableTask numbers them 0, 1, 2 in one episode.
    // Each completion is its own work item here; the orchestrator resumes only with the last.
    const run = await engineAt(T0);
    const id = await run.engine.startNew('fanOut', 'golden-fan-out', '3');
    await run.advance(0);
    await expectHistory(run, id, 'Completed', [
      started,
      executionStarted('fanOut', 3),
      taskScheduled(0, 'double', 0),
      taskScheduled(1, 'double', 1),
      taskScheduled(2, 'double', 2),
      completed,
      started,
      taskCompleted(0, 0),
      completed,
      started,
      taskCompleted(1, 2),
      completed,
      started,
      taskCompleted(2, 4),
      executionCompleted(3, json(6)),
      completed,
    ]);
  });

  it('(3) an external event raised before the orchestrator waits for it (buffered)', async () => {
    // Provenance: a raised event is appended as EventRaised (name as sent, payload as JSON text) in
    // the episode its message arrives in, whether or not anyone waits; it schedules nothing and
    // takes no id. When the timer fires, the orchestrator reaches the wait and the SDK takes the
    // buffered event, so the episode of TimerFired ends the execution.
    const run = await engineAt(T0);
    const id = await run.engine.startNew('bufferedEvent', 'golden-buffered', 'null');
    await run.advance(0);
    await run.engine.raiseEvent(id, 'Go', json({ n: 42 }));
    await run.advance(0);
    await run.advance(300);
    await expectHistory(run, id, 'Completed', [
      started,
      executionStarted('bufferedEvent', null),
      timerCreated(0, at(300)),
      completed,
      started,
      eventRaised('Go', { n: 42 }),
      completed,
      started,
      timerFired(0, at(300)),
      executionCompleted(1, json({ n: 42 })),
      completed,
    ]);
  });

  it('(4) an event wins a race with a timer; the cancelled timer still fires later', async () => {
    // Provenance: the timer's TimerCreated (id 0) is written with its message, due at FireAt.
    // Cancelling it only drops DurableTask's in-memory task: the queued message still comes due,
    // and the dispatcher appends its TimerFired (TimerId 0) in an episode of its own, which resumes
    // nothing. The execution ends with the later event.
    const run = await engineAt(T0);
    const id = await run.engine.startNew('cancelledTimer', 'golden-race', '2');
    await run.advance(HOUR);
    await run.engine.raiseEvent(id, 'Approve', json('bob'));
    await run.advance(2 * HOUR);
    await run.engine.raiseEvent(id, 'Finish', json(null));
    await run.advance(0);
    await expectHistory(run, id, 'Completed', [
      started,
      executionStarted('cancelledTimer', 2),
      timerCreated(0, at(2 * HOUR)),
      completed,
      started,
      eventRaised('Approve', 'bob'),
      completed,
      started,
      timerFired(0, at(2 * HOUR)),
      completed,
      started,
      eventRaised('Finish', null),
      executionCompleted(1, json('approved')),
      completed,
    ]);
  });

  it('(5) callActivityWithRetry: one failure, the retry timer, then success', async () => {
    // Provenance: DurableTask's RetryInterceptor runs the retries in the extension: the attempt is
    // TaskScheduled (id 0); its TaskFailed makes the interceptor create a timer for the first retry
    // interval, which takes the next id (1) in the episode of the failure; when it fires, the next
    // attempt takes id 2. The SDK allocates the same ids while it processes those events.
    const run = await engineAt(T0);
    const id = await run.engine.startNew('retryOnce', 'golden-retry', 'null');
    await run.advance(0);
    await run.advance(SECOND);
    await expectHistory(run, id, 'Completed', [
      started,
      executionStarted('retryOnce', null),
      taskScheduled(0, 'failsOnce', 'golden-retry'),
      completed,
      started,
      {
        EventType: 'TaskFailed',
        TaskScheduledId: 0,
        Reason: expect.stringMatching(
          /^Activity function 'failsOnce' failed: .*first attempt for golden-retry failed/,
        ),
        Details: expect.any(String),
      },
      timerCreated(1, at(SECOND)),
      completed,
      started,
      timerFired(1, at(SECOND)),
      taskScheduled(2, 'failsOnce', 'golden-retry'),
      completed,
      started,
      taskCompleted(2, 'ok golden-retry'),
      executionCompleted(3, json('ok golden-retry')),
      completed,
    ]);
  });

  it('(6) an orchestrator that throws ends with a failed ExecutionCompleted', async () => {
    // Provenance: the extension's out-of-process shim turns the SDK's error into an
    // OrchestrationFailureException whose message names the function ("Orchestrator function
    // '<name>' failed: <error>"); DurableTask's context fails the orchestration with that message as
    // the completion's result, as it is: ExecutionCompleted has OrchestrationStatus 3 (Failed) and
    // Result the plain message, not JSON text (a completed orchestration's output is JSON text).
    const run = await engineAt(T0);
    const id = await run.engine.startNew('throws', 'golden-throws', 'null');
    await run.advance(0);
    await expectHistory(run, id, 'Failed', [
      started,
      executionStarted('throws', null),
      taskScheduled(0, 'echo', 1),
      completed,
      started,
      taskCompleted(0, 1),
      executionCompleted(
        1,
        expect.stringMatching(/^Orchestrator function 'throws' failed: the orchestrator gave up/),
        3,
      ),
      completed,
    ]);
  });

  it('(7) continueAsNew: the new execution starts again at id 0 with the new input', async () => {
    // Provenance: continue-as-new ends the execution with ContinueAsNew (the new input as Result);
    // DurableTask then starts the next execution in the same work item with OrchestratorStarted and
    // ExecutionStarted carrying that input, and its counter starts again at 0. The Azure Storage
    // provider reads back only the latest execution's rows (AzureTableTrackingStore stops at the
    // first row of an older execution), which is what is compared here.
    // Known deviation (ADR 0001, cosmetic): the engine deletes the old execution's history instead
    // of appending ContinueAsNew to it, so the old execution's end is never stored; what the SDK
    // was handed in that execution is checked instead.
    const run = await engineAt(T0);
    const id = await run.engine.startNew('counter', 'golden-continue', '2');
    await run.advance(0);
    await expectHistory(run, id, 'Completed', [
      started,
      executionStarted('counter', 3),
      taskScheduled(0, 'echo', 3),
      completed,
      started,
      taskCompleted(0, 3),
      executionCompleted(1, json(3)),
      completed,
    ]);
    // The first execution's episodes: ids from 0, and the continue-as-new replay ended it.
    const first = (handed.get(id) ?? [])[1] ?? [];
    expect(first.map(golden)).toEqual([
      started,
      executionStarted('counter', 2),
      taskScheduled(0, 'echo', 2),
      completed,
      started,
      taskCompleted(0, 2),
    ]);
  });
});
