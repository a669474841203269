/**
 * The app's wiring: adapters built once from the settings, on first use (no I/O at import time).
 * Handlers and activities take what they need from here; tests of pure rules never touch it.
 */
import { createAuthenticator, type Authenticator } from '#shared/auth/index';
import { settings, type Settings } from '#shared/config';
import { assertStartable } from '#shared/app/startup-guard';
import { createTables, type Tables } from '#shared/adapters/tables';
import { createBus, type Bus } from '#shared/adapters/servicebus';
import { createRequestRepository, type RequestRepository } from '#shared/requests/repository';
import { configReader, type AdminConfigReader } from '#shared/admin/config-reader';
import { createMailer, type Mailer } from '#shared/notifications/mailer';
import type { AuditLog } from '#shared/audit/log';
import { appAuditLog } from '#shared/audit/wiring';
import { publishingAudit, type EventStream } from '#shared/events/publisher';
import { appEventStream } from '#shared/events/wiring';
import { createDirectory } from '#shared/directory/wiring';
import type { Directory } from '#shared/directory/directory';

export interface Deps {
  settings: Settings;
  tables: Tables;
  authenticator: Authenticator;
  /** The clock; every rule takes `now` from here, once per operation. */
  now: () => Date;
  requests: RequestRepository;
  /** The configuration as the request and execution flows read it. */
  config: AdminConfigReader;
  /** Service Bus senders (executions to worker queues, notifications). */
  bus: Bus;
  /** Sends notification emails (SMTP or Microsoft Graph); connects on first send. */
  mailer: Mailer;
  /** The audit log, built on first use (throws a 503 problem when it has no HMAC key). */
  audit: AuditLog;
  /** Lifecycle events on the Service Bus topic, fed by the audit; undefined when turned off. */
  events: EventStream | undefined;
  /** Resolves UPNs to stable user keys when members and system accounts are saved. */
  directory: Directory;
}

let deps: Deps | undefined;

export function getDeps(): Deps {
  if (!deps) {
    // In Azure, a configuration the guard refuses builds nothing (functions/startup.ts stops the worker too).
    assertStartable(process.env);
    const s = settings();
    const tables = createTables(s);
    let audit: AuditLog | undefined;
    const requests = createRequestRepository(tables);
    const bus = createBus(s);
    const events = appEventStream(s, bus, requests);
    deps = {
      settings: s,
      tables,
      authenticator: createAuthenticator({
        issuer: s.ZSA_AUTH_ISSUER,
        audience: s.ZSA_AUTH_AUDIENCE,
        trustEasyAuth: s.ZSA_TRUST_EASY_AUTH,
      }),
      now: () => new Date(),
      requests,
      config: configReader(tables),
      bus,
      events,
      mailer: createMailer(s),
      directory: createDirectory(s),
      get audit(): AuditLog {
        if (!audit) {
          const log = appAuditLog(s, tables, () => new Date());
          // What the audit records of a request's lifecycle is then published on the events topic.
          audit = events ? publishingAudit(log, events) : log;
        }
        return audit;
      },
      /** Component tests of other stories may record audit events instead. */
      set audit(sink: AuditLog) {
        audit = sink;
      },
    };
  }
  return deps;
}

/**
 * Forgets the dependencies (closing their connections), so the next `getDeps()` builds them from the
 * settings as they are then. For test runs that host several configurations in one process; the app
 * builds its dependencies once.
 */
export async function resetDeps(): Promise<void> {
  const old = deps;
  deps = undefined;
  if (!old) return;
  old.mailer.close();
  old.events?.close();
  await old.bus.close();
}
