import { z } from 'zod';
import { AuthError } from './errors';
import { type IdentityClaims, type Principal, principalFromClaims } from './principal';

/** Header that App Service Authentication sets on authenticated requests (and strips from clients). */
export const EASY_AUTH_PRINCIPAL_HEADER = 'x-ms-client-principal';

// Generous for a header, small enough that a forged one cannot make us decode megabytes.
const MAX_HEADER_LENGTH = 64 * 1024;
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

/**
 * App Service's shape. `auth_typ` is required on purpose: Static Web Apps send a different shape
 * (`identityProvider`, `userRoles`, …) that must not be mistaken for this one. Extra fields are
 * tolerated because the platform may add some.
 */
const ClientPrincipalSchema = z.object({
  // Entra ID only: ZSA's roles and tenant-scoped ids mean nothing from another identity provider,
  // and an email-matching Google or GitHub sign-in must never become an approver.
  auth_typ: z.literal('aad'),
  claims: z.array(z.object({ typ: z.string(), val: z.string() })).max(2000),
  name_typ: z.string().optional(),
  role_typ: z.string().optional(),
});

type ClientPrincipal = z.infer<typeof ClientPrincipalSchema>;

// Easy Auth may present claims under their short JWT names or under the long URIs of .NET's default
// claim mapping; both spellings are read. `email` and `unique_name` (the long `…/claims/name`) are
// not read at all: a user can have them name someone else (see principal.ts).
const CLAIM_TYPES = {
  tid: ['tid', 'http://schemas.microsoft.com/identity/claims/tenantid'],
  oid: ['oid', 'http://schemas.microsoft.com/identity/claims/objectidentifier'],
  sub: ['sub', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier'],
  upn: ['upn', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn'],
  preferred_username: ['preferred_username'],
  name: ['name'],
  azp: ['azp'],
  appid: ['appid'],
  idtyp: ['idtyp'],
  scp: ['scp', 'http://schemas.microsoft.com/identity/claims/scope'],
} as const satisfies Record<Exclude<keyof IdentityClaims, 'roles' | 'acrs' | 'amr'>, readonly string[]>;

// How the user signed in: one claim per value, like roles. `amr` may come under the long URI of the
// default claim mapping; `acrs` has no long form.
const STRENGTH_CLAIM_TYPES = {
  acrs: ['acrs'],
  amr: ['amr', 'http://schemas.microsoft.com/claims/authnmethodsreferences'],
} as const;

const ROLE_CLAIM_TYPES = ['roles', 'role', 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role'];

/**
 * Decodes a trusted `x-ms-client-principal` header into a principal. Call this ONLY when the app
 * runs behind App Service Authentication: anywhere else any client can forge the header.
 */
export function principalFromEasyAuthHeader(header: string): Principal {
  const claims = claimsFromEasyAuthHeader(header);
  const result = principalFromClaims(claims, 'easyAuth');
  if (!result.ok) {
    throw new AuthError('INVALID_PRINCIPAL', `The platform principal is not usable: ${result.reason}.`);
  }
  return result.principal;
}

/** The claims of a trusted `x-ms-client-principal` header (same caveat as principalFromEasyAuthHeader). */
export function claimsFromEasyAuthHeader(header: string): IdentityClaims {
  return claimsFromClientPrincipal(decode(header));
}

/** Maps the header's claim list (short or long claim types) to the claims ZSA reads. */
export function claimsFromClientPrincipal(principal: ClientPrincipal): IdentityClaims {
  const first = (types: readonly string[]): string | undefined =>
    principal.claims.find((claim) => types.includes(claim.typ))?.val;
  const roleTypes =
    principal.role_typ === undefined ? ROLE_CLAIM_TYPES : [...ROLE_CLAIM_TYPES, principal.role_typ];
  return {
    tid: first(CLAIM_TYPES.tid),
    oid: first(CLAIM_TYPES.oid),
    sub: first(CLAIM_TYPES.sub),
    upn: first(CLAIM_TYPES.upn),
    preferred_username: first(CLAIM_TYPES.preferred_username),
    name: first(CLAIM_TYPES.name),
    azp: first(CLAIM_TYPES.azp),
    appid: first(CLAIM_TYPES.appid),
    idtyp: first(CLAIM_TYPES.idtyp),
    scp: first(CLAIM_TYPES.scp),
    // One claim per role: that is how the platform lists multi-valued claims.
    roles: principal.claims.filter((claim) => roleTypes.includes(claim.typ)).map((claim) => claim.val),
    acrs: strengthClaim(principal, STRENGTH_CLAIM_TYPES.acrs),
    amr: strengthClaim(principal, STRENGTH_CLAIM_TYPES.amr),
  };
}

/**
 * Every value of a strength claim: one claim per value, or one claim whose value is the JSON array
 * itself (how a multi-valued claim may be flattened); principal.ts bounds and cleans the values.
 */
function strengthClaim(principal: ClientPrincipal, types: readonly string[]): unknown[] {
  return principal.claims
    .filter((claim) => types.includes(claim.typ))
    .flatMap((claim) => (claim.val.trimStart().startsWith('[') ? jsonArray(claim.val) : [claim.val]));
}

function jsonArray(text: string): unknown[] {
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) ? parsed : [];
  } catch {
    return [];
  }
}

function decode(header: string): ClientPrincipal {
  const trimmed = header.trim();
  if (trimmed.length === 0 || trimmed.length > MAX_HEADER_LENGTH || !BASE64.test(trimmed)) {
    throw new AuthError('INVALID_PRINCIPAL', 'The platform principal header is not valid Base64.');
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(trimmed, 'base64').toString('utf8'));
  } catch (cause) {
    throw new AuthError('INVALID_PRINCIPAL', 'The platform principal header is not valid JSON.', { cause });
  }
  const parsed = ClientPrincipalSchema.safeParse(json);
  if (!parsed.success) {
    throw new AuthError(
      'INVALID_PRINCIPAL',
      'The platform principal header does not have the expected shape.',
      {
        cause: parsed.error,
      },
    );
  }
  return parsed.data;
}
