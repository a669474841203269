/**
 * Offline verification of an audit export: `npm run audit:verify -- <file> [--manifest <file>]
 * [--anchors <file>]…`. Reads the file as a stream (JSONL or CSV, detected), recomputes every row's
 * hash and link, checks the order, and holds the rows against the day's manifest (found beside a
 * day export automatically: `dd.jsonl` → `dd.manifest.json`) and against anchor files if given.
 * Prints the result as JSON; exit code 0 = intact, 1 = broken, 2 = usage or read error.
 * Needs no storage access and no secrets: an auditor runs it on a copy.
 */
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { ManifestSchema, verifyExport, type Manifest } from '#shared/audit/export-file';
import { parseAnchorLine } from '#shared/audit/archive';
import type { AnchoredHead } from '#shared/audit/verify';

const USAGE =
  'usage: npm run audit:verify -- <export.jsonl|export.csv> [--manifest <manifest.json>] [--anchors <anchors.jsonl>]…';

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
): Promise<number> {
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    print(`${args}\n${USAGE}`);
    return 2;
  }
  try {
    const manifestFile = args.manifest ?? manifestBeside(args.file);
    const manifest: Manifest | undefined = manifestFile
      ? ManifestSchema.parse(JSON.parse(readFileSync(manifestFile, 'utf8')))
      : undefined;
    const anchors: AnchoredHead[] = [];
    let unreadableAnchors = 0;
    for (const anchorFile of args.anchors) {
      for (const line of readFileSync(anchorFile, 'utf8').split('\n')) {
        if (line.trim() === '') continue;
        const parsed = parseAnchorLine(line);
        if (parsed) anchors.push(...parsed.heads);
        else unreadableAnchors += 1;
      }
    }
    const result = await verifyExport(createReadStream(args.file), { manifest, anchors });
    print(
      JSON.stringify(
        { file: args.file, manifest: manifestFile ?? null, unreadableAnchors, ...result },
        null,
        2,
      ),
    );
    return result.ok && unreadableAnchors === 0 ? 0 : 1;
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
