/**
 * Builds the Teams stories' contexts from the app's deps. Teams is on when `ZSA_TEAMS_BOT_APP_ID` is
 * set; the activity authenticator and the connector are built once per process, on first use.
 */
import type { HttpRequest, InvocationContext } from '@azure/functions';
import { getDeps } from '#shared/app/deps';
import type { Settings } from '#shared/config';
import { tenantIdOf } from '#shared/directory/wiring';
import { auditActor, auditOrigin } from '#shared/http/auth';
import { decideExtension } from '#shared/requests/extensions';
import { decide } from '#shared/requests/usecases';
import { requestContext } from '#shared/requests/wiring';
import type { BotContext } from './bot';
import { createConnector, managedIdentityTokens, type Connector } from './connector';
import { decideFromCard } from './decide';
import type { TeamsDeliverContext } from './deliver';
import { createActivityAuthenticator, type ActivityAuthenticator } from './inbound';
import { TEAMS_QUEUE } from './messages';
import { teamsQueuePublisher, type TeamsPublishContext } from './publish';
import { createTeamsStore } from './store';

/** The bot's settings when Teams is on; undefined when it is off. */
export interface TeamsSettings {
  readonly botAppId: string;
  readonly metadataUrl: string;
  readonly allowed: readonly string[];
  readonly tenantId: string;
}

export function teamsSettings(settings: Settings): TeamsSettings | undefined {
  const botAppId = settings.ZSA_TEAMS_BOT_APP_ID;
  const tenantId = tenantIdOf(settings);
  if (botAppId === undefined || tenantId === undefined) return undefined;
  return {
    botAppId,
    metadataUrl: settings.ZSA_TEAMS_TOKEN_ISSUER,
    allowed: settings.ZSA_TEAMS_SERVICE_URL_ALLOWED,
    tenantId,
  };
}

let built: { key: string; authenticator: ActivityAuthenticator; connector: Connector } | undefined;

/** The process's authenticator and connector for these settings (rebuilt if tests change them). */
function parts(teams: TeamsSettings): { authenticator: ActivityAuthenticator; connector: Connector } {
  const key = JSON.stringify(teams);
  if (built?.key !== key) {
    const deps = getDeps();
    built = {
      key,
      authenticator: createActivityAuthenticator({
        metadataUrl: teams.metadataUrl,
        botAppId: teams.botAppId,
        now: deps.now,
      }),
      connector: createConnector({
        allowed: teams.allowed,
        // The Azure Bot's app id is the managed identity's client id.
        token: managedIdentityTokens(teams.botAppId),
      }),
    };
  }
  return built;
}

export function activityAuthenticator(teams: TeamsSettings): ActivityAuthenticator {
  return parts(teams).authenticator;
}

export function botContext(
  teams: TeamsSettings,
  request: HttpRequest,
  invocation: InvocationContext,
): BotContext {
  const deps = getDeps();
  const store = createTeamsStore(deps.tables);
  const now = deps.now();
  const { connector } = parts(teams);
  return {
    store,
    tenantId: teams.tenantId,
    now,
    log: (m) => invocation.warn(m),
    reply: async (to, text) => {
      await connector.send(to, { text });
    },
    decide: (user, invoke) => {
      return decideFromCard(
        {
          story: requestContext(invocation),
          decide: (ctx, caller, requestId, decision, comment, binding) =>
            binding.extensionId === undefined
              ? decide(ctx, caller, requestId, decision, comment, binding.stage)
              : decideExtension(
                  ctx,
                  caller,
                  requestId,
                  binding.extensionId,
                  decision,
                  comment,
                  binding.stage,
                ),
          callerFor: (principal) => ({
            principal,
            actor: auditActor(principal),
            origin: auditOrigin(request, invocation.invocationId),
          }),
          now,
          portalBaseUrl: deps.settings.ZSA_PUBLIC_BASE_URL,
        },
        user,
        invoke,
      );
    },
  };
}

export function teamsPublishContext(): TeamsPublishContext | undefined {
  const deps = getDeps();
  if (teamsSettings(deps.settings) === undefined) return undefined;
  return {
    requests: deps.requests,
    groupMembers: (group) => deps.config.groupMembers(group),
    store: createTeamsStore(deps.tables),
    publish: teamsQueuePublisher(() => deps.bus.sender(TEAMS_QUEUE)),
  };
}

export function teamsDeliverContext(teams: TeamsSettings): TeamsDeliverContext {
  const deps = getDeps();
  return {
    requests: deps.requests,
    store: createTeamsStore(deps.tables),
    connector: parts(teams).connector,
    now: deps.now(),
    portalBaseUrl: deps.settings.ZSA_PUBLIC_BASE_URL,
  };
}
