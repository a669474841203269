import { describe, expect, it } from 'vitest';
import { cap, detailText, recordContent } from '#shared/audit/content';
import { COLUMN_LIMITS, MAX_DETAIL_BYTES } from '#shared/audit/record';
import { createRedactor } from '#shared/audit/redact';
import { AuditAction, AuditOutcome, SYSTEM_ACTOR } from '#shared/audit/types';

const redactor = createRedactor('k');

describe('what an event becomes', () => {
  it('who, what, where as columns; UPN lower-cased; roles sorted; secrets digested; empty values absent', () => {
    // Act
    const content = recordContent(
      {
        action: AuditAction.ExecutionStarted,
        actor: {
          kind: 'user',
          id: 't:o',
          upn: 'Alice@Contoso.com',
          roles: ['PAM.Auditor', 'PAM.Admin'],
          tenantId: 't',
        },
        outcome: AuditOutcome.Success,
        requestId: 'r1',
        task: 'Exchange\\New-MoveRequest',
        reason: '',
        detail: { parameters: { identity: 'bob', apiKey: 'sekret' } },
        origin: { correlationId: 'c1', clientIp: '10.0.0.1', userAgent: 'curl/8' },
      },
      'id-1',
      redactor,
    );

    // Assess
    expect(content).toMatchObject({
      id: 'id-1',
      actorKind: 'user',
      actorId: 't:o',
      actorUpn: 'alice@contoso.com',
      actorRoles: '["PAM.Admin","PAM.Auditor"]',
      tenantId: 't',
      requestId: 'r1',
      task: 'Exchange\\New-MoveRequest',
      correlationId: 'c1',
      clientIp: '10.0.0.1',
      userAgent: 'curl/8',
    });
    expect(content.reason).toBeUndefined();
    expect(content.detail).toBe(`{"parameters":{"apiKey":"${redactor.digest('sekret')}","identity":"bob"}}`);
  });

  it('the system actor has no roles and no origin', () => {
    const content = recordContent(
      { action: AuditAction.GrantEnded, actor: SYSTEM_ACTOR, outcome: AuditOutcome.Success },
      'id',
      redactor,
    );
    expect(content).toMatchObject({ actorKind: 'system', actorId: 'zsa', actorUpn: 'zsa', actorRoles: '[]' });
    expect(content.detail).toBeUndefined();
  });

  it('cuts long columns and marks the cut, never refusing the event', () => {
    const long = 'a'.repeat(5000);
    expect(cap(long, COLUMN_LIMITS.reason)).toHaveLength(COLUMN_LIMITS.reason);
    expect(cap(long, COLUMN_LIMITS.reason)?.endsWith('…')).toBe(true);
    expect(cap(`${'a'.repeat(9)}😀`, 10)).toBe(`${'a'.repeat(9)}…`);
    expect(cap('nul\0and\uD800lone', 100)).toBe('nul\uFFFDand\uFFFDlone');
  });

  it('keeps an oversized detail as a preview with its size and digest', () => {
    const detail = JSON.parse(detailText({ blob: 'x'.repeat(MAX_DETAIL_BYTES * 2) })) as Record<
      string,
      unknown
    >;
    expect(detail).toMatchObject({
      truncated: true,
      bytes: MAX_DETAIL_BYTES * 2 + 11,
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/) as string,
    });
    expect(Buffer.byteLength(detailText({ blob: 'x'.repeat(MAX_DETAIL_BYTES * 2) }))).toBeLessThanOrEqual(
      MAX_DETAIL_BYTES,
    );
  });
});
