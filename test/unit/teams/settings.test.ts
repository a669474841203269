/**
 * The Teams settings: off unless the bot's app id is set, Bot Framework's issuer and Teams' service
 * host by default, and, in Azure, never the local host's development issuer (which would let anyone
 * sign an activity as any approver).
 */
import { describe, expect, it } from 'vitest';
import { startupProblems, type Environment } from '#shared/app/startup-guard';
import { BOT_FRAMEWORK_OPENID_METADATA, settings } from '#shared/config';
import { teamsSettings } from '#shared/teams/wiring';

const TENANT = '11111111-2222-3333-4444-555555555555';
const BOT = '22222222-3333-4444-5555-666666666666';

const AZURE: Environment = {
  WEBSITE_SITE_NAME: 'func-zsa-abc',
  WEBSITE_INSTANCE_ID: '0123456789abcdef',
  WEBSITE_AUTH_ENABLED: 'True',
  ZSA_AUTH_ISSUER: `https://login.microsoftonline.com/${TENANT}/v2.0`,
  ZSA_AUTH_AUDIENCE: '66666666-7777-8888-9999-000000000000',
  ZSA_TRUST_EASY_AUTH: 'true',
  ZSA_PUBLIC_BASE_URL: 'https://func-zsa-abc.azurewebsites.net',
  ZSA_WEBHOOK_SIGNING_KEY: 'a-resolved-secret',
  ZSA_AUDIT_HMAC_KEY: 'another-resolved-secret',
  ZSA_TEAMS_BOT_APP_ID: BOT,
};

describe('the Teams settings', () => {
  it("are off without the bot's app id", () => {
    // Act / Assert
    expect(teamsSettings(settings({ ZSA_AUTH_ISSUER: AZURE.ZSA_AUTH_ISSUER }))).toBeUndefined();
  });

  it("default to Bot Framework's issuer and Teams' service host, in ZSA's tenant", () => {
    // Act
    const teams = teamsSettings(
      settings({ ZSA_AUTH_ISSUER: AZURE.ZSA_AUTH_ISSUER, ZSA_TEAMS_BOT_APP_ID: BOT }),
    );

    // Assert
    expect(teams).toEqual({
      botAppId: BOT,
      metadataUrl: BOT_FRAMEWORK_OPENID_METADATA,
      allowed: ['smba.trafficmanager.net'],
      tenantId: TENANT,
    });
  });

  it('start in Azure as infra sets them', () => {
    // Act / Assert
    expect(startupProblems(AZURE)).toEqual([]);
  });

  it.each([
    'http://127.0.0.1:7071/dev/.well-known/openid-configuration',
    'https://localhost/dev/.well-known/openid-configuration',
    'https://zsa.contoso.com/dev',
  ])('refuse, in Azure, the issuer %s', (issuer) => {
    // Act
    const problems = startupProblems({ ...AZURE, ZSA_TEAMS_TOKEN_ISSUER: issuer });

    // Assert
    expect(problems.some((p) => p.startsWith('ZSA_TEAMS_TOKEN_ISSUER is the development issuer'))).toBe(true);
  });
});
