/**
 * The `zsa` command line's sign-in rules that the end-to-end file (test/e2e/zsa-cli.test.ts) does
 * not reach on the local host: which URLs it talks to, how a claims challenge is read and turned
 * into what the development issuer proves, and that its files are private whatever the umask.
 */
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { claimsChallenge, openApi } from '../../../cli/api';
import { Exit } from '../../../cli/errors';
import { serviceUrl, stepUp, type AuthIo } from '../../../cli/auth';
import { loadSession, saveSession, writePrivate, type Session } from '../../../cli/session';
import { claimsChallenge as serverChallenge } from '#shared/domain/step-up';

function profile(): string {
  return mkdtempSync(join(tmpdir(), 'zsa-cli-unit-'));
}

/** An io whose fetch answers like `POST /dev/token` and records each body it was sent. */
function devIssuer(dir: string): { io: AuthIo; bodies: unknown[] } {
  const bodies: unknown[] = [];
  const io: AuthIo = {
    dir,
    tell: () => undefined,
    fetch: (_url, init) => {
      bodies.push(JSON.parse(typeof init?.body === 'string' ? init.body : 'null'));
      return Promise.resolve(Response.json({ access_token: `token-${bodies.length}`, expires_in: 3600 }));
    },
  };
  return { io, bodies };
}

const LOCAL: Session = {
  url: 'http://127.0.0.1:7071',
  signIn: {
    kind: 'local',
    tokenEndpoint: 'http://127.0.0.1:7071/dev/token',
    upn: 'bob@contoso.com',
    roles: [],
    acrs: [],
    amr: [],
  },
  accessToken: 'token-0',
  expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
};

describe('zsa sign-in', () => {
  it.each([
    ['https://zsa.contoso.com/', 'https://zsa.contoso.com'],
    ['http://127.0.0.1:7071', 'http://127.0.0.1:7071'],
    ['http://localhost:7071/', 'http://localhost:7071'],
  ])('takes %s as the service %s', (given, expected) => {
    // Act + Assess
    expect(serviceUrl(given)).toBe(expected);
  });

  it.each(['http://zsa.contoso.com', 'ftp://127.0.0.1', 'not a url'])('refuses %s', (given) => {
    // Act + Assess: plain http only to this machine; a token would travel readable otherwise.
    expect(() => serviceUrl(given)).toThrow();
  });

  it.each([
    [serverChallenge('c1'), 'c1'],
    [serverChallenge('mfa'), 'mfa'],
  ])('reads the claims out of the service’s own challenge (%s)', (header, required) => {
    // Act
    const claims = claimsChallenge(header);

    // Assess
    expect(JSON.stringify(JSON.parse(Buffer.from(claims ?? '', 'base64').toString('utf8')))).toContain(
      required,
    );
  });

  it.each([null, 'Bearer error="invalid_token"', 'Bearer realm="zsa"'])(
    'sees no claims challenge in %s',
    (header) => {
      // Act + Assess: an expired or bad token is a sign-in problem, not a step-up.
      expect(claimsChallenge(header)).toBeUndefined();
    },
  );

  it.each([
    ['c1', { acrs: ['c1'] }],
    ['mfa', { amr: ['mfa'] }],
  ])(
    'steps up at the development issuer to prove %s, and keeps it in the session',
    async (required, proof) => {
      // Arrange
      const dir = profile();
      const { io, bodies } = devIssuer(dir);
      const claims = claimsChallenge(serverChallenge(required)) ?? '';

      // Act
      const session = await stepUp(LOCAL, claims, io);

      // Assess
      expect(bodies).toEqual([{ upn: 'bob@contoso.com', roles: [], ...proof }]);
      expect(session.accessToken).toBe('token-1');
      expect(loadSession(dir)).toMatchObject({ signIn: proof });
    },
  );

  it('refuses a claims challenge it cannot read', async () => {
    // Arrange
    const { io, bodies } = devIssuer(profile());

    // Act + Assess
    await expect(stepUp(LOCAL, Buffer.from('not json').toString('base64'), io)).rejects.toThrow(
      'cannot be read',
    );
    expect(bodies).toEqual([]);
  });

  it('signs in again once for a claims challenge, and stops with exit 3 when the service still asks', async () => {
    // Arrange: a service that challenges every call, and the development issuer beside it.
    const dir = profile();
    saveSession(dir, LOCAL);
    const calls: string[] = [];
    const io: AuthIo = {
      dir,
      tell: () => undefined,
      fetch: (input) => {
        const url = input instanceof Request ? input.url : input.toString();
        calls.push(url);
        if (url.endsWith('/dev/token'))
          return Promise.resolve(Response.json({ access_token: `token-${calls.length}`, expires_in: 3600 }));
        return Promise.resolve(
          Response.json(
            { type: 'about:blank', title: 'Unauthorized', status: 401, detail: 'step up' },
            {
              status: 401,
              headers: { 'www-authenticate': serverChallenge('c1') },
            },
          ),
        );
      },
    };

    // Act
    const api = openApi(io);
    const attempt = api.json('POST', '/api/requests/r1/approve', { body: {} });

    // Assess: the call, one sign-in, the call again; then a sign-in error, never a loop.
    await expect(attempt).rejects.toMatchObject({ exitCode: Exit.signIn });
    expect(calls.map((u) => new URL(u).pathname)).toEqual([
      '/api/requests/r1/approve',
      '/dev/token',
      '/api/requests/r1/approve',
    ]);
  });

  it('writes its files 0600 in a 0700 folder, even over a file left readable', () => {
    // Arrange
    const dir = profile();
    writeFileSync(join(dir, 'session.json'), '{}', { mode: 0o644 });

    // Act
    writePrivate(dir, 'session.json', '{}');

    // Assess
    expect(statSync(join(dir, 'session.json')).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });
});
