/**
 * Vitest global setup: one Azurite (in memory) for every test file that only needs storage. Each
 * file still gets its own tables and containers (a unique ZSA_TABLE_PREFIX), so files never see each
 * other's data; tests about Azurite itself (outages, restarts, kill -9) start their own.
 *
 * Starting Azurite costs over a second of CPU; done once instead of in every file, it is most of the
 * saving that keeps `npm test` within its budget on a 2-core machine.
 */
import type { TestProject } from 'vitest/node';
import { startAzurite } from '@zsa/local-host';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Connection string of the suite's shared Azurite. */
    sharedAzurite: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const azurite = await startAzurite({ log: () => undefined });
  project.provide('sharedAzurite', azurite.connectionString);
  return () => azurite.close();
}
