/**
 * Storage that can go away and come back: Azurite on a data folder behind one fault proxy per
 * service. A host pointed at `connectionString` keeps the same endpoints for its whole life, while
 * `outage` stops Azurite (gracefully, so it flushes), keeps the endpoints resetting connections for
 * a while, and starts Azurite again on the same folder: the host sees storage fail and return with
 * the data it had.
 */
import { connectionStringFor, startAzurite, type RunningAzurite } from '@zsa/local-host';
import { startFaultProxy, type FaultProxy } from './fault-proxy';

export interface FlakyStorage {
  /** Points at the proxies; stays valid across outages. */
  readonly connectionString: string;
  /**
   * Storage unavailable for about `ms` (at least as long as Azurite takes to stop and start). Resolves
   * once it is back, with when it went away and when it returned.
   */
  outage(ms: number): Promise<{ from: number; to: number }>;
  close(): Promise<void>;
}

const SERVICES = ['blob', 'queue', 'table'] as const;

export async function startFlakyStorage(location: string): Promise<FlakyStorage> {
  const start = () => startAzurite({ location, log: () => undefined });
  let azurite: RunningAzurite = await start();
  const proxies = {} as Record<(typeof SERVICES)[number], FaultProxy>;
  for (const service of SERVICES) proxies[service] = await startFaultProxy(azurite.ports[service]);
  const each = (f: (p: FaultProxy) => void) => SERVICES.forEach((s) => f(proxies[s]));
  return {
    connectionString: connectionStringFor({
      blob: proxies.blob.port,
      queue: proxies.queue.port,
      table: proxies.table.port,
    }),
    async outage(ms) {
      const from = Date.now();
      each((p) => p.cut());
      await azurite.close();
      azurite = await start();
      const restarted = azurite;
      SERVICES.forEach((s) => proxies[s].retarget(restarted.ports[s]));
      const rest = from + ms - Date.now();
      if (rest > 0) await new Promise((r) => setTimeout(r, rest));
      each((p) => p.restore());
      return { from, to: Date.now() };
    },
    async close() {
      await Promise.all(SERVICES.map((s) => proxies[s].close()));
      await azurite.close();
    },
  };
}
