/**
 * The `zsa` commands: the whole requester, approver and auditor story over the public HTTP API, for
 * people (tables, a spinner) and scripts (`--json`, exit codes). Each command's `--help` says what
 * it does; docs/cli.md has the walk-through.
 */
import { randomUUID } from 'node:crypto';
import { Command, Option } from 'commander';
import { createSpinner } from 'nanospinner';
import { openApi, type Api } from './api';
import { login, type AuthIo } from './auth';
import { CliError, Exit } from './errors';
import type { RequestView } from '#shared/domain/request';
import { print, requestsTable, table, type Out } from './output';
import { clearSession } from './session';

export interface Context extends AuthIo {
  env: NodeJS.ProcessEnv;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** stderr is a terminal: show live progress (a spinner, a progress line). */
  interactive: boolean;
  /** How often `--wait` asks whether the request is decided. */
  pollMs: number;
}

interface Preview {
  parameters?: { name: string; type: 'string' | 'number' | 'boolean' }[];
}

const FINAL_REFUSED = new Set(['denied', 'canceled', 'expired', 'failed']);
const MAX_POLL_MS = 30_000;

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `k=v` pairs as strings; typed against the task's parameter list by `typedParameters`. */
function keyValues(pairs: readonly string[]): Record<string, string> {
  // No prototype: a parameter named `__proto__` is a name like any other, not a trap.
  const out = Object.create(null) as Record<string, string>;
  for (const pair of pairs) {
    const i = pair.indexOf('=');
    if (i <= 0) throw new CliError(`--param ${pair}: expected name=value`, Exit.other);
    const name = pair.slice(0, i);
    if (Object.hasOwn(out, name)) throw new CliError(`--param ${name} is given twice`, Exit.other);
    out[name] = pair.slice(i + 1);
  }
  return out;
}

/**
 * The parameters as the task declares them (a number parameter gets a number, a boolean a boolean),
 * read from the policy preview; a name the task does not declare stays a string for the service to
 * refuse with its own words.
 */
async function typedParameters(
  api: Api,
  task: string,
  pairs: readonly string[],
): Promise<Record<string, string | number | boolean> | undefined> {
  if (pairs.length === 0) return undefined;
  const raw = keyValues(pairs);
  let declared: Preview['parameters'] = [];
  try {
    declared = (await api.json<Preview>('GET', '/api/policy-preview', { query: { task } })).parameters ?? [];
  } catch {
    // No preview (no policy, a system account): the service checks the values when they are sent.
    declared = [];
  }
  const types = new Map(declared.map((p) => [p.name, p.type]));
  const out: Record<string, string | number | boolean> = {};
  for (const [name, value] of Object.entries(raw)) {
    const type = types.get(name);
    if (type === 'number' && value.trim() !== '' && Number.isFinite(Number(value))) out[name] = Number(value);
    else if (type === 'boolean' && (value === 'true' || value === 'false')) out[name] = value === 'true';
    else out[name] = value;
  }
  return out;
}

function outOf(ctx: Context, cmd: Command): Out {
  const { json } = cmd.optsWithGlobals<{ json?: boolean }>();
  return { json: json === true, stdout: ctx.stdout, stderr: ctx.stderr };
}

function describeRequest(r: RequestView): string {
  const lines = [requestsTable([r]), `reason: ${r.reason}`];
  for (const a of r.approvals)
    lines.push(`${a.decision} by ${a.approver}${a.comment ? `: ${a.comment}` : ''}`);
  if (r.endReason) lines.push(`ended: ${r.endReason}`);
  return lines.join('\n');
}

async function waitForDecision(ctx: Context, api: Api, first: RequestView): Promise<RequestView> {
  const spinner = createSpinner(`Waiting for a decision on ${first.id}…`, {
    stream: process.stderr,
  });
  spinner.start();
  let view = first;
  // Every pollMs at first, then backing off to 30 s: a request can wait a day, and a waiting
  // terminal should not cost the service tens of thousands of reads.
  let wait = ctx.pollMs;
  try {
    while (view.status === 'pending') {
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(Math.max(wait * 1.5, ctx.pollMs), MAX_POLL_MS);
      view = await api.json<RequestView>('GET', `/api/requests/${encodeURIComponent(view.id)}`);
    }
  } catch (e) {
    spinner.error(`Stopped waiting on ${first.id}`);
    throw e;
  }
  if (view.status === 'approved') spinner.success(`${view.id} approved`);
  else spinner.error(`${view.id} ${view.status}`);
  return view;
}

/** Prints a request that ended refused and fails with exit code 2, or returns. */
function settle(out: Out, view: RequestView): void {
  print(out, view, () => describeRequest(view));
  if (FINAL_REFUSED.has(view.status)) {
    const why = view.approvals.find((a) => a.decision === 'deny')?.comment ?? view.endReason;
    throw new CliError(`request ${view.id} was ${view.status}${why ? `: ${why}` : ''}`, Exit.refused);
  }
}

export function buildProgram(ctx: Context): Command {
  const program = new Command('zsa')
    .description(
      'Zero Standing Access from a terminal: request, approve, execute and audit privileged access.',
    )
    .option('--json', 'print the API’s JSON instead of tables (for scripts)')
    .showHelpAfterError()
    // Thrown, not exited: zsa.ts maps every outcome to the documented exit codes. Set before the
    // commands are added, which inherit it.
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.stdout(s), writeErr: (s) => ctx.stderr(s) })
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 2 refused by the service (or the request was denied), 3 sign-in needed, 1 anything else.',
    );

  const api = () => openApi(ctx);

  program
    .command('login')
    .description(
      'Sign in to a ZSA service: Entra ID device code, or the development issuer of a local host (--upn).',
    )
    .addOption(new Option('--url <url>', 'the ZSA service').env('ZSA_URL').makeOptionMandatory())
    .option('--upn <upn>', 'local host only: the user to sign in as')
    .option('--role <role>', 'local host only: an app role to hold (repeatable)', collect, [])
    .addOption(new Option('--authority <url>', 'override the sign-in authority').env('ZSA_AUTHORITY'))
    .addOption(new Option('--client-id <id>', 'override the app registration').env('ZSA_CLIENT_ID'))
    .addOption(new Option('--scope <scope>', 'override the API scope').env('ZSA_SCOPE'))
    .action(
      async (
        opts: {
          url: string;
          upn?: string;
          role: string[];
          authority?: string;
          clientId?: string;
          scope?: string;
        },
        cmd: Command,
      ) => {
        const session = await login(
          {
            url: opts.url,
            upn: opts.upn,
            roles: opts.role,
            authority: opts.authority,
            clientId: opts.clientId,
            scope: opts.scope,
          },
          ctx,
        );
        const who = session.signIn.kind === 'local' ? session.signIn.upn : session.signIn.username;
        print(
          outOf(ctx, cmd),
          { url: session.url, user: who, expiresAt: session.expiresAt },
          () => `Signed in to ${session.url} as ${who}.`,
        );
      },
    );

  program
    .command('logout')
    .description('Forget the sign-in and every cached token.')
    .action((_opts: unknown, cmd: Command) => {
      clearSession(ctx.dir);
      print(outOf(ctx, cmd), { signedOut: true }, () => 'Signed out.');
    });

  program
    .command('whoami')
    .description('Who the service takes you for.')
    .action(async (_opts: unknown, cmd: Command) => {
      const me = await api().json<{ upn: string; id: string; roles?: string[] }>('GET', '/api/me');
      print(outOf(ctx, cmd), me, () => `${me.upn} (${me.id})`);
    });

  program
    .command('request')
    .description('Ask for just-in-time access to a task.')
    .argument('<task>', 'the task, by its exact name')
    .requiredOption('--reason <text>', 'why you need it (approvers read this)')
    .option('--ticket <id>', 'a ticket number to record with it')
    .option('--hours <n>', 'how long the grant should last', (v) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0)
        throw new CliError(`--hours ${v}: expected a positive number`, Exit.other);
      return n;
    })
    .option('--param <name=value>', 'a task parameter (repeatable)', collect, [])
    .option('--wait', 'wait until it is approved or denied (exit 2 when denied, canceled or expired)')
    .action(
      async (
        task: string,
        opts: { reason: string; ticket?: string; hours?: number; param: string[]; wait?: boolean },
        cmd: Command,
      ) => {
        const out = outOf(ctx, cmd);
        const client = api();
        const parameters = await typedParameters(client, task, opts.param);
        const view = await client.json<RequestView>('POST', '/api/requests', {
          body: {
            task,
            reason: opts.reason,
            ...(opts.ticket === undefined ? {} : { ticket: opts.ticket }),
            ...(opts.hours === undefined ? {} : { durationHours: opts.hours }),
            ...(parameters === undefined ? {} : { parameters }),
            // The same id on a retry returns the same request: a flaky network never makes two.
            clientRequestId: randomUUID(),
          },
        });
        settle(
          out,
          opts.wait === true && view.status === 'pending' ? await waitForDecision(ctx, client, view) : view,
        );
      },
    );

  program
    .command('requests')
    .description('List the requests you may see, newest first.')
    .option('--mine', 'only your own')
    .option('--approvable', 'only those you can decide on now')
    .option('--status <status>', 'only requests in this status (pending, approved, denied, …)')
    .action(async (opts: { mine?: boolean; approvable?: boolean; status?: string }, cmd: Command) => {
      if (opts.mine === true && opts.approvable === true)
        throw new CliError('give --mine or --approvable, not both', Exit.other);
      const client = api();
      const items: RequestView[] = [];
      let continuationToken: string | undefined;
      do {
        const page = await client.json<{ items: RequestView[]; continuationToken?: string }>(
          'GET',
          '/api/requests',
          {
            query: {
              mine: opts.mine === true ? 'true' : undefined,
              approvable: opts.approvable === true ? 'true' : undefined,
              status: opts.status,
              continuationToken,
            },
          },
        );
        items.push(...page.items);
        continuationToken = page.continuationToken;
      } while (continuationToken !== undefined);
      print(outOf(ctx, cmd), { items }, () => requestsTable(items));
    });

  program
    .command('show')
    .description('Show one request.')
    .argument('<id>', 'the request id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const view = await api().json<RequestView>('GET', `/api/requests/${encodeURIComponent(id)}`);
      print(outOf(ctx, cmd), view, () => describeRequest(view));
    });

  const decision = (name: 'approve' | 'deny' | 'revoke', what: string) =>
    program
      .command(name)
      .description(what)
      .argument('<id>', 'the request id')
      .option('--comment <text>', 'a comment recorded with it')
      .action(async (id: string, opts: { comment?: string }, cmd: Command) => {
        const view = await api().json<RequestView>(
          'POST',
          `/api/requests/${encodeURIComponent(id)}/${name}`,
          {
            body: opts.comment === undefined ? {} : { comment: opts.comment },
          },
        );
        print(outOf(ctx, cmd), view, () => describeRequest(view));
      });
  decision(
    'approve',
    'Approve a request you are an approver of (a stronger sign-in is asked for if its policy needs one).',
  );
  decision('deny', 'Deny a request you are an approver of.');
  decision('revoke', 'End a live grant now (yours, one you approve, or any as an admin).');

  program
    .command('cancel')
    .description('Withdraw your own request while it is pending.')
    .argument('<id>', 'the request id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const view = await api().json<RequestView>('POST', `/api/requests/${encodeURIComponent(id)}/cancel`, {
        body: {},
      });
      print(outOf(ctx, cmd), view, () => describeRequest(view));
    });

  program
    .command('exec')
    .description('Run a task under your live grant (ZSA runs it with its own identity).')
    .argument('<task>', 'the task, by its exact name')
    .option('--param <name=value>', 'a task parameter (repeatable)', collect, [])
    .option('--request <id>', 'the grant to run under, when several cover the task')
    .action(async (task: string, opts: { param: string[]; request?: string }, cmd: Command) => {
      const client = api();
      const parameters = await typedParameters(client, task, opts.param);
      const result = await client.json<{ executionId: string; status: string; result?: unknown }>(
        'POST',
        '/api/execute',
        {
          body: {
            task,
            ...(parameters === undefined ? {} : { parameters }),
            ...(opts.request === undefined ? {} : { requestId: opts.request }),
          },
        },
      );
      print(outOf(ctx, cmd), result, () =>
        [
          table(['execution', 'status'], [[result.executionId, result.status]]),
          ...(result.result === undefined ? [] : [JSON.stringify(result.result, null, 2)]),
        ].join('\n'),
      );
    });

  const audit = program.command('audit').description('Export the audit log, and verify an export.');
  audit
    .command('export')
    .description('Export audit events in a range to a file (PAM.Admin or PAM.Auditor).')
    .requiredOption('--from <when>', 'inclusive start: an ISO instant or a UTC day (2030-01-31)')
    .requiredOption('--to <when>', 'exclusive end: an ISO instant or a UTC day')
    .addOption(new Option('--format <format>', 'file format').choices(['csv', 'jsonl']).default('jsonl'))
    .option('--action <action>', 'only events of this action, e.g. emergency.used')
    .requiredOption('-o, --output <file>', 'the file to write')
    .action(
      async (
        opts: { from: string; to: string; format: 'csv' | 'jsonl'; action?: string; output: string },
        cmd: Command,
      ) => {
        // Loaded on use: the verifier and its storage types cost more start-up than every other command.
        const { auditExport } = await import('./audit.js');
        await auditExport(ctx, api(), opts, outOf(ctx, cmd));
      },
    );
  audit
    .command('verify')
    .description(
      'Verify an exported file offline: every row’s seal and link, the order, and a manifest or anchors if given. ' +
        'Keyed rows need the chain key in ZSA_AUDIT_CHAIN_KEYS (or ZSA_AUDIT_HMAC_KEY).',
    )
    .argument('<file>', 'the export (JSONL or CSV)')
    .option('--manifest <file>', 'the day export’s manifest (found beside the file when named alike)')
    .option('--anchors <file>', 'an anchors file (repeatable)', collect, [])
    .action(async (file: string, opts: { manifest?: string; anchors: string[] }, cmd: Command) => {
      const { auditVerify } = await import('./audit.js');
      await auditVerify(ctx, file, opts, outOf(ctx, cmd));
    });

  return program;
}
