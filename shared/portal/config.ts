/**
 * What the portal needs to sign people in, served at `GET /portal-config.json` (functions/portal.ts)
 * and read by the portal before anything else. One schema for both sides: the server builds it from
 * the settings (./settings.ts), the portal takes its type from here. zod only, so that the portal's
 * bundle never pulls in anything of the server.
 */
import { z } from 'zod';

/** `local`: the local host's development issuer (a loopback http authority); `azure`: Entra ID. */
export const PortalEnvironment = z.enum(['local', 'azure']);
export type PortalEnvironment = z.infer<typeof PortalEnvironment>;

export const PortalSignIn = z.object({
  /** OIDC issuer URL; its metadata is at `<authority>/.well-known/openid-configuration`. */
  authority: z.url(),
  /** The app registration the portal signs in with (a single-page application). */
  clientId: z.string().min(1),
  /** The API scope the portal asks for, e.g. `api://<api app>/.default`. */
  scope: z.string().min(1),
});
export type PortalSignIn = z.infer<typeof PortalSignIn>;

/** Sign-in configured, or not (then the portal shows `reason`, which names the setting to fix). */
export const PortalConfig = z.union([
  z.object({ signIn: PortalSignIn, environment: PortalEnvironment }),
  z.object({
    signIn: z.null(),
    /** Why sign-in is not configured and which setting fixes it, shown to whoever opens the portal. */
    reason: z.string().min(1),
    environment: PortalEnvironment,
  }),
]);
export type PortalConfig = z.infer<typeof PortalConfig>;
