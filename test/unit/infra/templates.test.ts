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
import { AUDIT_CONTAINER, SECRET_NAMES as SECRETS } from '../../../infra/tools/azure-arm';
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
const packageStorage = fileAt('infra/modules/package-storage.bicep');
const parameterFile = JSON.parse(readFileSync(join(INFRA, 'main.parameters.json'), 'utf8')) as {
  parameters: Record<string, { value: unknown }>;
};

const resource = (file: BicepFile, type: string) => {
  const found = resources(file).filter((r) => r.type === type && !r.existing);
  expect(found, `${file.path} declares ${type}`).toHaveLength(1);
  const [r] = found;
  if (!r) throw new Error('unreachable');
  return r;
};

/** The value main.bicep passes a module's param, as written. */
const moduleParam = (symbol: string, name: string): string | undefined => {
  const m = modules(main).find((x) => x.symbol === symbol);
  const block = m && propertyValue(m.body, 'params');
  if (block === undefined) throw new Error(`main.bicep has no module ${symbol} with params`);
  return propertyValue(blockFrom({ text: block, code: maskNonCode(block) }, 0), name);
};

/**
 * Preview API versions allowed, each with why: the newest version of the resource type is a preview
 * and the last stable one lacks what the template needs.
 */
const PREVIEW_VERSIONS: Record<string, string> = {
  // 2016-09-01 has no resource-specific tables (logAnalyticsDestinationType); every current
  // Microsoft sample and Azure Verified Module uses this version.
  'Microsoft.Insights/diagnosticSettings@2021-05-01-preview': "the only version with today's schema",
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
        'infra/modules/package-storage.bicep',
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

  it.each(files.map((f) => [f.path, f] as const))(
    '%s: uses stable API versions only, or a listed preview',
    (_path, file) => {
      // Act
      const versions = resources(file).map((r) => `${r.type}@${r.apiVersion}`);

      // Assess
      for (const v of versions) if (!(v in PREVIEW_VERSIONS)) expect(v).toMatch(/@\d{4}-\d{2}-\d{2}$/);
    },
  );

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

  it('outputs the API base URL', () => {
    // Assess
    expect(outputs(main)).toContain('ZSA_API_BASE_URL');
    expect(main.text).toMatch(
      /output ZSA_API_BASE_URL string = 'https:\/\/\$\{functionApp\.outputs\.defaultHostName\}\/api'/,
    );
  });

  it('deploys the staged `.deploy` folder (npm run package) as the `api` function service', () => {
    // Prepare
    const yaml = readFileSync(join(REPO, 'azure.yaml'), 'utf8');

    // Assess: the repository builds, the lean folder ships (no devDependencies in the package).
    expect(yaml).toMatch(/^services:\n {2}api:\n/m);
    expect(yaml).toMatch(/^ {4}host: function$/m);
    expect(yaml).toMatch(/^ {4}project: \.$/m);
    expect(yaml).toMatch(/^ {4}dist: \.deploy$/m);
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

  it.each([storage, packageStorage].map((f) => [f.path, f] as const))(
    '%s: turns shared keys off, with TLS 1.2 and no public blobs',
    (_path, file) => {
      // Act
      const account = resource(file, 'Microsoft.Storage/storageAccounts').body;

      // Assess
      expect(propertyValue(account, 'allowSharedKeyAccess')).toBe('false');
      expect(propertyValue(account, 'minimumTlsVersion')).toBe("'TLS1_2'");
      expect(propertyValue(account, 'allowBlobPublicAccess')).toBe('false');
      expect(propertyValue(account, 'supportsHttpsTrafficOnly')).toBe('true');
    },
  );

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
    expect(policy.condition).toBe('!auditArchiveLocked');
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

    // Assess: Data Sender on the namespace (which holds the topic); the only receiving roles are on
    // the notifications queue and the Teams queue.
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
      [
        'teamsQueue',
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

  it('runs on Flex Consumption, Node 22, with an always-ready instance for the Durable group', () => {
    // Prepare
    const plan = modules(main).find((m) => m.source.startsWith('br/public:avm/res/web/serverfarm:'));
    const site = resource(functionApp, 'Microsoft.Web/sites').body;

    // Assess
    expect(plan?.body.text).toMatch(/name: 'FC1'\s+tier: 'FlexConsumption'/);
    expect(site.text).toMatch(/runtime: \{\s+name: 'node'\s+version: '22'\s+\}/);
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

  it("puts App Service Authentication with Entra ID in front, the token store off, and the portals' origins for CORS", () => {
    // Act
    const auth = resources(functionApp).find(
      (r) => r.type === 'Microsoft.Web/sites/config' && r.body.text.includes('globalValidation'),
    );
    const site = resource(functionApp, 'Microsoft.Web/sites').body;

    // Assess
    expect(auth?.body.text).toMatch(/name: 'authsettingsV2'/);
    expect(auth?.body.text).toMatch(/azureActiveDirectory: \{\s+enabled: true/);
    // The portal signs in with its own code; a decision link's sign-in needs only the session cookie.
    expect(auth?.body.text).toMatch(/tokenStore: \{\s+enabled: false\s+\}/);
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
    // Except the Teams bot's endpoint, whose Bot Framework tokens the app verifies itself.
    expect(auth && propertyValue(auth.body, 'excludedPaths')?.replace(/\s+/g, ' ')).toBe(
      "[ '/api/messages' ]",
    );
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

describe('no secret value in any template, so no provision can replace a key', () => {
  const SECRET_NAMES = Object.values(SECRETS);

  it.each(files.map((f) => [f.path, f] as const))('%s: writes no Key Vault secret', (_path, file) => {
    // Act
    const written = resources(file).filter((r) => r.type.startsWith('Microsoft.KeyVault/vaults/secrets'));

    // Assess
    expect(written.map((r) => r.symbol)).toEqual([]);
  });

  it.each(files.map((f) => [f.path, f] as const))('%s: takes no @secure() param', (_path, file) => {
    // Assess: a secure param is a secret value travelling through a deployment.
    expect(
      params(file)
        .filter((p) => p.secure)
        .map((p) => p.name),
    ).toEqual([]);
  });

  it('reads no value from the vault or a generator in main.parameters.json', () => {
    // Act: azd command substitutions look like `$(secretOrRandomPassword …)` or `$(…)`.
    const values = Object.values(parameterFile.parameters).map((p) => JSON.stringify(p.value));

    // Assess
    expect(values.filter((v) => v.includes('$('))).toEqual([]);
    expect(readFileSync(join(INFRA, 'main.parameters.json'), 'utf8')).not.toMatch(/secretOrRandomPassword/);
  });

  it('references the secrets by versionless URIs built from the vault and the names infra/tools writes', () => {
    // Act
    const uris = ['webhookSigningKeyUri', 'auditHmacKeyUri', 'auditHmacKeysRetiredUri'].map(
      (o) => new RegExp(`^output ${o} string = (.+)$`, 'm').exec(keyVault.text)?.[1],
    );

    // Assess: vaultUri ends in `/`; no version, so a rotated key is picked up.
    expect(uris).toEqual([
      "'${vault.properties.vaultUri}secrets/${webhookSigningKeyName}'",
      "'${vault.properties.vaultUri}secrets/${auditHmacKeyName}'",
      "'${vault.properties.vaultUri}secrets/${auditHmacKeysRetiredName}'",
    ]);
    for (const name of SECRET_NAMES) expect(keyVault.text).toContain(`'${name}'`);
    expect(outputs(main)).toContain('AZURE_KEY_VAULT_NAME');
  });
});

describe('a locked audit archive is left alone', () => {
  const POLICY = 'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies';

  /** The immutability policies a provision writes, given the archive's state. */
  const policiesWritten = (locked: boolean): string[] =>
    files.flatMap((file) =>
      resources(file)
        .filter((r) => r.type === POLICY && !r.existing)
        .filter((r) => {
          if (r.condition === undefined) return true;
          // Only the guard this rule is about can be evaluated here; anything else is a failure.
          if (r.condition !== '!auditArchiveLocked') throw new Error(`${r.symbol}: if (${r.condition})`);
          return !locked;
        })
        .map((r) => `${file.path}:${r.symbol}`),
    );

  it.each([
    [false, ['infra/modules/storage.bicep:auditRetentionPolicy']],
    [true, []],
  ])('auditArchiveLocked=%s: the provision writes %j', (locked, expected) => {
    // Act
    const written = policiesWritten(locked);

    // Assess: Azure refuses any write to a locked policy but an extension, so none may be sent.
    expect(written).toEqual(expected);
  });

  it('carries the flag from the azd environment to the policy, unlocked by default', () => {
    // Assess
    expect(parameterFile.parameters['auditArchiveLocked']?.value).toBe('${ZSA_AUDIT_ARCHIVE_LOCKED=false}');
    expect(main.text).toMatch(/^param auditArchiveLocked bool = false$/m);
    expect(moduleParam('storage', 'auditArchiveLocked')).toBe('auditArchiveLocked');
    expect(params(storage).find((p) => p.name === 'auditArchiveLocked')).toMatchObject({
      type: 'bool',
      hasDefault: false,
    });
  });

  it('names the archive the container the preprovision hook checks (it runs before any output exists)', () => {
    // Prepare: the container is `<tablePrefix>audit`, lower-cased (main.bicep).
    const prefix = /^var tablePrefix = '([a-z0-9]+)'$/m.exec(main.text)?.[1];

    // Assess
    expect(main.text).toMatch(/^var auditContainerName = toLower\('\$\{tablePrefix\}audit'\)$/m);
    expect(`${prefix ?? ''}audit`).toBe(AUDIT_CONTAINER);
    expect(outputs(main)).toContain('ZSA_STORAGE_ACCOUNT');
  });
});

describe("the platform's own audit trail in Log Analytics", () => {
  const SETTING = 'Microsoft.Insights/diagnosticSettings';

  it.each([
    [keyVault, 'keyVault', 'vault', ['AuditEvent']],
    [storage, 'storage', 'blobService', ['StorageRead', 'StorageWrite', 'StorageDelete']],
    // The Standard tier's only audit category: RuntimeAuditLogs (data plane) is Premium only.
    [serviceBus, 'serviceBus', 'namespace', ['OperationalLogs']],
  ] as const)('%s: sends %s logs of %s to the workspace: %j', (file, module, scope, categories) => {
    // Act
    const setting = resource(file, SETTING).body;
    const logs = propertyValue(setting, 'logs') ?? '';

    // Assess
    expect(propertyValue(setting, 'scope')).toBe(scope);
    expect(propertyValue(setting, 'workspaceId')).toBe('logAnalyticsWorkspaceId');
    expect(propertyValue(setting, 'logAnalyticsDestinationType')).toBe("'Dedicated'");
    expect([...logs.matchAll(/category: '(\w+)'\s+enabled: true/g)].map((m) => m[1])).toEqual(categories);
    expect(moduleParam(module, 'logAnalyticsWorkspaceId')).toBe('logAnalytics.outputs.resourceId');
  });

  it('asks for no category the Standard tier of Service Bus lacks', () => {
    // Assess
    expect(serviceBus.code).not.toMatch(/RuntimeAuditLogs|ApplicationMetricsLogs/);
    expect(serviceBus.text).toMatch(/name: 'Standard'\s+tier: 'Standard'/);
  });
});

describe('the deployment package apart from the running app', () => {
  const assignments = resources(roles).filter((r) => r.type === 'Microsoft.Authorization/roleAssignments');

  it('keeps the package container in its own account, and none in the data account', () => {
    // Act
    const containers = (file: BicepFile) =>
      resources(file).filter((r) => r.type === 'Microsoft.Storage/storageAccounts/blobServices/containers');

    // Assess
    expect(containers(packageStorage).map((c) => propertyValue(c.body, 'name'))).toEqual([
      'deploymentContainerName',
    ]);
    expect(containers(storage).map((c) => propertyValue(c.body, 'name'))).toEqual(['auditContainerName']);
    expect(moduleParam('packageStorage', 'deploymentContainerName')).toBe('deploymentContainerName');
    expect(main.text).toMatch(/^var deploymentContainerName = 'app-package'$/m);
    expect(outputs(main)).toContain('ZSA_PACKAGE_STORAGE_ACCOUNT');
  });

  it.each([
    // Storage account names: 3–24 lower-case letters and digits; identity names: up to 128.
    ['packageStorage', 'stzsapkg', 24],
    ['storage', 'stzsa', 24],
    ['deployIdentity', 'id-zsa-deploy-', 128],
  ] as const)('names %s %s<token>, at most %i characters', (key, prefix, limit) => {
    // Prepare: uniqueString() is always 13 characters.
    const token = 'a'.repeat(13);

    // Act
    const name = new RegExp(`^ {2}${key}: '([^']*)\\$\\{token\\}'$`, 'm').exec(main.text)?.[1];

    // Assess
    expect(name).toBe(prefix);
    expect(`${prefix}${token}`.length).toBeLessThanOrEqual(limit);
  });

  it('reads and writes the package as the deployment identity, not the app identity', () => {
    // Act
    const site = resource(functionApp, 'Microsoft.Web/sites').body;
    const deployment = propertyValue(site, 'properties') ?? '';

    // Assess
    expect(deployment).toMatch(
      /storage: \{\s+type: 'blobContainer'\s+value: deploymentContainerUrl\s+authentication: \{\s+type: 'UserAssignedIdentity'\s+userAssignedIdentityResourceId: deploymentIdentityId\s+\}/,
    );
    expect(moduleParam('functionApp', 'deploymentIdentityId')).toBe('deployIdentity.outputs.resourceId');
    expect(moduleParam('functionApp', 'deploymentContainerUrl')).toBe('packageStorage.outputs.containerUrl');
    expect(moduleParam('functionApp', 'identityId')).toBe('identity.outputs.resourceId');
    expect(moduleParam('roles', 'deployPrincipalId')).toBe('deployIdentity.outputs.principalId');
  });

  it('gives the deployment identity one role, Storage Blob Data Contributor on the package account, and the app none there', () => {
    // Act
    const onPackage = assignments.filter((a) => propertyValue(a.body, 'scope') === 'packageStorage');
    const ofDeploy = assignments.filter((a) => propertyValue(a.body, 'principalId') === 'deployPrincipalId');

    // Assess: the platform writes the package at each deployment and reads it at each start.
    expect(ofDeploy.map((a) => a.symbol)).toEqual(['deployPackageStorageBlobDataContributor']);
    expect(onPackage.map((a) => a.symbol)).toEqual(['deployPackageStorageBlobDataContributor']);
    expect(onPackage.map((a) => propertyValue(a.body, 'roleDefinitionId'))).toEqual([
      "subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.storageBlobDataContributor)",
    ]);
  });
});

describe('no door left open', () => {
  it.each(files.map((f) => [f.path, f] as const))(
    '%s: sets no ftpsState (not supported on Flex Consumption)',
    (_path, file) => {
      // Assess
      expect(file.code).not.toMatch(/\bftpsState\b/);
    },
  );

  it.each(['scm', 'ftp'])('turns %s basic publishing credentials off', (name) => {
    // Act
    const policy = resources(functionApp).find(
      (r) =>
        r.type === 'Microsoft.Web/sites/basicPublishingCredentialsPolicies' &&
        propertyValue(r.body, 'name') === `'${name}'`,
    );

    // Assess
    expect(policy, name).toBeDefined();
    expect(policy && propertyValue(policy.body, 'parent')).toBe('site');
    expect(policy?.condition).toBeUndefined();
    expect(policy?.body.text).toMatch(/properties: \{\s+allow: false\s+\}/);
  });

  it('limits request bodies with the documented setting, as the local host does', () => {
    // Act
    const settings = objectVars(functionApp, /^platformSettings$/).get('platformSettings')?.text ?? '';

    // Assess: host.json's `maxRequestBodySize` is no documented option; the app setting is.
    expect(settings).toMatch(/^ {2}FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '65536'$/m);
    expect(readFileSync(join(REPO, 'host.json'), 'utf8')).not.toMatch(/maxRequestBodySize/);
  });

  it('accepts tokens of listed clients only when a list is given, the API and portal joining it', () => {
    // Act
    const auth = resources(functionApp).find((r) => r.body.text.includes('globalValidation'));

    // Assess: null leaves the policy out; the app validates every bearer token either way.
    expect(auth?.body.text).toMatch(
      /defaultAuthorizationPolicy: empty\(allowedClientApplications\) \? null : \{\s+allowedApplications: allowedClientApplications\s+\}/,
    );
    expect(main.text).toContain(
      'var allowedClientIds = empty(allowedClientApplicationList) ? [] : union(allowedClientApplicationList, [apiClientId], empty(portalClientId) ? [] : [portalClientId])',
    );
    expect(moduleParam('functionApp', 'allowedClientApplications')).toBe('allowedClientIds');
    expect(main.text).toMatch(/^param allowedClientApplications string = ''$/m);
    expect(parameterFile.parameters['allowedClientApplications']?.value).toBe(
      '${ZSA_ALLOWED_CLIENT_APPLICATIONS}',
    );
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
