/**
 * @zsa/local-host: runs a compiled Azure Functions (Node v4 programming model) app with Node alone.
 *
 * The package knows nothing of the app it runs: it reads the app's host.json, local.settings.json
 * and package.json `main` as Core Tools would, and an app-specific launcher adds its own settings
 * and banner lines through `startHost`'s options (or `runCli`'s). Its parts are also exported for
 * tests and tools: `./core`, `./durable`, `./http`, `./mailbox`, `./servicebus`; the development
 * Teams channel, the managed identity endpoint and the telemetry receiver from the package root.
 */
export { startHost, type HostOptions, type RunningHost, type LocalParts } from './host';
export { runCli, type CliOptions } from './cli';
export {
  StartupError,
  readHostJson,
  readSettings,
  resolveSetting,
  entryPoints,
  requestBodySizeLimit,
  REQUEST_BODY_SIZE_LIMIT_SETTING,
  type HostJson,
} from './app-loader';
export {
  startAzurite,
  connectionStringFor,
  DEV_ACCOUNT,
  DEV_KEY,
  type AzuriteOptions,
  type RunningAzurite,
} from './azurite/azurite';
export {
  createDevIssuer,
  devUserId,
  devAppId,
  DEV_TENANT_ID,
  DEV_TOKEN_PATH,
  MintClaimsSchema,
  TokenRequestSchema,
  type DevIssuer,
  type DevIssuerOptions,
  type MintClaims,
} from './dev-issuer/dev-issuer';
export {
  createTelemetryReceiver,
  TELEMETRY_PATH,
  type ReceivedSpan,
  type MetricPoint,
  type TelemetryReceiver,
} from './telemetry';
export { startTimerTriggers, type RunningTimers } from './timers';
export {
  createMcpEndpoint,
  MCP_PATH,
  type McpEndpoint,
  type McpEndpointOptions,
  type McpServerSettings,
} from './mcp/server';
export { freePort } from './net';
export {
  createManagedIdentityEndpoint,
  MANAGED_IDENTITY_PATH,
  type ManagedIdentityEndpoint,
} from './dev-issuer/managed-identity';
export {
  createTeamsChannel,
  BOT_CONNECTOR_AUDIENCE,
  type TeamsChannel,
  type TeamsChannelOptions,
} from './teams/channel';
