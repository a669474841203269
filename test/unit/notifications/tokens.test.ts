import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
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
