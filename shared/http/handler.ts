/**
 * The HTTP edge every function shares: body and query parsing with the domain's schemas, the
 * error → problem mapping, and small response helpers. Handlers stay four lines of story:
 * authenticate → parse → authorize → domain → respond.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { z } from 'zod';
import { settings } from '#shared/config';
import { parseOrThrow } from '#shared/domain/errors';
import { addCorsHeaders } from './cors';
import { HttpError, problemResponse, toProblem } from './problem';

export type HttpHandler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

/** Bodies over this are refused with 413 (docs/design.md §7.1: 64 KiB). */
export const MAX_BODY_BYTES = 64 * 1024;

/**
 * Wraps a handler so that every failure becomes a problem response: known failures with their
 * message, anything else a 500 carrying only a correlation id (the details go to the log).
 */
export function handled(handler: HttpHandler): HttpHandler {
  return async (request, context) => {
    try {
      refuseCrossSiteWrites(request);
      const response = await handler(request, context);
      return withCommonHeaders(response, context.invocationId, request);
    } catch (error) {
      const { problem, headers, unexpected } = toProblem(error, context.invocationId);
      if (unexpected) {
        context.error(`Unexpected failure (correlation id ${context.invocationId}):`, error);
      } else if (problem.status >= 500) {
        context.warn(`${problem.code ?? 'error'}: ${problem.detail}`);
      }
      return withCommonHeaders(problemResponse(problem, headers), context.invocationId, request);
    }
  };
}

function withCommonHeaders(
  response: HttpResponseInit,
  correlationId: string,
  request: HttpRequest,
): HttpResponseInit {
  const headers = new Headers(response.headers);
  addCorsHeaders(headers, request.headers.get('origin'));
  headers.set('x-correlation-id', correlationId);
  if (!headers.has('cache-control')) headers.set('cache-control', 'no-store');
  headers.set('x-content-type-options', 'nosniff');
  return { ...response, headers: Object.fromEntries(headers.entries()) };
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A browser page from another site must not change anything, even when the platform (Easy Auth)
 * would authenticate it by cookie: a cross-site "simple" POST needs no preflight. Browsers say
 * where a request comes from (`Sec-Fetch-Site`, `Origin`); servers and Power Automate send
 * neither, and allowed portal origins (`ZSA_CORS_ORIGINS`) pass.
 */
function refuseCrossSiteWrites(request: HttpRequest): void {
  if (SAFE_METHODS.has(request.method.toUpperCase())) return;
  const origin = request.headers.get('origin');
  const allowed = settings().ZSA_CORS_ORIGINS;
  if (origin !== null && origin !== 'null' && allowed.includes(origin)) return;
  const site = request.headers.get('sec-fetch-site');
  const crossSite = site === 'cross-site' || site === 'same-site';
  // `Origin: null` is an opaque origin (a sandboxed frame, a data: page, a cross-site redirect):
  // never this service's own page, whose writes carry its real origin.
  const foreignOrigin = origin !== null && origin !== publicOrigin(settings().ZSA_PUBLIC_BASE_URL);
  if (crossSite || foreignOrigin) {
    throw new HttpError(403, 'CROSS_SITE_REQUEST', 'Requests from other sites may not change anything here.');
  }
}

/** The origin of `ZSA_PUBLIC_BASE_URL`: this service's own pages, the only same-site origin. */
export function publicOrigin(base: string | undefined): string | undefined {
  return base !== undefined && URL.canParse(base) ? new URL(base).origin : undefined;
}

/** Reads a JSON body (≤ 64 KiB, JSON media type) and validates it with `schema`. */
export async function readJson<S extends z.ZodType>(
  request: HttpRequest,
  schema: S,
  what = 'request body',
): Promise<z.output<S>> {
  const text = await readText(request);
  // A body must say it is JSON: a form or text body is what a cross-site page can send unannounced.
  // The media type itself, parameters aside: `text/plain; x=+json` is still text a page may send.
  if (text.length > 0 && !isJsonMediaType(request.headers.get('content-type'))) {
    throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json.');
  }
  let value: unknown;
  try {
    value = text.length === 0 ? {} : JSON.parse(text);
  } catch {
    throw new HttpError(400, 'MALFORMED_JSON', 'The request body is not valid JSON.');
  }
  return parseOrThrow(schema, value, what);
}

/** A Content-Type header's media type without its parameters, lower-cased (`''` when absent). */
export function mediaTypeOf(header: string | null): string {
  return (header ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** `application/json` or `application/<subtype>+json`, whatever the parameters. */
export function isJsonMediaType(header: string | null): boolean {
  return /^application\/([a-z0-9!#$&^_.+-]+\+)?json$/.test(mediaTypeOf(header));
}

/** Reads the raw body as text, refusing more than MAX_BODY_BYTES. */
export async function readText(request: HttpRequest, limit = MAX_BODY_BYTES): Promise<string> {
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > limit) throw tooLarge(limit);
  if (!request.body) return '';
  // Count as it arrives: a chunked body without a length must not be buffered whole first.
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request.body as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > limit) {
      await request.body.cancel().catch(() => undefined);
      throw tooLarge(limit);
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, 'BODY_TOO_LARGE', `The request body is larger than ${limit / 1024} KiB.`);
}

/** Validates the query string (first value of each parameter) with `schema`; unknown parameters are refused. */
export function readQuery<S extends z.ZodType>(request: HttpRequest, schema: S): z.output<S> {
  const query: Record<string, string> = {};
  for (const [k, v] of request.query.entries()) if (!(k in query)) query[k] = v;
  return parseOrThrow(schema, query, 'query');
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, jsonBody: body, headers: { 'content-type': 'application/json', ...headers } };
}

export function noContent(): HttpResponseInit {
  return { status: 204 };
}

/**
 * The caller's address as the platform front end reported it: the right-most `x-forwarded-for`
 * entry (the one the trusted proxy appended), never a value the client chose.
 */
export function clientIp(request: HttpRequest): string | undefined {
  const forwarded = request.headers.get('x-forwarded-for');
  if (!forwarded) return undefined;
  const last = forwarded.split(',').pop()?.trim();
  return last && last.length <= 64 ? last : undefined;
}
