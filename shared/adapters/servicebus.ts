/**
 * One Service Bus client per process: a connection string locally (the local host's endpoint), the
 * namespace with the managed identity in Azure.
 */
import { ServiceBusClient, type ServiceBusSender } from '@azure/service-bus';
import { DefaultAzureCredential } from '@azure/identity';
import { DomainError } from '#shared/domain/errors';
import type { Settings } from '#shared/config';

export interface Bus {
  sender(queue: string): ServiceBusSender;
  close(): Promise<void>;
}

export function createBus(settings: Settings): Bus {
  let client: ServiceBusClient | undefined;
  const senders = new Map<string, ServiceBusSender>();
  const get = (): ServiceBusClient => {
    if (client) return client;
    if (settings.ServiceBusConnection) client = new ServiceBusClient(settings.ServiceBusConnection);
    else if (settings.ServiceBusConnection__fullyQualifiedNamespace) {
      client = new ServiceBusClient(
        settings.ServiceBusConnection__fullyQualifiedNamespace,
        new DefaultAzureCredential(
          settings.AzureWebJobsStorage__clientId
            ? { managedIdentityClientId: settings.AzureWebJobsStorage__clientId }
            : {},
        ),
      );
    } else {
      throw new DomainError(
        'UNAVAILABLE',
        'Service Bus is not configured (set ServiceBusConnection__fullyQualifiedNamespace).',
      );
    }
    return client;
  };
  return {
    sender(queue) {
      let s = senders.get(queue);
      if (!s) {
        s = get().createSender(queue);
        senders.set(queue, s);
      }
      return s;
    },
    async close() {
      await Promise.all([...senders.values()].map((s) => s.close()));
      await client?.close();
    },
  };
}
