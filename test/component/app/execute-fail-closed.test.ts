/**
 * Fail closed: when the audit table cannot be reached, an execution is refused with 503 and the
 * executor is never called. Real Azurite holds the configuration; the audit log is a real one
 * pointed at a storage endpoint where nothing listens (an outage, not a stand-in).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionStringFor, freePort } from '@zsa/local-host';
import { createTables } from '#shared/adapters/tables';
import { getDeps } from '#shared/app/deps';
import { createAuditLog } from '#shared/audit/log';
import type { Principal } from '#shared/auth/index';
import { settings } from '#shared/config';
import { DomainError } from '#shared/domain/errors';
import { execute, type ExecuteContext } from '#shared/requests/execute';
import { catalogTaskPut } from '../../../functions/catalog';
import { enablePam } from '../../support/admin';
import { call, startComponentEnv, type ComponentEnv } from '../../support/component';
import { startWebhookTarget, type WebhookTarget } from '../../support/webhook-target';
import { userKey } from '../../support/requests';

let env: ComponentEnv;
let hook: WebhookTarget;

beforeAll(async () => {
  env = await startComponentEnv();
  hook = await startWebhookTarget('component-test-signing-key');
  const token = await env.token('admin@contoso.com', ['PAM.Admin']);
  const ok = (r: { status: number }) => expect(r.status).toBeLessThan(300);
  await enablePam(token, { group: 'g', members: ['a@contoso.com'], systemAccounts: ['svc@contoso.com'] });
  ok(
    await call(catalogTaskPut, {
      method: 'PUT',
      path: '/x',
      token,
      body: { name: 'T', description: 'd', executor: { type: 'webhook', url: hook.url } },
    }),
  );
}, 60_000);

afterAll(async () => {
  await hook.close();
  await env.close();
});

const svc: Principal = {
  // The key the directory resolved the system account to when privileged access was enabled.
  id: userKey('svc@contoso.com'),
  upn: 'svc@contoso.com',
  roles: [],
  isAdmin: false,
  isAuditor: false,
  authMethod: 'bearer',
  strength: { acrs: [], amr: [] },
};

function contextWith(audit: ExecuteContext['audit']): ExecuteContext {
  const deps = getDeps();
  return {
    repo: deps.requests,
    config: deps.config,
    orchestrations: {
      start: () => Promise.reject(new Error('not used')),
      state: () => Promise.reject(new Error('not used')),
      raise: () => Promise.reject(new Error('not used')),
    },
    audit,
    bus: () => deps.bus,
    now: () => new Date(),
    webhook: { allowedHosts: ['127.0.0.1'], signingKey: 'component-test-signing-key', timeoutMs: 5000 },
    adminsExecuteWhileDisabled: true,
  };
}

describe('execution fails closed on the audit', () => {
  it('refuses with 503 and runs nothing when the audit table is unreachable', async () => {
    const deadPort = await freePort();
    const dead = createTables({
      ...settings(),
      AzureWebJobsStorage: connectionStringFor({ blob: deadPort, queue: deadPort, table: deadPort }),
    });
    const audit = createAuditLog({ tables: dead, now: () => new Date(), hmacKey: 'k' });
    const caller = {
      principal: svc,
      actor: { kind: 'user' as const, id: svc.id, upn: svc.upn, roles: [] },
      origin: {},
    };

    const started = Date.now();
    const error = await execute(contextWith(audit), caller, { task: 'T' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).kind).toBe('unavailable');
    expect(hook.received).toHaveLength(0);
    expect(Date.now() - started).toBeLessThan(10_000);

    // The same call with the real audit runs the task: the refusal above was the audit's doing.
    const result = await execute(contextWith(getDeps().audit), caller, { task: 'T' });
    expect(result.status).toBe('succeeded');
    expect(hook.received).toHaveLength(1);
  }, 30_000);
});
