/**
 * Measures send → receive latency through the real SDK, the way a Service Bus trigger sees it:
 * a streaming peek-lock receiver (`subscribe`), one message at a time. Used by tests and benches.
 */
import { performance } from 'node:perf_hooks';
import { ServiceBusClient } from '@azure/service-bus';

export interface RoundTrip {
  count: number;
  medianMs: number;
  p95Ms: number;
  maxMs: number;
}

/** Sends `count` messages to `queue` one after another, timing each until the receiver has it. */
export async function measureRoundTrip(
  connectionString: string,
  queue: string,
  count = 50,
): Promise<RoundTrip> {
  const client = new ServiceBusClient(connectionString);
  try {
    const sender = client.createSender(queue);
    const receiver = client.createReceiver(queue);
    let arrived: ((seq: number) => void) | undefined;
    const subscription = receiver.subscribe(
      {
        processMessage: (m) => {
          arrived?.(typeof m.body === 'number' ? m.body : -1);
          return Promise.resolve();
        },
        processError: () => Promise.resolve(),
      },
      { maxConcurrentCalls: 1 },
    );
    const timings: number[] = [];
    // Message -1 opens the links (CBS, attach) outside the measurement.
    for (let i = -1; i < count; i++) {
      const received = new Promise<void>((resolve) => {
        arrived = (n) => {
          if (n === i) resolve();
        };
      });
      const started = performance.now();
      await sender.sendMessages({ body: i });
      await received;
      if (i >= 0) timings.push(performance.now() - started);
    }
    await subscription.close();
    await receiver.close();
    await sender.close();
    timings.sort((a, b) => a - b);
    const at = (q: number): number =>
      timings[Math.min(timings.length - 1, Math.floor(q * timings.length))] ?? 0;
    return { count, medianMs: at(0.5), p95Ms: at(0.95), maxMs: at(1) };
  } finally {
    await client.close();
  }
}
