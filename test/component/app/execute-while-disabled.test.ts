/**
 * While privileged access is disabled, admins keep standing execution by default; with
 * `ZSA_ADMINS_EXECUTE_WHILE_DISABLED=false` disabling is a full stop, admins included. Real Azurite,
 * a real webhook on loopback, and the real `POST /api/execute` handler.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resetDeps } from '#shared/app/deps';
import { resetSettingsCache } from '#shared/config';
import { catalogTaskPut } from '../../../functions/catalog';
import { execute } from '../../../functions/execute';
import { call, startComponentEnv, type ComponentEnv } from '../../support/component';

let env: ComponentEnv;
let webhook: Server;
let runs = 0;
let admin: string;

beforeAll(async () => {
  env = await startComponentEnv();
  webhook = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      runs += 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"done":true}');
    });
  });
  await new Promise<void>((r) => webhook.listen(0, '127.0.0.1', () => r()));
  const address = webhook.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  admin = await env.token('admin@contoso.com', ['PAM.Admin']);
  // Privileged access is never enabled in this file: it starts disabled.
  const put = await call(catalogTaskPut, {
    method: 'PUT',
    path: '/x',
    token: admin,
    body: {
      name: 'Break\\Fix',
      description: 'd',
      executor: { type: 'webhook', url: `http://127.0.0.1:${port}/run` },
    },
  });
  expect(put.status).toBeLessThan(300);
}, 60_000);

afterAll(async () => {
  await new Promise<void>((r) => webhook.close(() => r()));
  await env.close();
});

/** The settings as the app reads them at start: change, then rebuild the app's dependencies. */
async function withSetting(value: string | undefined): Promise<void> {
  if (value === undefined) Reflect.deleteProperty(process.env, 'ZSA_ADMINS_EXECUTE_WHILE_DISABLED');
  else process.env.ZSA_ADMINS_EXECUTE_WHILE_DISABLED = value;
  resetSettingsCache();
  await resetDeps();
}

async function runAsAdmin(): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await call(execute, {
    method: 'POST',
    path: '/api/execute',
    token: admin,
    body: { task: 'Break\\Fix' },
    durableClient: true,
  });
  return { status: res.status, body: res.body as Record<string, unknown> };
}

describe('executing while privileged access is disabled', () => {
  it('by default an admin still executes (standing access while disabled)', async () => {
    // Prepare
    await withSetting(undefined);
    const before = runs;

    // Act
    const res = await runAsAdmin();

    // Assess
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('succeeded');
    expect(runs).toBe(before + 1);
  });

  it('with ZSA_ADMINS_EXECUTE_WHILE_DISABLED=false an admin is refused and nothing runs', async () => {
    // Prepare
    await withSetting('false');
    const before = runs;

    // Act
    const res = await runAsAdmin();

    // Assess
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('NO_ACTIVE_GRANT');
    expect(res.body.detail).toMatch(/nobody may execute/);
    expect(runs).toBe(before);
  });
});
