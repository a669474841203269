/**
 * Outgoing calls to the Bot Connector service: send an activity to a conversation, update one sent
 * earlier (https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference).
 * Each call carries a token for Bot Framework (`https://api.botframework.com`): from the app's
 * user-assigned managed identity (the Azure Bot is `UserAssignedMSI`: no secret; on the local host,
 * its stand-in identity endpoint). Tokens go only to service URLs in `ZSA_TEAMS_SERVICE_URL_ALLOWED`,
 * whatever a stored reference says; calls are bounded in time and never follow redirects.
 */
import { ManagedIdentityCredential } from '@azure/identity';
import type { IAdaptiveCard } from '@microsoft/teams.cards';
import { z } from 'zod';
import { serviceUrlAllowed } from './activity';
import { CARD_CONTENT_TYPE } from './cards';

/** The scope of a token the Bot Connector accepts. */
export const BOT_FRAMEWORK_SCOPE = 'https://api.botframework.com/.default';

const CALL_TIMEOUT_MS = 10_000;

/** A conversation to post to. */
export interface ConversationAddress {
  readonly serviceUrl: string;
  readonly conversationId: string;
}

/** Thrown for a call the connector refused or that never got an answer; Service Bus retries the message. */
export class ConnectorError extends Error {
  override readonly name = 'ConnectorError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface Connector {
  /** Posts a card (or text) to the conversation; answers the new activity's id. */
  send(to: ConversationAddress, content: { card: IAdaptiveCard } | { text: string }): Promise<string>;
  /** Replaces an activity sent earlier with this card. */
  update(to: ConversationAddress, activityId: string, card: IAdaptiveCard): Promise<void>;
}

export type TokenSource = () => Promise<string>;

/**
 * The managed identity's token for Bot Framework (the credential caches and renews it). On the local
 * host the same call reaches its App Service-shaped identity endpoint, which mints a development
 * token the local Teams channel accepts.
 */
export function managedIdentityTokens(clientId: string): TokenSource {
  const credential = new ManagedIdentityCredential({ clientId });
  return async () => (await credential.getToken(BOT_FRAMEWORK_SCOPE)).token;
}

const SentActivity = z.object({ id: z.string().min(1).max(1024) });

function activitiesUrl(to: ConversationAddress, activityId?: string): string {
  const base = to.serviceUrl.endsWith('/') ? to.serviceUrl : `${to.serviceUrl}/`;
  const path = `v3/conversations/${encodeURIComponent(to.conversationId)}/activities`;
  return new URL(
    activityId === undefined ? path : `${path}/${encodeURIComponent(activityId)}`,
    base,
  ).toString();
}

function messageActivity(content: { card: IAdaptiveCard } | { text: string }): Record<string, unknown> {
  return 'card' in content
    ? { type: 'message', attachments: [{ contentType: CARD_CONTENT_TYPE, content: content.card }] }
    : { type: 'message', text: content.text, textFormat: 'plain' };
}

export function createConnector(options: { allowed: readonly string[]; token: TokenSource }): Connector {
  const call = async (method: 'POST' | 'PUT', url: string, to: ConversationAddress, body: unknown) => {
    if (!serviceUrlAllowed(to.serviceUrl, options.allowed))
      throw new ConnectorError(`the service URL ${to.serviceUrl} is not in ZSA_TEAMS_SERVICE_URL_ALLOWED`);
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: { authorization: `Bearer ${await options.token()}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        redirect: 'error',
        signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
      });
    } catch (e) {
      throw new ConnectorError(
        `the Bot Connector did not answer: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new ConnectorError(`the Bot Connector answered ${response.status} to ${method}`, response.status);
    }
    return response;
  };
  return {
    async send(to, content) {
      const response = await call('POST', activitiesUrl(to), to, messageActivity(content));
      const parsed = SentActivity.safeParse(await response.json().catch(() => undefined));
      if (!parsed.success) throw new ConnectorError('the Bot Connector answered no activity id');
      return parsed.data.id;
    },
    async update(to, activityId, card) {
      const response = await call('PUT', activitiesUrl(to, activityId), to, {
        ...messageActivity({ card }),
        id: activityId,
      });
      await response.body?.cancel();
    },
  };
}
