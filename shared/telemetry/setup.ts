/**
 * Starts the OpenTelemetry SDK for this process: traces and metrics, exported to Application
 * Insights (with the managed identity) when `APPLICATIONINSIGHTS_CONNECTION_STRING` is set, and over
 * OTLP/HTTP JSON when `OTEL_EXPORTER_OTLP_ENDPOINT` is (a collector, or the local host's
 * /dev/telemetry). Only functions/telemetry.ts (at app start) and tests call it; the stories code
 * against the API (./spans.ts, ./metrics.ts). Why these parts and not the Azure Monitor distro:
 * docs/decisions/0016-telemetry.md.
 */
import { DefaultAzureCredential } from '@azure/identity';
import { AzureMonitorMetricExporter, AzureMonitorTraceExporter } from '@azure/monitor-opentelemetry-exporter';
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  MeterProvider,
  PeriodicExportingMetricReader,
  type MetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { appVersion } from '#shared/app/version';
import { telemetryTargets, type TelemetrySettings } from './settings';
import { markTelemetryStarted } from './spans';

export interface Telemetry {
  /** Exports what is buffered now (tests; the bench). */
  flush(): Promise<void>;
  /** Exports what is buffered and unregisters the SDK, so the API is a no-op again. */
  shutdown(): Promise<void>;
}

export interface TelemetryParts {
  serviceName: string;
  spanProcessors: SpanProcessor[];
  metricReaders: MetricReader[];
}

/**
 * Registers the SDK globally with these processors and readers: W3C trace context, async context
 * across awaits, a resource naming the service and its version.
 */
export function startTelemetry(parts: TelemetryParts): Telemetry {
  const resource = resourceFromAttributes({
    'service.name': parts.serviceName,
    'service.version': appVersion(),
  });
  const tracerProvider = new BasicTracerProvider({ resource, spanProcessors: parts.spanProcessors });
  const meterProvider = new MeterProvider({ resource, readers: parts.metricReaders });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
  markTelemetryStarted(true);
  return {
    async flush() {
      await Promise.all([tracerProvider.forceFlush(), meterProvider.forceFlush()]);
    },
    async shutdown() {
      markTelemetryStarted(false);
      await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()]);
      trace.disable();
      metrics.disable();
      propagation.disable();
      context.disable();
    },
  };
}

/** The exporters the settings ask for (none when telemetry is off or goes nowhere). */
export function exportersFor(s: TelemetrySettings): { spans: SpanExporter[]; metrics: PushMetricExporter[] } {
  const targets = telemetryTargets(s);
  const spans: SpanExporter[] = [];
  const metricExporters: PushMetricExporter[] = [];
  if (targets?.azureMonitor) {
    // Local authentication is off on the Application Insights resource: Entra tokens only.
    const options = {
      connectionString: s.APPLICATIONINSIGHTS_CONNECTION_STRING,
      credential: new DefaultAzureCredential(
        s.AzureWebJobsStorage__clientId ? { managedIdentityClientId: s.AzureWebJobsStorage__clientId } : {},
      ),
    };
    spans.push(new AzureMonitorTraceExporter(options));
    metricExporters.push(new AzureMonitorMetricExporter(options));
  }
  if (targets?.otlp && s.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined) {
    // As the OTLP specification says for the base endpoint: each signal at /v1/<signal> below it.
    const base = s.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '');
    spans.push(new OTLPTraceExporter({ url: `${base}/v1/traces` }));
    metricExporters.push(new OTLPMetricExporter({ url: `${base}/v1/metrics` }));
  }
  return { spans, metrics: metricExporters };
}

/** Starts the SDK as the settings say; undefined (nothing started, the API no-ops) when they say no. */
export function startFromSettings(s: TelemetrySettings): Telemetry | undefined {
  const exporters = exportersFor(s);
  if (exporters.spans.length === 0) return undefined;
  return startTelemetry({
    serviceName: s.OTEL_SERVICE_NAME,
    spanProcessors: exporters.spans.map((exporter) => new BatchSpanProcessor(exporter)),
    metricReaders: exporters.metrics.map(
      (exporter) =>
        new PeriodicExportingMetricReader({
          exporter,
          exportIntervalMillis: s.OTEL_METRIC_EXPORT_INTERVAL,
          exportTimeoutMillis: Math.min(30_000, s.OTEL_METRIC_EXPORT_INTERVAL),
        }),
    ),
  });
}
