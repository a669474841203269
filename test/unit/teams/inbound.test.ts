/**
 * What an activity's token must carry beyond its signature, as the Bot Framework SDK checks: a
 * signing key endorsed for Teams, and an activity from the Teams channel.
 */
import { describe, expect, it } from 'vitest';
import { AuthError } from '#shared/auth/index';
import { createActivityAuthenticator, keyRefusal, TEAMS_CHANNEL } from '#shared/teams/inbound';

const KEY = { kty: 'RSA', kid: 'k1', n: 'AQAB', e: 'AQAB' };

describe('keyRefusal: the signing key must be endorsed for Teams', () => {
  it('accepts a key whose endorsements list msteams', () => {
    // Act / Assert
    expect(keyRefusal({ ...KEY, endorsements: ['msteams', 'webchat'] }, false)).toBeUndefined();
  });

  it.each([
    ['endorsed for other channels only', { ...KEY, endorsements: ['webchat', 'slack'] }],
    ['with endorsements that are not a list', { ...KEY, endorsements: 'msteams' }],
  ])('refuses a key %s, even from the dev issuer', (_name, jwk) => {
    // Act / Assert
    expect(keyRefusal(jwk, false)).toMatch(/not endorsed for Teams/);
    expect(keyRefusal(jwk, true)).toMatch(/not endorsed for Teams/);
  });

  it('accepts a key without endorsements only from the local dev issuer', () => {
    // Act / Assert
    expect(keyRefusal(KEY, false)).toMatch(/not endorsed for Teams/);
    expect(keyRefusal(KEY, true)).toBeUndefined();
    expect(keyRefusal(undefined, false)).toMatch(/not endorsed for Teams/);
  });
});

describe('the activity authenticator', () => {
  const authenticator = createActivityAuthenticator({
    metadataUrl: 'https://login.botframework.com/v1/.well-known/openidconfiguration',
    botAppId: '3f2b6c1e-9a1d-4c8e-8b7a-2d4e6f8a0b1c',
    now: () => new Date('2026-12-04T08:00:00Z'),
  });

  it.each(['webchat', 'emulator', ''])(
    'refuses an activity from channel %j before reading any key',
    async (channelId) => {
      // Act
      const verifying = authenticator.verify('Bearer a.b.c', {
        serviceUrl: 'https://smba.trafficmanager.net/emea/',
        channelId,
      });

      // Assert
      await expect(verifying).rejects.toThrow(AuthError);
      await expect(verifying).rejects.toThrow(/not from Teams/);
    },
  );

  it('names Teams as msteams, the channel id Bot Framework gives it', () => {
    // Assert
    expect(TEAMS_CHANNEL).toBe('msteams');
  });
});
