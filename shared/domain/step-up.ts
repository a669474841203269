/**
 * Step-up for approvers: a policy may require that decisions on its requests (approve, deny,
 * extension decisions, reviews of emergency use) come from a token that proves a Conditional Access
 * authentication context (`c1` … `c99`, Entra's `acrs` claim) or multi-factor sign-in (`"mfa"`, the
 * `amr` claim). A token without it is answered 401 with the claims challenge Entra and MSAL
 * understand (`WWW-Authenticate: Bearer error="insufficient_claims", claims="…"`), so the client
 * signs in again with that claim and retries.
 */
import { z } from 'zod';
import { DomainError } from './errors';

/** `c1` … `c99`, or `mfa`. */
export const AuthContext = z
  .string()
  .regex(/^(mfa|c[1-9][0-9]?)$/, 'must be an authentication context id c1 … c99, or "mfa"');
export type AuthContext = z.output<typeof AuthContext>;

/** What a caller's token proves about how they signed in (`acrs`, `amr`; empty when it says nothing). */
export interface AuthStrength {
  readonly acrs: readonly string[];
  readonly amr: readonly string[];
}

export const NO_STRENGTH: AuthStrength = { acrs: [], amr: [] };

/** Whether `strength` meets `required` (null: nothing required). */
export function meetsAuthContext(required: string | null, strength: AuthStrength): boolean {
  if (required === null) return true;
  return required === 'mfa' ? strength.amr.includes('mfa') : strength.acrs.includes(required);
}

/**
 * The claims request a client sends back to the identity provider (base64 of JSON, as Entra's
 * claims challenge carries it): the authentication context as an essential `acrs` value, or
 * multi-factor sign-in as an essential `amr` value.
 */
export function claimsRequest(required: string): string {
  const claims =
    required === 'mfa'
      ? { access_token: { amr: { essential: true, values: ['mfa'] } } }
      : { access_token: { acrs: { essential: true, value: required } } };
  // ASCII only, so btoa (available in every runtime ZSA runs on) is exact.
  return btoa(JSON.stringify(claims));
}

/** The `WWW-Authenticate` value of a step-up refusal (RFC 6750 §3 with Entra's `claims` parameter). */
export function claimsChallenge(required: string): string {
  return `Bearer error="insufficient_claims", error_description="This decision needs a stronger sign-in", claims="${claimsRequest(required)}"`;
}

/** Why `strength` may not decide where `required` is asked, or undefined when it may. */
export function stepUpRefusal(required: string | null, strength: AuthStrength): DomainError | undefined {
  if (meetsAuthContext(required, strength) || required === null) return undefined;
  return new DomainError(
    'STEP_UP_REQUIRED',
    required === 'mfa'
      ? 'Deciding on this request needs a multi-factor sign-in; sign in again with MFA and retry'
      : `Deciding on this request needs the authentication context ${required}; sign in again to satisfy it and retry`,
    { challenge: claimsChallenge(required) },
  );
}
