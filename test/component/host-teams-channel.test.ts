/**
 * The local host's development Teams channel against a tiny bot of the test's own (a real HTTP
 * endpoint that checks tokens as Bot Framework bots do), over real HTTP: install, proactive send
 * through the Bot Connector API with a token from the real `ManagedIdentityCredential` (the host's
 * managed identity endpoint), card actions as signed invokes, updates, and every refusal.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { ManagedIdentityCredential } from '@azure/identity';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BOT_CONNECTOR_AUDIENCE,
  createDevIssuer,
  createManagedIdentityEndpoint,
  createTeamsChannel,
  DEV_TENANT_ID,
  devUserId,
  type DevIssuer,
  type ManagedIdentityEndpoint,
  type TeamsChannel,
} from '@zsa/local-host';

const BOT_APP_ID = '00000000-0000-4000-8000-00000000b0b0';

interface Received {
  activity: Record<string, unknown>;
  accepted: boolean;
}

let server: Server;
let origin: string;
let issuer: DevIssuer;
let channel: TeamsChannel;
let identity: ManagedIdentityEndpoint;
let dataDir: string;
const received: Received[] = [];
const savedEnv = {
  IDENTITY_ENDPOINT: process.env.IDENTITY_ENDPOINT,
  IDENTITY_HEADER: process.env.IDENTITY_HEADER,
};

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Sends into a conversation as a bot does: a managed identity token for the Bot Connector. */
async function botSends(conversationId: string, activity: object, activityId?: string): Promise<Response> {
  const token = await new ManagedIdentityCredential({ clientId: BOT_APP_ID }).getToken(
    `${BOT_CONNECTOR_AUDIENCE}/.default`,
  );
  const base = `${channel.serviceUrl}v3/conversations/${encodeURIComponent(conversationId)}/activities`;
  return fetch(activityId === undefined ? base : `${base}/${activityId}`, {
    method: activityId === undefined ? 'POST' : 'PUT',
    headers: { authorization: `Bearer ${token.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(activity),
  });
}

function card(text: string) {
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        content: {
          type: 'AdaptiveCard',
          version: '1.5',
          body: [{ type: 'TextBlock', text }],
          actions: [{ type: 'Action.Execute', verb: 'approve', data: { requestId: 'r1' } }],
        },
      },
    ],
  };
}

/** The test's bot: verifies every activity's token as a Bot Framework bot must, then records it. */
async function bot(req: IncomingMessage, body: Buffer): Promise<{ status: number; body?: unknown }> {
  const activity = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
  const claims = await (token === undefined
    ? Promise.resolve(undefined)
    : jwtVerify(token, createLocalJWKSet({ keys: [...issuer.jwks.keys] }), {
        issuer: issuer.issuer,
        audience: BOT_APP_ID,
        algorithms: ['RS256'],
      }).then(
        (r) => r.payload,
        () => undefined,
      ));
  const accepted = claims !== undefined && claims.serviceurl === activity.serviceUrl;
  received.push({ activity, accepted });
  if (!accepted) return { status: 401 };
  if (activity.type === 'invoke') {
    const value = activity.value as { action: { verb: string; data: Record<string, unknown> } };
    return {
      status: 200,
      body: {
        statusCode: 200,
        type: 'application/vnd.microsoft.card.adaptive',
        value: {
          type: 'AdaptiveCard',
          version: '1.5',
          body: [{ type: 'TextBlock', text: `${value.action.verb}: ${String(value.action.data.comment)}` }],
        },
      },
    };
  }
  return { status: 200 };
}

async function post(path: string, body: unknown, contentType = 'application/json') {
  const res = await fetch(`${origin}${path}`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: JSON.stringify(body),
  });
  return { status: res.status, type: res.headers.get('content-type'), body: (await res.json()) as never };
}

async function activitiesOf(upn: string): Promise<Record<string, unknown>[]> {
  const res = await fetch(`${origin}/dev/teams/activities?upn=${encodeURIComponent(upn)}`);
  return (await res.json()) as Record<string, unknown>[];
}

/** The test's server: the bot's messaging endpoint beside the channel and the identity endpoint. */
async function route(req: IncomingMessage, body: Buffer, res: ServerResponse): Promise<void> {
  if (req.url === '/api/messages') {
    const answer = await bot(req, body);
    res
      .writeHead(answer.status, { 'content-type': 'application/json' })
      .end(JSON.stringify(answer.body ?? {}));
    return;
  }
  if (await channel.handle(req, res, body)) return;
  if (await identity.handle(req, res)) return;
  res.writeHead(404).end();
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'zsa-teams-channel-'));
  server = createServer((req, res) => {
    void readBody(req)
      .then((body) => route(req, body, res))
      .catch((e: unknown) => res.writeHead(500).end(String(e)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  issuer = await createDevIssuer({ issuer: `${origin}/dev`, audience: 'api://local-host' });
  identity = createManagedIdentityEndpoint(origin, issuer);
  Object.assign(process.env, identity.settings);
  const open = () =>
    createTeamsChannel({
      origin,
      issuer,
      tenantId: DEV_TENANT_ID,
      userId: devUserId,
      bot: { appId: BOT_APP_ID, endpoint: `${origin}/api/messages` },
      dataFile: join(dataDir, 'teams.json'),
    });
  channel = open();
  // Reopening over the same file must see what the first channel stored (a host restart).
  reopen = open;
});

let reopen: () => TeamsChannel;

afterAll(async () => {
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) Reflect.deleteProperty(process.env, k);
    else process.env[k] = v;
  }
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(dataDir, { recursive: true, force: true });
});

describe('development Teams channel', () => {
  let conversationId = '';
  let cardId = '';

  it('installing sends the bot a signed installationUpdate from the directory user, in a personal conversation', async () => {
    // Act
    const answer = await post('/dev/teams/install', { upn: 'Alice@Contoso.com' });

    // Assert
    expect(answer.status).toBe(200);
    const install = received.at(-1);
    expect(install?.accepted).toBe(true);
    const aliceId = devUserId('alice@contoso.com');
    expect(install?.activity).toMatchObject({
      type: 'installationUpdate',
      action: 'add',
      channelId: 'msteams',
      serviceUrl: channel.serviceUrl,
      from: { aadObjectId: aliceId },
      recipient: { id: `28:${BOT_APP_ID}` },
      conversation: { conversationType: 'personal', tenantId: DEV_TENANT_ID },
      channelData: { tenant: { id: DEV_TENANT_ID } },
    });
    conversationId = (install?.activity.conversation as { id: string }).id;
    expect(answer.body).toMatchObject({ conversationId, userId: aliceId, bot: { status: 200 } });
  });

  it('the bot sends a card with its managed identity token; the user sees it', async () => {
    // Act
    const sent = await botSends(conversationId, card('Approve r1?'));

    // Assert
    expect(sent.status).toBe(201);
    cardId = ((await sent.json()) as { id: string }).id;
    const [shown] = await activitiesOf('alice@contoso.com');
    expect(shown).toMatchObject({ id: cardId, type: 'message', version: 1 });
    expect(JSON.stringify(shown?.attachments)).toContain('Approve r1?');
  });

  it('a bot opening the chat of a user who installed it gets that conversation; of anyone else, 403', async () => {
    // Arrange
    const token = await new ManagedIdentityCredential({ clientId: BOT_APP_ID }).getToken(
      `${BOT_CONNECTOR_AUDIENCE}/.default`,
    );
    const open = (memberId: string) =>
      fetch(`${channel.serviceUrl}v3/conversations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ isGroup: false, members: [{ id: memberId }], tenantId: DEV_TENANT_ID }),
      });

    // Act
    const alice = await open(`29:${devUserId('alice@contoso.com')}`);
    const stranger = await open(`29:${devUserId('stranger@contoso.com')}`);

    // Assert
    expect(alice.status).toBe(201);
    expect(await alice.json()).toEqual({ id: conversationId });
    expect(stranger.status).toBe(403);
  });

  it.each([
    { scenario: 'no token', authorization: undefined },
    { scenario: 'a user token of the issuer (wrong audience)', authorization: 'user' as const },
    { scenario: 'garbage', authorization: 'Bearer not.a.jwt' },
  ])('the Bot Connector refuses a send with $scenario (401), nothing stored', async ({ authorization }) => {
    // Arrange
    const header =
      authorization === 'user'
        ? `Bearer ${await issuer.mint({ upn: 'mallory@contoso.com' })}`
        : authorization;

    // Act
    const res = await fetch(
      `${channel.serviceUrl}v3/conversations/${encodeURIComponent(conversationId)}/activities`,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(header === undefined ? {} : { authorization: header }),
        },
        body: JSON.stringify(card('forged')),
      },
    );

    // Assert
    expect(res.status).toBe(401);
    expect(await activitiesOf('alice@contoso.com')).toHaveLength(1);
  });

  it('clicking Action.Execute sends a signed invoke with the inputs merged into data, and returns the bot answer', async () => {
    // Act
    const answer = await post('/dev/teams/act', {
      upn: 'alice@contoso.com',
      activityId: cardId,
      verb: 'approve',
      data: { requestId: 'r1' },
      comment: 'looks fine',
    });

    // Assert
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      status: 200,
      body: { type: 'application/vnd.microsoft.card.adaptive' },
    });
    expect(JSON.stringify(answer.body)).toContain('approve: looks fine');
    expect(received.at(-1)).toMatchObject({
      accepted: true,
      activity: {
        type: 'invoke',
        name: 'adaptiveCard/action',
        replyToId: cardId,
        from: { aadObjectId: devUserId('alice@contoso.com') },
        value: {
          action: {
            type: 'Action.Execute',
            verb: 'approve',
            data: { requestId: 'r1', comment: 'looks fine' },
          },
        },
      },
    });
  });

  it.each(['none', 'forged'] as const)(
    'an invoke signed %s is refused by a bot that checks tokens',
    async (token) => {
      // Act
      const answer = await post('/dev/teams/act', {
        upn: 'alice@contoso.com',
        activityId: cardId,
        verb: 'approve',
        token,
      });

      // Assert
      expect(answer.body).toMatchObject({ status: 401 });
      expect(received.at(-1)?.accepted).toBe(false);
    },
  );

  it('the bot updates its card in place (PUT): the latest version is listed', async () => {
    // Act
    const res = await botSends(conversationId, card('Approved by bob'), cardId);

    // Assert
    expect(res.status).toBe(200);
    const [shown] = await activitiesOf('alice@contoso.com');
    expect(shown).toMatchObject({ id: cardId, version: 2 });
    expect(JSON.stringify(shown?.attachments)).toContain('Approved by bob');
    expect((await botSends(conversationId, card('x'), 'no-such-activity')).status).toBe(404);
  });

  it.each([
    {
      scenario: 'a card in another user’s conversation',
      path: '/dev/teams/act',
      body: () => ({ upn: 'bob@contoso.com', activityId: cardId, verb: 'approve' }),
      status: 404,
    },
    {
      scenario: 'an unknown field',
      path: '/dev/teams/act',
      body: () => ({ upn: 'alice@contoso.com', activityId: cardId, verb: 'approve', extra: 1 }),
      status: 400,
    },
    { scenario: 'a bad UPN', path: '/dev/teams/install', body: () => ({ upn: 'not-an-upn' }), status: 400 },
    {
      scenario: 'uninstalling a user who never installed',
      path: '/dev/teams/uninstall',
      body: () => ({ upn: 'carol@contoso.com' }),
      status: 404,
    },
  ])('$scenario → $status problem', async ({ path, body, status }) => {
    // Act
    const answer = await post(path, body());

    // Assert
    expect(answer.status).toBe(status);
    expect(answer.type).toMatch(/^application\/problem\+json/);
  });

  it('a cross-site form post (not JSON) cannot act as a user (415)', async () => {
    // Act
    const answer = await post('/dev/teams/install', { upn: 'eve@contoso.com' }, 'text/plain');

    // Assert
    expect(answer.status).toBe(415);
    expect(received.some((r) => (r.activity.from as { name?: string }).name === 'eve@contoso.com')).toBe(
      false,
    );
  });

  it('serves the page and the renderer from this host, under a CSP allowing only its own scripts', async () => {
    // Act
    const page = await fetch(`${origin}/dev/teams`);
    const renderer = await fetch(`${origin}/dev/teams/adaptivecards.js`);

    // Assert
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('<script src="/dev/teams/adaptivecards.js">');
    expect(renderer.headers.get('content-type')).toMatch(/javascript/);
    expect(await renderer.text()).toContain('AdaptiveCards');
    // The page's own script is a string in TypeScript: it must still be JavaScript that compiles.
    const script = await fetch(`${origin}/dev/teams/page.js`).then((r) => r.text());
    expect(() => new Script(script)).not.toThrow();
  });

  it('a restarted channel remembers the installs and cards; uninstalling tells the bot, and then nobody writes or clicks there', async () => {
    // Arrange
    channel = reopen();

    // Act
    const answer = await post('/dev/teams/uninstall', { upn: 'alice@contoso.com' });

    // Assert
    expect(answer.status).toBe(200);
    expect(received.at(-1)?.activity).toMatchObject({ type: 'installationUpdate', action: 'remove' });
    expect(await activitiesOf('alice@contoso.com')).toHaveLength(1);
    expect((await botSends(conversationId, card('too late'))).status).toBe(403);
    expect(
      (await post('/dev/teams/act', { upn: 'alice@contoso.com', activityId: cardId, verb: 'approve' }))
        .status,
    ).toBe(404);
    const conversations = await fetch(`${origin}/dev/teams/conversations`).then((r) => r.json());
    expect(conversations).toEqual([
      { upn: 'alice@contoso.com', userId: devUserId('alice@contoso.com'), conversationId, installed: false },
    ]);
  });
});
