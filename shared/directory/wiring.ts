/** The app's directory, from the settings (see ./directory.ts). */
import { DefaultAzureCredential } from '@azure/identity';
import { ConfigurationError, type Settings } from '#shared/config';
import { graphDirectory, isLoopbackUrl, resolving, type Directory } from './directory';

const GUID_IN_ISSUER = /\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:\/|$)/i;

/** ZSA_TENANT_ID, or the tenant GUID in the Entra issuer URL; undefined when neither names one. */
export function tenantIdOf(
  settings: Pick<Settings, 'ZSA_TENANT_ID' | 'ZSA_AUTH_ISSUER'>,
): string | undefined {
  return settings.ZSA_TENANT_ID ?? GUID_IN_ISSUER.exec(settings.ZSA_AUTH_ISSUER ?? '')?.[1]?.toLowerCase();
}

/**
 * Built on first use: an app without a tenant still serves everything but saving members, which
 * then fails with a message naming the setting.
 */
export function createDirectory(settings: Settings): Directory {
  let directory: Directory | undefined;
  const get = (): Directory => {
    if (directory) return directory;
    const tenantId = tenantIdOf(settings);
    if (tenantId === undefined)
      throw new ConfigurationError(
        'ZSA_TENANT_ID is not set and ZSA_AUTH_ISSUER names no tenant, so users cannot be resolved.',
      );
    const baseUrl = settings.ZSA_DIRECTORY_URL;
    directory = graphDirectory({
      baseUrl,
      tenantId,
      // The local host's directory takes no token; anything else is Graph, with the app's identity.
      credential: isLoopbackUrl(baseUrl)
        ? undefined
        : new DefaultAzureCredential(
            settings.AzureWebJobsStorage__clientId
              ? { managedIdentityClientId: settings.AzureWebJobsStorage__clientId }
              : {},
          ),
    });
    return directory;
  };
  return resolving((upns) => get().lookup(upns));
}
