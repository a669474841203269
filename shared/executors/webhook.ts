/**
 * Runs a task through an HTTPS webhook (an Automation runbook webhook, a Logic App, an internal
 * API): a signed POST to an allow-listed host, with a timeout, no redirects followed, and a bounded
 * answer. docs/design.md §7.3.
 */
import { createHmac } from 'node:crypto';
import { DomainError } from '#shared/domain/errors';
import { isHttpsOrLoopback } from '#shared/domain/loopback';
import { traceHeaders } from '#shared/telemetry/spans';

export const MAX_RESULT_BYTES = 64 * 1024;

export interface ExecutionPayload {
  executionId: string;
  requestId: string | null;
  task: string;
  parameters: Record<string, string | number | boolean>;
  requestedBy: string;
  approvedBy: string[];
  grantExpiresAt: string | null;
}

export interface WebhookOptions {
  allowedHosts: readonly string[];
  signingKey: string | undefined;
  timeoutMs: number;
  now: Date;
}

/**
 * A failed execution says what the executor may have done, which a counted grant needs: `none` —
 * it was not reached, or it answered that it failed (non-2xx); `ran` — it answered 2xx, so the task
 * ran, but the answer could not be taken (too large, cut off); `unknown` — the call was sent and no
 * answer came (a timeout, a connection lost). Only `none` gives a counted grant's use back.
 */
export type ExecutionEffect = 'none' | 'ran' | 'unknown';

export type ExecutionOutcome =
  { ok: true; result: unknown } | { ok: false; reason: string; effect: ExecutionEffect };

/** Errors of a connection that was never made: the request cannot have reached the executor. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

function codeOf(e: unknown): string | undefined {
  const cause: unknown = e instanceof Error ? e.cause : undefined;
  const code: unknown = typeof cause === 'object' && cause !== null ? Reflect.get(cause, 'code') : undefined;
  return typeof code === 'string' ? code : undefined;
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` — verifiable by the receiver. */
export function signature(key: string, unixSeconds: number, body: string): string {
  const mac = createHmac('sha256', key).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/** Throws when the URL's host is not allow-listed, or plain http leaves loopback. */
export function assertAllowedTarget(raw: string, allowedHosts: readonly string[]): URL {
  const url = new URL(raw);
  const host = url.hostname.toLowerCase();
  const hostPort = url.port ? `${host}:${url.port}` : host;
  if (!allowedHosts.includes(host) && !allowedHosts.includes(hostPort)) {
    throw new DomainError('FORBIDDEN', `The executor host ${hostPort} is not in ZSA_EXECUTOR_ALLOWED_HOSTS`);
  }
  if (!isHttpsOrLoopback(url)) {
    throw new DomainError('FORBIDDEN', 'Executors must use https (plain http only on loopback)');
  }
  return url;
}

export async function callWebhook(
  rawUrl: string,
  payload: ExecutionPayload,
  opts: WebhookOptions,
): Promise<ExecutionOutcome> {
  const url = assertAllowedTarget(rawUrl, opts.allowedHosts);
  if (!opts.signingKey) {
    throw new DomainError('UNAVAILABLE', 'ZSA_WEBHOOK_SIGNING_KEY is not set, so no webhook can be signed');
  }
  const body = JSON.stringify(payload);
  const t = Math.floor(opts.now.getTime() / 1000);
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        // W3C trace context (`traceparent`, when telemetry is on): the executor's spans join ZSA's
        // trace. Outside the signature: it names a trace, it grants nothing.
        ...traceHeaders(),
        'content-type': 'application/json',
        'x-zsa-signature': signature(opts.signingKey, t, body),
        'x-zsa-execution-id': payload.executionId,
      },
      body,
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
  } catch (e) {
    const timedOut = e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError');
    const code = codeOf(e);
    return {
      ok: false,
      reason: timedOut
        ? `the executor did not answer within ${opts.timeoutMs} ms`
        : 'the executor could not be reached',
      // A timeout or a connection lost after sending may have left the task running or done.
      effect: !timedOut && code !== undefined && NOT_SENT.has(code) ? 'none' : 'unknown',
    };
  }
  // The task has run by now: whatever the answer's body does, the outcome must come back as a
  // value, so that the caller can audit it (an exception here would leave the execution unaudited).
  const succeeded = response.status >= 200 && response.status <= 299;
  const read = await readLimited(response, opts.timeoutMs);
  // An answer that cannot be read: the status said whether the task ran.
  if (!read.ok) return { ...read, effect: succeeded ? 'ran' : 'none' };
  const text = read.text;
  if (!succeeded) {
    return { ok: false, reason: `the executor answered HTTP ${response.status}`, effect: 'none' };
  }
  const type = response.headers.get('content-type') ?? '';
  if (type.includes('json') && text.length > 0) {
    try {
      return { ok: true, result: JSON.parse(text) as unknown };
    } catch {
      return { ok: true, result: text };
    }
  }
  return { ok: true, result: text.length > 0 ? text : null };
}

async function readLimited(
  response: Response,
  timeoutMs: number,
): Promise<{ ok: true; text: string } | { ok: false; reason: string }> {
  if (!response.body) return { ok: true, text: '' };
  // An explicit reader, not `for await`: the loop holds the stream's lock, so cancelling the body
  // from inside it throws instead of closing the connection.
  const reader: ReadableStreamDefaultReader<Uint8Array> = response.body.getReader();
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      // Read no more than the limit: a hostile executor must not make us buffer an endless answer.
      if (size > MAX_RESULT_BYTES) {
        await reader.cancel().catch(() => undefined);
        return { ok: false, reason: `the executor's answer is larger than ${MAX_RESULT_BYTES / 1024} KiB` };
      }
      chunks.push(Buffer.from(value));
    }
  } catch (e) {
    // The connection died mid-answer, or the request's timeout fired while the body trickled in.
    const timedOut = e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError');
    return {
      ok: false,
      reason: timedOut
        ? `the executor did not finish its answer within ${timeoutMs} ms`
        : "the executor's answer could not be read",
    };
  }
  return { ok: true, text: Buffer.concat(chunks).toString('utf8') };
}
