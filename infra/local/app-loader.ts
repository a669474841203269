/**
 * Finds and reads what Core Tools would: host.json, local.settings.json `Values` (the environment
 * wins, as with `func start`), and the entry points named by package.json `main` (a glob).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { z } from 'zod';

const HostJson = z
  .object({
    version: z.string().optional(),
    extensions: z
      .object({
        http: z.object({ routePrefix: z.string().optional() }).loose().optional(),
        durableTask: z
          .object({
            hubName: z.string().optional(),
            overridableExistingInstanceStates: z.enum(['NonRunningStates', 'AnyState']).optional(),
          })
          .loose()
          .optional(),
        serviceBus: z
          .object({ maxConcurrentCalls: z.number().int().positive().optional() })
          .loose()
          .optional(),
        // The MCP extension's server identity and the instructions it gives every client.
        mcp: z
          .object({
            serverName: z.string().optional(),
            serverVersion: z.string().optional(),
            instructions: z.string().optional(),
          })
          .loose()
          .optional(),
      })
      .loose()
      .optional(),
  })
  .loose();
export type HostJson = z.infer<typeof HostJson>;

const LocalSettings = z
  .object({ IsEncrypted: z.boolean().optional(), Values: z.record(z.string(), z.string()).optional() })
  .loose();

export class StartupError extends Error {}

export function readHostJson(root: string): HostJson {
  const file = join(root, 'host.json');
  if (!existsSync(file)) throw new StartupError(`No host.json in ${root}.`);
  const parsed = HostJson.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new StartupError(`host.json is not valid: ${parsed.error.message}`);
  return parsed.data;
}

/** local.settings.json `Values`, then the environment on top (the environment wins). */
export function readSettings(root: string, env: NodeJS.ProcessEnv): Record<string, string> {
  const file = join(root, 'local.settings.json');
  let values: Record<string, string> = {};
  if (existsSync(file)) {
    const parsed = LocalSettings.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (!parsed.success) throw new StartupError(`local.settings.json is not valid: ${parsed.error.message}`);
    values = parsed.data.Values ?? {};
  }
  const out: Record<string, string> = { ...values };
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

/**
 * The app setting that caps an HTTP request's body on the Functions host, in bytes. host.json has
 * no documented option for it; a body over it is refused with 413 before any function runs.
 */
export const REQUEST_BODY_SIZE_LIMIT_SETTING = 'FUNCTIONS_REQUEST_BODY_SIZE_LIMIT';
const ByteCount = z
  .string()
  .trim()
  .regex(/^[1-9][0-9]{0,14}$/)
  .transform(Number);

/** FUNCTIONS_REQUEST_BODY_SIZE_LIMIT from the settings; undefined when unset (the host's default applies). */
export function requestBodySizeLimit(settings: Readonly<Record<string, string>>): number | undefined {
  const value = settings[REQUEST_BODY_SIZE_LIMIT_SETTING];
  if (value === undefined || value.trim() === '') return undefined;
  const parsed = ByteCount.safeParse(value);
  if (!parsed.success)
    throw new StartupError(
      `${REQUEST_BODY_SIZE_LIMIT_SETTING} is "${value}"; it must be a positive whole number of bytes.`,
    );
  return parsed.data;
}

/** `%NAME%` in host.json values is an app setting, as in the Functions host. */
export function resolveSetting(value: string, settings: Record<string, string>): string {
  return value.replace(/%([^%]+)%/g, (_, name: string) => settings[name] ?? '');
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob.charAt(i);
    if (c === '*') {
      if (glob[i + 1] === '*') {
        re += '(?:.*/)?';
        i += glob[i + 2] === '/' ? 2 : 1;
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Files matched by package.json `main` (or an explicit glob), sorted for a stable load order. */
export function entryPoints(root: string, mainOverride?: string): string[] {
  let main = mainOverride;
  if (!main) {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { main?: unknown };
    if (typeof pkg.main !== 'string')
      throw new StartupError('package.json has no "main" naming the entry points.');
    main = pkg.main;
  }
  const pattern = globToRegExp(main.replace(/^\.\//, ''));
  const staticPrefix = main.replace(/^\.\//, '').split(/[*?]/)[0] ?? '';
  const startDir = join(
    root,
    staticPrefix.includes('/') ? staticPrefix.slice(0, staticPrefix.lastIndexOf('/')) : '.',
  );
  const files: string[] = [];
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (pattern.test(relative(root, full).split(sep).join('/'))) files.push(full);
    }
  };
  if (existsSync(join(root, main)) && statSync(join(root, main)).isFile()) return [join(root, main)];
  walk(startDir);
  if (files.length === 0) {
    throw new StartupError(`No entry points match "${main}". Run "npm run build" first.`);
  }
  return files.sort();
}
