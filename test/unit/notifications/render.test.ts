import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DomainError } from '#shared/domain/errors';
import { formatDuration, oneLine } from '#shared/notifications/html';
import {
  buildMessage,
  type NotificationEvent,
  type NotificationMessage,
} from '#shared/notifications/messages';
import {
  closedLinkPage,
  confirmationPage,
  pageHeaders,
  recordedPage,
  refusedPage,
  usedLinkPage,
} from '#shared/notifications/pages';
import { renderEmail } from '#shared/notifications/render';
import { ALICE, BOB, GROUP, T0, aRequest, idOf, iso, minutesAfterT0 } from '../domain/builders';
import { toRequestView, USES_EXHAUSTED, type Extension, type Request } from '#shared/domain/request';

const LINK = 'https://zsa.contoso.com/api/decisions/req-1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const EVIL = '<script>alert("x")</script><img src="https://evil.example/t.gif">&';

function hostile(overrides: Partial<Request> = {}): Request {
  return aRequest({
    task: `Exchange\\${EVIL}`,
    tasks: [`Exchange\\${EVIL}`],
    reason: `Line one\n${EVIL}`,
    ticket: EVIL,
    parameters: { Mailbox: EVIL },
    ...overrides,
  });
}

/** Every http(s) URL an HTML document refers to. */
function urlsIn(html: string): string[] {
  return [...html.matchAll(/https?:\/\/[^\s"'<>]+/g)].map((m) => m[0]);
}

const EVENTS: { event: NotificationEvent; status: Request['status']; audience: 'approver' | 'requester' }[] =
  [
    { event: 'approvalNeeded', status: 'pending', audience: 'approver' },
    { event: 'approved', status: 'approved', audience: 'requester' },
    { event: 'approved', status: 'approved', audience: 'approver' },
    { event: 'denied', status: 'denied', audience: 'requester' },
    { event: 'denied', status: 'denied', audience: 'approver' },
    { event: 'canceled', status: 'canceled', audience: 'approver' },
    { event: 'expired', status: 'expired', audience: 'requester' },
    { event: 'granted', status: 'approved', audience: 'requester' },
    { event: 'expiringSoon', status: 'approved', audience: 'requester' },
    { event: 'ended', status: 'ended', audience: 'requester' },
    { event: 'revoked', status: 'revoked', audience: 'requester' },
    { event: 'started', status: 'approved', audience: 'requester' },
    { event: 'extensionRequested', status: 'approved', audience: 'approver' },
    { event: 'extensionApproved', status: 'approved', audience: 'requester' },
    { event: 'extensionDenied', status: 'approved', audience: 'requester' },
    { event: 'extensionExpired', status: 'approved', audience: 'requester' },
    { event: 'extensionCanceled', status: 'approved', audience: 'requester' },
    { event: 'agentRequested', status: 'pending', audience: 'requester' },
  ];

function anExtension(overrides: Partial<Extension> = {}): Extension {
  return {
    id: '1',
    hours: 2,
    reason: 'The migration overran',
    status: 'pending',
    approvals: [],
    createdAt: iso(minutesAfterT0(60)),
    pendingUntil: iso(minutesAfterT0(250)),
    decidedAt: null,
    ...overrides,
  };
}

/** The message of `event` for `request`, whatever it needs (a link, an extension). */
function messageOf(
  event: NotificationEvent,
  request: Request,
  recipient: { upn: string; audience: 'approver' | 'requester' },
  options: { stage?: number; extension?: Extension } = {},
): NotificationMessage {
  const extension = options.extension ?? request.extensions[0] ?? anExtension();
  switch (event) {
    case 'approvalNeeded':
      return buildMessage(
        { event, decisionUrl: LINK, generation: 1, stage: options.stage ?? 0 },
        request,
        recipient,
        T0,
      );
    case 'extensionRequested':
      return buildMessage(
        { event, decisionUrl: LINK, generation: 1, stage: options.stage ?? 0, extension },
        request,
        recipient,
        T0,
      );
    case 'extensionApproved':
    case 'extensionDenied':
    case 'extensionExpired':
    case 'extensionCanceled':
      return buildMessage({ event, extension }, request, recipient, T0);
    default:
      return buildMessage({ event }, request, recipient, T0);
  }
}

describe('notification emails', () => {
  it.each(EVENTS)(
    '$event to the $audience: escaped, no remote content, text and HTML',
    ({ event, status, audience }) => {
      // Prepare
      const request = hostile({ status, ...(status === 'revoked' ? { endReason: EVIL } : {}) });
      const recipient = { upn: audience === 'approver' ? BOB : ALICE, audience };
      const message = messageOf(event, request, recipient, {
        extension: anExtension({ reason: EVIL }),
      });

      // Act
      const email = renderEmail(message, T0);

      // Assess
      expect(email.subject.startsWith('[ZSA] ')).toBe(true);
      expect(email.subject).not.toMatch(/[\r\n]/);
      expect(email.html.startsWith('<!DOCTYPE html><html lang="en">')).toBe(true);
      expect(email.html).not.toContain('<script');
      expect(email.html).not.toContain('<img');
      expect(email.html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
      expect(urlsIn(email.html).filter((u) => u !== LINK && !u.startsWith('https://evil.example'))).toEqual(
        [],
      );
      // The hostile URL only ever appears as escaped text, never as an attribute.
      expect(email.html).not.toMatch(/(src|href)="https:\/\/evil/);
      expect(email.text).toContain('Reason: Line one');
      if (event === 'approvalNeeded') {
        expect(email.html).toContain(`<a href="${LINK}"`);
        expect(email.text).toContain(`Review and decide: ${LINK}`);
        expect(email.text).toContain('Decide by: 2030-01-02 09:00:00 UTC');
      } else if (event === 'extensionRequested') {
        expect(email.html).toContain(`<a href="${LINK}"`);
        expect(email.text).toContain(`Review and decide: ${LINK}`);
      } else {
        expect(email.html).not.toContain('/api/decisions/');
      }
    },
  );

  it('says who decided and what they said', () => {
    // Prepare
    const request = aRequest({ status: 'denied' });

    // Act
    const email = renderEmail(
      buildMessage({ event: 'denied' }, request, { upn: ALICE, audience: 'requester' }, T0),
      T0,
    );

    // Assess
    expect(email.subject).toBe('[ZSA] Denied: your request for task "Exchange\\New-MoveRequest"');
    expect(email.text).toContain(`Denied by ${BOB}. Comment: "no ticket"`);
  });

  it.each([
    [4, '4 hours'],
    [1.5, '1 hour 30 minutes'],
    [0.5, '30 minutes'],
    [3 / 3600, '3 seconds'],
    [49, '2 days 1 hour'],
  ])('%s hours read as "%s"', (hours, words) => {
    // Act / Assess
    expect(formatDuration(hours)).toBe(words);
  });

  it('one-line values lose every line break', () => {
    // Act / Assess
    expect(oneLine('a\r\nBcc: x@evil.example\u2028b')).toBe('a Bcc: x@evil.example b');
  });
});

describe("an agent's sponsor", () => {
  it('is told the agent asked, for what, with which exact parameters, before anyone decides', () => {
    // Prepare
    const request = aRequest({
      parameters: { server: 'web-4' },
      agent: { mode: 'ownIdentity', appId: 'agent-1', name: 'Ops bot', sponsor: ALICE },
    });

    // Act
    const email = renderEmail(
      buildMessage({ event: 'agentRequested' }, request, { upn: ALICE, audience: 'requester' }, T0),
      T0,
    );

    // Assess
    expect(email.subject).toContain('Your agent Ops bot asked for');
    expect(email.text).toContain('AI agent Ops bot (its own identity; sponsor');
    expect(email.text).toContain('exactly the parameters shown, once');
    expect(email.text).toContain('web-4');
  });
});

describe('decision pages', () => {
  it('the confirmation page posts a form, runs no script and escapes the request', () => {
    // Prepare
    const request = hostile();

    // Act
    const page = confirmationPage(request, BOB, LINK);

    // Assess
    expect(page.status).toBe(200);
    expect(page.html).not.toMatch(/<script|http-equiv|onload|onclick|javascript:/i);
    expect(page.html).toContain(`<form method="post" action="${LINK}">`);
    expect(page.html).toContain('<button type="submit" name="decision" value="approve"');
    expect(page.html).toContain('<button type="submit" name="decision" value="deny"');
    expect(page.html).toContain('<textarea id="comment" name="comment" rows="4" maxlength="1000">');
    expect(page.html).toContain('<label for="comment">');
    expect(page.html).toContain(`deciding as <strong>${BOB}</strong>`);
    expect(page.html).toContain('&lt;script&gt;');
    expect(page.html).not.toContain(EVIL);
  });

  it("the CSP allows exactly the page's own style sheet, no script, no framing, forms only to the public origin", () => {
    // Prepare
    const html = confirmationPage(aRequest(), BOB, LINK).html;
    const css = /<style>([^<]*)<\/style>/.exec(html)?.[1] ?? '';

    // Act
    const headers = pageHeaders('https://zsa.contoso.com');

    // Assess
    const hash = createHash('sha256').update(css).digest('base64');
    expect(headers['content-security-policy']).toBe(
      `default-src 'none'; style-src 'sha256-${hash}'; form-action https://zsa.contoso.com; frame-ancestors 'none'; base-uri 'none'`,
    );
    expect(headers).toMatchObject({
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
      'x-frame-options': 'DENY',
    });
  });

  it('outcome pages carry 4xx statuses', () => {
    // Act / Assess
    expect(usedLinkPage('approve', '2030-01-01T09:00:00.000Z').status).toBe(410);
    expect(refusedPage(new DomainError('SELF_APPROVAL', 'no')).status).toBe(403);
    expect(refusedPage(new DomainError('ALREADY_DECIDED', 'no')).status).toBe(409);
    expect(refusedPage(new DomainError('REQUEST_NOT_PENDING', 'no')).status).toBe(410);
    expect(recordedPage('approve', toRequestView(aRequest({ status: 'approved' }), [])).html).toContain(
      'You approved the request',
    );
  });
});

// --- Stages, uses, start and extensions in words -----------------------------------------------

const SECOND = 'security-approvers';
const DAVE = 'dave@contoso.com';

function decided(
  upn: string,
  stage: number,
  decision: 'approve' | 'deny' = 'approve',
  comment: string | null = null,
) {
  return { approver: upn, approverId: idOf(upn), decision, comment, at: iso(minutesAfterT0(5)), stage };
}

function twoStaged(overrides: Partial<Request> = {}): Request {
  return aRequest({
    stages: [
      { approverGroup: GROUP, requiredApprovals: 1 },
      { approverGroup: SECOND, requiredApprovals: 2 },
    ],
    requiredApprovals: 3,
    ...overrides,
  });
}

const toDave = { upn: DAVE, audience: 'approver' as const };
const toAlice = { upn: ALICE, audience: 'requester' as const };

describe('emails of stages, counted and scheduled grants, and extensions', () => {
  it('a stage-2 approval email says which stage of how many, and who approved stage 1', () => {
    // Prepare
    const request = twoStaged({ approvals: [decided(BOB, 0)] });

    // Act
    const email = renderEmail(messageOf('approvalNeeded', request, toDave, { stage: 1 }), T0);

    // Assess
    expect(email.subject).toBe(
      `[ZSA] Approval needed (stage 2 of 2): ${ALICE} requests task "Exchange\\New-MoveRequest"`,
    );
    expect(email.text).toContain(
      `This is stage 2 of 2: your group, ${SECOND}, decides now. Already approved: stage 1 by ${BOB}.`,
    );
    expect(email.text).toContain(`Stages: 1. ${GROUP}: approved by ${BOB}`);
    expect(email.text).toContain(`2. ${SECOND}: deciding now (0 of 2 approvals)`);
  });

  it('a single-stage approval email reads as before stages', () => {
    // Act
    const email = renderEmail(messageOf('approvalNeeded', aRequest(), toDave), T0);

    // Assess
    expect(email.subject).toBe(`[ZSA] Approval needed: ${ALICE} requests task "Exchange\\New-MoveRequest"`);
    expect(email.text).not.toContain('stage');
  });

  it('a denial in stage 2 says so', () => {
    // Prepare
    const request = twoStaged({
      status: 'denied',
      approvals: [decided(BOB, 0), decided(DAVE, 1, 'deny', 'not this week')],
      decidedAt: iso(minutesAfterT0(5)),
      endedAt: iso(minutesAfterT0(5)),
    });

    // Act
    const email = renderEmail(messageOf('denied', request, toAlice), T0);

    // Assess
    expect(email.text).toContain(`Denied by ${DAVE} in stage 2 of 2. Comment: "not this week"`);
  });

  it('approval emails of a counted grant say how many uses it allows', () => {
    // Prepare
    const pending = aRequest({ maxUses: 3 });
    const approved = aRequest({ status: 'approved', maxUses: 1 });

    // Act
    const ask = renderEmail(messageOf('approvalNeeded', pending, toDave), T0);
    const done = renderEmail(messageOf('approved', approved, toAlice), T0);

    // Assess
    expect(ask.text).toContain('The access allows 3 uses: it ends after 3 successful runs.');
    expect(ask.text).toContain('Uses: 3 uses (the access ends after the last one)');
    expect(done.text).toContain('The access allows 1 use: it ends after one successful run.');
  });

  it('approval and granted emails of a scheduled request say when the access starts', () => {
    // Prepare: asked to start at 12:00; approved at 09:10, so the grant runs 12:00–16:00
    const startAt = iso(minutesAfterT0(180));
    const pending = aRequest({ startAt });
    const approved = aRequest({
      status: 'approved',
      startAt,
      grantedAt: startAt,
      expiresAt: iso(minutesAfterT0(420)),
    });

    // Act
    const ask = renderEmail(messageOf('approvalNeeded', pending, toDave), T0);
    const yes = renderEmail(messageOf('approved', approved, toAlice), T0);
    const granted = renderEmail(messageOf('granted', approved, toAlice), T0);
    const started = renderEmail(messageOf('started', approved, toAlice), T0);

    // Assess
    expect(ask.text).toContain(
      'The access would start at 2030-01-01 12:00:00 UTC (or on approval, if that is later).',
    );
    expect(yes.text).toContain(
      'Your access starts at 2030-01-01 12:00:00 UTC and lasts until 2030-01-01 16:00:00 UTC.',
    );
    expect(granted.subject).toBe(
      '[ZSA] Access granted from 2030-01-01 12:00:00 UTC: task "Exchange\\New-MoveRequest"',
    );
    expect(granted.text).toContain('You will get an email when it starts');
    expect(started.subject).toBe('[ZSA] Access started: task "Exchange\\New-MoveRequest"');
    expect(started.text).toContain('Your access starts now');
    expect(started.text).toContain('until 2030-01-01 16:00:00 UTC');
  });

  it('a grant that used up its uses says so, and how many it had', () => {
    // Prepare
    const request = aRequest({
      status: 'ended',
      maxUses: 3,
      uses: 3,
      endReason: USES_EXHAUSTED,
      endedAt: iso(minutesAfterT0(40)),
    });

    // Act
    const email = renderEmail(messageOf('ended', request, toAlice), T0);
    const window = renderEmail(messageOf('ended', aRequest({ status: 'ended' }), toAlice), T0);

    // Assess
    expect(email.subject).toBe(
      '[ZSA] Ended: your access to task "Exchange\\New-MoveRequest" (all uses spent)',
    );
    expect(email.text).toContain(
      'The access allowed 3 uses; the last one was used at 2030-01-01 09:40:00 UTC, so it ended before its window closed.',
    );
    expect(window.text).toContain('The access window closed at');
  });

  it('an extension request tells the approvers the hours, the reason, the end now and the end if approved', () => {
    // Prepare: the grant ends at 13:10; two hours more would make it 15:10
    const request = aRequest({ status: 'approved', maxExtensions: 1, extensions: [anExtension()] });

    // Act
    const email = renderEmail(messageOf('extensionRequested', request, toDave), T0);

    // Assess
    expect(email.subject).toBe(
      `[ZSA] Extension needs approval: ${ALICE} asks for 2 hours more on task "Exchange\\New-MoveRequest"`,
    );
    expect(email.text).toContain(
      'The access ends at 2030-01-01 13:10:00 UTC; if the extension is approved, it ends at 2030-01-01 15:10:00 UTC.',
    );
    expect(email.text).toContain('Extension reason: The migration overran');
    expect(email.text).toContain('Please decide by 2030-01-01 13:10:00 UTC');
  });

  it('the requester hears how the extension ended, with the end of the access', () => {
    // Prepare: approved by Bob, so the grant now ends at 15:10
    const approved = anExtension({ status: 'approved', approvals: [decided(BOB, 0, 'approve', 'ok')] });
    const longer = aRequest({
      status: 'approved',
      expiresAt: iso(minutesAfterT0(370)),
      maxExtensions: 1,
      extensions: [approved],
    });
    const denied = anExtension({ status: 'denied', approvals: [decided(BOB, 0, 'deny', 'no')] });
    const same = aRequest({ status: 'approved', maxExtensions: 1, extensions: [denied] });

    // Act
    const yes = renderEmail(messageOf('extensionApproved', longer, toAlice), T0);
    const no = renderEmail(messageOf('extensionDenied', same, toAlice), T0);
    const late = renderEmail(
      messageOf('extensionExpired', same, toAlice, { extension: anExtension({ status: 'expired' }) }),
      T0,
    );
    const withdrawn = renderEmail(
      messageOf('extensionCanceled', same, toAlice, { extension: anExtension({ status: 'canceled' }) }),
      T0,
    );

    // Assess
    expect(yes.text).toContain(`Extension 1 (2 hours more) was approved by ${BOB}. Comment: "ok"`);
    expect(yes.text).toContain('Your access now lasts until 2030-01-01 15:10:00 UTC.');
    expect(no.text).toContain(`Extension 1 (2 hours more) was denied by ${BOB}. Comment: "no"`);
    expect(no.text).toContain('Your access still ends at 2030-01-01 13:10:00 UTC.');
    expect(late.text).toContain(
      'Nobody decided on extension 1 (2 hours more) before 2030-01-01 13:10:00 UTC.',
    );
    expect(withdrawn.text).toContain('Extension 1 (2 hours more) was withdrawn');
  });
});

describe('decision pages of stages and extensions', () => {
  it('a stage-2 link’s page names the stage and who approved stage 1', () => {
    // Prepare
    const request = twoStaged({ approvals: [decided(BOB, 0)] });

    // Act
    const page = confirmationPage(request, DAVE, LINK, { stage: 1 });

    // Assess
    expect(page.html).toContain(
      `You decide in stage 2 of 2, for the approver group ${SECOND}. Already approved: stage 1 by ${BOB}.`,
    );
  });

  it('an extension link’s page shows the hours, the reason and the end now and if approved', () => {
    // Prepare
    const request = aRequest({ status: 'approved', maxExtensions: 1, extensions: [anExtension()] });

    // Act
    const page = confirmationPage(request, BOB, LINK, { stage: 0, extensionId: '1' });

    // Assess
    expect(page.html).toContain('<h1>Approve or deny this extension</h1>');
    expect(page.html).toContain('<th scope="row">Extension</th><td>2 hours more (extension 1)</td>');
    expect(page.html).toContain('<td>The migration overran</td>');
    expect(page.html).toContain('<th scope="row">Access ends now</th><td>2030-01-01 13:10:00 UTC</td>');
    expect(page.html).toContain('<th scope="row">If approved, ends</th><td>2030-01-01 15:10:00 UTC</td>');
  });

  it('a link of a stage that is over, or not open yet, or of a finished extension, says so', () => {
    // Prepare
    const request = twoStaged({ approvals: [decided(BOB, 0)] });
    const early = twoStaged();
    const grant = aRequest({
      status: 'approved',
      maxExtensions: 1,
      extensions: [anExtension({ status: 'denied' })],
    });

    // Act
    const over = closedLinkPage(request, 'stageOver', { stage: 0 });
    const notYet = closedLinkPage(early, 'stageNotOpen', { stage: 1 });
    const finished = closedLinkPage(grant, 'extensionNotPending', { stage: 0, extensionId: '1' });

    // Assess
    expect(over.status).toBe(410);
    expect(over.html).toContain('Stage 1 of 2 is already over');
    expect(over.html).toContain('Stage 2 decides now.');
    expect(notYet.status).toBe(409);
    expect(notYet.html).toContain('Stage 2 of 2 is not open yet');
    expect(notYet.html).toContain('you will be emailed when your stage opens');
    expect(finished.status).toBe(410);
    expect(finished.html).toContain('This extension no longer needs a decision');
    expect(finished.html).toContain('It is now denied.');
  });

  it('after a stage-closing approval the page says the next stage is asked', () => {
    // Prepare
    const view = toRequestView(twoStaged({ approvals: [decided(BOB, 0)] }), []);

    // Act
    const page = recordedPage('approve', view, { stage: 0 });

    // Assess
    expect(page.html).toContain(`the approvers of stage 2 (${SECOND}) are asked now`);
  });
});
