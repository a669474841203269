/**
 * The start-up guard: in Azure, ZSA refuses to start rather than serve with a configuration that
 * would let anyone in (no token validation, the local development issuer, a trusted Easy Auth
 * header without Easy Auth in front) or sign with a secret that never arrived (an unresolved Key
 * Vault reference). Outside Azure it says nothing: the local host and tests are development.
 *
 * Pure: a function of the environment only, so every rule is unit-tested without a platform. The
 * app runs it twice — from an `appStart` hook (functions/startup.ts: a throwing hook fails the
 * worker's start, so the host serves nothing) and before `getDeps()` builds anything.
 */
import { SettingsSchema } from '#shared/config';
import { tenantIdOf } from '#shared/directory/wiring';
import { isHttpsOrLoopback } from '#shared/domain/loopback';

/** What the platform's environment looks like; `process.env` fits. */
export type Environment = Readonly<Record<string, string | undefined>>;

/**
 * Set by App Service / Functions on every Azure host (Flex Consumption, Premium, Dedicated), never by
 * the local host. Core Tools on a laptop sets neither either.
 */
const AZURE_MARKERS = ['WEBSITE_SITE_NAME', 'WEBSITE_INSTANCE_ID'] as const;

/** Set by the platform to `True` when App Service Authentication is enabled for the app. */
const EASY_AUTH_ENABLED = 'WEBSITE_AUTH_ENABLED';

/**
 * App Service passes an unresolvable Key Vault reference through as its own text, so a signing key
 * would silently become this well-known string.
 */
const KEY_VAULT_REFERENCE = /^\s*@Microsoft\.KeyVault\(/i;

/** The audience the local host's development issuer signs for (infra/tools/local-host.ts passes it). */
export const DEVELOPMENT_AUDIENCE = 'api://zsa-local';

/** Thrown by `assertStartable`; its message is the one log line an operator needs. */
export class StartupRefusedError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`ZSA refuses to start: ${problems.join(' ')} See docs/deploy.md, "Start-up guard".`);
    this.name = 'StartupRefusedError';
  }
}

/** True on an Azure host, read from the platform's own variables. */
export function isAzure(env: Environment): boolean {
  return AZURE_MARKERS.some((name) => (env[name] ?? '').trim() !== '');
}

/**
 * Why this environment must not serve, one sentence per problem naming the setting; empty when it
 * may. Only Azure is judged.
 */
export function startupProblems(env: Environment): readonly string[] {
  if (!isAzure(env)) return [];
  const problems: string[] = [];

  if (isTrue(env['ZSA_LOCAL_HOST'])) {
    problems.push('ZSA_LOCAL_HOST is true, but it is set by the local host only and never in Azure.');
  }

  for (const name of Object.keys(SettingsSchema.shape)) {
    if (KEY_VAULT_REFERENCE.test(env[name] ?? '')) {
      problems.push(
        `${name} is an unresolved Key Vault reference (missing secret, or the identity lacks "Key Vault Secrets User").`,
      );
    }
  }

  const issuer = blank(env['ZSA_AUTH_ISSUER']);
  const audience = blank(env['ZSA_AUTH_AUDIENCE']);
  if (issuer === undefined || audience === undefined) {
    problems.push(
      'Token validation is not configured: set ZSA_AUTH_ISSUER and ZSA_AUTH_AUDIENCE to the Entra tenant and the API app registration.',
    );
  } else {
    const why = developmentIssuerReason(issuer);
    if (why !== undefined) {
      problems.push(`ZSA_AUTH_ISSUER is the development issuer or not an Entra issuer (${why}).`);
    }
    if (audience === DEVELOPMENT_AUDIENCE) {
      problems.push(`ZSA_AUTH_AUDIENCE is the local host's development audience ${DEVELOPMENT_AUDIENCE}.`);
    }
  }

  if (isTrue(env['ZSA_TRUST_EASY_AUTH']) && !isTrue(env[EASY_AUTH_ENABLED])) {
    problems.push(
      `ZSA_TRUST_EASY_AUTH is true but App Service Authentication is not enabled (${EASY_AUTH_ENABLED} is not True), so any caller could forge x-ms-client-principal.`,
    );
  }

  const auditKey = blank(env['ZSA_AUDIT_HMAC_KEY']);
  if (auditKey === undefined) {
    problems.push('ZSA_AUDIT_HMAC_KEY is not set, so nothing that must be audited could run.');
  } else if (auditKey === blank(env['ZSA_WEBHOOK_SIGNING_KEY'])) {
    problems.push(
      'ZSA_AUDIT_HMAC_KEY equals ZSA_WEBHOOK_SIGNING_KEY: audit readers must never hold material made with the key that signs executions.',
    );
  }

  const directoryUrl = blank(env['ZSA_DIRECTORY_URL']);
  if (directoryUrl !== undefined && !isHttpsUrl(directoryUrl)) {
    problems.push(
      "ZSA_DIRECTORY_URL must be an https URL in Azure (Microsoft Graph); a loopback directory is the local host's development directory.",
    );
  }
  // The portal signs people in at this authority; the development issuer lets anyone be anyone.
  const portalAuthority = blank(env['ZSA_PORTAL_AUTHORITY']);
  if (portalAuthority !== undefined) {
    const why = developmentIssuerReason(portalAuthority);
    if (why !== undefined) {
      problems.push(`ZSA_PORTAL_AUTHORITY is the development issuer or not an Entra authority (${why}).`);
    }
  }
  // Teams activities signed by the development issuer would let anyone decide as anyone.
  const teamsIssuer = blank(env['ZSA_TEAMS_TOKEN_ISSUER']);
  if (teamsIssuer !== undefined) {
    const why = developmentIssuerReason(teamsIssuer);
    if (why !== undefined) {
      problems.push(`ZSA_TEAMS_TOKEN_ISSUER is the development issuer or not https (${why}).`);
    }
  }
  // Without an issuer the sentence above already says what to set.
  if (
    issuer !== undefined &&
    tenantIdOf({ ZSA_TENANT_ID: blank(env['ZSA_TENANT_ID']), ZSA_AUTH_ISSUER: issuer }) === undefined
  ) {
    problems.push(
      'No tenant: set ZSA_TENANT_ID (or an Entra ZSA_AUTH_ISSUER naming it), so that members and system accounts resolve to its users.',
    );
  }
  if (isTrue(env['ZSA_DECISION_LINK_REQUIRE_SIGN_IN']) && !isTrue(env['ZSA_TRUST_EASY_AUTH'])) {
    problems.push(
      'ZSA_DECISION_LINK_REQUIRE_SIGN_IN is true but ZSA_TRUST_EASY_AUTH is not, so an approver opening an emailed link in a browser could never be signed in.',
    );
  }

  const publicBase = blank(env['ZSA_PUBLIC_BASE_URL']);
  if (publicBase !== undefined && !isHttpsUrl(publicBase)) {
    problems.push('ZSA_PUBLIC_BASE_URL must be an https URL in Azure (emailed links carry decision tokens).');
  }

  // Spans and metrics name requests and tasks: to a collector, in clear only on this machine.
  const otlp = blank(env['OTEL_EXPORTER_OTLP_ENDPOINT']);
  if (otlp !== undefined && URL.canParse(otlp) && !isHttpsOrLoopback(new URL(otlp))) {
    problems.push(
      'OTEL_EXPORTER_OTLP_ENDPOINT must be an https URL in Azure, or http to a loopback collector on the same host.',
    );
  }

  // Last, so the specific sentences above come first; this names whatever else does not parse.
  const parsed = SettingsSchema.safeParse(env);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      problems.push(`${issue.path.join('.')} is invalid: ${issue.message}.`);
    }
  }
  return problems;
}

/** Throws StartupRefusedError when `startupProblems` finds any. */
export function assertStartable(env: Environment): void {
  const problems = startupProblems(env);
  if (problems.length > 0) throw new StartupRefusedError(problems);
}

/**
 * Why an issuer is the local development issuer (or otherwise not one Azure may trust), or
 * undefined. The development issuer is served by the local host on loopback under `/dev`.
 */
export function developmentIssuerReason(issuer: string): string | undefined {
  if (!URL.canParse(issuer)) return 'not a URL';
  const url = new URL(issuer);
  if (url.protocol !== 'https:') return 'not https';
  const host = url.hostname.toLowerCase();
  if (isLoopbackHost(host)) return 'a loopback host';
  const lastSegment = url.pathname.replace(/\/+$/, '').split('/').pop() ?? '';
  if (lastSegment.toLowerCase() === 'dev') return 'its path ends in /dev';
  return undefined;
}

function isLoopbackHost(host: string): boolean {
  return (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    host === '[::1]' ||
    host === '0.0.0.0' ||
    /^127(\.\d{1,3}){3}$/.test(host)
  );
}

function isHttpsUrl(value: string): boolean {
  return URL.canParse(value) && new URL(value).protocol === 'https:';
}

function isTrue(value: string | undefined): boolean {
  const v = (value ?? '').trim().toLowerCase();
  return v === 'true' || v === '1';
}

function blank(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}
