/**
 * Serves the app's HTTP triggers the way the Functions host does: match `/<routePrefix>/<route>`
 * (ASP.NET templates, see route-template.ts), turn the request into the `RpcHttpData` the worker
 * would send, invoke the function through the real programming model, and write its `$return`.
 *
 * Deliberate choices (the real host's behaviour where it is known: the worker hands the library
 * `{http: {method, url (absolute), headers, query, params, body}}` and reads back `$return`; routing
 * by template and `methods` is the host's job, not the library's):
 * - Query values of a repeated key are joined with ',' (`?x=1&x=2` → `query.get('x') === '1,2'`),
 *   because that is what Azure hands the library (azure-functions-nodejs-library#168); the
 *   absolute `request.url` keeps the full query string.
 * - An optional route parameter that is absent is left out of `params` (not set to '').
 * - A `$return` http binding whose value is undefined/null answers 204 No Content; an HTTP trigger
 *   whose `$return` is not an http binding answers 200 with an empty body.
 * - 404, 405, 413 and 500 are `application/problem+json`; a 500 never carries the error text, only
 *   a correlation id that is logged with the full error. Every response has `x-correlation-id`.
 * - `HEAD` is accepted wherever `GET` is; the function sees method HEAD and the body is not sent.
 */
import { randomUUID } from 'node:crypto';
import {
  validateHeaderName,
  validateHeaderValue,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { inspect } from 'node:util';
import { z } from 'zod';
import type {
  BindingInfo,
  FunctionRegistry,
  RegisteredFunction,
  RpcHttpData,
  RpcTypedData,
} from '../core/functions-core';
import {
  compareRoutePrecedence,
  compileRouteTemplate,
  parseRequestPath,
  stripPrefix,
  type CompiledRoute,
  type RouteValues,
} from './route-template';

export const DEFAULT_ROUTE_PREFIX = 'api';
/** The Functions host's default request body limit. */
export const DEFAULT_MAX_REQUEST_BODY_BYTES = 100 * 1024 * 1024;

/** Supplies a non-trigger input binding (e.g. `durableClient`); undefined leaves it unset. */
export type ExtraInputs = (
  fn: RegisteredFunction,
  bindingName: string,
  binding: BindingInfo,
) => RpcTypedData | undefined;

export interface HttpTriggerRouterOptions {
  /** A started registry: routes are compiled once, from what is registered now. */
  registry: Pick<FunctionRegistry, 'byTrigger' | 'invoke'>;
  /** host.json `extensions.http.routePrefix`; '' serves routes at the root. */
  routePrefix?: string;
  maxRequestBodyBytes?: number;
  extraInputs?: ExtraInputs;
  /** One formatted line per event (errors carry the correlation id and the full error). */
  log: (line: string) => void;
}

export interface HttpRouteInfo {
  functionName: string;
  /** Full path template, prefix included, e.g. `/api/requests/{id}`. */
  route: string;
  methods: string[];
}

export interface HttpTriggerRouter {
  /**
   * Answers requests under the route prefix and returns true; returns false (without touching the
   * response) for any other path. Never rejects.
   */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  routes(): HttpRouteInfo[];
}

interface Route {
  readonly fn: RegisteredFunction;
  readonly compiled: CompiledRoute;
  readonly methods: ReadonlySet<string>;
  readonly info: HttpRouteInfo;
  /** Names and metadata of the `in` bindings other than the trigger. */
  readonly extraBindings: readonly (readonly [string, BindingInfo])[];
  readonly returnsHttp: boolean;
}

const HttpTriggerBinding = z.object({
  route: z.string().nullish(),
  methods: z.array(z.string()).nullish(),
});

const DEFAULT_METHODS = ['GET', 'POST'] as const;
const RETURN_BINDING = '$return';
const EMPTY = Buffer.alloc(0);
/** Framing headers are ours to compute: the body is written in one piece with its length. */
const FRAMING_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive']);
const NO_BODY_STATUSES = new Set([204, 205, 304]);
const PROBLEM_TYPE = 'application/problem+json';

/** Builds the router from the registry's HTTP triggers; throws if a route template is invalid. */
export function createHttpTriggerRouter(options: HttpTriggerRouterOptions): HttpTriggerRouter {
  const prefixText = trimSlashes(options.routePrefix ?? DEFAULT_ROUTE_PREFIX);
  const prefix = prefixText === '' ? [] : prefixText.split('/').map((s) => s.toLowerCase());
  const maxBody = options.maxRequestBodyBytes ?? DEFAULT_MAX_REQUEST_BODY_BYTES;
  const routes = options.registry
    .byTrigger('httpTrigger')
    .map((fn) => toRoute(fn, prefixText))
    .sort(
      (a, b) =>
        compareRoutePrecedence(a.compiled, b.compiled) ||
        (a.fn.metadata.name < b.fn.metadata.name ? -1 : a.fn.metadata.name > b.fn.metadata.name ? 1 : 0),
    );
  const ctx: Context = { ...options, routes, maxBody };

  return {
    async handle(req, res) {
      const target = requestTarget(req.url);
      if (target === undefined) return false;
      const path = stripPrefix(parseRequestPath(target.path), prefix);
      if (!path) return false;
      const correlationId = randomUUID();
      try {
        await dispatch(ctx, req, res, target, path, correlationId);
      } catch (error) {
        if (error instanceof ClientGoneError) {
          options.log(`http: ${req.method ?? '?'} ${target.path}: ${error.message}`);
          res.destroy();
        } else {
          fail(ctx, req, res, correlationId, undefined, error);
        }
      }
      return true;
    },
    routes: () => routes.map((r) => ({ ...r.info, methods: [...r.info.methods] })),
  };
}

interface Context extends HttpTriggerRouterOptions {
  readonly routes: readonly Route[];
  readonly maxBody: number;
}

interface RequestTarget {
  path: string;
  /** Path and query as sent, for the absolute URL. */
  pathAndQuery: string;
  query: string | undefined;
}

function requestTarget(url: string | undefined): RequestTarget | undefined {
  let pathAndQuery = url ?? '/';
  if (!pathAndQuery.startsWith('/')) {
    // Absolute-form targets (proxies) are rare; `*` (OPTIONS *) is never a function route.
    if (!URL.canParse(pathAndQuery)) return undefined;
    const parsed = new URL(pathAndQuery);
    pathAndQuery = parsed.pathname + parsed.search;
  }
  const q = pathAndQuery.indexOf('?');
  return q === -1
    ? { path: pathAndQuery, pathAndQuery, query: undefined }
    : { path: pathAndQuery.slice(0, q), pathAndQuery, query: pathAndQuery.slice(q + 1) };
}

function toRoute(fn: RegisteredFunction, prefixText: string): Route {
  const parsed = HttpTriggerBinding.safeParse(fn.trigger);
  if (!parsed.success) {
    throw new Error(`HTTP trigger of function "${fn.metadata.name}" has invalid route or methods.`, {
      cause: parsed.error,
    });
  }
  // The Functions host uses the function name when the trigger has no route.
  const template = parsed.data.route ?? fn.metadata.name;
  let compiled: CompiledRoute;
  try {
    compiled = compileRouteTemplate(template);
  } catch (cause) {
    throw new Error(`Function "${fn.metadata.name}" has a route the local host cannot serve.`, { cause });
  }
  const listed =
    parsed.data.methods && parsed.data.methods.length > 0 ? parsed.data.methods : DEFAULT_METHODS;
  const methods = new Set(listed.map((m) => m.toUpperCase()));
  const fullRoute = '/' + [prefixText, compiled.template].filter((s) => s !== '').join('/');
  return {
    fn,
    compiled,
    methods,
    info: { functionName: fn.metadata.name, route: fullRoute, methods: [...methods].sort() },
    extraBindings: Object.entries(fn.metadata.bindings).filter(
      ([name, binding]) => binding.direction === 'in' && name !== fn.triggerName,
    ),
    returnsHttp: fn.metadata.bindings[RETURN_BINDING]?.type.toLowerCase() === 'http',
  };
}

function accepts(route: Route, method: string): boolean {
  return route.methods.has(method) || (method === 'HEAD' && route.methods.has('GET'));
}

async function dispatch(
  ctx: Context,
  req: IncomingMessage,
  res: ServerResponse,
  target: RequestTarget,
  path: ReturnType<typeof parseRequestPath>,
  correlationId: string,
): Promise<void> {
  const method = (req.method ?? 'GET').toUpperCase();
  let chosen: { route: Route; values: RouteValues } | undefined;
  const allowed = new Set<string>();
  for (const route of ctx.routes) {
    const values = route.compiled.match(path);
    if (!values) continue;
    if (accepts(route, method)) {
      chosen = { route, values };
      break;
    }
    // A preflight-only route (OPTIONS on a catch-all, for CORS) says nothing about other methods:
    // without this every unknown path would answer 405 instead of 404.
    if (route.methods.size === 1 && route.methods.has('OPTIONS')) continue;
    for (const m of route.methods) allowed.add(m);
    if (route.methods.has('GET')) allowed.add('HEAD');
  }
  if (!chosen) {
    if (allowed.size === 0) {
      sendProblem(req, res, correlationId, 404, 'Not Found', `No function serves ${method} ${target.path}.`);
    } else {
      const allow = [...allowed].sort().join(', ');
      sendProblem(
        req,
        res,
        correlationId,
        405,
        'Method Not Allowed',
        `${method} is not allowed here; use ${allow}.`,
        {
          allow,
        },
      );
    }
    return;
  }

  const host = req.headers.host ?? 'localhost';
  const url = `http://${host}${target.pathAndQuery}`;
  if (!URL.canParse(url)) {
    sendProblem(req, res, correlationId, 400, 'Bad Request', 'The Host header is not valid.');
    return;
  }
  const declared = declaredLength(req);
  if (declared !== undefined && declared > ctx.maxBody) {
    sendTooLarge(req, res, correlationId, ctx.maxBody);
    return;
  }
  const body = hasBody(req) ? await readBody(req, ctx.maxBody) : EMPTY;
  if (body === TOO_LARGE) {
    sendTooLarge(req, res, correlationId, ctx.maxBody);
    return;
  }

  const { route, values } = chosen;
  const http: RpcHttpData = {
    method,
    url,
    headers: requestHeaders(req),
    query: queryRecord(target.query),
    params: values,
    identities: [],
  };
  if (body.length > 0) http.body = { bytes: body };
  const inputData: { name: string; data: RpcTypedData }[] = [{ name: route.fn.triggerName, data: { http } }];
  if (ctx.extraInputs) {
    for (const [name, binding] of route.extraBindings) {
      const data = ctx.extraInputs(route.fn, name, binding);
      if (data !== undefined) inputData.push({ name, data });
    }
  }

  let response: OutgoingResponse;
  try {
    const { returnValue } = await ctx.registry.invoke(route.fn, inputData);
    response = route.returnsHttp ? toOutgoing(returnValue) : { status: 200, headers: {}, body: EMPTY };
  } catch (error) {
    fail(ctx, req, res, correlationId, route.fn.metadata.name, error);
    return;
  }
  if (!('x-correlation-id' in response.headers)) response.headers['x-correlation-id'] = correlationId;
  writeResponse(req, res, response);
}

// ---------------------------------------------------------------------------------------------
// Request

function declaredLength(req: IncomingMessage): number | undefined {
  const value = req.headers['content-length'];
  // Node has already rejected malformed or conflicting Content-Length headers.
  return value === undefined ? undefined : Number(value);
}

function hasBody(req: IncomingMessage): boolean {
  // HTTP/1.1: without either header the message has no body.
  return req.headers['transfer-encoding'] !== undefined || (declaredLength(req) ?? 0) > 0;
}

const TOO_LARGE = Symbol('too large');

/** The client went away while sending its body: nobody is left to answer. */
class ClientGoneError extends Error {
  constructor(options?: ErrorOptions) {
    super('The client closed the connection before sending the whole body.', options);
    this.name = 'ClientGoneError';
  }
}

/** Reads the body, counting as it streams; stops keeping bytes as soon as the limit is passed. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | typeof TOO_LARGE> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        // Keep discarding what is still in flight so the client can read our 413.
        req.resume();
        resolve(TOO_LARGE);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(new ClientGoneError({ cause: error }));
    };
    const onClose = (): void => {
      cleanup();
      reject(new ClientGoneError());
    };
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

/** Lower-case names (as Node gives them); repeated headers joined with ', '. */
function requestHeaders(req: IncomingMessage): Record<string, string> {
  const entries: [string, string][] = [];
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    entries.push([name, Array.isArray(value) ? value.join(', ') : value]);
  }
  // fromEntries defines own properties, so a header named __proto__ stays a plain key.
  return Object.fromEntries(entries);
}

function queryRecord(query: string | undefined): Record<string, string> {
  if (query === undefined || query === '') return {};
  const joined = new Map<string, string>();
  for (const [key, value] of new URLSearchParams(query)) {
    const previous = joined.get(key);
    joined.set(key, previous === undefined ? value : `${previous},${value}`);
  }
  return Object.fromEntries(joined);
}

// ---------------------------------------------------------------------------------------------
// Response

interface OutgoingResponse {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

const RpcNullableString = z.object({ value: z.string() }).nullish();
const RpcNullableBool = z.object({ value: z.boolean() }).nullish();
const RpcHttpCookie = z.object({
  name: z.string(),
  value: z.string(),
  domain: RpcNullableString,
  path: RpcNullableString,
  expires: z.object({ value: z.object({ seconds: z.number() }) }).nullish(),
  secure: RpcNullableBool,
  httpOnly: RpcNullableBool,
  sameSite: z.enum(['none', 'lax', 'strict', 'explicitNone']).nullish(),
  maxAge: z.object({ value: z.number() }).nullish(),
});
type RpcHttpCookie = z.infer<typeof RpcHttpCookie>;
const RpcHttpCookies = z.array(RpcHttpCookie);

function toOutgoing(returnValue: RpcTypedData | null | undefined): OutgoingResponse {
  const http = returnValue?.http;
  // The handler returned nothing. Azure's answer was never checked on a real host; 204 says so plainly.
  if (!http) return { status: 204, headers: {}, body: EMPTY };
  const status = Number(http.statusCode ?? '200');
  if (!Number.isInteger(status) || status < 100 || status > 599) {
    throw new Error(`The function returned an invalid HTTP status "${String(http.statusCode)}".`);
  }
  const headers: Record<string, string | string[]> = {};
  const setCookies: string[] = [];
  for (const [name, value] of Object.entries(http.headers ?? {})) {
    const lower = name.toLowerCase();
    if (FRAMING_HEADERS.has(lower)) continue;
    validateHeaderName(lower);
    validateHeaderValue(lower, value);
    if (lower === 'set-cookie') setCookies.push(value);
    else headers[lower] = value;
  }
  const cookies = RpcHttpCookies.safeParse(http.cookies ?? []);
  if (!cookies.success) throw new Error('The function returned malformed cookies.', { cause: cookies.error });
  for (const cookie of cookies.data) {
    const line = formatSetCookie(cookie);
    validateHeaderValue('set-cookie', line);
    setCookies.push(line);
  }
  if (setCookies.length > 0) headers['set-cookie'] = setCookies;
  return { status, headers, body: NO_BODY_STATUSES.has(status) ? EMPTY : bodyBytes(http.body) };
}

function bodyBytes(data: RpcTypedData | null | undefined): Buffer {
  if (!data) return EMPTY;
  if (data.bytes) return Buffer.from(data.bytes.buffer, data.bytes.byteOffset, data.bytes.byteLength);
  if (typeof data.string === 'string') return Buffer.from(data.string);
  if (typeof data.json === 'string') return Buffer.from(data.json);
  if (typeof data.int === 'number') return Buffer.from(String(data.int));
  if (typeof data.double === 'number') return Buffer.from(String(data.double));
  return EMPTY;
}

const NOT_ESCAPED_BY_ENCODE_URI_COMPONENT = /[!'()*]/g;

/**
 * Set-Cookie as ASP.NET Core writes it for the host (`Response.Cookies.Append`): the value escaped
 * like Uri.EscapeDataString, attributes in its order, and `path=/` unless the function set one.
 */
export function formatSetCookie(cookie: RpcHttpCookie): string {
  const value = encodeURIComponent(cookie.value).replace(
    NOT_ESCAPED_BY_ENCODE_URI_COMPONENT,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  const parts = [`${cookie.name}=${value}`];
  if (cookie.expires) parts.push(`expires=${new Date(cookie.expires.value.seconds * 1000).toUTCString()}`);
  if (cookie.maxAge) parts.push(`max-age=${Math.trunc(cookie.maxAge.value)}`);
  if (cookie.domain) parts.push(`domain=${cookie.domain.value}`);
  parts.push(`path=${cookie.path?.value ?? '/'}`);
  if (cookie.secure?.value) parts.push('secure');
  // 'none' in the RPC enum means "not set"; 'explicitNone' is SameSite=None.
  if (cookie.sameSite === 'strict' || cookie.sameSite === 'lax') parts.push(`samesite=${cookie.sameSite}`);
  if (cookie.sameSite === 'explicitNone') parts.push('samesite=none');
  if (cookie.httpOnly?.value) parts.push('httponly');
  return parts.join('; ');
}

function writeResponse(req: IncomingMessage, res: ServerResponse, response: OutgoingResponse): void {
  const headers: Record<string, string | string[] | number> = { ...response.headers };
  const noBody = NO_BODY_STATUSES.has(response.status) || response.status < 200;
  if (!noBody) headers['content-length'] = response.body.length;
  res.writeHead(response.status, headers);
  res.end(noBody || req.method === 'HEAD' ? undefined : response.body);
}

function sendProblem(
  req: IncomingMessage,
  res: ServerResponse,
  correlationId: string,
  status: number,
  title: string,
  detail: string,
  extraHeaders: Record<string, string> = {},
  extraFields: Record<string, string> = {},
): void {
  // The host's own answers (what the Functions host itself would send), so not the app's problem
  // helper: that one belongs to the app and may carry app-specific codes.
  const body = Buffer.from(JSON.stringify({ type: 'about:blank', title, status, detail, ...extraFields }));
  writeResponse(req, res, {
    status,
    headers: { 'content-type': PROBLEM_TYPE, 'x-correlation-id': correlationId, ...extraHeaders },
    body,
  });
}

function sendTooLarge(req: IncomingMessage, res: ServerResponse, correlationId: string, limit: number): void {
  sendProblem(req, res, correlationId, 413, 'Content Too Large', `The request body exceeds ${limit} bytes.`);
}

/** Logs the whole error under the correlation id; the caller only ever sees the id. */
function fail(
  ctx: Context,
  req: IncomingMessage,
  res: ServerResponse,
  correlationId: string,
  functionName: string | undefined,
  error: unknown,
): void {
  const where = functionName === undefined ? 'the HTTP router' : `function "${functionName}"`;
  ctx.log(
    `http error: ${req.method ?? '?'} ${req.url ?? '?'} failed in ${where} (correlation id ${correlationId}): ${inspect(error)}`,
  );
  if (res.headersSent) {
    // Too late for a status: cut the connection so the client does not take a partial answer as whole.
    res.destroy();
    return;
  }
  sendProblem(
    req,
    res,
    correlationId,
    500,
    'Internal Server Error',
    `An unexpected error occurred. Correlation id: ${correlationId}`,
    {},
    { correlationId },
  );
}

function trimSlashes(text: string): string {
  let t = text;
  while (t.startsWith('/')) t = t.slice(1);
  while (t.endsWith('/')) t = t.slice(0, -1);
  return t;
}
