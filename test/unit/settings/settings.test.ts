/**
 * One source of truth for settings: `SettingsSchema` (shared/config.ts). Every setting the code or
 * host.json reads is in it with its meaning; Azure (infra/) sets each one or it has a safe default;
 * and local.settings.json.sample, the README's "Settings" table and docs/design.md agree with it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SettingsSchema } from '#shared/config';
import { startupProblems } from '#shared/app/startup-guard';
import { INFRA, objectVars, readBicep, REPO, topLevelKeys } from '../infra/bicep-text';

const SCHEMA_KEYS = Object.keys(SettingsSchema.shape);

/** Settings infra gives the Functions host (not read by ZSA's code), and why. */
const HOST_SETTINGS: Record<string, string> = {
  AzureWebJobsStorage__credential: 'host storage by managed identity',
  AzureWebJobsStorage__queueServiceUri: 'host and Durable Functions queues by identity',
  ServiceBusConnection__credential: 'Service Bus triggers by managed identity',
  ServiceBusConnection__clientId: 'which identity the Service Bus triggers use',
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'telemetry with an Entra token (local auth is off)',
  NODE_OPTIONS: "read by Node itself: the worker's heap limit",
  AzureWebJobsDisableHomepage: "the Functions host's own home page off: `/` is the portal's",
  FUNCTIONS_REQUEST_BODY_SIZE_LIMIT:
    'the largest request body the host accepts (64 KiB); the local host reads it too',
  WEBSITE_AUTH_PRM_DEFAULT_WITH_SCOPES:
    "App Service Authentication's protected resource metadata for MCP clients (the API scope)",
};

/** Schema settings that Azure deliberately leaves unset, and why. */
const NOT_SET_IN_AZURE: Record<string, string> = {
  AzureWebJobsStorage: 'a connection string, for local emulators only; Azure uses AzureWebJobsStorage__*',
  AzureWebJobsStorage__accountName: 'Azure is given the per-service URIs instead',
  ServiceBusConnection: 'a connection string, for the local host only; Azure uses ServiceBusConnection__*',
  ZSA_LOCAL_HOST: 'set by the local host only; the start-up guard refuses it in Azure',
  ZSA_TENANT_ID: 'derived from ZSA_AUTH_ISSUER, which names the tenant in Azure',
  OTEL_EXPORTER_OTLP_ENDPOINT:
    'Azure exports to Application Insights; an operator adds a collector by setting it',
};

/** Variables the platform sets, which the code may read but nobody configures. */
const PLATFORM_VARIABLES = new Set([
  'WEBSITE_SITE_NAME',
  'WEBSITE_INSTANCE_ID',
  'WEBSITE_AUTH_ENABLED',
  'WEBSITE_HOSTNAME',
]);

/**
 * Keys local.settings.json.sample may hold beyond the schema: the Functions host's own (the body-size
 * limit, so Core Tools refuses large bodies as Azure does).
 */
const CORE_TOOLS_SETTINGS = new Set(['FUNCTIONS_WORKER_RUNTIME', 'FUNCTIONS_REQUEST_BODY_SIZE_LIMIT']);

/** App settings Flex Consumption rejects, ignores or replaces with functionAppConfig. */
const FLEX_DEPRECATED = [
  'FUNCTIONS_WORKER_RUNTIME',
  'FUNCTIONS_EXTENSION_VERSION',
  'FUNCTIONS_WORKER_RUNTIME_VERSION',
  'WEBSITE_RUN_FROM_PACKAGE',
  'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
  'WEBSITE_CONTENTSHARE',
  'WEBSITE_NODE_DEFAULT_VERSION',
  'WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT',
  'WEBSITE_TIME_ZONE',
  'WEBSITES_CONTAINER_START_TIME_LIMIT',
  'SCM_DO_BUILD_DURING_DEPLOYMENT',
  'ENABLE_ORYX_BUILD',
  'TZ',
];

const functionApp = readBicep(join(INFRA, 'modules', 'function-app.bicep'));
const infraBlocks = objectVars(functionApp, /Settings$/);
/** Every app setting infra can set (`*Settings` objects of function-app.bicep). */
const INFRA_KEYS = [...infraBlocks.values()].flatMap(topLevelKeys);

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(full));
    else if (entry.name.endsWith('.ts')) out.push(full);
  }
  return out;
}

const CODE = [...sourceFiles(join(REPO, 'shared')), ...sourceFiles(join(REPO, 'functions'))].map((file) => ({
  path: relative(REPO, file),
  text: readFileSync(file, 'utf8'),
}));

/** Names read as `process.env.X`, `process.env['X']` or `env['X']`, with where. */
function environmentReads(): { name: string; path: string }[] {
  const re =
    /\b(?:process\.env\.([A-Za-z_][A-Za-z0-9_]*)|(?:process\.)?env\[\s*['"`]([A-Za-z_][A-Za-z0-9_]*)['"`]\s*\])/g;
  return CODE.flatMap(({ path, text }) =>
    [...text.matchAll(re)].map((m) => ({ name: m[1] ?? m[2] ?? '', path })),
  );
}

/** `%X%` binding expressions: resolved by the Functions host from app settings. */
function bindingExpressions(): { name: string; path: string }[] {
  const sources = [...CODE, { path: 'host.json', text: readFileSync(join(REPO, 'host.json'), 'utf8') }];
  return sources.flatMap(({ path, text }) =>
    [...text.matchAll(/%([A-Za-z_][A-Za-z0-9_]*)%/g)].map((m) => ({ name: m[1] ?? '', path })),
  );
}

/** Names of trigger/binding connections (`connection: 'X'`): the host reads `X` or `X__*`. */
function connections(): string[] {
  return [
    ...new Set(
      CODE.flatMap(({ text }) =>
        [...text.matchAll(/\bconnection:\s*'([A-Za-z_][A-Za-z0-9_]*)'/g)].map((m) => m[1] ?? ''),
      ),
    ),
  ];
}

function sampleKeys(): string[] {
  const sample = JSON.parse(readFileSync(join(REPO, 'local.settings.json.sample'), 'utf8')) as {
    Values: Record<string, string>;
  };
  return Object.keys(sample.Values);
}

/** The rows of the table under `heading` in a markdown file: the backticked names of its first column, and its second column. */
function tableRows(markdown: string, heading: RegExp): { names: string[]; meaning: string }[] | undefined {
  const start = markdown.search(heading);
  if (start < 0) return undefined;
  const rest = markdown.slice(start).split('\n').slice(1);
  const end = rest.findIndex((line) => /^#{1,2} /.test(line));
  const rows = (end < 0 ? rest : rest.slice(0, end)).filter((line) => /^\|/.test(line)).slice(2);
  return rows.map((row) => {
    const [, first = '', meaning = ''] = row.split('|');
    return { names: [...first.matchAll(/`([A-Za-z_][A-Za-z0-9_]*)`/g)].map((m) => m[1] ?? ''), meaning };
  });
}

/** Names in the first column of the table under `heading` in a markdown file (backticked). */
function tableNames(markdown: string, heading: RegExp): string[] | undefined {
  return tableRows(markdown, heading)?.flatMap((row) => row.names);
}

const README = readFileSync(join(REPO, 'README.md'), 'utf8');
const DESIGN = readFileSync(join(REPO, 'docs', 'design.md'), 'utf8');
const README_SETTINGS = /^## Settings\s*$/m;
const DESIGN_SETTINGS = /^## \d+\. Settings\s*$/m;

/** What a setting is when it is absent, as the schema says. */
function schemaDefault(key: string): unknown {
  const parsed = SettingsSchema.safeParse({});
  return parsed.success ? (parsed.data as Record<string, unknown>)[key] : undefined;
}

/** True when the schema gives the setting a value when it is absent. */
function hasDefault(key: string): boolean {
  return schemaDefault(key) !== undefined;
}

describe('the schema is the list', () => {
  it('gives every setting its meaning in a comment', () => {
    // Prepare
    const source = readFileSync(join(REPO, 'shared', 'config.ts'), 'utf8');

    // Act
    const undocumented = SCHEMA_KEYS.filter((key) => !new RegExp(`\\*/\\s*\\n\\s*${key}\\s*:`).test(source));

    // Assess
    expect(undocumented).toEqual([]);
  });

  it('knows every environment variable the code reads', () => {
    // Act
    const unknown = environmentReads().filter(
      ({ name }) => !SCHEMA_KEYS.includes(name) && !PLATFORM_VARIABLES.has(name),
    );

    // Assess
    expect(unknown).toEqual([]);
  });

  it('knows every setting a binding expression or host.json names', () => {
    // Act
    const unknown = bindingExpressions().filter(({ name }) => !SCHEMA_KEYS.includes(name));

    // Assess
    expect(unknown).toEqual([]);
  });
});

describe('Azure sets what the app reads', () => {
  it('finds the app settings in function-app.bicep', () => {
    // Assess
    expect([...infraBlocks.keys()].sort()).toEqual(['platformSettings', 'smtpSettings', 'zsaSettings']);
    expect(INFRA_KEYS).toContain('ZSA_AUTH_ISSUER');
  });

  it('sets every setting that has no safe default, leaving alone only those that must not be set', () => {
    // Act
    const uncovered = SCHEMA_KEYS.filter(
      (key) => !INFRA_KEYS.includes(key) && !hasDefault(key) && !(key in NOT_SET_IN_AZURE),
    );

    // Assess
    expect(uncovered).toEqual([]);
  });

  it('never sets the local-only settings (connection strings, ZSA_LOCAL_HOST)', () => {
    // Assess
    expect(INFRA_KEYS.filter((key) => key in NOT_SET_IN_AZURE)).toEqual([]);
  });

  it('sets only settings the schema or the host knows (no typos)', () => {
    // Assess
    expect(INFRA_KEYS.filter((key) => !SCHEMA_KEYS.includes(key) && !(key in HOST_SETTINGS))).toEqual([]);
    expect(new Set(INFRA_KEYS).size).toBe(INFRA_KEYS.length);
  });

  it('sets every setting host.json or a binding expression reads (the host has no schema defaults)', () => {
    // Assess
    expect(bindingExpressions().filter(({ name }) => !INFRA_KEYS.includes(name))).toEqual([]);
  });

  it('configures every trigger connection by identity', () => {
    // Act
    const missing = connections().filter(
      (name) =>
        !INFRA_KEYS.some(
          (key) => key === `${name}__fullyQualifiedNamespace` || key === `${name}__serviceUri`,
        ),
    );

    // Assess
    expect(connections().length).toBeGreaterThan(0);
    expect(missing).toEqual([]);
  });

  it('sets none of the settings Flex Consumption deprecates', () => {
    // Assess
    expect(INFRA_KEYS.filter((key) => FLEX_DEPRECATED.includes(key))).toEqual([]);
    expect(INFRA_KEYS).not.toContain('AzureWebJobsStorage');
  });

  it('produces an environment the start-up guard accepts', () => {
    // Prepare: what Azure shows the app, every unconditional setting of function-app.bicep resolved.
    const azure: Record<string, string> = {
      NODE_OPTIONS: '--max-old-space-size=1024 --max-semi-space-size=2',
      AzureWebJobsStorage__credential: 'managedidentity',
      AzureWebJobsStorage__clientId: '00000000-0000-0000-0000-000000000001',
      AzureWebJobsStorage__blobServiceUri: 'https://stzsa.blob.core.windows.net/',
      AzureWebJobsStorage__queueServiceUri: 'https://stzsa.queue.core.windows.net/',
      AzureWebJobsStorage__tableServiceUri: 'https://stzsa.table.core.windows.net/',
      ServiceBusConnection__fullyQualifiedNamespace: 'sb-zsa.servicebus.windows.net',
      ServiceBusConnection__credential: 'managedidentity',
      ServiceBusConnection__clientId: '00000000-0000-0000-0000-000000000001',
      APPLICATIONINSIGHTS_CONNECTION_STRING:
        'InstrumentationKey=00000000-0000-0000-0000-000000000002;IngestionEndpoint=https://x/',
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING:
        'ClientId=00000000-0000-0000-0000-000000000001;Authorization=AAD',
      ZSA_TASK_HUB: 'ZsaTaskHub',
      ZSA_TABLE_PREFIX: 'zsa',
      ZSA_AUTH_ISSUER: 'https://login.microsoftonline.com/00000000-0000-0000-0000-000000000003/v2.0',
      ZSA_AUTH_AUDIENCE: '00000000-0000-0000-0000-000000000004',
      ZSA_TRUST_EASY_AUTH: 'true',
      ZSA_DECISION_LINK_REQUIRE_SIGN_IN: 'true',
      ZSA_PUBLIC_BASE_URL: 'https://func-zsa.azurewebsites.net',
      ZSA_CORS_ORIGINS: 'https://portal.contoso.com',
      ZSA_EXECUTOR_ALLOWED_HOSTS: 'automation.contoso.com',
      ZSA_WEBHOOK_SIGNING_KEY: 'resolved-from-key-vault',
      ZSA_AUDIT_HMAC_KEY: 'another-resolved-from-key-vault',
      ZSA_AUDIT_HMAC_KEYS_RETIRED: 'an-unused-generated-key,a-retired-key',
      ZSA_MAIL_TRANSPORT: 'graph',
      ZSA_MAIL_FROM: 'ZSA <zsa@contoso.com>',
      ZSA_NOTIFICATIONS_MAX_DELIVERY: '10',
      AzureWebJobsDisableHomepage: 'true',
      FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '65536',
      WEBSITE_AUTH_PRM_DEFAULT_WITH_SCOPES: 'api://00000000-0000-0000-0000-000000000004/access_as_user',
      ZSA_PORTAL_CLIENT_ID: '00000000-0000-0000-0000-000000000005',
      ZSA_PORTAL_AUTHORITY: '',
      ZSA_PORTAL_SCOPE: 'api://00000000-0000-0000-0000-000000000004/.default',
      ZSA_TEAMS_BOT_APP_ID: '00000000-0000-0000-0000-000000000001',
    };
    const platform = {
      WEBSITE_SITE_NAME: 'func-zsa',
      WEBSITE_INSTANCE_ID: 'abc',
      WEBSITE_AUTH_ENABLED: 'True',
    };
    const unconditional = ['platformSettings', 'zsaSettings'].flatMap((name) => {
      const block = infraBlocks.get(name);
      return block ? topLevelKeys(block) : [];
    });

    // Act
    const problems = startupProblems({ ...azure, ...platform });

    // Assess: the fixture is exactly what infra sets, and the guard lets it start.
    expect(Object.keys(azure).sort()).toEqual([...unconditional].sort());
    expect(problems).toEqual([]);
  });
});

describe('the other lists agree', () => {
  it('local.settings.json.sample holds only known settings', () => {
    // Assess
    expect(sampleKeys().filter((key) => !SCHEMA_KEYS.includes(key) && !CORE_TOOLS_SETTINGS.has(key))).toEqual(
      [],
    );
  });

  it('local.settings.json.sample sets what host.json reads', () => {
    // Assess
    expect(bindingExpressions().filter(({ name }) => !sampleKeys().includes(name))).toEqual([]);
  });

  it("docs/design.md's Settings table names only settings the schema has", () => {
    // Act
    const names = tableNames(DESIGN, DESIGN_SETTINGS);

    // Assess
    expect(names, 'docs/design.md needs a table under "## <n>. Settings"').toBeDefined();
    expect(names?.length).toBeGreaterThan(0);
    expect(names?.filter((name) => !SCHEMA_KEYS.includes(name))).toEqual([]);
  });

  it('docs/design.md names no setting the schema lacks, anywhere on the page', () => {
    // Act: every backticked name shaped like a setting, in prose and tables alike.
    const named = [
      ...new Set(
        [...DESIGN.matchAll(/`((?:ZSA_|AzureWebJobsStorage|ServiceBusConnection)[A-Za-z0-9_]*)/g)].map(
          (m) => m[1] ?? '',
        ),
      ),
    ];

    // Assess
    expect(named.length).toBeGreaterThan(5);
    expect(named.filter((name) => !SCHEMA_KEYS.includes(name))).toEqual([]);
  });

  it('the defaults the README and docs/design.md state are the schema defaults', () => {
    // Act: rows of one setting whose meaning says "(default X)".
    const stated = [
      ...(tableRows(README, README_SETTINGS) ?? []).map((row) => ({ ...row, where: 'README.md' })),
      ...(tableRows(DESIGN, DESIGN_SETTINGS) ?? []).map((row) => ({ ...row, where: 'docs/design.md' })),
    ].flatMap(({ names, meaning, where }) => {
      const value = /\(default `?([^`)]+)`?\)/.exec(meaning)?.[1];
      const [name] = names;
      return names.length === 1 && name !== undefined && value !== undefined ? [{ where, name, value }] : [];
    });

    // Assess
    expect(stated.length).toBeGreaterThan(3);
    expect(stated.filter(({ name, value }) => String(schemaDefault(name)) !== value)).toEqual([]);
  });

  it("the README's Settings table lists exactly the schema's settings", () => {
    // Act
    const names = tableNames(README, README_SETTINGS);

    // Assess
    expect(names, 'README.md needs a table under "## Settings" naming every setting').toBeDefined();
    const listed = new Set(names);
    expect({
      missingFromReadme: SCHEMA_KEYS.filter((key) => !listed.has(key)),
      notInSchema: [...listed].filter((n) => !SCHEMA_KEYS.includes(n)),
    }).toEqual({ missingFromReadme: [], notInSchema: [] });
  });
});
