/**
 * Emailed decision links on a request whose policy asks for step-up (`approverAuthContext`), against
 * real Azurite and the real development issuer: the link alone never decides; only the link's
 * approver, signed in on the call with a sign-in that proves the context, does. A refusal writes
 * nothing (the link stays live, the request unchanged) but its audit row.
 *
 * The edge (GET/POST through functions/decisions.ts, with real bearer tokens and a forged
 * x-ms-client-principal) and the story (submitDecisionLink with the real `decide`, for the
 * decisions that get through) are both exercised.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aPendingRequest, userKey } from '../../support/requests';
import { call, startComponentEnv, type ComponentEnv } from '../../support/component';
import { showDecision, submitDecision } from '../../../functions/decisions';
import { getDeps, resetDeps } from '#shared/app/deps';
import { resetSettingsCache } from '#shared/config';
import type { AuditEventInput, AuditSink } from '#shared/audit/types';
import type { Member } from '#shared/domain/pam';
import { Request, type Decision } from '#shared/domain/request';
import { claimsChallenge, NO_STRENGTH, type AuthStrength } from '#shared/domain/step-up';
import { submitDecisionLink, type DecisionLinkContext } from '#shared/notifications/decisions';
import { TokenState, type TokenRecord } from '#shared/notifications/store';
import { parseToken } from '#shared/notifications/tokens';
import { tokenStore } from '#shared/notifications/wiring';
import type { Caller, ConfigReader, RequestContext } from '#shared/requests/context';
import type { Orchestrations } from '#shared/requests/orchestrations';
import { decideExtension } from '#shared/requests/extensions';
import { decide } from '#shared/requests/usecases';

const BASE = 'http://127.0.0.1:7071';
const ANN = 'ann@contoso.com';
const BEN = 'ben@contoso.com';
const GROUP = 'step-up-approvers';

let env: ComponentEnv;

beforeAll(async () => {
  env = await startComponentEnv({ ZSA_PUBLIC_BASE_URL: BASE });
}, 60_000);

afterAll(async () => {
  await env.close();
});

async function aRequest(overrides: Partial<Request> = {}): Promise<Request> {
  const request = aPendingRequest(
    { approverGroup: GROUP, requiredApprovals: 2, approverAuthContext: 'c1', ...overrides },
    new Date(),
  );
  await getDeps().requests.create(request);
  return request;
}

function memberOf(upn: string): Member & { id: string } {
  return { upn, id: userKey(upn) };
}

async function aLink(request: Request, approver = ANN): Promise<string> {
  const link = await tokenStore().prepare(request.id, memberOf(approver), request.pendingUntil);
  if (!link) throw new Error('no link');
  await tokenStore().markSent(request.id, approver, link);
  return link.token;
}

/** Alice's live grant under a step-up policy, with extension 1 waiting. */
async function aGrantWithExtension(): Promise<Request> {
  const now = Date.now();
  const at = (ms: number) => new Date(now + ms).toISOString();
  return aRequest({
    status: 'approved',
    requiredApprovals: 1,
    approvals: [
      { approver: BEN, approverId: userKey(BEN), decision: 'approve', comment: null, at: at(0), stage: 0 },
    ],
    decidedAt: at(0),
    grantedAt: at(0),
    expiresAt: at(3_600_000),
    maxExtensions: 2,
    extensions: [
      {
        id: '1',
        hours: 2,
        reason: 'The migration overran',
        status: 'pending',
        approvals: [],
        createdAt: at(0),
        pendingUntil: at(3_600_000),
        decidedAt: null,
      },
    ],
  });
}

async function anExtensionLink(request: Request): Promise<string> {
  const link = await tokenStore().prepare(request.id, memberOf(ANN), request.pendingUntil, {
    stage: 0,
    extensionId: '1',
  });
  if (!link) throw new Error('no link');
  await tokenStore().markSent(request.id, ANN, link);
  return link.token;
}

async function linkRow(token: string): Promise<TokenRecord | undefined> {
  const parsed = parseToken(token);
  if (!parsed) throw new Error('bad token');
  return tokenStore().find(parsed);
}

/** The form of the confirmation page, posted as a browser on the service's own page does. */
function post(token: string, headers: Record<string, string> = {}, decision: Decision = 'approve') {
  return call(submitDecision, {
    method: 'POST',
    path: `/api/decisions/${token}`,
    params: { token },
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: `decision=${decision}&comment=ok`,
    durableClient: true,
  });
}

function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/** The header App Service would set for this user, made up by the caller. */
function forgedPlatformPrincipal(upn: string, extra: { typ: string; val: string }[]): string {
  const [tid, oid] = userKey(upn).split(':');
  const claims = [
    { typ: 'tid', val: tid ?? '' },
    { typ: 'oid', val: oid ?? '' },
    { typ: 'upn', val: upn },
    ...extra,
  ];
  return Buffer.from(JSON.stringify({ auth_typ: 'aad', claims })).toString('base64');
}

describe('a step-up link at the edge: nothing but a proving sign-in of its approver gets through', () => {
  it('GET answers the step-up page (401, claims challenge, no form) and writes nothing', async () => {
    // Prepare
    const request = await aRequest();
    const token = await aLink(request);
    const before = await linkRow(token);

    // Act
    const res = await call(showDecision, { path: `/api/decisions/${token}`, params: { token } });

    // Assess
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(claimsChallenge('c1'));
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const html = String(res.body);
    expect(html).toContain('A stronger sign-in is needed to decide');
    expect(html).toContain('the authentication context c1');
    expect(html).toContain('POST /dev/token');
    expect(html).not.toContain('<form');
    expect((await linkRow(token))?.etag).toBe(before?.etag);
    expect((await getDeps().requests.read(request.id))?.request).toEqual(request);
  });

  it('GET by the approver signed in with the context shows the confirmation page', async () => {
    const token = await aLink(await aRequest());

    const res = await call(showDecision, {
      path: `/api/decisions/${token}`,
      params: { token },
      headers: bearer(await env.issuer.mint({ upn: ANN, acrs: ['c1'] })),
    });

    expect(res.status).toBe(200);
    expect(String(res.body)).toContain('Approve or deny this request');
  });

  it.each<{ scenario: string; headers: () => Promise<Record<string, string>> }>([
    { scenario: 'the link alone', headers: () => Promise.resolve({}) },
    {
      scenario: "the approver's token without acrs",
      headers: async () => bearer(await env.issuer.mint({ upn: ANN, amr: ['pwd', 'mfa'] })),
    },
    {
      scenario: "the approver's token with another context",
      headers: async () => bearer(await env.issuer.mint({ upn: ANN, acrs: ['c2', 'c10'] })),
    },
    {
      scenario: 'a forged x-ms-client-principal claiming acrs c1 (Easy Auth not trusted here)',
      headers: () =>
        Promise.resolve({
          'x-ms-client-principal': forgedPlatformPrincipal(ANN, [
            { typ: 'acrs', val: 'c1' },
            { typ: 'amr', val: 'mfa' },
          ]),
        }),
    },
  ])(
    'POST with $scenario → 401 step-up page with the challenge; the link stays live, nothing is written',
    async ({ headers }) => {
      // Prepare
      const request = await aRequest();
      const token = await aLink(request);
      const before = await linkRow(token);

      // Act
      const res = await post(token, await headers());

      // Assess
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe(claimsChallenge('c1'));
      expect(String(res.body)).toContain('A stronger sign-in is needed to decide');
      const after = await linkRow(token);
      expect(after?.state).toBe(TokenState.live);
      expect(after?.etag).toBe(before?.etag);
      expect((await getDeps().requests.read(request.id))?.request).toEqual(request);
    },
  );

  it("someone else's token proving the context → 403 (the link is its approver's), nothing written", async () => {
    const request = await aRequest();
    const token = await aLink(request);

    const res = await post(token, bearer(await env.issuer.mint({ upn: BEN, acrs: ['c1'] })));

    expect(res.status).toBe(403);
    expect((await linkRow(token))?.state).toBe(TokenState.live);
    expect((await getDeps().requests.read(request.id))?.request).toEqual(request);
  });

  it("an extension's link is held to the same step-up, and its page names the extension's API", async () => {
    const request = await aGrantWithExtension();
    const token = await anExtensionLink(request);

    const res = await post(token, bearer(await env.issuer.mint({ upn: ANN, amr: ['mfa'] })));

    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(claimsChallenge('c1'));
    expect(String(res.body)).toContain(`POST /api/requests/${request.id}/extensions/1/approve`);
    expect((await linkRow(token))?.state).toBe(TokenState.live);
    expect((await getDeps().requests.read(request.id))?.request).toEqual(request);
  });

  it('an mfa policy names the multi-factor sign-in in the page and the challenge', async () => {
    const token = await aLink(await aRequest({ approverAuthContext: 'mfa' }));

    const res = await post(token, bearer(await env.issuer.mint({ upn: ANN, acrs: ['c1'] })));

    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(claimsChallenge('mfa'));
    expect(String(res.body)).toContain('multi-factor sign-in');
  });
});

describe('a step-up link behind App Service Authentication (trusted)', () => {
  async function trustEasyAuth(on: boolean): Promise<void> {
    if (on) process.env['ZSA_TRUST_EASY_AUTH'] = 'true';
    else Reflect.deleteProperty(process.env, 'ZSA_TRUST_EASY_AUTH');
    resetSettingsCache();
    await resetDeps();
  }

  beforeAll(() => trustEasyAuth(true));
  afterAll(() => trustEasyAuth(false));

  it("the platform's acrs claim proves the context: its approver sees the confirmation page", async () => {
    const token = await aLink(await aRequest());

    const res = await call(showDecision, {
      path: `/api/decisions/${token}`,
      params: { token },
      headers: {
        'x-ms-client-principal': forgedPlatformPrincipal(ANN, [
          { typ: 'amr', val: 'pwd' },
          { typ: 'acrs', val: 'c1' },
        ]),
      },
    });

    expect(res.status).toBe(200);
    expect(String(res.body)).toContain('Approve or deny this request');
  });

  it('a platform sign-in without the context → 401, with a link to sign out and in again, back to the link', async () => {
    // Prepare
    const request = await aRequest();
    const token = await aLink(request);
    const path = `/api/decisions/${token}`;
    const login = `/.auth/login/aad?post_login_redirect_uri=${encodeURIComponent(path)}`;

    // Act
    const res = await post(token, {
      'x-ms-client-principal': forgedPlatformPrincipal(ANN, [
        { typ: 'http://schemas.microsoft.com/claims/authnmethodsreferences', val: 'mfa' },
      ]),
    });

    // Assess
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(claimsChallenge('c1'));
    expect(String(res.body)).toContain(
      `href="${BASE}/.auth/logout?post_logout_redirect_uri=${encodeURIComponent(login)}"`,
    );
    expect((await linkRow(token))?.state).toBe(TokenState.live);
    expect((await getDeps().requests.read(request.id))?.request).toEqual(request);
  });
});

describe('a step-up link through the story (the real decide)', () => {
  const audited: AuditEventInput[] = [];
  const audit: AuditSink = {
    append: (event) => {
      audited.push(event);
      return Promise.resolve({ id: randomUUID() });
    },
  };
  const orchestrations: Orchestrations = {
    start: () => Promise.resolve(),
    state: () => Promise.resolve(undefined),
    raise: () => Promise.resolve(),
  };
  const config: ConfigReader = {
    pamConfig: () => Promise.reject(new Error('not used')),
    policies: () => Promise.reject(new Error('not used')),
    task: () => Promise.reject(new Error('not used')),
    policyContext: () => Promise.reject(new Error('not used')),
    groupMembers: (group) => Promise.resolve(group === GROUP ? [memberOf(ANN), memberOf(BEN)] : []),
  };

  /** As the app's wiring does: the signed-in user when there is one, else the link's approver. */
  function context(signedIn?: { upn: string; strength: AuthStrength }): DecisionLinkContext {
    const now = new Date();
    const callerFor = (link: TokenRecord): Caller => {
      const id = signedIn ? userKey(signedIn.upn) : (link.approverId ?? '');
      const upn = signedIn?.upn ?? link.approver;
      return {
        principal: {
          id,
          upn,
          roles: [],
          isAdmin: false,
          isAuditor: false,
          authMethod: signedIn ? 'bearer' : 'decisionLink',
          strength: signedIn?.strength ?? NO_STRENGTH,
        },
        actor: { kind: 'user', id, upn, roles: [] },
        origin: {},
      };
    };
    const ctx: RequestContext = {
      repo: getDeps().requests,
      config,
      orchestrations,
      audit,
      now,
      minDurationSeconds: 1,
    };
    return {
      tokens: tokenStore(),
      requests: getDeps().requests,
      now,
      signedInAs: signedIn ? userKey(signedIn.upn) : undefined,
      signedInStrength: signedIn?.strength,
      requireSignIn: false,
      log: () => undefined,
      audit,
      callerFor,
      decide: (caller, id, decision, comment, binding) =>
        binding.extensionId === undefined
          ? decide(ctx, caller, id, decision, comment, binding.stage)
          : decideExtension(ctx, caller, id, binding.extensionId, decision, comment, binding.stage),
    };
  }

  it('the link alone is refused and audited as a refused decision; then the strong sign-in decides, once', async () => {
    // Prepare
    const request = await aRequest();
    const token = await aLink(request);

    // Act
    const alone = await submitDecisionLink(context(), token, 'approve', undefined);
    const strong = await submitDecisionLink(
      context({ upn: ANN, strength: { acrs: ['c1'], amr: ['pwd'] } }),
      token,
      'approve',
      'checked',
    );
    const replayedAlone = await submitDecisionLink(context(), token, 'approve', undefined);
    const replayedStrong = await submitDecisionLink(
      context({ upn: ANN, strength: { acrs: ['c1'], amr: [] } }),
      token,
      'deny',
      undefined,
    );

    // Assess
    expect(alone).toMatchObject({ kind: 'stepUpRequired', required: 'c1' });
    expect(strong.kind).toBe('recorded');
    expect([replayedAlone.kind, replayedStrong.kind]).toEqual(['used', 'used']);
    const stored = (await getDeps().requests.read(request.id))?.request;
    expect(stored?.approvals).toEqual([
      expect.objectContaining({ approverId: userKey(ANN), decision: 'approve' }),
    ]);
    expect(stored?.status).toBe('pending');
    const refusals = audited.filter(
      (e) => e.action === 'request.decisionRefused' && e.requestId === request.id,
    );
    expect(refusals[0]).toMatchObject({
      outcome: 'refused',
      reason: 'STEP_UP_REQUIRED',
      detail: { via: 'decisionLink', decision: 'approve', linkApprover: ANN, stage: 0, required: 'c1' },
    });
  });

  it("an extension's link: refused alone, decided by the approver's proving sign-in", async () => {
    const request = await aGrantWithExtension();
    const token = await anExtensionLink(request);

    const alone = await submitDecisionLink(context(), token, 'approve', undefined);
    const strong = await submitDecisionLink(
      context({ upn: ANN, strength: { acrs: ['c1'], amr: [] } }),
      token,
      'approve',
      undefined,
    );

    expect([alone.kind, strong.kind]).toEqual(['stepUpRequired', 'recorded']);
    expect((await getDeps().requests.read(request.id))?.request.extensions[0]).toMatchObject({
      status: 'approved',
    });
  });

  it('a forged link decides nothing, however strong the sign-in', async () => {
    const request = await aRequest();
    const token = await aLink(request);
    const forged = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;

    const outcome = await submitDecisionLink(
      context({ upn: ANN, strength: { acrs: ['c1'], amr: ['mfa'] } }),
      forged,
      'approve',
      undefined,
    );

    expect(outcome.kind).toBe('invalid');
    expect((await getDeps().requests.read(request.id))?.request).toEqual(request);
  });

  it('an mfa policy: the approver signed in with mfa decides', async () => {
    const request = await aRequest({ approverAuthContext: 'mfa' });
    const token = await aLink(request);

    const weak = await submitDecisionLink(
      context({ upn: ANN, strength: { acrs: ['c1'], amr: ['pwd'] } }),
      token,
      'deny',
      undefined,
    );
    const strong = await submitDecisionLink(
      context({ upn: ANN, strength: { acrs: [], amr: ['pwd', 'mfa'] } }),
      token,
      'deny',
      undefined,
    );

    expect([weak.kind, strong.kind]).toEqual(['stepUpRequired', 'recorded']);
    expect((await getDeps().requests.read(request.id))?.request.status).toBe('denied');
  });
});
