/**
 * Timer `requestReconciler`, every 5 minutes: closes as `failed` the requests whose workflow is
 * over for good (failed, terminated) or never started, and alerts their requester and approver
 * group; tells a running workflow again of a change whose event was lost (shared/requests/reconcile.ts
 * says how it finds them cheaply and why it is safe to run anywhere, any number of times). In Azure
 * a timer runs on one instance at a time; the story does not rely on it.
 */
import { app, type InvocationContext, type Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { getDeps } from '#shared/app/deps';
import { publishNotification } from '#shared/notifications/publish';
import { publishContext } from '#shared/notifications/wiring';
import { durableOrchestrations } from '#shared/requests/orchestrations';
import { reconcile } from '#shared/requests/reconcile';

export async function requestReconciler(_timer: Timer, context: InvocationContext): Promise<void> {
  const deps = getDeps();
  const report = await reconcile({
    repo: deps.requests,
    audit: deps.audit,
    orchestrations: durableOrchestrations(df.getClient(context)),
    alert: async (requestId) => {
      await publishNotification(publishContext(), { requestId, event: 'failed' });
    },
    now: deps.now(),
    log: (m) => context.warn(m),
  });
  // Quiet when there was nothing to do, which is nearly always.
  if (report.looked > 0)
    context.log(
      `reconciler: looked at ${report.looked}, marked failed ${report.failed.length}, closed ${report.closed}, told again ${report.nudged.length}, not reconciled ${report.errors}`,
    );
}

app.timer('requestReconciler', {
  schedule: '0 */5 * * * *',
  extraInputs: [df.input.durableClient()],
  handler: requestReconciler,
});
