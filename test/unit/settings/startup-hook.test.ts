/**
 * functions/startup.ts through the real `@azure/functions` hook API: its `appStart` hook throws in
 * a refused Azure environment, which is what fails the worker's start (the Node worker answers the
 * host's init or environment-reload request with the hook's error). The local host's functions-core
 * stands in for the worker's; it runs `appStart` hooks the same way, after loading entry points.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FunctionRegistry, installCoreModule } from '@zsa/local-host/core';

const registry = new FunctionRegistry(() => undefined);
const saved = { ...process.env };

beforeAll(async () => {
  installCoreModule(registry);
  await import('../../../functions/startup.js');
});

afterAll(() => {
  for (const key of Object.keys(process.env)) if (!(key in saved)) Reflect.deleteProperty(process.env, key);
  Object.assign(process.env, saved);
  vi.restoreAllMocks();
});

describe('the appStart hook', () => {
  it('lets the app start outside Azure', async () => {
    // Prepare
    Reflect.deleteProperty(process.env, 'WEBSITE_SITE_NAME');
    Reflect.deleteProperty(process.env, 'WEBSITE_INSTANCE_ID');

    // Act / Assess
    await expect(registry.start(process.cwd())).resolves.toBeUndefined();
  });

  it('fails the start in Azure without token validation, after one clear log line', async () => {
    // Prepare
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    process.env['WEBSITE_SITE_NAME'] = 'func-zsa-test';
    Reflect.deleteProperty(process.env, 'ZSA_AUTH_ISSUER');
    Reflect.deleteProperty(process.env, 'ZSA_AUTH_AUDIENCE');

    // Act
    const started = registry.start(process.cwd());

    // Assess
    await expect(started).rejects.toThrow(/^ZSA refuses to start: Token validation is not configured/);
    expect(logged).toHaveBeenCalledTimes(1);
    expect(String(logged.mock.calls[0]?.[0])).toMatch(/^ZSA refuses to start: /);
  });
});
