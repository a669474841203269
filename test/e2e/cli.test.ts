/**
 * The local host's command line, as a developer meets it: the banner, a clean stop that takes
 * Azurite with it, and one-line reasons when it cannot start.
 */
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { TableServiceClient } from '@azure/data-tables';
import { startAzurite } from '@zsa/local-host';
import { caller } from '../support/api';
import { ROOT, START_SCRIPT as CLI, startLocalHost } from '../support/local-host';

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

describe('npm start (the local host CLI)', () => {
  it('prints a banner with the URLs, serves health, and stops everything on SIGTERM within seconds', async () => {
    const host = await startLocalHost();
    const banner = host.output();
    expect(banner).toContain('development only');
    // The portal first, before the API and the host's own URLs: it is what a newcomer opens.
    const portalLine = banner.indexOf(`  Portal       ${host.url}/\n`);
    expect(portalLine).toBeGreaterThan(banner.indexOf('development only'));
    expect(portalLine).toBeLessThan(banner.indexOf(`  API          ${host.url}/api`));
    expect(banner).toContain(`${host.url}/api/health`);
    expect(banner).toContain('/dev/mailbox');
    const tablePort = Number(/tables on 127\.0\.0\.1:(\d+)/.exec(banner)?.[1]);
    expect(tablePort).toBeGreaterThan(0);
    const health = await fetch(`${host.url}/api/health`);
    expect(await health.json()).toMatchObject({ status: 'ok' });
    expect(await portOpen(tablePort)).toBe(true);

    const started = Date.now();
    const code = await host.stop();
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(8000);
    // Azurite went with it.
    await expect.poll(() => portOpen(tablePort), { timeout: 6000 }).toBe(false);
  }, 60_000);

  it('exits non-zero with a one-line reason when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const address = blocker.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      const run = spawnSync(process.execPath, [CLI, '--port', String(port), '--in-memory'], {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(run.status).toBe(1);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toContain(`Port ${port} is already in use`);
    } finally {
      blocker.close();
    }
  });

  it('exits non-zero with a one-line reason when the app is not built', () => {
    const run = spawnSync(
      process.execPath,
      [CLI, '--port', '0', '--in-memory', '--main', 'dist/nothing-here/*.js'],
      {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain('npm run build');
  });

  it('rejects unknown options with usage', () => {
    const run = spawnSync(process.execPath, [CLI, '--bogus'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('usage: npm start');
  });
});

describe('storage the settings point at', () => {
  // Also the fresh-clone experience: no settings at all, and audited changes still work (the host
  // generates development keys).
  it('uses an explicit AzureWebJobsStorage instead of starting its own Azurite', async () => {
    const external = await startAzurite({ log: () => undefined });
    try {
      const host = await startLocalHost({ env: { AzureWebJobsStorage: external.connectionString } });
      try {
        expect(host.output()).toContain('Storage      from AzureWebJobsStorage');
        const admin = await caller(host.url, 'admin@contoso.com', ['PAM.Admin']);
        expect(
          (await admin.put('/api/approver-groups/elsewhere', { members: ['a@contoso.com'] })).status,
        ).toBe(201);
        const tables: string[] = [];
        const service = TableServiceClient.fromConnectionString(external.connectionString, {
          allowInsecureConnection: true,
        });
        for await (const t of service.listTables()) tables.push(t.name ?? '');
        // The app's tables and the durable hub's live in the storage we named.
        expect(tables.some((t) => t.startsWith('zsa'))).toBe(true);
        expect(tables.some((t) => t.endsWith('Durable'))).toBe(true);
      } finally {
        await host.stop();
      }
    } finally {
      await external.close();
    }
  }, 90_000);
});
