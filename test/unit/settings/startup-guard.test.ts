import { describe, expect, it } from 'vitest';
import { zsaHostOptions } from '../../../infra/tools/local-host';
import {
  assertStartable,
  DEVELOPMENT_AUDIENCE,
  developmentIssuerReason,
  isAzure,
  StartupRefusedError,
  startupProblems,
  type Environment,
} from '#shared/app/startup-guard';

const TENANT = '11111111-2222-3333-4444-555555555555';
const API = '66666666-7777-8888-9999-000000000000';

/** A sound Azure environment, as infra/ sets it; each case changes one thing. */
function anAzureEnvironment(overrides: Environment = {}): Environment {
  return {
    WEBSITE_SITE_NAME: 'func-zsa-abc',
    WEBSITE_INSTANCE_ID: '0123456789abcdef',
    WEBSITE_AUTH_ENABLED: 'True',
    ZSA_AUTH_ISSUER: `https://login.microsoftonline.com/${TENANT}/v2.0`,
    ZSA_AUTH_AUDIENCE: API,
    ZSA_TRUST_EASY_AUTH: 'true',
    ZSA_DECISION_LINK_REQUIRE_SIGN_IN: 'true',
    ZSA_PUBLIC_BASE_URL: 'https://func-zsa-abc.azurewebsites.net',
    ZSA_WEBHOOK_SIGNING_KEY: 'a-resolved-secret',
    ZSA_AUDIT_HMAC_KEY: 'another-resolved-secret',
    ...overrides,
  };
}

describe('where the guard applies', () => {
  it.each([
    { name: 'WEBSITE_SITE_NAME', env: { WEBSITE_SITE_NAME: 'func-zsa' }, azure: true },
    { name: 'WEBSITE_INSTANCE_ID', env: { WEBSITE_INSTANCE_ID: 'abc' }, azure: true },
    {
      name: 'neither (local host, Core Tools, tests)',
      env: { WEBSITE_HOSTNAME: '127.0.0.1:7071' },
      azure: false,
    },
    { name: 'blank markers', env: { WEBSITE_SITE_NAME: ' ', WEBSITE_INSTANCE_ID: '' }, azure: false },
  ])('Azure is recognised by $name → $azure', ({ env, azure }) => {
    // Act / Assess
    expect(isAzure(env)).toBe(azure);
  });

  it('says nothing outside Azure, however the environment looks (the local host is development)', () => {
    // Prepare
    const local: Environment = {
      ZSA_LOCAL_HOST: 'true',
      ZSA_AUTH_ISSUER: 'http://127.0.0.1:7071/dev',
      ZSA_AUTH_AUDIENCE: DEVELOPMENT_AUDIENCE,
      ZSA_TRUST_EASY_AUTH: 'true',
    };

    // Act / Assess
    expect(startupProblems(local)).toEqual([]);
  });

  it('lets a sound Azure configuration start', () => {
    // Act / Assess
    expect(startupProblems(anAzureEnvironment())).toEqual([]);
    expect(() => assertStartable(anAzureEnvironment())).not.toThrow();
  });
});

describe('in Azure it refuses to start', () => {
  it.each([
    {
      name: 'token validation not configured (no issuer, no audience)',
      change: { ZSA_AUTH_ISSUER: undefined, ZSA_AUTH_AUDIENCE: undefined },
      says: /Token validation is not configured: set ZSA_AUTH_ISSUER and ZSA_AUTH_AUDIENCE/,
    },
    {
      name: 'an issuer without an audience',
      change: { ZSA_AUTH_AUDIENCE: '  ' },
      says: /Token validation is not configured/,
    },
    {
      name: 'an audience without an issuer',
      change: { ZSA_AUTH_ISSUER: '' },
      says: /Token validation is not configured/,
    },
    {
      name: "the local host's development issuer",
      change: { ZSA_AUTH_ISSUER: 'http://127.0.0.1:7071/dev' },
      says: /ZSA_AUTH_ISSUER is the development issuer or not an Entra issuer \(not https\)/,
    },
    {
      name: 'a development issuer on https loopback',
      change: { ZSA_AUTH_ISSUER: 'https://localhost:7071/dev' },
      says: /ZSA_AUTH_ISSUER .*\(a loopback host\)/,
    },
    {
      name: 'a development issuer published on a public name',
      change: { ZSA_AUTH_ISSUER: 'https://zsa.contoso.com/dev/' },
      says: /ZSA_AUTH_ISSUER .*\(its path ends in \/dev\)/,
    },
    {
      name: "the local host's development audience",
      change: { ZSA_AUTH_AUDIENCE: DEVELOPMENT_AUDIENCE },
      says: /ZSA_AUTH_AUDIENCE is the local host's development audience/,
    },
    {
      name: 'ZSA_LOCAL_HOST=true',
      change: { ZSA_LOCAL_HOST: 'true' },
      says: /ZSA_LOCAL_HOST is true, but it is set by the local host only/,
    },
    {
      name: 'ZSA_TRUST_EASY_AUTH without App Service Authentication',
      change: { ZSA_TRUST_EASY_AUTH: 'true', WEBSITE_AUTH_ENABLED: undefined },
      says: /ZSA_TRUST_EASY_AUTH is true but App Service Authentication is not enabled/,
    },
    {
      name: 'ZSA_TRUST_EASY_AUTH with App Service Authentication turned off',
      change: { ZSA_TRUST_EASY_AUTH: 'True', WEBSITE_AUTH_ENABLED: 'False' },
      says: /ZSA_TRUST_EASY_AUTH is true but App Service Authentication is not enabled/,
    },
    {
      name: 'a Key Vault reference the platform could not resolve',
      change: {
        ZSA_WEBHOOK_SIGNING_KEY:
          '@Microsoft.KeyVault(SecretUri=https://kv-zsa.vault.azure.net/secrets/zsa-webhook-signing-key/)',
      },
      says: /ZSA_WEBHOOK_SIGNING_KEY is an unresolved Key Vault reference/,
    },
    {
      name: 'no audit key (nothing audited could run)',
      change: { ZSA_AUDIT_HMAC_KEY: undefined },
      says: /ZSA_AUDIT_HMAC_KEY is not set/,
    },
    {
      name: 'the audit key is the webhook signing key',
      change: { ZSA_AUDIT_HMAC_KEY: ' a-resolved-secret ' },
      says: /ZSA_AUDIT_HMAC_KEY equals ZSA_WEBHOOK_SIGNING_KEY/,
    },
    {
      name: 'emailed links over plain http',
      change: { ZSA_PUBLIC_BASE_URL: 'http://func-zsa-abc.azurewebsites.net' },
      says: /ZSA_PUBLIC_BASE_URL must be an https URL/,
    },
    {
      name: "the local host's development directory",
      change: { ZSA_DIRECTORY_URL: 'http://127.0.0.1:7071/dev/graph/v1.0' },
      says: /ZSA_DIRECTORY_URL must be an https URL in Azure/,
    },
    {
      name: "the portal signing in at the local host's development issuer",
      change: { ZSA_PORTAL_AUTHORITY: 'http://127.0.0.1:7071/dev' },
      says: /ZSA_PORTAL_AUTHORITY is the development issuer/,
    },
    {
      name: 'the portal signing in at an https authority ending in /dev',
      change: { ZSA_PORTAL_AUTHORITY: 'https://login.example.com/dev' },
      says: /ZSA_PORTAL_AUTHORITY is the development issuer/,
    },
    {
      name: 'no tenant to resolve members in (issuer names none, no ZSA_TENANT_ID)',
      change: { ZSA_AUTH_ISSUER: 'https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0' },
      says: /No tenant: set ZSA_TENANT_ID/,
    },
    {
      name: 'decision links that need sign-in where no browser sign-in is trusted',
      change: { ZSA_TRUST_EASY_AUTH: 'false' },
      says: /ZSA_DECISION_LINK_REQUIRE_SIGN_IN is true but ZSA_TRUST_EASY_AUTH is not/,
    },
    {
      name: 'a setting the schema refuses',
      change: { ZSA_MIN_DURATION_SECONDS: '0' },
      says: /ZSA_MIN_DURATION_SECONDS is invalid: must be a positive whole number/,
    },
  ])('$name', ({ change, says }) => {
    // Prepare
    const env = anAzureEnvironment(change);

    // Act
    const problems = startupProblems(env);

    // Assess
    expect(problems.join('\n')).toMatch(says);
    expect(() => assertStartable(env)).toThrow(StartupRefusedError);
  });

  it('trusts Easy Auth when the platform says it is enabled', () => {
    // Act / Assess
    expect(
      startupProblems(anAzureEnvironment({ ZSA_TRUST_EASY_AUTH: 'true', WEBSITE_AUTH_ENABLED: 'True' })),
    ).toEqual([]);
  });

  it('reports every problem in one log line, naming the settings and where to read more', () => {
    // Prepare
    const env = anAzureEnvironment({ ZSA_LOCAL_HOST: 'true', ZSA_AUTH_ISSUER: undefined });

    // Act
    let refused: unknown;
    try {
      assertStartable(env);
    } catch (error) {
      refused = error;
    }

    // Assess
    expect(refused).toBeInstanceOf(StartupRefusedError);
    const error = refused as StartupRefusedError;
    expect(error.problems).toHaveLength(2);
    expect(error.message).not.toContain('\n');
    expect(error.message).toMatch(
      /^ZSA refuses to start: ZSA_LOCAL_HOST .* ZSA_AUTH_ISSUER .* See docs\/deploy\.md/,
    );
  });
});

describe('the development issuer is recognisable', () => {
  it.each([
    { issuer: `https://login.microsoftonline.com/${TENANT}/v2.0`, reason: undefined },
    { issuer: `https://sts.windows.net/${TENANT}/`, reason: undefined },
    { issuer: 'http://127.0.0.1:7071/dev', reason: 'not https' },
    { issuer: 'https://127.0.0.2/issuer', reason: 'a loopback host' },
    { issuer: 'https://[::1]:8443/', reason: 'a loopback host' },
    { issuer: 'https://zsa.localhost/', reason: 'a loopback host' },
    { issuer: 'https://issuer.contoso.com/DEV', reason: 'its path ends in /dev' },
    { issuer: 'not a url', reason: 'not a URL' },
  ])('$issuer → $reason', ({ issuer, reason }) => {
    // Act / Assess
    expect(developmentIssuerReason(issuer)).toBe(reason);
  });

  it("refuses, in Azure, the audience the local host's launcher gives its development issuer", () => {
    // Prepare: the settings the launcher derives for a host whose issuer signs for that audience.
    const launcher = zsaHostOptions();
    const derived = launcher.configure(
      {
        origin: 'http://127.0.0.1:7071',
        dataDir: undefined,
        issuer: {
          url: 'http://127.0.0.1:7071/dev',
          audience: launcher.devAudience,
          tenantId: '7e57da7a-0000-4000-8000-00000000de70',
          directoryUrl: 'http://127.0.0.1:7071/dev/graph/v1.0',
        },
        smtpUrl: 'smtp://127.0.0.1:2525',
        serviceBus: 'Endpoint=sb://127.0.0.1:5672/;SharedAccessKeyName=k;SharedAccessKey=v',
        telemetryUrl: 'http://127.0.0.1:7071/dev/telemetry',
      },
      {},
    );
    const audience = derived.settings?.ZSA_AUTH_AUDIENCE ?? '';

    // Act / Assess: in Azure, with an otherwise valid configuration, that audience is refused.
    expect(audience).not.toBe('');
    expect(() => assertStartable(anAzureEnvironment({ ZSA_AUTH_AUDIENCE: audience }))).toThrow(
      StartupRefusedError,
    );
  });
});
