/**
 * Every setting ZSA reads, with its meaning: the one source of truth (the README's "Settings" table
 * and docs/design.md §8 are checked against it). Parsed once, on first use (never at import time),
 * failing fast with the setting's name.
 */
import { z } from 'zod';
import { isHttpsOrLoopback } from '#shared/domain/loopback';

const bool = z
  .enum(['true', 'false', 'True', 'False', '1', '0', ''])
  .default('false')
  .transform((v) => v.toLowerCase() === 'true' || v === '1');

/** A switch that is on unless set to false (unset or empty keeps it on). */
const boolDefaultTrue = z
  .enum(['true', 'false', 'True', 'False', '1', '0', ''])
  .default('true')
  .transform((v) => v === '' || v.toLowerCase() === 'true' || v === '1');

const positiveInt = (fallback: number) =>
  z
    .string()
    .default(String(fallback))
    .transform((v, ctx) => {
      const n = Number(v === '' ? fallback : v);
      if (!Number.isInteger(n) || n <= 0) {
        ctx.addIssue({ code: 'custom', message: 'must be a positive whole number' });
        return z.NEVER;
      }
      return n;
    });

/** A rate limit's allowance per window: 0 turns it off; at most 500, so a window's log fits one Table property. */
const rateLimit = (fallback: number) =>
  z
    .string()
    .default(String(fallback))
    .transform((v, ctx) => {
      const n = Number(v === '' ? fallback : v);
      if (!Number.isInteger(n) || n < 0 || n > 500) {
        ctx.addIssue({ code: 'custom', message: 'must be a whole number from 0 (off) to 500' });
        return z.NEVER;
      }
      return n;
    });

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

/**
 * The origin a browser sends for `entry` (lower-case host, no default port), or undefined when
 * `entry` is more or less than an origin. Plain http only for loopback (a local portal), as for
 * executors: an http page could be altered in transit to use the signed-in user's token.
 */
function corsOrigin(entry: string): string | undefined {
  if (!URL.canParse(entry)) return undefined;
  const url = new URL(entry);
  const secure = isHttpsOrLoopback(url);
  const bare =
    url.pathname === '/' &&
    url.search === '' &&
    url.hash === '' &&
    url.username === '' &&
    url.password === '';
  return secure && bare ? url.origin : undefined;
}

/** https, or http to a loopback host; credentials in the URL never. */
function secureUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  if (url.username !== '' || url.password !== '') return false;
  return isHttpsOrLoopback(url);
}

/** Bot Framework's OpenID metadata: the issuer (`https://api.botframework.com`) and keys of Teams' activity tokens. */
export const BOT_FRAMEWORK_OPENID_METADATA =
  'https://login.botframework.com/v1/.well-known/openidconfiguration';

/** The Bot Connector host of Teams' service URLs (`https://smba.trafficmanager.net/<region>/`). */
export const DEFAULT_TEAMS_SERVICE_HOST = 'smba.trafficmanager.net';

/** Setting name → schema and meaning. The infra test checks infra/ sets each (or it has a default). */
export const SettingsSchema = z.object({
  /** Storage connection (local emulators only); in Azure identity-based `AzureWebJobsStorage__*` settings. */
  AzureWebJobsStorage: optionalString,
  /** Storage account name for identity-based access in Azure (tables and blobs URIs derive from it). */
  AzureWebJobsStorage__accountName: optionalString,
  /** Table endpoint for identity-based access, e.g. https://acct.table.core.windows.net. */
  AzureWebJobsStorage__tableServiceUri: optionalString,
  /** Blob endpoint for identity-based access. */
  AzureWebJobsStorage__blobServiceUri: optionalString,
  /** Client id of the user-assigned managed identity used for every Azure client. */
  AzureWebJobsStorage__clientId: optionalString,
  /** Service Bus connection string (local endpoint only). */
  ServiceBusConnection: optionalString,
  /** Service Bus namespace host for managed identity, e.g. zsa.servicebus.windows.net. */
  ServiceBusConnection__fullyQualifiedNamespace: optionalString,
  /** Shortest grant or pending window accepted, in seconds. */
  ZSA_MIN_DURATION_SECONDS: positiveInt(60),
  /**
   * Submits one user may make per `ZSA_SUBMIT_RATE_WINDOW_SECONDS` (each emails every approver);
   * more are refused with 429 and `Retry-After`. 0 turns the limit off; at most 500.
   */
  ZSA_SUBMIT_RATE_LIMIT: rateLimit(30),
  /** The sliding window `ZSA_SUBMIT_RATE_LIMIT` counts over, in seconds (default 600: 10 minutes). */
  ZSA_SUBMIT_RATE_WINDOW_SECONDS: positiveInt(600),
  /**
   * Requests one AI agent identity may make through the MCP tool `request_action` per
   * `ZSA_SUBMIT_RATE_WINDOW_SECONDS` (an agent acting for a user counts for that user), apart from
   * that identity's own submits. 0 turns it off; at most 500 (default 10).
   */
  ZSA_AGENT_RATE_LIMIT: rateLimit(10),
  /**
   * The longest grant an AI agent gets through `request_action`, in minutes (default 15, at most
   * 1440): the shorter of this and its policy's limits. The grant allows one execution only.
   */
  ZSA_AGENT_GRANT_MINUTES: positiveInt(15).refine((n) => n <= 1440, 'must be at most 1440 minutes'),
  /** Comma-separated host names (or host:port) executors may call. */
  ZSA_EXECUTOR_ALLOWED_HOSTS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((h) => h.trim().toLowerCase())
        .filter((h) => h.length > 0),
    ),
  /** HMAC key for webhook executions. */
  ZSA_WEBHOOK_SIGNING_KEY: optionalString,
  /**
   * Key of the audit log: secret-looking values in audited detail become `hmac-sha256:<hex>` under a
   * key derived from it (and query continuation tokens are signed with another). Required: without
   * it nothing that must be audited runs. Never the webhook signing key (the start-up guard refuses
   * that in Azure). Rotating it changes the digests of later rows only.
   */
  ZSA_AUDIT_HMAC_KEY: optionalString,
  /**
   * Audit keys retired by rotations, comma-separated (a Key Vault reference in Azure): never used to
   * write, only to verify the audit rows each sealed. Leaving one out makes its rows fail
   * verification as `unknown-key`, and the polling triggers' cursors it signed a 400 (the flows
   * start again from now).
   */
  ZSA_AUDIT_HMAC_KEYS_RETIRED: z
    .string()
    .optional()
    .transform((v) =>
      (v ?? '')
        .split(',')
        .map((k) => k.trim())
        .filter((k) => k.length > 0),
    ),
  /** Base URL put in emailed links (never taken from the Host header). */
  ZSA_PUBLIC_BASE_URL: optionalString,
  /** Expected token issuer; OIDC metadata is read from it. */
  ZSA_AUTH_ISSUER: optionalString,
  /** Expected token audience. */
  ZSA_AUTH_AUDIENCE: optionalString,
  /**
   * The Entra tenant whose users ZSA serves (a GUID). Default: the GUID in ZSA_AUTH_ISSUER
   * (`https://login.microsoftonline.com/<tenant>/v2.0`). Directory lookups key users by it.
   */
  ZSA_TENANT_ID: optionalString,
  /**
   * Where approver group members and system accounts are resolved to their object ids: Microsoft
   * Graph v1.0 (the default, with the app's managed identity; needs `User.Read.All`), or the local
   * host's development directory. A loopback URL is called without a token, and refused in Azure.
   */
  ZSA_DIRECTORY_URL: z.string().trim().pipe(z.url()).default('https://graph.microsoft.com/v1.0'),
  /**
   * Client id of the app registration the web portal signs in with (single-page application
   * platform, redirect URIs the app's own `/signin-callback` and, for sign-out, `/`). Unset: the portal opens and says sign-in is not configured.
   */
  ZSA_PORTAL_CLIENT_ID: optionalString,
  /**
   * OIDC authority the portal signs in at. Default `https://login.microsoftonline.com/<tenant>/v2.0`
   * (ZSA_TENANT_ID, or the tenant in ZSA_AUTH_ISSUER). https, or http on loopback (the local host).
   */
  ZSA_PORTAL_AUTHORITY: optionalString.refine(
    (v) => v === undefined || secureUrl(v),
    'must be an https URL (or http on loopback), e.g. https://login.microsoftonline.com/<tenant>/v2.0',
  ),
  /** The API scope the portal asks for. Default `<ZSA_AUTH_AUDIENCE>/.default`. */
  ZSA_PORTAL_SCOPE: optionalString,
  /** `true` only behind App Service Authentication. */
  ZSA_TRUST_EASY_AUTH: bool,
  /**
   * Comma-separated browser origins (`https://portal.contoso.com`) whose pages may call the API
   * (CORS, credentials off); empty = no cross-origin browser access. Exact origins only: no `*`, no
   * paths; https, or http for loopback. In Azure the platform's CORS gets the same list (infra/).
   */
  ZSA_CORS_ORIGINS: z
    .string()
    .default('')
    .transform((v, ctx) => {
      const origins: string[] = [];
      for (const entry of v.split(',').map((o) => o.trim())) {
        if (entry === '') continue;
        const origin = corsOrigin(entry);
        if (origin === undefined) {
          ctx.addIssue({
            code: 'custom',
            message: `${JSON.stringify(entry)} is not an origin such as https://portal.contoso.com (https, or http for loopback; no path)`,
          });
          return z.NEVER;
        }
        origins.push(origin);
      }
      return origins;
    }),
  /**
   * How notification emails leave: `smtp` (nodemailer to `ZSA_SMTP_URL`; the local host's mailbox)
   * or `graph` (Microsoft Graph sendMail as `ZSA_MAIL_FROM`, with the managed identity; Azure).
   */
  ZSA_MAIL_TRANSPORT: z.enum(['smtp', 'graph']).default('smtp'),
  /** SMTP server for `ZSA_MAIL_TRANSPORT=smtp`, e.g. `smtp://127.0.0.1:2525` or `smtps://user:pass@host`. */
  ZSA_SMTP_URL: optionalString,
  /** Sender of notification emails (`ZSA <zsa@contoso.com>` or an address); with Graph, the mailbox that sends. */
  ZSA_MAIL_FROM: z.string().trim().min(3).default('ZSA <zsa@localhost>'),
  /** How long before a grant ends its requester gets the "expiring soon" email, in minutes (decimals allowed). */
  ZSA_EXPIRY_NOTICE_MINUTES: z
    .string()
    .default('15')
    .transform((v, ctx) => {
      const n = Number(v === '' ? '15' : v);
      if (!Number.isFinite(n) || n <= 0) {
        ctx.addIssue({ code: 'custom', message: 'must be a positive number of minutes' });
        return z.NEVER;
      }
      return n;
    }),
  /**
   * How long an emergency use's review may stay open before its reviewers are reminded, and again
   * after each reminder, in hours (decimals allowed; tests set it tiny). The timer looks every hour.
   */
  ZSA_REVIEW_REMINDER_HOURS: z
    .string()
    .default('24')
    .transform((v, ctx) => {
      const n = Number(v === '' ? '24' : v);
      if (!Number.isFinite(n) || n <= 0) {
        ctx.addIssue({ code: 'custom', message: 'must be a positive number of hours' });
        return z.NEVER;
      }
      return n;
    }),
  /**
   * MaxDeliveryCount of the notifications queue: the email sender logs and audits its final
   * failure at this delivery, after which Service Bus dead-letters the message.
   */
  ZSA_NOTIFICATIONS_MAX_DELIVERY: positiveInt(10),
  /**
   * Service Bus topic that every request lifecycle event is published to (for a SIEM, Power
   * Automate), on the `ServiceBusConnection` namespace; default `zsa-events`, empty = not published.
   */
  ZSA_EVENTS_TOPIC: z
    .string()
    .trim()
    .default('zsa-events')
    .refine(
      (v) => v === '' || /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,258}[A-Za-z0-9_])?$/.test(v),
      'must be a Service Bus topic name (letters, digits, . - _), or empty to publish no events',
    ),
  /**
   * `true`: an emailed decision link also needs the approver signed in (bearer token or App Service
   * Authentication) as the approver it was sent to. Default false: the link alone identifies them.
   */
  ZSA_DECISION_LINK_REQUIRE_SIGN_IN: bool,
  /**
   * Whether admins may still execute tasks while privileged access is disabled (default `true`:
   * disabling stops requests and grants, and leaves admins a way to act). `false` makes disabling a
   * full stop for everyone.
   */
  ZSA_ADMINS_EXECUTE_WHILE_DISABLED: boolDefaultTrue,
  /**
   * The Azure Bot's app id (Microsoft App ID), which is the client id of the app's user-assigned
   * managed identity (msaAppType UserAssignedMSI: no bot secret). Inbound activity tokens must name
   * it as their audience. Unset: the Teams app is off, `/api/messages` answers 404 and nothing is
   * sent to Teams (docs/teams.md).
   */
  ZSA_TEAMS_BOT_APP_ID: optionalString,
  /**
   * OpenID metadata URL of the issuer of inbound Teams activity tokens: Bot Framework's by default;
   * the local host sets its development issuer's (the start-up guard refuses that in Azure). The
   * tokens' issuer is the one this metadata names, their keys the ones it points to.
   */
  ZSA_TEAMS_TOKEN_ISSUER: z
    .string()
    .trim()
    .default(BOT_FRAMEWORK_OPENID_METADATA)
    .transform((v) => (v === '' ? BOT_FRAMEWORK_OPENID_METADATA : v))
    .refine(secureUrl, 'must be an https URL (or http on loopback) of OpenID metadata'),
  /**
   * Comma-separated hosts (or host:port) of the Bot Connector service URLs ZSA posts Teams messages
   * to, with a token (default `smba.trafficmanager.net`, Teams'). An activity naming any other
   * serviceUrl is refused: its body alone never decides where a token goes. https only, except
   * loopback (the local host adds its own origin).
   */
  ZSA_TEAMS_SERVICE_URL_ALLOWED: z
    .string()
    .default(DEFAULT_TEAMS_SERVICE_HOST)
    .transform((v) =>
      (v.trim() === '' ? DEFAULT_TEAMS_SERVICE_HOST : v)
        .split(',')
        .map((h) => h.trim().toLowerCase())
        .filter((h) => h.length > 0),
    ),
  /** Set by the local host only; never in Azure. */
  ZSA_LOCAL_HOST: bool,
  /** Timeout of one webhook execution, in milliseconds. */
  ZSA_EXECUTOR_TIMEOUT_MS: positiveInt(30_000),
  /** Prefix of every table ZSA creates (lets several deployments share an account). */
  ZSA_TABLE_PREFIX: z
    .string()
    .default('zsa')
    .refine(
      (v) => /^[A-Za-z][A-Za-z0-9]{0,19}$/.test(v),
      'must be letters and digits, starting with a letter',
    ),
  /**
   * Telemetry (traces and metrics through OpenTelemetry, shared/telemetry/): `on` (the default)
   * exports to wherever the two settings below point, `off` starts no SDK at all.
   */
  ZSA_TELEMETRY: z.enum(['on', 'off']).default('on'),
  /**
   * Application Insights to export telemetry to, with the managed identity (Bicep sets it); the
   * Functions host sends its own telemetry there too.
   */
  APPLICATIONINSIGHTS_CONNECTION_STRING: optionalString,
  /**
   * An OpenTelemetry collector's OTLP/HTTP base URL (traces to `/v1/traces`, metrics to
   * `/v1/metrics`); the local host sets its /dev/telemetry receiver unless one is set.
   */
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalString.refine(
    (v) => v === undefined || (URL.canParse(v) && ['http:', 'https:'].includes(new URL(v).protocol)),
    'must be an http(s) URL, e.g. http://127.0.0.1:4318',
  ),
  /** The OTLP encoding: only `http/json` (OTLP/HTTP with JSON bodies) is supported. */
  OTEL_EXPORTER_OTLP_PROTOCOL: z
    .enum(['http/json'], { error: 'only http/json is supported (OTLP/HTTP with JSON bodies)' })
    .default('http/json'),
  /** The `service.name` of ZSA's telemetry (default `zsa`). */
  OTEL_SERVICE_NAME: z.string().trim().min(1).default('zsa'),
  /** How often metrics are exported, in milliseconds (default 60000). */
  OTEL_METRIC_EXPORT_INTERVAL: positiveInt(60_000),
  /**
   * Durable Functions task hub (host.json `hubName: %ZSA_TASK_HUB%`): read by the Functions host,
   * not by the app, so every host must set it (infra/ and local.settings.json.sample do).
   */
  ZSA_TASK_HUB: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9]{2,44}$/, 'must be 3–45 letters and digits, starting with a letter')
    .optional(),
});
export type Settings = z.infer<typeof SettingsSchema>;

/** Thrown when the environment is not a usable configuration; names the setting. */
export class ConfigurationError extends Error {}

let cached: Settings | undefined;

export function settings(env: NodeJS.ProcessEnv = process.env): Settings {
  if (cached && env === process.env) return cached;
  const parsed = SettingsSchema.safeParse(env);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigurationError(`Invalid settings: ${issues}`);
  }
  if (env === process.env) cached = parsed.data;
  return parsed.data;
}

/** For tests that change the environment between cases. */
export function resetSettingsCache(): void {
  cached = undefined;
}
