/**
 * A managed identity endpoint shaped like App Service's (`IDENTITY_ENDPOINT` + `IDENTITY_HEADER`,
 * API version 2019-08-01), answering with development-issuer tokens for any resource. An app that
 * takes its outgoing tokens from `ManagedIdentityCredential` (`@azure/identity`) runs the same code
 * here as in Azure; the local parts that receive those tokens (the Teams channel) trust only this
 * issuer. https://learn.microsoft.com/azure/app-service/overview-managed-identity#rest-endpoint-reference
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { sendJson, type DevIssuer } from './dev-issuer';

/** Where the endpoint is served, under the host's own `/dev/` paths. */
export const MANAGED_IDENTITY_PATH = '/dev/identity/token';

const LIFETIME_SECONDS = 3600;

const QuerySchema = z.object({
  resource: z.string().trim().min(1).max(256),
  'api-version': z.literal('2019-08-01'),
  client_id: z.string().trim().min(1).max(128).optional(),
});

export interface ManagedIdentityEndpoint {
  /** The settings an app reads to find it (`IDENTITY_ENDPOINT`, `IDENTITY_HEADER`). */
  readonly settings: { readonly IDENTITY_ENDPOINT: string; readonly IDENTITY_HEADER: string };
  /** Serves the token endpoint; answers false, untouched, for any other path. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
}

export function createManagedIdentityEndpoint(origin: string, issuer: DevIssuer): ManagedIdentityEndpoint {
  // App Service's header secret: proves the caller read the app's environment, not merely reached the port.
  const secret = randomBytes(24).toString('base64url');
  return {
    settings: { IDENTITY_ENDPOINT: `${origin}${MANAGED_IDENTITY_PATH}`, IDENTITY_HEADER: secret },
    async handle(req, res) {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname !== MANAGED_IDENTITY_PATH) return false;
      if (req.method !== 'GET') return send(res, 405, { error: 'method_not_allowed' });
      const header = Buffer.from(String(req.headers['x-identity-header'] ?? ''));
      if (header.length !== secret.length || !timingSafeEqual(header, Buffer.from(secret)))
        return send(res, 401, {
          error: 'unauthorized',
          error_description: 'Missing or wrong X-IDENTITY-HEADER.',
        });
      const query = QuerySchema.safeParse(Object.fromEntries(url.searchParams));
      if (!query.success)
        return send(res, 400, {
          error: 'invalid_request',
          error_description: 'Expected ?resource=<uri>&api-version=2019-08-01[&client_id=<id>].',
        });
      const clientId = query.data.client_id ?? 'system-assigned';
      const resource = query.data.resource.replace(/\/\.default$/, '');
      const expiresOn = Math.floor(Date.now() / 1000) + LIFETIME_SECONDS;
      const accessToken = await issuer.mint({
        // An app token: the identity's own stable id, no user claims.
        upn: `${clientId}@managed-identity.invalid`,
        audience: resource,
        lifetimeSeconds: LIFETIME_SECONDS,
        overrides: {
          upn: null,
          preferred_username: null,
          name: null,
          appid: clientId,
          azp: clientId,
          idtyp: 'app',
        },
      });
      return send(res, 200, {
        access_token: accessToken,
        expires_on: String(expiresOn),
        resource,
        token_type: 'Bearer',
        client_id: clientId,
      });
    },
  };
}

function send(res: ServerResponse, status: number, body: object): true {
  sendJson(res, status, body);
  return true;
}
