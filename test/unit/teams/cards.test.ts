/**
 * The Teams cards: what an approver's card shows in each state of its request, that every card is
 * valid Adaptive Cards 1.5 (the schema Teams renders, vendored under test/fixtures/adaptive-cards/),
 * and that request text can never become markdown.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv, { type ErrorObject } from 'ajv';
import draft06 from 'ajv/dist/refs/json-schema-draft-06.json';
import { describe, expect, it } from 'vitest';
import type { IAdaptiveCard } from '@microsoft/teams.cards';
import type { Request } from '#shared/domain/request';
import { approvalCard, cardState, outcomeCard, type ApprovalCardInput } from '#shared/teams/cards';
import {
  ALICE,
  BOB,
  CAROL,
  T0,
  aDecision,
  aRequest,
  aStagedRequest,
  hoursAfterT0,
  idOf,
  iso,
  minutesAfterT0,
} from '../domain/builders';
import { REPO } from '../infra/bicep-text';

const PORTAL = 'https://zsa.contoso.com';
const NOW = minutesAfterT0(30);

const { id: schemaId, ...schema } = JSON.parse(
  readFileSync(join(REPO, 'test', 'fixtures', 'adaptive-cards', 'adaptive-card-1.5.json'), 'utf8'),
) as { id: string } & Record<string, unknown>;
// Microsoft's schema is draft-06, naming itself with draft-04's `id` (Ajv reads `$id`), with keywords
// strict mode does not know (`version`, `features`). Formats are not what is checked here.
const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
ajv.addMetaSchema(draft06);
const validate = ajv.compile({ ...schema, $id: schemaId });

function schemaErrors(card: IAdaptiveCard): string[] {
  return validate(card)
    ? []
    : (validate.errors ?? []).map((e: ErrorObject) => `${e.instancePath} ${e.message ?? e.keyword}`);
}

/** Every piece of text on the card, with the element type that carries it. */
function texts(node: unknown, out: { type: string; text: string }[] = []): { type: string; text: string }[] {
  if (Array.isArray(node)) for (const n of node) texts(n, out);
  else if (typeof node === 'object' && node !== null) {
    const o = node as Record<string, unknown>;
    if (typeof o.text === 'string' && typeof o.type === 'string') out.push({ type: o.type, text: o.text });
    if (typeof o.title === 'string' && typeof o.type === 'string') out.push({ type: o.type, text: o.title });
    for (const v of Object.values(o)) texts(v, out);
  }
  return out;
}

const all = (card: IAdaptiveCard) =>
  texts(card)
    .map((t) => t.text)
    .join('\n');

function actions(card: IAdaptiveCard): { type: string; verb?: string; url?: string; data?: unknown }[] {
  return card.actions ?? [];
}

function input(
  request: Request,
  viewer: string,
  overrides: Partial<ApprovalCardInput> = {},
): ApprovalCardInput {
  return {
    request,
    binding: { stage: 0 },
    viewerId: idOf(viewer),
    now: NOW,
    portalBaseUrl: PORTAL,
    ...overrides,
  };
}

const approvedBy = (...names: string[]): Partial<Request> => ({
  status: 'approved',
  approvals: names.map((n, i) => aDecision(n, 0, 'approve', 10 + i)),
  decidedAt: iso(minutesAfterT0(10)),
  grantedAt: iso(minutesAfterT0(10)),
  expiresAt: iso(minutesAfterT0(250)),
});

describe('what the approval card shows', () => {
  it.each([
    ['a pending request, to an approver', aRequest(), CAROL, { kind: 'decide' }],
    [
      'a request approved by Bob, to Carol',
      aRequest(approvedBy(BOB)),
      CAROL,
      { kind: 'done', headline: `Approved by ${BOB}`, tone: 'good' },
    ],
    [
      'a request approved by Bob, to Bob',
      aRequest(approvedBy(BOB)),
      BOB,
      { kind: 'done', headline: `Approved by ${BOB} (you)`, tone: 'good' },
    ],
    [
      'a request denied with a comment',
      aRequest({ status: 'denied' }),
      CAROL,
      { kind: 'done', headline: `Denied by ${BOB}: "no ticket"`, tone: 'attention' },
    ],
    [
      'a canceled request',
      aRequest({ status: 'canceled' }),
      CAROL,
      { kind: 'done', headline: `Canceled by ${ALICE}`, tone: 'default' },
    ],
    [
      'a pending request past its deadline (the timer has not run yet)',
      aRequest({ pendingUntil: iso(minutesAfterT0(20)) }),
      CAROL,
      { kind: 'done', headline: 'Expired: nobody decided in time', tone: 'default' },
    ],
    [
      'a request of two approvals Bob gave one of, to Bob',
      aRequest({ requiredApprovals: 2, approvals: [aDecision(BOB, 0)] }),
      BOB,
      { kind: 'done', headline: `Approved by ${BOB} (you); waiting for the other approvers`, tone: 'good' },
    ],
    [
      'a request of two approvals Bob gave one of, to Carol',
      aRequest({ requiredApprovals: 2, approvals: [aDecision(BOB, 0)] }),
      CAROL,
      { kind: 'decide' },
    ],
    [
      'a request that asks for step-up',
      aRequest({ approverAuthContext: 'c1' }),
      CAROL,
      { kind: 'stepUp', required: 'c1' },
    ],
  ] as const)('%s', (_name, request, viewer, expected) => {
    // Act
    const state = cardState(input(request, viewer));

    // Assert
    expect(state).toEqual(expected);
  });

  it("says a stage's card is over once its stage is approved, and which stage decides now", () => {
    // Arrange: Bob approved stage 1 of 2
    const request = aStagedRequest({ approvals: [aDecision(BOB, 0)] });

    // Act
    const state = cardState(input(request, CAROL));

    // Assert
    expect(state).toEqual({
      kind: 'done',
      headline: `Stage 1 approved by ${BOB}; stage 2 decides now`,
      tone: 'good',
    });
  });

  it('shows every field of the decision page, and Approve and Deny carrying the request and stage', () => {
    // Arrange
    const request = aRequest({ parameters: { Identity: 'ceo@contoso.com', Count: 3 } });

    // Act
    const card = approvalCard(input(request, CAROL));

    // Assert
    const text = all(card);
    for (const expected of [
      ALICE,
      'Exchange\\New-MoveRequest',
      'Identity = ceo@contoso.com',
      'Count = 3',
      'INC-42: move the CEO mailbox',
      'INC-42',
      '4 hours',
      'Decide by',
      '2030-01-02 09:00:00 UTC',
    ])
      expect(text).toContain(expected);
    expect(actions(card).map((a) => [a.type, a.verb, a.data])).toEqual([
      ['Action.Execute', 'approve', { requestId: 'req-1', stage: 0 }],
      ['Action.Execute', 'deny', { requestId: 'req-1', stage: 0 }],
    ]);
    expect(JSON.stringify(card.body)).toContain('"id":"comment"');
  });

  it('opens the portal instead of deciding in place when the request asks for step-up', () => {
    // Act
    const card = approvalCard(input(aRequest({ approverAuthContext: 'c1' }), CAROL));

    // Assert
    expect(actions(card)).toEqual([
      { type: 'Action.OpenUrl', title: 'Open to decide', url: `${PORTAL}/approvals/req-1` },
    ]);
    expect(all(card)).toContain('stronger sign-in');
  });

  it('never puts request text where Teams reads markdown', () => {
    // Arrange: a reason and parameter shaped as markdown
    const evil = '[Approve here](https://evil.example) **urgent**';
    const request = aRequest({ reason: evil, ticket: evil, parameters: { Identity: evil } });

    // Act
    const card = approvalCard(input(request, CAROL, { notice: { text: 'You approved.', tone: 'good' } }));

    // Assert: present, but only in TextRuns (never markdown)
    const carriers = texts(card).filter((t) => t.text.includes('evil.example'));
    expect(carriers.length).toBeGreaterThan(0);
    expect(new Set(carriers.map((t) => t.type))).toEqual(new Set(['TextRun']));
  });
});

describe('every card is valid Adaptive Cards 1.5', () => {
  const extension = {
    id: '1',
    hours: 2,
    reason: 'the migration runs late',
    status: 'pending' as const,
    approvals: [],
    createdAt: iso(minutesAfterT0(20)),
    pendingUntil: iso(hoursAfterT0(3)),
    decidedAt: null,
  };
  const extended = aRequest({ ...approvedBy(BOB), maxExtensions: 1, extensions: [extension] });

  it.each([
    ['pending', approvalCard(input(aRequest(), CAROL))],
    [
      'pending, with a notice',
      approvalCard(
        input(aRequest(), ALICE, {
          notice: { text: 'You cannot approve your own request.', tone: 'attention' },
        }),
      ),
    ],
    ['step-up', approvalCard(input(aRequest({ approverAuthContext: 'c1' }), CAROL))],
    ['approved', approvalCard(input(aRequest(approvedBy(BOB)), CAROL))],
    [
      'denied, without a portal',
      approvalCard(input(aRequest({ status: 'denied' }), CAROL, { portalBaseUrl: undefined })),
    ],
    ['two stages', approvalCard(input(aStagedRequest(), CAROL))],
    ['emergency', approvalCard(input(aRequest({ ...approvedBy(BOB), emergency: true }), CAROL))],
    ['an extension', approvalCard(input(extended, CAROL, { binding: { stage: 0, extensionId: '1' } }))],
    ['an outcome', outcomeCard(aRequest(approvedBy(BOB)), { stage: 0 }, NOW, PORTAL)],
    ['an extension outcome', outcomeCard(extended, { stage: 0, extensionId: '1' }, NOW, undefined)],
  ])('%s', (_name, card) => {
    // Assert
    expect(card.version).toBe('1.5');
    expect(schemaErrors(card)).toEqual([]);
  });

  it('the schema refuses what Teams would not render (the check can fail)', () => {
    // Arrange: a card with an element type Adaptive Cards does not have
    const card = { ...approvalCard(input(aRequest(), CAROL)), body: [{ type: 'Marquee', text: 'x' }] };

    // Assert
    expect(schemaErrors(card as unknown as IAdaptiveCard)).not.toEqual([]);
  });
});

describe("the requester's outcome card", () => {
  it.each([
    ['approved', aRequest(approvedBy(BOB)), `Approved by ${BOB}`],
    ['denied', aRequest({ status: 'denied' }), `Denied by ${BOB}: "no ticket"`],
    [
      'expired',
      aRequest({ status: 'expired', endedAt: iso(hoursAfterT0(24)) }),
      'Expired: nobody decided in time',
    ],
  ])('%s', (_name, request, headline) => {
    // Act
    const card = outcomeCard(request, { stage: 0 }, T0, PORTAL);

    // Assert
    expect(all(card)).toContain(headline);
    expect(actions(card)).toEqual([
      { type: 'Action.OpenUrl', title: 'Open in ZSA', url: `${PORTAL}/requests/req-1` },
    ]);
  });
});
