/**
 * Where `zsa` keeps who is signed in: a folder in the user's profile (`~/.zsa`, or `ZSA_HOME`), with
 * the session and MSAL's token cache in files only the user can read (0600, folder 0700). Access
 * tokens grant what the user may do, so no other account on the machine may read them.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';

/** The profile folder: `ZSA_HOME` (tests, several identities on one machine), else `~/.zsa`. */
export function profileDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.ZSA_HOME?.trim();
  return fromEnv ? fromEnv : join(homedir(), '.zsa');
}

const LocalSignIn = z.strictObject({
  kind: z.literal('local'),
  /** The development issuer's token endpoint (`POST /dev/token`), always on loopback. */
  tokenEndpoint: z.url(),
  upn: z.string().min(1),
  roles: z.array(z.string()),
  /** What the last stronger sign-in proved, kept so a renewed token proves it too. */
  acrs: z.array(z.string()),
  amr: z.array(z.string()),
});

const EntraSignIn = z.strictObject({
  kind: z.literal('entra'),
  authority: z.url(),
  clientId: z.string().min(1),
  scope: z.string().min(1),
  /** MSAL's account key, to find the account in the token cache. */
  homeAccountId: z.string().min(1),
  username: z.string(),
});

export const SessionSchema = z.strictObject({
  /** The ZSA service every command talks to. */
  url: z.url(),
  signIn: z.discriminatedUnion('kind', [LocalSignIn, EntraSignIn]),
  accessToken: z.string().min(1),
  /** ISO instant the access token stops being accepted. */
  expiresAt: z.iso.datetime(),
});
export type Session = z.infer<typeof SessionSchema>;
export type LocalSignIn = z.infer<typeof LocalSignIn>;
export type EntraSignIn = z.infer<typeof EntraSignIn>;

const SESSION_FILE = 'session.json';
export const MSAL_CACHE_FILE = 'msal-cache.json';

/** Writes a file only its owner may read or write, whatever the umask, replacing any older one. */
export function writePrivate(dir: string, name: string, content: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const path = join(dir, name);
  writeFileSync(path, content, { mode: 0o600 });
  // `mode` only applies when the file is created: a file left by an older version keeps its mode.
  chmodSync(path, 0o600);
}

export function readPrivate(dir: string, name: string): string | undefined {
  const path = join(dir, name);
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

/** The saved session, or undefined when nobody is signed in (or the file is not ours to trust). */
export function loadSession(dir: string): Session | undefined {
  const text = readPrivate(dir, SESSION_FILE);
  if (text === undefined) return undefined;
  try {
    const parsed = SessionSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export function saveSession(dir: string, session: Session): void {
  writePrivate(dir, SESSION_FILE, `${JSON.stringify(session, null, 2)}\n`);
}

/** Forgets the session and every cached token. */
export function clearSession(dir: string): void {
  for (const name of [SESSION_FILE, MSAL_CACHE_FILE]) rmSync(join(dir, name), { force: true });
}
