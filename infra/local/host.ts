/**
 * The local host: runs a compiled function app with Node alone — embedded Azurite, the Durable
 * engine, HTTP triggers, a Service Bus endpoint, the development token issuer and a mailbox — the
 * parts Core Tools, the Functions host and Azure provide elsewhere. Development, demos and CI only:
 * it listens on loopback, and its issuer lets anyone mint a token with any role.
 *
 * It knows nothing of the app it runs. An app that needs settings pointing at the local parts (its
 * token issuer, its SMTP server, development keys) passes `configure`, which sees where each part
 * listens and answers the settings and banner lines to add.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startAzurite, type RunningAzurite } from './azurite/azurite';
import {
  entryPoints,
  readHostJson,
  readSettings,
  requestBodySizeLimit,
  resolveSetting,
  StartupError,
} from './app-loader';
import { FunctionRegistry, installCoreModule, type LogLevel } from './core/functions-core';
import { createDevIssuer, DEV_TENANT_ID, devUserId } from './dev-issuer/dev-issuer';
import { createManagedIdentityEndpoint, type ManagedIdentityEndpoint } from './dev-issuer/managed-identity';
import { clientBindingData, createDurableApi } from './durable/client-api';
import { DurableEngine } from './durable/engine';
import { DurableStore } from './durable/store';
import { createHttpTriggerRouter, DEFAULT_MAX_REQUEST_BODY_BYTES } from './http/router';
import { startMailbox } from './mailbox/mailbox';
import { createMcpEndpoint, MCP_PATH } from './mcp/server';
import { startServiceBus, type EntityConfig } from './servicebus/server';
import { startServiceBusTriggers } from './servicebus/triggers';
import { createTeamsChannel, type TeamsChannel } from './teams/channel';
import { createTelemetryReceiver, TELEMETRY_PATH } from './telemetry';
import { startTimerTriggers } from './timers';

export interface HostOptions {
  /** The function app's folder (host.json, package.json). */
  root: string;
  port: number;
  /** Data folder (default `<root>/<defaultDataDirName>`); ignored with inMemory. */
  dataDir?: string;
  inMemory?: boolean;
  /** Overrides package.json `main` (used by the test suite to load fixture apps). */
  main?: string;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  /** The app's name in the banner (default "Local host"). */
  name?: string;
  /** Data folder under `root` when `dataDir` is not given (default `.local-host`). */
  defaultDataDirName?: string;
  /** Audience of the development issuer's tokens (default `api://local-host`). */
  devAudience?: string;
  /** The body the banner shows for `POST /dev/token` (default a user with no roles). */
  devTokenExample?: { upn: string; roles: string[] };
  /**
   * App-specific settings derived from where the local parts listen, applied over the app's own
   * settings (local.settings.json and the environment, which `settings` holds), and banner lines.
   */
  configure?: (parts: LocalParts, settings: Readonly<Record<string, string>>) => AppConfiguration;
}

/** Where each local part listens, for an app's `configure`. */
export interface LocalParts {
  /** `http://127.0.0.1:<port>`: the API, the host's own pages and the Durable client API. */
  readonly origin: string;
  /** The data folder, or undefined with --in-memory. */
  readonly dataDir: string | undefined;
  /**
   * The development issuer, its tenant (every token's `tid`) and its Graph-shaped directory, which
   * resolves a UPN to the object id the issuer's tokens carry for it.
   */
  readonly issuer: {
    readonly url: string;
    readonly audience: string;
    readonly tenantId: string;
    readonly directoryUrl: string;
  };
  readonly smtpUrl: string;
  /** Connection string of the local Service Bus endpoint. */
  readonly serviceBus: string;
  /**
   * The OTLP/HTTP (JSON) receiver's base, `<origin>/dev/telemetry`: an OpenTelemetry exporter with
   * this endpoint posts to its `/v1/traces`, `/v1/metrics` and `/v1/logs`; the page is the base itself.
   */
  readonly telemetryUrl: string;
}

export interface AppConfiguration {
  readonly settings?: Readonly<Record<string, string>>;
  readonly banner?: readonly string[];
  /** Banner lines shown before every other URL: what a newcomer opens first (a web page, say). */
  readonly bannerFirst?: readonly string[];
  /**
   * Service Bus queues and topics (with their subscriptions) to create before the app starts.
   * Queues also appear on first use; topics only exist if declared (a send to an unknown name would
   * otherwise create a queue of that name).
   */
  readonly serviceBusEntities?: readonly EntityConfig[];
  /**
   * Serve an App Service-shaped managed identity endpoint (`IDENTITY_ENDPOINT`, `IDENTITY_HEADER`)
   * minting development-issuer tokens for any resource, so `ManagedIdentityCredential` works here.
   */
  readonly managedIdentity?: boolean;
  /**
   * A Teams bot in the app: the development channel at `<origin>/dev/teams` talks to it, with
   * activities signed by the development issuer (its OpenID metadata at the usual discovery path)
   * and `<origin>/dev/teams/` as their serviceUrl.
   */
  readonly teamsBot?: { readonly appId: string; readonly messagingPath: string; readonly name?: string };
}

export interface RunningHost {
  url: string;
  port: number;
  settings: Record<string, string>;
  registry: FunctionRegistry;
  engine: DurableEngine;
  banner: string;
  close(): Promise<void>;
}

const MAX_HOST_BODY = 1024 * 1024;
const DEFAULT_DEV_AUDIENCE = 'api://local-host';

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolveListen, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      reject(
        e.code === 'EADDRINUSE' ? new StartupError(`Port ${port} is already in use; pass --port <n>.`) : e,
      );
    });
    server.listen(port, '127.0.0.1', () => {
      const a = server.address();
      resolveListen(typeof a === 'object' && a ? a.port : port);
    });
  });
}

function misdirected(res: ServerResponse): void {
  res.writeHead(421, { 'content-type': 'application/problem+json', connection: 'close' });
  res.end(
    JSON.stringify({
      type: 'about:blank',
      title: 'Misdirected Request',
      status: 421,
      detail:
        'This development host only answers requests addressed to 127.0.0.1, localhost or [::1] with its own port.',
    }),
  );
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit) return undefined;
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

export async function startHost(options: HostOptions): Promise<RunningHost> {
  const root = resolve(options.root);
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const hostJson = readHostJson(root);
  const settings = readSettings(root, options.env ?? process.env);
  const files = entryPoints(root, options.main);
  const dataDir = options.inMemory
    ? undefined
    : resolve(options.dataDir ?? join(root, options.defaultDataDirName ?? '.local-host'));
  if (dataDir) {
    mkdirSync(dataDir, { recursive: true });
    claimDataDir(dataDir);
  }

  // Bind first so a taken port fails fast, before anything else starts.
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => {
    res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' });
    res.end('The local host is starting.');
  };
  let ownHosts: ReadonlySet<string> = new Set();
  const server = createServer((req, res) => {
    // DNS rebinding: a page on any name that resolves to 127.0.0.1 reaches this host, and the
    // browser lets it read the answers. Such requests carry the attacker's name in Host, so only
    // requests addressed to this host itself are served — before a token is minted or the durable
    // client API (which terminates and raises events without a token) answers.
    if (!ownHosts.has((req.headers.host ?? '').toLowerCase())) {
      misdirected(res);
      return;
    }
    handler(req, res);
  });
  server.keepAliveTimeout = 5000;
  const port = await listen(server, options.port);
  ownHosts = new Set(
    ['127.0.0.1', 'localhost', '[::1]'].flatMap((name) =>
      port === 80 ? [name, `${name}:${port}`] : [`${name}:${port}`],
    ),
  );
  const origin = `http://127.0.0.1:${port}`;

  const closers: (() => Promise<void>)[] = [];
  const close = async (): Promise<void> => {
    // Stop taking requests first, so nothing is accepted by a part that is already shutting down.
    const serverClosed = new Promise<void>((r) => server.close(() => r()));
    server.closeIdleConnections();
    for (const c of closers.reverse()) {
      try {
        await c();
      } catch (e) {
        log(`shutdown: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    server.closeAllConnections();
    await serverClosed;
  };

  try {
    // Storage: embedded Azurite unless the settings point somewhere real.
    let storage = settings.AzureWebJobsStorage ?? '';
    let azurite: RunningAzurite | undefined;
    if (storage === '' || /UseDevelopmentStorage=true/i.test(storage)) {
      azurite = await startAzurite({ ...(dataDir ? { location: join(dataDir, 'azurite') } : {}), log });
      const a = azurite;
      closers.push(() => a.close());
      storage = azurite.connectionString;
    }

    const devAudience = options.devAudience ?? DEFAULT_DEV_AUDIENCE;
    const issuer = await createDevIssuer({
      issuer: `${origin}/dev`,
      audience: devAudience,
      ...(dataDir ? { keyFile: join(dataDir, 'dev-issuer-key.json') } : {}),
    });
    const mailbox = await startMailbox({
      ...(dataDir ? { dataFile: join(dataDir, 'mailbox.jsonl') } : {}),
      log,
    });
    closers.push(() => mailbox.close());
    const bus = await startServiceBus({
      entities: [],
      // Queues appear as the app first uses them: triggers, notifications, and executor queues admins name at run time.
      autoCreateQueues: true,
      ...dataFile(dataDir, 'servicebus.journal'),
      log,
    });
    closers.push(() => bus.close());
    const telemetry = createTelemetryReceiver();

    const app =
      options.configure?.(
        {
          origin,
          dataDir,
          issuer: {
            url: issuer.issuer,
            audience: issuer.audience,
            tenantId: DEV_TENANT_ID,
            directoryUrl: issuer.directoryUrl,
          },
          smtpUrl: mailbox.smtpUrl,
          serviceBus: bus.connectionString,
          telemetryUrl: `${origin}${TELEMETRY_PATH}`,
        },
        settings,
      ) ?? {};
    for (const e of app.serviceBusEntities ?? []) {
      if ('queue' in e) bus.ensureQueue(e.queue);
      else bus.ensureTopic(e.topic, e.subscriptions);
    }
    const identity: ManagedIdentityEndpoint | undefined = app.managedIdentity
      ? createManagedIdentityEndpoint(origin, issuer)
      : undefined;
    const teams: TeamsChannel | undefined = app.teamsBot
      ? createTeamsChannel({
          origin,
          issuer,
          tenantId: DEV_TENANT_ID,
          userId: devUserId,
          bot: {
            appId: app.teamsBot.appId,
            endpoint: `${origin}${app.teamsBot.messagingPath}`,
            ...(app.teamsBot.name === undefined ? {} : { name: app.teamsBot.name }),
          },
          ...dataFile(dataDir, 'teams.json'),
          log,
        })
      : undefined;
    // What the app reads: the platform's settings, the app's own, then what its launcher derives.
    const appSettings: Record<string, string> = {
      FUNCTIONS_WORKER_RUNTIME: 'node',
      ...settings,
      AzureWebJobsStorage: storage,
      WEBSITE_HOSTNAME: `127.0.0.1:${port}`,
      NO_PROXY: ['127.0.0.1', 'localhost', settings.NO_PROXY].filter(Boolean).join(','),
      ...identity?.settings,
      ...app.settings,
    };
    for (const [k, v] of Object.entries(appSettings)) process.env[k] = v;

    const registry = new FunctionRegistry(
      (level: LogLevel, category: string, message: string, fn?: string) => {
        if (category === 'system' && (level === 'debug' || level === 'trace' || level === 'information'))
          return;
        log(`${fn ? `[${fn}] ` : ''}${level === 'information' ? '' : `${level}: `}${message}`);
      },
    );
    installCoreModule(registry);
    // Load the entry points as the worker does: plain require, after the core module is in place.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    for (const file of files) require(file);
    await registry.start(root);
    closers.push(() => registry.terminate());

    const hub =
      resolveSetting(hostJson.extensions?.durableTask?.hubName ?? 'TestHubName', appSettings) ||
      'TestHubName';
    if (!/^[A-Za-z][A-Za-z0-9]{2,44}$/.test(hub))
      throw new StartupError(`The durable hub name "${hub}" is not valid.`);
    const store = await DurableStore.open(storage, `${hub}Durable`);
    const engine = new DurableEngine({
      registry,
      store,
      log: (level, message) => log(`durable ${level}: ${message}`),
      overridableExistingInstanceStates:
        hostJson.extensions?.durableTask?.overridableExistingInstanceStates ?? 'NonRunningStates',
    });
    closers.push(() => engine.close());
    const durableApi = createDurableApi(engine, () => origin);
    const clientData = JSON.stringify(clientBindingData(origin, hub));
    // The only input binding the local host supplies: HTTP, timer and MCP functions start and read workflows.
    const durableClientInput = (_fn: unknown, _name: string, binding: { type: string }) =>
      binding.type === 'durableClient' || binding.type === 'orchestrationClient'
        ? { string: clientData }
        : undefined;

    const router = createHttpTriggerRouter({
      registry,
      routePrefix: hostJson.extensions?.http?.routePrefix ?? 'api',
      maxRequestBodyBytes: requestBodySizeLimit(appSettings) ?? DEFAULT_MAX_REQUEST_BODY_BYTES,
      extraInputs: durableClientInput,
      log,
    });

    // MCP tools (`app.mcpTool`), served where the Functions MCP extension serves them.
    const mcp = createMcpEndpoint({
      registry,
      settings: hostJson.extensions?.mcp,
      extraInputs: durableClientInput,
      log,
    });

    const triggers = await startServiceBusTriggers({
      registry,
      resolveConnection: (name: string) =>
        appSettings[name] ?? appSettings[`${name}__fullyQualifiedNamespace`] ?? '',
      ...(hostJson.extensions?.serviceBus?.maxConcurrentCalls
        ? { maxConcurrentCalls: hostJson.extensions.serviceBus.maxConcurrentCalls }
        : {}),
      log,
    });
    closers.push(() => triggers.close());
    const timers = startTimerTriggers({
      registry,
      resolve: (v) => resolveSetting(v, appSettings),
      log,
      extraInputs: durableClientInput,
    });
    closers.push(() => timers.close());

    handler = (req, res) => {
      void (async () => {
        const path = (req.url ?? '/').split('?')[0] ?? '/';
        // The host's own endpoints first, so an app route can never shadow them.
        if (path.startsWith('/dev/') || path.startsWith('/durabletask/') || path.startsWith('/runtime/')) {
          if (await mailbox.handle(req, res)) return;
          // Reads its own body: the SDK's transport takes the request whole.
          if (await mcp.handle(req, res)) return;
          // Before the host's 1 MiB body limit: a batch of spans may be larger; the receiver bounds its own.
          if (await telemetry.handle(req, res)) return;
          const body = await readBody(req, MAX_HOST_BODY);
          if (!body) {
            res.writeHead(413, { 'content-type': 'text/plain' });
            res.end('Request body too large.');
            return;
          }
          if (await issuer.handle(req, res, body)) return;
          if (teams && (await teams.handle(req, res, body))) return;
          if (identity && (await identity.handle(req, res))) return;
          if (await durableApi(req, res, body)) return;
        } else if (await router.handle(req, res)) return;
        res.writeHead(404, { 'content-type': 'application/problem+json' });
        res.end(
          JSON.stringify({
            type: 'about:blank',
            title: 'Not Found',
            status: 404,
            detail: `Nothing is served at ${path}.`,
          }),
        );
      })().catch((e: unknown) => {
        log(`host error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end();
      });
    };

    const recovered = await engine.recover();
    const banner = [
      '',
      `  ${options.name ?? 'Local host'} — development only: listens on loopback; its token issuer lets anyone take any role.`,
      '',
      ...(app.bannerFirst ?? []).map((line) => `  ${line}`),
      `  API          ${origin}/api`,
      `  Functions    ${registry.functions.size} registered: ${[...registry.functions.values()].map((f) => f.metadata.name).join(', ')}`,
      `  Dev tokens   POST ${origin}/dev/token  ${JSON.stringify(options.devTokenExample ?? { upn: 'alice@contoso.com', roles: [] })}`,
      ...(mcp.tools.length > 0
        ? [
            `  MCP          ${origin}${MCP_PATH}  (Streamable HTTP; tools ${mcp.tools.map((t) => t.name).join(', ')})`,
            `               with Authorization: Bearer <a dev token: {"upn":"alice@contoso.com","azp":"vscode-agent"} for an agent acting for alice, {"app":"agent-1"} for an agent of its own>`,
          ]
        : []),
      `  Issuer       ${origin}/dev  (audience ${devAudience})`,
      `  Mailbox      ${origin}/dev/mailbox   (SMTP ${mailbox.smtpUrl})`,
      `  Telemetry    ${origin}${TELEMETRY_PATH}   (OTLP/HTTP JSON receiver)`,
      `  Service Bus  ${bus.connectionString.replace(/SharedAccessKey=[^;]+/, 'SharedAccessKey=…')}`,
      `  Storage      ${azurite ? `embedded Azurite, tables on 127.0.0.1:${azurite.ports.table}` : 'from AzureWebJobsStorage'}; data ${dataDir ?? 'in memory'}`,
      `  Durable      hub ${hub}${recovered > 0 ? `, resumed ${recovered} instance(s)` : ''}`,
      `  Timers       ${
        timers
          .schedule()
          .map((t) => `${t.name} next ${t.next}`)
          .join('; ') || 'none'
      }`,
      ...(teams && app.teamsBot
        ? [
            `  Teams        ${origin}/dev/teams  (development channel; bot ${app.teamsBot.appId} at ${app.teamsBot.messagingPath})`,
          ]
        : []),
      ...(app.banner ?? []).map((line) => `  ${line}`),
      '',
      '  Ctrl+C stops everything.',
      '',
    ].join('\n');

    return { url: origin, port, settings: appSettings, registry, engine, banner, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * One host per data folder: two engines on the same history would run the same instances twice.
 * A host killed with -9 leaves its pid behind; a dead pid (or one that is not a node process) is free.
 */
function claimDataDir(dataDir: string): void {
  const lock = join(dataDir, 'host.pid');
  if (existsSync(lock)) {
    const pid = Number(readFileSync(lock, 'utf8'));
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isNodeProcess(pid)) {
      throw new StartupError(
        `The data folder ${dataDir} is in use by another local host (pid ${pid}); stop it or pass --data.`,
      );
    }
  }
  writeFileSync(lock, String(process.pid));
  process.once('exit', () => {
    try {
      if (readFileSync(lock, 'utf8') === String(process.pid)) rmSync(lock, { force: true });
    } catch {
      // already gone
    }
  });
}

function isNodeProcess(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return /node/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return true;
  }
}

function dataFile(dataDir: string | undefined, name: string): { dataFile?: string } {
  return dataDir ? { dataFile: join(dataDir, name) } : {};
}
