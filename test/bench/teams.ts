/**
 * Issue 17 benchmark, on the local host with the real app (in this process) and its development
 * Teams channel:
 * - request submitted → approval card delivered to the channel (p50/p95): until the `sendTeams`
 *   trigger that posted the approver's card has finished (seen by an `@azure/functions`
 *   postInvocation hook; the channel has stored the card when the trigger's POST returns);
 * - card action → request approved (p50/p95): the channel's signed invoke through `/api/messages`
 *   until the bot's answer (the decision is stored before it answers), next to the API's
 *   `POST /api/requests/{id}/approve` by the same approver in the same run, the two interleaved
 *   request by request so both see the same host; the ratio's target is ≤ 1.5.
 *
 * The press's floor is measured on the same card right after: a press the bot refuses before any
 * storage (an unknown verb), so what the channel, HTTP and the token check cost is told apart
 * from the decision's own work.
 *
 * Each request's card update (after the decision) is awaited before the next sample, so neither
 * arm is timed with the other's background work. `benchTeams()` answers the report; run this file
 * directly to print it.
 */
import type { PostInvocationContext } from '@azure/functions';
import { startHost } from '@zsa/local-host';
import { caller, send } from '../support/api';
import { benchHostOptions, must, setUpBench } from './host-options';
import { now, ratio, summarize } from './stats';

const APPROVER = 'approver@contoso.com';
const TASK = 'Bench\\Teams';
const WARM_UP = 5;
/** The card press may take at most this many times the API's approve (issue #17). */
const TARGET = 1.5;

interface Activity {
  id: string;
  attachments?: { content?: unknown }[];
}

export async function benchTeams(runs = Number(process.env.BENCH_RUNS ?? 200)): Promise<object> {
  const host = await startHost({ ...benchHostOptions('bench-teams-key'), log: () => undefined });
  try {
    // Loaded only now: the host has installed the worker's core module, so this is the app's own.
    const { app } = await import('@azure/functions');
    /** Resolvers waiting for a `sendTeams` message id prefix (`teams:<request>:<kind>:`). */
    const waiters = new Map<string, (at: number) => void>();
    app.hook.postInvocation((ctx: PostInvocationContext) => {
      if (ctx.invocationContext.functionName !== 'sendTeams') return;
      const id = ctx.invocationContext.triggerMetadata?.messageId;
      if (typeof id !== 'string') return;
      for (const [prefix, resolve] of waiters)
        if (id.startsWith(prefix)) {
          waiters.delete(prefix);
          resolve(now());
        }
    });
    const delivered = (requestId: string, kind: 'ask' | 'update'): Promise<number> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no Teams ${kind} for ${requestId}`)), 30_000);
        waiters.set(`teams:${requestId}:${kind}:`, (at) => {
          clearTimeout(timer);
          resolve(at);
        });
      });

    const admin = await caller(host.url, 'admin@contoso.com', ['PAM.Admin']);
    await setUpBench(admin, {
      approver: APPROVER,
      webhookUrl: 'http://127.0.0.1:9/never',
      tasks: [[TASK, 'manual']],
    });
    const user = await caller(host.url, 'user@contoso.com');
    const approver = await caller(host.url, APPROVER);
    const channel = <T>(path: string, body: unknown) =>
      send<T>(`${host.url}/dev/teams${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    await must(channel('/install', { upn: APPROVER }));

    const submitToCard: number[] = [];
    const cardApprove: number[] = [];
    const apiApprove: number[] = [];
    const transport: number[] = [];
    for (let i = 0; i < 2 * (runs + WARM_UP); i++) {
      const warm = i < 2 * WARM_UP;
      const viaCard = i % 2 === 0;

      // 1. Submitted → card in the channel.
      const t = now();
      const res = await user.post<{ id: string }>('/api/requests', { task: TASK, reason: `bench ${i}` });
      if (res.status !== 202) throw new Error(`submit: ${res.status} ${res.text}`);
      const id = res.body.id;
      const asked = await delivered(id, 'ask');
      if (!warm) submitToCard.push(asked - t);

      // 2. Approved from the card, or through the API; then the card's update settles.
      const updated = delivered(id, 'update');
      if (viaCard) {
        const card = await cardAbout(host.url, id);
        const data = { requestId: id, stage: 0 };
        const a = now();
        const answer = await channel<{ status: number; body: unknown }>('/act', {
          upn: APPROVER,
          activityId: card.id,
          verb: 'approve',
          data,
        });
        const took = now() - a;
        if (
          answer.status !== 200 ||
          answer.body.status !== 200 ||
          !JSON.stringify(answer.body).includes('You approved')
        )
          throw new Error(`card approve: ${answer.status} ${answer.text}`);
        if (!warm) cardApprove.push(took);
        // The floor of a press: channel, HTTP, token check and parse, with a verb the bot refuses
        // before any storage (answered in-band), on the same card.
        const f = now();
        const refused = await channel<{ status: number; body: unknown }>('/act', {
          upn: APPROVER,
          activityId: card.id,
          verb: 'noop',
          data,
        });
        if (!warm) transport.push(now() - f);
        if (refused.status !== 200 || refused.body.status !== 200)
          throw new Error(`transport floor: ${refused.status} ${refused.text}`);
      } else {
        const a = now();
        await must(approver.post(`/api/requests/${id}/approve`, {}));
        if (!warm) apiApprove.push(now() - a);
      }
      await updated;
    }

    const card = summarize(cardApprove);
    const api = summarize(apiApprove);
    const p50 = ratio(card.p50, api.p50);
    const p95 = ratio(card.p95, api.p95);
    return {
      benchmark: 'teams',
      runs,
      unit: 'ms',
      submitted_to_card_in_dev_channel: summarize(submitToCard),
      card_action_to_approved: card,
      api_approve_to_approved: api,
      card_press_transport_floor: summarize(transport),
      card_p50_over_api_p50: p50,
      card_p95_over_api_p95: p95,
      target: TARGET,
      // Judged on the median; the 95th percentile of a shared machine is told, not judged.
      verdict: p50 <= TARGET ? 'ok' : 'over',
    };
  } finally {
    await host.close();
  }
}

/** The approver's card about `requestId` in the channel (outside any timing). */
async function cardAbout(hostUrl: string, requestId: string): Promise<Activity> {
  const res = await send<Activity[]>(
    `${hostUrl}/dev/teams/activities?upn=${encodeURIComponent(APPROVER)}`,
    {},
  );
  const card = res.body.find((a) => JSON.stringify(a.attachments ?? []).includes(requestId));
  if (!card) throw new Error(`no card about ${requestId}`);
  return card;
}

if (require.main === module) {
  benchTeams()
    .then((report) => process.stdout.write(`${JSON.stringify(report, null, 2)}\n`))
    .catch((e: unknown) => {
      process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    });
}
