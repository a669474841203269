/**
 * The telemetry settings, read apart from the rest (a light module: deciding whether to start the
 * SDK loads none of it). Parsed with the app's own schema, so their meaning is in shared/config.ts.
 */
import { SettingsSchema } from '#shared/config';

export const TelemetrySettings = SettingsSchema.pick({
  ZSA_TELEMETRY: true,
  APPLICATIONINSIGHTS_CONNECTION_STRING: true,
  OTEL_EXPORTER_OTLP_ENDPOINT: true,
  OTEL_EXPORTER_OTLP_PROTOCOL: true,
  OTEL_SERVICE_NAME: true,
  OTEL_METRIC_EXPORT_INTERVAL: true,
  AzureWebJobsStorage__clientId: true,
});
export type TelemetrySettings = ReturnType<typeof TelemetrySettings.parse>;

/** Where telemetry goes, or undefined when it goes nowhere (turned off, or no exporter configured). */
export type TelemetryTargets = { azureMonitor: boolean; otlp: boolean };

export function telemetryTargets(s: TelemetrySettings): TelemetryTargets | undefined {
  if (s.ZSA_TELEMETRY === 'off') return undefined;
  const targets = {
    azureMonitor: s.APPLICATIONINSIGHTS_CONNECTION_STRING !== undefined,
    otlp: s.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined,
  };
  return targets.azureMonitor || targets.otlp ? targets : undefined;
}
