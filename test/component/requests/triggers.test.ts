/**
 * The connector's polling triggers as Power Automate drives them, through the real handlers against
 * real Azurite and the real development issuer: a first poll without a cursor, then always the URL
 * the last answer's `Location` gave, waiting `Retry-After` between polls. The app's clock is moved
 * by the test (the settle lag is minutes); requests are stored through the repository as the
 * stories store them, with decisions made by the domain's own rule (`applyDecision`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getDeps } from '#shared/app/deps';
import { OPEN_REVIEW } from '#shared/domain/emergency';
import { connectorDefinition } from '#shared/openapi/connector';
import { applyDecision, type Request, type RequestView } from '#shared/domain/request';
import { SETTLE_LAG_MS } from '#shared/requests/triggers';
import { approverGroupPut } from '../../../functions/approver-groups';
import { approvalsTrigger, decisionsTrigger, emergenciesTrigger } from '../../../functions/triggers';
import { enablePam } from '../../support/admin';
import { call, startComponentEnv, type ComponentEnv } from '../../support/component';
import { aPendingRequest, REQUESTER, userKey } from '../../support/requests';

const BOB = 'bob@contoso.com';
const DUAL = 'dual@contoso.com';
const CAROL = 'carol@contoso.com';
const ALICE = REQUESTER;
type Handler = typeof approvalsTrigger;

let env: ComponentEnv;
/** The app's clock: every poll and story reads it. */
let clock = Date.now();

beforeAll(async () => {
  env = await startComponentEnv();
  const admin = await env.token('admin@contoso.com', ['PAM.Admin']);
  await enablePam(admin, { group: 'approvers', members: [BOB, DUAL] });
  const security = await call(approverGroupPut, {
    method: 'PUT',
    path: '/x',
    token: admin,
    params: { name: 'security' },
    body: { members: [CAROL] },
  });
  expect(security.status, JSON.stringify(security.body)).toBeLessThan(300);
  getDeps().now = () => new Date(clock);
}, 60_000);

afterAll(async () => {
  await env.close();
});

/** Moves the app's clock past the settle lag, as the platform's next polls come later. */
const settle = () => {
  clock += SETTLE_LAG_MS + 1000;
};

interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
}

/** One poll: the trigger's own URL at first, then exactly the URL a `Location` named. */
function poll(handler: Handler, token: string, location?: string): Promise<Answer> {
  const path =
    location === undefined ? '/api/triggers/x' : new URL(location).pathname + new URL(location).search;
  return call(handler, { path, token });
}

function location(answer: Answer): string {
  const value = answer.headers.get('location');
  expect(value, 'Location').toBeTruthy();
  return value ?? '';
}

/** The platform's "nothing new": 202, where to poll next, and when. */
function expectWait(answer: Answer): string {
  expect(answer.status, JSON.stringify(answer.body)).toBe(202);
  expect(answer.headers.get('retry-after')).toBe('60');
  expect(new URL(location(answer)).searchParams.get('cursor')).toBeTruthy();
  return location(answer);
}

/** The platform's "something new": 200 with the items, and where to poll next. */
function expectItems(answer: Answer, retryAfter = '60'): { ids: string[]; next: string } {
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  expect(answer.headers.get('retry-after')).toBe(retryAfter);
  const items = (answer.body as { items: RequestView[] }).items;
  return { ids: items.map((i) => i.id), next: location(answer) };
}

function expectProblem(answer: Answer, status: number, code: string) {
  expect({ status: answer.status, code: (answer.body as { code?: string }).code }).toEqual({ status, code });
  expect(answer.headers.get('content-type')).toBe('application/problem+json');
}

const stage = (group: string) => ({ approverGroup: group, requiredApprovals: 1 });
const members = () =>
  new Map([
    [
      'approvers',
      [
        { upn: BOB, id: userKey(BOB) },
        { upn: DUAL, id: userKey(DUAL) },
      ],
    ],
    ['security', [{ upn: CAROL, id: userKey(CAROL) }]],
  ]);

/** A request waiting for the `approvers` group, submitted at the app's clock (minus `ago` ms). */
function awaiting(ago = 0, groups = ['approvers']): Request {
  return aPendingRequest(
    { stages: groups.map(stage), approverGroup: groups[0] ?? null, requiredApprovals: groups.length },
    new Date(clock - ago),
  );
}

const store = (...requests: Request[]) => Promise.all(requests.map((r) => getDeps().requests.create(r)));

describe('When a request awaits my approval (GET /api/triggers/approvals)', () => {
  it('starts at now, answers what became decidable once, the same again on a replay, and never twice', async () => {
    // Arrange: history the first poll must not flood the flow with.
    await store(awaiting(1_800_000));
    const bob = await env.token(BOB);

    // Act + Assess: first poll, then a quiet interval.
    const first = expectWait(await poll(approvalsTrigger, bob));
    clock += 60_000;
    const quiet = expectWait(await poll(approvalsTrigger, bob, first));

    // Arrange: a request for bob's group, one only carol's group decides, and alice's own (bob
    // cannot approve his own requests, nor alice hers: here the requester is alice).
    const fresh = awaiting();
    await store(fresh, awaiting(0, ['security']));
    settle();

    // Act
    const found = await poll(approvalsTrigger, bob, quiet);
    const replayed = await poll(approvalsTrigger, bob, quiet);
    const { next } = expectItems(found);
    const after = await poll(approvalsTrigger, bob, next);

    // Assess
    expect(expectItems(found).ids).toEqual([fresh.id]);
    expect(expectItems(replayed).ids).toEqual([fresh.id]);
    expectWait(after);
  });

  it('answers an event stamped just before a poll once it settles, neither skipped nor early', async () => {
    // Arrange: a cursor at the settled horizon, then a request stamped 1 s before the next poll
    // (its row landing a moment later, as a story's write does).
    const bob = await env.token(BOB);
    const cursor = expectWait(await poll(approvalsTrigger, bob));
    clock += 60_000;
    const late = awaiting(1000);
    await store(late);

    // Act
    const early = await poll(approvalsTrigger, bob, cursor);
    settle();
    const settled = await poll(approvalsTrigger, bob, expectWait(early));

    // Assess
    expect(expectItems(settled).ids).toEqual([late.id]);
  });

  it("answers a second stage's approvers when the first stage approves, at that moment", async () => {
    // Arrange: a two-stage request (security, then bob's approvers) submitted half an hour ago,
    // so not yet bob's to decide.
    const bob = await env.token(BOB);
    const twoStage = awaiting(1_800_000, ['security', 'approvers']);
    await store(twoStage);
    const cursor = expectWait(await poll(approvalsTrigger, bob));
    clock += 60_000;
    settle();
    const before = expectWait(await poll(approvalsTrigger, bob, cursor));
    const approved = applyDecision(
      twoStage,
      { approver: { id: userKey(CAROL), upn: CAROL }, decision: 'approve' },
      members(),
      new Date(clock),
    ).request;
    await getDeps().requests.update(twoStage.id, () => ({ next: approved, result: undefined }));
    settle();

    // Act
    const answer = await poll(approvalsTrigger, bob, before);

    // Assess
    expect(expectItems(answer).ids).toEqual([twoStage.id]);
  });

  it("answers a live grant's extension when it is asked for", async () => {
    // Arrange: alice's grant, approved by dual half an hour ago; then she asks for more time.
    const bob = await env.token(BOB);
    const granted = applyDecision(
      awaiting(1_800_000),
      { approver: { id: userKey(DUAL), upn: DUAL }, decision: 'approve' },
      members(),
      new Date(clock - 1_700_000),
    ).request;
    await store(granted);
    const cursor = expectWait(await poll(approvalsTrigger, bob));
    clock += 60_000;
    const extended: Request = {
      ...granted,
      extensions: [
        {
          id: '1',
          hours: 1,
          reason: 'the move is not done',
          status: 'pending',
          approvals: [],
          createdAt: new Date(clock).toISOString(),
          pendingUntil: granted.expiresAt ?? '',
          decidedAt: null,
        },
      ],
    };
    await getDeps().requests.update(granted.id, () => ({ next: extended, result: undefined }));
    settle();

    // Act
    const answer = await poll(approvalsTrigger, bob, cursor);

    // Assess
    expect(granted.status).toBe('approved');
    const items = (answer.body as { items: RequestView[] }).items;
    expect(expectItems(answer).ids).toEqual([granted.id]);
    expect(items[0]?.extensions.map((e) => e.status)).toEqual(['pending']);
  });

  it('answers at most 50 at a time, oldest first, and asks for the rest at once', async () => {
    // Arrange: 53 requests for bob's group, one second apart.
    const bob = await env.token(BOB);
    const cursor = expectWait(await poll(approvalsTrigger, bob));
    clock += 60_000;
    const many = Array.from({ length: 53 }, (_, i) => awaiting((53 - i) * 1000));
    await store(...many);
    settle();

    // Act
    const first = expectItems(await poll(approvalsTrigger, bob, cursor), '0');
    const rest = expectItems(await poll(approvalsTrigger, bob, first.next));

    // Assess
    expect([...first.ids, ...rest.ids]).toEqual(many.map((r) => r.id));
    expect(first.ids).toHaveLength(50);
  });
});

describe('When my request is decided (GET /api/triggers/decisions)', () => {
  it("answers the caller's own requests approved, denied and expired since the cursor, and no one else's", async () => {
    // Arrange: alice's requests submitted half an hour ago, pending when her flow starts.
    const alice = await env.token(ALICE);
    const [toApprove, toDeny, toExpire, stillPending] = [0, 1, 2, 3].map(() => awaiting(1_800_000));
    const othersRequest = aPendingRequest(
      {
        requester: DUAL,
        requesterId: userKey(DUAL),
        approverGroup: 'approvers',
        stages: [stage('approvers')],
      },
      new Date(clock - 1_800_000),
    );
    if (!toApprove || !toDeny || !toExpire || !stillPending) throw new Error('four requests');
    await store(toApprove, toDeny, toExpire, stillPending, othersRequest);
    const cursor = expectWait(await poll(decisionsTrigger, alice));

    // Act: decisions after the cursor.
    clock += 60_000;
    const decide = async (r: Request, decision: 'approve' | 'deny') => {
      const next = applyDecision(
        r,
        { approver: { id: userKey(BOB), upn: BOB }, decision },
        members(),
        new Date(clock),
      ).request;
      await getDeps().requests.update(r.id, () => ({ next, result: undefined }));
    };
    await decide(toApprove, 'approve');
    await decide(toDeny, 'deny');
    await decide(othersRequest, 'approve');
    const expired: Request = { ...toExpire, status: 'expired', endedAt: new Date(clock).toISOString() };
    await getDeps().requests.update(toExpire.id, () => ({ next: expired, result: undefined }));
    settle();
    const answer = await poll(decisionsTrigger, alice, cursor);

    // Assess
    const { ids, next } = expectItems(answer);
    expect([...ids].sort()).toEqual([toApprove.id, toDeny.id, toExpire.id].sort());
    expectWait(await poll(decisionsTrigger, alice, next));
  });
});

describe('an expiry written late', () => {
  it('holds the decisions cursor before its due time until it is written, then answers it', async () => {
    // Arrange: alice's request due a minute from now; her flow's cursor before that.
    const alice = await env.token(ALICE);
    const due = clock + 60_000;
    const late = { ...awaiting(), pendingUntil: new Date(due).toISOString() };
    await store(late);
    const cursor = expectWait(await poll(decisionsTrigger, alice));

    // Act: well past the due time and the settle lag, the timer has not written the expiry yet
    // (a cold start, an outage); then it does, dated at the due time as the workflow dates it.
    clock = due + 3 * SETTLE_LAG_MS;
    const held = expectWait(await poll(decisionsTrigger, alice, cursor));
    const expired: Request = { ...late, status: 'expired', endedAt: late.pendingUntil };
    await getDeps().requests.update(late.id, () => ({ next: expired, result: undefined }));
    const answer = await poll(decisionsTrigger, alice, held);

    // Assess: not skipped (the cursor did not move past the due time while it was pending).
    expect(expectItems(answer).ids).toEqual([late.id]);
  });
});

describe('what the approvals trigger never answers', () => {
  it("an approver's own request, even for their own group", async () => {
    // Arrange: bob asks; his group approves it, but never bob himself.
    const [bob, dual] = [await env.token(BOB), await env.token(DUAL)];
    const bobsCursor = expectWait(await poll(approvalsTrigger, bob));
    const dualsCursor = expectWait(await poll(approvalsTrigger, dual));
    const bobs = aPendingRequest(
      { requester: BOB, requesterId: userKey(BOB), approverGroup: 'approvers', stages: [stage('approvers')] },
      new Date(clock),
    );
    await store(bobs);
    settle();

    // Act
    const forBob = await poll(approvalsTrigger, bob, bobsCursor);
    const forDual = await poll(approvalsTrigger, dual, dualsCursor);

    // Assess: dual, in the same group, hears of it; bob does not.
    expect(expectItems(forDual).ids).toContain(bobs.id);
    if (forBob.status === 200) expect(expectItems(forBob).ids).not.toContain(bobs.id);
    else expectWait(forBob);
  });
});

describe('When an emergency access is used (GET /api/triggers/emergencies)', () => {
  /** A break-glass use granted at `at`, its review open. */
  function anEmergency(at: number): Request {
    const when = new Date(at).toISOString();
    return aPendingRequest(
      {
        emergency: true,
        review: OPEN_REVIEW,
        status: 'approved',
        approvalType: 'auto',
        approverGroup: 'approvers',
        requiredApprovals: 0,
        decidedAt: when,
        grantedAt: when,
        expiresAt: new Date(at + 3_600_000).toISOString(),
      },
      new Date(at),
    );
  }

  /** Its review closed as justified, as the review story writes it. */
  async function review(r: Request): Promise<void> {
    const reviewed: Request = {
      ...r,
      review: {
        ...OPEN_REVIEW,
        status: 'justified',
        reviewer: BOB,
        reviewerId: userKey(BOB),
        at: r.createdAt,
      },
    };
    await getDeps().requests.update(r.id, () => ({ next: reviewed, result: undefined }));
    await getDeps().requests.closeReview(reviewed);
  }

  it('answers break-glass uses, reviewed already or not, to admins and auditors, and refuses everyone else with 403', async () => {
    // Arrange: a use before the flow started (reviewed since), then two after: one still under
    // review, one reviewed within the settle lag; and an ordinary request.
    const auditor = await env.token('auditor@contoso.com', ['PAM.Auditor']);
    const bob = await env.token(BOB);
    const before = anEmergency(clock - 600_000);
    await store(before);
    await review(before);
    const cursor = expectWait(await poll(emergenciesTrigger, auditor));
    clock += 60_000;
    const open = anEmergency(clock);
    const reviewed = anEmergency(clock + 1000);
    await store(open, reviewed, awaiting());
    await review(reviewed);
    settle();

    // Act
    const refused = await poll(emergenciesTrigger, bob);
    const answer = await poll(emergenciesTrigger, auditor, cursor);

    // Assess
    expectProblem(refused, 403, 'INSUFFICIENT_ROLE');
    expect(expectItems(answer).ids).toEqual([open.id, reviewed.id]);
  });
});

describe('cursors', () => {
  it("refuses another user's, another trigger's, a forged and an edited cursor with 400 problem+json", async () => {
    // Arrange
    const bob = await env.token(BOB);
    const dual = await env.token(DUAL);
    const bobs = expectWait(await poll(approvalsTrigger, bob));
    const token = new URL(bobs).searchParams.get('cursor') ?? '';
    const [payload = '', signature = ''] = token.split('.');
    const edited = Buffer.from(
      Buffer.from(payload, 'base64url')
        .toString('utf8')
        .replace(/"t":\d+/, '"t":0'),
    ).toString('base64url');
    const withCursor = (cursor: string) =>
      `http://127.0.0.1:7071/api/triggers/x?cursor=${encodeURIComponent(cursor)}`;

    // Act
    const answers = {
      otherUser: await poll(approvalsTrigger, dual, bobs),
      otherTrigger: await poll(decisionsTrigger, bob, bobs),
      forged: await poll(approvalsTrigger, bob, withCursor('not-a-cursor')),
      edited: await poll(approvalsTrigger, bob, withCursor(`${edited}.${signature}`)),
      unknownQuery: await poll(approvalsTrigger, bob, `${bobs}&since=0`),
    };

    // Assess
    for (const [what, answer] of Object.entries(answers)) {
      expect(answer.status, what).toBe(400);
      expectProblem(answer, 400, 'INVALID_INPUT');
    }
    expect(JSON.stringify(answers.otherUser.body)).toContain('another user');
  });

  it('keeps cursors across an audit key rotation while the old key is listed as retired', async () => {
    // Arrange: a cursor signed under the current key.
    const bob = await env.token(BOB);
    const cursor = expectWait(await poll(approvalsTrigger, bob));
    const settings = getDeps().settings;
    const old = settings.ZSA_AUDIT_HMAC_KEY;
    try {
      // Act: rotate, the old key retired; then drop the retired key.
      Object.assign(settings, {
        ZSA_AUDIT_HMAC_KEY: 'rotated-audit-key',
        ZSA_AUDIT_HMAC_KEYS_RETIRED: [old],
      });
      const kept = await poll(approvalsTrigger, bob, cursor);
      Object.assign(settings, { ZSA_AUDIT_HMAC_KEYS_RETIRED: [] });
      const dropped = await poll(approvalsTrigger, bob, cursor);

      // Assess
      expectWait(kept);
      expectProblem(dropped, 400, 'INVALID_INPUT');
    } finally {
      Object.assign(settings, { ZSA_AUDIT_HMAC_KEY: old, ZSA_AUDIT_HMAC_KEYS_RETIRED: [] });
    }
  });

  it('refuses a poll without a token with 401', async () => {
    // Act
    const answer = await call(approvalsTrigger, { path: '/api/triggers/approvals' });

    // Assess
    expectProblem(answer, 401, 'MISSING_TOKEN');
  });
});

describe('the connector', () => {
  it.each([
    ['/api/triggers/approvals', 'WhenRequestAwaitsMyApproval'],
    ['/api/triggers/decisions', 'WhenMyRequestIsDecided'],
    ['/api/triggers/emergencies', 'WhenEmergencyAccessIsUsed'],
  ])('offers %s as a batch polling trigger (%s) whose answers carry Location and Retry-After', (path, id) => {
    // Act
    const paths = connectorDefinition().paths as Record<string, { get?: Record<string, unknown> }>;
    const op = paths[path]?.get;

    // Assess
    expect(op).toMatchObject({ operationId: id, 'x-ms-trigger': 'batch' });
    expect(op?.['x-ms-trigger-hint']).toMatch(/^To see it work now/);
    expect(op?.parameters).toEqual([
      expect.objectContaining({ name: 'cursor', 'x-ms-visibility': 'internal' }),
    ]);
    const responses = op?.responses as Record<
      string,
      { headers?: Record<string, unknown>; schema?: unknown }
    >;
    for (const status of ['200', '202'])
      expect(Object.keys(responses[status]?.headers ?? {}).sort()).toEqual(['Location', 'Retry-After']);
    expect(responses['200']?.schema).toBeDefined();
    expect(responses['202']?.schema).toBeUndefined();
  });
});
