/**
 * azd's provision hooks (azure.yaml): `npm run --silent azd:preprovision` and
 * `npm run --silent azd:postprovision` run `node dist/infra/tools/azd-hooks.js <hook>`.
 *
 * - preprovision: the templates write the audit archive's immutability policy only while
 *   ZSA_AUDIT_ARCHIVE_LOCKED is not `true`, and Azure refuses every write to a locked policy. So before
 *   a provision, read the policy's state through Azure Resource Manager and refuse when the flag and
 *   the archive disagree, saying which `azd env set` makes them agree.
 * - postprovision: the templates never write a secret value (a fresh azd environment would otherwise
 *   replace the keys), so create each signing key that does not exist yet, once, and never touch one
 *   that does; when one was created, restart the app so its Key Vault references resolve at once.
 *   Then, when the provision made the Teams bot (ZSA_TEAMS_BOT_APP_ID is set), write the Teams app
 *   package an admin uploads, dist/teams/zsa-teams.zip, for the bot and the app's host, and print
 *   its path (docs/teams.md).
 *
 * The decisions are the pure functions below; the rest only reads and writes what they decide.
 */
import {
  AUDIT_CONTAINER,
  SECRET_NAMES,
  auditPolicyStates,
  deployedTargets,
  deployerCredential,
  newKey,
  readEnv,
  type App,
  type Fetch,
  type PolicyState,
  type SecretName,
  type Vault,
} from './azure-arm';
import type { TokenCredential } from '@azure/identity';
import { writeTeamsPackage, type ManifestInput } from './teams-package';
import { runTool, ToolError } from './tool';

/**
 * Whether a provision may run, given the audit archive's policy state in each storage account of the
 * resource group and ZSA_AUDIT_ARCHIVE_LOCKED. Accounts without the archive (`absent`: the package
 * account, or nothing provisioned yet) do not count.
 */
export function lockDecision(
  states: readonly { account: string; state: PolicyState }[],
  archiveLockedFlag: boolean,
): { ok: true; message: string } | { ok: false; error: ToolError } {
  const locked = states.filter((s) => s.state === 'Locked').map((s) => s.account);
  const unlocked = states.filter((s) => s.state === 'Unlocked').map((s) => s.account);
  if (locked.length > 0 && !archiveLockedFlag) {
    return {
      ok: false,
      error: new ToolError(
        `the audit archive's retention policy is locked (${locked.map((a) => `${a}/${AUDIT_CONTAINER}`).join(', ')}) and Azure refuses any write to a locked policy, which this provision would send`,
        'azd env set ZSA_AUDIT_ARCHIVE_LOCKED true   (then run the provision again; the templates then leave the policy alone)',
      ),
    };
  }
  if (locked.length === 0 && archiveLockedFlag) {
    const where = unlocked.length > 0 ? `is unlocked (${unlocked.join(', ')})` : 'does not exist yet';
    return {
      ok: false,
      error: new ToolError(
        `ZSA_AUDIT_ARCHIVE_LOCKED is true but the audit archive's retention policy ${where}: the templates would leave the archive without a managed policy`,
        'azd env set ZSA_AUDIT_ARCHIVE_LOCKED false   (set it to true only after locking the policy: docs/deploy.md section 10)',
      ),
    };
  }
  return {
    ok: true,
    message:
      locked.length > 0
        ? 'audit archive locked: the provision leaves its retention policy alone'
        : unlocked.length > 0
          ? 'audit archive unlocked: the provision keeps its retention policy up to date'
          : 'no audit archive yet: the provision creates it with its retention policy',
  };
}

/**
 * The resource group azd provisions: the environment's value once a provision has set it, else the
 * name main.bicep gives it (`rg-<environment>`), so that a fresh azd environment for an existing
 * deployment still finds its archive.
 */
export function resourceGroupOf(env: NodeJS.ProcessEnv): string {
  const set = env.AZURE_RESOURCE_GROUP?.trim();
  return set ? set : `rg-${readEnv(env, ['AZURE_ENV_NAME']).AZURE_ENV_NAME}`;
}

/** The signing keys the vault lacks, in a fixed order. */
export function missingSecrets(existing: Iterable<string>): SecretName[] {
  const have = new Set(existing);
  return Object.values(SECRET_NAMES).filter((name) => !have.has(name));
}

/** How long postprovision waits for a role the provision just granted: Azure RBAC takes minutes to apply. */
export const ROLE_WAIT = { attempts: 10, intervalMs: 30_000 } as const;

/**
 * Runs `call`, again every ROLE_WAIT.intervalMs while Key Vault refuses it for want of a role, up to
 * ROLE_WAIT.attempts times in all; any other failure, or the last refusal, is thrown as is.
 */
export async function untilRoleApplies<T>(
  call: () => Promise<T>,
  print: (line: string) => void,
  wait: (ms: number) => Promise<void>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      if (!(e instanceof ToolError) || !e.forbidden || attempt >= ROLE_WAIT.attempts) throw e;
      print(
        `zsa postprovision: Key Vault refused (its role may not apply yet); trying again in ${ROLE_WAIT.intervalMs / 1000} s`,
      );
      await wait(ROLE_WAIT.intervalMs);
    }
  }
}

export async function preprovision(
  env: NodeJS.ProcessEnv,
  credential: TokenCredential,
  print: (line: string) => void,
  fetchImpl?: Fetch,
): Promise<void> {
  const { AZURE_SUBSCRIPTION_ID, ZSA_AUDIT_ARCHIVE_LOCKED } = readEnv(env, [
    'AZURE_SUBSCRIPTION_ID',
    'ZSA_AUDIT_ARCHIVE_LOCKED',
  ]);
  const resourceGroup = resourceGroupOf(env);
  const states = await auditPolicyStates(
    credential,
    { subscriptionId: AZURE_SUBSCRIPTION_ID, resourceGroup },
    fetchImpl,
  );
  const decision = lockDecision(states, ZSA_AUDIT_ARCHIVE_LOCKED);
  if (!decision.ok) throw decision.error;
  print(`zsa preprovision: ${decision.message}`);
}

export async function postprovision(
  vault: Vault,
  app: App,
  print: (line: string) => void,
  generate: () => string = newKey,
  wait: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
): Promise<SecretName[]> {
  const missing = missingSecrets(await untilRoleApplies(() => vault.names(), print, wait));
  // Each missing secret gets its own random key; the retired-keys list starts as a key nobody ever
  // used (a Key Vault secret cannot be empty), which is harmless among the keys that verify rows.
  for (const name of missing) {
    await vault.set(name, generate());
    print(`zsa postprovision: created ${name} in ${vault.name}`);
  }
  if (missing.length === 0) {
    print(`zsa postprovision: the signing keys exist in ${vault.name}; none changed`);
    return missing;
  }
  // The keys exist now, which is what the provision needs; a failed restart only delays them (the
  // deployment that follows restarts the app, the platform refreshes references within 24 hours),
  // so it is reported, with its fix, without failing `azd up`.
  try {
    await app.restart();
    print(`zsa postprovision: restarted ${app.name} so that it reads the new keys`);
  } catch (e) {
    if (!(e instanceof ToolError)) throw e;
    print(`zsa postprovision: ${e.message}; the app reads the new keys once restarted\n  fix: ${e.fix}`);
  }
  return missing;
}

/**
 * The Teams app package's input from the provision's outputs: the bot's app id and the app's host
 * (the origin of ZSA_API_BASE_URL), or undefined when the provision made no bot (teamsBot false).
 */
export function teamsPackageInput(env: NodeJS.ProcessEnv): ManifestInput | undefined {
  const botId = env['ZSA_TEAMS_BOT_APP_ID']?.trim() ?? '';
  if (botId === '') return undefined;
  const api = env['ZSA_API_BASE_URL']?.trim() ?? '';
  if (!URL.canParse(api))
    throw new ToolError(
      `ZSA_API_BASE_URL is ${JSON.stringify(api)}, not the app's address, so the Teams app package cannot name its host`,
      'azd provision   (it sets ZSA_API_BASE_URL as an output)',
    );
  return { botId, baseUrl: new URL(api).origin, version: '1.0.0' };
}

/** Writes the Teams app package when the provision made the bot; prints where, or why not. */
export function teamsPackageStep(
  env: NodeJS.ProcessEnv,
  print: (line: string) => void,
  write: (input: ManifestInput) => { path: string; bytes: number } = (input) => writeTeamsPackage(input),
): string | undefined {
  const input = teamsPackageInput(env);
  if (input === undefined) {
    print('zsa postprovision: no Teams bot provisioned (teamsBot is false); no Teams app package written');
    return undefined;
  }
  const { path, bytes } = write(input);
  print(
    `zsa postprovision: wrote the Teams app package ${path} (${bytes} bytes) for bot ${input.botId} at ${input.baseUrl}; upload it in the Teams admin center (docs/teams.md)`,
  );
  return path;
}

async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  const print = (line: string) => process.stdout.write(`${line}\n`);
  const credential = deployerCredential();
  switch (argv[0]) {
    case 'preprovision':
      return preprovision(env, credential, print);
    case 'postprovision': {
      const { vault, app } = deployedTargets(env, credential);
      await postprovision(vault, app, print);
      teamsPackageStep(env, print);
      return;
    }
    default:
      throw new ToolError(
        `unknown hook ${JSON.stringify(argv[0] ?? '')}`,
        'npm run azd:preprovision   or   npm run azd:postprovision',
      );
  }
}

if (require.main === module) runTool(() => main(process.argv.slice(2), process.env));
