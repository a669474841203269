/**
 * The local host's mailbox as tests read it (`GET /dev/mailbox/messages`): every email ZSA sent, with
 * its links, and the emailed decision link one approver got for one request.
 */
import { send } from './api';

export interface Mail {
  id: string;
  to: string[];
  subject: string;
  text: string;
  html: string | null;
  links: string[];
  headers: Record<string, string>;
}

export async function readMailbox(hostUrl: string): Promise<Mail[]> {
  const res = await send<Mail[]>(`${hostUrl}/dev/mailbox/messages`, {});
  if (res.status !== 200) throw new Error(`reading the mailbox: ${res.status} ${res.text}`);
  return res.body;
}

/** The emails ZSA sent about one request. */
export async function mailsAbout(hostUrl: string, requestId: string): Promise<Mail[]> {
  return (await readMailbox(hostUrl)).filter((m) => m.headers['x-zsa-request-id'] === requestId);
}

/** The `event` email to `to` about `requestId`, once it has arrived (polled for up to `timeoutMs`). */
export async function waitForMail(
  hostUrl: string,
  requestId: string,
  event: string,
  to: string,
  timeoutMs = 15_000,
): Promise<Mail> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await mailsAbout(hostUrl, requestId)).find(
      (m) => m.headers['x-zsa-event'] === event && m.to.includes(to),
    );
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no ${event} email to ${to} for ${requestId}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The decision link in the "approval needed" email `approver` got for `requestId`, if one arrived. */
export function decisionLink(
  mails: readonly Mail[],
  hostUrl: string,
  requestId: string,
  approver: string,
): string | undefined {
  const mail = mails.find(
    (m) =>
      m.headers['x-zsa-request-id'] === requestId &&
      m.headers['x-zsa-event'] === 'approvalNeeded' &&
      m.to.includes(approver),
  );
  return mail?.links.find((l) => l.startsWith(`${hostUrl}/api/decisions/`));
}

/** Posts the emailed decision form, as the approver's browser does from the link's page. */
export function decideByLink(link: string, decision: 'approve' | 'deny') {
  return send<string>(link, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ decision }).toString(),
  });
}
