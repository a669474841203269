/**
 * What a reviewer checks in infra/ before `azd up`, as tests: the templates hang together (modules,
 * params, outputs), they are secure by default (no keys, identity everywhere, every role in one
 * commented module) and they match what the app expects (queue names, Flex Consumption, auth).
 * No Bicep compiler runs here, so this is structure, not compilation (docs/deploy.md says so).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NOTIFICATIONS_QUEUE } from '#shared/notifications/messages';
import { SettingsSchema } from '#shared/config';
import { DEPLOYED_WORKER_NODE_FLAGS } from '../../support/worker-flags';
import {
  allBicepFiles,
  blockFrom,
  bracketProblem,
  INFRA,
  maskNonCode,
  modules,
  objectVars,
  outputs,
  params,
  propertyValue,
  readBicep,
  REPO,
  resources,
  topLevelKeys,
  type BicepFile,
} from './bicep-text';

const files = allBicepFiles();
const main = readBicep(join(INFRA, 'main.bicep'));
const fileAt = (path: string): BicepFile => {
  const file = files.find((f) => f.path === path);
  if (!file) throw new Error(`${path} is missing`);
  return file;
};
const storage = fileAt('infra/modules/storage.bicep');
const serviceBus = fileAt('infra/modules/service-bus.bicep');
const keyVault = fileAt('infra/modules/key-vault.bicep');
const functionApp = fileAt('infra/modules/function-app.bicep');
const roles = fileAt('infra/modules/roles.bicep');

const resource = (file: BicepFile, type: string) => {
  const found = resources(file).filter((r) => r.type === type && !r.existing);
  expect(found, `${file.path} declares ${type}`).toHaveLength(1);
  const [r] = found;
  if (!r) throw new Error('unreachable');
  return r;
};

/** Built-in role ids and the names the comments must use (learn.microsoft.com, built-in roles). */
const BUILT_IN_ROLES: Record<string, string> = {
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b': 'Storage Blob Data Owner',
  'ba92f5b4-2d11-453d-a403-e96b0029c9fe': 'Storage Blob Data Contributor',
  '974c5e8b-45b9-4653-ba55-5f855dd0fb88': 'Storage Queue Data Contributor',
  '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3': 'Storage Table Data Contributor',
  '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39': 'Azure Service Bus Data Sender',
  '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0': 'Azure Service Bus Data Receiver',
  '090c5cfd-751d-490a-894a-3ce6f1109419': 'Azure Service Bus Data Owner',
  '4633458b-17de-408a-b874-0445c86b69e6': 'Key Vault Secrets User',
  'b86a8fe4-44ce-4948-aee5-eccb2c155cd7': 'Key Vault Secrets Officer',
  '3913510d-42f4-4e42-8a64-420c390055eb': 'Monitoring Metrics Publisher',
};

describe('the templates hang together', () => {
  it('finds the files azd needs', () => {
    // Assess
    expect(files.map((f) => f.path)).toEqual(
      expect.arrayContaining([
        'infra/main.bicep',
        'infra/modules/function-app.bicep',
        'infra/modules/key-vault.bicep',
        'infra/modules/roles.bicep',
        'infra/modules/service-bus.bicep',
        'infra/modules/storage.bicep',
      ]),
    );
    expect(existsSync(join(INFRA, 'main.parameters.json'))).toBe(true);
  });

  it.each(files.map((f) => [f.path, f] as const))('%s: every bracket and string is closed', (_path, file) => {
    // Assess
    expect(bracketProblem(file)).toBeUndefined();
  });

  it.each(files.map((f) => [f.path, f] as const))('%s: uses stable API versions only', (_path, file) => {
    // Act
    const versions = resources(file).map((r) => `${r.type}@${r.apiVersion}`);

    // Assess
    for (const v of versions) expect(v).toMatch(/@\d{4}-\d{2}-\d{2}$/);
  });

  it.each(files.map((f) => [f.path, f] as const))(
    '%s: uses every param and var it declares',
    (_path, file) => {
      // Prepare
      const declared = [
        ...params(file).map((p) => p.name),
        ...[...file.code.matchAll(/^var\s+([A-Za-z_][A-Za-z0-9_]*)\s*=/gm)].map((m) => m[1] ?? ''),
      ];

      // Act: a name used only where it is declared is dead (Bicep's linter warns about it too).
      const unused = declared.filter(
        (name) => [...file.code.matchAll(new RegExp(`\\b${name}\\b`, 'g'))].length < 2,
      );

      // Assess
      expect(unused).toEqual([]);
    },
  );

  it('passes every local module exactly the params it declares, and all it requires', () => {
    for (const m of modules(main).filter((x) => !x.source.startsWith('br/'))) {
      // Prepare
      const target = readBicep(join(INFRA, m.source));
      const declared = params(target);
      const paramsBlock = propertyValue(m.body, 'params');
      if (paramsBlock === undefined) throw new Error(`${m.symbol} passes no params`);

      // Act
      const passed = topLevelKeys(blockFrom({ text: paramsBlock, code: maskNonCode(paramsBlock) }, 0));

      // Assess
      const names = declared.map((p) => p.name);
      expect(
        passed.filter((p) => !names.includes(p)),
        `${m.symbol}: unknown params`,
      ).toEqual([]);
      const required = declared.filter((p) => !p.hasDefault).map((p) => p.name);
      expect(
        required.filter((p) => !passed.includes(p)),
        `${m.symbol}: missing params`,
      ).toEqual([]);
    }
  });

  it('reads only outputs that local modules declare', () => {
    for (const m of modules(main).filter((x) => !x.source.startsWith('br/'))) {
      // Prepare
      const declared = outputs(readBicep(join(INFRA, m.source)));

      // Act
      const used = [
        ...main.code.matchAll(new RegExp(`\\b${m.symbol}\\.outputs\\.([A-Za-z_][A-Za-z0-9_]*)`, 'g')),
      ].map((x) => x[1] ?? '');

      // Assess
      expect(
        used.filter((u) => !declared.includes(u)),
        `${m.symbol}: unknown outputs`,
      ).toEqual([]);
    }
  });

  it('pins every registry module to a version', () => {
    // Assess
    for (const m of modules(main).filter((x) => x.source.startsWith('br/'))) {
      expect(m.source).toMatch(/^br\/public:avm\/res\/[a-z-]+\/[a-z-]+:\d+\.\d+\.\d+$/);
    }
  });

  it('maps main.parameters.json onto main.bicep, leaving out only params with defaults', () => {
    // Prepare
    const file = JSON.parse(readFileSync(join(INFRA, 'main.parameters.json'), 'utf8')) as {
      parameters: Record<string, { value: unknown }>;
    };
    const declared = params(main);

    // Act
    const mapped = Object.keys(file.parameters);

    // Assess
    expect(mapped.filter((p) => !declared.some((d) => d.name === p))).toEqual([]);
    expect(declared.filter((d) => !d.hasDefault && !mapped.includes(d.name)).map((d) => d.name)).toEqual([]);
  });

  it('reads the signing keys back from the vault main.bicep reports, so a provision keeps a rotated key', () => {
    // Prepare
    const file = JSON.parse(readFileSync(join(INFRA, 'main.parameters.json'), 'utf8')) as {
      parameters: Record<string, { value: string }>;
    };
    const secure = params(main).filter((p) => p.secure);

    // Assess
    expect(secure.map((p) => p.name).sort()).toEqual([
      'auditHmacKey',
      'auditHmacKeysRetired',
      'webhookSigningKey',
    ]);
    for (const p of secure) {
      expect(file.parameters[p.name]?.value).toMatch(
        /^\$\(secretOrRandomPassword \$\{AZURE_KEY_VAULT_NAME\} zsa-[a-z-]+\)$/,
      );
    }
    expect(outputs(main)).toContain('AZURE_KEY_VAULT_NAME');
    expect(keyVault.text).toContain("'zsa-webhook-signing-key'");
    expect(keyVault.text).toContain("'zsa-audit-hmac-key'");
    expect(keyVault.text).toContain("'zsa-audit-hmac-keys-retired'");
  });

  it('outputs the API base URL', () => {
    // Assess
    expect(outputs(main)).toContain('ZSA_API_BASE_URL');
    expect(main.text).toMatch(
      /output ZSA_API_BASE_URL string = 'https:\/\/\$\{functionApp\.outputs\.defaultHostName\}\/api'/,
    );
  });

  it('deploys the repository root as the `api` function service', () => {
    // Prepare
    const yaml = readFileSync(join(REPO, 'azure.yaml'), 'utf8');

    // Assess
    expect(yaml).toMatch(/^services:\n {2}api:\n/m);
    expect(yaml).toMatch(/^ {4}host: function$/m);
    expect(yaml).toMatch(/^ {4}project: \.$/m);
    expect(functionApp.text).toContain("'azd-service-name': 'api'");
  });
});

describe('secure by default', () => {
  it('never reads or writes a key or connection string', () => {
    for (const file of files) {
      // Assess
      expect(file.code, file.path).not.toMatch(/\blistKeys\s*\(|\blistConnectionStrings\s*\(/);
      expect(file.text, file.path).not.toMatch(/AccountKey=|SharedAccessKey|InstrumentationKey=/);
    }
  });

  it('turns shared keys off on storage, with TLS 1.2 and no public blobs', () => {
    // Act
    const account = resource(storage, 'Microsoft.Storage/storageAccounts').body;

    // Assess
    expect(propertyValue(account, 'allowSharedKeyAccess')).toBe('false');
    expect(propertyValue(account, 'minimumTlsVersion')).toBe("'TLS1_2'");
    expect(propertyValue(account, 'allowBlobPublicAccess')).toBe('false');
    expect(propertyValue(account, 'supportsHttpsTrafficOnly')).toBe('true');
  });

  it('puts a time-based immutability policy, with protected appends, on the audit archive (anchors and exports)', () => {
    // Act
    const policy = resource(
      storage,
      'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies',
    );

    // Assess
    expect(policy.body.text).toMatch(/parent: auditContainer\b/);
    expect(propertyValue(policy.body, 'immutabilityPeriodSinceCreationInDays')).toBe('auditRetentionDays');
    expect(propertyValue(policy.body, 'allowProtectedAppendWrites')).toBe('true');
  });

  it('names the audit container as shared/audit does: the table prefix infra sets, then `audit`', () => {
    // Prepare: shared/audit/log.ts keeps table and container under one name, `audit` by default.
    const log = readFileSync(join(REPO, 'shared', 'audit', 'log.ts'), 'utf8');

    // Assess
    expect(log).toMatch(/options\.name \?\? 'audit'/);
    expect(main.text).toMatch(/^var tablePrefix = 'zsa'$/m);
    expect(main.text).toContain("var auditContainerName = toLower('${tablePrefix}audit')");
    expect(functionApp.text).toMatch(/^ {2}ZSA_TABLE_PREFIX: tablePrefix$/m);
  });

  it('turns SAS auth off on Service Bus and requires TLS 1.2', () => {
    // Act
    const ns = resource(serviceBus, 'Microsoft.ServiceBus/namespaces').body;

    // Assess
    expect(propertyValue(ns, 'disableLocalAuth')).toBe('true');
    expect(propertyValue(ns, 'minimumTlsVersion')).toBe("'1.2'");
    expect(ns.text).toMatch(/name: 'Standard'/);
  });

  it('sets duplicate detection, max delivery count and lock duration explicitly on every queue', () => {
    // Act
    const queues = resources(serviceBus).filter((r) => r.type === 'Microsoft.ServiceBus/namespaces/queues');

    // Assess
    expect(queues.length).toBeGreaterThanOrEqual(2);
    for (const q of queues) {
      expect(propertyValue(q.body, 'requiresDuplicateDetection'), q.symbol).toBe('true');
      expect(propertyValue(q.body, 'duplicateDetectionHistoryTimeWindow'), q.symbol).toMatch(/^'PT\w+'$/);
      expect(propertyValue(q.body, 'maxDeliveryCount'), q.symbol).toBeDefined();
      expect(propertyValue(q.body, 'lockDuration'), q.symbol).toBeDefined();
    }
  });

  it('declares the events topic the app publishes to, with duplicate detection, and a subscription to read it', () => {
    // Act
    const topic = resource(serviceBus, 'Microsoft.ServiceBus/namespaces/topics');
    const subscription = resource(serviceBus, 'Microsoft.ServiceBus/namespaces/topics/subscriptions');

    // Assess: the name is the app's default for ZSA_EVENTS_TOPIC, which infra leaves unset.
    const appDefault = SettingsSchema.shape.ZSA_EVENTS_TOPIC.parse(undefined);
    expect(serviceBus.text).toContain(`param eventsTopicName string = '${appDefault}'`);
    expect(propertyValue(topic.body, 'name')).toBe('eventsTopicName');
    expect(functionApp.text).not.toContain('ZSA_EVENTS_TOPIC');
    // The event id is the audit id: a repeat within the window is dropped.
    expect(propertyValue(topic.body, 'requiresDuplicateDetection')).toBe('true');
    expect(propertyValue(topic.body, 'duplicateDetectionHistoryTimeWindow')).toBe("'PT10M'");
    expect(propertyValue(subscription.body, 'parent')).toBe('eventsTopic');
    expect(propertyValue(subscription.body, 'lockDuration')).toBeDefined();
    expect(propertyValue(subscription.body, 'maxDeliveryCount')).toBeDefined();
    expect(serviceBus.text).toMatch(/param eventsSubscriptionNames array = \[\s*'all'\s*\]/);
  });

  it('lets the app send to the events topic but read none of its subscriptions', () => {
    // Act
    const onServiceBus = resources(roles).filter(
      (r) =>
        r.type === 'Microsoft.Authorization/roleAssignments' &&
        /serviceBus/i.test(propertyValue(r.body, 'roleDefinitionId') ?? ''),
    );

    // Assess: Data Sender on the namespace (which holds the topic); the only receiving role is on
    // the notifications queue.
    expect(
      onServiceBus.map((a) => [propertyValue(a.body, 'scope'), propertyValue(a.body, 'roleDefinitionId')]),
    ).toEqual([
      [
        'serviceBus',
        "subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.serviceBusDataSender)",
      ],
      [
        'notificationsQueue',
        "subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.serviceBusDataOwner)",
      ],
    ]);
  });

  it('names the notifications queue as the app does, and delivers it as often as the app expects', () => {
    // Assess
    expect(main.text).toContain(`var notificationsQueueName = '${NOTIFICATIONS_QUEUE}'`);
    const queue = resources(serviceBus).find((r) => r.symbol === 'notificationsQueue');
    expect(queue && propertyValue(queue.body, 'maxDeliveryCount')).toBe('notificationsMaxDelivery');
    expect(functionApp.text).toContain('ZSA_NOTIFICATIONS_MAX_DELIVERY: string(notificationsMaxDelivery)');
  });

  it('turns local auth off on Application Insights', () => {
    // Act
    const appInsights = modules(main).find((m) =>
      m.source.startsWith('br/public:avm/res/insights/component:'),
    );

    // Assess
    expect(appInsights && propertyValue(appInsights.body, 'disableLocalAuth')).toBe('true');
  });

  it('authorizes Key Vault by RBAC, with soft delete', () => {
    // Act
    const vault = resource(keyVault, 'Microsoft.KeyVault/vaults').body;

    // Assess
    expect(propertyValue(vault, 'enableRbacAuthorization')).toBe('true');
    expect(propertyValue(vault, 'enableSoftDelete')).toBe('true');
  });

  it('runs on Flex Consumption, Node 20, with an always-ready instance for the Durable group', () => {
    // Prepare
    const plan = modules(main).find((m) => m.source.startsWith('br/public:avm/res/web/serverfarm:'));
    const site = resource(functionApp, 'Microsoft.Web/sites').body;

    // Assess
    expect(plan?.body.text).toMatch(/name: 'FC1'\s+tier: 'FlexConsumption'/);
    expect(site.text).toMatch(/runtime: \{\s+name: 'node'\s+version: '20'\s+\}/);
    expect(site.text).toMatch(/alwaysReady: \[\s+\{\s+name: 'durable'\s+instanceCount: durableAlwaysReady/);
    expect(main.text).toMatch(/param durableAlwaysReady int = 1\b/);
  });

  it("sizes the worker's heap to the instance, as the export's memory is measured", () => {
    // Prepare: the flags the export's memory is measured with (at the default instance size).
    const instance = /param instanceMemoryMB int = (\d+)/.exec(main.code)?.[1];
    const settings = objectVars(functionApp, /^platformSettings$/).get('platformSettings');

    // Assess: half the instance, at most 1 GiB; at the default size, the flags the bench uses.
    expect(functionApp.code).toMatch(/var workerHeapMB = min\(instanceMemoryMB \/ 2, 1024\)/);
    const flags = /NODE_OPTIONS: '([^']*)'/.exec(settings?.text ?? '')?.[1];
    const atDefault = flags?.replace('${workerHeapMB}', String(Math.min(Number(instance) / 2, 1024)));
    expect(atDefault?.split(' ')).toEqual(DEPLOYED_WORKER_NODE_FLAGS);
  });

  it('runs as the user-assigned identity, Key Vault references included, over HTTPS only', () => {
    // Act
    const site = resource(functionApp, 'Microsoft.Web/sites').body;

    // Assess
    expect(site.text).toMatch(/type: 'UserAssigned'/);
    expect(propertyValue(site, 'keyVaultReferenceIdentity')).toBe('identityId');
    expect(propertyValue(site, 'httpsOnly')).toBe('true');
    expect(site.text).toMatch(/authentication: \{\s+type: 'UserAssignedIdentity'/);
  });

  it("puts App Service Authentication with Entra ID in front, the token store on, and the portals' origins for CORS", () => {
    // Act
    const auth = resources(functionApp).find(
      (r) => r.type === 'Microsoft.Web/sites/config' && r.body.text.includes('globalValidation'),
    );
    const site = resource(functionApp, 'Microsoft.Web/sites').body;

    // Assess
    expect(auth?.body.text).toMatch(/name: 'authsettingsV2'/);
    expect(auth?.body.text).toMatch(/azureActiveDirectory: \{\s+enabled: true/);
    expect(auth?.body.text).toMatch(/tokenStore: \{\s+enabled: true/);
    expect(site.text).toMatch(/cors: \{\s+allowedOrigins: corsOrigins\s+supportCredentials: false/);
  });

  it('lets anonymous requests reach the app, which serves the portal at / and refuses the rest itself', () => {
    // Prepare: the portal's routes are the page's own (`/requests`, `/approvals/...`): no list of
    // excluded paths could follow them, so the app decides (functions/portal.ts, every handler's auth).
    const auth = resources(functionApp).find((r) => r.body.text.includes('globalValidation'));
    const portal = readFileSync(join(REPO, 'functions', 'portal.ts'), 'utf8');

    // Assess
    expect(auth && propertyValue(auth.body, 'requireAuthentication')).toBe('false');
    expect(auth && propertyValue(auth.body, 'unauthenticatedClientAction')).toBe("'AllowAnonymous'");
    expect(auth?.body.text).not.toMatch(/excludedPaths/);
    expect(portal).toMatch(/route: '\{\*path\}'/);
    expect(objectVars(functionApp, /^platformSettings$/).get('platformSettings')?.text).toMatch(
      /AzureWebJobsDisableHomepage: 'true'/,
    );
  });

  it('keeps every signing key and password in Key Vault, referenced by the app settings', () => {
    // Act
    const settings = [...objectVars(functionApp, /Settings$/).values()].map((b) => b.text).join('\n');

    // Assess
    for (const name of ['ZSA_WEBHOOK_SIGNING_KEY', 'ZSA_AUDIT_HMAC_KEY', 'ZSA_SMTP_URL']) {
      expect(settings).toMatch(
        new RegExp(`\\b${name}: '@Microsoft\\.KeyVault\\(SecretUri=\\$\\{\\w+\\}\\)'`),
      );
    }
  });
});

describe('every role assignment in one commented module', () => {
  const assignments = (file: BicepFile) =>
    resources(file).filter((r) => r.type === 'Microsoft.Authorization/roleAssignments');

  it('declares role assignments in modules/roles.bicep only', () => {
    // Assess
    for (const file of files.filter((f) => f !== roles)) expect(assignments(file), file.path).toEqual([]);
    expect(assignments(roles).length).toBeGreaterThanOrEqual(7);
  });

  it('names each role id in a comment, with its built-in name', () => {
    // Prepare
    const table = objectVars(roles, /^role$/).get('role');
    if (!table) throw new Error('roles.bicep has no `var role = {…}`');

    // Act
    const entries = [...table.text.matchAll(/\/\/ ([^\n]+)\n\s+(\w+): '([0-9a-f-]{36})'/g)];

    // Assess
    expect(entries.length).toBe(topLevelKeys(table).length);
    for (const [, comment, , id] of entries) expect(comment).toBe(BUILT_IN_ROLES[id ?? '']);
  });

  it('names every assignment guid(scope, principal, role), and says why in a comment naming the role', () => {
    // Prepare
    const table = objectVars(roles, /^role$/).get('role');
    if (!table) throw new Error('roles.bicep has no `var role = {…}`');
    const nameOf = new Map(
      [...table.text.matchAll(/\/\/ ([^\n]+)\n\s+(\w+): '/g)].map((m) => [m[2] ?? '', m[1] ?? '']),
    );

    for (const a of assignments(roles)) {
      // Act
      const name = propertyValue(a.body, 'name') ?? '';
      const m = /^guid\((\w+)\.id, (\w+), role\.(\w+)\)$/.exec(name);
      const scope = propertyValue(a.body, 'scope');
      const principal = propertyValue(a.body, 'principalId');
      const roleDefinition = propertyValue(a.body, 'roleDefinitionId');

      // Assess
      expect(m, `${a.symbol}: ${name}`).not.toBeNull();
      expect(scope, a.symbol).toBe(m?.[1]);
      expect(principal, a.symbol).toBe(m?.[2]);
      expect(roleDefinition, a.symbol).toBe(
        `subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.${m?.[3] ?? ''})`,
      );
      const roleName = nameOf.get(m?.[3] ?? '');
      expect(roleName, a.symbol).toBeDefined();
      expect(a.comment, a.symbol).toContain(roleName);
    }
  });

  it('gives the app data-plane roles only, never Owner, Contributor or User Access Administrator', () => {
    // Assess
    expect(roles.text).not.toMatch(
      /8e3af657-a8ff-443c-a75c-2fe8c4bcb635|b24988ac-6180-42a0-ab88-20f7382dd24c|18d7d88d-d35e-4fb5-a5c3-7773c20a72d9/,
    );
  });
});
