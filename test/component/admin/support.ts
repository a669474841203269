/**
 * Shared set-up of the admin component tests: real Azurite and dev-issuer tokens from
 * `startComponentEnv`, an audit sink that records what it is given (the audit log is not the
 * subject here), builders of valid bodies, and a snapshot of every table for "nothing written".
 */
import { TableClient, TableServiceClient } from '@azure/data-tables';
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { getDeps } from '#shared/app/deps';
import type { AuditEventInput, AuditSink } from '#shared/audit/types';
import { call, startComponentEnv, type CallOptions, type ComponentEnv } from '../../support/component';

export type Handler = (req: HttpRequest, ctx: InvocationContext) => Promise<HttpResponseInit>;

export const ADMIN = 'admin@contoso.com';
export const AUDITOR = 'auditor@contoso.com';
export const USER = 'user@contoso.com';

/** Names Table keys forbid or that are easy to mangle; each must round-trip exactly. */
export const HOSTILE_NAMES = ['Exchange\\New-MoveRequest', 'a/b#c?d', 'Überprüfung ✓', "it's 100% 'quoted'!"];

export interface RecordingAudit extends AuditSink {
  readonly events: AuditEventInput[];
}

export function recordingAudit(): RecordingAudit {
  const events: AuditEventInput[] = [];
  return {
    events,
    append: (event) => {
      events.push(structuredClone(event));
      return Promise.resolve({ id: String(events.length) });
    },
  };
}

export interface AdminTestEnv {
  env: ComponentEnv;
  audit: RecordingAudit;
  tokens: { admin: string; auditor: string; user: string };
  /** Calls a handler with the token of `as` (default admin); `as: 'nobody'` sends none. */
  call(
    handler: Handler,
    opts: CallOptions & { as?: 'admin' | 'auditor' | 'user' | 'nobody' },
  ): ReturnType<typeof call>;
  /** Every entity of every table of this test file, for "nothing was written" comparisons. */
  snapshot(): Promise<string>;
  close(): Promise<void>;
}

export async function startAdminEnv(settings: Record<string, string> = {}): Promise<AdminTestEnv> {
  const env = await startComponentEnv(settings);
  const audit = recordingAudit();
  // Stands in for the app's audit log, exactly where the app looks for it (`getDeps().audit`).
  Object.assign(getDeps(), { audit });
  const tokens = {
    admin: await env.token(ADMIN, ['PAM.Admin']),
    auditor: await env.token(AUDITOR, ['PAM.Auditor']),
    user: await env.token(USER),
  };
  const connection = env.azurite.connectionString;
  const prefix = getDeps().settings.ZSA_TABLE_PREFIX;
  return {
    env,
    audit,
    tokens,
    call: (handler, { as = 'admin', ...opts }) =>
      call(handler, { ...opts, ...(as === 'nobody' ? {} : { token: tokens[as] }) }),
    async snapshot() {
      const service = TableServiceClient.fromConnectionString(connection, { allowInsecureConnection: true });
      const rows: string[] = [];
      for await (const table of service.listTables()) {
        if (table.name === undefined || !table.name.startsWith(prefix)) continue;
        const client = TableClient.fromConnectionString(connection, table.name, {
          allowInsecureConnection: true,
        });
        for await (const entity of client.listEntities()) rows.push(JSON.stringify([table.name, entity]));
      }
      return rows.sort().join('\n');
    },
    close: () => env.close(),
  };
}

/** A task whose webhook is on the test's allow-list (127.0.0.1). */
export function aTaskBody(name: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    description: `Runs ${name}`,
    executor: { type: 'webhook', url: 'https://127.0.0.1:8443/hooks/run?token=s3cret' },
    ...overrides,
  };
}

export function query(name: string): string {
  return `?name=${encodeURIComponent(name)}`;
}
