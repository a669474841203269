/**
 * Sending one email: SMTP with nodemailer (the local host's mailbox, or any relay), or Microsoft
 * Graph `sendMail` with the app's managed identity (Azure). Both send the same MIME message
 * (multipart/alternative: plain text and HTML), built by nodemailer's composer. A failure throws:
 * the Service Bus trigger then abandons the message and Service Bus redelivers it.
 *
 * The Graph path cannot be exercised here (no tenant); it is kept to one request.
 */
import type { TokenCredential } from '@azure/identity';
import { DefaultAzureCredential } from '@azure/identity';
import { createTransport } from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer';
import type { Settings } from '#shared/config';

export interface OutgoingEmail {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Extra headers (`X-ZSA-*`); values are single lines. */
  headers: Record<string, string>;
}

export interface Mailer {
  /** Resolves once the server accepted the message. */
  send(email: OutgoingEmail): Promise<void>;
  close(): void;
}

/** Headers on every notification: no auto-replies (out-of-office) back to a mailbox nobody reads. */
const AUTOMATIC = { 'Auto-Submitted': 'auto-generated', 'X-Auto-Response-Suppress': 'All' } as const;

const SMTP_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 } as const;
const GRAPH_TIMEOUT_MS = 30_000;
const GRAPH = 'https://graph.microsoft.com/v1.0';

/**
 * The mailer the settings call for, built on first send: a missing `ZSA_SMTP_URL` fails the email
 * sender (loudly, retried, then dead-lettered), never the app's start or its other functions.
 */
export function createMailer(settings: Settings): Mailer {
  let mailer: Mailer | undefined;
  const get = (): Mailer => {
    if (mailer) return mailer;
    switch (settings.ZSA_MAIL_TRANSPORT) {
      case 'smtp':
        if (settings.ZSA_SMTP_URL === undefined)
          throw new Error('ZSA_SMTP_URL is not set (needed with ZSA_MAIL_TRANSPORT=smtp).');
        mailer = smtpMailer(settings.ZSA_SMTP_URL, settings.ZSA_MAIL_FROM);
        break;
      case 'graph':
        mailer = graphMailer(
          settings.ZSA_MAIL_FROM,
          new DefaultAzureCredential(
            settings.AzureWebJobsStorage__clientId
              ? { managedIdentityClientId: settings.AzureWebJobsStorage__clientId }
              : {},
          ),
        );
        break;
    }
    return mailer;
  };
  return {
    send: (email) => get().send(email),
    close() {
      mailer?.close();
    },
  };
}

export function smtpMailer(url: string, from: string): Mailer {
  // Pooled: notifications come in bursts (one per approver), and a kept connection saves the
  // handshake on each.
  const transport = createTransport({ url, pool: true, maxConnections: 4, ...SMTP_TIMEOUTS });
  return {
    async send(email) {
      await transport.sendMail({
        from,
        to: email.to,
        subject: email.subject,
        text: email.text,
        html: email.html,
        headers: { ...AUTOMATIC, ...email.headers },
      });
    },
    close() {
      transport.close();
    },
  };
}

/** The bare address of `Name <address>` or `address`. */
export function mailboxAddress(from: string): string {
  const angle = /<([^<>\s]+@[^<>\s]+)>\s*$/.exec(from);
  return (angle?.[1] ?? from).trim();
}

export function graphMailer(from: string, credential: TokenCredential): Mailer {
  const sender = mailboxAddress(from);
  return {
    async send(email) {
      const mime = await new MailComposer({
        from,
        to: email.to,
        subject: email.subject,
        text: email.text,
        html: email.html,
        headers: { ...AUTOMATIC, ...email.headers },
      })
        .compile()
        .build();
      const token = await credential.getToken('https://graph.microsoft.com/.default');
      if (!token) throw new Error('no token for Microsoft Graph');
      // MIME in, base64 as text/plain: Graph's way to send a message with both parts as built.
      const res = await fetch(`${GRAPH}/users/${encodeURIComponent(sender)}/sendMail`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token.token}`, 'content-type': 'text/plain' },
        body: mime.toString('base64'),
        signal: AbortSignal.timeout(GRAPH_TIMEOUT_MS),
      });
      if (res.status !== 202) {
        const detail = (await res.text()).slice(0, 500);
        throw new Error(`Microsoft Graph sendMail answered ${res.status}: ${detail}`);
      }
    },
    close() {
      // Nothing held open.
    },
  };
}
