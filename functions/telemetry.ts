import { app } from '@azure/functions';
import { context, propagation } from '@opentelemetry/api';
import type { Telemetry } from '#shared/telemetry/setup';
import { TelemetrySettings, telemetryTargets } from '#shared/telemetry/settings';

/**
 * Telemetry for the whole worker (shared/telemetry/setup.ts), started once at app start, after the
 * worker loaded every entry point and before any invocation. Turned off (`ZSA_TELEMETRY=off`) or
 * with nowhere to send it, the SDK is not even loaded and the API calls in the stories are no-ops.
 */
let telemetry: Telemetry | undefined;

app.hook.appStart(async () => {
  const settings = TelemetrySettings.safeParse(process.env);
  // A wrong telemetry setting is named by the settings check of the first call (shared/config.ts);
  // it never stops the app.
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
  const traceContext = invocation.invocationContext.traceContext;
  if (telemetry === undefined || !traceContext?.traceParent) return;
  const parent = propagation.extract(context.active(), {
    traceparent: traceContext.traceParent,
    ...(traceContext.traceState ? { tracestate: traceContext.traceState } : {}),
  });
  invocation.functionHandler = context.bind(parent, invocation.functionHandler);
});

/** What is buffered is exported before the worker goes away. */
app.hook.appTerminate(async () => {
  await telemetry?.shutdown();
  telemetry = undefined;
});
