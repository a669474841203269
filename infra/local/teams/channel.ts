/**
 * The local host's development Teams channel: a bot is exercised without Teams. It plays both sides
 * of the Bot Framework protocol that Teams plays:
 *
 * - towards the bot, the Bot Connector REST API the bot sends to (`{serviceUrl}v3/conversations/…`,
 *   serviceUrl = `<origin>/dev/teams/`), accepting only development-issuer tokens for
 *   `https://api.botframework.com` (what the host's managed identity endpoint hands out);
 * - towards the bot's messaging endpoint, the activities Teams posts (installationUpdate on install,
 *   message, `invoke` `adaptiveCard/action` when a card's `Action.Execute` is clicked), signed by the
 *   development issuer as Bot Framework signs them: `aud` the bot's app id, a `serviceurl` claim.
 *
 * People use the `/dev/teams` page (cards rendered by the `adaptivecards` renderer); tests use its
 * JSON: `POST /dev/teams/install|uninstall|message|act`, `GET /dev/teams/activities?upn=`.
 *
 * It knows Bot Framework's shapes and nothing of the app. Development only: like the issuer, it lets
 * anyone act as any user.
 */
import { createLocalJWKSet, generateKeyPair, jwtVerify, SignJWT, type CryptoKey } from 'jose';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { DevIssuer } from '../dev-issuer/dev-issuer';
import { renderTeamsPage, servePageAsset, TEAMS_PATH } from './pages';
import { openChannelStore, type Conversation, type StoredActivity } from './store';

/** The audience of the tokens a bot presents to the Bot Connector. */
export const BOT_CONNECTOR_AUDIENCE = 'https://api.botframework.com';

const BOT_TIMEOUT_MS = 30_000;
/** Lifetime of the channel's tokens to the bot. */
const TOKEN_LIFETIME_SECONDS = 300;

export interface TeamsChannelOptions {
  /** The host's origin; the channel's serviceUrl is `<origin>/dev/teams/`. */
  readonly origin: string;
  readonly issuer: DevIssuer;
  /** The tenant of every conversation (the development issuer's). */
  readonly tenantId: string;
  /** The directory's object id for a UPN (the `oid` the issuer's tokens carry). */
  readonly userId: (upn: string) => string;
  /** The bot: its app id (the tokens' audience) and messaging endpoint URL. */
  readonly bot: { readonly appId: string; readonly endpoint: string; readonly name?: string };
  readonly dataFile?: string | undefined;
  readonly log?: (line: string) => void;
  readonly now?: () => Date;
}

export interface TeamsChannel {
  readonly serviceUrl: string;
  /** Serves `/dev/teams*`; answers false, untouched, for any other path. */
  handle(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<boolean>;
}

const Upn = z
  .string()
  .trim()
  .toLowerCase()
  .max(256)
  .regex(/^[^\s@]+@[^\s@]+$/, 'must look like user@domain');

const UserBody = z.strictObject({ upn: Upn });
const MessageBody = z.strictObject({ upn: Upn, text: z.string().min(1).max(4000) });
const ActBody = z.strictObject({
  upn: Upn,
  /**
   * The card clicked, in the user's own conversation. Absent: an invoke no card carried, as a
   * tampered client could send (a bot must decide on the data, never on which card was shown).
   */
  activityId: z.string().min(1).max(200).optional(),
  verb: z.string().min(1).max(100),
  data: z.record(z.string(), z.json()).default({}),
  /** The card's `Input.Text` with id `comment`; Teams merges inputs into the action's data. */
  comment: z.string().max(4000).optional(),
  /** How the invoke is signed: as Teams would (default), not at all, or with a key nobody trusts. */
  token: z.enum(['issuer', 'none', 'forged']).default('issuer'),
});

/** An activity as a bot sends it: Bot Framework's shape, loosely (unknown fields are kept). */
const OutgoingActivity = z.looseObject({
  type: z.string().min(1).max(100),
  text: z.string().max(28_000).optional(),
  attachments: z
    .array(z.looseObject({ contentType: z.string(), content: z.unknown().optional() }))
    .max(10)
    .optional(),
});

const CreateConversation = z.looseObject({
  members: z.array(z.looseObject({ id: z.string().min(1) })).min(1),
});

export function createTeamsChannel(options: TeamsChannelOptions): TeamsChannel {
  const serviceUrl = `${options.origin}${TEAMS_PATH}/`;
  const now = options.now ?? (() => new Date());
  const log = options.log ?? (() => undefined);
  const store = openChannelStore(options.dataFile);
  const keys = createLocalJWKSet({ keys: [...options.issuer.jwks.keys] });
  const botId = `28:${options.bot.appId}`;
  let forgedKey: Promise<CryptoKey> | undefined;
  let signed: { token: string; until: number } | undefined;

  /** An activity from `upn` to the bot, with the fields Teams sets on every one. */
  const fromUser = (
    conversation: Conversation,
    fields: Record<string, unknown>,
  ): Record<string, unknown> => ({
    id: randomUUID(),
    timestamp: now().toISOString(),
    channelId: 'msteams',
    serviceUrl,
    from: { id: `29:${conversation.userId}`, aadObjectId: conversation.userId, name: conversation.upn },
    recipient: { id: botId, name: options.bot.name ?? 'bot' },
    conversation: { id: conversation.id, conversationType: 'personal', tenantId: options.tenantId },
    channelData: { tenant: { id: options.tenantId } },
    locale: 'en-US',
    ...fields,
  });

  /** Bot Framework's token for the bot: iss its issuer, aud the bot, the serviceurl it may answer. */
  const channelToken = async (kind: 'issuer' | 'none' | 'forged'): Promise<string | undefined> => {
    if (kind === 'none') return undefined;
    if (kind === 'issuer') {
      // Reused while it has a minute left, as a channel reuses its token (and an RSA signature per
      // click would be the channel's cost, not the bot's). The issuer's clock is the wall clock.
      if (signed !== undefined && signed.until > Date.now()) return signed.token;
      const token = await options.issuer.mint({
        upn: 'channel@teams.invalid',
        audience: options.bot.appId,
        lifetimeSeconds: TOKEN_LIFETIME_SECONDS,
        overrides: { ...NO_USER_CLAIMS, serviceurl: serviceUrl },
      });
      signed = { token, until: Date.now() + (TOKEN_LIFETIME_SECONDS - 60) * 1000 };
      return token;
    }
    // Same claims and key id, another key: only the signature tells it apart.
    forgedKey ??= generateKeyPair('RS256').then((pair) => pair.privateKey);
    const kid = options.issuer.jwks.keys[0]?.kid;
    const at = Math.floor(Date.now() / 1000);
    return new SignJWT({ serviceurl: serviceUrl })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', ...(kid === undefined ? {} : { kid }) })
      .setIssuer(options.issuer.issuer)
      .setAudience(options.bot.appId)
      .setIssuedAt(at)
      .setNotBefore(at)
      .setExpirationTime(at + TOKEN_LIFETIME_SECONDS)
      .sign(await forgedKey);
  };

  /** Posts an activity to the bot as Teams does; the bot's status and (JSON) body. */
  const toBot = async (
    activity: Record<string, unknown>,
    token: 'issuer' | 'none' | 'forged' = 'issuer',
  ): Promise<{ status: number; body: unknown }> => {
    const bearer = await channelToken(token);
    let response: Response;
    try {
      response = await fetch(options.bot.endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(bearer === undefined ? {} : { authorization: `Bearer ${bearer}` }),
        },
        body: JSON.stringify(activity),
        signal: AbortSignal.timeout(BOT_TIMEOUT_MS),
      });
    } catch (e) {
      log(
        `teams: the bot at ${options.bot.endpoint} did not answer: ${e instanceof Error ? e.message : String(e)}`,
      );
      return { status: 502, body: { error: 'The bot did not answer.' } };
    }
    const text = await response.text();
    let body: unknown = text === '' ? null : text;
    try {
      body = text === '' ? null : JSON.parse(text);
    } catch {
      // Not JSON: kept as text, for whoever reads the answer.
    }
    const label = [activity.type, activity.name].filter((v) => typeof v === 'string').join(' ');
    log(`teams: ${label} → bot ${response.status}`);
    return { status: response.status, body };
  };

  /** Is the request from the bot: a development-issuer token for the Bot Connector? */
  const botAuthorized = async (req: IncomingMessage): Promise<boolean> => {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer (\S+)$/i.exec(header);
    if (!match?.[1]) return false;
    try {
      await jwtVerify(match[1], keys, {
        issuer: options.issuer.issuer,
        audience: BOT_CONNECTOR_AUDIENCE,
        algorithms: ['RS256'],
      });
      return true;
    } catch {
      return false;
    }
  };

  const connector = async (
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
    rest: string,
  ): Promise<true> => {
    const method = req.method ?? 'GET';
    if (!(await botAuthorized(req)))
      return sendError(
        res,
        401,
        'Unauthorized',
        'A development-issuer token for https://api.botframework.com is required.',
      );
    if (rest === '') {
      if (method !== 'POST') return methodNotAllowed(res, 'POST');
      const parsed = parseJson(body, CreateConversation);
      if (!parsed.ok) return sendError(res, 400, 'BadArgument', parsed.detail);
      // A bot opens the personal conversation of a user who has the app: Teams answers its id.
      const memberId = parsed.value.members[0]?.id.replace(/^29:/, '') ?? '';
      const conversation = store.conversations().find((c) => c.userId === memberId && c.installed);
      if (!conversation)
        return sendError(res, 403, 'BotNotInConversationRoster', 'The user has not installed the bot.');
      return sendJson(res, 201, { id: conversation.id });
    }
    const match = /^\/([^/]+)\/activities(?:\/([^/]+))?$/.exec(rest);
    const conversation = match?.[1] === undefined ? undefined : store.byId(decode(match[1]));
    if (!match || !conversation) return sendError(res, 404, 'ConversationNotFound', 'No such conversation.');
    const activityId = match[2] === undefined ? undefined : decode(match[2]);
    if (activityId === undefined) {
      if (method === 'GET') return sendJson(res, 200, { activities: conversation.activities.map(latest) });
      if (method !== 'POST') return methodNotAllowed(res, 'GET, POST');
    } else if (method === 'DELETE') {
      return store.remove(conversation, activityId)
        ? sendJson(res, 200, {})
        : sendError(res, 404, 'ActivityNotFound', 'No such activity.');
    } else if (method !== 'PUT' && method !== 'POST') {
      return methodNotAllowed(res, 'POST, PUT, DELETE');
    }
    // As Teams answers a bot writing to someone who removed it: the reference is stale.
    if (!conversation.installed)
      return sendError(res, 403, 'BotNotInConversationRoster', 'The user has removed the bot.');
    const parsed = parseJson(body, OutgoingActivity);
    if (!parsed.ok) return sendError(res, 400, 'BadArgument', parsed.detail);
    // The stored activity is addressed as Teams addresses it, whatever the bot wrote.
    const activity = { ...parsed.value, conversation: { id: conversation.id }, from: { id: botId } };
    if (activityId !== undefined && method === 'PUT') {
      if (!store.update(conversation, activityId, { ...activity, id: activityId }, now()))
        return sendError(res, 404, 'ActivityNotFound', 'No such activity.');
      log(`teams: updated ${activityId} for ${conversation.upn}`);
      return sendJson(res, 200, { id: activityId });
    }
    // POST: a new activity, or (with an id) a reply to that one.
    const id = randomUUID();
    const at = now().toISOString();
    const stored: StoredActivity = {
      id,
      activity: { ...activity, id, ...(activityId === undefined ? {} : { replyToId: activityId }) },
      sentAt: at,
      updatedAt: at,
      version: 1,
    };
    store.add(conversation, stored);
    log(`teams: ${parsed.value.type} ${id} to ${conversation.upn}`);
    return sendJson(res, 201, { id });
  };

  const install = async (upn: string, action: 'add' | 'remove') => {
    const conversation = store.open(upn, options.userId(upn));
    store.setInstalled(conversation, action === 'add');
    const bot = await toBot(
      fromUser(conversation, {
        type: 'installationUpdate',
        action,
        channelData: { tenant: { id: options.tenantId }, source: { name: 'message' } },
      }),
    );
    return { conversationId: conversation.id, userId: conversation.userId, bot };
  };

  const act = async (input: z.output<typeof ActBody>) => {
    const conversation = store.byUpn(input.upn);
    const card =
      input.activityId === undefined
        ? undefined
        : conversation?.activities.find((a) => a.id === input.activityId);
    // Someone who removed the app has no chat with the bot left to click in.
    if (!conversation?.installed || (input.activityId !== undefined && !card)) return undefined;
    const data = { ...input.data, ...(input.comment === undefined ? {} : { comment: input.comment }) };
    return toBot(
      fromUser(conversation, {
        type: 'invoke',
        name: 'adaptiveCard/action',
        ...(card === undefined ? {} : { replyToId: card.id }),
        value: { action: { type: 'Action.Execute', verb: input.verb, data }, trigger: 'manual' },
      }),
      input.token,
    );
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<boolean> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (path !== TEAMS_PATH && !path.startsWith(`${TEAMS_PATH}/`)) return false;
    const method = req.method ?? 'GET';
    const rest = path.slice(TEAMS_PATH.length);
    if (rest === '/v3/conversations' || rest.startsWith('/v3/conversations/'))
      return connector(req, res, body, rest.slice('/v3/conversations'.length));
    if (rest === '' || rest === '/') {
      if (method !== 'GET') return methodNotAllowed(res, 'GET');
      return sendPage(res, renderTeamsPage());
    }
    if (method === 'GET' && servePageAsset(rest, res)) return true;
    if (rest === '/conversations') {
      if (method !== 'GET') return methodNotAllowed(res, 'GET');
      return sendJson(
        res,
        200,
        store
          .conversations()
          .map((c) => ({ upn: c.upn, userId: c.userId, conversationId: c.id, installed: c.installed })),
      );
    }
    if (rest === '/activities') {
      if (method !== 'GET') return methodNotAllowed(res, 'GET');
      const upn = Upn.safeParse(url.searchParams.get('upn') ?? '');
      if (!upn.success) return sendProblem(res, 400, 'Pass ?upn=<user@domain>.');
      return sendJson(res, 200, (store.byUpn(upn.data)?.activities ?? []).map(latest));
    }
    const actions: Record<string, () => Promise<true>> = {
      '/install': async () => {
        const input = parseJson(body, UserBody);
        return input.ok
          ? sendJson(res, 200, await install(input.value.upn, 'add'))
          : sendProblem(res, 400, input.detail);
      },
      '/uninstall': async () => {
        const input = parseJson(body, UserBody);
        if (!input.ok) return sendProblem(res, 400, input.detail);
        if (!store.byUpn(input.value.upn)?.installed)
          return sendProblem(res, 404, `${input.value.upn} has not installed the bot.`);
        return sendJson(res, 200, await install(input.value.upn, 'remove'));
      },
      '/message': async () => {
        const input = parseJson(body, MessageBody);
        if (!input.ok) return sendProblem(res, 400, input.detail);
        const conversation = store.byUpn(input.value.upn);
        if (!conversation?.installed)
          return sendProblem(res, 404, `${input.value.upn} has not installed the bot.`);
        return sendJson(
          res,
          200,
          await toBot(fromUser(conversation, { type: 'message', text: input.value.text })),
        );
      },
      '/act': async () => {
        const input = parseJson(body, ActBody);
        if (!input.ok) return sendProblem(res, 400, input.detail);
        const answer = await act(input.value);
        return answer === undefined
          ? sendProblem(
              res,
              404,
              `${input.value.upn} has not installed the bot${input.value.activityId === undefined ? '' : ` or has no activity ${input.value.activityId}`}.`,
            )
          : sendJson(res, 200, answer);
      },
    };
    const action = actions[rest];
    if (action === undefined) return sendProblem(res, 404, `Nothing is served at ${path}.`);
    if (method !== 'POST') return methodNotAllowed(res, 'POST');
    // JSON only: a cross-site form (text/plain, no preflight) must not act as a user here.
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? ''))
      return sendProblem(res, 415, 'Send application/json.');
    return action();
  };

  return { serviceUrl, handle };
}

/** Claims the issuer puts on a user's token that a channel's token does not carry. */
const NO_USER_CLAIMS = { tid: null, oid: null, upn: null, preferred_username: null, name: null };

/** An activity as listed to tests and the page: the bot's latest version, and when. */
function latest(stored: StoredActivity): Record<string, unknown> {
  return {
    ...stored.activity,
    id: stored.id,
    sentAt: stored.sentAt,
    updatedAt: stored.updatedAt,
    version: stored.version,
  };
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

type Parsed<T> = { ok: true; value: T } | { ok: false; detail: string };

function parseJson<S extends z.ZodType>(body: Buffer, schema: S): Parsed<z.output<S>> {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return { ok: false, detail: 'The body must be JSON.' };
  }
  const parsed = schema.safeParse(json);
  return parsed.success
    ? { ok: true, value: parsed.data }
    : {
        ok: false,
        detail: parsed.error.issues
          .map((i) => `${i.path.map(String).join('.') || 'body'}: ${i.message}`)
          .join('; '),
      };
}

const COMMON_HEADERS = {
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
};

function sendJson(res: ServerResponse, status: number, body: unknown, type = 'application/json'): true {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...COMMON_HEADERS,
    'content-type': `${type}; charset=utf-8`,
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
  return true;
}

/** The Bot Connector's error shape, for the bot's side. */
function sendError(res: ServerResponse, status: number, code: string, message: string): true {
  return sendJson(res, status, { error: { code, message } });
}

/** RFC 9457, for the people and tests side. */
function sendProblem(res: ServerResponse, status: number, detail: string): true {
  const titles: Record<number, string> = {
    400: 'Bad Request',
    404: 'Not Found',
    415: 'Unsupported Media Type',
  };
  return sendJson(
    res,
    status,
    { type: 'about:blank', title: titles[status] ?? 'Error', status, detail },
    'application/problem+json',
  );
}

function methodNotAllowed(res: ServerResponse, allow: string): true {
  res.setHeader('allow', allow);
  return sendJson(
    res,
    405,
    { type: 'about:blank', title: 'Method Not Allowed', status: 405, detail: `Use ${allow}.` },
    'application/problem+json',
  );
}

function sendPage(res: ServerResponse, html: string): true {
  res.writeHead(200, {
    ...COMMON_HEADERS,
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': PAGE_CSP,
    'x-frame-options': 'DENY',
  });
  res.end(html);
  return true;
}

/**
 * Scripts only from this host (the renderer and the page's own), requests only to it. Styles inline:
 * the renderer styles the elements it builds.
 */
const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
