import { app } from '@azure/functions';
import { assertStartable, StartupRefusedError } from '#shared/app/startup-guard';

/**
 * Refuses to start in Azure with an unsafe configuration (shared/app/startup-guard.ts). The Node
 * worker runs `appStart` hooks after loading every entry point, while answering the host's worker
 * start (or, on a pre-warmed instance, environment reload) request; a hook that throws makes that
 * answer a failure carrying the message, so the host never serves the app. The same line goes to
 * the log first, because the host's copy of the message can be hard to find.
 */
app.hook.appStart(() => {
  try {
    assertStartable(process.env);
  } catch (error) {
    if (error instanceof StartupRefusedError) console.error(error.message);
    throw error;
  }
});
