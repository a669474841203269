/**
 * The portal's sign-in configuration from the app's settings (server side only: the portal itself
 * imports just the schema in ./config.ts). Pure: the settings are passed in.
 */
import type { Settings } from '#shared/config';
import { tenantIdOf } from '#shared/directory/wiring';
import { isLoopbackHost } from '#shared/domain/loopback';
import type { PortalConfig } from './config';

type PortalSettings = Pick<
  Settings,
  | 'ZSA_PORTAL_CLIENT_ID'
  | 'ZSA_PORTAL_AUTHORITY'
  | 'ZSA_PORTAL_SCOPE'
  | 'ZSA_TENANT_ID'
  | 'ZSA_AUTH_ISSUER'
  | 'ZSA_AUTH_AUDIENCE'
>;

/** The authority the portal signs in at: the setting, or Entra ID's v2 endpoint for the tenant. */
export function portalAuthority(settings: PortalSettings): string | undefined {
  if (settings.ZSA_PORTAL_AUTHORITY !== undefined) return settings.ZSA_PORTAL_AUTHORITY;
  const tenant = tenantIdOf(settings);
  return tenant === undefined ? undefined : `https://login.microsoftonline.com/${tenant}/v2.0`;
}

/** `local` when the authority is plain http on loopback (the local host's issuer), else `azure`. */
export function portalEnvironment(authority: string | undefined): PortalConfig['environment'] {
  if (authority === undefined || !URL.canParse(authority)) return 'azure';
  const url = new URL(authority);
  return url.protocol === 'http:' && isLoopbackHost(url.hostname) ? 'local' : 'azure';
}

/**
 * What `GET /portal-config.json` answers. Missing pieces are never guessed: the answer says which
 * setting to set, so whoever opens the portal is not left at a blank page.
 */
export function portalConfigOf(settings: PortalSettings): PortalConfig {
  const authority = portalAuthority(settings);
  const environment = portalEnvironment(authority);
  const clientId = settings.ZSA_PORTAL_CLIENT_ID;
  if (clientId === undefined) {
    return {
      signIn: null,
      reason:
        'Sign-in is not configured: set ZSA_PORTAL_CLIENT_ID to the client id of the portal\'s app registration (docs/deploy.md, "The portal").',
      environment,
    };
  }
  if (authority === undefined) {
    return {
      signIn: null,
      reason:
        'Sign-in is not configured: set ZSA_PORTAL_AUTHORITY, or ZSA_TENANT_ID so that the portal signs in with Entra ID for that tenant.',
      environment,
    };
  }
  const scope =
    settings.ZSA_PORTAL_SCOPE ??
    (settings.ZSA_AUTH_AUDIENCE === undefined ? undefined : `${settings.ZSA_AUTH_AUDIENCE}/.default`);
  if (scope === undefined) {
    return {
      signIn: null,
      reason:
        'Sign-in is not configured: set ZSA_PORTAL_SCOPE, or ZSA_AUTH_AUDIENCE so that the portal asks for <audience>/.default.',
      environment,
    };
  }
  return { signIn: { authority, clientId, scope }, environment };
}
