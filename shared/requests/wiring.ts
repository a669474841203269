/**
 * Builds the contexts the request stories run in, from the app's deps and the invocation (which
 * carries the durable client binding).
 */
import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { getDeps } from '#shared/app/deps';
import type { ExecuteContext } from './execute';
import { durableOrchestrations } from './orchestrations';
import type { RequestContext, SystemContext } from './context';

export function requestContext(invocation: InvocationContext): RequestContext {
  const deps = getDeps();
  return {
    repo: deps.requests,
    config: deps.config,
    orchestrations: durableOrchestrations(df.getClient(invocation)),
    audit: deps.audit,
    now: deps.now(),
    minDurationSeconds: deps.settings.ZSA_MIN_DURATION_SECONDS,
  };
}

export function executeContext(invocation: InvocationContext): ExecuteContext {
  const deps = getDeps();
  return {
    repo: deps.requests,
    config: deps.config,
    orchestrations: durableOrchestrations(df.getClient(invocation)),
    audit: deps.audit,
    bus: () => deps.bus,
    now: deps.now,
    webhook: {
      allowedHosts: deps.settings.ZSA_EXECUTOR_ALLOWED_HOSTS,
      signingKey: deps.settings.ZSA_WEBHOOK_SIGNING_KEY,
      timeoutMs: deps.settings.ZSA_EXECUTOR_TIMEOUT_MS,
    },
    adminsExecuteWhileDisabled: deps.settings.ZSA_ADMINS_EXECUTE_WHILE_DISABLED,
  };
}

export function systemContext(): SystemContext {
  const deps = getDeps();
  return { repo: deps.requests, audit: deps.audit, now: deps.now() };
}
