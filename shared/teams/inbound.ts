/**
 * Authenticates an activity on `/api/messages` as Bot Framework specifies
 * (https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-authentication):
 * a bearer JWT signed with a key of the issuer in `ZSA_TEAMS_TOKEN_ISSUER`'s OpenID metadata, issued
 * by that issuer, for this bot (`aud` = `ZSA_TEAMS_BOT_APP_ID`), not expired (five minutes of clock
 * skew, as Bot Framework allows), whose `serviceurl` claim is the activity's `serviceUrl`: a token
 * taken from one conversation cannot carry an activity pointing ZSA's replies elsewhere. Anything
 * else is a 401 and the activity is not read further.
 */
import { AuthError } from '#shared/auth/index';
import { createBearerVerifier } from '#shared/auth/bearer';

export interface ActivityAuthOptions {
  /** `ZSA_TEAMS_TOKEN_ISSUER`: the OpenID metadata URL. */
  readonly metadataUrl: string;
  /** `ZSA_TEAMS_BOT_APP_ID`. */
  readonly botAppId: string;
  readonly now: () => Date;
}

export interface ActivityAuthenticator {
  /** Throws AuthError (401) unless the header carries a valid token for this activity's service URL. */
  verify(authorization: string | null, serviceUrl: string): Promise<void>;
}

/** Bot Framework's allowance for clocks that disagree. */
const CLOCK_TOLERANCE_SECONDS = 300;

function sameServiceUrl(a: string, b: string): boolean {
  return a.replace(/\/+$/, '').toLowerCase() === b.replace(/\/+$/, '').toLowerCase();
}

export function createActivityAuthenticator(options: ActivityAuthOptions): ActivityAuthenticator {
  const verifier = createBearerVerifier({
    issuer: { metadataUrl: options.metadataUrl },
    audience: options.botAppId,
    clockToleranceSeconds: CLOCK_TOLERANCE_SECONDS,
    jwksCooldownSeconds: 30,
    now: options.now,
  });
  return {
    async verify(authorization, serviceUrl) {
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
