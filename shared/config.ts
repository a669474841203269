/**
 * Every setting ZSA reads, with its meaning: the one source of truth (DESIGN §5a). Parsed once, on
 * first use (never at import time), failing fast with the setting's name.
 */
import { z } from 'zod';

const bool = z
  .enum(['true', 'false', 'True', 'False', '1', '0', ''])
  .default('false')
  .transform((v) => v.toLowerCase() === 'true' || v === '1');

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

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

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
  /** Base URL put in emailed links (never taken from the Host header). */
  ZSA_PUBLIC_BASE_URL: optionalString,
  /** Expected token issuer; OIDC metadata is read from it. */
  ZSA_AUTH_ISSUER: optionalString,
  /** Expected token audience. */
  ZSA_AUTH_AUDIENCE: optionalString,
  /** `true` only behind App Service Authentication. */
  ZSA_TRUST_EASY_AUTH: bool,
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
