/**
 * The local Durable engine: plays the part of the Durable Task extension for a `durable-functions`
 * v3 app. It replays orchestrators against their history one message per episode, numbers tasks
 * exactly as the SDK does, runs activities (with the retry loop the extension owns), fires durable
 * timers, delivers external events, and keeps everything in Table Storage so a restart resumes where
 * it stopped. Each episode (see `episode()`) is what the extension does per work item: append
 * `OrchestratorStarted` and the new event, run the orchestrator over the whole history, give each
 * new action the next id, append `OrchestratorCompleted`, commit; checked against the SDK, it gives
 * the same ids and history for sequences, fan-outs, retries, timers (cancelled too), events and
 * continueAsNew.
 */
import { randomUUID } from 'node:crypto';
import type { FunctionRegistry, RegisteredFunction, RpcTypedData } from '../core/functions-core';
import {
  EventType,
  RuntimeStatus,
  RuntimeStatusCode,
  event,
  isTerminal,
  parseJsonText,
  toJsonText,
  type HistoryEvent,
} from './history';
import type { DurableStore, InstanceState, Message, Op, RetryInfo, WorkItem } from './store';

export interface EngineOptions {
  registry: FunctionRegistry;
  store: DurableStore;
  log: (level: 'information' | 'warning' | 'error', message: string) => void;
  /** `NonRunningStates` (default) refuses to start an id that is still running; `AnyState` replaces it. */
  overridableExistingInstanceStates?: 'NonRunningStates' | 'AnyState';
  maxConcurrentActivities?: number;
  now?: () => Date;
}

/** Raised for client calls that the Durable HTTP API answers with a 4xx. */
export class DurableApiError extends Error {
  constructor(
    readonly status: 400 | 404 | 409 | 410 | 501 | 503,
    message: string,
  ) {
    super(message);
  }
}

interface OrchestratorState {
  isDone: boolean;
  actions: unknown[][];
  output?: unknown;
  error?: string;
  customStatus?: unknown;
  schemaVersion?: number;
}

interface Action {
  actionType: number;
  functionName?: string;
  input?: unknown;
  fireAt?: string;
  isCanceled?: boolean;
  externalEventName?: string;
  retryOptions?: {
    firstRetryIntervalInMilliseconds: number;
    maxNumberOfAttempts: number;
    backoffCoefficient?: number;
    maxRetryIntervalInMilliseconds?: number;
    retryTimeoutInMilliseconds?: number;
  };
  compoundActions?: Action[];
}

const ActionType = {
  CallActivity: 0,
  CallActivityWithRetry: 1,
  CallSubOrchestrator: 2,
  CallSubOrchestratorWithRetry: 3,
  ContinueAsNew: 4,
  CreateTimer: 5,
  WaitForExternalEvent: 6,
  CallEntity: 7,
  CallHttp: 8,
  SignalEntity: 9,
  WhenAny: 11,
  WhenAll: 12,
  LockEntities: 13,
} as const;

/** Id-consuming action types the local engine supports; others fail the instance with a clear reason. */
const ID_CONSUMING = new Set<number>([0, 1, 2, 3, 5, 7, 8, 9, 13]);
const SUPPORTED = new Set<number>([
  ActionType.CallActivity,
  ActionType.CallActivityWithRetry,
  ActionType.CreateTimer,
]);
const DAY_MS = 24 * 3600 * 1000;
/**
 * The Azure Storage provider's timer limits, as the extension sends them to the SDK: a timer longer
 * than the maximum runs as a chain of sub-timers, each at most the interval (AzureStorageDurabilityProvider).
 */
const MAX_SHORT_TIMER_MS = 6 * DAY_MS;
const LONG_TIMER_INTERVAL_MS = 3 * DAY_MS;
/** The extension refuses a larger custom status, measured as UTF-16 in whole KB (DurableOrchestrationContext.SetCustomStatus). */
const MAX_CUSTOM_STATUS_KB = 16;
const INVALID_ID = /[/\\#?\u0000-\u001f\u007f-\u009f]/;
const OUT_OF_PROC_LABEL = '\n\n$OutOfProcData$:';

interface Runtime {
  state: InstanceState | undefined;
  loaded: boolean;
  /** Visible messages in arrival order. */
  inbox: Message[];
  /** Messages not yet visible (durable timers), each with the Node timer that will deliver it. */
  timers: Map<string, ArmedTimer>;
  busy: boolean;
}

interface ArmedTimer {
  handle: NodeJS.Timeout;
  message: Message;
  visibleAt: string;
}

type ControlMessage = Extract<Message, { kind: 'suspend' | 'resume' | 'terminate' }>;
/** A message that becomes a history event the orchestrator sees. */
type OrchestrationMessage = Exclude<Message, ControlMessage>;

const isControl = (m: Message): m is ControlMessage =>
  m.kind === 'suspend' || m.kind === 'resume' || m.kind === 'terminate';

type OrchestratorResult =
  | { state: OrchestratorState }
  /** A failure; `actions` (as in a state) when the SDK reported them with it. */
  | { error: string; actions?: unknown[][]; customStatus?: unknown };

/** What one episode builds: the instance's next state and the writes that commit it at once. */
interface Episode {
  instanceId: string;
  rt: Runtime;
  /** The state as committed before the episode (continue-as-new deletes its history rows). */
  state: InstanceState;
  now: Date;
  next: InstanceState;
  /** Index of the first history event the episode appends. */
  firstNew: number;
  ops: Op[];
  /** Activities to start and timers to arm once the episode is committed. */
  newWork: WorkItem[];
  newTimers: { id: number; fireAt: string }[];
}

/** What the orchestrator's actions come to. */
type Verdict =
  | { kind: 'failed'; reason: string }
  /** DurableTask's own failure: the message is the output, without the orchestrator prefix. */
  | { kind: 'nonDeterministic'; message: string }
  | { kind: 'continueAsNew'; action: Action }
  | { kind: 'completed'; output: unknown }
  | { kind: 'waiting' };

export class DurableEngine {
  private readonly runtimes = new Map<string, Runtime>();
  private readonly activityQueue: { instanceId: string; work: WorkItem }[] = [];
  private readonly runningWork = new Set<string>();
  private activeActivities = 0;
  private seq = Date.now() * 1000;
  private closed = false;
  private readonly idle = new Set<() => void>();
  private readonly now: () => Date;
  private lastNow = 0;

  constructor(private readonly opts: EngineOptions) {
    this.now = opts.now ?? (() => new Date());
  }

  /** A monotonic clock: OrchestratorStarted timestamps never go backwards. */
  private clock(): Date {
    const t = Math.max(this.now().getTime(), this.lastNow);
    this.lastNow = t;
    return new Date(t);
  }

  private nextSeq(): number {
    return ++this.seq;
  }

  // ---------------------------------------------------------------- recovery

  /** Reloads every instance that has pending messages or work, re-arming timers and activities. */
  async recover(): Promise<number> {
    const ids = await this.opts.store.pendingInstanceIds();
    for (const id of ids) await this.ensureLoaded(id);
    for (const id of ids) this.kick(id);
    return ids.length;
  }

  private runtime(instanceId: string): Runtime {
    let rt = this.runtimes.get(instanceId);
    if (!rt) {
      rt = { state: undefined, loaded: false, inbox: [], timers: new Map(), busy: false };
      this.runtimes.set(instanceId, rt);
    }
    return rt;
  }

  private async ensureLoaded(instanceId: string): Promise<Runtime> {
    const rt = this.runtime(instanceId);
    if (rt.loaded) return rt;
    const loaded = await this.opts.store.loadInstance(instanceId);
    // Another caller may have loaded it while we awaited the read.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
    if (rt.loaded) return rt;
    rt.loaded = true;
    if (!loaded) return rt;
    rt.state = loaded.state;
    for (const e of rt.state.history) e.IsPlayed = true;
    for (const { message, visibleAt } of loaded.messages) this.accept(instanceId, rt, message, visibleAt);
    for (const work of loaded.work) this.enqueueWork(instanceId, work);
    return rt;
  }

  /** Puts a persisted message into the in-memory inbox, now or at its visibility time. */
  private accept(instanceId: string, rt: Runtime, message: Message, visibleAt?: string): void {
    if (rt.inbox.some((m) => m.id === message.id) || rt.timers.has(message.id)) return;
    const due = visibleAt ? Date.parse(visibleAt) - this.now().getTime() : 0;
    if (visibleAt && due > 0) {
      // Node timers cap at ~24.8 days; re-arm in steps for longer waits.
      const step = Math.min(due, 2 ** 31 - 1);
      const handle = setTimeout(() => {
        rt.timers.delete(message.id);
        this.accept(instanceId, rt, message, visibleAt);
        this.kick(instanceId);
      }, step);
      rt.timers.set(message.id, { handle, message, visibleAt });
      return;
    }
    rt.inbox.push(message);
    rt.inbox.sort((a, b) => a.seq - b.seq);
  }

  /** When the next armed timer comes due (epoch ms), if any: how far a jumping clock may go at once. */
  nextTimerDue(): number | undefined {
    let next: number | undefined;
    for (const rt of this.runtimes.values()) {
      for (const { visibleAt } of rt.timers.values()) {
        const at = Date.parse(visibleAt);
        if (next === undefined || at < next) next = at;
      }
    }
    return next;
  }

  /**
   * Delivers every armed timer that is due by the engine's clock. Node timers deliver them on their
   * own; this is for a clock that jumps (`EngineOptions.now` in tests of days-long windows), where
   * no Node timer would fire.
   */
  fireDueTimers(): void {
    const now = this.now().getTime();
    for (const [instanceId, rt] of this.runtimes) {
      for (const [id, armed] of rt.timers) {
        if (Date.parse(armed.visibleAt) > now) continue;
        clearTimeout(armed.handle);
        rt.timers.delete(id);
        this.accept(instanceId, rt, armed.message);
      }
      if (rt.inbox.length > 0) this.kick(instanceId);
    }
  }

  // ---------------------------------------------------------------- client operations

  async startNew(name: string, instanceId: string | undefined, inputJson: string): Promise<string> {
    this.assertOpen();
    const fn = this.opts.registry.get(name);
    if (!fn || fn.trigger.type !== 'orchestrationTrigger') {
      throw new DurableApiError(400, `No orchestrator function named '${name}' is registered.`);
    }
    const id = instanceId ?? randomUUID().replace(/-/g, '');
    if (id.length === 0 || id.length > 256 || id.startsWith('@') || INVALID_ID.test(id)) {
      throw new DurableApiError(400, `The instance id '${id}' is not valid.`);
    }
    const rt = await this.ensureLoaded(id);
    const prior = rt.state;
    if (prior) {
      const replaceable =
        this.opts.overridableExistingInstanceStates === 'AnyState' || isTerminal(prior.status);
      if (!replaceable) {
        throw new DurableApiError(409, `An instance with ID '${id}' already exists and is ${prior.status}.`);
      }
      await this.purgeLoaded(id, rt);
    }
    const now = this.clock().toISOString();
    const executionId = randomUUID();
    const state: InstanceState = {
      instanceId: id,
      name: fn.metadata.name,
      executionId,
      input: inputJson,
      output: null,
      customStatus: null,
      status: RuntimeStatus.Pending,
      createdTime: now,
      lastUpdatedTime: now,
      completedTime: null,
      history: [],
      nextId: 0,
      staticSigs: [],
      staticIds: [],
      retries: {},
      userTimers: [],
      longTimers: {},
    };
    const start: Message = { kind: 'start', id: `s:${executionId}`, seq: this.nextSeq(), executionId };
    await this.opts.store.commit(id, [
      { type: 'putState', state },
      { type: 'addMessage', message: start },
    ]);
    rt.state = state;
    rt.loaded = true;
    this.accept(id, rt, start);
    this.kick(id);
    return id;
  }

  async getState(instanceId: string): Promise<InstanceState | undefined> {
    const rt = await this.ensureLoaded(instanceId);
    const state = rt.state;
    // A look-up of an unknown or finished id must not leave an entry behind (anyone can ask).
    this.evictIfDone(instanceId, rt);
    return state;
  }

  async raiseEvent(instanceId: string, name: string, inputJson: string | null): Promise<void> {
    const rt = await this.requireActive(instanceId);
    const message: Message = {
      kind: 'event',
      id: `e:${randomUUID()}`,
      seq: this.nextSeq(),
      name,
      input: inputJson,
    };
    await this.opts.store.addMessage(instanceId, message);
    this.accept(instanceId, rt, message);
    this.kick(instanceId);
  }

  async terminate(instanceId: string, reason: string): Promise<void> {
    await this.control(instanceId, 'terminate', reason);
  }

  async suspend(instanceId: string, reason: string): Promise<void> {
    await this.control(instanceId, 'suspend', reason);
  }

  async resume(instanceId: string, reason: string): Promise<void> {
    await this.control(instanceId, 'resume', reason);
  }

  private async control(
    instanceId: string,
    kind: 'terminate' | 'suspend' | 'resume',
    reason: string,
  ): Promise<void> {
    const rt = await this.requireActive(instanceId);
    const message: Message = { kind, id: `c:${randomUUID()}`, seq: this.nextSeq(), reason };
    await this.opts.store.addMessage(instanceId, message);
    this.accept(instanceId, rt, message);
    this.kick(instanceId);
  }

  private async requireActive(instanceId: string): Promise<Runtime> {
    this.assertOpen();
    const rt = await this.ensureLoaded(instanceId);
    if (!rt.state) {
      this.evictIfDone(instanceId, rt);
      throw new DurableApiError(404, `No instance with ID '${instanceId}' found.`);
    }
    if (isTerminal(rt.state.status)) {
      throw new DurableApiError(
        410,
        `The instance '${instanceId}' is ${rt.state.status} and cannot take this operation.`,
      );
    }
    return rt;
  }

  /** One page of instance states matching an OData filter (the table is always current: writes go through). */
  listStates(
    filter: string,
    pageSize: number,
    continuationToken?: string,
  ): Promise<{ states: InstanceState[]; continuationToken?: string }> {
    return this.opts.store.listStates(filter, pageSize, continuationToken);
  }

  async purgeWhere(filter: string): Promise<number> {
    let deleted = 0;
    let token: string | undefined;
    do {
      const page = await this.opts.store.listStates(filter, 500, token);
      for (const s of page.states) deleted += await this.purge(s.instanceId);
      token = page.continuationToken;
    } while (token);
    return deleted;
  }

  async purge(instanceId: string): Promise<number> {
    const rt = await this.ensureLoaded(instanceId);
    if (!rt.state) return 0;
    return this.purgeLoaded(instanceId, rt);
  }

  private async purgeLoaded(instanceId: string, rt: Runtime): Promise<number> {
    for (const t of rt.timers.values()) clearTimeout(t.handle);
    rt.timers.clear();
    rt.inbox = [];
    rt.state = undefined;
    return this.opts.store.deleteInstance(instanceId);
  }

  /** Resolves once no episode or activity is running or queued (used by tests and shutdown). */
  async whenIdle(): Promise<void> {
    if (this.isIdle()) return;
    await new Promise<void>((resolve) => this.idle.add(resolve));
  }

  private isIdle(): boolean {
    return (
      this.activeActivities === 0 &&
      this.activityQueue.length === 0 &&
      [...this.runtimes.values()].every((rt) => !rt.busy && rt.inbox.length === 0)
    );
  }

  private notifyIdle(): void {
    if (!this.isIdle()) return;
    for (const r of this.idle) r();
    this.idle.clear();
  }

  /** Stops taking work; in-flight episodes finish, timers are disarmed (they are persisted). */
  async close(): Promise<void> {
    this.closed = true;
    for (const rt of this.runtimes.values()) {
      for (const t of rt.timers.values()) clearTimeout(t.handle);
      rt.timers.clear();
    }
    const deadline = Date.now() + 5000;
    while (
      Date.now() < deadline &&
      (this.activeActivities > 0 || [...this.runtimes.values()].some((r) => r.busy))
    ) {
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private assertOpen(): void {
    // 503, not 410: the client takes 410 for "delivered to a finished instance" and would drop an event.
    if (this.closed) throw new DurableApiError(503, 'The durable engine is shutting down; try again.');
  }

  // ---------------------------------------------------------------- episodes

  private kick(instanceId: string): void {
    const rt = this.runtime(instanceId);
    if (rt.busy || this.closed) return;
    rt.busy = true;
    void this.drain(instanceId, rt)
      .catch((e: unknown) => {
        this.opts.log('error', `Durable instance '${instanceId}' stopped processing: ${describe(e)}`);
      })
      .finally(() => {
        rt.busy = false;
        if (rt.inbox.length > 0 && this.runnable(rt) && !this.closed) this.kick(instanceId);
        else {
          this.evictIfDone(instanceId, rt);
          this.notifyIdle();
        }
      });
  }

  /** Finished (or unknown) instances leave memory once nothing is pending for them; storage keeps them. */
  private evictIfDone(instanceId: string, rt: Runtime): void {
    const done = !rt.state || isTerminal(rt.state.status);
    if (done && !rt.busy && rt.inbox.length === 0 && rt.timers.size === 0) this.runtimes.delete(instanceId);
  }

  private runnable(rt: Runtime): boolean {
    if (rt.state?.status !== RuntimeStatus.Suspended) return rt.inbox.length > 0;
    return rt.inbox.some((m) => m.kind === 'resume' || m.kind === 'terminate');
  }

  /** Runs episodes for one instance until its inbox is empty; never two at once for one instance. */
  private async drain(instanceId: string, rt: Runtime): Promise<void> {
    let failures = 0;
    // A runtime made for a late message (e.g. an activity result after eviction) reads storage first.
    if (!rt.loaded) await this.ensureLoaded(instanceId);
    while (!this.closed && this.runnable(rt)) {
      const suspended = rt.state?.status === RuntimeStatus.Suspended;
      const index = suspended ? rt.inbox.findIndex((m) => m.kind === 'resume' || m.kind === 'terminate') : 0;
      const message = rt.inbox[index];
      if (!message) return;
      try {
        await this.episode(instanceId, rt, message);
        const at = rt.inbox.indexOf(message);
        if (at >= 0) rt.inbox.splice(at, 1);
      } catch (e) {
        if (isPermanentStorageError(e) && rt.state && !isTerminal(rt.state.status)) {
          // The episode can never be stored (an entity over Table Storage's size limits): fail the
          // instance with the reason instead of replaying the same episode for ever.
          await this.failUnstorable(instanceId, rt, message, e);
          continue;
        }
        // A passing storage failure: reload so memory matches what was committed, then retry with
        // back-off (capped), so an outage neither spins nor loses the message.
        failures++;
        const delay = Math.min(30_000, 250 * 2 ** Math.min(failures, 7));
        this.opts.log(
          'error',
          `Durable episode for '${instanceId}' failed: ${describe(e)}; retrying in ${delay} ms.`,
        );
        rt.loaded = false;
        rt.inbox = [];
        for (const t of rt.timers.values()) clearTimeout(t.handle);
        rt.timers.clear();
        await new Promise((r) => setTimeout(r, delay));
        // The engine may have been closed while we waited.
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
        if (this.closed) return;
        try {
          await this.ensureLoaded(instanceId);
        } catch (reload) {
          this.opts.log('error', `Reloading '${instanceId}' failed: ${describe(reload)}`);
        }
      }
    }
  }

  private async failUnstorable(
    instanceId: string,
    rt: Runtime,
    message: Message,
    error: unknown,
  ): Promise<void> {
    const state = rt.state;
    if (!state) return;
    const now = this.clock().toISOString();
    // The committed state (its custom status too) was storable; only the episode is lost.
    const failed: InstanceState = {
      ...state,
      status: RuntimeStatus.Failed,
      output: toJsonText(
        `Orchestrator function '${state.name}' failed: the episode could not be stored: ${describe(error)}`,
      ),
      lastUpdatedTime: now,
      completedTime: now,
    };
    this.opts.log('error', `Durable instance '${instanceId}' failed: ${describe(error)}`);
    await this.opts.store.commit(instanceId, [
      { type: 'deleteMessage', id: message.id },
      { type: 'putState', state: failed },
    ]);
    rt.state = failed;
    const at = rt.inbox.indexOf(message);
    if (at >= 0) rt.inbox.splice(at, 1);
  }

  /**
   * One episode: applies one message to an instance and commits the outcome (new history rows, the
   * state, the consumed message, new timers and activity work) in one store commit. Only one
   * message per episode: with several, the SDK would interleave the ids it allocates while
   * processing completions (retry timers, re-attempts) with the ids of resumed user code, and the
   * host would have to simulate the generator to number tasks as the SDK does.
   */
  private async episode(instanceId: string, rt: Runtime, message: Message): Promise<void> {
    const state = rt.state;
    if (!state || isTerminal(state.status) || !this.belongsToExecution(state, message)) {
      return this.consumeOnly(instanceId, message);
    }
    const ep = this.beginEpisode(instanceId, rt, state, message);
    if (isControl(message)) {
      this.applyControl(ep, message);
      return this.commit(ep);
    }
    if (this.alreadyApplied(ep.next, message)) return this.commit(ep);
    this.appendNewEvent(ep, message);
    const result = await this.replayOrchestrator(ep.next);
    const verdict = this.applyActions(ep, result);
    // An ending episode appends ExecutionCompleted before OrchestratorCompleted, as DurableTask does.
    const episodeDone = () => ep.next.history.push(event(EventType.OrchestratorCompleted, ep.now));
    switch (verdict.kind) {
      case 'failed':
        return this.endExecution(
          ep,
          RuntimeStatus.Failed,
          toJsonText(`Orchestrator function '${ep.next.name}' failed: ${verdict.reason}`),
        );
      case 'nonDeterministic':
        return this.endExecution(ep, RuntimeStatus.Failed, toJsonText(verdict.message));
      case 'continueAsNew':
        episodeDone();
        return this.continueAsNew(ep, verdict.action);
      case 'completed':
        return this.endExecution(ep, RuntimeStatus.Completed, toJsonText(verdict.output));
      case 'waiting':
        episodeDone();
        return this.commitAndStartWork(ep);
    }
  }

  /** A message for no current execution (or a finished one) is consumed without an episode. */
  private async consumeOnly(instanceId: string, message: Message): Promise<void> {
    await this.opts.store.commit(instanceId, [{ type: 'deleteMessage', id: message.id }]);
  }

  /** The next state starts as a copy of the committed one, its history all marked as played. */
  private beginEpisode(instanceId: string, rt: Runtime, state: InstanceState, message: Message): Episode {
    const now = this.clock();
    const next = structuredClone(state);
    for (const e of next.history) e.IsPlayed = true;
    next.lastUpdatedTime = now.toISOString();
    return {
      instanceId,
      rt,
      state,
      now,
      next,
      firstNew: next.history.length,
      ops: [{ type: 'deleteMessage', id: message.id }],
      newWork: [],
      newTimers: [],
    };
  }

  /** Suspend, resume and terminate change the status without running the orchestrator. */
  private applyControl(ep: Episode, message: ControlMessage): void {
    const { next, now } = ep;
    switch (message.kind) {
      case 'suspend':
        if (next.status === RuntimeStatus.Running || next.status === RuntimeStatus.Pending) {
          next.status = RuntimeStatus.Suspended;
          next.output = toJsonText(message.reason);
          next.history.push(event(EventType.ExecutionSuspended, now, { Reason: message.reason }));
        }
        return;
      case 'resume':
        if (next.status === RuntimeStatus.Suspended) {
          next.status = RuntimeStatus.Running;
          next.output = null;
          next.history.push(event(EventType.ExecutionResumed, now, { Reason: message.reason }));
        }
        return;
      case 'terminate':
        next.status = RuntimeStatus.Terminated;
        next.output = toJsonText(message.reason);
        next.completedTime = now.toISOString();
        next.history.push(event(EventType.ExecutionTerminated, now, { Input: toJsonText(message.reason) }));
        this.dropPending(ep.rt, ep.ops);
        return;
    }
  }

  /**
   * Appends `OrchestratorStarted` and the message's event. A completion of a retry task also
   * allocates its ids here, before the orchestrator runs, as the SDK does while it processes the
   * event: a failed attempt gets a retry timer, the retry timer firing gets the next attempt.
   */
  private appendNewEvent(ep: Episode, message: OrchestrationMessage): void {
    const { next, now } = ep;
    next.history.push(event(EventType.OrchestratorStarted, now));
    switch (message.kind) {
      case 'start':
        next.status = RuntimeStatus.Running;
        next.history.push(
          event(EventType.ExecutionStarted, now, {
            Name: next.name,
            Input: next.input,
            MessageId: message.id,
          }),
        );
        return;
      case 'event':
        next.history.push(
          event(EventType.EventRaised, now, {
            Name: message.name,
            Input: message.input,
            MessageId: message.id,
          }),
        );
        return;
      case 'result':
        this.appendTaskResult(ep, message);
        return;
      case 'timer':
        this.appendTimerFired(ep, message);
        return;
    }
  }

  private appendTaskResult(ep: Episode, message: Extract<Message, { kind: 'result' }>): void {
    const { next, now } = ep;
    if (message.ok) {
      next.history.push(
        event(EventType.TaskCompleted, now, {
          TaskScheduledId: message.taskId,
          Result: message.result ?? 'null',
        }),
      );
      return;
    }
    next.history.push(
      event(EventType.TaskFailed, now, {
        TaskScheduledId: message.taskId,
        Reason: message.reason ?? 'Activity failed',
        Details: message.details ?? '',
      }),
    );
    // Dynamic id: a failed attempt of a retry task is always followed by a retry timer.
    const retry = findRetry(next.retries, message.taskId, false);
    if (retry) {
      const timerId = next.nextId++;
      const last = retry.attempt >= retry.maxNumberOfAttempts;
      const fireAt = new Date(now.getTime() + (last ? 0 : retryDelay(retry))).toISOString();
      retry.currentId = timerId;
      retry.waitingOnTimer = true;
      this.createTimer(ep, timerId, fireAt);
    }
  }

  private appendTimerFired(ep: Episode, message: Extract<Message, { kind: 'timer' }>): void {
    const { next, now } = ep;
    next.history.push(event(EventType.TimerFired, now, { TimerId: message.timerId, FireAt: message.fireAt }));
    this.nextSubTimer(ep, message.timerId);
    const retry = findRetry(next.retries, message.timerId, true);
    if (retry && retry.attempt < retry.maxNumberOfAttempts) {
      const taskId = next.nextId++;
      retry.attempt += 1;
      retry.currentId = taskId;
      retry.waitingOnTimer = false;
      this.scheduleTask(ep, taskId, retry.functionName, retry.input);
    }
  }

  /**
   * A sub-timer of a long timer fired: the next one takes the next id, as in the extension's loop
   * (DurableOrchestrationContext.CreateTimer): the interval again, or what remains once less than an
   * interval does. The SDK takes the same id while it processes the event, so the two agree — except
   * for a cancelled long timer, which the extension stops and the SDK does not (see `cancelTimer`).
   */
  private nextSubTimer(ep: Episode, timerId: number): void {
    const { next, now } = ep;
    const timers = Object.entries(next.longTimers ?? {});
    const timer = timers.find(([, t]) => t.currentId === timerId)?.[1];
    if (!timer) return;
    const remaining = Date.parse(timer.fireAt) - now.getTime();
    if (timer.canceled || remaining <= 0) {
      next.longTimers = Object.fromEntries(timers.filter(([, t]) => t !== timer));
      return;
    }
    timer.currentId = next.nextId++;
    const fireAt = remaining < LONG_TIMER_INTERVAL_MS ? timer.fireAt : now.getTime() + LONG_TIMER_INTERVAL_MS;
    this.createTimer(ep, timer.currentId, new Date(fireAt).toISOString());
  }

  /** Runs the orchestrator over the history (it replays what is played, then goes on). */
  private async replayOrchestrator(next: InstanceState): Promise<OrchestratorResult> {
    const fn = this.opts.registry.get(next.name);
    return fn
      ? this.invokeOrchestrator(fn, next)
      : { error: `The orchestrator function '${next.name}' is not registered in this app.` };
  }

  /**
   * Takes the orchestrator's custom status and actions. Actions are numbered depth-first, as the SDK
   * numbers tasks: those the history already has must match it (or the orchestrator is not
   * deterministic); each new one takes the next id and is scheduled.
   */
  private applyActions(ep: Episode, result: OrchestratorResult): Verdict {
    const { next } = ep;
    // The extension takes the custom status first, also from a failing episode (the shim).
    const customStatus = 'state' in result ? result.state.customStatus : result.customStatus;
    if (customStatus !== undefined) {
      const text = toJsonText(customStatus);
      const kb = Math.floor((text.length * 2) / 1024);
      if (kb > MAX_CUSTOM_STATUS_KB) {
        // The extension's serializer throws before it keeps the status, and DurableTask stores the
        // episode's status, which is then none (AzureTableTrackingStore writes null).
        next.customStatus = null;
        return {
          kind: 'failed',
          reason: `The UTF-16 size of the JSON-serialized payload must not exceed ${MAX_CUSTOM_STATUS_KB} KB. The current payload size is ${kb} KB.`,
        };
      }
      next.customStatus = text;
    }
    // A failure the SDK reported without its actions fails at once (nothing to replay).
    if ('error' in result && !result.actions) return { kind: 'failed', reason: result.error };
    const actionList = 'state' in result ? result.state.actions : result.actions;
    let continueAsNew: Action | undefined;
    let staticIndex = 0;
    const canceled = new Set<number>();
    // The extension replays the actions in turn and invokes one only once the one before has
    // finished (OutOfProcOrchestrationShim): after a failed Task.all, only once every child has.
    let blocked = false;
    const progress = finishedWork(next.history);
    actions: for (const top of topLevel(actionList)) {
      const firstIndex = staticIndex;
      for (const action of flatten([[top]])) {
        if (action.actionType === ActionType.ContinueAsNew) {
          continueAsNew = action;
          continue;
        }
        if (!ID_CONSUMING.has(action.actionType)) continue;
        const sig = signature(action);
        if (staticIndex < next.staticSigs.length) {
          const recorded = next.staticSigs[staticIndex] ?? '';
          if (recorded !== sig) {
            return nonDeterministic(
              recorded,
              next.staticIds?.[staticIndex],
              `the replay now ${describeSig(sig)} at this position`,
            );
          }
          if (action.actionType === ActionType.CreateTimer && action.isCanceled) {
            this.cancelTimer(ep, next.userTimers[staticIndex]);
            canceled.add(next.userTimers[staticIndex] ?? -1);
          }
          staticIndex++;
          continue;
        }
        if (blocked) break actions;
        if (!SUPPORTED.has(action.actionType)) {
          return {
            kind: 'failed',
            reason: `The local host does not support action type ${action.actionType} (only activities, retries, timers, events, continueAsNew).`,
          };
        }
        if (action.retryOptions?.retryTimeoutInMilliseconds !== undefined) {
          // In Azure, once the timeout passes, DurableTask stops retrying without failing the task, and
          // durable-functions then waits for ever (azure-functions-durable-js issue 629).
          return {
            kind: 'failed',
            reason: `The local host refuses retryTimeoutInMilliseconds (callActivityWithRetry '${action.functionName ?? ''}'): in Azure, once it passes, retrying stops without a result and the orchestration waits for ever. Bound the retries with maxNumberOfAttempts instead.`,
          };
        }
        this.scheduleAction(ep, action, sig);
        if (action.actionType === ActionType.CreateTimer && action.isCanceled) canceled.add(next.nextId - 1);
        staticIndex++;
      }
      if (top.actionType === ActionType.WhenAll) {
        const ids = (next.staticIds ?? []).slice(firstIndex, staticIndex);
        if (!finishedInExtension(top, ids, next, progress)) blocked = true;
      }
    }
    if (staticIndex < next.staticSigs.length) {
      // The replay stopped short of what the history scheduled (DurableTask: "hasn't (yet?) scheduled").
      return nonDeterministic(
        next.staticSigs[staticIndex] ?? '',
        next.staticIds?.[staticIndex],
        'the replay has not scheduled it',
      );
    }
    if (blocked) return { kind: 'waiting' };
    // DurableTask ends an orchestration only once none of its tasks is open: a Task.any loser that
    // was not cancelled keeps it Running until it finishes (TaskOrchestrationExecutor, HasOpenTasks),
    // and so does a child of a failed Task.all before the failure is recorded.
    if ('error' in result) {
      return hasOpenTasks(next, canceled) ? { kind: 'waiting' } : { kind: 'failed', reason: result.error };
    }
    if (continueAsNew) return { kind: 'continueAsNew', action: continueAsNew };
    if (result.state.isDone && !hasOpenTasks(next, canceled)) {
      return { kind: 'completed', output: result.state.output };
    }
    return { kind: 'waiting' };
  }

  /** A new id-consuming action: takes the next id and appends its scheduling event. */
  private scheduleAction(ep: Episode, action: Action, sig: string): void {
    const { next, now } = ep;
    const id = next.nextId++;
    next.staticSigs.push(sig);
    (next.staticIds ??= []).push(id);
    if (action.actionType === ActionType.CreateTimer) {
      const fireAt = new Date(action.fireAt ?? now.toISOString()).toISOString();
      next.userTimers.push(id);
      // Armed even if already cancelled: DurableTask sends the timer message before the cancel.
      if (Date.parse(fireAt) - now.getTime() > MAX_SHORT_TIMER_MS) {
        (next.longTimers ??= {})[String(id)] = { fireAt, currentId: id, canceled: false };
        this.createTimer(ep, id, new Date(now.getTime() + LONG_TIMER_INTERVAL_MS).toISOString());
        if (action.isCanceled) this.cancelTimer(ep, id);
        return;
      }
      this.createTimer(ep, id, fireAt);
      return;
    }
    next.userTimers.push(-1);
    const functionName = action.functionName ?? '';
    const input = encodeActivityInput(action.input);
    this.scheduleTask(ep, id, functionName, input);
    if (action.actionType === ActionType.CallActivityWithRetry && action.retryOptions) {
      const r = action.retryOptions;
      next.retries[String(id)] = {
        functionName,
        ...(input !== undefined ? { input } : {}),
        firstRetryIntervalInMilliseconds: r.firstRetryIntervalInMilliseconds,
        maxNumberOfAttempts: r.maxNumberOfAttempts,
        backoffCoefficient: r.backoffCoefficient ?? 1,
        ...(r.maxRetryIntervalInMilliseconds !== undefined
          ? { maxRetryIntervalInMilliseconds: r.maxRetryIntervalInMilliseconds }
          : {}),
        attempt: 1,
        currentId: id,
        waitingOnTimer: false,
      };
    }
  }

  /** Appends `TaskScheduled`; the activity runs once the episode is committed. */
  private scheduleTask(ep: Episode, taskId: number, functionName: string, input: string | undefined): void {
    ep.next.history.push(
      event(EventType.TaskScheduled, ep.now, {
        EventId: taskId,
        Name: functionName,
        ...(input !== undefined ? { Input: input } : {}),
      }),
    );
    ep.newWork.push(this.workItem(ep.next, taskId, functionName, input));
  }

  /** Appends `TimerCreated`; the timer's message is written with the episode. */
  private createTimer(ep: Episode, timerId: number, fireAt: string): void {
    ep.next.history.push(event(EventType.TimerCreated, ep.now, { EventId: timerId, FireAt: fireAt }));
    ep.newTimers.push({ id: timerId, fireAt });
  }

  /** Completed or failed: records the end, and drops the execution's timers and pending results. */
  private endExecution(
    ep: Episode,
    status: typeof RuntimeStatus.Completed | typeof RuntimeStatus.Failed,
    outputJson: string,
  ): Promise<void> {
    const { next, now } = ep;
    next.status = status;
    next.output = outputJson;
    next.completedTime = now.toISOString();
    next.history.push(
      event(EventType.ExecutionCompleted, now, {
        // The completion is an action too: it takes the next id (TaskOrchestrationContext.CompleteOrchestration).
        EventId: next.nextId,
        OrchestrationStatus: RuntimeStatusCode[status],
        // DurableTask records a failure's message as it is (TaskOrchestrationContext.FailOrchestration
        // passes the exception's message as the result), an output as JSON text.
        Result: status === RuntimeStatus.Failed ? String(parseJsonText(outputJson)) : outputJson,
      }),
      event(EventType.OrchestratorCompleted, now),
    );
    this.dropPending(ep.rt, ep.ops);
    return this.commit(ep);
  }

  /** Still running: commits with the new timers and work, then arms the timers and starts the work. */
  private async commitAndStartWork(ep: Episode): Promise<void> {
    const { instanceId, rt, next } = ep;
    const timerMessages: { message: Message; visibleAt: string }[] = ep.newTimers.map((t) => ({
      message: {
        kind: 'timer',
        id: `t:${next.executionId}:${t.id}`,
        seq: this.nextSeq(),
        executionId: next.executionId,
        timerId: t.id,
        fireAt: t.fireAt,
      },
      visibleAt: t.fireAt,
    }));
    for (const t of timerMessages)
      ep.ops.push({ type: 'addMessage', message: t.message, visibleAt: t.visibleAt });
    for (const w of ep.newWork) ep.ops.push({ type: 'addWork', work: w });
    await this.commit(ep);
    for (const t of timerMessages) this.accept(instanceId, rt, t.message, t.visibleAt);
    for (const w of ep.newWork) this.enqueueWork(instanceId, w);
  }

  private commit(ep: Episode): Promise<void> {
    return this.persist(ep.instanceId, ep.rt, ep.next, ep.firstNew, ep.ops);
  }

  /** Starts a new execution with the action's input; the old execution's history rows go after. */
  private async continueAsNew(ep: Episode, action: Action): Promise<void> {
    const { instanceId, rt, state: old, next, ops, now } = ep;
    this.dropPending(rt, ops);
    // The old execution's rows go after the new state is stored (they are keyed by execution).
    const stale: Op[] = old.history.map((_, i) => ({
      type: 'deleteHistory',
      executionId: old.executionId,
      index: i,
    }));
    const executionId = randomUUID();
    const fresh: InstanceState = {
      ...next,
      executionId,
      input: typeof action.input === 'string' ? action.input : toJsonText(action.input),
      output: null,
      status: RuntimeStatus.Running,
      history: [],
      nextId: 0,
      staticSigs: [],
      staticIds: [],
      retries: {},
      userTimers: [],
      longTimers: {},
      lastUpdatedTime: now.toISOString(),
    };
    const start: Message = { kind: 'start', id: `s:${executionId}`, seq: this.nextSeq(), executionId };
    ops.push({ type: 'addMessage', message: start });
    await this.persist(instanceId, rt, fresh, 0, ops);
    this.accept(instanceId, rt, start);
    try {
      await this.opts.store.commit(instanceId, stale);
    } catch (e) {
      // Left-over rows of an old execution are ignored when loading; the next purge removes them.
      this.opts.log('warning', `Could not delete the old history of '${instanceId}': ${describe(e)}`);
    }
  }

  private workItem(
    state: InstanceState,
    taskId: number,
    functionName: string,
    input: string | undefined,
  ): WorkItem {
    return {
      id: `${state.executionId}:${taskId}`,
      executionId: state.executionId,
      taskId,
      functionName,
      ...(input !== undefined ? { input } : {}),
    };
  }

  /**
   * Drops the timers and undelivered completions of an execution that has ended. Activities already
   * scheduled still run (as in Azure, where their messages are already queued) — e.g. a notification
   * racing the end of its orchestration — and their results are then dropped.
   */
  private dropPending(rt: Runtime, ops: Op[]): void {
    for (const [id, { handle }] of rt.timers) {
      clearTimeout(handle);
      ops.push({ type: 'deleteMessage', id });
    }
    rt.timers.clear();
    for (const m of rt.inbox) {
      if (
        (m.kind === 'timer' || m.kind === 'result') &&
        !ops.some((o) => o.type === 'deleteMessage' && o.id === m.id)
      ) {
        ops.push({ type: 'deleteMessage', id: m.id });
      }
    }
    rt.inbox = rt.inbox.filter((m) => m.kind !== 'timer' && m.kind !== 'result');
  }

  /**
   * A cancel drops nothing: DurableTask forgets only its own task, so the timer still fires later
   * and its `TimerFired` is appended (the SDK ignores it). A long timer makes no further sub-timer —
   * but the SDK, when the armed one fires, takes an id for a next one, so every later id differs
   * from the extension's: in Azure the orchestration then waits for ever. Keep timers under the
   * maximum (`MAX_SHORT_TIMER_MS`) when they can be cancelled.
   */
  private cancelTimer(ep: Episode, timerId: number | undefined): void {
    const timer = timerId === undefined ? undefined : ep.next.longTimers?.[String(timerId)];
    if (!timer || timer.canceled) return;
    timer.canceled = true;
    this.opts.log(
      'warning',
      `Orchestration '${ep.instanceId}' cancelled a timer longer than ${MAX_SHORT_TIMER_MS / DAY_MS} days: in Azure its next sub-timer shifts the task ids and the orchestration stops making progress.`,
    );
  }

  private belongsToExecution(state: InstanceState, message: Message): boolean {
    switch (message.kind) {
      case 'start':
      case 'result':
      case 'timer':
        return message.executionId === state.executionId;
      default:
        return true;
    }
  }

  /** A completion already in the history (a duplicate delivery) is consumed without an episode. */
  private alreadyApplied(state: InstanceState, message: Message): boolean {
    switch (message.kind) {
      case 'start':
        return state.history.some((e) => e.EventType === EventType.ExecutionStarted);
      case 'result':
        return state.history.some(
          (e) =>
            (e.EventType === EventType.TaskCompleted || e.EventType === EventType.TaskFailed) &&
            e.TaskScheduledId === message.taskId,
        );
      case 'timer':
        return state.history.some(
          (e) => e.EventType === EventType.TimerFired && e.TimerId === message.timerId,
        );
      case 'event':
        return state.history.some((e) => e.MessageId === message.id);
      default:
        return false;
    }
  }

  private async persist(
    instanceId: string,
    rt: Runtime,
    next: InstanceState,
    firstNew: number,
    ops: Op[],
  ): Promise<void> {
    for (let i = firstNew; i < next.history.length; i++) {
      const e = next.history[i];
      if (e) ops.push({ type: 'addHistory', executionId: next.executionId, index: i, event: e });
    }
    ops.push({ type: 'putState', state: next });
    await this.opts.store.commit(instanceId, ops);
    rt.state = next;
  }

  private async invokeOrchestrator(
    fn: RegisteredFunction,
    state: InstanceState,
  ): Promise<OrchestratorResult> {
    const trigger = {
      history: state.history,
      input: parseJsonText(state.input),
      instanceId: state.instanceId,
      isReplaying: false,
      parentInstanceId: null,
      upperSchemaVersion: 2,
      upperSchemaVersionNew: 2,
      longRunningTimerIntervalDuration: timeSpan(LONG_TIMER_INTERVAL_MS),
      maximumShortTimerDuration: timeSpan(MAX_SHORT_TIMER_MS),
      defaultHttpAsyncRequestSleepTimeMillseconds: 30000,
    };
    try {
      const { returnValue } = await this.opts.registry.invoke(fn, [
        { name: fn.triggerName, data: { json: JSON.stringify(trigger) } },
      ]);
      const value = fromTypedData(returnValue) as OrchestratorState | undefined;
      if (!value || !Array.isArray(value.actions)) return { error: 'The orchestrator returned no state.' };
      return { state: value };
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      const at = message.indexOf(OUT_OF_PROC_LABEL);
      if (at >= 0) {
        try {
          const failed = JSON.parse(message.slice(at + OUT_OF_PROC_LABEL.length)) as OrchestratorState;
          return {
            error: failed.error ?? message.slice(0, at),
            actions: failed.actions,
            ...(failed.customStatus !== undefined ? { customStatus: failed.customStatus } : {}),
          };
        } catch {
          return { error: message };
        }
      }
      return { error: message };
    }
  }

  // ---------------------------------------------------------------- activities

  private enqueueWork(instanceId: string, work: WorkItem): void {
    if (this.runningWork.has(work.id) || this.activityQueue.some((q) => q.work.id === work.id)) return;
    this.activityQueue.push({ instanceId, work });
    this.pumpActivities();
  }

  private pumpActivities(): void {
    const limit = this.opts.maxConcurrentActivities ?? 32;
    while (!this.closed && this.activeActivities < limit) {
      const next = this.activityQueue.shift();
      if (!next) break;
      this.activeActivities++;
      this.runningWork.add(next.work.id);
      void this.runActivity(next.instanceId, next.work).finally(() => {
        this.activeActivities--;
        this.runningWork.delete(next.work.id);
        this.pumpActivities();
        this.notifyIdle();
      });
    }
  }

  private async runActivity(instanceId: string, work: WorkItem): Promise<void> {
    const fn = this.opts.registry.get(work.functionName);
    let message: Message;
    const base = {
      kind: 'result' as const,
      id: `r:${work.id}`,
      seq: 0,
      executionId: work.executionId,
      taskId: work.taskId,
    };
    if (!fn || fn.trigger.type !== 'activityTrigger') {
      message = {
        ...base,
        ok: false,
        reason: `Activity function '${work.functionName}' failed: the function does not exist or is not an activity.`,
        details: '',
      };
    } else {
      try {
        const data: RpcTypedData | undefined = work.input === undefined ? undefined : { string: work.input };
        const { returnValue } = await this.opts.registry.invoke(fn, [{ name: fn.triggerName, data }], {
          instanceId: { string: instanceId },
        });
        message = { ...base, ok: true, result: toJsonText(fromTypedData(returnValue)) };
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        message = {
          ...base,
          ok: false,
          reason: `Activity function '${work.functionName}' failed: ${err.message}`,
          details: err.stack ?? err.message,
        };
      }
    }
    // Record the result even while shutting down (storage closes after the engine): an activity that
    // ran must not run again after the restart. Keep trying, with capped back-off, through an outage.
    message.seq = this.nextSeq();
    for (let attempt = 0; ; attempt++) {
      try {
        await this.opts.store.commit(instanceId, [
          { type: 'addMessage', message },
          { type: 'deleteWork', id: work.id },
        ]);
        break;
      } catch (e) {
        // The work row is gone: an earlier attempt of this write landed and only its answer was lost
        // (a dropped connection), or a second run of the activity recorded the same result under the
        // same message id. The result is stored; retrying would fail the same way for ever, and the
        // instance would wait until a restart reloads it. A duplicate delivery is consumed unapplied.
        if (isEntityGone(e)) break;
        if (this.closed && attempt >= 3) {
          this.opts.log(
            'warning',
            `Activity '${work.functionName}' of '${instanceId}' will run again after the restart.`,
          );
          return;
        }
        this.opts.log(
          'error',
          `Could not record the result of activity '${work.functionName}': ${describe(e)}`,
        );
        await new Promise((r) => setTimeout(r, Math.min(30_000, 100 * 2 ** Math.min(attempt, 8))));
      }
    }
    if (this.closed) return;
    const rt = this.runtime(instanceId);
    this.accept(instanceId, rt, message);
    this.kick(instanceId);
  }
}

/**
 * Whether an activity or timer the execution scheduled has not finished yet. Cancelled timers do not
 * count (DurableTask forgets their tasks), nor do the sub-timers of a cancelled long timer.
 */
function hasOpenTasks(state: InstanceState, canceled: Set<number>): boolean {
  const ids = new Set(canceled);
  for (const [id, t] of Object.entries(state.longTimers ?? {})) {
    if (canceled.has(Number(id)) || t.canceled) ids.add(t.currentId);
  }
  const open = new Set<number>();
  for (const e of state.history) {
    switch (e.EventType) {
      case EventType.TaskScheduled:
      case EventType.TimerCreated:
        if (!ids.has(e.EventId)) open.add(e.EventId);
        break;
      case EventType.TaskCompleted:
      case EventType.TaskFailed:
        open.delete(e.TaskScheduledId ?? -1);
        break;
      case EventType.TimerFired:
        open.delete(e.TimerId ?? -1);
        break;
      default:
        break;
    }
  }
  return open.size > 0;
}

/** A whole number of days as a .NET TimeSpan string (`d.hh:mm:ss`), the form the extension sends. */
function timeSpan(ms: number): string {
  return `${ms / DAY_MS}.00:00:00`;
}

function retryDelay(r: RetryInfo): number {
  const raw = r.firstRetryIntervalInMilliseconds * Math.pow(r.backoffCoefficient, r.attempt - 1);
  const cap = r.maxRetryIntervalInMilliseconds ?? 6 * 24 * 3600 * 1000;
  return Math.min(raw, cap);
}

function findRetry(
  retries: Record<string, RetryInfo>,
  id: number,
  waitingOnTimer: boolean,
): RetryInfo | undefined {
  return Object.values(retries).find((r) => r.currentId === id && r.waitingOnTimer === waitingOnTimer);
}

/**
 * DurableTask fails an orchestration whose replay does not schedule what its history did: a missing
 * action, another kind, or another name (compared ignoring case) at the same sequence number
 * (TaskOrchestrationContext, NonDeterministicOrchestrationException). Its message is the output.
 */
function nonDeterministic(recorded: string, id: number | undefined, now: string): Verdict {
  const at = id === undefined ? '' : ` with sequence number ${id}`;
  return {
    kind: 'nonDeterministic',
    message: `Non-Deterministic workflow detected: a previous execution of this orchestration ${describeSig(recorded)}${at}, but ${now}. Was a change made to the orchestrator code after this instance had already started running?`,
  };
}

/** What a signature scheduled, in words: "scheduled an activity task named 'x'". */
function describeSig(sig: string): string {
  const [type, ...rest] = sig.split(':');
  const name = rest.join(':');
  switch (Number(type)) {
    case ActionType.CallActivity:
      return `scheduled an activity task named '${name}'`;
    case ActionType.CreateTimer:
      return 'scheduled a timer task';
    default:
      return `scheduled an action of type ${type ?? ''}${name ? ` named '${name}'` : ''}`;
  }
}

/** `type:name` as `staticSigs` records it; a call with retry has the signature of a plain call. */
function signature(action: Action): string {
  const type =
    action.actionType === ActionType.CallActivityWithRetry ? ActionType.CallActivity : action.actionType;
  return `${type}:${(action.functionName ?? '').toLowerCase()}`;
}

/** The orchestrator's actions in yield order (schema V3: one list; V1: one list per episode). */
function topLevel(actions: unknown[][] | undefined): Action[] {
  return (actions ?? []).flatMap((group) => group as Action[]);
}

interface FinishedWork {
  succeeded: Set<number>;
  failed: Set<number>;
  fired: Set<number>;
  /** Names of the events raised, lower-cased (the extension matches them ignoring case). */
  raised: Set<string>;
}

function finishedWork(history: HistoryEvent[]): FinishedWork {
  const work: FinishedWork = { succeeded: new Set(), failed: new Set(), fired: new Set(), raised: new Set() };
  for (const e of history) {
    if (e.EventType === EventType.TaskCompleted) work.succeeded.add(e.TaskScheduledId ?? -1);
    else if (e.EventType === EventType.TaskFailed) work.failed.add(e.TaskScheduledId ?? -1);
    else if (e.EventType === EventType.TimerFired) work.fired.add(e.TimerId ?? -1);
    else if (e.EventType === EventType.EventRaised) work.raised.add((e.Name ?? '').toLowerCase());
  }
  return work;
}

/**
 * Whether the extension's task for this action has finished: a Task.all when every child has (also
 * after one failed), a Task.any when one has. `ids` are the ids its id-taking leaves took, in order;
 * a leaf of unknown id (a state written before ids were kept) counts as finished.
 */
function finishedInExtension(
  action: Action,
  ids: number[],
  state: InstanceState,
  work: FinishedWork,
): boolean {
  let next = 0;
  const walk = (a: Action): boolean => {
    if (a.actionType === ActionType.WhenAll || a.actionType === ActionType.WhenAny) {
      // Every child is walked, so each leaf takes its own id.
      const children = (a.compoundActions ?? []).map(walk);
      return a.actionType === ActionType.WhenAll ? children.every(Boolean) : children.some(Boolean);
    }
    if (a.actionType === ActionType.WaitForExternalEvent) {
      return work.raised.has((a.externalEventName ?? '').toLowerCase());
    }
    if (!ID_CONSUMING.has(a.actionType)) return true;
    const id = ids[next++];
    if (id === undefined) return true;
    if (a.actionType === ActionType.CreateTimer) {
      return a.isCanceled === true || (!state.longTimers?.[String(id)] && work.fired.has(id));
    }
    const retry = state.retries[String(id)];
    if (retry) {
      return retry.waitingOnTimer
        ? retry.attempt >= retry.maxNumberOfAttempts && work.fired.has(retry.currentId)
        : work.succeeded.has(retry.currentId);
    }
    return work.succeeded.has(id) || work.failed.has(id);
  };
  return walk(action);
}

/** Depth-first, in array order, through compound actions: the order the SDK numbers tasks in. */
function flatten(actions: unknown[][] | undefined): Action[] {
  const out: Action[] = [];
  const walk = (a: Action): void => {
    if (a.actionType === ActionType.WhenAll || a.actionType === ActionType.WhenAny) {
      for (const c of a.compoundActions ?? []) walk(c);
    } else {
      out.push(a);
    }
  };
  for (const group of actions ?? []) for (const a of group as Action[]) walk(a);
  return out;
}

/** The SDK already JSON-encodes string inputs (`processInput`); other values are raw JSON values. */
function encodeActivityInput(input: unknown): string | undefined {
  if (input === undefined) return undefined;
  return typeof input === 'string' ? input : JSON.stringify(input);
}

function fromTypedData(data: RpcTypedData | null | undefined): unknown {
  if (!data) return data === null ? null : undefined;
  if (typeof data.string === 'string') return data.string;
  if (typeof data.json === 'string') return JSON.parse(data.json) as unknown;
  if (typeof data.int === 'number') return data.int;
  if (typeof data.double === 'number') return data.double;
  if (data.bytes) return Buffer.from(data.bytes).toString('base64');
  return undefined;
}

/** Table Storage refusing the entity itself (too large, bad property): retrying cannot help. */
function isPermanentStorageError(e: unknown): boolean {
  const status =
    typeof e === 'object' && e !== null && 'statusCode' in e
      ? (e as { statusCode?: unknown }).statusCode
      : undefined;
  return status === 400 || status === 413;
}

/** A write that names an entity which is not there (a delete of a row already deleted). */
function isEntityGone(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const { statusCode, code } = e as { statusCode?: unknown; code?: unknown };
  return statusCode === 404 && code === 'ResourceNotFound';
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
