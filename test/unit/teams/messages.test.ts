/**
 * The pure rules of Teams delivery: which messages a notification makes (ask the approvers who have
 * the app, update the cards already sent, tell the requester), who the user behind an activity is,
 * and where ZSA may post with a token.
 */
import { describe, expect, it } from 'vitest';
import type { NotifyInput } from '#shared/notifications/messages';
import { InboundActivity, serviceUrlAllowed, teamsUser } from '#shared/teams/activity';
import { planTeamsMessages, TeamsMessage, type TeamsPlanInput } from '#shared/teams/messages';
import {
  ALICE,
  BOB,
  CAROL,
  ERIN,
  MEMBERS,
  aDecision,
  aRequest,
  idOf,
  iso,
  minutesAfterT0,
} from '../domain/builders';

const ALL = new Set([ALICE, BOB, CAROL, ERIN].map(idOf));

function plan(input: NotifyInput, overrides: Partial<TeamsPlanInput> = {}): [string, string, number][] {
  return planTeamsMessages({
    input,
    request: aRequest(),
    members: MEMBERS,
    reachable: ALL,
    sent: [],
    ...overrides,
  }).map((m) => [m.kind, m.userId, m.stage]);
}

describe('which Teams messages a notification makes', () => {
  it('asks every approver of the open stage who has the app, never the requester', () => {
    // Act
    const messages = plan(
      { requestId: 'req-1', event: 'approvalNeeded' },
      { reachable: new Set([ALICE, BOB, CAROL].map(idOf)) },
    );

    // Assert: Erin has no app; Alice is the requester
    expect(messages).toEqual([
      ['ask', idOf(BOB), 0],
      ['ask', idOf(CAROL), 0],
    ]);
  });

  it('updates every card sent when the request is decided, and tells the requester', () => {
    // Arrange
    const request = aRequest({
      status: 'approved',
      approvals: [aDecision(BOB, 0)],
      decidedAt: iso(minutesAfterT0(1)),
      grantedAt: iso(minutesAfterT0(1)),
      expiresAt: iso(minutesAfterT0(241)),
    });
    const sent = [BOB, CAROL].map((u) => ({ userId: idOf(u), binding: { stage: 0 } }));

    // Act
    const messages = plan({ requestId: 'req-1', event: 'approved' }, { request, sent });

    // Assert
    expect(messages).toEqual([
      ['update', idOf(BOB), 0],
      ['update', idOf(CAROL), 0],
      ['tell', idOf(ALICE), 0],
    ]);
  });

  it("updates the earlier stage's cards when the next stage opens, and asks its approvers", () => {
    // Arrange: stage 2 opens; Bob's stage-1 card was sent
    const request = aRequest({
      stages: [
        { approverGroup: 'exchange-approvers', requiredApprovals: 1 },
        { approverGroup: 'exchange-approvers', requiredApprovals: 1 },
      ],
      requiredApprovals: 2,
      approvals: [aDecision(BOB, 0)],
    });

    // Act
    const messages = plan(
      { requestId: 'req-1', event: 'approvalNeeded', stage: 1 },
      { request, sent: [{ userId: idOf(BOB), binding: { stage: 0 } }] },
    );

    // Assert: Bob decided already, so only Carol and Erin are asked in stage 2
    expect(messages).toEqual([
      ['ask', idOf(CAROL), 1],
      ['ask', idOf(ERIN), 1],
      ['update', idOf(BOB), 0],
    ]);
  });

  it('sends nothing for events that change no card and tell nobody in Teams', () => {
    // Act / Assert
    expect(
      plan(
        { requestId: 'req-1', event: 'started' },
        { sent: [{ userId: idOf(BOB), binding: { stage: 0 } }] },
      ),
    ).toEqual([]);
  });

  it('gives each message a deterministic id Service Bus can take (≤ 128 characters), and a valid shape', () => {
    // Act
    const [first] = planTeamsMessages({
      input: { requestId: 'req-1', event: 'approvalNeeded' },
      request: aRequest(),
      members: MEMBERS,
      reachable: ALL,
      sent: [],
    });
    const again = planTeamsMessages({
      input: { requestId: 'req-1', event: 'approvalNeeded' },
      request: aRequest(),
      members: MEMBERS,
      reachable: ALL,
      sent: [],
    })[0];

    // Assert
    expect(first?.id).toBe(again?.id);
    expect(first?.id.length).toBeLessThanOrEqual(128);
    expect(TeamsMessage.safeParse(first).success).toBe(true);
  });
});

const TENANT = '7e57da7a-0000-4000-8000-00000000de70';
const OID = '0f0e0d0c-0b0a-4909-8807-060504030201';

function anActivity(overrides: Record<string, unknown> = {}): InboundActivity {
  return InboundActivity.parse({
    type: 'message',
    serviceUrl: 'https://smba.trafficmanager.net/emea/',
    channelId: 'msteams',
    from: { id: '29:1', aadObjectId: OID },
    recipient: { id: '28:bot' },
    conversation: { id: 'a:1', tenantId: TENANT, conversationType: 'personal' },
    ...overrides,
  });
}

describe('who sent an activity', () => {
  it('is the Entra user, keyed as their tokens are (tenant:object id, lower case)', () => {
    // Act
    const who = teamsUser(
      anActivity({ from: { id: '29:1', aadObjectId: OID.toUpperCase() } }),
      TENANT.toUpperCase(),
    );

    // Assert
    expect(who).toEqual({
      ok: true,
      user: { id: `${TENANT}:${OID}`, tenantId: TENANT, objectId: OID, name: undefined },
    });
  });

  it.each([
    [
      'another tenant',
      anActivity({ conversation: { id: 'a:1', tenantId: '11111111-1111-4111-8111-111111111111' } }),
    ],
    ['no tenant', anActivity({ conversation: { id: 'a:1' } })],
    ['no Entra object id', anActivity({ from: { id: '29:1' } })],
    ['an object id that is not a GUID', anActivity({ from: { id: '29:1', aadObjectId: 'bob' } })],
  ])('is nobody for %s', (_name, activity) => {
    // Act / Assert
    expect(teamsUser(activity, TENANT).ok).toBe(false);
  });

  it('takes the tenant from the channel data when the conversation does not say it', () => {
    // Act
    const who = teamsUser(
      anActivity({ conversation: { id: 'a:1' }, channelData: { tenant: { id: TENANT } } }),
      TENANT,
    );

    // Assert
    expect(who.ok).toBe(true);
  });
});

describe('where ZSA posts with a token', () => {
  const allowed = ['smba.trafficmanager.net', '127.0.0.1:7071'];

  it.each([
    ['https://smba.trafficmanager.net/emea/', true],
    ['https://smba.trafficmanager.net:8443/emea/', false],
    ['http://smba.trafficmanager.net/emea/', false],
    ['https://smba.trafficmanager.net.evil.example/', false],
    ['https://user:pw@smba.trafficmanager.net/emea/', false],
    ['http://127.0.0.1:7071/dev/teams/', true],
    ['http://127.0.0.1:7072/dev/teams/', false],
    ['not a url', false],
  ])('%s → %s', (url, expected) => {
    // Act / Assert
    expect(serviceUrlAllowed(url, allowed)).toBe(expected);
  });
});
