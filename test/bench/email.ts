/**
 * Issue 4 benchmark, on the local host with the real app (in this process):
 * - request submitted → approval email in the mailbox (p50/p95), one approver per request;
 * - Service Bus send → `sendEmail` trigger invoked (p50/p95): a notification sent with the SDK,
 *   timed until the app's trigger starts (seen by an `@azure/functions` preInvocation hook);
 * - the floor, measured in the same run on the same endpoint: the raw SDK send → receive round
 *   trip of a streaming peek-lock receiver, interleaved with the trigger samples.
 *
 * The Service Bus endpoint and the mailbox are started here and handed to the host (as
 * `ServiceBusConnection` and `ZSA_SMTP_URL`) so the bench can time them without polling.
 * `benchEmail()` answers the report; run this file directly to print it.
 */
import type { PostInvocationContext, PreInvocationContext } from '@azure/functions';
import { ServiceBusClient } from '@azure/service-bus';
import { startHost } from '@zsa/local-host';
import { benchHostOptions, setUpBench } from './host-options';
import { startMailbox } from '@zsa/local-host/mailbox';
import { startServiceBus } from '@zsa/local-host/servicebus';
import type { Request } from '#shared/domain/request';
import { buildMessage, NOTIFICATIONS_QUEUE } from '#shared/notifications/messages';
import { toServiceBusMessage } from '#shared/notifications/publisher';
import { caller } from '../support/api';
import { aPendingRequest } from '../support/requests';
import { now, ratio, summarize } from './stats';

const FLOOR_QUEUE = 'bench-floor';
/** host.json `extensions.serviceBus.maxConcurrentCalls`: the trigger runner's receiver concurrency. */
const TRIGGER_CONCURRENCY = 16;

/** `BENCH_RUNS` as the other benches read it: `npm run bench` takes 200, the suite's smoke run a handful. */
export async function benchEmail(runs = Number(process.env.BENCH_RUNS ?? 200)): Promise<object> {
  const bus = await startServiceBus({ entities: [{ queue: NOTIFICATIONS_QUEUE }, { queue: FLOOR_QUEUE }] });
  const mailbox = await startMailbox({ maxMessages: 10 * runs });
  const host = await startHost({
    ...benchHostOptions('bench-email-key', {
      ServiceBusConnection: bus.connectionString,
      ZSA_SMTP_URL: mailbox.smtpUrl,
    }),
    log: () => undefined,
  });
  const client = new ServiceBusClient(bus.connectionString);
  const floorClient = new ServiceBusClient(bus.connectionString);
  try {
    // Loaded only now: the host has installed the worker's core module, so this is the app's
    // own `@azure/functions`, not a copy in test mode.
    const { app } = await import('@azure/functions');
    const invoked = new Map<string, number>();
    const waiters = new Map<string, () => void>();
    const finishers = new Map<string, () => void>();
    const idOf = (ctx: PreInvocationContext | PostInvocationContext): string | undefined => {
      const id = ctx.invocationContext.triggerMetadata?.messageId;
      return ctx.invocationContext.functionName === 'sendEmail' && typeof id === 'string' ? id : undefined;
    };
    app.hook.preInvocation((ctx) => {
      const id = idOf(ctx);
      if (id === undefined) return;
      invoked.set(id, now());
      waiters.get(id)?.();
    });
    app.hook.postInvocation((ctx) => {
      const id = idOf(ctx);
      if (id !== undefined) finishers.get(id)?.();
    });

    const admin = await caller(host.url, 'admin@contoso.com', ['PAM.Admin']);
    await setUpBench(admin, {
      approver: 'approver@contoso.com',
      webhookUrl: 'http://127.0.0.1:9/never',
      tasks: [['Bench\\Mail', 'manual']],
    });
    const user = await caller(host.url, 'user@contoso.com');

    // 1. Submitted → approval email in the mailbox.
    const submitToMail: number[] = [];
    for (let i = 0; i < runs + 5; i++) {
      const t = now();
      const res = await user.post<{ id: string }>('/api/requests', {
        task: 'Bench\\Mail',
        reason: `bench ${i}`,
      });
      if (res.status !== 202) throw new Error(`submit: ${res.status} ${res.text}`);
      const id = res.body.id;
      await mailbox.waitFor(
        (m) => m.headers['x-zsa-request-id'] === id && m.headers['x-zsa-event'] === 'approvalNeeded',
        30_000,
      );
      if (i >= 5) submitToMail.push(now() - t);
    }

    // 2. Service Bus send → trigger invoked, interleaved with 3. the raw SDK round trip (floor).
    const sender = client.createSender(NOTIFICATIONS_QUEUE);
    const request = benchRequest();
    const probe = floorProbe(client, floorClient);
    const sendToInvoked: number[] = [];
    const floor: number[] = [];
    for (let i = 0; i < runs + 5; i++) {
      const warm = i < 5;
      const message = buildMessage(
        { event: 'granted' },
        request,
        { upn: `bench-${i}@contoso.com`, audience: 'requester' },
        new Date(),
      );
      const arrived = new Promise<void>((r) => waiters.set(message.id, r));
      const finished = new Promise<void>((r) => finishers.set(message.id, r));
      const t = now();
      await sender.sendMessages(toServiceBusMessage(message));
      await arrived;
      if (!warm) sendToInvoked.push((invoked.get(message.id) ?? NaN) - t);
      // The app finishes that email (mail, audit, completion) before the floor sample, in this
      // same process, so neither is timed with the other's work running.
      await mailbox.waitFor((m) => m.headers['x-zsa-notification-id'] === message.id, 30_000);
      await finished;
      await new Promise((r) => setTimeout(r, 5));
      waiters.delete(message.id);
      finishers.delete(message.id);
      const f = await probe.sample();
      if (!warm) floor.push(f);
    }
    await probe.close();
    await sender.close();

    const mail = summarize(submitToMail);
    const trigger = summarize(sendToInvoked);
    const raw = summarize(floor);
    return {
      benchmark: 'email-notifications',
      runs,
      unit: 'ms',
      submitted_to_approval_email_in_mailbox: mail,
      servicebus_send_to_trigger_invoked: trigger,
      floor_raw_sdk_send_to_receive: raw,
      trigger_p50_over_floor_p50: ratio(trigger.p50, raw.p50),
      trigger_p95_over_floor_p95: ratio(trigger.p95, raw.p95),
    };
  } finally {
    await floorClient.close();
    await client.close();
    await host.close();
    await mailbox.close();
    await bus.close();
  }
}

/**
 * The floor: raw SDK send → streaming peek-lock receiver, one message at a time, on its own queue
 * of the same endpoint — what `infra/local/servicebus/round-trip.ts` measures — set up the way the
 * trigger runner is: the receiver on a connection of its own with the same concurrency (host.json
 * `maxConcurrentCalls`, so the same link credit), each message completed before the next is sent.
 */
function floorProbe(
  senderClient: ServiceBusClient,
  receiverClient: ServiceBusClient,
): { sample(): Promise<number>; close(): Promise<void> } {
  const sender = senderClient.createSender(FLOOR_QUEUE);
  const receiver = receiverClient.createReceiver(FLOOR_QUEUE);
  let arrived: ((n: number, at: number) => void) | undefined;
  let settled: Promise<void> = Promise.resolve();
  const subscription = receiver.subscribe(
    {
      processMessage: (m) => {
        // Timed on arrival, as the trigger is timed when it starts: not after the send's own ack.
        arrived?.(typeof m.body === 'number' ? m.body : -1, now());
        settled = receiver.completeMessage(m);
        return settled;
      },
      processError: () => Promise.resolve(),
    },
    { maxConcurrentCalls: TRIGGER_CONCURRENCY, autoCompleteMessages: false },
  );
  let seq = 0;
  return {
    async sample() {
      const n = seq++;
      const received = new Promise<number>((r) => {
        arrived = (k, at) => {
          if (k === n) r(at);
        };
      });
      const t = now();
      await sender.sendMessages({ body: n });
      const at = await received;
      await settled;
      return at - t;
    },
    async close() {
      await subscription.close();
      await receiver.close();
      await sender.close();
    },
  };
}

/** An approved, auto-approved request of the bench's requester (the shared builder, reshaped). */
function benchRequest(): Request {
  const at = new Date();
  return aPendingRequest(
    {
      requester: 'bench@contoso.com',
      requesterId: 'tid:bench@contoso.com',
      task: 'Bench\\Mail',
      tasks: ['Bench\\Mail'],
      reason: 'bench',
      status: 'approved',
      policyId: 'bench',
      approvalType: 'auto',
      requiredApprovals: 0,
      pendingUntil: at.toISOString(),
      decidedAt: at.toISOString(),
      grantedAt: at.toISOString(),
      expiresAt: new Date(at.getTime() + 3_600_000).toISOString(),
    },
    at,
  );
}

if (require.main === module) {
  benchEmail()
    .then((report) => process.stdout.write(`${JSON.stringify(report, null, 2)}\n`))
    .catch((e: unknown) => {
      process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    });
}
