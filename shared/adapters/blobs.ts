/**
 * Blob Storage access: one client per container, created on first use. Locally a connection string
 * (the emulator); in Azure the storage account's blob endpoint with the managed identity — never a
 * shared key. Mirrors tables.ts.
 *
 * Immutability (a locked time-based retention policy with protected append writes) is a property of
 * the container set by the infrastructure, not by this code; the code only ever creates blobs and
 * appends to append blobs, so it runs unchanged against an immutable container.
 */
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { DefaultAzureCredential } from '@azure/identity';
import { DomainError } from '#shared/domain/errors';
import type { Settings } from '#shared/config';
import { unavailable } from './tables';

export interface Blobs {
  /** The client for container `<prefix><name>` (lower-cased); created the first time it is asked for. */
  container(name: string): Promise<ContainerClient>;
}

export function createBlobs(settings: Settings): Blobs {
  const containers = new Map<string, Promise<ContainerClient>>();
  let service: BlobServiceClient | undefined;
  return {
    container(name) {
      const full = `${settings.ZSA_TABLE_PREFIX}${name}`.toLowerCase();
      let container = containers.get(full);
      if (!container) {
        container = (async () => {
          service ??= serviceClient(settings);
          const c = service.getContainerClient(full);
          try {
            await c.createIfNotExists();
          } catch (e) {
            containers.delete(full);
            throw unavailable(e);
          }
          return c;
        })();
        containers.set(full, container);
      }
      return container;
    },
  };
}

function serviceClient(settings: Settings): BlobServiceClient {
  const connection = settings.AzureWebJobsStorage;
  if (connection && !/^UseDevelopmentStorage=true/i.test(connection)) {
    return BlobServiceClient.fromConnectionString(connection);
  }
  const endpoint =
    settings.AzureWebJobsStorage__blobServiceUri ??
    (settings.AzureWebJobsStorage__accountName
      ? `https://${settings.AzureWebJobsStorage__accountName}.blob.core.windows.net`
      : undefined);
  if (!endpoint) {
    throw new DomainError(
      'UNAVAILABLE',
      'Blob storage is not configured (set AzureWebJobsStorage__accountName).',
    );
  }
  const credential = new DefaultAzureCredential(
    settings.AzureWebJobsStorage__clientId
      ? { managedIdentityClientId: settings.AzureWebJobsStorage__clientId }
      : {},
  );
  return new BlobServiceClient(endpoint, credential);
}
