/**
 * The development issuer's two agent token kinds (issue #19): an application's own token and a
 * user's token through an agent client, through `POST /dev/token` as a developer asks for them.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDevIssuer, DEV_TENANT_ID, devAppId, devUserId, type DevIssuer } from '@zsa/local-host';

let server: Server;
let origin: string;
let issuer: DevIssuer;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void issuer.handle(req, res, Buffer.concat(chunks)).then((handled) => {
        if (!handled) res.writeHead(404).end();
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  issuer = await createDevIssuer({ issuer: `${origin}/dev`, audience: 'api://zsa-test' });
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

async function token(body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${origin}/dev/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('development issuer agent tokens', () => {
  it('mints an application token with no user in it, its oid stable per app name', async () => {
    // Act
    const { status, json } = await token({ app: 'agent-1', roles: ['Agent.Run'] });

    // Assert
    expect(status).toBe(200);
    const claims = decodeJwt(String(json.access_token));
    expect(claims).toMatchObject({
      tid: DEV_TENANT_ID,
      oid: devAppId('agent-1'),
      sub: devAppId('agent-1'),
      idtyp: 'app',
      azp: 'agent-1',
      appid: 'agent-1',
      roles: ['Agent.Run'],
    });
    for (const userClaim of ['upn', 'preferred_username', 'name', 'scp'])
      expect(claims).not.toHaveProperty(userClaim);
    expect(devAppId('agent-1')).not.toBe(devAppId('agent-2'));
    expect(devAppId('bob@contoso.com')).not.toBe(devUserId('bob@contoso.com'));
  });

  it("mints a user's token through an agent client, naming the client", async () => {
    // Act
    const { status, json } = await token({ upn: 'Bob@Contoso.com', azp: 'vscode-agent' });

    // Assert
    expect(status).toBe(200);
    const claims = decodeJwt(String(json.access_token));
    expect(claims).toMatchObject({
      oid: devUserId('bob@contoso.com'),
      upn: 'bob@contoso.com',
      azp: 'vscode-agent',
      appid: 'vscode-agent',
    });
    expect(claims).not.toHaveProperty('idtyp');
    // Without azp, a user's token names no client, as before.
    expect(decodeJwt(String((await token({ upn: 'bob@contoso.com' })).json.access_token))).not.toHaveProperty(
      'azp',
    );
  });

  it.each([
    { case: 'an app with a user field', body: { app: 'agent-1', upn: 'bob@contoso.com' }, path: '' },
    { case: 'an app name that is no client name', body: { app: 'agent 1!' }, path: 'app' },
    { case: 'a client name that is no client name', body: { upn: 'bob@contoso.com', azp: '' }, path: 'azp' },
  ])('refuses $case, naming the field', async ({ body, path }) => {
    // Act
    const { status, json } = await token(body);

    // Assert
    expect(status).toBe(400);
    expect((json.errors as { path: string }[]).map((e) => e.path)).toContain(path);
  });
});
