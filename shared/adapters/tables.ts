/**
 * Table Storage access: one client per table, created on first use. Locally a connection string
 * (the emulator); in Azure the storage account's table endpoint with the managed identity — never a
 * shared key.
 */
import { TableClient, type TableEntityResult } from '@azure/data-tables';
import { DefaultAzureCredential } from '@azure/identity';
import { DomainError } from '#shared/domain/errors';
import type { Settings } from '#shared/config';

export interface Tables {
  /** The client for `<prefix><name>`; the table is created the first time it is asked for. */
  get(name: string): Promise<TableClient>;
}

export function createTables(settings: Settings): Tables {
  const clients = new Map<string, Promise<TableClient>>();
  const make = clientMaker(settings);
  return {
    get(name) {
      const full = `${settings.ZSA_TABLE_PREFIX}${name}`;
      let client = clients.get(full);
      if (!client) {
        client = (async () => {
          const c = make(full);
          try {
            await c.createTable();
          } catch (e) {
            clients.delete(full);
            throw unavailable(e);
          }
          return c;
        })();
        clients.set(full, client);
      }
      return client;
    },
  };
}

/**
 * Few, short retries: a caller is waiting, and a storage outage must become a prompt 503 (the
 * execution guard fails closed on it) rather than a minute of SDK back-off.
 */
const RETRY = { retryOptions: { maxRetries: 2, retryDelayInMs: 100, maxRetryDelayInMs: 1000 } };

function clientMaker(settings: Settings): (table: string) => TableClient {
  const connection = settings.AzureWebJobsStorage;
  if (connection && !/^UseDevelopmentStorage=true/i.test(connection)) {
    return (table) =>
      TableClient.fromConnectionString(connection, table, {
        ...RETRY,
        allowInsecureConnection: isLoopback(connection),
      });
  }
  const endpoint =
    settings.AzureWebJobsStorage__tableServiceUri ??
    (settings.AzureWebJobsStorage__accountName
      ? `https://${settings.AzureWebJobsStorage__accountName}.table.core.windows.net`
      : undefined);
  if (!endpoint) {
    return () => {
      throw new DomainError(
        'UNAVAILABLE',
        'Storage is not configured (set AzureWebJobsStorage__accountName).',
      );
    };
  }
  const credential = new DefaultAzureCredential(
    settings.AzureWebJobsStorage__clientId
      ? { managedIdentityClientId: settings.AzureWebJobsStorage__clientId }
      : {},
  );
  return (table) => new TableClient(endpoint, table, credential, RETRY);
}

function isLoopback(connection: string): boolean {
  return /=https?:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/i.test(connection);
}

/** The status code of a storage failure, if it has one. */
export function statusOf(error: unknown): number | undefined {
  if (typeof error === 'object' && error !== null && 'statusCode' in error) {
    const code = (error as { statusCode?: unknown }).statusCode;
    return typeof code === 'number' ? code : undefined;
  }
  return undefined;
}

/** A storage failure that is not the caller's fault: a 503 problem, cause kept for the log. */
export function unavailable(error: unknown): DomainError {
  if (error instanceof DomainError) return error;
  return new DomainError('UNAVAILABLE', 'Storage is not reachable right now; try again shortly.', {
    cause: error,
  });
}

/** Point read that answers undefined for 404. */
export async function readEntity<T extends object>(
  table: TableClient,
  partitionKey: string,
  rowKey: string,
): Promise<TableEntityResult<T> | undefined> {
  try {
    return await table.getEntity<T>(partitionKey, rowKey);
  } catch (e) {
    if (statusOf(e) === 404) return undefined;
    throw unavailable(e);
  }
}

export const MAX_CAS_ATTEMPTS = 25;

/**
 * Compare-and-swap on one entity: read with its ETag, apply a pure rule, write with If-Match; on
 * 412 (someone else wrote, or a retried write of ours already landed) re-read and apply again, a
 * bounded number of times. `apply` returns `{ result }` alone for "no change". Out of attempts, it
 * throws `contended()` when given, else a 503.
 */
export async function compareAndSwap<T extends object, R>(
  table: TableClient,
  partitionKey: string,
  rowKey: string,
  apply: (
    current: TableEntityResult<T> | undefined,
  ) => { entity: T & { partitionKey: string; rowKey: string }; result: R } | { result: R },
  options: { maxAttempts?: number; contended?: () => Error } = {},
): Promise<R> {
  const maxAttempts = options.maxAttempts ?? MAX_CAS_ATTEMPTS;
  for (let attempt = 1; ; attempt++) {
    const current = await readEntity<T>(table, partitionKey, rowKey);
    const decision = apply(current);
    if (!('entity' in decision)) return decision.result;
    try {
      if (current) await table.updateEntity(decision.entity, 'Replace', { etag: current.etag });
      else await table.createEntity(decision.entity);
      return decision.result;
    } catch (e) {
      const status = statusOf(e);
      if (status === 412 || status === 409) {
        if (attempt < maxAttempts) {
          await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
          continue;
        }
        if (options.contended) throw options.contended();
      }
      throw unavailable(e);
    }
  }
}
