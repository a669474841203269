/**
 * The local host's mailbox: an SMTP sink that keeps every email the app sends, a web page where a
 * person reads them and clicks their links (`/dev/mailbox`), and JSON for tests
 * (`GET /dev/mailbox/messages`); see docs/design.md §4.
 *
 * Loopback only, no authentication and no TLS: it exists so that approval emails never leave the
 * machine in development and CI. It must never be pointed at by a production app.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { simpleParser, type AddressObject, type HeaderValue, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { extractLinks } from './links';
import { isAddressedTo, type MailMessage } from './message';
import { commonHeaders, methodNotAllowed, sendHtml, sendJson } from '../dev-answers';
import { MAILBOX_PATH, renderListPage, renderMessagePage, renderNotFoundPage } from './pages';
import { openMessageStore } from './store';

export type { MailMessage } from './message';

export const LOOPBACK_HOSTS = ['127.0.0.1', '::1'] as const;
export type LoopbackHost = (typeof LOOPBACK_HOSTS)[number];

export const DEFAULT_MAX_MESSAGES = 1000;
/** Far above any notification ZSA sends; a bound so a runaway sender cannot exhaust memory. */
export const DEFAULT_MAX_MESSAGE_BYTES = 5 * 1024 * 1024;
/** Headers kept on each message (besides any `x-*` header an app adds), enough to assert threading and auto-reply hints. */
const KEPT_HEADERS = [
  'date',
  'from',
  'to',
  'cc',
  'reply-to',
  'subject',
  'message-id',
  'in-reply-to',
  'references',
  'auto-submitted',
  'x-auto-response-suppress',
] as const;

export interface MailboxOptions {
  host?: LoopbackHost;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** JSON-lines file that keeps messages across restarts; in memory only when absent. */
  dataFile?: string;
  /** Oldest messages are dropped beyond this many. */
  maxMessages?: number;
  /** Larger messages are refused with SMTP 552. */
  maxMessageBytes?: number;
  log?: (line: string) => void;
}

export interface Mailbox {
  /** The SMTP port. */
  port: number;
  /** For the app's mail settings, e.g. `smtp://127.0.0.1:2525`. */
  smtpUrl: string;
  /** Messages in arrival order (oldest first). */
  messages(): MailMessage[];
  clear(): void;
  /** The first message, already received or arriving within `timeoutMs`, that satisfies `predicate`. */
  waitFor(predicate: (message: MailMessage) => boolean, timeoutMs: number): Promise<MailMessage>;
  /** Serves `/dev/mailbox*` and resolves true; resolves false, untouched, for any other path. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  close(): Promise<void>;
}

interface Waiter {
  predicate: (message: MailMessage) => boolean;
  resolve: (message: MailMessage) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export async function startMailbox(options: MailboxOptions = {}): Promise<Mailbox> {
  const host = options.host ?? '127.0.0.1';
  if (!(LOOPBACK_HOSTS as readonly string[]).includes(host)) {
    // The sink accepts mail from anyone who reaches it, so it must not listen beyond this machine.
    throw new Error(`The mailbox listens on loopback only (${LOOPBACK_HOSTS.join(' or ')}), not ${host}`);
  }
  const maxMessages = positiveInteger('maxMessages', options.maxMessages ?? DEFAULT_MAX_MESSAGES);
  const maxMessageBytes = positiveInteger(
    'maxMessageBytes',
    options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
  );
  const log = options.log ?? (() => undefined);
  const store = await openMessageStore({ dataFile: options.dataFile, maxMessages, log });
  const waiters = new Set<Waiter>();

  const settle = (waiter: Waiter, outcome: { message: MailMessage } | { error: Error }): void => {
    clearTimeout(waiter.timer);
    waiters.delete(waiter);
    if ('message' in outcome) waiter.resolve(outcome.message);
    else waiter.reject(outcome.error);
  };

  const offer = (waiter: Waiter, message: MailMessage): void => {
    try {
      if (waiter.predicate(message)) settle(waiter, { message });
    } catch (error: unknown) {
      settle(waiter, { error: error instanceof Error ? error : new Error(String(error)) });
    }
  };

  const receive = async (raw: Buffer, session: SMTPServerSession): Promise<MailMessage> => {
    const parsed = await simpleParser(raw, { skipTextToHtml: true });
    const message = toMailMessage(parsed, session, randomUUID(), new Date());
    await store.add(message);
    log(
      `mailbox: ${message.id} from ${message.from} to ${message.envelope.to.join(', ')}: ${message.subject}`,
    );
    for (const waiter of [...waiters]) offer(waiter, message);
    return message;
  };

  const smtp = new SMTPServer({
    banner: 'Local mailbox (development only)',
    secure: false,
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    size: maxMessageBytes,
    rejectOversized: true,
    disableReverseLookup: true,
    logger: false,
    maxClients: 50,
    // A client that lingers must not hold up close() for smtp-server's default 30 s.
    closeTimeout: 1000,
    onConnect(session, callback) {
      // Defence in depth behind the loopback bind.
      const loopback = /^(127\.|::1$|::ffff:127\.)/.test(session.remoteAddress);
      callback(loopback ? null : smtpError(`Loopback clients only, not ${session.remoteAddress}`, 554));
    },
    onData(stream, session, callback) {
      readBounded(stream, maxMessageBytes)
        .then(async (raw) => {
          if (raw === undefined) {
            callback(smtpError(`Message exceeds fixed maximum message size (${maxMessageBytes} bytes)`, 552));
            return;
          }
          const message = await receive(raw, session);
          callback(null, `Queued as ${message.id}`);
        })
        .catch((error: unknown) => {
          log(`mailbox: could not receive a message: ${String(error)}`);
          callback(smtpError('Could not store the message', 451));
        });
    },
  });
  smtp.on('error', (error) => {
    log(`mailbox: SMTP error: ${error.message}`);
  });

  const port = await new Promise<number>((resolve, reject) => {
    smtp.server.once('error', reject);
    smtp.listen(options.port ?? 0, host, () => {
      smtp.server.off('error', reject);
      resolve((smtp.server.address() as AddressInfo).port);
    });
  });
  const smtpUrl = `smtp://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log(`mailbox: SMTP on ${smtpUrl}, page on ${MAILBOX_PATH}`);

  let closing: Promise<void> | undefined;

  const mailbox: Mailbox = {
    port,
    smtpUrl,
    messages: () => [...store.list()],
    clear: () => {
      void store.clear();
    },
    waitFor: (predicate, timeoutMs) =>
      new Promise<MailMessage>((resolve, reject) => {
        const waiter: Waiter = {
          predicate,
          resolve,
          reject,
          timer: setTimeout(() => {
            const seen = store.list().map((m) => JSON.stringify(m.subject));
            const error = new Error(
              `No matching email within ${timeoutMs} ms; the mailbox holds ${seen.length}: ${seen.join(', ')}`,
            );
            settle(waiter, { error });
          }, timeoutMs),
        };
        waiters.add(waiter);
        for (const message of store.list()) {
          if (!waiters.has(waiter)) break;
          offer(waiter, message);
        }
      }),
    handle: (req, res) => Promise.resolve(serve(req, res, store.list(), () => store.clear())),
    close: () => {
      closing ??= (async () => {
        for (const waiter of [...waiters]) settle(waiter, { error: new Error('The mailbox was closed') });
        await new Promise<void>((resolve) => {
          smtp.close(resolve);
        });
        await store.flushed();
      })();
      return closing;
    },
  };
  return mailbox;
}

/** Routes `/dev/mailbox*`; returns false for every other path without touching the response. */
function serve(
  req: IncomingMessage,
  res: ServerResponse,
  messages: readonly MailMessage[],
  clear: () => Promise<void>,
): boolean | Promise<boolean> {
  const url = new URL(req.url ?? '/', 'http://mailbox.invalid');
  const path = url.pathname.replace(/\/+$/, '');
  if (path !== MAILBOX_PATH && !path.startsWith(`${MAILBOX_PATH}/`)) return false;
  const method = req.method ?? 'GET';
  const filter = url.searchParams.get('to')?.trim() || undefined;
  const selected = filter === undefined ? messages : messages.filter((m) => isAddressedTo(m, filter));

  if (path === MAILBOX_PATH) {
    if (method !== 'GET') return methodNotAllowed(res, 'GET');
    return sendHtml(res, 200, renderListPage(selected, filter));
  }
  if (path === `${MAILBOX_PATH}/messages`) {
    if (method === 'GET') return sendJson(res, 200, selected);
    if (method === 'DELETE') {
      return clear().then(() => {
        res.writeHead(204, commonHeaders()).end();
        return true;
      });
    }
    return methodNotAllowed(res, 'GET, DELETE');
  }
  const jsonMatch = /^\/dev\/mailbox\/messages\/([^/]+)$/.exec(path);
  const pageMatch = /^\/dev\/mailbox\/([^/]+)$/.exec(path);
  const id = decodeSegment(jsonMatch?.[1] ?? pageMatch?.[1]);
  const message = id === undefined ? undefined : messages.find((m) => m.id === id);
  if (method !== 'GET') return methodNotAllowed(res, 'GET');
  if (jsonMatch !== null) {
    return message === undefined
      ? sendJson(res, 404, { error: 'No such message' })
      : sendJson(res, 200, message);
  }
  return message === undefined
    ? sendHtml(res, 404, renderNotFoundPage())
    : sendHtml(res, 200, renderMessagePage(message));
}

function decodeSegment(segment: string | undefined): string | undefined {
  if (segment === undefined) return undefined;
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** The whole message, or undefined once it is known to exceed the limit (the rest is drained, not kept). */
async function readBounded(stream: SMTPServerDataStream, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total <= limit) chunks.push(chunk);
  }
  return stream.sizeExceeded || total > limit ? undefined : Buffer.concat(chunks);
}

function toMailMessage(
  parsed: ParsedMail,
  session: SMTPServerSession,
  id: string,
  receivedAt: Date,
): MailMessage {
  const mailFrom = session.envelope.mailFrom;
  const envelope = {
    from: mailFrom === false ? '' : mailFrom.address,
    to: session.envelope.rcptTo.map((r) => r.address),
  };
  const html = typeof parsed.html === 'string' ? parsed.html : null;
  const text = parsed.text ?? '';
  return {
    id,
    from: addresses(parsed.from)[0] ?? envelope.from,
    to: addresses(parsed.to),
    cc: addresses(parsed.cc),
    envelope,
    subject: parsed.subject ?? '',
    text,
    html,
    links: extractLinks(html, text),
    receivedAt: receivedAt.toISOString(),
    messageId: parsed.messageId ?? null,
    headers: keptHeaders(parsed.headers),
  };
}

function addresses(field: AddressObject | AddressObject[] | undefined): string[] {
  const objects = field === undefined ? [] : Array.isArray(field) ? field : [field];
  const flatten = (entries: AddressObject['value']): string[] =>
    entries.flatMap((entry) => [...(entry.address ? [entry.address] : []), ...flatten(entry.group ?? [])]);
  return objects.flatMap((object) => flatten(object.value));
}

function keptHeaders(headers: ParsedMail['headers']): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of headers) {
    if ((KEPT_HEADERS as readonly string[]).includes(name) || name.startsWith('x-')) {
      kept[name] = headerText(value);
    }
  }
  return kept;
}

function headerText(value: HeaderValue): string {
  if (typeof value === 'string') return value;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'string' ? v : headerText(v))).join(', ');
  if ('text' in value && typeof value.text === 'string') return value.text;
  if ('value' in value && typeof value.value === 'string') return value.value;
  // Only the combined `List-*` headers remain, and none of them is kept.
  return JSON.stringify(value);
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new Error(`${name} must be a positive integer, not ${value}`);
  return value;
}

function smtpError(message: string, responseCode: number): Error {
  return Object.assign(new Error(message), { responseCode });
}
