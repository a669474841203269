/**
 * Key rotation as a command: `npm run keys -- rotate webhook` and `npm run keys -- rotate audit`
 * (docs/deploy.md section 9). Reads the azd environment of the project folder (`azd env get-values`)
 * and signs in as the deployer (`azd auth login`, else `az login`), who holds "Key Vault Secrets
 * Officer" on the vault.
 *
 * - webhook: stores the new key the operator already gave every receiver (ZSA_NEW_WEBHOOK_KEY, read
 *   from the environment: a command line argument would be visible to every user of the machine), so
 *   that receivers accept the old and the new key while the app switches.
 * - audit: appends the current key to the retired list FIRST, then stores a new random key: if the
 *   command stops between the two writes, the app still seals with the current key, and every key a
 *   row names stays among the keys that verify it.
 *
 * Both then restart the app, so that every instance reads the new secret versions at once.
 */
import { z } from 'zod';
import {
  KeySchema,
  DEPLOYED,
  SECRET_NAMES,
  deployedTargets,
  deployerCredential,
  newKey,
  withAzdEnv,
  type App,
  type SecretName,
  type Vault,
} from './azure-arm';
import { SettingsSchema } from '#shared/config';
import { runTool, ToolError } from './tool';

const USAGE = 'npm run keys -- rotate webhook   |   npm run keys -- rotate audit';

export const KindSchema = z.enum(['webhook', 'audit']);
export type Kind = z.infer<typeof KindSchema>;

/** One write of a rotation, in the order the plan lists them. */
export interface Write {
  name: SecretName;
  value: string;
}

/**
 * The writes a rotation makes, in order, from the secrets' current values and the new key. Refuses a
 * new key that is the current one or a retired one (rows sealed under it could not be told apart by
 * key id), and an audit key holding a comma (it could not be listed among the retired keys).
 */
export function rotationPlan(
  kind: Kind,
  current: { webhook?: string | undefined; audit?: string | undefined; auditRetired?: string | undefined },
  next: string,
): Write[] {
  if (kind === 'webhook') {
    if (current.webhook === undefined) throw missing(SECRET_NAMES.webhook);
    if (next === current.webhook) {
      throw new ToolError(
        'ZSA_NEW_WEBHOOK_KEY is the current webhook signing key',
        'give receivers a new key first (docs/deploy.md section 9)',
      );
    }
    return [{ name: SECRET_NAMES.webhook, value: next }];
  }
  if (current.audit === undefined) throw missing(SECRET_NAMES.audit);
  const audit = current.audit;
  if (audit.includes(',')) {
    throw new ToolError(
      `${SECRET_NAMES.audit} holds a comma, so it cannot be listed among the retired keys`,
      'keep a copy of that key (the rows it sealed need it to verify), then store a new key by hand: docs/deploy.md section 9',
    );
  }
  // Read exactly as the app reads ZSA_AUDIT_HMAC_KEYS_RETIRED: comma-separated, blanks ignored.
  const retired = SettingsSchema.shape.ZSA_AUDIT_HMAC_KEYS_RETIRED.parse(current.auditRetired);
  if (next === audit || retired.includes(next)) {
    throw new ToolError(
      'the new audit key is the current or a retired one',
      'run the command again (it draws a new random key)',
    );
  }
  // Already listed (a rotation that stopped after its first write, run again): nothing to append.
  const writes: Write[] = retired.includes(audit)
    ? []
    : [{ name: SECRET_NAMES.auditRetired, value: [...retired, audit].join(',') }];
  writes.push({ name: SECRET_NAMES.audit, value: next });
  return writes;
}

function missing(name: SecretName): ToolError {
  return new ToolError(
    `${name} does not exist yet, so there is nothing to rotate`,
    'azd provision   (its postprovision hook creates the keys)',
  );
}

/** Runs a rotation against the vault and the app: reads, plans, writes in order, restarts. */
export async function rotate(
  kind: Kind,
  vault: Vault,
  app: App,
  env: NodeJS.ProcessEnv,
  print: (line: string) => void,
  generate: () => string = newKey,
): Promise<Write[]> {
  let next: string;
  if (kind === 'webhook') {
    const given = KeySchema.safeParse(env.ZSA_NEW_WEBHOOK_KEY?.trim());
    if (!given.success) {
      throw new ToolError(
        `ZSA_NEW_WEBHOOK_KEY ${env.ZSA_NEW_WEBHOOK_KEY ? given.error.issues[0]?.message : 'is not set'}: the webhook key is rotated to a key every receiver already accepts`,
        `NEW=$(node -e "console.log(require('node:crypto').randomBytes(32).toString('base64url'))"), give it to the receivers, then: ZSA_NEW_WEBHOOK_KEY="$NEW" npm run keys -- rotate webhook`,
      );
    }
    next = given.data;
  } else {
    next = generate();
  }
  const current =
    kind === 'webhook'
      ? { webhook: await vault.get(SECRET_NAMES.webhook) }
      : {
          audit: await vault.get(SECRET_NAMES.audit),
          auditRetired: await vault.get(SECRET_NAMES.auditRetired),
        };
  const writes = rotationPlan(kind, current, next);
  for (const write of writes) {
    await vault.set(write.name, write.value);
    print(`zsa keys: stored a new version of ${write.name} in ${vault.name}`);
  }
  await app.restart();
  print(
    `zsa keys: restarted ${app.name}; it now ${kind === 'webhook' ? 'signs webhook calls' : 'seals new audit rows'} with the new key`,
  );
  return writes;
}

async function main(argv: readonly string[]): Promise<void> {
  const [verb, kindArg, ...rest] = argv;
  const kind = KindSchema.safeParse(kindArg);
  if (verb !== 'rotate' || !kind.success || rest.length > 0) {
    throw new ToolError(`unknown command ${JSON.stringify(argv.join(' '))}`, USAGE);
  }
  const env = await withAzdEnv(process.env, DEPLOYED);
  const { vault, app } = deployedTargets(env, deployerCredential());
  await rotate(kind.data, vault, app, env, (line) => process.stdout.write(`${line}\n`));
}

if (require.main === module) runTool(() => main(process.argv.slice(2)));
