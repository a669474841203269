import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DomainError } from '#shared/domain/errors';
import { formatDuration, oneLine } from '#shared/notifications/html';
import { buildMessage, type NotificationEvent } from '#shared/notifications/messages';
import {
  confirmationPage,
  pageHeaders,
  recordedPage,
  refusedPage,
  usedLinkPage,
} from '#shared/notifications/pages';
import { renderEmail } from '#shared/notifications/render';
import { ALICE, BOB, T0, aRequest } from '../domain/builders';
import type { Request } from '#shared/domain/request';

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
  ];

describe('notification emails', () => {
  it.each(EVENTS)(
    '$event to the $audience: escaped, no remote content, text and HTML',
    ({ event, status, audience }) => {
      // Prepare
      const request = hostile({ status, ...(status === 'revoked' ? { endReason: EVIL } : {}) });
      const recipient = { upn: audience === 'approver' ? BOB : ALICE, audience };
      const message =
        event === 'approvalNeeded'
          ? buildMessage({ event, decisionUrl: LINK, generation: 1 }, request, recipient, T0)
          : buildMessage({ event }, request, recipient, T0);

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
    expect(recordedPage('approve', { ...aRequest({ status: 'approved' }), executions: [] }).html).toContain(
      'You approved the request',
    );
  });
});
