import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  DomainError,
  ERROR_CODES,
  errorKindOf,
  ErrorKind,
  isDomainError,
  parseOrThrow,
  pointerOf,
} from '#shared/domain/errors';
import {
  ApproverGroupBody,
  assertPamEnabled,
  disablePam,
  enablePam,
  EnablePamBody,
  INITIAL_PAM_CONFIG,
  isSystemAccount,
  PamConfig,
} from '#shared/domain/pam';
import { ADMIN, GROUP, hoursAfterT0, idOf, iso, memberOf, T0 } from './builders';

describe('PAM configuration', () => {
  it('starts disabled, so nothing can be requested', () => {
    // Act
    let error: unknown;
    try {
      assertPamEnabled(INITIAL_PAM_CONFIG);
    } catch (e) {
      error = e;
    }

    // Assess
    expect(isDomainError(error, 'PAM_DISABLED')).toBe(true);
    expect(PamConfig.safeParse(INITIAL_PAM_CONFIG).success).toBe(true);
  });

  it('enable → enabled with the default group and system accounts, stamped with who and when', () => {
    // Prepare
    const body = EnablePamBody.parse({
      defaultApproverGroup: GROUP,
      systemAccounts: ['Svc-Automation@Contoso.com'],
    });

    // Act
    const config = enablePam(body, [memberOf('svc-automation@contoso.com')], 'Admin@Contoso.com', T0);

    // Assess
    expect(body.systemAccounts).toEqual(['svc-automation@contoso.com']);
    expect(config).toEqual({
      enabled: true,
      defaultApproverGroup: GROUP,
      systemAccounts: [memberOf('svc-automation@contoso.com')],
      updatedAt: iso(T0),
      updatedBy: ADMIN,
    });
    expect(() => assertPamEnabled(config)).not.toThrow();
  });

  it('disable keeps the group and system accounts; system accounts stop counting', () => {
    // Prepare
    const enabled = enablePam(
      EnablePamBody.parse({ defaultApproverGroup: GROUP, systemAccounts: ['svc@contoso.com'] }),
      [memberOf('svc@contoso.com')],
      ADMIN,
      T0,
    );

    // Act
    const disabled = disablePam(enabled, ADMIN, hoursAfterT0(1));

    // Assess
    expect(disabled).toMatchObject({
      enabled: false,
      defaultApproverGroup: GROUP,
      systemAccounts: [memberOf('svc@contoso.com')],
    });
    expect(isSystemAccount(enabled, idOf('svc@contoso.com'))).toBe(true);
    expect(isSystemAccount(disabled, idOf('svc@contoso.com'))).toBe(false);
  });

  it('a system account is its key: a caller merely named like it is not one, nor one not yet keyed', () => {
    const config = enablePam(
      EnablePamBody.parse({
        defaultApproverGroup: GROUP,
        systemAccounts: ['svc@contoso.com', 'old@contoso.com'],
      }),
      [memberOf('svc@contoso.com'), { upn: 'old@contoso.com', id: null }],
      ADMIN,
      T0,
    );
    expect(isSystemAccount(config, 'tid:stranger-named-svc@contoso.com')).toBe(false);
    expect(isSystemAccount(config, idOf('old@contoso.com'))).toBe(false);
    expect(isSystemAccount(config, idOf('svc@contoso.com'))).toBe(true);
  });

  it.each([
    { name: 'enable without a group', parse: () => EnablePamBody.safeParse({}) },
    {
      name: 'enable with an unknown field',
      parse: () => EnablePamBody.safeParse({ defaultApproverGroup: GROUP, approvers: [] }),
    },
    { name: 'a group with no member', parse: () => ApproverGroupBody.safeParse({ members: [] }) },
    {
      name: 'a member listed twice in different case',
      parse: () => ApproverGroupBody.safeParse({ members: ['bob@contoso.com', 'BOB@contoso.com'] }),
    },
    { name: 'a member that is not a UPN', parse: () => ApproverGroupBody.safeParse({ members: ['bob'] }) },
  ])('refuses $name', ({ parse }) => {
    // Act / Assess
    expect(parse().success).toBe(false);
  });
});

describe('errors', () => {
  it('maps every code to a kind of the closed set', () => {
    // Prepare
    const kinds = new Set<string>(Object.values(ErrorKind));

    // Act / Assess
    for (const code of ERROR_CODES) expect(kinds.has(errorKindOf(code)), code).toBe(true);
  });

  it.each([
    { code: 'SELF_APPROVAL', kind: 'forbidden' },
    { code: 'REQUEST_NOT_PENDING', kind: 'conflict' },
    { code: 'ALREADY_DECIDED', kind: 'conflict' },
    { code: 'NO_POLICY', kind: 'validation' },
    { code: 'DURATION_TOO_LONG', kind: 'validation' },
    { code: 'PAM_DISABLED', kind: 'conflict' },
    { code: 'NO_ACTIVE_GRANT', kind: 'forbidden' },
    { code: 'NOT_FOUND', kind: 'not-found' },
  ] as const)('$code is a $kind error (the HTTP contract depends on it)', ({ code, kind }) => {
    // Act
    const error = new DomainError(code, 'x');

    // Assess
    expect(error.kind).toBe(kind);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('DomainError');
  });

  it('parseOrThrow turns schema failures into INVALID_INPUT with JSON pointers and keeps the cause', () => {
    // Prepare
    const schema = z.strictObject({ a: z.object({ 'x/y': z.number() }), list: z.array(z.string()) });

    // Act
    let error: unknown;
    try {
      parseOrThrow(schema, { a: { 'x/y': 'no' }, list: [1], extra: true }, 'request body');
    } catch (e) {
      error = e;
    }

    // Assess
    expect(isDomainError(error, 'INVALID_INPUT')).toBe(true);
    if (!isDomainError(error)) return;
    expect(error.message).toMatch(/^Invalid request body: /);
    expect(error.errors.map((e) => e.pointer)).toEqual(['#/a/x~1y', '#/list/0', '#']);
    expect(error.cause).toBeInstanceOf(z.ZodError);
  });

  it('pointerOf escapes ~ and / as RFC 6901 says', () => {
    // Act / Assess
    expect(pointerOf([])).toBe('#');
    expect(pointerOf(['a~b', 'c/d', 3])).toBe('#/a~0b/c~1d/3');
  });
});
