/**
 * A real webhook executor on loopback: it verifies ZSA's HMAC signature exactly as a receiver
 * should (timestamp + raw body), records every execution and answers like a runbook webhook.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';

export interface ReceivedExecution {
  body: Record<string, unknown>;
  signatureValid: boolean;
  receivedAt: number;
  /** The W3C `traceparent` header the call carried (telemetry on), if any. */
  traceparent?: string;
}

export interface WebhookTarget {
  url: string;
  received: ReceivedExecution[];
  /** Makes the next answers fail with this status (0 = succeed again). */
  failWith(status: number): void;
  /** Makes the next answers come this many milliseconds late (0 = at once again). */
  delayBy(ms: number): void;
  close(): Promise<void>;
}

export function verifySignature(
  header: string | undefined,
  rawBody: string,
  key: string,
  toleranceSeconds = 300,
): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!m?.[1] || !m[2]) return false;
  if (Math.abs(Date.now() / 1000 - Number(m[1])) > toleranceSeconds) return false;
  const expected = createHmac('sha256', key).update(`${m[1]}.${rawBody}`).digest();
  const given = Buffer.from(m[2], 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export async function startWebhookTarget(key: string): Promise<WebhookTarget> {
  const received: ReceivedExecution[] = [];
  let failStatus = 0;
  let delayMs = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const header = req.headers['x-zsa-signature'];
      const signatureValid = verifySignature(typeof header === 'string' ? header : undefined, raw, key);
      const traceparent = req.headers.traceparent;
      received.push({
        body: JSON.parse(raw) as Record<string, unknown>,
        signatureValid,
        receivedAt: Date.now(),
        ...(typeof traceparent === 'string' ? { traceparent } : {}),
      });
      if (!signatureValid) {
        res.writeHead(401).end('bad signature');
        return;
      }
      if (failStatus) {
        res.writeHead(failStatus, { 'content-type': 'text/plain' }).end('runbook failed');
        return;
      }
      const answer = () => {
        if (res.destroyed) return;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: true, ran: (JSON.parse(raw) as { task: string }).task }));
      };
      if (delayMs > 0) setTimeout(answer, delayMs);
      else answer();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/hooks/run`,
    received,
    failWith: (status) => {
      failStatus = status;
    },
    delayBy: (ms) => {
      delayMs = ms;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
