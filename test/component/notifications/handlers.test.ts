/**
 * The entry points, called as the Functions runtime calls them, against real Azurite and the local
 * host's real SMTP mailbox: the email sender (`sendEmail`) and the decision link's edge (`GET`,
 * `HEAD`, and the `POST` refusals that come before any decision). Deciding itself needs the durable
 * client and is covered end to end (test/e2e/email.test.ts).
 */
import { InvocationContext, type LogLevel } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aPendingRequest, REQUESTER as ALICE, userKey } from '../../support/requests';
import { showDecision, submitDecision } from '../../../functions/decisions';
import { sendEmail } from '../../../functions/notifications';
import { startMailbox, type Mailbox } from '@zsa/local-host/mailbox';
import { getDeps, resetDeps } from '#shared/app/deps';
import { Request } from '#shared/domain/request';
import { buildMessage } from '#shared/notifications/messages';
import { tokenStore } from '#shared/notifications/wiring';
import { call, startComponentEnv, type ComponentEnv } from '../../support/component';
import { resetSettingsCache } from '#shared/config';

const BASE = 'http://127.0.0.1:7071';
const ANN = 'ann@contoso.com';

let env: ComponentEnv;
let mailbox: Mailbox;

beforeAll(async () => {
  mailbox = await startMailbox();
  env = await startComponentEnv({
    ZSA_SMTP_URL: mailbox.smtpUrl,
    ZSA_MAIL_FROM: 'ZSA <zsa@contoso.com>',
    ZSA_PUBLIC_BASE_URL: BASE,
  });
}, 60_000);

afterAll(async () => {
  getDeps().mailer.close();
  await env.close();
  await mailbox.close();
});

async function aRequest(overrides: Partial<Request> = {}): Promise<Request> {
  const now = new Date();
  const request = aPendingRequest(
    {
      reason: 'Move <b>the</b> CEO mailbox',
      ticket: 'INC-9',
      parameters: { Mailbox: 'ceo@contoso.com' },
      approverGroup: 'handler-approvers',
      ...overrides,
    },
    now,
  );
  await getDeps().requests.create(request);
  return request;
}

async function aLink(request: Request): Promise<string> {
  const link = await tokenStore().prepare(request.id, { upn: ANN, id: userKey(ANN) }, request.pendingUntil);
  if (!link) throw new Error('no link');
  return link.token;
}

function triggerContext(deliveryCount: number, logs: string[] = []): InvocationContext {
  return new InvocationContext({
    functionName: 'sendEmail',
    triggerMetadata: { deliveryCount, messageId: 'm-1' },
    logHandler: (level: LogLevel, ...args: unknown[]) => logs.push(`${level}: ${args.map(String).join(' ')}`),
  });
}

describe('sendEmail', () => {
  it('sends a notification as an email with a text and an HTML part, marked automatic', async () => {
    // Prepare
    const request = await aRequest();
    const decisionUrl = `${BASE}/api/decisions/${request.id}.x`;
    const message = buildMessage(
      { event: 'approvalNeeded', decisionUrl, generation: 1 },
      request,
      { upn: ANN, audience: 'approver' },
      new Date(),
    );

    // Act
    await sendEmail(JSON.parse(JSON.stringify(message)), triggerContext(1));

    // Assess
    const mail = await mailbox.waitFor((m) => m.headers['x-zsa-request-id'] === request.id, 5000);
    expect(mail.to).toEqual([ANN]);
    expect(mail.from).toBe('zsa@contoso.com');
    expect(mail.subject).toBe(
      '[ZSA] Approval needed: alice@contoso.com requests task "Exchange\\New-MoveRequest"',
    );
    expect(mail.text).toContain('Reason: Move <b>the</b> CEO mailbox');
    expect(mail.html).toContain('Move &lt;b&gt;the&lt;/b&gt; CEO mailbox');
    expect(mail.links).toEqual([decisionUrl]);
    expect(mail.headers).toMatchObject({
      'auto-submitted': 'auto-generated',
      'x-auto-response-suppress': 'All',
      'x-zsa-event': 'approvalNeeded',
    });
  });

  it('does not send an approval request that was decided meanwhile', async () => {
    // Prepare
    const request = await aRequest({ status: 'canceled', endedAt: new Date().toISOString(), endedBy: ALICE });
    const message = buildMessage(
      { event: 'approvalNeeded', decisionUrl: `${BASE}/api/decisions/x`, generation: 1 },
      request,
      { upn: ANN, audience: 'approver' },
      new Date(),
    );
    const logs: string[] = [];

    // Act
    await sendEmail(message, triggerContext(1, logs));

    // Assess
    expect(mailbox.messages().some((m) => m.headers['x-zsa-request-id'] === request.id)).toBe(false);
    expect(logs.join('\n')).toContain('no longer waits for a decision');
  });

  it('a message it cannot read fails every delivery, and the last one says it goes to the dead-letter queue', async () => {
    // Prepare
    const early: string[] = [];
    const last: string[] = [];

    // Act
    const first = await sendEmail(
      { schema: 'zsa.notification', version: 99 },
      triggerContext(1, early),
    ).catch((e: unknown) => e);
    const final = await sendEmail(
      { schema: 'zsa.notification', version: 99 },
      triggerContext(10, last),
    ).catch((e: unknown) => e);

    // Assess
    expect(first).toBeInstanceOf(Error);
    expect(final).toBeInstanceOf(Error);
    expect(early.join('\n')).toMatch(/delivery 1 of 10\), Service Bus will retry: .*version 99/);
    expect(last.join('\n')).toMatch(/^error: .*delivery 10 of 10\); it goes to the dead-letter queue/m);
  });
});

describe('decision link pages', () => {
  it('GET shows the confirmation page with strict headers and changes nothing; HEAD too', async () => {
    // Prepare
    const request = await aRequest();
    const token = await aLink(request);

    // Act
    const get = await call(showDecision, { path: `/api/decisions/${token}`, params: { token } });
    const head = await call(showDecision, {
      method: 'HEAD',
      path: `/api/decisions/${token}`,
      params: { token },
    });

    // Assess
    expect(get.status).toBe(200);
    expect(head.status).toBe(200);
    expect(get.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(get.headers.get('referrer-policy')).toBe('no-referrer');
    expect(get.headers.get('cache-control')).toBe('no-store');
    expect(get.headers.get('content-security-policy')).toContain(`form-action ${BASE}`);
    expect(get.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(String(get.body)).toContain(`<form method="post" action="${BASE}/api/decisions/${token}">`);
    expect(String(get.body)).toContain('Move &lt;b&gt;the&lt;/b&gt; CEO mailbox');
    expect((await getDeps().requests.read(request.id))?.request).toEqual(request);
  });

  it("the form's address comes from ZSA_PUBLIC_BASE_URL, never from the Host header", async () => {
    // Prepare
    const token = await aLink(await aRequest());

    // Act
    const res = await call(showDecision, {
      path: `/api/decisions/${token}`,
      params: { token },
      headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example' },
    });

    // Assess
    expect(String(res.body)).not.toContain('evil.example');
  });

  it.each([
    ['a tampered token', (t: string) => `${t.slice(0, -2)}zz`, 404],
    ['garbage', () => '..%2f..%2fetc', 404],
  ])('GET with %s answers a 4xx page', async (_name, tamper, status) => {
    // Prepare
    const token = tamper(await aLink(await aRequest()));

    // Act
    const res = await call(showDecision, { path: `/api/decisions/${token}`, params: { token } });

    // Assess
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
  });

  it.each([
    ['JSON instead of the form', { 'content-type': 'application/json' }, '{"decision":"approve"}', 415],
    [
      'a cross-site form',
      { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'cross-site' },
      'decision=approve',
      403,
    ],
    [
      'a form from a foreign origin',
      { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      'decision=approve',
      403,
    ],
    ['an unknown decision', { 'content-type': 'application/x-www-form-urlencoded' }, 'decision=maybe', 400],
    [
      'an unknown field',
      { 'content-type': 'application/x-www-form-urlencoded' },
      'decision=approve&approver=boss%40contoso.com',
      400,
    ],
    [
      'a repeated field',
      { 'content-type': 'application/x-www-form-urlencoded' },
      'decision=deny&decision=approve',
      400,
    ],
    [
      'a comment over 1000 characters',
      { 'content-type': 'application/x-www-form-urlencoded' },
      `decision=approve&comment=${'x'.repeat(1001)}`,
      400,
    ],
  ])('POST with %s is refused before the link is touched', async (_name, headers, body, status) => {
    // Prepare
    const request = await aRequest();
    const token = await aLink(request);

    // Act
    const res = await call(submitDecision, {
      method: 'POST',
      path: `/api/decisions/${token}`,
      params: { token },
      headers,
      body,
    });

    // Assess
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect((await call(showDecision, { path: `/api/decisions/${token}`, params: { token } })).status).toBe(
      200,
    );
    expect((await getDeps().requests.read(request.id))?.request.status).toBe('pending');
  });
});

describe('stages at the edge', () => {
  const STAGES = [
    { approverGroup: 'handler-approvers', requiredApprovals: 1 },
    { approverGroup: 'handler-second', requiredApprovals: 1 },
  ];

  it('an approval email of a stage that is over by delivery time is not sent', async () => {
    // Prepare: stage 1 was approved before its email went out to Ann
    const request = await aRequest({
      stages: STAGES,
      requiredApprovals: 2,
      approvals: [
        {
          approver: 'ben@contoso.com',
          approverId: userKey('ben@contoso.com'),
          decision: 'approve',
          comment: null,
          at: new Date().toISOString(),
          stage: 0,
        },
      ],
    });
    const message = buildMessage(
      { event: 'approvalNeeded', decisionUrl: `${BASE}/api/decisions/x`, generation: 1, stage: 0 },
      request,
      { upn: ANN, audience: 'approver' },
      new Date(),
    );
    const logs: string[] = [];

    // Act
    await sendEmail(message, triggerContext(1, logs));

    // Assess
    expect(mailbox.messages().some((m) => m.headers['x-zsa-request-id'] === request.id)).toBe(false);
    expect(logs.join('\n')).toContain('stage 1 no longer decides');
  });

  it('a stage-2 link opened or posted before stage 2 opens answers a page that says so, and changes nothing', async () => {
    // Prepare
    const request = await aRequest({ stages: STAGES, requiredApprovals: 2 });
    const link = await tokenStore().prepare(
      request.id,
      { upn: ANN, id: userKey(ANN) },
      request.pendingUntil,
      { stage: 1 },
    );
    if (!link) throw new Error('no link');
    const { token } = link;
    const path = `/api/decisions/${token}`;

    // Act
    const shown = await call(showDecision, { path, params: { token } });
    const posted = await call(submitDecision, {
      method: 'POST',
      path,
      params: { token },
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'decision=approve',
    });

    // Assess
    expect([shown.status, posted.status]).toEqual([409, 409]);
    expect(String(posted.body)).toContain('Stage 2 of 2 is not open yet');
    expect((await getDeps().requests.read(request.id))?.request).toEqual(request);
  });
});

describe('decision links behind App Service Authentication, sign-in required (the Azure default)', () => {
  /** The header App Service sets for a signed-in Entra user (base64 JSON of their claims). */
  function platformPrincipal(upn: string): string {
    const [tid, oid] = userKey(upn).split(':');
    const claims = [
      { typ: 'tid', val: tid ?? '' },
      { typ: 'oid', val: oid ?? '' },
      { typ: 'upn', val: upn },
    ];
    return Buffer.from(JSON.stringify({ auth_typ: 'aad', claims })).toString('base64');
  }

  async function withSignInRequired(on: boolean): Promise<void> {
    for (const name of ['ZSA_TRUST_EASY_AUTH', 'ZSA_DECISION_LINK_REQUIRE_SIGN_IN'])
      if (on) process.env[name] = 'true';
      else Reflect.deleteProperty(process.env, name);
    resetSettingsCache();
    await resetDeps();
  }

  afterAll(() => withSignInRequired(false));

  it('asks to sign in and come back to the same link; then only the approver it was sent to sees the page', async () => {
    // Prepare
    await withSignInRequired(true);
    const request = await aRequest();
    const token = await aLink(request);
    const path = `/api/decisions/${token}`;

    // Act
    const anonymous = await call(showDecision, { path, params: { token } });
    const ann = await call(showDecision, {
      path,
      params: { token },
      headers: { 'x-ms-client-principal': platformPrincipal(ANN) },
    });
    const someoneElse = await call(showDecision, {
      path,
      params: { token },
      headers: { 'x-ms-client-principal': platformPrincipal('mallory@contoso.com') },
    });

    // Assess
    expect(anonymous.status).toBe(401);
    expect(String(anonymous.body)).toContain(
      `href="${BASE}/.auth/login/aad?post_login_redirect_uri=${encodeURIComponent(path)}"`,
    );
    expect(ann.status).toBe(200);
    expect(String(ann.body)).toContain('Approve or deny this request');
    expect(someoneElse.status).toBe(403);
    expect((await getDeps().requests.read(request.id))?.request.status).toBe('pending');
  });
});
