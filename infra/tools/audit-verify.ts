/**
 * Offline verification of an audit export: `npm run audit:verify -- <file> [--manifest <file>]
 * [--anchors <file>]…`. Reads the file as a stream (JSONL or CSV, detected), recomputes every row's
 * hash and link, checks the order, and holds the rows against the day's manifest (found beside a
 * day export automatically: `dd.jsonl` → `dd.manifest.json`) and against anchor files if given.
 * Prints the result as JSON; exit code 0 = intact, 1 = broken, 2 = usage or read error, 3 = nothing
 * broken but keyed rows could not be checked for want of the chain key.
 *
 * Needs no storage access. Keyed rows need the chain keys that sealed them (each row names its key
 * by id), read from the environment only (a command line argument would be visible to every user of
 * the machine and kept in shell history), all of these together forming one key ring:
 * ZSA_AUDIT_CHAIN_KEYS (chain subkeys, 64 hex digits each, comma-separated: what an auditor is given,
 * one per key the log has been sealed with), ZSA_AUDIT_CHAIN_KEY (one subkey), ZSA_AUDIT_HMAC_KEY and
 * ZSA_AUDIT_HMAC_KEYS_RETIRED (audit keys themselves, from which the subkeys are derived). The result
 * names each key given by its id and says, per key id the rows name, how many rows it checked.
 */
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { collectAnchors } from '#shared/audit/archive';
import { ManifestSchema, verifyExport, type Manifest } from '#shared/audit/export-file';
import { AuditKeyPurpose, auditSubkey, chainKeyId, type KeyRing } from '#shared/audit/keys';

const USAGE =
  'usage: [ZSA_AUDIT_CHAIN_KEYS=<hex>,<hex>…] npm run audit:verify -- <export.jsonl|export.csv> [--manifest <manifest.json>] [--anchors <anchors.jsonl>]…';

const CHAIN_KEY_HEX = /^[0-9a-fA-F]{64}$/;

export interface EnvKeys {
  ring: KeyRing;
  /** Each key given, by id, with the variable it came from (never the key). */
  given: { kid: string; source: string }[];
}

/** The key ring from the environment; a string when a value is unusable. */
export function chainKeysFromEnv(env: NodeJS.ProcessEnv): EnvKeys | string {
  const ring = new Map<string, Uint8Array>();
  const given: EnvKeys['given'] = [];
  const add = (key: Uint8Array, source: string) => {
    const kid = chainKeyId(key);
    if (ring.has(kid)) return;
    ring.set(kid, key);
    given.push({ kid, source });
  };
  const list = (name: string) =>
    (env[name] ?? '')
      .split(',')
      .map((v) => v.trim())
      .filter((v) => v.length > 0);
  for (const name of ['ZSA_AUDIT_CHAIN_KEYS', 'ZSA_AUDIT_CHAIN_KEY']) {
    const values = name === 'ZSA_AUDIT_CHAIN_KEY' ? [(env[name] ?? '').trim()].filter(Boolean) : list(name);
    for (const [i, value] of values.entries()) {
      if (!CHAIN_KEY_HEX.test(value)) {
        return `${name} must be ${name.endsWith('S') ? 'comma-separated chain keys of ' : ''}64 hex digits (32 bytes)`;
      }
      add(Buffer.from(value, 'hex'), values.length > 1 ? `${name}[${i}]` : name);
    }
  }
  const current = (env.ZSA_AUDIT_HMAC_KEY ?? '').trim();
  if (current !== '') add(auditSubkey(current, AuditKeyPurpose.chain), 'ZSA_AUDIT_HMAC_KEY');
  for (const [i, retired] of list('ZSA_AUDIT_HMAC_KEYS_RETIRED').entries()) {
    add(auditSubkey(retired, AuditKeyPurpose.chain), `ZSA_AUDIT_HMAC_KEYS_RETIRED[${i}]`);
  }
  return { ring, given };
}

interface Args {
  file: string;
  manifest?: string | undefined;
  anchors: string[];
}

function parseArgs(argv: readonly string[]): Args | string {
  const anchors: string[] = [];
  let file: string | undefined;
  let manifest: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--manifest' || arg === '--anchors') {
      const value = argv[++i];
      if (value === undefined) return `${arg} needs a file`;
      if (arg === '--manifest') manifest = value;
      else anchors.push(value);
    } else if (arg?.startsWith('--')) {
      return `unknown option ${arg}`;
    } else if (arg !== undefined) {
      if (file !== undefined) return 'give one export file';
      file = arg;
    }
  }
  return file === undefined ? 'give the export file to verify' : { file, manifest, anchors };
}

/** `audit/2030/01/01.jsonl` → `audit/2030/01/01.manifest.json`, when it exists. */
function manifestBeside(file: string): string | undefined {
  const candidate = file.replace(/\.(jsonl|ndjson|csv)$/i, '.manifest.json');
  return candidate !== file && existsSync(candidate) ? candidate : undefined;
}

/**
 * One export file checked: its manifest (given, or the one beside it), the anchors given, every row
 * with the keys of `keys`. What `npm run audit:verify` and `zsa audit verify` both report.
 */
export async function verifyFile(
  file: string,
  opts: { manifest?: string | undefined; anchors: readonly string[] },
  keys: EnvKeys,
) {
  const manifestFile = opts.manifest ?? manifestBeside(file);
  const manifest: Manifest | undefined = manifestFile
    ? ManifestSchema.parse(JSON.parse(readFileSync(manifestFile, 'utf8')))
    : undefined;
  const anchors = collectAnchors(opts.anchors.flatMap((f) => readFileSync(f, 'utf8').split('\n')));
  const result = await verifyExport(createReadStream(file), {
    manifest,
    anchors: anchors.heads,
    keyedAfter: anchors.keyedAfter,
    chainKeys: keys.ring,
  });
  const report = {
    file,
    manifest: manifestFile ?? null,
    chainKeys: keys.given,
    unreadableAnchors: anchors.unreadable,
    ...result,
  };
  return { report, result, anchors };
}

export async function runAuditVerify(
  argv: readonly string[],
  print: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const args = parseArgs(argv);
  const keys = chainKeysFromEnv(env);
  const refusal = typeof args === 'string' ? args : typeof keys === 'string' ? keys : undefined;
  if (refusal !== undefined || typeof args === 'string' || typeof keys === 'string') {
    print(`${refusal ?? ''}\n${USAGE}`);
    return 2;
  }
  try {
    const { report, result, anchors } = await verifyFile(args.file, args, keys);
    const broken = result.firstBroken !== undefined || anchors.unreadable > 0;
    const unknown = Object.entries(result.keyIds)
      .filter(([kid]) => !keys.ring.has(kid))
      .map(([kid]) => kid);
    const message =
      result.keyedUnchecked > 0
        ? `${result.keyedUnchecked} row(s) are sealed with the audit chain key (HMAC-SHA256) and were NOT checked: ` +
          'without the key, rows written by someone who could write the table cannot be told apart. ' +
          'Set ZSA_AUDIT_CHAIN_KEYS (or ZSA_AUDIT_HMAC_KEY) in the environment and run again.'
        : unknown.length > 0
          ? `Rows name key id(s) ${unknown.join(', ')}, which none of the keys given has: give the chain key of ` +
            'each retired audit key too (ZSA_AUDIT_CHAIN_KEYS, or ZSA_AUDIT_HMAC_KEYS_RETIRED). A key id no ' +
            'audit key of the deployment has means a row sealed by someone else.'
          : undefined;
    print(JSON.stringify({ ...report, ...(message ? { message } : {}) }, null, 2));
    if (broken) return 1;
    return result.keyedUnchecked > 0 ? 3 : 0;
  } catch (e) {
    print(`cannot verify ${args.file}: ${e instanceof Error ? e.message : String(e)}`);
    return 2;
  }
}

if (require.main === module) {
  void runAuditVerify(process.argv.slice(2), (line) => process.stdout.write(`${line}\n`)).then((code) => {
    process.exitCode = code;
  });
}
