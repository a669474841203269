import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeKey, MAX_KEY_LENGTH } from '#shared/domain/names';
import { tokenRowKey } from '#shared/notifications/store';
import { decisionUrl, hashToken, mintToken, parseToken } from '#shared/notifications/tokens';

const ID = '0b6f5c1e-3c1a-4a59-9d58-2b6a1b9f0e11';

describe('decision-link tokens', () => {
  it('carry 256 random bits after the request id and are stored as their SHA-256', () => {
    // Act
    const { token, hash } = mintToken(ID);

    // Assess
    const [id, secret] = token.split('.');
    expect(id).toBe(ID);
    expect(Buffer.from(secret ?? '', 'base64url')).toHaveLength(32);
    expect(hash).toBe(createHash('sha256').update(token).digest('hex'));
    expect(hash).not.toContain(secret);
  });

  it('never repeat', () => {
    // Act
    const tokens = new Set(Array.from({ length: 2000 }, () => mintToken(ID).token));

    // Assess
    expect(tokens.size).toBe(2000);
  });

  it('parse back only in the exact form they were minted', () => {
    // Prepare
    const { token } = mintToken(ID);
    const secret = token.slice(ID.length + 1);
    const flipped = `${secret.startsWith('A') ? 'B' : 'A'}${secret.slice(1)}`;

    // Act / Assess
    expect(parseToken(token)).toEqual({ requestId: ID, token });
    for (const bad of [
      undefined,
      '',
      ID,
      `${ID}.`,
      `${ID}.${secret}x`,
      `${ID}.${secret.slice(1)}`,
      `${ID}/${secret}`,
      `../${ID}.${secret}`,
      `${ID}.${secret.slice(0, -1)}=`,
    ]) {
      expect(parseToken(bad)).toBeUndefined();
    }
    // A changed character still parses, but hashes to something no row holds.
    expect(hashToken(`${ID}.${flipped}`)).not.toBe(hashToken(token));
    expect(hashToken(`${ID.replace('0b6f', '1b6f')}.${secret}`)).not.toBe(hashToken(token));
  });

  it('links are built on the configured public URL only', () => {
    // Act / Assess
    expect(decisionUrl('https://zsa.contoso.com/', `${ID}.abc`)).toBe(
      `https://zsa.contoso.com/api/decisions/${ID}.abc`,
    );
    expect(decisionUrl('https://contoso.com/zsa', 't')).toBe('https://contoso.com/zsa/api/decisions/t');
  });
});

describe('token rows', () => {
  it('one row per approver and stage or extension; the first stage keeps the row links had before stages', () => {
    // Prepare
    const upn = "o'brien@contoso.com";

    // Act
    const keys = [
      tokenRowKey(upn, { stage: 0 }),
      tokenRowKey(upn, { stage: 1 }),
      tokenRowKey(upn, { stage: 0, extensionId: '1' }),
      tokenRowKey(upn, { stage: 1, extensionId: '1' }),
      tokenRowKey(upn, { stage: 0, extensionId: '10' }),
    ];

    // Assess
    expect(keys[0]).toBe(encodeKey(upn));
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('a name escaped to the key limit still gets a row of its own for each stage, within the limit', () => {
    // Prepare: every character escapes to two
    const upn = `${"'".repeat(250)}@contoso.com`;

    // Act
    const first = tokenRowKey(upn, { stage: 0 });
    const later = tokenRowKey(upn, { stage: 4, extensionId: '10' });
    const other = tokenRowKey(`${"'".repeat(249)}@contoso.com`, { stage: 4, extensionId: '10' });

    // Assess
    expect(first).toBe(encodeKey(upn));
    expect(later.length).toBeLessThanOrEqual(MAX_KEY_LENGTH);
    expect(later).not.toBe(other);
  });
});
