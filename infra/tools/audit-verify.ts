/**
 * Offline verification of an audit export: `npm run audit:verify -- <file> [--manifest <file>]
 * [--anchors <file>]…`. Reads the file as a stream (JSONL or CSV, detected), recomputes every row's
 * hash and link, checks the order, and holds the rows against the day's manifest (found beside a
 * day export automatically: `dd.jsonl` → `dd.manifest.json`) and against anchor files if given.
 * Prints the result as JSON; exit code 0 = intact, 1 = broken, 2 = usage or read error, 3 = nothing
 * broken but keyed rows could not be checked for want of the chain key.
 *
 * Needs no storage access. Keyed rows need the chain key, read from the environment only (a command
 * line argument would be visible to every user of the machine and kept in shell history):
 * ZSA_AUDIT_CHAIN_KEY (the chain subkey, 64 hex digits: what an auditor is given) or
 * ZSA_AUDIT_HMAC_KEY (the audit key itself, from which the subkey is derived).
 */
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { collectAnchors } from '#shared/audit/archive';
import { ManifestSchema, verifyExport, type Manifest } from '#shared/audit/export-file';
import { AuditKeyPurpose, auditSubkey } from '#shared/audit/keys';

const USAGE =
  'usage: [ZSA_AUDIT_CHAIN_KEY=<hex>] npm run audit:verify -- <export.jsonl|export.csv> [--manifest <manifest.json>] [--anchors <anchors.jsonl>]…';

/** The chain key from the environment, and where it came from; a string when the value is unusable. */
export function chainKeyFromEnv(
  env: NodeJS.ProcessEnv,
): { key: Buffer; source: string } | { key: undefined; source: null } | string {
  const chainKey = env.ZSA_AUDIT_CHAIN_KEY;
  if (chainKey !== undefined && chainKey !== '') {
    if (!/^[0-9a-fA-F]{64}$/.test(chainKey)) return 'ZSA_AUDIT_CHAIN_KEY must be 64 hex digits (32 bytes)';
    return { key: Buffer.from(chainKey, 'hex'), source: 'ZSA_AUDIT_CHAIN_KEY' };
  }
  const auditKey = env.ZSA_AUDIT_HMAC_KEY;
  if (auditKey !== undefined && auditKey !== '') {
    return { key: auditSubkey(auditKey, AuditKeyPurpose.chain), source: 'ZSA_AUDIT_HMAC_KEY' };
  }
  return { key: undefined, source: null };
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

export async function runAuditVerify(
  argv: readonly string[],
  print: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const args = parseArgs(argv);
  const key = chainKeyFromEnv(env);
  const refusal = typeof args === 'string' ? args : typeof key === 'string' ? key : undefined;
  if (refusal !== undefined || typeof args === 'string' || typeof key === 'string') {
    print(`${refusal ?? ''}\n${USAGE}`);
    return 2;
  }
  try {
    const manifestFile = args.manifest ?? manifestBeside(args.file);
    const manifest: Manifest | undefined = manifestFile
      ? ManifestSchema.parse(JSON.parse(readFileSync(manifestFile, 'utf8')))
      : undefined;
    const anchors = collectAnchors(args.anchors.flatMap((f) => readFileSync(f, 'utf8').split('\n')));
    const result = await verifyExport(createReadStream(args.file), {
      manifest,
      anchors: anchors.heads,
      keyedAfter: anchors.keyedAfter,
      chainKey: key.key,
    });
    const broken = result.firstBroken !== undefined || anchors.unreadable > 0;
    const message =
      result.keyedUnchecked > 0
        ? `${result.keyedUnchecked} row(s) are sealed with the audit chain key (HMAC-SHA256) and were NOT checked: ` +
          'without the key, rows written by someone who could write the table cannot be told apart. ' +
          'Set ZSA_AUDIT_CHAIN_KEY (or ZSA_AUDIT_HMAC_KEY) in the environment and run again.'
        : undefined;
    print(
      JSON.stringify(
        {
          file: args.file,
          manifest: manifestFile ?? null,
          chainKey: key.source,
          unreadableAnchors: anchors.unreadable,
          ...result,
          ...(message ? { message } : {}),
        },
        null,
        2,
      ),
    );
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
