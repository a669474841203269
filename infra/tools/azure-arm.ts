/**
 * What the azd hooks (azd-hooks.ts) and `npm run keys` (keys.ts) share: the deployer's credential,
 * the azd environment values they need (validated, a missing one named with the command that sets
 * it), the Key Vault secret names and key format, and the two Azure Resource Manager calls they make
 * (the audit archive's immutability policy, restarting the function app).
 *
 * Everything here runs on the deployer's machine, never in the function app: the app only reads the
 * secrets through Key Vault references and holds no right to write them.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import {
  AzureCliCredential,
  AzureDeveloperCliCredential,
  ChainedTokenCredential,
  type TokenCredential,
} from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { z } from 'zod';
import { ToolError } from './tool';

/** The Key Vault secrets the app settings reference (infra/modules/key-vault.bicep names them). */
export const SECRET_NAMES = {
  webhook: 'zsa-webhook-signing-key',
  audit: 'zsa-audit-hmac-key',
  auditRetired: 'zsa-audit-hmac-keys-retired',
} as const;
export type SecretName = (typeof SECRET_NAMES)[keyof typeof SECRET_NAMES];

/** The audit archive's container: `<ZSA_TABLE_PREFIX>audit`, as main.bicep names it. */
export const AUDIT_CONTAINER = 'zsaaudit';

/**
 * A new key: 32 random bytes, base64url. 256 bits is the HMAC-SHA256 key size, and base64url holds
 * no comma, so a key can always be appended to the comma-separated list of retired audit keys.
 */
export function newKey(): string {
  return randomBytes(32).toString('base64url');
}

/** A key the tools accept to store: base64url of at least 32 bytes (43 characters). */
export const KeySchema = z
  .string()
  .regex(
    /^[A-Za-z0-9_-]{43,}$/,
    'must be base64url of at least 32 bytes (43 characters or more, no padding)',
  );

const nonEmpty = z.string().trim().min(1);

/** Every value the tools may read, as azd names it (main.bicep's outputs, azd's own values). */
const EnvSchema = z.object({
  AZURE_ENV_NAME: nonEmpty,
  // A GUID, not necessarily an RFC 4122 one.
  AZURE_SUBSCRIPTION_ID: z.guid(),
  AZURE_RESOURCE_GROUP: nonEmpty,
  AZURE_KEY_VAULT_NAME: nonEmpty,
  AZURE_FUNCTION_APP_NAME: nonEmpty,
  // azd passes environment values as strings; unset or empty means not locked.
  ZSA_AUDIT_ARCHIVE_LOCKED: z
    .enum(['true', 'false', ''])
    .default('false')
    .transform((v) => v === 'true'),
});
export type AzdEnv = z.infer<typeof EnvSchema>;
type EnvName = keyof AzdEnv;

/**
 * The named values from the environment, validated. A missing or malformed value is one line naming
 * every such value, with where it comes from: azd sets them (outputs of a provision, or `azd env
 * set`), so the usual cause is running outside azd or before the first provision.
 */
export function readEnv<K extends EnvName>(env: NodeJS.ProcessEnv, names: readonly K[]): Pick<AzdEnv, K> {
  // Only the named values are given (an unset one as empty, which the schema refuses as missing
  // where a value is required), so only they can fail.
  const parsed = EnvSchema.partial().safeParse(Object.fromEntries(names.map((n) => [n, env[n] ?? ''])));
  if (parsed.success) return parsed.data as Pick<AzdEnv, K>;
  const bad = [...new Set(parsed.error.issues.map((i) => String(i.path[0])))];
  throw new ToolError(
    `missing or invalid azd environment value${bad.length > 1 ? 's' : ''}: ${bad.join(', ')}`,
    envFix(bad),
  );
}

/** The command that sets the first of the bad values: azd's own ones are set by hand, outputs by a provision. */
function envFix(bad: readonly string[]): string {
  if (bad.includes('ZSA_AUDIT_ARCHIVE_LOCKED')) {
    return 'azd env set ZSA_AUDIT_ARCHIVE_LOCKED false   (or true once the archive is locked: docs/deploy.md section 10)';
  }
  if (bad.includes('AZURE_SUBSCRIPTION_ID'))
    return 'azd env set AZURE_SUBSCRIPTION_ID "$(az account show --query id -o tsv)"';
  if (bad.includes('AZURE_ENV_NAME'))
    return 'azd env select <name>   (or azd env new <name>), from the project folder';
  return 'azd provision   (its outputs set these values), then run the command again from the project folder';
}

/**
 * The azd environment's values, for a command an operator runs outside azd (`npm run keys`); the
 * process's own environment wins, so a value can be overridden for one run, and azd is not asked
 * when every needed value is already set (a pipeline, or azd not installed). Hooks do not need
 * this: azd passes its environment to them.
 */
export async function withAzdEnv(
  env: NodeJS.ProcessEnv,
  needed: readonly EnvName[],
): Promise<NodeJS.ProcessEnv> {
  if (needed.every((name) => (env[name] ?? '').trim() !== '')) return env;
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)('azd', ['env', 'get-values', '--output', 'json'], {
      windowsHide: true,
    }));
  } catch (e) {
    throw new ToolError(
      `cannot read the azd environment (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`,
      'run the command from the project folder, with azd installed and an environment selected (azd env select <name>)',
    );
  }
  const values = z.record(z.string(), z.string()).parse(JSON.parse(stdout));
  return { ...values, ...env };
}

/** The deployer's sign-in: azd's first (`azd auth login`), else the Azure CLI's (`az login`). */
export function deployerCredential(): TokenCredential {
  return new ChainedTokenCredential(new AzureDeveloperCliCredential(), new AzureCliCredential());
}

const ARM = 'https://management.azure.com';
// Stable API versions the templates use for the same resource types (storage.bicep, function-app.bicep).
const STORAGE_API = '2023-05-01';
const WEB_API = '2024-04-01';

export type Fetch = (url: string, init: RequestInit) => Promise<Response>;

async function arm(
  credential: TokenCredential,
  method: 'GET' | 'POST',
  path: string,
  apiVersion: string,
  fetchImpl: Fetch,
): Promise<{ status: number; body: unknown }> {
  let token: { token: string } | null;
  try {
    token = await credential.getToken(`${ARM}/.default`);
  } catch (e) {
    throw signInFailure(e);
  }
  if (!token) throw signInFailure(new Error('no Azure Resource Manager token for the signed-in account'));
  const res = await fetchImpl(`${ARM}${path}?api-version=${apiVersion}`, {
    method,
    headers: { authorization: `Bearer ${token.token}`, 'content-length': '0' },
  });
  const text = await res.text();
  let body: unknown = undefined;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body };
}

const ArmErrorSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

function armFailure(what: string, status: number, body: unknown, retry = 'run it again'): ToolError {
  const parsed = ArmErrorSchema.safeParse(body);
  const detail = parsed.success
    ? `${parsed.data.error.code}: ${parsed.data.error.message}`
    : `HTTP ${status}`;
  return new ToolError(
    `${what} failed (${detail})`,
    status === 401 || status === 403
      ? `azd auth login   (as an account with the rights of docs/deploy.md section 2), then ${retry}`
      : `${retry}; if it persists, check the resource in the Azure portal`,
  );
}

/** The policy states ARM reports for a container's time-based retention (absent: no policy, no container). */
export type PolicyState = 'Locked' | 'Unlocked' | 'absent';

const PolicySchema = z.object({ properties: z.object({ state: z.string().optional() }).optional() });
const AccountListSchema = z.object({ value: z.array(z.object({ name: z.string() })) });

/**
 * The state of the audit archive's immutability policy in every storage account of the resource
 * group (the group, an account or the container missing = a first provision: `absent`). Every
 * account is asked rather than only the one the environment names, so that a fresh azd environment
 * (which knows no account yet) still finds a locked archive an earlier environment made.
 */
export async function auditPolicyStates(
  credential: TokenCredential,
  where: { subscriptionId: string; resourceGroup: string },
  fetchImpl: Fetch = fetch,
): Promise<{ account: string; state: PolicyState }[]> {
  const group = `/subscriptions/${where.subscriptionId}/resourceGroups/${encodeURIComponent(where.resourceGroup)}`;
  const list = await arm(
    credential,
    'GET',
    `${group}/providers/Microsoft.Storage/storageAccounts`,
    STORAGE_API,
    fetchImpl,
  );
  if (list.status === 404) return [];
  if (list.status !== 200)
    throw armFailure(`listing the storage accounts of ${where.resourceGroup}`, list.status, list.body);
  const states: { account: string; state: PolicyState }[] = [];
  for (const { name } of AccountListSchema.parse(list.body).value) {
    const path = `${group}/providers/Microsoft.Storage/storageAccounts/${name}/blobServices/default/containers/${AUDIT_CONTAINER}/immutabilityPolicies/default`;
    const res = await arm(credential, 'GET', path, STORAGE_API, fetchImpl);
    if (res.status === 404) {
      states.push({ account: name, state: 'absent' });
      continue;
    }
    if (res.status !== 200)
      throw armFailure(`reading the immutability policy of ${name}/${AUDIT_CONTAINER}`, res.status, res.body);
    const state = PolicySchema.parse(res.body).properties?.state;
    states.push({ account: name, state: state === 'Locked' || state === 'Unlocked' ? state : 'absent' });
  }
  return states;
}

/**
 * Restarts the function app, so that its Key Vault references are resolved again at once (they are
 * otherwise refreshed within 24 hours) and every instance holds the new keys.
 */
export async function restartFunctionApp(
  credential: TokenCredential,
  where: { subscriptionId: string; resourceGroup: string; functionApp: string },
  fetchImpl: Fetch = fetch,
): Promise<void> {
  const path = `/subscriptions/${where.subscriptionId}/resourceGroups/${encodeURIComponent(where.resourceGroup)}/providers/Microsoft.Web/sites/${encodeURIComponent(where.functionApp)}/restart`;
  const res = await arm(credential, 'POST', path, WEB_API, fetchImpl);
  if (res.status !== 200 && res.status !== 202 && res.status !== 204) {
    // The keys are stored by then: the fix restarts the app alone, not the whole command again.
    throw armFailure(
      `restarting ${where.functionApp}`,
      res.status,
      res.body,
      `az functionapp restart -g ${where.resourceGroup} -n ${where.functionApp}`,
    );
  }
}

/** The function app the keys are for, and how to restart it. */
export interface App {
  readonly name: string;
  restart(): Promise<void>;
}

/** The deployed function app, restarted through Azure Resource Manager. */
export function functionApp(
  e: { AZURE_SUBSCRIPTION_ID: string; AZURE_RESOURCE_GROUP: string; AZURE_FUNCTION_APP_NAME: string },
  credential: TokenCredential,
): App {
  return {
    name: e.AZURE_FUNCTION_APP_NAME,
    restart: () =>
      restartFunctionApp(credential, {
        subscriptionId: e.AZURE_SUBSCRIPTION_ID,
        resourceGroup: e.AZURE_RESOURCE_GROUP,
        functionApp: e.AZURE_FUNCTION_APP_NAME,
      }),
  };
}

/** The few Key Vault operations the tools use: small enough to fake in tests. */
export interface Vault {
  readonly name: string;
  /** Names of the secrets that exist (enabled or not; soft-deleted ones are not listed). */
  names(): Promise<string[]>;
  /** A secret's current value; undefined when the secret does not exist. */
  get(name: SecretName): Promise<string | undefined>;
  /** Stores a new version of a secret (creating it if needed). */
  set(name: SecretName, value: string): Promise<void>;
}

// @azure/identity's errors when no credential of the chain has a signed-in account.
const SIGN_IN_ERRORS = new Set([
  'CredentialUnavailableError',
  'AggregateAuthenticationError',
  'AuthenticationError',
]);

function signInFailure(e: unknown): ToolError {
  const detail = e instanceof Error ? e.message.split('\n')[0] : String(e);
  return new ToolError(
    `cannot sign in to Azure (${detail})`,
    'azd auth login   (or az login), then run it again',
  );
}

const RestErrorSchema = z.object({ statusCode: z.number(), code: z.string().optional() });

/** A Key Vault failure as a ToolError with its fix (the usual ones: no role yet, a soft-deleted secret). */
export function vaultFailure(vault: string, action: string, e: unknown): ToolError {
  if (e instanceof Error && SIGN_IN_ERRORS.has(e.name)) return signInFailure(e);
  const parsed = RestErrorSchema.safeParse(e);
  const detail = e instanceof Error ? e.message.split('\n')[0] : String(e);
  if (parsed.success && parsed.data.statusCode === 403) {
    return new ToolError(
      `${action} in Key Vault ${vault} was refused (${detail})`,
      `wait a few minutes if the provision just granted your "Key Vault Secrets Officer" role, then run it again; otherwise: az role assignment create --role "Key Vault Secrets Officer" --assignee <you> --scope "$(az keyvault show -n ${vault} --query id -o tsv)"`,
      true,
    );
  }
  if (parsed.success && parsed.data.statusCode === 409) {
    return new ToolError(
      `${action} in Key Vault ${vault} conflicts with a deleted secret of that name (${detail})`,
      `az keyvault secret recover --vault-name ${vault} --name <the secret>   (recovering keeps the key rows were sealed with), then run it again`,
    );
  }
  return new ToolError(
    `${action} in Key Vault ${vault} failed (${detail})`,
    'run it again; if it persists, check the vault in the Azure portal',
  );
}

/** The vault through @azure/keyvault-secrets, every failure turned into a ToolError. */
/** The names of what a deployed ZSA is: the subscription and group, the vault, the function app. */
export const DEPLOYED = [
  'AZURE_SUBSCRIPTION_ID',
  'AZURE_RESOURCE_GROUP',
  'AZURE_KEY_VAULT_NAME',
  'AZURE_FUNCTION_APP_NAME',
] as const;

/** The vault holding the signing keys and the app reading them, from `DEPLOYED`'s values. */
export function deployedTargets(env: NodeJS.ProcessEnv, credential: TokenCredential) {
  const e = readEnv(env, DEPLOYED);
  return { vault: keyVault(e.AZURE_KEY_VAULT_NAME, credential), app: functionApp(e, credential) };
}

export function keyVault(name: string, credential: TokenCredential): Vault {
  // Public Azure's vault domain, as Key Vault names it for a vault of this name.
  const client = new SecretClient(`https://${name}.vault.azure.net`, credential);
  return {
    name,
    async names() {
      try {
        const names: string[] = [];
        for await (const properties of client.listPropertiesOfSecrets()) names.push(properties.name);
        return names;
      } catch (e) {
        throw vaultFailure(name, 'listing the secrets', e);
      }
    },
    async get(secret) {
      try {
        return (await client.getSecret(secret)).value;
      } catch (e) {
        if (RestErrorSchema.safeParse(e).data?.statusCode === 404) return undefined;
        throw vaultFailure(name, `reading ${secret}`, e);
      }
    },
    async set(secret, value) {
      try {
        await client.setSecret(secret, value, { contentType: 'text/plain' });
      } catch (e) {
        throw vaultFailure(name, `storing ${secret}`, e);
      }
    },
  };
}
