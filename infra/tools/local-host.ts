/**
 * ZSA on the local host (@zsa/local-host): the settings that point the app at the host's parts —
 * its development issuer, mailbox, Service Bus endpoint and telemetry receiver — development keys for a fresh clone,
 * and ZSA's lines in the banner. `npm start` runs it through infra/tools/start.ts; tests and
 * benches start a host with `zsaHostOptions()`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CliOptions, HostOptions, LocalParts } from '@zsa/local-host';
import { DEVELOPMENT_AUDIENCE } from '#shared/app/startup-guard';
import { DEFAULT_TEAMS_SERVICE_HOST } from '#shared/config';

/** The bot's app id on the local host (in Azure, the managed identity's client id). */
export const DEV_TEAMS_BOT_APP_ID = '7e57da7a-0000-4000-8000-0000000b07a1';

/** Everything ZSA adds to a bare local host; spread into `startHost` or `runCli` options. */
export function zsaHostOptions(): Required<
  Pick<HostOptions, 'name' | 'defaultDataDirName' | 'devAudience' | 'devTokenExample' | 'configure'>
> &
  Pick<CliOptions, 'command' | 'defaultPort'> {
  return {
    name: 'ZSA local host',
    command: 'npm start --',
    defaultPort: Number(process.env.ZSA_LOCAL_PORT ?? 7071),
    defaultDataDirName: '.zsa',
    devAudience: DEVELOPMENT_AUDIENCE,
    devTokenExample: { upn: 'alice@contoso.com', roles: ['PAM.Admin'] },
    configure: configureZsa,
  };
}

function configureZsa(parts: LocalParts, settings: Readonly<Record<string, string>>) {
  const devSecrets = developmentSecrets(parts.dataDir);
  // As shared/config.ts reads it: unset means `zsa-events`, empty means no events.
  const eventsTopic = (settings.ZSA_EVENTS_TOPIC ?? 'zsa-events').trim();
  const teamsBotAppId = settings.ZSA_TEAMS_BOT_APP_ID || DEV_TEAMS_BOT_APP_ID;
  // OpenTelemetry goes to the host's receiver (/dev/telemetry), unless an OTLP endpoint is set: then
  // it goes to that collector, with the protocol the user chose.
  const otlpEndpoint = settings.OTEL_EXPORTER_OTLP_ENDPOINT || parts.telemetryUrl;
  const ownCollector = otlpEndpoint !== parts.telemetryUrl;
  // The app's own settings win (`||`: an empty value in local.settings.json counts as unset).
  return {
    settings: {
      ZSA_LOCAL_HOST: 'true',
      ZSA_AUTH_ISSUER: settings.ZSA_AUTH_ISSUER || parts.issuer.url,
      ZSA_AUTH_AUDIENCE: settings.ZSA_AUTH_AUDIENCE || parts.issuer.audience,
      // Members and system accounts resolve through the issuer's directory, to the ids its tokens carry.
      ZSA_TENANT_ID: settings.ZSA_TENANT_ID || parts.issuer.tenantId,
      ZSA_DIRECTORY_URL: settings.ZSA_DIRECTORY_URL || parts.issuer.directoryUrl,
      ZSA_PUBLIC_BASE_URL: settings.ZSA_PUBLIC_BASE_URL || parts.origin,
      ServiceBusConnection: settings.ServiceBusConnection || parts.serviceBus,
      ZSA_SMTP_URL: settings.ZSA_SMTP_URL || parts.smtpUrl,
      // A fresh clone has no secrets: generate development keys so the audit and signed webhooks
      // work out of the box (settings or the environment still win).
      ZSA_AUDIT_HMAC_KEY: settings.ZSA_AUDIT_HMAC_KEY || devSecrets.auditHmacKey,
      ZSA_WEBHOOK_SIGNING_KEY: settings.ZSA_WEBHOOK_SIGNING_KEY || devSecrets.webhookSigningKey,
      ZSA_EXECUTOR_ALLOWED_HOSTS: settings.ZSA_EXECUTOR_ALLOWED_HOSTS ?? 'localhost,127.0.0.1',
      // The body-size limit function-app.bicep sets in Azure (the platform's default is 100 MB).
      FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: settings.FUNCTIONS_REQUEST_BODY_SIZE_LIMIT || '65536',
      // The portal signs in at the development issuer through the same code path as at Entra ID.
      ZSA_PORTAL_AUTHORITY: settings.ZSA_PORTAL_AUTHORITY || parts.issuer.url,
      ZSA_PORTAL_CLIENT_ID: settings.ZSA_PORTAL_CLIENT_ID || 'zsa-portal',
      ZSA_PORTAL_SCOPE:
        settings.ZSA_PORTAL_SCOPE || `${settings.ZSA_AUTH_AUDIENCE || parts.issuer.audience}/.default`,
      // The Teams bot talks to the host's development channel (docs/teams.md): its activities are
      // signed by the development issuer, and it posts only to Teams' hosts and the channel's.
      ZSA_TEAMS_BOT_APP_ID: teamsBotAppId,
      ZSA_TEAMS_TOKEN_ISSUER:
        settings.ZSA_TEAMS_TOKEN_ISSUER || `${parts.issuer.url}/.well-known/openid-configuration`,
      // The channel is served on the host's own origin.
      ZSA_TEAMS_SERVICE_URL_ALLOWED:
        settings.ZSA_TEAMS_SERVICE_URL_ALLOWED ||
        `${DEFAULT_TEAMS_SERVICE_HOST},${new URL(parts.origin).host}`,
      OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint,
      // The receiver reads OTLP's JSON encoding only.
      ...(ownCollector ? {} : { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }),
    },
    // The bot's outgoing tokens come from ManagedIdentityCredential, as in Azure.
    managedIdentity: true,
    teamsBot: { appId: teamsBotAppId, messagingPath: '/api/messages', name: 'ZSA' },
    // The lifecycle events' topic, with one subscription to read them from (a send to a topic
    // nobody declared would create a queue of that name instead).
    serviceBusEntities: eventsTopic ? [{ topic: eventsTopic, subscriptions: ['all'] }] : [],
    bannerFirst: [`Portal       ${parts.origin}/`],
    banner: [
      `Health       ${parts.origin}/api/health`,
      ...(settings.ZSA_TELEMETRY === 'off'
        ? ['OTLP         off (ZSA_TELEMETRY=off)']
        : ownCollector
          ? [`OTLP         to ${otlpEndpoint} (OTEL_EXPORTER_OTLP_ENDPOINT)`]
          : []),
      ...(eventsTopic ? [`Events       Service Bus topic ${eventsTopic}, subscription "all"`] : []),
      `Dev keys     ${devSecrets.where}  (audit HMAC, webhook signing; unless set in settings)`,
    ],
  };
}

/**
 * Development-only keys for the audit's digests and webhook signatures, kept in the data folder so
 * they survive restarts (digests stay comparable), or in memory with --in-memory. Never used when
 * the settings provide real ones.
 */
function developmentSecrets(dataDir: string | undefined): {
  auditHmacKey: string;
  webhookSigningKey: string;
  where: string;
} {
  const fresh = () => ({
    auditHmacKey: randomBytes(32).toString('base64url'),
    webhookSigningKey: randomBytes(32).toString('base64url'),
  });
  if (!dataDir) return { ...fresh(), where: 'generated in memory' };
  const file = join(dataDir, 'dev-secrets.json');
  let secrets: { auditHmacKey: string; webhookSigningKey: string } | undefined;
  if (existsSync(file)) {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<{
      auditHmacKey: unknown;
      webhookSigningKey: unknown;
    }>;
    if (typeof parsed.auditHmacKey === 'string' && typeof parsed.webhookSigningKey === 'string') {
      secrets = { auditHmacKey: parsed.auditHmacKey, webhookSigningKey: parsed.webhookSigningKey };
    }
  }
  if (!secrets) {
    secrets = fresh();
    writeFileSync(file, JSON.stringify(secrets), { mode: 0o600 });
  }
  return { ...secrets, where: file };
}
