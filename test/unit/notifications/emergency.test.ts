/**
 * The notifications of emergency access: who hears that it was used, who is reminded of its open
 * review, who hears the outcome, and what their emails say.
 */
import { describe, expect, it } from 'vitest';
import { OPEN_REVIEW, type Review } from '#shared/domain/emergency';
import type { Request } from '#shared/domain/request';
import {
  buildMessage,
  NotificationMessage,
  NotifyInput,
  recipientsFor,
  reminderScope,
  type NotificationEvent,
} from '#shared/notifications/messages';
import { renderEmail } from '#shared/notifications/render';
import {
  ALICE,
  BOB,
  CAROL,
  ERIN,
  GROUP,
  MALLORY,
  T0,
  aRequest,
  hoursAfterT0,
  iso,
  memberOf,
} from '../domain/builders';

const DEFAULT_GROUP = 'default-approvers';
const API = 'https://zsa.contoso.com/api/requests/req-1';
const EVIL = '<script>alert("x")</script>';

/** The request's group (Alice, its requester, is a member too) and the default group (Carol again, Mallory, Alice). */
const MEMBERS = new Map([
  [GROUP, [ALICE, BOB, CAROL, ERIN].map(memberOf)],
  // Alice again, saved before members were keyed and in other letter case: still the requester.
  [DEFAULT_GROUP, [memberOf(CAROL), memberOf(MALLORY), { upn: 'Alice@Contoso.com', id: null }]],
]);

function emergencyUse(review: Partial<Review> = {}, overrides: Partial<Request> = {}): Request {
  return aRequest({
    status: 'approved',
    approvalType: 'auto',
    requiredApprovals: 0,
    reason: 'INC-9: the mail flow is down for the whole tenant',
    ticket: 'INC-9',
    durationHours: 1,
    decidedAt: iso(T0),
    grantedAt: iso(T0),
    expiresAt: iso(hoursAfterT0(1)),
    emergency: true,
    review: { ...OPEN_REVIEW, ...review },
    ...overrides,
  });
}

const CLOSED: Partial<Review> = {
  status: 'unjustified',
  reviewer: BOB,
  reviewerId: memberOf(BOB).id,
  comment: 'no incident was open',
  at: iso(hoursAfterT0(3)),
};

function heard(event: NotificationEvent, request: Request): string[] {
  return recipientsFor(event, request, MEMBERS, { defaultApproverGroup: DEFAULT_GROUP })
    .map((r) => `${r.audience}:${r.upn}`)
    .sort();
}

describe('who hears of an emergency use', () => {
  it('its use: every member of its groups and of the default group, once each, never the requester', () => {
    // Act / Assess
    expect(heard('emergencyUsed', emergencyUse())).toEqual(
      [BOB, CAROL, ERIN, MALLORY].map((u) => `approver:${u}`).sort(),
    );
  });

  it('its open review: the same reviewers; a closed one reminds nobody', () => {
    // Act / Assess
    expect(heard('reviewReminder', emergencyUse())).toEqual(heard('emergencyUsed', emergencyUse()));
    expect(heard('reviewReminder', emergencyUse(CLOSED))).toEqual([]);
  });

  it('its outcome: the requester only, once it is closed', () => {
    // Act / Assess
    expect(heard('reviewed', emergencyUse(CLOSED))).toEqual([`requester:${ALICE}`]);
    expect(heard('reviewed', emergencyUse())).toEqual([]);
  });

  it('a request that was no emergency tells nobody of one', () => {
    // Act / Assess
    expect(heard('emergencyUsed', aRequest({ status: 'approved' }))).toEqual([]);
    expect(heard('reviewReminder', aRequest({ status: 'approved' }))).toEqual([]);
  });

  it('notify accepts the three events', () => {
    // Act / Assess
    for (const event of ['emergencyUsed', 'reviewReminder', 'reviewed'])
      expect(NotifyInput.safeParse({ requestId: 'req-1', event }).success).toBe(true);
  });
});

describe('emergency messages', () => {
  it('validate against the schema, carry the emergency and its review, and reminders get ids of their own', () => {
    // Prepare
    const first = emergencyUse({ remindedAt: iso(hoursAfterT0(24)) });
    const second = emergencyUse({ remindedAt: iso(hoursAfterT0(48)) });
    const to = { upn: BOB, audience: 'approver' as const };

    // Act
    const a = buildMessage(
      { event: 'reviewReminder', apiUrl: API, scope: reminderScope(first) },
      first,
      to,
      T0,
    );
    const again = buildMessage(
      { event: 'reviewReminder', apiUrl: API, scope: reminderScope(first) },
      first,
      to,
      T0,
    );
    const b = buildMessage(
      { event: 'reviewReminder', apiUrl: API, scope: reminderScope(second) },
      second,
      to,
      T0,
    );

    // Assess
    expect(NotificationMessage.parse(a)).toEqual(a);
    expect(a.request.emergency).toBe(true);
    expect(a.request.review?.status).toBe('open');
    expect(again.id).toBe(a.id);
    expect(b.id).not.toBe(a.id);
    expect(a.id.length).toBeLessThanOrEqual(128);
    // A request that was no emergency reads as before.
    const plain = buildMessage({ event: 'granted' }, aRequest({ status: 'approved' }), to, T0);
    expect('emergency' in plain.request || 'review' in plain.request).toBe(false);
  });

  it('the use: who, what, why, until when, the ticket and how to review', () => {
    // Prepare
    const message = buildMessage(
      { event: 'emergencyUsed', apiUrl: API },
      emergencyUse(),
      { upn: BOB, audience: 'approver' },
      T0,
    );

    // Act
    const email = renderEmail(message, T0);

    // Assess
    expect(email.subject).toBe(`[ZSA] Emergency access used: ${ALICE} — Exchange\\New-MoveRequest`);
    expect(email.text).toContain(`${ALICE} used emergency access to the task "Exchange\\New-MoveRequest"`);
    expect(email.text).toContain('until 2030-01-01 10:00:00 UTC');
    expect(email.text).toContain('Why: INC-9: the mail flow is down for the whole tenant');
    expect(email.text).toContain('Ticket: INC-9');
    expect(email.text).toContain('POST /api/requests/req-1/review');
    expect(email.text).toContain('"Review an emergency use"');
    expect(email.text).toContain(`Open the request: ${API}`);
    expect(email.html).toContain(`<a href="${API}"`);
  });

  it('the reminder says how long the review has been open', () => {
    // Prepare
    const message = buildMessage(
      { event: 'reviewReminder' },
      emergencyUse({ remindedAt: iso(hoursAfterT0(24)) }),
      { upn: BOB, audience: 'approver' },
      T0,
    );

    // Act
    const email = renderEmail(message, hoursAfterT0(25));

    // Assess
    expect(email.subject).toBe(
      `[ZSA] Review still open: ${ALICE}'s emergency access to Exchange\\New-MoveRequest`,
    );
    expect(email.text).toContain('its review has been open for 1 day 1 hour');
    expect(email.text).toContain('POST /api/requests/req-1/review');
    expect(email.html).not.toContain('<a href=');
  });

  it('the outcome tells the requester who judged it and why', () => {
    // Prepare
    const message = buildMessage(
      { event: 'reviewed' },
      emergencyUse(CLOSED),
      { upn: ALICE, audience: 'requester' },
      T0,
    );

    // Act
    const email = renderEmail(message, T0);

    // Assess
    expect(email.subject).toBe(
      '[ZSA] Reviewed: your emergency access to Exchange\\New-MoveRequest was judged unjustified',
    );
    expect(email.text).toContain(`${BOB} reviewed your emergency use`);
    expect(email.text).toContain('judged it unjustified. Comment: "no incident was open"');
  });

  it('escapes what the requester wrote', () => {
    // Prepare
    const message = buildMessage(
      { event: 'emergencyUsed' },
      emergencyUse({}, { reason: `INC-9 is on fire: ${EVIL}` }),
      { upn: BOB, audience: 'approver' },
      T0,
    );

    // Act
    const email = renderEmail(message, T0);

    // Assess
    expect(email.html).not.toContain('<script');
    expect(email.html).toContain('&lt;script&gt;');
  });
});
