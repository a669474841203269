import { createHmac, hkdfSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createRedactor, isSecretName, looksLikeKey, sortedJson } from '#shared/audit/redact';
import { signature } from '#shared/executors/webhook';

const KEY = 'unit-test-key';
const redactor = createRedactor(KEY);
/** As docs/audit.md tells auditors to compute it: HMAC-SHA256 under HKDF(key, "zsa audit redaction v1"). */
const REDACTION_KEY = Buffer.from(hkdfSync('sha256', KEY, Buffer.alloc(0), 'zsa audit redaction v1', 32));
const digestOf = (value: string) =>
  `hmac-sha256:${createHmac('sha256', REDACTION_KEY).update(value).digest('hex')}`;

const JWT =
  'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.c2lnbmF0dXJlLWJ5dGVzLWhlcmU';
const STORAGE_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

describe('secret names', () => {
  it.each([
    'password',
    'Password',
    'adminPassword',
    'client_secret',
    'clientSecret',
    'token',
    'accessToken',
    'linkToken',
    'apiKey',
    'api-key',
    'hmac_key',
    'key',
    'storageKeys',
    'credential',
    'Credentials',
    'connectionString',
    'ConnectionString',
    'sas',
    'sasToken',
    'pwd',
    'authorization',
    'Cookie',
    'signature',
  ])('%s is secret', (name) => {
    expect(isSecretName(name)).toBe(true);
  });

  it.each([
    'mailbox',
    'keyVaultName',
    'keyId',
    'monkey',
    'taskName',
    'reason',
    'ticket',
    'durationHours',
    'code',
  ])('%s is not', (name) => {
    expect(isSecretName(name)).toBe(false);
  });
});

describe('detail redaction', () => {
  it('digests every value under a secret name, whatever its type, keyed by the HMAC key', () => {
    // Prepare
    const detail = {
      mailbox: 'm@contoso.com',
      password: 'hunter2',
      nested: { apiKey: { a: 1 } },
      list: [{ token: 7 }],
    };

    // Act
    const redacted = redactor.detail(detail);

    // Assess
    expect(redacted).toEqual({
      mailbox: 'm@contoso.com',
      password: digestOf('hunter2'),
      nested: { apiKey: digestOf('{"a":1}') },
      list: [{ token: digestOf('7') }],
    });
    expect(createRedactor('another key').detail(detail)).not.toEqual(redacted);
  });

  it.each([
    ['a JWT', `token was ${JWT} ok`, `token was ${digestOf(JWT)} ok`],
    [
      'a bearer header',
      'Authorization: Bearer abcdefgh12345678',
      `Authorization: Bearer ${digestOf('abcdefgh12345678')}`,
    ],
    [
      'a storage connection string',
      `DefaultEndpointsProtocol=https;AccountName=a;AccountKey=${STORAGE_KEY};EndpointSuffix=core.windows.net`,
      `DefaultEndpointsProtocol=https;AccountName=a;AccountKey=${digestOf(STORAGE_KEY)};EndpointSuffix=core.windows.net`,
    ],
    [
      'a SAS URL',
      'https://a.blob.core.windows.net/c/b?sv=2022-11-02&sr=b&sig=abc%2Fdef%3D&se=2030-01-01',
      `https://a.blob.core.windows.net/c/b?sv=2022-11-02&sr=b&sig=${digestOf('abc/def=')}&se=2030-01-01`,
    ],
    [
      'a webhook URL with a token',
      'https://x.webhook.azure-automation.net/webhooks?token=Zx%2bYz',
      `https://x.webhook.azure-automation.net/webhooks?token=${digestOf('Zx+Yz')}`,
    ],
    [
      'a Functions key',
      'https://f.azurewebsites.net/api/x?code=abc123',
      `https://f.azurewebsites.net/api/x?code=${digestOf('abc123')}`,
    ],
    [
      'URL credentials',
      'https://user:pa55@host.example/x',
      `https://user:${digestOf('pa55')}@host.example/x`,
    ],
    ['a bare SAS', 'sv=2022-11-02&sig=abcdef', `sv=2022-11-02&sig=${digestOf('abcdef')}`],
    ['a bare key', STORAGE_KEY, digestOf(STORAGE_KEY)],
  ])('digests %s inside a value', (_name, input, expected) => {
    expect(redactor.text(input)).toBe(expected);
    expect(redactor.detail({ note: input })).toEqual({ note: expected });
  });

  it('digests a PEM private key', () => {
    // Assembled so the repository holds no literal key header (secret scanners would flag it).
    const marker = ['PRIVATE', 'KEY'].join(' ');
    const pem = `-----BEGIN ${marker}-----\nMIIEv\n-----END ${marker}-----`;
    expect(redactor.text(`key: ${pem}`)).toBe(`key: ${digestOf(pem)}`);
  });

  it.each([
    'Exchange\\New-MoveRequest',
    '6f1c2a7e-3b4d-4c5e-8f90-a1b2c3d4e5f6',
    'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    'https://contoso.sharepoint.com/sites/x?view=all',
    'Moving the mailbox of alice@contoso.com to DB02 for the migration ticket CHG0012345',
  ])('leaves %s alone', (value) => {
    expect(looksLikeKey(value)).toBe(false);
    expect(redactor.text(value)).toBe(value);
  });

  it('keeps JSON semantics: dates as ISO text, undefined dropped, bigints as text, cycles cut', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(
      redactor.detail({ at: new Date('2030-01-01T00:00:00Z'), gone: undefined, big: 10n, cyclic }),
    ).toEqual({
      at: '2030-01-01T00:00:00.000Z',
      big: '10',
      cyclic: { a: 1, self: '[cycle]' },
    });
  });

  it('sorted JSON is the same text for the same value', () => {
    expect(sortedJson({ b: [2, { d: 1, c: 2 }], a: 1 })).toBe('{"a":1,"b":[2,{"c":2,"d":1}]}');
  });
});

describe('digests are good for nothing but the audit', () => {
  it('never equal a webhook signature, even when the audit key is the webhook key', () => {
    // Prepare: what a caller could put in a refused execution's parameters to get it digested.
    const t = 1_900_000_000;
    const forged = JSON.stringify({ task: 'Exchange\\Remove-Mailbox', parameters: {} });
    const signed = signature(KEY, t, forged);

    // Act
    const audited = redactor.detail({ token: `${t}.${forged}` });

    // Assess: the digest is not the signature's MAC, nor a plain HMAC under the key.
    const digest = (audited as { token: string }).token;
    expect(digest).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(signed).toContain(',v1=');
    expect(digest.slice('hmac-sha256:'.length)).not.toBe(signed.split(',v1=')[1]);
    expect(digest).not.toBe(
      `hmac-sha256:${createHmac('sha256', KEY).update(`${t}.${forged}`).digest('hex')}`,
    );
    expect(digest).toBe(digestOf(`${t}.${forged}`));
  });
});
