/**
 * How a request's trace context travels where context does not flow: in the orchestration's input
 * and in each activity's input. Instances started before traces (no `traceparent`) must replay with
 * exactly the inputs they had: the bare request id.
 */
import { describe, expect, it } from 'vitest';
import {
  OrchestrationInput,
  readRequestActivityInput,
  requestActivityInput,
} from '#shared/requests/orchestrations';
import { currentTraceparent, traceHeaders } from '#shared/telemetry/spans';

const ID = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('activity input', () => {
  it.each([
    ['without a trace context: the bare id, as before traces', undefined, ID],
    ['with one: the id and the context', TRACEPARENT, { requestId: ID, traceparent: TRACEPARENT }],
  ])('%s', (_name, traceparent, expected) => {
    // Act
    const input = requestActivityInput(ID, traceparent);

    // Assess
    expect(input).toEqual(expected);
    expect(readRequestActivityInput(input)).toEqual(
      traceparent ? { requestId: ID, traceparent } : { requestId: ID },
    );
  });

  it.each([[{ requestId: ID }], [{ requestId: ID, traceparent: TRACEPARENT, extra: 1 }], [''], [42]])(
    'refuses %j (a permanent fault for the workflow)',
    (input) => {
      // Act
      const read = () => readRequestActivityInput(input);

      // Assess
      expect(read).toThrow();
    },
  );
});

describe('orchestration input', () => {
  it('reads an instance started before traces, and one started with a trace context', () => {
    // Act
    const before = OrchestrationInput.parse({ requestId: ID, shape: 3 });
    const after = OrchestrationInput.parse({ requestId: ID, shape: 3, traceparent: TRACEPARENT });

    // Assess
    expect(before.traceparent).toBeUndefined();
    expect(after.traceparent).toBe(TRACEPARENT);
  });
});

describe('without the SDK', () => {
  it('carries no trace context anywhere', () => {
    // Assess
    expect(currentTraceparent()).toBeUndefined();
    expect(traceHeaders()).toEqual({});
  });
});
