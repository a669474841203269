/**
 * The local host as the cloud and load benches run it: its storage (Azurite's table, blob and queue
 * endpoints), its Service Bus endpoint and the webhook target each behind a latency proxy
 * (./latency-proxy.ts), so a bench can add a round trip to every call the app makes to them and
 * count the storage requests a story causes. With delay 0 the proxies only count.
 *
 * Also sets up what the stories need: an approver group, PAM enabled, and two webhook tasks — one
 * needing an approval (`Bench\Manual`), one approved by policy (`Bench\Auto`).
 */
import { connectionStringFor, startAzurite, startHost, type RunningHost } from '@zsa/local-host';
import { startServiceBus } from '@zsa/local-host/servicebus';
import { benchHostOptions, setUpBench } from './host-options';
import { caller, type Caller } from '../support/api';
import { startWebhookTarget, type WebhookTarget } from '../support/webhook-target';
import { sequentialDepth, startLatencyProxy, type LatencyProxy, type ProxiedRequest } from './latency-proxy';

export const BENCH_KEY = 'bench-signing-key';
export const MANUAL = 'Bench\\Manual';
export const AUTO = 'Bench\\Auto';
export const APPROVER = 'approver@contoso.com';

/** Storage requests, summed by kind: point reads, queries, inserts, updates, batches, deletes. */
export interface OpCount {
  total: number;
  /** Of those, how many ran one after another (`sequentialDepth`). */
  depth: number;
  reads: number;
  writes: number;
  byTable: Record<string, number>;
}

export interface CloudHost {
  host: RunningHost;
  hook: WebhookTarget;
  /** The webhook target's URL through its proxy (what the tasks call). */
  hookUrl: string;
  /** The storage connection string through the proxies (what the app uses). */
  storage: string;
  admin: Caller;
  approver: Caller;
  /** Whether the storage proxies keep each request (for `mark`); they count them regardless. */
  setRecording(on: boolean): void;
  /** Sets the one-way delay on every proxy (storage, Service Bus, webhook). */
  setRtt(rttMs: number): void;
  /** Storage requests since the mark was taken. */
  mark(): () => ProxiedRequest[];
  /** Resolves once no storage request has passed for `quietMs` (or after `maxMs`). */
  quiet(quietMs?: number, maxMs?: number): Promise<void>;
  storageRequests(): number;
  close(): Promise<void>;
}

function tableOf(path: string): string {
  // /devstoreaccount1/<table>(PartitionKey='…',RowKey='…')?… or /devstoreaccount1/<table>()?…
  const name = /^\/[^/]+\/([^/(?]+)/.exec(path)?.[1] ?? '?';
  return name;
}

export function countOps(requests: readonly ProxiedRequest[]): OpCount {
  const byTable: Record<string, number> = {};
  let reads = 0;
  for (const r of requests) {
    const table = tableOf(r.path);
    byTable[table] = (byTable[table] ?? 0) + 1;
    if (r.method === 'GET' || r.method === 'HEAD') reads += 1;
  }
  return {
    total: requests.length,
    depth: sequentialDepth(requests),
    reads,
    writes: requests.length - reads,
    byTable,
  };
}

export async function startCloudHost(options: {
  rttMs: number;
  env?: Record<string, string>;
}): Promise<CloudHost> {
  const oneWay = options.rttMs / 2;
  const azurite = await startAzurite({ log: () => undefined });
  const storageProxies: LatencyProxy[] = [];
  for (const port of [azurite.ports.blob, azurite.ports.queue, azurite.ports.table])
    storageProxies.push(await startLatencyProxy({ upstreamPort: port, oneWayMs: oneWay }));
  const [blob, queue, table] = storageProxies;
  if (!blob || !queue || !table) throw new Error('storage proxies did not start');
  const storage = connectionStringFor({ blob: blob.port, queue: queue.port, table: table.port });

  const bus = await startServiceBus({ entities: [], autoCreateQueues: true });
  const busProxy = await startLatencyProxy({ upstreamPort: bus.port, oneWayMs: oneWay });
  const busConnection = bus.connectionString.replace(`:${bus.port};`, `:${busProxy.port};`);
  if (busConnection === bus.connectionString) throw new Error('cannot point Service Bus at its proxy');

  const hook = await startWebhookTarget(BENCH_KEY);
  const hookPort = Number(new URL(hook.url).port);
  const hookProxy = await startLatencyProxy({ upstreamPort: hookPort, oneWayMs: oneWay });
  const hookUrl = hook.url.replace(`:${hookPort}`, `:${hookProxy.port}`);
  const proxies = [...storageProxies, busProxy, hookProxy];

  const host = await startHost({
    ...benchHostOptions(BENCH_KEY, {
      AzureWebJobsStorage: storage,
      ServiceBusConnection: busConnection,
      ...options.env,
    }),
    log: () => undefined,
  });
  const close = async () => {
    await host.close();
    for (const p of proxies) await p.close();
    await hook.close();
    await bus.close();
    await azurite.close();
  };
  try {
    const admin = await caller(host.url, 'admin@contoso.com', ['PAM.Admin']);
    await setUpBench(admin, {
      approver: APPROVER,
      webhookUrl: hookUrl,
      tasks: [
        [MANUAL, 'manual'],
        [AUTO, 'auto'],
      ],
    });
    const approver = await caller(host.url, APPROVER);
    const storageRequests = () => storageProxies.reduce((sum, p) => sum + p.count, 0);
    return {
      host,
      hook,
      hookUrl,
      storage,
      admin,
      approver,
      setRecording(on) {
        for (const p of storageProxies) p.setRecording(on);
      },
      setRtt(rttMs) {
        for (const p of proxies) p.setDelay(rttMs / 2);
      },
      mark() {
        const from = storageProxies.map((p) => p.requests.length);
        return () => storageProxies.flatMap((p, i) => p.requests.slice(from[i]));
      },
      async quiet(quietMs = 300, maxMs = 5000) {
        const deadline = Date.now() + maxMs;
        let last = storageRequests();
        let since = Date.now();
        while (Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 25));
          const n = storageRequests();
          if (n !== last) {
            last = n;
            since = Date.now();
          } else if (Date.now() - since >= quietMs) return;
        }
      },
      storageRequests,
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
