import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

let version: string | undefined;

/** The deployed package's version, read once on first use from the nearest package.json above. */
export function appVersion(): string {
  if (version === undefined) {
    version = 'unknown';
    for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
      const file = join(dir, 'package.json');
      if (!existsSync(file)) continue;
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown };
      if (typeof pkg.version === 'string') version = pkg.version;
      break;
    }
  }
  return version;
}
