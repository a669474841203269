/**
 * The Teams bot against real Azurite and the real development issuer (standing in for Bot
 * Framework: its OpenID metadata is `ZSA_TEAMS_TOKEN_ISSUER` here): `/api/messages` through its
 * handler, with real tokens, the real approver group and the real request story behind the card.
 *
 * - Only an activity whose token is the issuer's, for this bot, for this activity's service URL, is
 *   read; anything else is a 401 and nothing is stored or decided.
 * - Installing keeps the user's conversation, uninstalling forgets it (the conversation store).
 * - Pressing Approve decides through the request story (audited `via: teams`); a second press is
 *   "already decided"; the requester's own press is refused; a step-up request is not decided in
 *   place; a card of a stage that is over says so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_TENANT_ID, devUserId } from '@zsa/local-host';
import { messages } from '../../../functions/teams';
import { approverGroupPut } from '../../../functions/approver-groups';
import { getDeps, resetDeps } from '#shared/app/deps';
import { resetSettingsCache } from '#shared/config';
import type { AuditEventInput } from '#shared/audit/types';
import type { Request } from '#shared/domain/request';
import { createTeamsStore, type TeamsStore } from '#shared/teams/store';
import { call, startComponentEnv, type ComponentEnv } from '../../support/component';
import { aPendingRequest, REQUESTER, userKey } from '../../support/requests';

const BOT_ID = '7e57da7a-0000-4000-8000-0000000b07a1';
const SERVICE_URL = 'http://127.0.0.1:9/teams/';
const GROUP = 'teams-approvers';
const BOB = 'bob@contoso.com';
const CAROL = 'carol@contoso.com';

let env: ComponentEnv;
let store: TeamsStore;
const audited: AuditEventInput[] = [];

beforeAll(async () => {
  env = await startComponentEnv();
  Object.assign(process.env, {
    ZSA_TEAMS_BOT_APP_ID: BOT_ID,
    ZSA_TEAMS_TOKEN_ISSUER: `${env.issuer.issuer}/.well-known/openid-configuration`,
    ZSA_TEAMS_SERVICE_URL_ALLOWED: '127.0.0.1:9',
  });
  resetSettingsCache();
  await resetDeps();
  // Arrange: the approver group, saved through the admin API (members resolve to their keys).
  const saved = await call(approverGroupPut, {
    method: 'PUT',
    path: '/x',
    token: await env.token('admin@contoso.com', ['PAM.Admin']),
    params: { name: GROUP },
    body: { members: [BOB, CAROL] },
  });
  expect(saved.status).toBeLessThan(300);
  // The audit rows the stories write, kept here to be read back.
  const log = getDeps().audit;
  getDeps().audit = Object.assign(Object.create(log) as typeof log, {
    append: (event: AuditEventInput) => {
      audited.push(event);
      return log.append(event);
    },
  });
  store = createTeamsStore(getDeps().tables);
}, 60_000);

afterAll(async () => {
  for (const name of ['ZSA_TEAMS_BOT_APP_ID', 'ZSA_TEAMS_TOKEN_ISSUER', 'ZSA_TEAMS_SERVICE_URL_ALLOWED'])
    Reflect.deleteProperty(process.env, name);
  await resetDeps();
  await env.close();
});

/** A Bot Framework-shaped token for an activity on `serviceUrl`, as the channel signs it. */
function channelToken(overrides: { audience?: string; serviceurl?: string } = {}): Promise<string> {
  return env.issuer.mint({
    upn: 'botframework@teams.invalid',
    audience: overrides.audience ?? BOT_ID,
    overrides: { serviceurl: overrides.serviceurl ?? SERVICE_URL, upn: null, preferred_username: null },
  });
}

/** An activity from `upn` in their personal chat with the bot. */
function activity(
  upn: string,
  fields: Record<string, unknown>,
  tenantId = DEV_TENANT_ID,
): Record<string, unknown> {
  return {
    serviceUrl: SERVICE_URL,
    channelId: 'msteams',
    from: { id: `29:${upn}`, name: upn, aadObjectId: devUserId(upn) },
    recipient: { id: `28:${BOT_ID}`, name: 'ZSA' },
    conversation: { id: `a:${upn}`, tenantId, conversationType: 'personal' },
    ...fields,
  };
}

async function post(body: unknown, token?: string) {
  return call(messages, { method: 'POST', path: '/api/messages', body, token, durableClient: true });
}

function press(upn: string, request: Request, verb: 'approve' | 'deny', stage = 0, comment?: string) {
  return activity(upn, {
    type: 'invoke',
    name: 'adaptiveCard/action',
    value: {
      action: {
        type: 'Action.Execute',
        verb,
        data: { requestId: request.id, stage, ...(comment === undefined ? {} : { comment }) },
      },
    },
  });
}

/** The invoke's answer: its status and the card's text. */
function answer(body: unknown): { statusCode: unknown; text: string } {
  const b = body as { statusCode?: unknown; value?: unknown };
  return { statusCode: b.statusCode, text: JSON.stringify(b.value) };
}

async function stored(overrides: Partial<Request>): Promise<Request> {
  const request = aPendingRequest({ approverGroup: GROUP, ...overrides });
  await getDeps().requests.create(request);
  return request;
}

const reread = async (request: Request) => (await getDeps().requests.read(request.id))?.request;

describe('who may speak to the bot', () => {
  it.each([
    ['no token', () => Promise.resolve(undefined)],
    ['a token for another bot', () => channelToken({ audience: '00000000-0000-4000-8000-000000000000' })],
    [
      'a token for another service URL',
      () => channelToken({ serviceurl: 'https://smba.trafficmanager.net/emea/' }),
    ],
    ['a user token for the API, not the bot', () => env.issuer.mint({ upn: 'x@contoso.com' })],
  ])('refuses an install with %s (401) and stores nothing', async (_name, token) => {
    // Act
    const res = await post(activity(CAROL, { type: 'installationUpdate', action: 'add' }), await token());

    // Assert
    expect(res.status).toBe(401);
    expect(await store.conversation(userKey(CAROL))).toBeUndefined();
  });

  it('refuses a user of another tenant (403), and a service URL ZSA does not post to (403)', async () => {
    // Act
    const otherTenant = await post(
      activity(CAROL, { type: 'installationUpdate', action: 'add' }, '11111111-1111-4111-8111-111111111111'),
      await channelToken(),
    );
    const elsewhere = 'https://evil.example/teams/';
    const otherHost = await post(
      { ...activity(CAROL, { type: 'installationUpdate', action: 'add' }), serviceUrl: elsewhere },
      await channelToken({ serviceurl: elsewhere }),
    );

    // Assert
    expect([otherTenant.status, otherHost.status]).toEqual([403, 403]);
    expect(await store.conversation(userKey(CAROL))).toBeUndefined();
  });

  it('keeps the conversation on install and forgets it on uninstall', async () => {
    // Act
    const installed = await post(
      activity(CAROL, { type: 'installationUpdate', action: 'add' }),
      await channelToken(),
    );
    const kept = await store.conversation(userKey(CAROL));
    const removed = await post(
      activity(CAROL, { type: 'installationUpdate', action: 'remove' }),
      await channelToken(),
    );

    // Assert
    expect([installed.status, removed.status]).toEqual([200, 200]);
    expect(kept).toEqual({
      userId: userKey(CAROL),
      conversationId: `a:${CAROL}`,
      serviceUrl: SERVICE_URL,
      tenantId: DEV_TENANT_ID,
      botId: `28:${BOT_ID}`,
    });
    expect(await store.conversation(userKey(CAROL))).toBeUndefined();
  });
});

describe('installs in other shapes', () => {
  it('keeps the conversation of a personal chat the bot was added to, and ignores a group chat', async () => {
    // Act
    const personal = await post(
      activity(BOB, { type: 'conversationUpdate', membersAdded: [{ id: `28:${BOT_ID}` }] }),
      await channelToken(),
    );
    const group = await post(
      {
        ...activity(CAROL, { type: 'installationUpdate', action: 'add' }),
        conversation: { id: '19:group', tenantId: DEV_TENANT_ID, conversationType: 'groupChat' },
      },
      await channelToken(),
    );

    // Assert
    expect([personal.status, group.status]).toEqual([200, 200]);
    expect(await store.conversation(userKey(BOB))).toMatchObject({ conversationId: `a:${BOB}` });
    expect(await store.conversation(userKey(CAROL))).toBeUndefined();
  });
});

describe('deciding on the card, through the request story', () => {
  it('records Bob’s approval (via teams), then answers his second press "already decided"', async () => {
    // Arrange: two approvals needed, so Bob's leaves the request pending
    const request = await stored({ requiredApprovals: 2 });

    // Act
    const first = await post(press(BOB, request, 'approve', 0, 'ok from Teams'), await channelToken());
    const second = await post(press(BOB, request, 'approve'), await channelToken());

    // Assert
    expect(first.status).toBe(200);
    expect(answer(first.body).statusCode).toBe(200);
    expect(answer(first.body).text).toContain('You approved.');
    const after = await reread(request);
    expect(after?.approvals).toMatchObject([
      { approverId: userKey(BOB), approver: BOB, decision: 'approve', comment: 'ok from Teams' },
    ]);
    expect(
      audited.find((e) => e.requestId === request.id && e.action === 'request.approvalRecorded')?.detail,
    ).toMatchObject({ via: 'teams' });
    expect(answer(second.body).text).toContain('Already decided');
    expect(await reread(request)).toEqual(after);
  });

  it("costs the API approve's reads: the row read once, each approver group once; answers from the row it wrote", async () => {
    // Arrange: two approvals needed (Carol's is recorded, the workflow is not asked); count the
    // request row and group reads of one press (the stores' own methods, put back after)
    const request = await stored({ requiredApprovals: 2 });
    const deps = getDeps();
    const reads = { rows: 0, groups: 0 };
    const read = deps.requests.read.bind(deps.requests);
    const groupMembers = deps.config.groupMembers.bind(deps.config);
    deps.requests.read = (id) => ((reads.rows += 1), read(id));
    deps.config.groupMembers = (group) => ((reads.groups += 1), groupMembers(group));

    // Act
    let res;
    try {
      res = await post(press(CAROL, request, 'approve'), await channelToken());
    } finally {
      deps.requests.read = read;
      deps.config.groupMembers = groupMembers;
    }

    // Assert: what runTransition alone reads (its compare-and-swap reads the row by its own means)
    expect(answer(res.body).text).toContain('You approved.');
    expect(reads).toEqual({ rows: 1, groups: 1 });
    // The card shows the approval the story just wrote (the row read before had none).
    expect(answer(res.body).text).toContain('1 of 2 required');
    expect(answer(res.body).text).toContain(`Approved by ${CAROL} (you)`);
    expect((await reread(request))?.approvals).toHaveLength(1);
  });

  it("refuses the requester's own press and changes nothing", async () => {
    // Arrange
    const request = await stored({});

    // Act
    const res = await post(press(REQUESTER, request, 'approve'), await channelToken());

    // Assert
    expect(answer(res.body).text).toContain('You cannot approve your own request.');
    expect(await reread(request)).toEqual(request);
  });

  it('does not decide a step-up request in place: the card sends the approver to ZSA', async () => {
    // Arrange
    const request = await stored({ approverAuthContext: 'c1' });

    // Act
    const res = await post(press(CAROL, request, 'approve'), await channelToken());

    // Assert
    const { text } = answer(res.body);
    expect(text).toContain('stronger sign-in (step-up)');
    expect(text).toContain('Open to decide');
    expect(text).not.toContain('Action.Execute');
    expect(await reread(request)).toEqual(request);
  });

  it("answers a press on a stage that is over with the stage's outcome, deciding nothing", async () => {
    // Arrange: two stages of the same group; Bob approved the first
    const at = new Date().toISOString();
    const request = await stored({
      stages: [
        { approverGroup: GROUP, requiredApprovals: 1 },
        { approverGroup: GROUP, requiredApprovals: 1 },
      ],
      requiredApprovals: 2,
      approvals: [
        { approver: BOB, approverId: userKey(BOB), decision: 'approve', comment: null, at, stage: 0 },
      ],
    });

    // Act: Carol presses her card of stage 1
    const res = await post(press(CAROL, request, 'approve', 0), await channelToken());

    // Assert
    expect(answer(res.body).text).toContain(`Stage 1 approved by ${BOB}; stage 2 decides now`);
    expect(await reread(request)).toEqual(request);
  });

  it("decides on an extension's card through the extension story", async () => {
    // Arrange: Alice's live grant (two approvals per round) with extension 1 waiting
    const now = Date.now();
    const at = (ms: number) => new Date(now + ms).toISOString();
    const approval = (upn: string) => ({
      approver: upn,
      approverId: userKey(upn),
      decision: 'approve' as const,
      comment: null,
      at: at(0),
      stage: 0,
    });
    const request = await stored({
      status: 'approved',
      requiredApprovals: 2,
      approvals: [approval(BOB), approval(CAROL)],
      decidedAt: at(0),
      grantedAt: at(0),
      expiresAt: at(3_600_000),
      maxExtensions: 1,
      extensions: [
        {
          id: '1',
          hours: 1,
          reason: 'the migration overran',
          status: 'pending',
          approvals: [],
          createdAt: at(0),
          pendingUntil: at(3_600_000),
          decidedAt: null,
        },
      ],
    });
    const pressed = press(CAROL, request, 'approve');
    const value = pressed['value'] as { action: { data: Record<string, unknown> } };
    value.action.data['extensionId'] = '1';

    // Act
    const res = await post(pressed, await channelToken());

    // Assert
    expect(answer(res.body).text).toContain('You approved.');
    expect(answer(res.body).text).toContain('Extension request');
    expect((await reread(request))?.extensions[0]?.approvals).toMatchObject([
      { approverId: userKey(CAROL), decision: 'approve' },
    ]);
  });

  it('answers an unknown invoke, and a card action that is not ZSA’s, with an error Teams shows', async () => {
    // Act
    const unknown = await post(
      activity(CAROL, { type: 'invoke', name: 'task/fetch', value: {} }),
      await channelToken(),
    );
    const foreign = await post(
      activity(CAROL, {
        type: 'invoke',
        name: 'adaptiveCard/action',
        value: { action: { type: 'Action.Execute', verb: 'launch' } },
      }),
      await channelToken(),
    );

    // Assert
    expect([unknown.status, foreign.status]).toEqual([200, 200]);
    expect([answer(unknown.body).statusCode, answer(foreign.body).statusCode]).toEqual([400, 400]);
  });
});
