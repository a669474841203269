/**
 * The azd hooks (infra/tools/azd-hooks.ts) and `npm run keys` (infra/tools/keys.ts): the decisions
 * as pure functions, then the thin shells against a fake vault, a fake app and a fake Azure Resource
 * Manager (fetch), so that the order of writes and what is never written are checked without Azure.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { describe, expect, it } from 'vitest';
import {
  ROLE_WAIT,
  lockDecision,
  missingSecrets,
  postprovision,
  preprovision,
  resourceGroupOf,
} from '../../../infra/tools/azd-hooks';
import {
  KeySchema,
  SECRET_NAMES,
  newKey,
  readEnv,
  restartFunctionApp,
  vaultFailure,
  withAzdEnv,
  type App,
  type Fetch,
  type PolicyState,
  type SecretName,
  type Vault,
} from '../../../infra/tools/azure-arm';
import { rotate, rotationPlan, type Kind } from '../../../infra/tools/keys';
import { REPO } from './bicep-text';
import { ToolError } from '../../../infra/tools/tool';

const SUBSCRIPTION = '00000000-0000-0000-0000-000000000001';
const K1 = 'k1'.padEnd(43, 'A');
const K2 = 'k2'.padEnd(43, 'B');
const K3 = 'k3'.padEnd(43, 'C');
const NEXT = 'nx'.padEnd(43, 'D');

/** A vault in memory that records every call in `log`, shared with the app's restart. */
function aVault(initial: Partial<Record<SecretName, string>>, log: string[] = []) {
  const secrets = new Map<string, string>(Object.entries(initial));
  const vault: Vault = {
    name: 'kv-test',
    names: () => Promise.resolve([...secrets.keys()]),
    get: (name) => Promise.resolve(secrets.get(name)),
    set: (name, value) => {
      log.push(`set ${name}`);
      secrets.set(name, value);
      return Promise.resolve();
    },
  };
  const app: App = {
    name: 'func-test',
    restart: () => {
      log.push('restart');
      return Promise.resolve();
    },
  };
  return { vault, app, secrets, log };
}

const credential: TokenCredential = {
  getToken: (): Promise<AccessToken> =>
    Promise.resolve({ token: 'arm-token', expiresOnTimestamp: Date.now() + 60_000 }),
};

/** Resource Manager answering from a table of path → [status, body], recording each request. */
function anArm(routes: Record<string, [number, unknown]>) {
  const requests: { method: string; url: URL; authorization: string | null }[] = [];
  const fetchImpl: Fetch = (url, init) => {
    const parsed = new URL(url);
    requests.push({
      method: init.method ?? 'GET',
      url: parsed,
      authorization: new Headers(init.headers).get('authorization'),
    });
    const [status, body] = routes[parsed.pathname] ?? [
      404,
      { error: { code: 'ResourceNotFound', message: 'not found' } },
    ];
    return Promise.resolve(new Response(body === undefined ? null : JSON.stringify(body), { status }));
  };
  return { fetchImpl, requests };
}

const GROUP = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-prod`;
const policyPath = (account: string) =>
  `${GROUP}/providers/Microsoft.Storage/storageAccounts/${account}/blobServices/default/containers/zsaaudit/immutabilityPolicies/default`;

function refusal(run: () => unknown): ToolError {
  try {
    run();
  } catch (e) {
    if (e instanceof ToolError) return e;
    throw e;
  }
  throw new Error('expected a ToolError');
}

async function asyncRefusal(run: () => Promise<unknown>): Promise<ToolError> {
  const e: unknown = await run().then(
    () => undefined,
    (err: unknown) => err,
  );
  if (e instanceof ToolError) return e;
  throw new Error(`expected a ToolError, got ${String(e)}`);
}

describe('lockDecision: a provision runs only when ZSA_AUDIT_ARCHIVE_LOCKED matches the archive', () => {
  const table: {
    name: string;
    states: { account: string; state: PolicyState }[];
    flag: boolean;
    fix?: string;
  }[] = [
    { name: 'first provision (nothing there), flag unset', states: [], flag: false },
    { name: 'unlocked archive, flag unset', states: [{ account: 'stzsa1', state: 'Unlocked' }], flag: false },
    {
      name: 'locked archive, flag true',
      states: [
        { account: 'stzsapkg1', state: 'absent' },
        { account: 'stzsa1', state: 'Locked' },
      ],
      flag: true,
    },
    {
      name: 'locked archive, flag unset: the provision would write a locked policy',
      states: [
        { account: 'stzsapkg1', state: 'absent' },
        { account: 'stzsa1', state: 'Locked' },
      ],
      flag: false,
      fix: 'azd env set ZSA_AUDIT_ARCHIVE_LOCKED true',
    },
    {
      name: 'unlocked archive, flag true: the policy would be left unmanaged',
      states: [{ account: 'stzsa1', state: 'Unlocked' }],
      flag: true,
      fix: 'azd env set ZSA_AUDIT_ARCHIVE_LOCKED false',
    },
    {
      name: 'no archive yet, flag true: a new archive would get no policy',
      states: [{ account: 'stzsapkg1', state: 'absent' }],
      flag: true,
      fix: 'azd env set ZSA_AUDIT_ARCHIVE_LOCKED false',
    },
  ];
  it.each(table)('$name', ({ states, flag, fix }) => {
    // Act
    const decision = lockDecision(states, flag);

    // Assess
    if (fix === undefined) {
      expect(decision.ok).toBe(true);
    } else {
      expect(decision.ok).toBe(false);
      if (!decision.ok) {
        expect(decision.error.fix.startsWith(fix)).toBe(true);
        expect(decision.error.message).not.toContain('\n');
      }
    }
  });

  it('names the locked account in the refusal', () => {
    // Act
    const decision = lockDecision([{ account: 'stzsaabc', state: 'Locked' }], false);

    // Assess
    expect(decision.ok ? '' : decision.error.message).toContain('stzsaabc/zsaaudit');
  });
});

describe('missingSecrets', () => {
  it.each([
    { existing: [], missing: [SECRET_NAMES.webhook, SECRET_NAMES.audit, SECRET_NAMES.auditRetired] },
    {
      existing: [SECRET_NAMES.audit, 'zsa-smtp-url'],
      missing: [SECRET_NAMES.webhook, SECRET_NAMES.auditRetired],
    },
    { existing: Object.values(SECRET_NAMES), missing: [] },
  ])('with $existing present: $missing', ({ existing, missing }) => {
    // Act / Assess
    expect(missingSecrets(existing)).toEqual(missing);
  });
});

describe('environment values', () => {
  it('names every missing value in one line, with the command that sets them', () => {
    // Act
    const e = refusal(() =>
      readEnv({ AZURE_SUBSCRIPTION_ID: SUBSCRIPTION }, [
        'AZURE_SUBSCRIPTION_ID',
        'AZURE_KEY_VAULT_NAME',
        'AZURE_FUNCTION_APP_NAME',
      ]),
    );

    // Assess
    expect(e.message).toBe(
      'missing or invalid azd environment values: AZURE_KEY_VAULT_NAME, AZURE_FUNCTION_APP_NAME',
    );
    expect(e.fix).toMatch(/^azd provision/);
  });

  it.each([
    { value: undefined, locked: false },
    { value: '', locked: false },
    { value: 'false', locked: false },
    { value: 'true', locked: true },
  ])('ZSA_AUDIT_ARCHIVE_LOCKED=$value is $locked', ({ value, locked }) => {
    // Act / Assess
    expect(
      readEnv({ ZSA_AUDIT_ARCHIVE_LOCKED: value }, ['ZSA_AUDIT_ARCHIVE_LOCKED']).ZSA_AUDIT_ARCHIVE_LOCKED,
    ).toBe(locked);
  });

  it('refuses a ZSA_AUDIT_ARCHIVE_LOCKED that is neither true nor false, saying how to set it', () => {
    // Act
    const e = refusal(() => readEnv({ ZSA_AUDIT_ARCHIVE_LOCKED: 'yes' }, ['ZSA_AUDIT_ARCHIVE_LOCKED']));

    // Assess
    expect(e.fix).toMatch(/^azd env set ZSA_AUDIT_ARCHIVE_LOCKED false/);
  });

  it('refuses a subscription id that is not a uuid', () => {
    // Act / Assess
    expect(
      refusal(() => readEnv({ AZURE_SUBSCRIPTION_ID: 'prod' }, ['AZURE_SUBSCRIPTION_ID'])).message,
    ).toContain('AZURE_SUBSCRIPTION_ID');
  });

  it.each([
    { env: { AZURE_RESOURCE_GROUP: 'rg-custom', AZURE_ENV_NAME: 'prod' }, group: 'rg-custom' },
    // A fresh azd environment for an existing deployment: no outputs yet, the group is main.bicep's name.
    { env: { AZURE_ENV_NAME: 'prod' }, group: 'rg-prod' },
  ])('the resource group of $env is $group', ({ env, group }) => {
    // Act / Assess
    expect(resourceGroupOf(env)).toBe(group);
  });
});

describe('preprovision reads the archive policy through Resource Manager', () => {
  const env = { AZURE_ENV_NAME: 'prod', AZURE_SUBSCRIPTION_ID: SUBSCRIPTION };
  const accounts: [number, unknown] = [200, { value: [{ name: 'stzsapkg1' }, { name: 'stzsa1' }] }];

  it('passes a first provision: the resource group does not exist', async () => {
    // Arrange
    const arm = anArm({});
    const lines: string[] = [];

    // Act
    await preprovision(env, credential, (l) => lines.push(l), arm.fetchImpl);

    // Assess
    expect(lines).toEqual([
      'zsa preprovision: no audit archive yet: the provision creates it with its retention policy',
    ]);
    expect(arm.requests).toHaveLength(1);
    expect(arm.requests[0]?.url.pathname).toBe(`${GROUP}/providers/Microsoft.Storage/storageAccounts`);
  });

  it('refuses a provision of a locked archive with the flag unset, asking every account with a bearer token', async () => {
    // Arrange
    const arm = anArm({
      [`${GROUP}/providers/Microsoft.Storage/storageAccounts`]: accounts,
      [policyPath('stzsa1')]: [
        200,
        { properties: { state: 'Locked', immutabilityPeriodSinceCreationInDays: 2555 } },
      ],
    });

    // Act
    const e = await asyncRefusal(() => preprovision(env, credential, () => undefined, arm.fetchImpl));

    // Assess
    expect(e.fix).toMatch(/^azd env set ZSA_AUDIT_ARCHIVE_LOCKED true/);
    expect(arm.requests.map((r) => r.url.pathname)).toEqual([
      `${GROUP}/providers/Microsoft.Storage/storageAccounts`,
      policyPath('stzsapkg1'),
      policyPath('stzsa1'),
    ]);
    expect(arm.requests.every((r) => r.method === 'GET' && r.authorization === 'Bearer arm-token')).toBe(
      true,
    );
    expect(arm.requests.every((r) => r.url.searchParams.get('api-version') === '2023-05-01')).toBe(true);
  });

  it('passes a locked archive once ZSA_AUDIT_ARCHIVE_LOCKED is true', async () => {
    // Arrange
    const arm = anArm({
      [`${GROUP}/providers/Microsoft.Storage/storageAccounts`]: accounts,
      [policyPath('stzsa1')]: [200, { properties: { state: 'Locked' } }],
    });
    const lines: string[] = [];

    // Act
    await preprovision(
      { ...env, ZSA_AUDIT_ARCHIVE_LOCKED: 'true' },
      credential,
      (l) => lines.push(l),
      arm.fetchImpl,
    );

    // Assess
    expect(lines).toEqual([
      'zsa preprovision: audit archive locked: the provision leaves its retention policy alone',
    ]);
  });

  it('stops on a Resource Manager failure other than not found, with the sign-in fix for 403', async () => {
    // Arrange
    const arm = anArm({
      [`${GROUP}/providers/Microsoft.Storage/storageAccounts`]: [
        403,
        { error: { code: 'AuthorizationFailed', message: 'no' } },
      ],
    });

    // Act
    const e = await asyncRefusal(() => preprovision(env, credential, () => undefined, arm.fetchImpl));

    // Assess
    expect(e.message).toContain('AuthorizationFailed');
    expect(e.fix).toMatch(/^azd auth login/);
  });
});

describe('postprovision creates each missing key once and never overwrites one', () => {
  it('on a first provision creates all three keys, distinct and 256-bit, then restarts the app', async () => {
    // Arrange
    const { vault, app, secrets, log } = aVault({});

    // Act
    const created = await postprovision(vault, app, () => undefined);

    // Assess
    expect(created).toEqual([SECRET_NAMES.webhook, SECRET_NAMES.audit, SECRET_NAMES.auditRetired]);
    expect(log).toEqual([
      `set ${SECRET_NAMES.webhook}`,
      `set ${SECRET_NAMES.audit}`,
      `set ${SECRET_NAMES.auditRetired}`,
      'restart',
    ]);
    const values = [...secrets.values()];
    expect(new Set(values).size).toBe(3);
    for (const value of values) expect(Buffer.from(value, 'base64url')).toHaveLength(32);
  });

  it('on a later provision (or from a fresh azd environment) writes nothing and does not restart', async () => {
    // Arrange
    const { vault, app, secrets, log } = aVault({
      [SECRET_NAMES.webhook]: K1,
      [SECRET_NAMES.audit]: K2,
      [SECRET_NAMES.auditRetired]: K3,
    });

    // Act
    await postprovision(vault, app, () => undefined);

    // Assess
    expect(log).toEqual([]);
    expect(Object.fromEntries(secrets)).toEqual({
      [SECRET_NAMES.webhook]: K1,
      [SECRET_NAMES.audit]: K2,
      [SECRET_NAMES.auditRetired]: K3,
    });
  });

  it('keeps the keys it created when the restart fails, and says how to restart', async () => {
    // Arrange
    const { vault, secrets } = aVault({});
    const app: App = {
      name: 'func-test',
      restart: () =>
        Promise.reject(new ToolError('restarting func-test failed (HTTP 500)', 'az functionapp restart …')),
    };
    const lines: string[] = [];

    // Act
    const created = await postprovision(vault, app, (l) => lines.push(l));

    // Assess
    expect(created).toHaveLength(3);
    expect(secrets.size).toBe(3);
    expect(lines.at(-1)).toBe(
      'zsa postprovision: restarting func-test failed (HTTP 500); the app reads the new keys once restarted\n  fix: az functionapp restart …',
    );
  });

  it('creates only the one that is missing', async () => {
    // Arrange
    const { vault, app, secrets, log } = aVault({ [SECRET_NAMES.webhook]: K1, [SECRET_NAMES.audit]: K2 });

    // Act
    await postprovision(
      vault,
      app,
      () => undefined,
      () => K3,
    );

    // Assess
    expect(log).toEqual([`set ${SECRET_NAMES.auditRetired}`, 'restart']);
    expect(secrets.get(SECRET_NAMES.webhook)).toBe(K1);
    expect(secrets.get(SECRET_NAMES.audit)).toBe(K2);
  });
});

describe('rotationPlan: the ordered writes of a rotation', () => {
  const table: {
    name: string;
    kind: Kind;
    current: Parameters<typeof rotationPlan>[1];
    writes: { name: SecretName; value: string }[];
  }[] = [
    {
      name: 'webhook: the new key only',
      kind: 'webhook',
      current: { webhook: K1 },
      writes: [{ name: SECRET_NAMES.webhook, value: NEXT }],
    },
    {
      name: 'audit: the current key retired first, then the new key',
      kind: 'audit',
      current: { audit: K1, auditRetired: K3 },
      writes: [
        { name: SECRET_NAMES.auditRetired, value: `${K3},${K1}` },
        { name: SECRET_NAMES.audit, value: NEXT },
      ],
    },
    {
      name: 'audit: blanks in the retired list dropped',
      kind: 'audit',
      current: { audit: K1, auditRetired: ` ${K3} ,, ${K2}` },
      writes: [
        { name: SECRET_NAMES.auditRetired, value: `${K3},${K2},${K1}` },
        { name: SECRET_NAMES.audit, value: NEXT },
      ],
    },
    {
      name: 'audit run again after stopping between its writes: nothing appended twice',
      kind: 'audit',
      current: { audit: K1, auditRetired: `${K3},${K1}` },
      writes: [{ name: SECRET_NAMES.audit, value: NEXT }],
    },
  ];
  it.each(table)('$name', ({ kind, current, writes }) => {
    // Act / Assess
    expect(rotationPlan(kind, current, NEXT)).toEqual(writes);
  });

  it.each([
    { name: 'webhook key missing', kind: 'webhook' as const, current: {}, next: NEXT, fix: /^azd provision/ },
    {
      name: 'audit key missing',
      kind: 'audit' as const,
      current: { auditRetired: K3 },
      next: NEXT,
      fix: /^azd provision/,
    },
    {
      name: 'new webhook key = current',
      kind: 'webhook' as const,
      current: { webhook: K1 },
      next: K1,
      fix: /receivers/,
    },
    {
      name: 'new audit key already retired',
      kind: 'audit' as const,
      current: { audit: K1, auditRetired: K2 },
      next: K2,
      fix: /again/,
    },
    {
      name: 'audit key with a comma',
      kind: 'audit' as const,
      current: { audit: `${K1},x`, auditRetired: K3 },
      next: NEXT,
      fix: /by hand/,
    },
  ])('refuses: $name', ({ kind, current, next, fix }) => {
    // Act / Assess
    expect(refusal(() => rotationPlan(kind, current, next)).fix).toMatch(fix);
  });
});

describe('rotate: writes in the plan order, then restarts', () => {
  it('audit: retired list, then the new key, then the restart; the old key stays verifiable', async () => {
    // Arrange
    const { vault, app, secrets, log } = aVault({
      [SECRET_NAMES.webhook]: K1,
      [SECRET_NAMES.audit]: K2,
      [SECRET_NAMES.auditRetired]: K3,
    });

    // Act
    await rotate(
      'audit',
      vault,
      app,
      {},
      () => undefined,
      () => NEXT,
    );

    // Assess
    expect(log).toEqual([`set ${SECRET_NAMES.auditRetired}`, `set ${SECRET_NAMES.audit}`, 'restart']);
    expect(secrets.get(SECRET_NAMES.auditRetired)).toBe(`${K3},${K2}`);
    expect(secrets.get(SECRET_NAMES.audit)).toBe(NEXT);
    expect(secrets.get(SECRET_NAMES.webhook)).toBe(K1);
  });

  it('webhook: stores the key receivers were given (ZSA_NEW_WEBHOOK_KEY), then restarts', async () => {
    // Arrange
    const { vault, app, secrets, log } = aVault({ [SECRET_NAMES.webhook]: K1, [SECRET_NAMES.audit]: K2 });

    // Act
    await rotate('webhook', vault, app, { ZSA_NEW_WEBHOOK_KEY: NEXT }, () => undefined);

    // Assess
    expect(log).toEqual([`set ${SECRET_NAMES.webhook}`, 'restart']);
    expect(secrets.get(SECRET_NAMES.webhook)).toBe(NEXT);
  });

  it.each([{ ZSA_NEW_WEBHOOK_KEY: undefined }, { ZSA_NEW_WEBHOOK_KEY: 'short' }])(
    'webhook without a usable new key ($ZSA_NEW_WEBHOOK_KEY) changes nothing',
    async (env) => {
      // Arrange
      const { vault, app, log } = aVault({ [SECRET_NAMES.webhook]: K1 });

      // Act
      const e = await asyncRefusal(() => rotate('webhook', vault, app, env, () => undefined));

      // Assess
      expect(e.fix).toContain('ZSA_NEW_WEBHOOK_KEY=');
      expect(log).toEqual([]);
    },
  );
});

describe('keys and the restart call', () => {
  it('a new key is 32 random bytes in base64url, which the tools accept and which holds no comma', () => {
    // Act
    const keys = Array.from({ length: 20 }, newKey);

    // Assess
    expect(new Set(keys).size).toBe(20);
    for (const key of keys) {
      expect(KeySchema.safeParse(key).success).toBe(true);
      expect(key).not.toContain(',');
      expect(Buffer.from(key, 'base64url')).toHaveLength(32);
    }
  });

  it('restarts the app with a POST to its restart action', async () => {
    // Arrange
    const path = `${GROUP}/providers/Microsoft.Web/sites/func-test/restart`;
    const arm = anArm({ [path]: [200, undefined] });

    // Act
    await restartFunctionApp(
      credential,
      { subscriptionId: SUBSCRIPTION, resourceGroup: 'rg-prod', functionApp: 'func-test' },
      arm.fetchImpl,
    );

    // Assess
    expect(
      arm.requests.map((r) => [r.method, r.url.pathname, r.url.searchParams.get('api-version')]),
    ).toEqual([['POST', path, '2024-04-01']]);
  });

  it('a failed restart is a ToolError', async () => {
    // Arrange
    const arm = anArm({});

    // Act
    const e = await asyncRefusal(() =>
      restartFunctionApp(
        credential,
        { subscriptionId: SUBSCRIPTION, resourceGroup: 'rg-prod', functionApp: 'func-test' },
        arm.fetchImpl,
      ),
    );

    // Assess: the keys are stored by then, so the fix restarts the app, not the rotation
    expect(e.message).toContain('restarting func-test failed (ResourceNotFound');
    expect(e.fix).toMatch(/^az functionapp restart -g rg-prod -n func-test/);
  });
});

describe('failures are one line and the command that fixes them', () => {
  it.each([
    { env: {}, names: ['AZURE_SUBSCRIPTION_ID'] as const, fix: /^azd env set AZURE_SUBSCRIPTION_ID/ },
    { env: {}, names: ['AZURE_ENV_NAME'] as const, fix: /^azd env select/ },
    {
      env: { AZURE_SUBSCRIPTION_ID: SUBSCRIPTION },
      names: ['AZURE_SUBSCRIPTION_ID', 'AZURE_RESOURCE_GROUP'] as const,
      fix: /^azd provision/,
    },
  ])('missing $names: $fix', ({ env, names, fix }) => {
    // Act / Assess
    expect(refusal(() => readEnv(env, names)).fix).toMatch(fix);
  });

  it.each([
    {
      name: 'no role (yet)',
      error: Object.assign(new Error('Forbidden'), { statusCode: 403 }),
      fix: /Key Vault Secrets Officer/,
    },
    {
      name: 'a soft-deleted secret',
      error: Object.assign(new Error('Conflict'), { statusCode: 409 }),
      fix: /^az keyvault secret recover/,
    },
    {
      name: 'no sign-in',
      error: Object.assign(new Error('run azd auth login'), { name: 'CredentialUnavailableError' }),
      fix: /^azd auth login/,
    },
    { name: 'anything else', error: new Error('socket hang up\nat …'), fix: /^run it again/ },
  ])('Key Vault: $name', ({ error, fix }) => {
    // Act
    const e = vaultFailure('kv-test', 'storing zsa-audit-hmac-key', error);

    // Assess
    expect(e.fix).toMatch(fix);
    expect(e.message).not.toContain('\n');
  });
});

describe('postprovision waits for the Key Vault role a first provision just granted', () => {
  const forbidden = () => new ToolError('refused', 'wait', true);

  it.each([
    {
      name: 'refused twice, then allowed: creates the keys after two waits',
      refusals: 2,
      waits: 2,
      created: true,
    },
    {
      name: 'refused every time: gives up after ROLE_WAIT.attempts calls',
      refusals: Infinity,
      waits: ROLE_WAIT.attempts - 1,
      created: false,
    },
  ])('$name', async ({ refusals, waits, created }) => {
    // Arrange
    const { vault, app, log } = aVault({});
    let calls = 0;
    const refusing: Vault = {
      ...vault,
      names: () => (++calls <= refusals ? Promise.reject(forbidden()) : vault.names()),
    };
    const waited: number[] = [];

    // Act
    const outcome = await postprovision(
      refusing,
      app,
      () => undefined,
      newKey,
      (ms) => {
        waited.push(ms);
        return Promise.resolve();
      },
    ).then(
      () => 'done',
      (e: unknown) => e,
    );

    // Assess
    expect(waited).toEqual(Array.from({ length: waits }, () => ROLE_WAIT.intervalMs));
    if (created) {
      expect(outcome).toBe('done');
      expect(log.at(-1)).toBe('restart');
    } else {
      expect(outcome).toBeInstanceOf(ToolError);
      expect(calls).toBe(ROLE_WAIT.attempts);
      expect(log).toEqual([]);
    }
  });

  it('does not wait on any other failure', async () => {
    // Arrange
    const { vault, app } = aVault({});
    const failing: Vault = {
      ...vault,
      names: () => Promise.reject(new ToolError('vault not found', 'check it')),
    };
    const waited: number[] = [];

    // Act
    const e = await asyncRefusal(() =>
      postprovision(
        failing,
        app,
        () => undefined,
        newKey,
        (ms) => {
          waited.push(ms);
          return Promise.resolve();
        },
      ),
    );

    // Assess
    expect(e.message).toBe('vault not found');
    expect(waited).toEqual([]);
  });
});

describe('npm run keys reads the azd environment only when it needs to', () => {
  it('asks azd nothing when every needed value is set (a pipeline, or no azd installed)', async () => {
    // Arrange (asking azd would return a new object, merged with its values)
    const env = { AZURE_KEY_VAULT_NAME: 'kv-test', AZURE_FUNCTION_APP_NAME: 'func-test' };

    // Act
    const got = await withAzdEnv(env, ['AZURE_KEY_VAULT_NAME', 'AZURE_FUNCTION_APP_NAME']);

    // Assess
    expect(got).toBe(env);
  });
});

describe('the npm scripts azure.yaml and the guide call', () => {
  const scripts = (
    JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  ).scripts;

  it.each([
    { script: 'azd:preprovision', tool: 'azd-hooks', args: ' preprovision' },
    { script: 'azd:postprovision', tool: 'azd-hooks', args: ' postprovision' },
    { script: 'keys', tool: 'keys', args: '' },
  ])('npm run $script compiles, then runs infra/tools/$tool.ts$args', ({ script, tool, args }) => {
    // Assess: the compiled file of an existing source, after `tsc -b` alone: no portal build, so a
    // hook never rewrites the dist/portal that `npm run package` copies.
    expect(scripts[script]).toBe(`tsc -b tsconfig.build.json && node dist/infra/tools/${tool}.js${args}`);
    expect(existsSync(join(REPO, 'infra', 'tools', `${tool}.ts`))).toBe(true);
  });
});
