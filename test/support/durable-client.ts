/**
 * A real `durable-functions` DurableClient pointed at a running local host, built through the
 * library's own `getClient` from an InvocationContext (the supported test seam).
 */
import { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { clientBindingData } from '@zsa/local-host/durable';

export function durableClientFor(hostUrl: string, hub: string): df.DurableClient {
  const binding = df.input.durableClient();
  const context = new InvocationContext({ options: { extraInputs: [binding] } });
  // The same binding value the local host hands to the app's client functions.
  context.extraInputs.set(binding, clientBindingData(hostUrl, hub));
  process.env.WEBSITE_HOSTNAME = new URL(hostUrl).host;
  return df.getClient(context);
}

/** Polls until the instance reaches one of the statuses (or throws after the timeout). */
export async function waitForStatus(
  client: df.DurableClient,
  id: string,
  statuses: string[],
  timeoutMs = 15_000,
): Promise<df.DurableOrchestrationStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await client.getStatus(id, { showHistory: true, showHistoryOutput: true });
    if (statuses.includes(s.runtimeStatus)) return s;
    if (Date.now() > deadline)
      throw new Error(`Instance ${id} is ${s.runtimeStatus}, expected ${statuses.join('|')}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
