/**
 * Spans through the OpenTelemetry API only: without a started SDK (`ZSA_TELEMETRY=off`, or no
 * exporter configured) every call here is a no-op, so the stories never ask whether telemetry is on.
 * The SDK is started by ./setup.ts, once per process.
 */
import { context, propagation, ROOT_CONTEXT, SpanStatusCode, trace, type Context } from '@opentelemetry/api';
import { isDomainError } from '#shared/domain/errors';
import { Attr, type AttrKey, type ZsaAttributes } from './names';

/** The instrumentation scope every ZSA span and metric carries. */
export const SCOPE = 'zsa';

/** What a story may do with its span: add ZSA's own attributes, nothing else. */
export interface StorySpan {
  set(attributes: ZsaAttributes): void;
}

/**
 * What an error says on a span: its code (`NOT_AN_APPROVER`) or its class, never its message, which
 * may quote input.
 */
function errorLabel(error: unknown): string {
  if (isDomainError(error)) return error.code;
  return error instanceof Error ? error.name : 'error';
}

/** The attributes that have a value (a story may pass an optional one, e.g. a request's task). */
function defined(attributes: ZsaAttributes): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const key of Object.keys(attributes) as AttrKey[]) {
    const value = attributes[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/**
 * Runs `work` in a span named `name`, a child of the active span (or of `parent`, a context carried
 * from elsewhere: see `contextOf`). A thrown error marks the span as failed with its code, and as
 * `zsa.outcome` `refused` (a domain rule said no) or `failed`, unless the story set an outcome.
 */
export async function inSpan<T>(
  name: string,
  attributes: ZsaAttributes,
  work: (span: StorySpan) => Promise<T>,
  parent: Context = context.active(),
): Promise<T> {
  const initial = defined(attributes);
  return trace.getTracer(SCOPE).startActiveSpan(name, { attributes: initial }, parent, async (span) => {
    let outcomeSet = initial[Attr.Outcome] !== undefined;
    const story: StorySpan = {
      set(more) {
        const values = defined(more);
        outcomeSet ||= values[Attr.Outcome] !== undefined;
        span.setAttributes(values);
      },
    };
    try {
      return await work(story);
    } catch (e) {
      const refused = isDomainError(e) && e.kind !== 'unavailable';
      span.setStatus({ code: SpanStatusCode.ERROR, message: errorLabel(e) });
      if (!outcomeSet) span.setAttribute(Attr.Outcome, refused ? 'refused' : 'failed');
      throw e;
    } finally {
      span.end();
    }
  });
}

/** Set by ./setup.ts while the SDK runs in this process. */
let sdkStarted = false;

/** Records that the SDK started (true) or shut down (false); only ./setup.ts calls it. */
export function markTelemetryStarted(started: boolean): void {
  sdkStarted = started;
}

/**
 * Whether the SDK runs in this process, for work done only to measure (a metric's extra read).
 * Not the active span's `isRecording()`: a sampler may drop the trace, and metrics are never
 * sampled.
 */
export function telemetryStarted(): boolean {
  return sdkStarted;
}

/** The W3C `traceparent` of the active span, to carry it where context does not flow (an orchestration's input). */
export function currentTraceparent(): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier['traceparent'];
}

/** The W3C trace headers of the active span, for an outgoing call (the webhook executor). */
export function traceHeaders(): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}

/** The context a carried `traceparent` names (the active one when there is none), for `inSpan`'s parent. */
export function contextOf(traceparent: string | undefined): Context {
  if (traceparent === undefined) return context.active();
  return propagation.extract(ROOT_CONTEXT, { traceparent });
}
