/**
 * Durable Task history events as the `durable-functions` SDK reads them (PascalCase, integer
 * EventType, Input/Result as JSON text). The SDK dispatches on `EventType` with `===`, so names
 * such as "TaskCompleted" do not work; `Input` and `Result` hold JSON *text* (a string result `abc` is
 * `"\"abc\""`); `Timestamp` is ISO 8601 UTC with `Z`, and the first `OrchestratorStarted` of the
 * history is mandatory because it sets `currentUtcDateTime`.
 */

export const EventType = {
  ExecutionStarted: 0,
  ExecutionCompleted: 1,
  ExecutionFailed: 2,
  ExecutionTerminated: 3,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  SubOrchestrationInstanceCreated: 7,
  SubOrchestrationInstanceCompleted: 8,
  SubOrchestrationInstanceFailed: 9,
  TimerCreated: 10,
  TimerFired: 11,
  OrchestratorStarted: 12,
  OrchestratorCompleted: 13,
  EventSent: 14,
  EventRaised: 15,
  ContinueAsNew: 16,
  GenericEvent: 17,
  HistoryState: 18,
  ExecutionSuspended: 19,
  ExecutionResumed: 20,
} as const;
export type EventType = (typeof EventType)[keyof typeof EventType];

export const EventTypeName: Record<number, string> = Object.fromEntries(
  Object.entries(EventType).map(([k, v]) => [v, k]),
);

/** One history event; only the fields relevant to its type are set. */
export interface HistoryEvent {
  EventType: EventType;
  EventId: number;
  IsPlayed: boolean;
  Timestamp: string;
  Name?: string;
  Input?: string | null;
  Result?: string | null;
  TaskScheduledId?: number;
  TimerId?: number;
  FireAt?: string;
  Reason?: string;
  Details?: string;
  OrchestrationStatus?: number;
  /** Host bookkeeping, ignored by the SDK: which message produced this event (de-duplication). */
  MessageId?: string;
}

export function event(type: EventType, at: Date, fields: Partial<HistoryEvent> = {}): HistoryEvent {
  return { EventType: type, EventId: -1, IsPlayed: false, Timestamp: at.toISOString(), ...fields };
}

/** Runtime statuses, with the numeric values of OrchestrationRuntimeStatus. */
export const RuntimeStatus = {
  Running: 'Running',
  Completed: 'Completed',
  ContinuedAsNew: 'ContinuedAsNew',
  Failed: 'Failed',
  Canceled: 'Canceled',
  Terminated: 'Terminated',
  Pending: 'Pending',
  Suspended: 'Suspended',
} as const;
export type RuntimeStatus = (typeof RuntimeStatus)[keyof typeof RuntimeStatus];

export const RuntimeStatusCode: Record<RuntimeStatus, number> = {
  Running: 0,
  Completed: 1,
  ContinuedAsNew: 2,
  Failed: 3,
  Canceled: 4,
  Terminated: 5,
  Pending: 6,
  Suspended: 7,
};

export function isTerminal(status: RuntimeStatus): boolean {
  return (
    status === RuntimeStatus.Completed ||
    status === RuntimeStatus.Failed ||
    status === RuntimeStatus.Terminated ||
    status === RuntimeStatus.Canceled
  );
}

/** JSON text as Durable stores it (`undefined` becomes `null`). */
export function toJsonText(value: unknown): string {
  // JSON.stringify returns undefined for undefined, although its typings say string.
  return value === undefined ? 'null' : JSON.stringify(value);
}

export function parseJsonText(text: string | null | undefined): unknown {
  if (text === null || text === undefined || text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
