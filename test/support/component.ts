/**
 * Component-test environment: real Azurite (the suite's shared one, see global-setup.ts, with tables
 * of this file's own) and the real development issuer on a loopback HTTP server, with the app's
 * settings pointed at them. Handlers are then called directly
 * with `new HttpRequest(...)` / `new InvocationContext(...)`, the library's supported test seams,
 * so a test exercises parse → authorize → domain → storage without the local host's HTTP layer.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import * as df from 'durable-functions';
import { inject } from 'vitest';
import {
  createDevIssuer,
  DEV_TENANT_ID,
  startAzurite,
  type DevIssuer,
  type RunningAzurite,
} from '@zsa/local-host';
import { clientBindingData } from '@zsa/local-host/durable';
import { resetSettingsCache } from '#shared/config';

export interface ComponentEnv {
  azurite: RunningAzurite;
  issuer: DevIssuer;
  token(upn: string, roles?: string[]): Promise<string>;
  close(): Promise<void>;
}

/**
 * The suite's shared Azurite; its `close()` leaves it running for the other files. Outside the
 * suite's global setup (a single file run some other way), a private one.
 */
export async function sharedAzurite(): Promise<RunningAzurite> {
  const connectionString = inject('sharedAzurite');
  if (!connectionString) return startAzurite({ log: () => undefined });
  const port = (service: string) =>
    Number(new RegExp(`${service}Endpoint=http://127\\.0\\.0\\.1:(\\d+)/`).exec(connectionString)?.[1]);
  return {
    connectionString,
    ports: { blob: port('Blob'), queue: port('Queue'), table: port('Table') },
    close: () => Promise.resolve(),
  };
}

/** A table (and container) prefix no other file or run uses, so files can share one Azurite. */
export function uniquePrefix(): string {
  return `t${randomBytes(6).toString('hex')}`;
}

export async function startComponentEnv(extraSettings: Record<string, string> = {}): Promise<ComponentEnv> {
  const azurite = await sharedAzurite();
  const holder: { issuer?: DevIssuer } = {};
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (holder.issuer?.handle(req, res, Buffer.concat(chunks)) ?? Promise.resolve(false)).then(
        (handled) => {
          if (!handled) res.writeHead(404).end();
        },
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  const origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const dev = await createDevIssuer({ issuer: `${origin}/dev`, audience: 'api://zsa-test' });
  holder.issuer = dev;
  Object.assign(process.env, {
    AzureWebJobsStorage: azurite.connectionString,
    ZSA_AUTH_ISSUER: `${origin}/dev`,
    ZSA_AUTH_AUDIENCE: 'api://zsa-test',
    // Members and system accounts resolve through the issuer's directory, to the ids its tokens carry.
    ZSA_TENANT_ID: DEV_TENANT_ID,
    ZSA_DIRECTORY_URL: dev.directoryUrl,
    ZSA_TABLE_PREFIX: uniquePrefix(),
    ZSA_MIN_DURATION_SECONDS: '1',
    ZSA_EXECUTOR_ALLOWED_HOSTS: '127.0.0.1,localhost',
    ZSA_WEBHOOK_SIGNING_KEY: 'component-test-signing-key',
    ZSA_AUDIT_HMAC_KEY: 'component-test-audit-key',
    ZSA_PUBLIC_BASE_URL: 'http://127.0.0.1:7071',
    ...extraSettings,
  });
  resetSettingsCache();
  return {
    azurite,
    issuer: dev,
    token: (upn, roles = []) => dev.mint({ upn, roles }),
    async close() {
      await new Promise<void>((r) => server.close(() => r()));
      await azurite.close();
    },
  };
}

export interface CallOptions {
  method?: string;
  path: string;
  token?: string;
  body?: unknown;
  params?: Record<string, string>;
  headers?: Record<string, string>;
  /**
   * Gives the invocation a durable client binding, as the runtime does for handlers that declare
   * one (execute), pointing nowhere: for calls whose story never reaches a workflow.
   */
  durableClient?: boolean;
}

function invocationContext(durableClient: boolean): InvocationContext {
  if (!durableClient) return new InvocationContext({ functionName: 'test' });
  const binding = df.input.durableClient();
  const context = new InvocationContext({ functionName: 'test', options: { extraInputs: [binding] } });
  context.extraInputs.set(binding, clientBindingData('http://127.0.0.1:1', 'unused'));
  return context;
}

/** Calls a handler as the Functions runtime would, and decodes its JSON answer. */
export async function call(
  handler: (req: HttpRequest, ctx: InvocationContext) => Promise<HttpResponseInit>,
  opts: CallOptions,
): Promise<{ status: number; headers: Headers; body: unknown }> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: { string: string } | undefined;
  if (opts.body !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = { string: typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body) };
  }
  const request = new HttpRequest({
    method: opts.method ?? 'GET',
    url: `http://127.0.0.1:7071${opts.path}`,
    headers,
    params: opts.params ?? {},
    ...(body ? { body } : {}),
  });
  const res = await handler(request, invocationContext(opts.durableClient ?? false));
  const h = new Headers(res.headers);
  let decoded: unknown = res.jsonBody;
  if (decoded === undefined && typeof res.body === 'string') {
    decoded =
      res.body.length > 0 && (h.get('content-type') ?? '').includes('json') ? JSON.parse(res.body) : res.body;
  }
  return { status: res.status ?? 200, headers: h, body: decoded };
}
