/**
 * Deciding from an emailed link, against real Azurite: the real token store, the real request
 * repository and the real `decide` story (so every approval rule is the API's). Only the
 * orchestration client, the configuration reader and the audit sink are stand-ins.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aPendingRequest as pendingRequest } from '../../support/requests';
import { createTables, type Tables } from '#shared/adapters/tables';
import type { AuditEventInput, AuditSink } from '#shared/audit/types';
import { settings } from '#shared/config';
import { DomainError } from '#shared/domain/errors';
import { Request, type Decision } from '#shared/domain/request';
import {
  openDecisionLink,
  submitDecisionLink,
  type DecisionLinkContext,
} from '#shared/notifications/decisions';
import { createTokenStore, TokenState, type TokenRecord, type TokenStore } from '#shared/notifications/store';
import type { Member } from '#shared/domain/pam';
import { encodeKey } from '#shared/domain/names';
import { parseToken } from '#shared/notifications/tokens';
import type { Orchestrations } from '#shared/requests/orchestrations';
import { createRequestRepository, type RequestRepository } from '#shared/requests/repository';
import type { Caller, ConfigReader, RequestContext } from '#shared/requests/context';
import { decideExtension } from '#shared/requests/extensions';
import { decide } from '#shared/requests/usecases';
import { startComponentEnv, type ComponentEnv } from '../../support/component';

const ANN = 'ann@contoso.com';
const BEN = 'ben@contoso.com';
const CAT = 'cat@contoso.com';
const GROUP = 'link-approvers';

let env: ComponentEnv;
let tables: Tables;
let repo: RequestRepository;
let tokens: TokenStore;
let members: string[];
const raised: { id: string; event: string }[] = [];
const audited: AuditEventInput[] = [];

beforeAll(async () => {
  env = await startComponentEnv();
  tables = createTables(settings());
  repo = createRequestRepository(tables);
  tokens = createTokenStore(tables);
}, 60_000);

afterAll(async () => {
  await env.close();
});

const orchestrations: Orchestrations = {
  start: () => Promise.resolve(),
  state: () => Promise.resolve(undefined),
  raise: (id, event) => {
    raised.push({ id, event });
    return Promise.resolve();
  },
};

const config: ConfigReader = {
  pamConfig: () => Promise.reject(new Error('not used')),
  policies: () => Promise.reject(new Error('not used')),
  task: () => Promise.reject(new Error('not used')),
  policyContext: () => Promise.reject(new Error('not used')),
  groupMembers: (group) => Promise.resolve(group === GROUP ? members.map(memberOf) : []),
};

const audit: AuditSink = {
  append: (event) => {
    audited.push(event);
    return Promise.resolve({ id: randomUUID() });
  },
};

function requestContext(now: Date, overrides: Partial<RequestContext> = {}): RequestContext {
  return { repo, config, orchestrations, audit, now, minDurationSeconds: 1, ...overrides };
}

/** The key the directory resolved a member to (as `Principal.id` of that user signed in). */
function keyOf(upn: string): string {
  return `tid:${upn}`;
}

function memberOf(upn: string): Member & { id: string } {
  return { upn, id: keyOf(upn) };
}

/** As the app's wiring does: the link's approver, by the key the link was minted for. */
function linkCaller(link: TokenRecord): Caller {
  const id = link.approverId ?? `decision-link:${link.approver}`;
  return {
    principal: {
      id,
      upn: link.approver,
      roles: [],
      isAdmin: false,
      isAuditor: false,
      authMethod: 'decisionLink',
      strength: { acrs: [], amr: [] },
    },
    actor: { kind: 'user', id, upn: link.approver, roles: [] },
    origin: {},
  };
}

/** The member signed in with a token, deciding through the API. */
function apiCaller(upn: string): Caller {
  const principal = {
    id: keyOf(upn),
    upn,
    roles: [],
    isAdmin: false,
    isAuditor: false,
    authMethod: 'bearer' as const,
    strength: { acrs: [], amr: [] },
  };
  return { principal, actor: { kind: 'user', id: principal.id, upn, roles: [] }, origin: {} };
}

let decideCalls = 0;

function linkContext(
  options: {
    now?: Date;
    /** The UPN of the member signed in (their key is then `keyOf(upn)`). */
    signedInAs?: string;
    /** Or the key of whoever is signed in, as is. */
    signedInKey?: string;
    requireSignIn?: boolean;
    requests?: Partial<RequestContext>;
  } = {},
): DecisionLinkContext {
  const now = options.now ?? new Date();
  return {
    tokens,
    requests: repo,
    now,
    signedInAs:
      options.signedInKey ?? (options.signedInAs === undefined ? undefined : keyOf(options.signedInAs)),
    requireSignIn: options.requireSignIn ?? false,
    log: () => undefined,
    audit,
    callerFor: linkCaller,
    // As the app's wiring does: the link's stage, of the request or of its extension.
    decide: (caller, id, decision, comment, binding) => {
      decideCalls++;
      const ctx = requestContext(now, options.requests);
      return binding.extensionId === undefined
        ? decide(ctx, caller, id, decision, comment, binding.stage)
        : decideExtension(ctx, caller, id, binding.extensionId, decision, comment, binding.stage);
    },
  };
}

/** A pending request by Alice under a manual policy of GROUP, stored. */
async function aPendingRequest(overrides: Partial<Request> = {}): Promise<Request> {
  const now = new Date();
  const request = pendingRequest(
    {
      approverGroup: GROUP,
      ...overrides,
    },
    now,
  );
  await repo.create(request);
  return request;
}

async function linkFor(request: Request, approver: string): Promise<string> {
  const link = await tokens.prepare(request.id, memberOf(approver), request.pendingUntil);
  if (!link) throw new Error('no link minted');
  await tokens.markSent(request.id, approver, link);
  return link.token;
}

async function rowOf(token: string) {
  const parsed = parseToken(token);
  if (!parsed) throw new Error('bad token');
  return tokens.find(parsed);
}

async function submit(
  token: string,
  decision: Decision = 'approve',
  options: Parameters<typeof linkContext>[0] = {},
) {
  return submitDecisionLink(linkContext(options), token, decision, 'from the email');
}

describe('opening a link (what GET and HEAD do)', () => {
  it('shows the request and changes nothing, however often it is opened', async () => {
    // Prepare
    members = [ANN, BEN];
    const request = await aPendingRequest();
    const token = await linkFor(request, ANN);
    const before = await rowOf(token);

    // Act
    const states = await Promise.all(
      Array.from({ length: 100 }, () => openDecisionLink(linkContext(), token)),
    );

    // Assess
    expect(new Set(states.map((s) => s.kind))).toEqual(new Set(['open']));
    expect((await rowOf(token))?.etag).toBe(before?.etag);
    expect((await repo.read(request.id))?.request).toEqual(request);
    expect((await submit(token)).kind).toBe('recorded');
  });

  it.each([
    ['malformed', (t: string) => t.slice(0, -1)],
    ['with a changed secret', (t: string) => `${t.slice(0, -1)}${t.endsWith('A') ? 'B' : 'A'}`],
    ['never minted', (t: string) => `${t.split('.')[0] ?? ''}.${'A'.repeat(43)}`],
    ['pointed at another request', (t: string) => `${randomUUID()}.${t.split('.')[1] ?? ''}`],
  ])('a link %s leads nowhere', async (_name, tamper) => {
    // Prepare
    members = [ANN];
    const token = await linkFor(await aPendingRequest(), ANN);

    // Act
    const state = await openDecisionLink(linkContext(), tamper(token));

    // Assess
    expect(state.kind).toBe('invalid');
  });

  it("another request's valid secret does not open this request", async () => {
    // Prepare
    members = [ANN];
    const mine = await aPendingRequest();
    const other = await aPendingRequest();
    const mineToken = await linkFor(mine, ANN);
    const otherToken = await linkFor(other, ANN);

    // Act
    const crossed = await openDecisionLink(linkContext(), `${mine.id}.${otherToken.split('.')[1] ?? ''}`);

    // Assess
    expect(crossed.kind).toBe('invalid');
    expect((await openDecisionLink(linkContext(), mineToken)).kind).toBe('open');
  });
});

describe('deciding through a link', () => {
  it('approve: the request is approved, the orchestration told, the link spent', async () => {
    // Prepare
    members = [ANN, BEN];
    const request = await aPendingRequest();
    const token = await linkFor(request, ANN);

    // Act
    const outcome = await submit(token, 'approve');

    // Assess
    expect(outcome.kind).toBe('recorded');
    const stored = (await repo.read(request.id))?.request;
    expect(stored?.status).toBe('approved');
    expect(stored?.approvals).toEqual([
      expect.objectContaining({ approver: ANN, decision: 'approve', comment: 'from the email' }),
    ]);
    expect(raised).toContainEqual({ id: request.id, event: 'RequestDecided' });
    expect(await rowOf(token)).toMatchObject({ state: TokenState.used, outcome: 'approve' });
    expect(
      audited.find((e) => e.action === 'request.approved' && e.requestId === request.id)?.actor,
    ).toMatchObject({ upn: ANN });
  });

  it('the same link again is refused as used, without deciding again', async () => {
    // Prepare
    members = [ANN, BEN];
    const request = await aPendingRequest({ requiredApprovals: 2 });
    const token = await linkFor(request, ANN);
    await submit(token, 'approve');
    const calls = decideCalls;

    // Act
    const again = await submit(token, 'deny');

    // Assess
    expect(again.kind).toBe('used');
    expect(decideCalls).toBe(calls);
    expect((await repo.read(request.id))?.request.approvals).toHaveLength(1);
    expect((await openDecisionLink(linkContext(), token)).kind).toBe('used');
  });

  it('a link refused by itself (used, closed, forwarded) is audited as a refused decision, like the story refusals', async () => {
    // Prepare: Ann's link spent on a two-approval request; Ben's link to a request Ben decided in the API
    members = [ANN, BEN];
    const first = await aPendingRequest({ requiredApprovals: 2 });
    const spent = await linkFor(first, ANN);
    await submit(spent, 'approve');
    const second = await aPendingRequest({ requiredApprovals: 2 });
    const bens = await linkFor(second, BEN);
    await decide(requestContext(new Date()), apiCaller(BEN), second.id, 'approve', undefined);
    const annsOnSecond = await linkFor(second, ANN);

    // Act
    const used = await submit(spent, 'deny');
    const closed = await submit(bens, 'deny');
    const forwarded = await submit(annsOnSecond, 'approve', { signedInAs: BEN });

    // Assess
    expect([used.kind, closed.kind, forwarded.kind]).toEqual(['used', 'closed', 'wrongUser']);
    const refusals = (requestId: string) =>
      audited.filter((e) => e.action === 'request.decisionRefused' && e.requestId === requestId);
    expect(refusals(first.id)).toEqual([
      expect.objectContaining({
        reason: 'DECISION_LINK_USED',
        outcome: 'refused',
        detail: { via: 'decisionLink', decision: 'deny', linkApprover: ANN, stage: 0 },
      }),
    ]);
    expect(refusals(second.id).map((e) => e.reason)).toEqual([
      'DECISION_LINK_CLOSED: alreadyDecided',
      'DECISION_LINK_WRONG_USER',
    ]);
  });

  it('deny: the request is denied', async () => {
    // Prepare
    members = [ANN];
    const request = await aPendingRequest();
    const token = await linkFor(request, ANN);

    // Act
    const outcome = await submit(token, 'deny');

    // Assess
    expect(outcome.kind).toBe('recorded');
    expect((await repo.read(request.id))?.request.status).toBe('denied');
  });

  it('twenty simultaneous submits of one link record exactly one decision', async () => {
    // Prepare
    members = [ANN, BEN];
    const request = await aPendingRequest({ requiredApprovals: 2 });
    const token = await linkFor(request, ANN);

    // Act
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => submit(token, 'approve')));

    // Assess
    expect(outcomes.filter((o) => o.kind === 'recorded')).toHaveLength(1);
    expect(outcomes.filter((o) => o.kind !== 'recorded').every((o) => o.kind === 'used')).toBe(true);
    expect((await repo.read(request.id))?.request.approvals).toHaveLength(1);
  });

  it('2-of-3: each approver decides once through their own link', async () => {
    // Prepare
    members = [ANN, BEN, CAT];
    const request = await aPendingRequest({ requiredApprovals: 2 });
    const [ann, ben] = [await linkFor(request, ANN), await linkFor(request, BEN)];

    // Act
    const first = await submit(ann);
    const second = await submit(ben);

    // Assess
    expect(first.kind === 'recorded' && first.view.status).toBe('pending');
    expect(second.kind === 'recorded' && second.view.status).toBe('approved');
  });

  it('a link clicked after the deadline decides nothing', async () => {
    // Prepare
    members = [ANN];
    const request = await aPendingRequest();
    const token = await linkFor(request, ANN);
    const late = new Date(Date.parse(request.pendingUntil) + 1);

    // Act
    const outcome = await submit(token, 'approve', { now: late });

    // Assess
    expect(outcome).toMatchObject({ kind: 'closed', reason: 'notPending' });
    expect((await repo.read(request.id))?.request.status).toBe('pending');
    expect((await rowOf(token))?.state).toBe(TokenState.live);
  });

  it('a link of an approver who already decided through the API is closed', async () => {
    // Prepare
    members = [ANN, BEN];
    const request = await aPendingRequest({ requiredApprovals: 2 });
    const token = await linkFor(request, ANN);
    await decide(requestContext(new Date()), apiCaller(ANN), request.id, 'approve', undefined);

    // Act
    const outcome = await submit(token);

    // Assess
    expect(outcome).toMatchObject({ kind: 'closed', reason: 'alreadyDecided' });
  });

  it('an approver removed from the group since the email is refused, and the link is spent', async () => {
    // Prepare
    members = [ANN, BEN];
    const request = await aPendingRequest();
    const token = await linkFor(request, BEN);
    members = [ANN];

    // Act
    const outcome = await submit(token);

    // Assess
    expect(outcome.kind).toBe('refused');
    expect((await repo.read(request.id))?.request.status).toBe('pending');
    expect(await rowOf(token)).toMatchObject({ state: TokenState.used, outcome: 'refused:NOT_FOUND' });
    expect(audited).toContainEqual(
      expect.objectContaining({ action: 'request.decisionRefused', requestId: request.id }),
    );
  });

  it('a storage outage while deciding gives the link back, and it works afterwards', async () => {
    // Prepare
    members = [ANN];
    const request = await aPendingRequest();
    const token = await linkFor(request, ANN);
    const failing: RequestRepository = {
      ...repo,
      update: () => Promise.reject(new DomainError('UNAVAILABLE', 'Storage is not reachable right now')),
    };

    // Act
    const failed = await submit(token, 'approve', { requests: { repo: failing } }).catch((e: unknown) => e);
    const retried = await submit(token, 'approve');

    // Assess
    expect(failed).toBeInstanceOf(DomainError);
    expect(retried.kind).toBe('recorded');
    expect((await repo.read(request.id))?.request.status).toBe('approved');
  });

  it('a claim abandoned by a crashed submit is taken over after the claim timeout, not before', async () => {
    // Prepare
    members = [ANN];
    const request = await aPendingRequest();
    const token = await linkFor(request, ANN);
    const row = await rowOf(token);
    if (!row) throw new Error('no row');
    const claimedAt = new Date(Date.now() - 10_000);
    await tokens.change(row, { state: TokenState.claimed, claimedAt: claimedAt.toISOString() });

    // Act
    const soon = await openDecisionLink(linkContext(), token);
    const later = await submit(token, 'approve', { now: new Date(claimedAt.getTime() + 3 * 60_000) });

    // Assess
    expect(soon.kind).toBe('used');
    expect(later.kind).toBe('recorded');
  });

  it('someone else signed in cannot use a forwarded link; sign-in can be required', async () => {
    // Prepare
    members = [ANN, BEN];
    const request = await aPendingRequest();
    const token = await linkFor(request, ANN);

    // Act
    const forwarded = await submit(token, 'approve', { signedInAs: BEN });
    // Signed in with a token that names Ann but is someone else's (another object id).
    const impostor = await openDecisionLink(linkContext({ signedInKey: 'tid:not-ann' }), token);
    const anonymous = await openDecisionLink(linkContext({ requireSignIn: true }), token);
    const signedIn = await submit(token, 'approve', { signedInAs: ANN, requireSignIn: true });

    // Assess
    expect(forwarded.kind).toBe('wrongUser');
    expect(impostor.kind).toBe('wrongUser');
    expect(anonymous.kind).toBe('signInRequired');
    expect(signedIn.kind).toBe('recorded');
  });
});

describe('minting links', () => {
  it('a re-run after the email went out mints nothing new', async () => {
    // Prepare
    const request = await aPendingRequest();
    const token = await linkFor(request, ANN);

    // Act
    const again = await tokens.prepare(request.id, memberOf(ANN), request.pendingUntil);

    // Assess
    expect(again).toBeUndefined();
    expect((await openDecisionLink(linkContext(), token)).kind).toBe('open');
  });

  it('a run that died before publishing is finished with a new link; the lost one never works', async () => {
    // Prepare
    members = [ANN];
    const request = await aPendingRequest();
    const lost = await tokens.prepare(request.id, memberOf(ANN), request.pendingUntil);

    // Act
    const fresh = await tokens.prepare(request.id, memberOf(ANN), request.pendingUntil);

    // Assess
    expect(lost?.generation).toBe(1);
    expect(fresh?.generation).toBe(2);
    expect((await openDecisionLink(linkContext(), lost?.token)).kind).toBe('invalid');
    expect((await openDecisionLink(linkContext(), fresh?.token)).kind).toBe('open');
  });

  it('marking a link sent that was re-minted meanwhile leaves the newer link alone', async () => {
    // Prepare
    members = [ANN];
    const request = await aPendingRequest();
    const older = await tokens.prepare(request.id, memberOf(ANN), request.pendingUntil);
    const newer = await tokens.prepare(request.id, memberOf(ANN), request.pendingUntil);
    if (!older || !newer) throw new Error('no links');

    // Act
    await tokens.markSent(request.id, ANN, older);

    // Assess
    expect(await rowOf(newer.token)).toMatchObject({ generation: 2, sent: false, state: TokenState.live });
    await tokens.markSent(request.id, ANN, newer);
    expect(await rowOf(newer.token)).toMatchObject({ generation: 2, sent: true });
    expect(await tokens.prepare(request.id, memberOf(ANN), request.pendingUntil)).toBeUndefined();
  });
});

// --- Stages and extensions ---------------------------------------------------------------------

const SECOND = 'link-second-stage';
let secondMembers: string[] = [];
const stagedConfig: ConfigReader = {
  ...config,
  groupMembers: (group) =>
    Promise.resolve(
      group === GROUP ? members.map(memberOf) : group === SECOND ? secondMembers.map(memberOf) : [],
    ),
};

/** Alice's request decided in two stages: one approval of GROUP, then one of SECOND. */
async function aTwoStageRequest(): Promise<Request> {
  return aPendingRequest({
    stages: [
      { approverGroup: GROUP, requiredApprovals: 1 },
      { approverGroup: SECOND, requiredApprovals: 1 },
    ],
    requiredApprovals: 2,
  });
}

/** A link minted straight through the token store, bound to `binding`, as `notify` would mint it. */
async function boundLink(
  request: Request,
  approver: string,
  binding: { stage: number; extensionId?: string },
  expiresAt = request.pendingUntil,
): Promise<string> {
  const link = await tokens.prepare(request.id, memberOf(approver), expiresAt, binding);
  if (!link) throw new Error('no link minted');
  await tokens.markSent(request.id, approver, link);
  return link.token;
}

describe('links bound to a stage', () => {
  it('a stage-2 link used before stage 2 opens changes nothing; once stage 1 is approved it decides', async () => {
    // Prepare: Ann decides stage 1, Cat stage 2; Cat's stage-2 link exists before stage 2 opens
    members = [ANN];
    secondMembers = [CAT];
    const request = await aTwoStageRequest();
    const catsLink = await boundLink(request, CAT, { stage: 1 });
    const annsLink = await boundLink(request, ANN, { stage: 0 });
    const rowBefore = await repo.readTagged(request.id);
    const linkBefore = await rowOf(catsLink);
    const options = { requests: { config: stagedConfig } };
    const calls = decideCalls;

    // Act: too early
    const early = await submit(catsLink, 'approve', options);
    const shown = await openDecisionLink(linkContext(options), catsLink);

    // Assess: nothing written, neither the request nor the link; refused and audited as such
    expect(early).toMatchObject({ kind: 'closed', reason: 'stageNotOpen' });
    expect(shown).toMatchObject({ kind: 'closed', reason: 'stageNotOpen' });
    expect(decideCalls).toBe(calls);
    expect((await repo.readTagged(request.id))?.etag).toBe(rowBefore?.etag);
    expect((await rowOf(catsLink))?.etag).toBe(linkBefore?.etag);
    expect(audited).toContainEqual(
      expect.objectContaining({
        action: 'request.decisionRefused',
        requestId: request.id,
        reason: 'DECISION_LINK_CLOSED: stageNotOpen',
        detail: { via: 'decisionLink', decision: 'approve', linkApprover: CAT, stage: 1 },
      }),
    );

    // Act: stage 1 approved through Ann's link, then Cat's link again
    const first = await submit(annsLink, 'approve', options);
    const second = await submit(catsLink, 'approve', options);

    // Assess
    expect(first.kind === 'recorded' && first.view).toMatchObject({ status: 'pending', currentStage: 1 });
    expect(second.kind === 'recorded' && second.view.status).toBe('approved');
    expect((await repo.read(request.id))?.request.approvals.map((a) => [a.approver, a.stage])).toEqual([
      [ANN, 0],
      [CAT, 1],
    ]);
  });

  it('a stage-1 link used after stage 1 was approved says the stage is over, and writes nothing', async () => {
    // Prepare: Ann and Ben may decide stage 1; Ann approves it through the API
    members = [ANN, BEN];
    secondMembers = [CAT];
    const request = await aTwoStageRequest();
    const bensLink = await boundLink(request, BEN, { stage: 0 });
    await decide(
      requestContext(new Date(), { config: stagedConfig }),
      apiCaller(ANN),
      request.id,
      'approve',
      undefined,
    );
    const rowBefore = await repo.readTagged(request.id);

    // Act
    const late = await submit(bensLink, 'approve', { requests: { config: stagedConfig } });

    // Assess
    expect(late).toMatchObject({ kind: 'closed', reason: 'stageOver' });
    expect((await repo.readTagged(request.id))?.etag).toBe(rowBefore?.etag);
    expect((await rowOf(bensLink))?.state).toBe(TokenState.live);
  });

  it('links minted before stages (no stage stored) decide in the first stage', async () => {
    // Prepare: a row as an earlier version wrote it: no Stage column
    members = [ANN];
    const request = await aPendingRequest();
    const token = await linkFor(request, ANN);
    const parsed = parseToken(token);
    if (!parsed) throw new Error('bad token');
    const entity = await tables.get('DecisionTokens').then((t) => t.getEntity(request.id, encodeKey(ANN)));

    // Act
    const outcome = await submit(token, 'approve');

    // Assess
    expect(entity.Stage).toBeUndefined();
    expect((await tokens.find(parsed))?.binding).toEqual({ stage: 0 });
    expect(outcome.kind).toBe('recorded');
  });
});

describe('links bound to an extension', () => {
  /** Alice's live grant (under GROUP, one approval) with extension 1 waiting. */
  async function aGrantWithExtension(): Promise<Request> {
    const now = Date.now();
    const at = (ms: number) => new Date(now + ms).toISOString();
    return aPendingRequest({
      status: 'approved',
      approvals: [
        { approver: BEN, approverId: keyOf(BEN), decision: 'approve', comment: null, at: at(0), stage: 0 },
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

  it('approve from the link: the extension is approved and the grant ends two hours later; the other link is then closed', async () => {
    // Prepare
    members = [ANN, BEN];
    const request = await aGrantWithExtension();
    const annsLink = await boundLink(request, ANN, { stage: 0, extensionId: '1' });
    const bensLink = await boundLink(request, BEN, { stage: 0, extensionId: '1' });
    const shown = await openDecisionLink(linkContext(), annsLink);

    // Act
    const outcome = await submit(annsLink, 'approve');
    const other = await submit(bensLink, 'deny');

    // Assess
    expect(shown.kind).toBe('open');
    expect(outcome.kind).toBe('recorded');
    const stored = (await repo.read(request.id))?.request;
    expect(stored?.extensions[0]).toMatchObject({ status: 'approved' });
    expect(Date.parse(stored?.expiresAt ?? '') - Date.parse(request.expiresAt ?? '')).toBe(2 * 3_600_000);
    expect(raised).toContainEqual({ id: request.id, event: 'GrantChanged' });
    expect(await rowOf(annsLink)).toMatchObject({ state: TokenState.used, outcome: 'approve' });
    expect(other).toMatchObject({ kind: 'closed', reason: 'extensionNotPending' });
    expect(stored?.extensions[0]?.approvals).toHaveLength(1);
  });

  it('an extension link of another request’s extension number, or of a request link’s row, leads nowhere else', async () => {
    // Prepare: a request link and an extension link of the same approver are separate rows
    members = [ANN, BEN];
    const request = await aGrantWithExtension();
    const extensionLink = await boundLink(request, ANN, { stage: 0, extensionId: '1' });
    const requestLink = await boundLink(request, ANN, { stage: 0 });

    // Act
    const asExtension = await openDecisionLink(linkContext(), extensionLink);
    const asRequest = await openDecisionLink(linkContext(), requestLink);

    // Assess
    expect(asExtension.kind).toBe('open');
    expect(asRequest).toMatchObject({ kind: 'closed', reason: 'notPending' });
  });
});
