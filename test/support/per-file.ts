/**
 * Runs before each integration test file. Files share a worker process (vitest `isolate: false`:
 * loading the SDKs once per worker instead of once per file is most of the suite's speed), so each
 * file starts from the environment the worker began with, and the app's settings and dependencies
 * are built again from it: nothing one file configured reaches the next, nor a host it starts.
 */
import { beforeAll } from 'vitest';
import { resetDeps } from '#shared/app/deps';
import { resetSettingsCache } from '#shared/config';

const PRISTINE_KEY = Symbol.for('zsa.test.pristineEnv');
const holder = globalThis as typeof globalThis & {
  [PRISTINE_KEY]?: Readonly<Record<string, string | undefined>>;
};
const pristine = (holder[PRISTINE_KEY] ??= { ...process.env });

for (const key of Object.keys(process.env)) if (!(key in pristine)) Reflect.deleteProperty(process.env, key);
Object.assign(process.env, pristine);
resetSettingsCache();
beforeAll(() => resetDeps());
