/**
 * A TCP proxy that adds a fixed delay each way, to model a cloud region on loopback: with
 * `oneWayMs = rtt / 2`, every request–answer exchange through it costs one round trip more than on
 * loopback, whatever the protocol (HTTP for storage and webhooks, AMQP for Service Bus).
 *
 * Bytes keep their order: each chunk is forwarded `oneWayMs` after it arrived, and Node fires timers
 * of equal duration in the order they were set. Connection set-up itself is not delayed (clients
 * keep connections open, as they do in Azure), and nothing is throttled.
 *
 * It also counts what passes: for HTTP upstreams (storage, webhooks), each request line that starts a
 * chunk from the client is one request (clients do not pipeline, so a request always starts a
 * chunk), recorded with its method and path so a bench can tell reads from writes and tables apart,
 * and with when it was sent and answered, so a bench can tell how many of them ran one after another
 * (`sequentialDepth`).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface ProxiedRequest {
  method: string;
  path: string;
  /** When the request line reached the proxy, and when the first byte of its answer did (ms). */
  sentAt: number;
  answeredAt?: number;
}

export interface LatencyProxy {
  /** Loopback port clients connect to. */
  port: number;
  /** Requests seen so far (HTTP upstreams only), oldest first, while recording. */
  readonly requests: readonly ProxiedRequest[];
  /** Requests seen in all, recorded or not. */
  readonly count: number;
  /** Stops (or resumes) keeping each request: a long load would otherwise grow this process's heap. */
  setRecording(on: boolean): void;
  /** Bytes forwarded each way. */
  readonly bytes: { up: number; down: number };
  /** Changes the delay for data that arrives from now on (0 = plain loopback). */
  setDelay(oneWayMs: number): void;
  close(): Promise<void>;
}

const REQUEST_LINE = /^(GET|HEAD|POST|PUT|PATCH|MERGE|DELETE|OPTIONS) (\S+) HTTP\/1\.[01]\r\n/;

export async function startLatencyProxy(options: {
  upstreamPort: number;
  oneWayMs: number;
  upstreamHost?: string;
}): Promise<LatencyProxy> {
  let delay = options.oneWayMs;
  let recording = true;
  let count = 0;
  const requests: ProxiedRequest[] = [];
  const bytes = { up: 0, down: 0 };
  const sockets = new Set<Socket>();

  /** Forwards `from` → `to` after the delay, keeping order; ends and errors follow the data. */
  const pipeDelayed = (from: Socket, to: Socket, up: boolean, open: { request?: ProxiedRequest }) => {
    const later = (fn: () => void) => {
      if (delay <= 0) fn();
      else setTimeout(fn, delay);
    };
    from.on('data', (chunk: Buffer) => {
      if (up) {
        bytes.up += chunk.length;
        const m = REQUEST_LINE.exec(chunk.subarray(0, 2048).toString('latin1'));
        if (m) {
          count += 1;
          const request: ProxiedRequest = { method: m[1] ?? '', path: m[2] ?? '', sentAt: performance.now() };
          if (recording) requests.push(request);
          open.request = request;
        }
      } else {
        bytes.down += chunk.length;
        // One request at a time per connection: the first answer bytes after it are its answer.
        if (open.request) {
          open.request.answeredAt = performance.now();
          open.request = undefined;
        }
      }
      later(() => {
        if (!to.destroyed) to.write(chunk);
      });
    });
    from.on('end', () => later(() => to.end()));
    from.on('error', () => later(() => to.destroy()));
    from.on('close', () => later(() => to.destroy()));
  };

  const server: Server = createServer((client) => {
    client.setNoDelay(true);
    const upstream = connect({ host: options.upstreamHost ?? '127.0.0.1', port: options.upstreamPort });
    upstream.setNoDelay(true);
    sockets.add(client);
    sockets.add(upstream);
    client.on('close', () => sockets.delete(client));
    upstream.on('close', () => sockets.delete(upstream));
    const open: { request?: ProxiedRequest } = {};
    pipeDelayed(client, upstream, true, open);
    pipeDelayed(upstream, client, false, open);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    requests,
    get count() {
      return count;
    },
    bytes,
    setRecording(on) {
      recording = on;
    },
    setDelay(oneWayMs) {
      delay = oneWayMs;
    },
    async close() {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

/**
 * How many of `requests` ran one after another: the largest number of them whose send→answer
 * intervals do not overlap (earliest answer first). Requests that depend on each other cannot
 * overlap, so this counts the round trips on the longest sequential chain among them; requests made
 * side by side count once.
 */
export function sequentialDepth(requests: readonly ProxiedRequest[]): number {
  const done = requests
    .filter((r): r is ProxiedRequest & { answeredAt: number } => r.answeredAt !== undefined)
    .sort((a, b) => a.answeredAt - b.answeredAt);
  let depth = 0;
  let free = -Infinity;
  for (const r of done) {
    if (r.sentAt >= free) {
      depth += 1;
      free = r.answeredAt;
    }
  }
  return depth;
}
