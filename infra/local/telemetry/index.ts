/** The OTLP/HTTP JSON receiver with its page and JSON API. */
export { createTelemetryReceiver, type TelemetryReceiver, type TelemetryReceiverOptions } from './receiver';
export type { AttributeValue, Attributes, MetricPoint, ReceivedLog, ReceivedSpan } from './otlp';
export { DEFAULT_LIMITS, type TelemetryLimits, type TraceSummary } from './store';
export { TELEMETRY_PATH } from './pages';
