/**
 * The invocation hook's wrapper (functions/telemetry.ts `tracedHandler`): in Azure the Functions
 * host hands each invocation its W3C trace context, and ZSA's spans must be its children; a timer's
 * run is its own `zsa.timer.<function>` span; without a host context ZSA's spans are the roots.
 */
import { InvocationContext } from '@azure/functions';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SpanName } from '#shared/telemetry/names';
import { startTelemetry, type Telemetry } from '#shared/telemetry/setup';
import { inSpan } from '#shared/telemetry/spans';
import { tracedHandler } from '../../../functions/telemetry';

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const HOST_SPAN = 'b7ad6b7169203331';
const HOST = `00-${TRACE}-${HOST_SPAN}-01`;

const spans = new InMemorySpanExporter();
let telemetry: Telemetry;

beforeAll(() => {
  telemetry = startTelemetry({
    serviceName: 'zsa-unit',
    spanProcessors: [new SimpleSpanProcessor(spans)],
    metricReaders: [],
  });
});
beforeEach(() => spans.reset());
afterAll(() => telemetry.shutdown());

function invocation(type: string, traceParent: string | undefined): InvocationContext {
  return new InvocationContext({
    functionName: 'someFunction',
    ...(traceParent ? { traceContext: { traceParent, traceState: 'zsa=1', attributes: {} } } : {}),
    options: { trigger: { type, name: 'trigger' }, extraInputs: [], extraOutputs: [] },
  });
}

/** A handler that traces itself, as the HTTP and queue stories do. */
const story = () => inSpan(SpanName.Submit, {}, () => Promise.resolve('done'));

describe('tracedHandler', () => {
  it.each([
    ['a timer, with a host context', 'timerTrigger', HOST, [SpanName.timer('someFunction'), HOST_SPAN]],
    ['an HTTP call, with a host context', 'httpTrigger', HOST, [SpanName.Submit, HOST_SPAN]],
    ['a timer, without one', 'timerTrigger', undefined, [SpanName.timer('someFunction'), undefined]],
    ['an HTTP call, without one', 'httpTrigger', undefined, [SpanName.Submit, undefined]],
  ] as const)('%s: the outermost ZSA span and its parent', async (_name, type, traceParent, expected) => {
    // Arrange
    const context = invocation(type, traceParent);

    // Act
    const answer = await tracedHandler(context, story)();

    // Assess: the timer's span wraps the story's; the outermost one's parent is the host's span.
    expect(answer).toBe('done');
    const finished = spans.getFinishedSpans();
    const outermost = finished.at(-1);
    expect([outermost?.name, outermost?.parentSpanContext?.spanId]).toEqual(expected);
    if (traceParent) expect(finished.every((s) => s.spanContext().traceId === TRACE)).toBe(true);
    expect(finished.map((s) => s.name)).toEqual(
      type === 'timerTrigger' ? [SpanName.Submit, SpanName.timer('someFunction')] : [SpanName.Submit],
    );
  });

  it("marks a timer's failed run on its span and still throws", async () => {
    // Arrange
    const failing = () => Promise.reject(new Error('storage down'));

    // Act
    const run = tracedHandler(invocation('timerTrigger', HOST), failing)();

    // Assess
    await expect(run).rejects.toThrow('storage down');
    const [timer] = spans.getFinishedSpans();
    expect(timer?.name).toBe(SpanName.timer('someFunction'));
    expect(timer?.status.code).toBe(2);
  });
});
