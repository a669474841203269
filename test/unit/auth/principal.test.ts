import { describe, expect, it } from 'vitest';
import {
  claimsFromJwtPayload,
  principalFromClaims,
  requireRole,
  strengthValues,
  type IdentityClaims,
} from '#shared/auth/principal';
import { meetsAuthContext, NO_STRENGTH } from '#shared/domain/step-up';
import { AuthError } from '#shared/auth/errors';
import { knownRoles } from '#shared/auth/roles';

const TID = '72F988BF-86F1-41AF-91AB-2D7CD011DB47';
const OID = '00000000-0000-0000-0000-0000000000a1';

function claims(overrides: Partial<IdentityClaims> = {}): IdentityClaims {
  return { tid: TID, oid: OID, upn: 'Alice@Contoso.com', roles: [], ...overrides };
}

describe('principalFromClaims', () => {
  it('keys an Entra user on tenant and object id, lower-cased, and lower-cases the UPN', () => {
    // Prepare
    const input = claims({ name: 'Alice Liddell', roles: ['PAM.Admin'] });

    // Act
    const result = principalFromClaims(input, 'bearer');

    // Assess
    expect(result).toEqual({
      ok: true,
      principal: {
        id: `${TID.toLowerCase()}:${OID}`,
        tenantId: TID.toLowerCase(),
        objectId: OID,
        upn: 'alice@contoso.com',
        name: 'Alice Liddell',
        roles: ['PAM.Admin'],
        isAdmin: true,
        isAuditor: false,
        authMethod: 'bearer',
        strength: { acrs: [], amr: [] },
      },
    });
  });

  it('keys a token without tid and oid on its subject, as dev:<sub>', () => {
    const result = principalFromClaims(
      { sub: 'abc-123', preferred_username: 'bob@example.test', roles: [] },
      'bearer',
    );

    expect(result).toMatchObject({ ok: true, principal: { id: 'dev:abc-123', upn: 'bob@example.test' } });
    expect(result.ok && 'tenantId' in result.principal).toBe(false);
  });

  it.each([
    { scenario: 'tid without oid', input: claims({ oid: undefined }), reason: /both be present/ },
    { scenario: 'oid without tid', input: claims({ tid: undefined }), reason: /both be present/ },
    { scenario: 'tid not a GUID', input: claims({ tid: 'contoso' }), reason: /tenant id/ },
    { scenario: 'oid not a GUID', input: claims({ oid: 'x:y' }), reason: /object id/ },
    { scenario: 'no tid, oid or sub', input: { upn: 'a@b.c', roles: [] }, reason: /no user identifier/ },
    {
      scenario: 'no user name claim at all',
      input: claims({ upn: undefined }),
      reason: /no user name/,
    },
    { scenario: 'blank UPN', input: claims({ upn: '   ' }), reason: /no user name/ },
    { scenario: 'UPN with a space', input: claims({ upn: 'a b@c.d' }), reason: /spaces or control/ },
    { scenario: 'UPN too long', input: claims({ upn: `${'a'.repeat(260)}@c.d` }), reason: /too long/ },
  ])('$scenario → refused', ({ input, reason }) => {
    const result = principalFromClaims(input, 'bearer');

    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.reason).toMatch(reason);
  });

  it.each([
    {
      scenario: 'upn wins over the others',
      input: { upn: 'U@x.y', preferred_username: 'p@x.y' },
      upn: 'u@x.y',
    },
    {
      scenario: 'then preferred_username',
      input: { preferred_username: 'P@x.y' },
      upn: 'p@x.y',
    },
  ])('user name: $scenario', ({ input, upn }) => {
    const result = principalFromClaims({ tid: TID, oid: OID, roles: [], ...input }, 'bearer');

    expect(result).toMatchObject({ ok: true, principal: { upn } });
  });

  it.each([
    { scenario: 'no roles', roles: [], expected: [], isAdmin: false, isAuditor: false },
    {
      scenario: 'unknown roles are ignored',
      roles: ['Task.Write', 'pam.admin', 'PAM.Owner'],
      expected: [],
      isAdmin: false,
      isAuditor: false,
    },
    {
      scenario: 'auditor only',
      roles: ['PAM.Auditor', 'Other'],
      expected: ['PAM.Auditor'],
      isAdmin: false,
      isAuditor: true,
    },
    {
      scenario: 'both, duplicated, in any order',
      roles: ['PAM.Auditor', 'PAM.Admin', 'PAM.Admin'],
      expected: ['PAM.Admin', 'PAM.Auditor'],
      isAdmin: true,
      isAuditor: true,
    },
  ])('roles: $scenario', ({ roles, expected, isAdmin, isAuditor }) => {
    const result = principalFromClaims(claims({ roles }), 'easyAuth');

    expect(result).toMatchObject({
      ok: true,
      principal: { roles: expected, isAdmin, isAuditor, authMethod: 'easyAuth' },
    });
  });

  it('strips control characters from the display name', () => {
    const result = principalFromClaims(claims({ name: 'Eve\u0007\nAdmin' }), 'bearer');

    expect(result).toMatchObject({ ok: true, principal: { name: 'EveAdmin' } });
  });
});

describe('claimsFromJwtPayload', () => {
  it('reads string claims and ignores values of the wrong type', () => {
    const result = claimsFromJwtPayload({
      tid: TID,
      oid: 42,
      upn: ['a@b.c'],
      preferred_username: 'p@b.c',
      roles: ['PAM.Admin', 7, null, 'PAM.Auditor'],
    });

    expect(result).toEqual({
      tid: TID,
      oid: undefined,
      sub: undefined,
      upn: undefined,
      preferred_username: 'p@b.c',
      name: undefined,
      roles: ['PAM.Admin', 'PAM.Auditor'],
      acrs: [],
      amr: [],
    });
  });

  it.each([
    { scenario: 'only email (a user can set an address naming someone else)', claim: 'email' },
    { scenario: 'only unique_name', claim: 'unique_name' },
  ])('a token naming its user by $scenario is refused: no name comes from it', ({ claim }) => {
    const claims = claimsFromJwtPayload({ tid: TID, oid: OID, [claim]: 'carol@contoso.com', roles: [] });

    expect(principalFromClaims(claims, 'bearer')).toMatchObject({ ok: false, reason: /no user name/ });
  });

  it('accepts a single role given as a string', () => {
    expect(claimsFromJwtPayload({ roles: 'PAM.Auditor' }).roles).toEqual(['PAM.Auditor']);
  });
});

describe('strength (acrs, amr) from a bearer token', () => {
  const principalOf = (payload: Record<string, unknown>) => {
    const result = principalFromClaims(
      claimsFromJwtPayload({ tid: TID, oid: OID, upn: 'a@b.c', ...payload }),
      'bearer',
    );
    if (!result.ok) throw new Error(result.reason);
    return result.principal;
  };

  it('reads the acrs and amr arrays', () => {
    expect(principalOf({ acrs: ['c1', 'c7'], amr: ['pwd', 'mfa'] }).strength).toEqual({
      acrs: ['c1', 'c7'],
      amr: ['pwd', 'mfa'],
    });
  });

  it('proves nothing when the claims are absent', () => {
    expect(principalOf({}).strength).toEqual(NO_STRENGTH);
  });

  it('ignores non-string entries, blanks, spaces and over-long values, and repeats', () => {
    const strength = principalOf({
      acrs: ['c1', 7, null, { c: 2 }, ['c3'], '', ' ', 'c 4', 'x'.repeat(65), 'c1'],
      amr: 'mfa',
    }).strength;

    expect(strength).toEqual({ acrs: ['c1'], amr: ['mfa'] });
  });

  it('ignores claims of the wrong type altogether', () => {
    expect(principalOf({ acrs: { c1: true }, amr: 42 }).strength).toEqual(NO_STRENGTH);
  });

  it('bounds how many values it keeps', () => {
    const many = Array.from({ length: 10_000 }, (_, i) => `v${i}`);
    const strength = principalOf({ acrs: many, amr: many }).strength;

    expect(strength.acrs).toHaveLength(32);
    expect(strength.amr).toHaveLength(32);
  });

  it('a forged-looking value is only a string: it meets nothing but itself', () => {
    const strength = principalOf({ acrs: ['C1', 'c1 '], amr: ['MFA'] }).strength;

    expect(meetsAuthContext('mfa', strength)).toBe(false);
    expect(meetsAuthContext('c1', strength)).toBe(true);
    expect(meetsAuthContext('c2', strength)).toBe(false);
  });
});

describe('strengthValues', () => {
  it('keeps printable, bounded, distinct strings in order', () => {
    expect(strengthValues(['b', 'a', 'b', '\u0000c', 'd\n'])).toEqual(['b', 'a', 'd']);
    expect(strengthValues(undefined)).toEqual([]);
  });
});

describe('knownRoles', () => {
  it('keeps known roles once each in a fixed order', () => {
    expect(knownRoles(['PAM.Auditor', 3, 'PAM.Admin', 'PAM.Auditor'])).toEqual(['PAM.Admin', 'PAM.Auditor']);
  });
});

describe('requireRole', () => {
  const result = principalFromClaims(claims({ roles: ['PAM.Auditor'] }), 'bearer');
  if (!result.ok) throw new Error('fixture principal must be valid');
  const auditor = result.principal;

  it('passes when the principal holds one of the roles', () => {
    expect(() => {
      requireRole(auditor, 'PAM.Admin', 'PAM.Auditor');
    }).not.toThrow();
  });

  it('refuses with 403 INSUFFICIENT_ROLE otherwise', () => {
    let thrown: unknown;
    try {
      requireRole(auditor, 'PAM.Admin');
    } catch (error) {
      thrown = error;
    }

    expect(thrown).toBeInstanceOf(AuthError);
    expect(thrown).toMatchObject({ status: 403, code: 'INSUFFICIENT_ROLE', wwwAuthenticate: undefined });
  });
});
