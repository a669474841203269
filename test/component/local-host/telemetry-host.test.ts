/**
 * The local telemetry path end to end, as `npm start` runs it: the compiled app in the local host
 * (one host, on the suite's shared Azurite), its launcher pointing OTEL_EXPORTER_OTLP_ENDPOINT at the
 * host's own receiver, the app's OpenTelemetry SDK exporting a story's span and metric over real
 * HTTP, and /dev/telemetry showing them. The exports are made frequent so nothing waits on defaults.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MetricPoint, ReceivedSpan } from '@zsa/local-host';
import { caller, send } from '../../support/api';
import { startLocalHost, type HostProcess } from '../../support/local-host';

let host: HostProcess;

beforeAll(async () => {
  host = await startLocalHost({
    storage: 'shared',
    env: { OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_METRIC_EXPORT_INTERVAL: '500' },
  });
});

afterAll(async () => {
  await host.stop();
});

/** Polls `path` until `found` holds for its answer (the exports are asynchronous). */
async function eventually<T>(path: string, found: (body: T) => boolean): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const res = await send<T>(`${host.url}${path}`, {});
    if (res.status === 200 && found(res.body)) return res.body;
    if (Date.now() > deadline)
      throw new Error(`${path} never matched; last answer: ${res.text.slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the local host receives the app’s telemetry', () => {
  it('shows the span and the metric of a refused execution on /dev/telemetry', async () => {
    // Arrange
    const alice = await caller(host.url, 'alice@contoso.com');
    const requestId = randomUUID();

    // Act: an execution without a grant, refused by the guard.
    const refused = await alice.post('/api/execute', { task: 'Restart-Service', requestId });
    const spans = await eventually<ReceivedSpan[]>('/dev/telemetry/spans?name=zsa.execute', (s) =>
      s.some((span) => span.attributes['zsa.request.id'] === requestId),
    );
    const points = await eventually<MetricPoint[]>('/dev/telemetry/metrics?name=zsa.executions', (p) =>
      p.some((point) => point.attributes['zsa.outcome'] === 'refused'),
    );
    const page = await send<string>(`${host.url}/dev/telemetry`, {});

    // Assert
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(refused.status).toBeLessThan(500);
    const span = spans.find((s) => s.attributes['zsa.request.id'] === requestId);
    expect(span).toMatchObject({ service: 'zsa', attributes: { 'zsa.outcome': 'refused' } });
    expect(points.find((p) => p.attributes['zsa.outcome'] === 'refused')?.value).toBeGreaterThanOrEqual(1);
    expect(page.text).toContain('zsa.execute');
    expect(host.output()).toMatch(/Telemetry\s+http:\/\/127\.0\.0\.1:\d+\/dev\/telemetry/);
  });
});
