/**
 * The "expiring soon" email goes out only for the very grant it announces, still live and still
 * ending when it says. End to end over the real parts: the notice is scheduled on the local Service
 * Bus by the `notify` story, received from the queue when due, and handed to the real `sendEmail`
 * trigger, which sends through SMTP to the local mailbox (or drops it, saying why).
 */
import { InvocationContext, type LogLevel } from '@azure/functions';
import type { ServiceBusReceiver, ServiceBusSender } from '@azure/service-bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailbox, type Mailbox } from '@zsa/local-host/mailbox';
import { getDeps } from '#shared/app/deps';
import type { Request } from '#shared/domain/request';
import { NOTIFICATIONS_QUEUE } from '#shared/notifications/messages';
import { serviceBusPublisher } from '#shared/notifications/publisher';
import { publishNotification, type PublishContext } from '#shared/notifications/publish';
import { createScheduleStore, createTokenStore } from '#shared/notifications/store';
import { sendEmail } from '../../../functions/notifications';
import { startComponentEnv, type ComponentEnv } from '../../support/component';
import { aPendingRequest } from '../../support/requests';
import { startTestBus, type TestBus } from '../servicebus/bus';

/** The notice lead for these tests: each grant lasts it and a second and a half, so its notice comes due that soon. */
const NOTICE_MS = 60_000;

let env: ComponentEnv;
let bus: TestBus;
let mailbox: Mailbox;
let sender: ServiceBusSender;
let receiver: ServiceBusReceiver;

beforeAll(async () => {
  mailbox = await startMailbox();
  bus = await startTestBus({ entities: [{ queue: NOTIFICATIONS_QUEUE }] });
  env = await startComponentEnv({
    ZSA_SMTP_URL: mailbox.smtpUrl,
    ZSA_MAIL_FROM: 'ZSA <zsa@contoso.com>',
    ZSA_EVENTS_TOPIC: '',
  });
  sender = bus.client.createSender(NOTIFICATIONS_QUEUE);
  receiver = bus.client.createReceiver(NOTIFICATIONS_QUEUE, { receiveMode: 'receiveAndDelete' });
}, 60_000);

afterAll(async () => {
  getDeps().mailer.close();
  await receiver.close();
  await sender.close();
  await bus.close();
  await env.close();
  await mailbox.close();
});

function publishing(): PublishContext {
  const tables = getDeps().tables;
  return {
    requests: getDeps().requests,
    groupMembers: () => Promise.resolve([]),
    tokens: createTokenStore(tables),
    schedules: createScheduleStore(tables),
    publisher: serviceBusPublisher(() => sender),
    now: new Date(),
    publicBaseUrl: 'http://127.0.0.1:7071',
    expiryNoticeMs: NOTICE_MS,
  };
}

/** A live grant, stored; the notice for it comes due about a second from now. */
async function aGrant(): Promise<Request> {
  const now = Date.now();
  const request = aPendingRequest({
    status: 'approved',
    approvalType: 'auto',
    requiredApprovals: 0,
    decidedAt: new Date(now).toISOString(),
    grantedAt: new Date(now).toISOString(),
    expiresAt: new Date(now + NOTICE_MS + 1500).toISOString(),
  });
  await getDeps().requests.create(request);
  return request;
}

/** Receives the request's notice when it comes due and hands it to `sendEmail`, as the trigger would. */
async function deliverNotice(requestId: string): Promise<string[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2000 });
    const body = message?.body as { requestId?: string; event?: string } | undefined;
    if (message && body?.requestId === requestId && body.event === 'expiringSoon') {
      const logs: string[] = [];
      await sendEmail(
        message.body,
        new InvocationContext({
          functionName: 'sendEmail',
          triggerMetadata: { deliveryCount: 1, messageId: message.messageId },
          logHandler: (level: LogLevel, ...args: unknown[]) =>
            logs.push(`${level}: ${args.map(String).join(' ')}`),
        }),
      );
      return logs;
    }
    if (Date.now() > deadline) throw new Error(`no notice for ${requestId} came due`);
  }
}

const mailsOf = (requestId: string) =>
  mailbox.messages().filter((m) => m.headers['x-zsa-request-id'] === requestId);

describe('the expiring-soon email', () => {
  it('goes out for a live grant that still ends when the notice says', async () => {
    // Prepare
    const grant = await aGrant();
    await publishNotification(publishing(), { requestId: grant.id, event: 'granted' });

    // Act
    await deliverNotice(grant.id);

    // Assess
    const mail = await mailbox.waitFor(
      (m) => m.headers['x-zsa-request-id'] === grant.id && m.headers['x-zsa-event'] === 'expiringSoon',
      5000,
    );
    expect(mail.subject).toContain('Ending soon');
  });

  it('is dropped, with a log line, after a revoke whose cancel was lost', async () => {
    // Prepare: scheduled when granted; revoked at once, and the cancel never happened
    const grant = await aGrant();
    await publishNotification(publishing(), { requestId: grant.id, event: 'granted' });
    await getDeps().requests.update(grant.id, (r) => ({
      next: { ...r, status: 'revoked', endedAt: new Date().toISOString(), endedBy: 'ann@contoso.com' },
      result: undefined,
    }));

    // Act
    const logs = await deliverNotice(grant.id);

    // Assess
    expect(mailsOf(grant.id).filter((m) => m.headers['x-zsa-event'] === 'expiringSoon')).toEqual([]);
    expect(logs.join('\n')).toContain('the grant is no longer live');
  });

  it('is dropped when the grant now ends at another time than the one it announces', async () => {
    // Prepare: the notice announces one end; the grant's end has moved since (a newer window)
    const grant = await aGrant();
    await publishNotification(publishing(), { requestId: grant.id, event: 'granted' });
    const later = new Date(Date.parse(grant.expiresAt ?? '') + 3_600_000).toISOString();
    await getDeps().requests.update(grant.id, (r) => ({
      next: { ...r, expiresAt: later },
      result: undefined,
    }));

    // Act
    const logs = await deliverNotice(grant.id);

    // Assess
    expect(mailsOf(grant.id).filter((m) => m.headers['x-zsa-event'] === 'expiringSoon')).toEqual([]);
    expect(logs.join('\n')).toContain(`the grant now ends at ${later}`);
  });

  it('is canceled when the grant fails', async () => {
    // Prepare
    const grant = await aGrant();
    const granted = await publishNotification(publishing(), { requestId: grant.id, event: 'granted' });
    await getDeps().requests.update(grant.id, (r) => ({
      next: { ...r, status: 'failed', endedAt: new Date().toISOString(), endReason: 'workflow failed' },
      result: undefined,
    }));

    // Act
    const failed = await publishNotification(publishing(), { requestId: grant.id, event: 'failed' });

    // Assess
    expect(granted.scheduled).toHaveLength(1);
    expect(failed.canceled).toEqual(granted.scheduled);
  });
});
