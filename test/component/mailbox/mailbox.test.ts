/**
 * The mailbox as the app and its users meet it: real mail over SMTP on loopback (nodemailer, as the
 * app's email sender uses), read back over real HTTP through `handle`.
 */
import { once } from 'node:events';
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTransport, type SendMailOptions } from 'nodemailer';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startMailbox, type Mailbox, type MailMessage } from '@zsa/local-host/mailbox';

interface Harness {
  mailbox: Mailbox;
  baseUrl: string;
  send(mail: SendMailOptions): Promise<void>;
  close(): Promise<void>;
}

/** A mailbox, a tiny HTTP server that routes to it (418 for anything else) and a sender. */
async function startHarness(options: Parameters<typeof startMailbox>[0] = {}): Promise<Harness> {
  const mailbox = await startMailbox(options);
  const server = http.createServer((req, res) => {
    void mailbox.handle(req, res).then((handled) => {
      if (!handled) res.writeHead(418).end('not the mailbox');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const transport = createTransport(mailbox.smtpUrl);
  return {
    mailbox,
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    send: async (mail) => {
      await transport.sendMail({ from: 'ZSA <zsa@contoso.test>', ...mail });
    },
    close: async () => {
      transport.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
      await mailbox.close();
    },
  };
}

async function getMessages(baseUrl: string, query = ''): Promise<MailMessage[]> {
  const response = await fetch(`${baseUrl}/dev/mailbox/messages${query}`);
  expect(response.status).toBe(200);
  return (await response.json()) as MailMessage[];
}

const approvalEmail = {
  to: 'Bob Approver <Bob@Contoso.test>',
  cc: 'audit@contoso.test',
  subject: 'Approval needed: Exchange\\New-MoveRequest for alice',
  html: `<p>alice@contoso.test asks for <b>Exchange\\New-MoveRequest</b>.</p>
<p><a href="https://zsa.test/api/decisions/tok-1?via=email&amp;lang=en">Review the request</a>
<a href="mailto:help@contoso.test">Help</a></p>`,
  text: 'Review the request: https://zsa.test/api/decisions/tok-1?via=email&lang=en.\nPolicy: https://zsa.test/docs/policy',
  headers: { 'X-ZSA-Request-Id': 'req-42' },
};

describe('mailbox', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness();
  });

  afterEach(() => {
    harness.mailbox.clear();
  });

  afterAll(async () => {
    await harness.close();
  });

  it('keeps an email sent over SMTP and serves it as JSON with its links', async () => {
    // Prepare
    const before = Date.now();

    // Act
    await harness.send(approvalEmail);
    const messages = await getMessages(harness.baseUrl);

    // Assess
    expect(messages).toHaveLength(1);
    const [message] = messages;
    expect(message).toMatchObject({
      from: 'zsa@contoso.test',
      // nodemailer lower-cases the domain, never the local part.
      to: ['Bob@contoso.test'],
      cc: ['audit@contoso.test'],
      envelope: { from: 'zsa@contoso.test', to: ['Bob@contoso.test', 'audit@contoso.test'] },
      subject: approvalEmail.subject,
      links: ['https://zsa.test/api/decisions/tok-1?via=email&lang=en', 'https://zsa.test/docs/policy'],
      headers: { 'x-zsa-request-id': 'req-42', from: '"ZSA" <zsa@contoso.test>' },
    });
    expect(message?.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(message?.text).toContain('Policy: https://zsa.test/docs/policy');
    expect(message?.html).toContain('Review the request</a>');
    expect(message?.messageId).toMatch(/^<.+@.+>$/);
    expect(Date.parse(message?.receivedAt ?? '')).toBeGreaterThanOrEqual(before - 1000);
    expect(harness.mailbox.messages()).toEqual(messages);
  });

  it('filters by recipient, case-insensitively, including Cc and Bcc', async () => {
    // Prepare
    await harness.send({ to: 'bob@contoso.test', subject: 'for bob', text: 'b' });
    await harness.send({ to: 'carol@contoso.test', bcc: 'Bob@CONTOSO.test', subject: 'bcc bob', text: 'c' });
    await harness.send({ to: 'carol@contoso.test', subject: 'for carol', text: 'c' });

    // Act
    const forBob = await getMessages(harness.baseUrl, `?to=${encodeURIComponent('BOB@contoso.TEST')}`);
    const all = await getMessages(harness.baseUrl);

    // Assess
    expect(forBob.map((m) => m.subject)).toEqual(['for bob', 'bcc bob']);
    expect(all.map((m) => m.subject)).toEqual(['for bob', 'bcc bob', 'for carol']);
  });

  it('waits for an email that has not arrived yet, and names what it saw when none matches', async () => {
    // Prepare
    const waiting = harness.mailbox.waitFor((m) => m.subject === 'late', 5000);

    // Act
    await harness.send({ to: 'bob@contoso.test', subject: 'early', text: 'x' });
    await harness.send({ to: 'bob@contoso.test', subject: 'late', text: 'x' });

    // Assess
    await expect(waiting).resolves.toMatchObject({ subject: 'late' });
    await expect(harness.mailbox.waitFor((m) => m.subject === 'never', 50)).rejects.toThrow(
      /No matching email within 50 ms; the mailbox holds 2: "early", "late"/,
    );
  });

  it('lists messages newest first on a page that escapes what the sender wrote', async () => {
    // Prepare
    await harness.send({ to: 'bob@contoso.test', subject: 'first', text: 'x' });
    await harness.send({
      to: 'bob@contoso.test',
      subject: '<script>alert("x")</script> & more',
      html: '<p>hi</p><script>alert(1)</script><a href="https://zsa.test/d/1">go</a>',
    });

    // Act
    const response = await fetch(`${harness.baseUrl}/dev/mailbox`);
    const page = await response.text();

    // Assess
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(page).toContain('&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; more');
    expect(page).not.toMatch(/<script/i);
    expect(page.indexOf('&#60;script&#62;')).toBeLessThan(page.indexOf('first'));
  });

  it('shows one message with its HTML in a sandbox that lets links open but no script run', async () => {
    // Prepare
    await harness.send({
      to: 'bob@contoso.test',
      subject: 'Approval needed',
      html: '<p>hi</p><script>alert(1)</script><a href="https://zsa.test/d/1?a=1&amp;b=2">Review</a>',
      text: 'Review: https://zsa.test/d/1?a=1&b=2',
    });
    const [message] = harness.mailbox.messages();

    // Act
    const response = await fetch(`${harness.baseUrl}/dev/mailbox/${message?.id ?? ''}`);
    const page = await response.text();

    // Assess
    expect(response.status).toBe(200);
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(page).toContain('<iframe title="HTML body" sandbox="allow-popups allow-popups-to-escape-sandbox"');
    expect(page).toMatch(/srcdoc="[^"]*&#60;script&#62;alert\(1\)&#60;\/script&#62;[^"]*"/);
    expect(page).not.toMatch(/<script/i);
    expect(page).toContain(
      '<a href="https://zsa.test/d/1?a=1&#38;b=2" target="_blank" rel="noopener noreferrer">https://zsa.test/d/1?a=1&#38;b=2</a>',
    );
    expect(page).toContain('<pre>Review: https://zsa.test/d/1?a=1&#38;b=2</pre>');
  });

  it('answers 404 for an unknown message, 405 for a wrong method, and leaves other paths alone', async () => {
    // Act
    const unknownPage = await fetch(`${harness.baseUrl}/dev/mailbox/no-such-id`);
    const unknownJson = await fetch(`${harness.baseUrl}/dev/mailbox/messages/no-such-id`);
    const wrongMethod = await fetch(`${harness.baseUrl}/dev/mailbox/messages`, { method: 'POST' });
    const elsewhere = await fetch(`${harness.baseUrl}/dev/mailboxes`);

    // Assess
    expect(unknownPage.status).toBe(404);
    expect(unknownJson.status).toBe(404);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET, DELETE');
    expect(elsewhere.status).toBe(418);
  });

  it('clears every message on DELETE', async () => {
    // Prepare
    await harness.send({ to: 'bob@contoso.test', subject: 'one', text: 'x' });

    // Act
    const response = await fetch(`${harness.baseUrl}/dev/mailbox/messages`, { method: 'DELETE' });

    // Assess
    expect(response.status).toBe(204);
    expect(await getMessages(harness.baseUrl)).toEqual([]);
    expect(harness.mailbox.messages()).toEqual([]);
  });

  it('refuses a message over the size limit with 552 and keeps nothing of it', async () => {
    // Prepare
    const oversized = 'x'.repeat(5 * 1024 * 1024 + 1);

    // Act
    const sending = harness.send({ to: 'bob@contoso.test', subject: 'too big', text: oversized });

    // Assess
    await expect(sending).rejects.toMatchObject({ responseCode: 552 });
    expect(harness.mailbox.messages()).toEqual([]);
  });

  it('refuses to listen anywhere but loopback', async () => {
    // Prepare: a host from untyped configuration, which the type alone cannot stop.
    const host = '0.0.0.0' as '127.0.0.1';

    // Act
    const starting = startMailbox({ host });

    // Assess
    await expect(starting).rejects.toThrow(/loopback only/);
  });
});

describe('mailbox with a data file', () => {
  let directory: string;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'zsa-mailbox-'));
  });

  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('keeps messages across a restart, drops the oldest beyond the limit, and forgets them once cleared', async () => {
    // Prepare: five messages with room for two, so the file is also compacted once (at twice the limit).
    const dataFile = join(directory, 'nested', 'mailbox.jsonl');
    const first = await startHarness({ dataFile, maxMessages: 2 });
    for (const subject of ['one', 'two', 'three', 'four', 'five']) {
      await first.send({
        to: 'bob@contoso.test',
        subject,
        html: `<a href="https://zsa.test/${subject}">x</a>`,
      });
    }
    const sent = first.mailbox.messages();
    await first.close();
    const linesOnDisk = (await readFile(dataFile, 'utf8')).trim().split('\n');

    // Act
    const second = await startHarness({ dataFile, maxMessages: 2 });
    const afterRestart = await getMessages(second.baseUrl);
    second.mailbox.clear();
    await second.close();
    const third = await startHarness({ dataFile, maxMessages: 2 });
    const afterClear = third.mailbox.messages();
    await third.close();

    // Assess
    expect(sent.map((m) => m.subject)).toEqual(['four', 'five']);
    expect(linesOnDisk).toHaveLength(2);
    expect(afterRestart).toEqual(sent);
    expect(afterClear).toEqual([]);
    expect(await readFile(dataFile, 'utf8')).toBe('');
  });

  it('skips an unreadable line and keeps the rest', async () => {
    // Prepare
    const dataFile = join(directory, 'torn.jsonl');
    const first = await startHarness({ dataFile });
    await first.send({ to: 'bob@contoso.test', subject: 'kept', text: 'x' });
    await first.close();
    await appendFile(dataFile, '{"id":"torn", "subj');
    const logged: string[] = [];

    // Act
    const second = await startHarness({ dataFile, log: (line) => logged.push(line) });
    const messages = second.mailbox.messages();
    await second.close();

    // Assess
    expect(messages.map((m) => m.subject)).toEqual(['kept']);
    expect(logged).toContainEqual(expect.stringContaining('skipped unreadable line 2'));
  });
});
