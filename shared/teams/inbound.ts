/**
 * Authenticates an activity on `/api/messages` as Bot Framework specifies
 * (https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-authentication):
 * a bearer JWT signed with a key of the issuer in `ZSA_TEAMS_TOKEN_ISSUER`'s OpenID metadata, issued
 * by that issuer, for this bot (`aud` = `ZSA_TEAMS_BOT_APP_ID`), not expired (five minutes of clock
 * skew, as Bot Framework allows), whose `serviceurl` claim is the activity's `serviceUrl`: a token
 * taken from one conversation cannot carry an activity pointing ZSA's replies elsewhere; and, as
 * the Bot Framework SDK checks, whose signing key is endorsed for Teams (the key's `endorsements`
 * list `msteams`) and whose activity comes from Teams (`channelId` `msteams`): a token Bot Framework
 * signed for another channel (Web Chat, Slack...) cannot act in Teams. Anything else is a 401 and
 * the activity is not read further.
 *
 * A key that lists no endorsements is accepted only from a development issuer on this machine (the
 * local host's, ZSA_TEAMS_TOKEN_ISSUER on a loopback host, which the settings guard refuses in
 * Azure); Bot Framework's keys always list them (ADR 0014).
 */
import { AuthError } from '#shared/auth/index';
import type { JWK } from 'jose';
import { createBearerVerifier } from '#shared/auth/bearer';
import { isLoopbackHost } from '#shared/domain/loopback';

export interface ActivityAuthOptions {
  /** `ZSA_TEAMS_TOKEN_ISSUER`: the OpenID metadata URL. */
  readonly metadataUrl: string;
  /** `ZSA_TEAMS_BOT_APP_ID`. */
  readonly botAppId: string;
  readonly now: () => Date;
}

export interface ActivityAuthenticator {
  /**
   * Throws AuthError (401) unless the header carries a valid token for this activity's service URL
   * and the activity's channel is Teams.
   */
  verify(authorization: string | null, activity: { serviceUrl: string; channelId: string }): Promise<void>;
}

/** Bot Framework's allowance for clocks that disagree. */
const CLOCK_TOLERANCE_SECONDS = 300;

function sameServiceUrl(a: string, b: string): boolean {
  return a.replace(/\/+$/, '').toLowerCase() === b.replace(/\/+$/, '').toLowerCase();
}

/** The Bot Framework channel id of Teams: the one channel ZSA's bot serves. */
export const TEAMS_CHANNEL = 'msteams';

/**
 * Why a signing key is refused for Teams, or undefined: it must list `msteams` among its
 * endorsements; one that lists none passes only when `unendorsedAllowed` (the local dev issuer).
 */
export function keyRefusal(
  jwk: (JWK & { readonly endorsements?: unknown }) | undefined,
  unendorsedAllowed: boolean,
): string | undefined {
  const endorsements = jwk?.endorsements;
  if (endorsements === undefined)
    return unendorsedAllowed ? undefined : 'The token was signed with a key not endorsed for Teams.';
  return Array.isArray(endorsements) && endorsements.includes(TEAMS_CHANNEL)
    ? undefined
    : 'The token was signed with a key not endorsed for Teams.';
}

export function createActivityAuthenticator(options: ActivityAuthOptions): ActivityAuthenticator {
  const verifier = createBearerVerifier({
    issuer: { metadataUrl: options.metadataUrl },
    audience: options.botAppId,
    clockToleranceSeconds: CLOCK_TOLERANCE_SECONDS,
    jwksCooldownSeconds: 30,
    now: options.now,
    refuseKey: (jwk) => keyRefusal(jwk, isLoopbackHost(new URL(options.metadataUrl).hostname)),
  });
  return {
    async verify(authorization, { serviceUrl, channelId }) {
      if (channelId !== TEAMS_CHANNEL)
        throw new AuthError(
          'INVALID_TOKEN',
          `The activity is not from Teams (channel ${JSON.stringify(channelId)}).`,
        );
      const match = /^Bearer ([^\s]+)$/i.exec(authorization?.trim() ?? '');
      if (match?.[1] === undefined)
        throw new AuthError('MISSING_TOKEN', 'The activity carries no bearer token.');
      const payload = await verifier.verify(match[1]);
      const claim = payload['serviceurl'] ?? payload['serviceUrl'];
      if (typeof claim !== 'string' || !sameServiceUrl(claim, serviceUrl))
        throw new AuthError('INVALID_TOKEN', "The token was not issued for this activity's service URL.");
    },
  };
}
