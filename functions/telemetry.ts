import { app, type InvocationContext } from '@azure/functions';
import { context, propagation } from '@opentelemetry/api';
import { SpanName } from '#shared/telemetry/names';
import type { Telemetry } from '#shared/telemetry/setup';
import { TelemetrySettings, telemetryTargets } from '#shared/telemetry/settings';
import { inSpan } from '#shared/telemetry/spans';

/**
 * Telemetry for the whole worker (shared/telemetry/setup.ts), started once at app start, after the
 * worker loaded every entry point and before any invocation. Turned off (`ZSA_TELEMETRY=off`) or
 * with nowhere to send it, the SDK is not even loaded and the API calls in the stories are no-ops.
 */
let telemetry: Telemetry | undefined;

app.hook.appStart(async () => {
  const settings = TelemetrySettings.safeParse(process.env);
  // With a wrong telemetry setting nothing starts here: the first call's settings check
  // (shared/config.ts) names it, as it does any setting.
  if (!settings.success || telemetryTargets(settings.data) === undefined) return;
  const { startFromSettings } = await import('#shared/telemetry/setup');
  telemetry = startFromSettings(settings.data);
});

/**
 * In Azure, the Functions host starts each invocation's span and hands its W3C context to the
 * worker: the handler runs in it, so ZSA's spans are its children (what
 * @azure/functions-opentelemetry-instrumentation does; docs/decisions/0016-telemetry.md says why
 * not that package). The local host hands none: ZSA's spans are then the roots.
 */
app.hook.preInvocation((invocation) => {
  if (telemetry === undefined) return;
  invocation.functionHandler = tracedHandler(invocation.invocationContext, invocation.functionHandler);
});

/**
 * The handler as the hook runs it: a timer's run is its own story (`zsa.timer.<function>`), the
 * others trace themselves; both in the host's trace context when it hands one. Exported for
 * test/unit/telemetry (the hook itself only runs inside the Functions worker).
 */
export function tracedHandler<H extends (...args: never[]) => unknown>(
  invocation: Pick<InvocationContext, 'traceContext' | 'functionName' | 'options'>,
  handler: H,
): H {
  const { traceContext, functionName, options } = invocation;
  const run =
    options.trigger.type === 'timerTrigger'
      ? (((...args: Parameters<H>) =>
          inSpan(SpanName.timer(functionName), {}, async () => await handler(...args))) as H)
      : handler;
  if (!traceContext?.traceParent) return run;
  const parent = propagation.extract(context.active(), {
    traceparent: traceContext.traceParent,
    ...(traceContext.traceState ? { tracestate: traceContext.traceState } : {}),
  });
  return context.bind(parent, run);
}

/** What is buffered is exported before the worker goes away. */
app.hook.appTerminate(async () => {
  await telemetry?.shutdown();
  telemetry = undefined;
});
