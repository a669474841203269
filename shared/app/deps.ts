/**
 * The app's wiring: adapters built once from the settings, on first use (no I/O at import time).
 * Handlers and activities take what they need from here; tests of pure rules never touch it.
 */
import { createAuthenticator, type Authenticator } from '#shared/auth/index';
import { settings, type Settings } from '#shared/config';
import { createTables, type Tables } from '#shared/adapters/tables';

export interface Deps {
  settings: Settings;
  tables: Tables;
  authenticator: Authenticator;
  /** The clock; every rule takes `now` from here, once per operation. */
  now: () => Date;
}

let deps: Deps | undefined;

export function getDeps(): Deps {
  if (!deps) {
    const s = settings();
    deps = {
      settings: s,
      tables: createTables(s),
      authenticator: createAuthenticator({
        issuer: s.ZSA_AUTH_ISSUER,
        audience: s.ZSA_AUTH_AUDIENCE,
        trustEasyAuth: s.ZSA_TRUST_EASY_AUTH,
      }),
      now: () => new Date(),
    };
  }
  return deps;
}
