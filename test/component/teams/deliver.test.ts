/**
 * The `sendTeams` story against real Azurite and a Bot Connector stand-in on a real HTTP server:
 * an `ask` sends the approval card once and records it, an `update` replaces that very activity,
 * an `ask` whose round was decided before it could go sends nothing, a `tell` reaches the
 * requester, and a connector failure throws (Service Bus delivers the message again), except the
 * Bot Connector's 403 and 404, which no retry mends; a card whose request was decided while it was
 * on its way is brought up to date at once.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { getDeps, resetDeps } from '#shared/app/deps';
import type { Request } from '#shared/domain/request';
import { createConnector } from '#shared/teams/connector';
import { deliverTeams, type TeamsDeliverContext } from '#shared/teams/deliver';
import { planTeamsMessages, type TeamsMessage } from '#shared/teams/messages';
import { createTeamsStore, type TeamsStore } from '#shared/teams/store';
import { startComponentEnv, type ComponentEnv } from '../../support/component';
import { aPendingRequest, REQUESTER, userKey } from '../../support/requests';

const GROUP = 'teams-approvers';
const BOB = 'bob@contoso.com';

interface Received {
  method: string;
  path: string;
  authorization: string | undefined;
  body: { attachments?: { content: unknown }[]; text?: string };
}

let env: ComponentEnv;
let store: TeamsStore;
let server: Server;
let serviceUrl = '';
let received: Received[] = [];
let failWith: number | undefined;

async function bodyOf(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

beforeAll(async () => {
  env = await startComponentEnv();
  await resetDeps();
  store = createTeamsStore(getDeps().tables);
  let next = 0;
  server = createServer((req, res) => {
    void bodyOf(req).then((text) => {
      received.push({
        method: req.method ?? '',
        path: req.url ?? '',
        authorization: req.headers.authorization,
        body: JSON.parse(text) as Received['body'],
      });
      if (failWith !== undefined) return res.writeHead(failWith).end();
      res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: req.method === 'POST' ? `activity-${++next}` : 'updated' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  serviceUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/teams/`;
}, 60_000);

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await resetDeps();
  await env.close();
});

beforeEach(() => {
  received = [];
  failWith = undefined;
});

function context(): TeamsDeliverContext {
  return {
    requests: getDeps().requests,
    store,
    connector: createConnector({
      allowed: [new URL(serviceUrl).host],
      token: () => Promise.resolve('a-bot-framework-token'),
    }),
    now: new Date(),
    portalBaseUrl: 'https://zsa.contoso.com',
  };
}

async function installed(upn: string): Promise<void> {
  await store.saveConversation(
    { userId: userKey(upn), conversationId: `a:${upn}`, serviceUrl, tenantId: 't', botId: '28:bot' },
    new Date(),
  );
}

async function stored(overrides: Partial<Request> = {}): Promise<Request> {
  const request = aPendingRequest({ approverGroup: GROUP, ...overrides });
  await getDeps().requests.create(request);
  return request;
}

/** The message the notify story would publish for `userId`. */
function message(kind: TeamsMessage['kind'], request: Request, userId: string): TeamsMessage {
  const [m] = planTeamsMessages({
    input: { requestId: request.id, event: kind === 'ask' ? 'approvalNeeded' : 'approved' },
    request: { ...request, status: kind === 'ask' ? 'pending' : 'approved' },
    members: new Map([[GROUP, [{ upn: BOB, id: userKey(BOB) }]]]),
    reachable: new Set([userId]),
    sent: kind === 'update' ? [{ userId, binding: { stage: 0 } }] : [],
  }).filter((x) => x.kind === kind && x.userId === userId);
  if (!m) throw new Error(`no ${kind} message`);
  return m;
}

const cardText = (r: Received | undefined) => JSON.stringify(r?.body.attachments?.[0]?.content);

describe('delivering Teams messages', () => {
  it('sends the approval card once, with the bot token, and records it', async () => {
    // Arrange
    await installed(BOB);
    const request = await stored();
    const ask = message('ask', request, userKey(BOB));

    // Act
    const first = await deliverTeams(context(), ask);
    const again = await deliverTeams(context(), ask);

    // Assert
    expect(first).toMatchObject({ kind: 'sent', activityId: 'activity-1' });
    expect(again).toMatchObject({ kind: 'skipped', reason: 'the card was already sent' });
    expect(received.map((r) => [r.method, r.path, r.authorization])).toEqual([
      [
        'POST',
        `/teams/v3/conversations/${encodeURIComponent(`a:${BOB}`)}/activities`,
        'Bearer a-bot-framework-token',
      ],
    ]);
    expect(cardText(received[0])).toContain('"verb":"approve"');
    expect(await store.sentCard(request.id, userKey(BOB), { stage: 0 })).toMatchObject({
      activityId: 'activity-1',
    });
  });

  it('replaces the sent card once the request is decided', async () => {
    // Arrange: Bob's card was sent (activity-7), then Bob approved
    const at = new Date().toISOString();
    const approved = await stored({
      status: 'approved',
      approvals: [
        { approver: BOB, approverId: userKey(BOB), decision: 'approve', comment: null, at, stage: 0 },
      ],
      decidedAt: at,
      grantedAt: at,
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    await store.recordCard(
      {
        requestId: approved.id,
        userId: userKey(BOB),
        binding: { stage: 0 },
        activityId: 'activity-7',
        conversationId: `a:${BOB}`,
        serviceUrl,
      },
      new Date(),
    );

    // Act
    const outcome = await deliverTeams(context(), message('update', approved, userKey(BOB)));

    // Assert
    expect(outcome).toMatchObject({ kind: 'updated', activityId: 'activity-7' });
    expect(received.map((r) => [r.method, r.path])).toEqual([
      ['PUT', `/teams/v3/conversations/${encodeURIComponent(`a:${BOB}`)}/activities/activity-7`],
    ]);
    expect(cardText(received[0])).toContain(`Approved by ${BOB} (you)`);
    expect(cardText(received[0])).not.toContain('Action.Execute');
  });

  it('sends no approval card for a round decided before it could go', async () => {
    // Arrange
    await installed(BOB);
    const request = await stored({
      status: 'canceled',
      endedAt: new Date().toISOString(),
      endedBy: REQUESTER,
    });

    // Act
    const outcome = await deliverTeams(context(), message('ask', request, userKey(BOB)));

    // Assert
    expect(outcome).toMatchObject({ kind: 'skipped' });
    expect(received).toEqual([]);
  });

  it('throws when the connector refuses, so Service Bus delivers the message again', async () => {
    // Arrange
    await installed(BOB);
    const request = await stored();
    failWith = 503;

    // Act / Assert
    await expect(deliverTeams(context(), message('ask', request, userKey(BOB)))).rejects.toThrow(/503/);
    expect(await store.sentCard(request.id, userKey(BOB), { stage: 0 })).toBeUndefined();
  });

  it.each([
    [403, true],
    [404, false],
  ])('skips on the Bot Connector’s %i, forgetting the conversation on 403', async (status, forgotten) => {
    // Arrange
    await installed(BOB);
    const request = await stored();
    failWith = status;

    // Act
    const outcome = await deliverTeams(context(), message('ask', request, userKey(BOB)));

    // Assert
    expect(outcome.kind).toBe('skipped');
    expect(outcome.kind === 'skipped' ? outcome.reason : '').toContain(`(${status}`);
    expect((await store.conversation(userKey(BOB))) === undefined).toBe(forgotten);
  });

  it('brings the card up to date when the request was decided while it was on its way', async () => {
    // Arrange: the request reads pending when the card is drawn, approved once it is recorded
    await installed(BOB);
    const pending = await stored();
    const at = new Date().toISOString();
    const approved: Request = {
      ...pending,
      status: 'approved',
      approvals: [
        { approver: BOB, approverId: userKey(BOB), decision: 'approve', comment: null, at, stage: 0 },
      ],
      decidedAt: at,
      grantedAt: at,
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    };
    let reads = 0;
    const ctx: TeamsDeliverContext = {
      ...context(),
      requests: {
        read: async (id) => {
          const read = await getDeps().requests.read(id);
          return read && ++reads > 1 ? { ...read, request: approved } : read;
        },
      },
    };

    // Act
    const outcome = await deliverTeams(ctx, message('ask', pending, userKey(BOB)));

    // Assert
    expect(outcome).toMatchObject({ kind: 'updated' });
    expect(received.map((r) => r.method)).toEqual(['POST', 'PUT']);
    expect(cardText(received[1])).toContain(`Approved by ${BOB} (you)`);
  });
});
