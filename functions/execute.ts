/**
 * `POST /api/execute`: the guarded execution. 403 `no-active-grant` without a live grant, 403
 * `grant-not-started` before a scheduled grant's start, 409 `uses-in-flight` while a counted grant's
 * uses left are all held by running executions; 502 when the task failed.
 */
import { app } from '@azure/functions';
import * as df from 'durable-functions';
import { ExecuteBody } from '#shared/domain/request';
import { auditActor, auditOrigin, authenticate } from '#shared/http/auth';
import { handled, json, readJson } from '#shared/http/handler';
import { problem, problemResponse } from '#shared/http/problem';
import { execute as executeStory, ExecutionFailedError } from '#shared/requests/execute';
import { executeContext } from '#shared/requests/wiring';

export const execute = handled(async (request, context) => {
  const principal = await authenticate(request);
  const body = await readJson(request, ExecuteBody);
  const caller = {
    principal,
    actor: auditActor(principal),
    origin: auditOrigin(request, context.invocationId),
  };
  try {
    return json(200, await executeStory(executeContext(context), caller, body));
  } catch (e) {
    if (e instanceof ExecutionFailedError) {
      return problemResponse(problem(502, 'EXECUTION_FAILED', e.message, { executionId: e.executionId }));
    }
    throw e;
  }
});

app.http('execute', {
  methods: ['POST'],
  route: 'api/execute',
  handler: execute,
  extraInputs: [df.input.durableClient()],
});
