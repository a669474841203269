/**
 * Where telemetry goes, as the settings say: nowhere when turned off or when no exporter is
 * configured (the SDK is then not even loaded), Application Insights, an OTLP collector, or both;
 * and the settings' own checks (only OTLP/HTTP JSON; a URL).
 */
import { AzureMonitorMetricExporter, AzureMonitorTraceExporter } from '@azure/monitor-opentelemetry-exporter';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { describe, expect, it } from 'vitest';
import { startupProblems } from '#shared/app/startup-guard';
import { TelemetrySettings, telemetryTargets } from '#shared/telemetry/settings';
import { exportersFor } from '#shared/telemetry/setup';

const APP_INSIGHTS =
  'InstrumentationKey=00000000-0000-0000-0000-000000000002;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/';
const COLLECTOR = 'http://127.0.0.1:4318';

describe('telemetryTargets', () => {
  it.each([
    ['nothing configured', {}, undefined],
    [
      'off, even with both configured',
      {
        ZSA_TELEMETRY: 'off',
        APPLICATIONINSIGHTS_CONNECTION_STRING: APP_INSIGHTS,
        OTEL_EXPORTER_OTLP_ENDPOINT: COLLECTOR,
      },
      undefined,
    ],
    [
      'Application Insights',
      { APPLICATIONINSIGHTS_CONNECTION_STRING: APP_INSIGHTS },
      { azureMonitor: true, otlp: false },
    ],
    ['a collector', { OTEL_EXPORTER_OTLP_ENDPOINT: COLLECTOR }, { azureMonitor: false, otlp: true }],
    [
      'both',
      {
        ZSA_TELEMETRY: 'on',
        APPLICATIONINSIGHTS_CONNECTION_STRING: APP_INSIGHTS,
        OTEL_EXPORTER_OTLP_ENDPOINT: COLLECTOR,
      },
      { azureMonitor: true, otlp: true },
    ],
    ['an empty endpoint (as Bicep may set it)', { OTEL_EXPORTER_OTLP_ENDPOINT: ' ' }, undefined],
  ])('%s', (_name, env, expected) => {
    // Act
    const targets = telemetryTargets(TelemetrySettings.parse(env));

    // Assess
    expect(targets).toEqual(expected);
  });
});

describe('TelemetrySettings', () => {
  it('defaults: on, OTLP/HTTP JSON, service zsa, metrics every minute', () => {
    // Act
    const s = TelemetrySettings.parse({});

    // Assess
    expect(s).toMatchObject({
      ZSA_TELEMETRY: 'on',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'zsa',
      OTEL_METRIC_EXPORT_INTERVAL: 60_000,
    });
  });

  it.each([
    ['OTEL_EXPORTER_OTLP_PROTOCOL', 'grpc', 'only http/json'],
    ['OTEL_EXPORTER_OTLP_PROTOCOL', 'http/protobuf', 'only http/json'],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'collector:4318', 'http(s) URL'],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'not a url', 'http(s) URL'],
    ['ZSA_TELEMETRY', 'yes', 'ZSA_TELEMETRY'],
    ['OTEL_METRIC_EXPORT_INTERVAL', '0', 'positive whole number'],
  ])('refuses %s=%s, naming why', (name, value, why) => {
    // Act
    const parsed = TelemetrySettings.safeParse({ [name]: value });

    // Assess
    expect(parsed.success).toBe(false);
    const message = parsed.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') ?? '';
    expect(message).toContain(name);
    expect(message).toContain(why);
  });
});

describe('exportersFor', () => {
  it('exports to Application Insights and to the collector at its /v1/<signal> paths', () => {
    // Act
    const exporters = exportersFor(
      TelemetrySettings.parse({
        APPLICATIONINSIGHTS_CONNECTION_STRING: APP_INSIGHTS,
        OTEL_EXPORTER_OTLP_ENDPOINT: `${COLLECTOR}/`,
        AzureWebJobsStorage__clientId: '00000000-0000-0000-0000-000000000001',
      }),
    );

    // Assess
    expect(exporters.spans.map((e) => e.constructor)).toEqual([AzureMonitorTraceExporter, OTLPTraceExporter]);
    expect(exporters.metrics.map((e) => e.constructor)).toEqual([
      AzureMonitorMetricExporter,
      OTLPMetricExporter,
    ]);
  });

  it('makes none when telemetry is off', () => {
    // Act
    const exporters = exportersFor(
      TelemetrySettings.parse({ ZSA_TELEMETRY: 'off', OTEL_EXPORTER_OTLP_ENDPOINT: COLLECTOR }),
    );

    // Assess
    expect(exporters).toEqual({ spans: [], metrics: [] });
  });
});

describe('the OTLP endpoint in Azure (the start-up guard)', () => {
  const refusal = 'OTEL_EXPORTER_OTLP_ENDPOINT must be an https URL in Azure';
  it.each([
    ['https to a collector', true, 'https://otel.contoso.net:4318', false],
    ['http to a loopback collector (a sidecar)', true, 'http://127.0.0.1:4318', false],
    ['http to localhost', true, 'http://localhost:4318', false],
    ['http to another host', true, 'http://otel.contoso.net:4318', true],
    [
      'http to another host, outside Azure (the local host, tests)',
      false,
      'http://otel.contoso.net:4318',
      false,
    ],
  ])('%s (in Azure: %s, %s) → refused: %s', (_name, azure, endpoint, refused) => {
    // Arrange: only the endpoint and the platform's marker differ.
    const env = {
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      ...(azure ? { WEBSITE_SITE_NAME: 'func-zsa' } : {}),
    };

    // Act
    const problems = startupProblems(env);

    // Assess
    expect(problems.some((p) => p.startsWith(refusal))).toBe(refused);
  });
});
