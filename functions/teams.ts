/**
 * Microsoft Teams (docs/teams.md; ADR 0014). `POST /api/messages` is the Azure Bot's messaging
 * endpoint: anonymous to the platform, authenticated by the activity's Bot Framework token
 * (shared/teams/inbound.ts) before anything in it is used; then the activity is read, the user
 * checked to be of ZSA's tenant, and the bot story run (shared/teams/bot.ts). `sendTeams` is the
 * Service Bus trigger that delivers the `zsa-teams` queue's messages (shared/teams/deliver.ts),
 * beside the email sender and independent of it.
 */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { z } from 'zod';
import { getDeps } from '#shared/app/deps';
import { AuditAction, SYSTEM_ACTOR } from '#shared/audit/types';
import { parseOrThrow } from '#shared/domain/errors';
import { handled, json, readJson } from '#shared/http/handler';
import { HttpError } from '#shared/http/problem';
import { auditQuietly } from '#shared/notifications/audit';
import { deliveryOf, failedDelivery, messageIdOf } from '#shared/notifications/failures';
import { InboundActivity, serviceUrlAllowed } from '#shared/teams/activity';
import { handleActivity } from '#shared/teams/bot';
import { deliverTeams } from '#shared/teams/deliver';
import { TEAMS_QUEUE } from '#shared/teams/messages';
import { activityAuthenticator, botContext, teamsDeliverContext, teamsSettings } from '#shared/teams/wiring';

// Only the service URL and the channel are looked at before the token is checked (its `serviceurl`
// claim must match; the channel must be Teams).
const Unverified = z.object({
  serviceUrl: z.string().max(2048).optional(),
  channelId: z.string().max(64).optional(),
});

export const messages = handled(
  async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const teams = teamsSettings(getDeps().settings);
    if (teams === undefined)
      throw new HttpError(
        404,
        'TEAMS_NOT_CONFIGURED',
        'The Teams app is not set up here: it needs ZSA_TEAMS_BOT_APP_ID, and ZSA_TENANT_ID (or a tenant GUID in ZSA_AUTH_ISSUER) for whose users it serves.',
      );
    const raw: unknown = await readJson(request, z.unknown(), 'activity');
    const claimed = Unverified.safeParse(raw);
    await activityAuthenticator(teams).verify(request.headers.get('authorization'), {
      serviceUrl: claimed.success ? (claimed.data.serviceUrl ?? '') : '',
      channelId: claimed.success ? (claimed.data.channelId ?? '') : '',
    });
    const activity = parseOrThrow(InboundActivity, raw, 'activity');
    if (!serviceUrlAllowed(activity.serviceUrl, teams.allowed))
      throw new HttpError(
        403,
        'SERVICE_URL_NOT_ALLOWED',
        'The activity names a service URL ZSA does not post to.',
      );
    const answer = await handleActivity(botContext(teams, request, context), activity);
    if (answer.status === 403) throw new HttpError(403, 'NOT_THIS_TENANT', `Refused: ${answer.reason}.`);
    return answer.body === undefined ? { status: 200 } : json(200, answer.body);
  },
);

/** Service Bus trigger `sendTeams`: one Teams message → one card sent or updated. */
export async function sendTeams(message: unknown, context: InvocationContext): Promise<void> {
  const deps = getDeps();
  const max = deps.settings.ZSA_NOTIFICATIONS_MAX_DELIVERY;
  const teams = teamsSettings(deps.settings);
  if (teams === undefined) {
    context.warn(
      'Teams message dropped: the Teams app is not set up here (ZSA_TEAMS_BOT_APP_ID, and ZSA_TENANT_ID or a tenant GUID in ZSA_AUTH_ISSUER).',
    );
    return;
  }
  try {
    const outcome = await deliverTeams(teamsDeliverContext(teams), message);
    const m = outcome.message;
    if (outcome.kind === 'skipped') {
      context.log(`Teams ${m.kind} ${m.id} not sent: ${outcome.reason}`);
      return;
    }
    context.log(`Teams ${m.kind} ${m.id} ${outcome.kind} (activity ${outcome.activityId})`);
    // Audited as an email is: which card reached whom, for which request.
    await auditQuietly(
      {
        action: AuditAction.NotificationSent,
        actor: SYSTEM_ACTOR,
        outcome: 'success',
        requestId: m.requestId,
        detail: {
          channel: 'teams',
          kind: m.kind,
          recipientId: m.userId,
          notificationId: messageIdOf(context),
          delivery: deliveryOf(context),
        },
      },
      (text) => context.warn(text),
    );
  } catch (e) {
    await failedDelivery({ context, channel: 'teams', message, error: e, max });
    throw e;
  }
}

app.http('teamsMessages', {
  methods: ['POST'],
  route: 'api/messages',
  authLevel: 'anonymous',
  handler: messages,
  extraInputs: [df.input.durableClient()],
});
app.serviceBusQueue('sendTeams', {
  connection: 'ServiceBusConnection',
  queueName: TEAMS_QUEUE,
  handler: sendTeams,
});
