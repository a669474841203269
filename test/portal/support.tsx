/**
 * Renders a portal page the way the shell does (theme, query cache, router, portal context), with its
 * API client talking real HTTP to a loopback server the test programs route by route. Pages are tested
 * through what a person sees (Testing Library queries by role and label), never through internals.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createDOMRenderer,
  FluentProvider,
  RendererProvider,
  webLightTheme,
  type GriffelRenderer,
} from '@fluentui/react-components';
import { QueryClientProvider } from '@tanstack/react-query';
import { render, type RenderResult } from '@testing-library/react';
import type { ReactElement } from 'react';
import { Router } from 'wouter';
import { memoryLocation } from 'wouter/memory-location';
import { createApi, type PendingCall } from '../../portal/src/api/client';
import type { Me, RequestView } from '../../portal/src/api/types';
import { PortalContext, type Portal } from '../../portal/src/app/context';
import type { Session } from '../../portal/src/auth/session';
import { createQueryClient } from '../../portal/src/components/data';

export interface Seen {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly body: unknown;
}

export type Reply = { status?: number; body?: unknown; headers?: Record<string, string> };
export type Route = (req: Seen) => Reply | undefined;

/** A loopback HTTP server standing in for the API: each test says what each call answers. */
export interface FakeApi {
  readonly url: string;
  readonly seen: Seen[];
  /** Answers `method path` (path without query) with `reply` (a function gets the request). */
  on(method: string, path: string, reply: Reply | ((req: Seen) => Reply)): void;
  close(): Promise<void>;
}

export async function startApi(): Promise<FakeApi> {
  const routes = new Map<string, Reply | ((req: Seen) => Reply)>();
  const seen: Seen[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const call: Seen = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        body: raw ? (JSON.parse(raw) as unknown) : undefined,
      };
      seen.push(call);
      const route = routes.get(`${call.method} ${call.path}`);
      const reply = typeof route === 'function' ? route(call) : route;
      if (!reply) {
        res.writeHead(404, { 'content-type': 'application/problem+json' });
        res.end(
          JSON.stringify({
            type: 'about:blank',
            title: 'Not Found',
            status: 404,
            detail: `${call.method} ${call.path}`,
          }),
        );
        return;
      }
      const status = reply.status ?? 200;
      const type = status >= 400 ? 'application/problem+json' : 'application/json';
      res.writeHead(status, { 'content-type': type, ...reply.headers });
      res.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    seen,
    on: (method, path, reply) => routes.set(`${method} ${path}`, reply),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export const ALICE: Me = {
  id: '7e57da7a-0000-4000-8000-00000000de70:00000000-0000-5000-8000-00000000a11c',
  upn: 'alice@contoso.com',
  name: 'Alice',
  roles: [],
  approverGroups: [],
  systemAccount: false,
};

/** What a step-up asked for, when a test provokes one. */
export interface Rendered extends RenderResult {
  readonly stepUps: { claims: string; pending: PendingCall }[];
}

/** A declaration of `display` or `visibility`, at the start of a rule's block or after another one. */
const SHOWS_OR_HIDES = /[{;]\s*(display|visibility)\s*:/;
const renderers = new WeakMap<Document, GriffelRenderer>();

/**
 * Fluent's styles in jsdom, minus the rules that cannot change what a test sees: every role query
 * asks jsdom for the computed style of each element on the way (is it hidden?), and jsdom matches
 * every rule in the document against it, so thousands of atomic colour, spacing and font rules
 * were about a quarter of the portal tests' CPU. Only `display` and `visibility` decide whether Testing
 * Library counts an element as there, and every rule that sets either is kept, so each element's
 * computed `display` and `visibility` are exactly what the full style sheet gives. One renderer per
 * document, as the default one: its cache says which rules that document already has.
 */
function rendererFor(doc: Document): GriffelRenderer {
  let renderer = renderers.get(doc);
  if (!renderer) {
    renderer = createDOMRenderer(doc, { unstable_filterCSSRule: (css) => SHOWS_OR_HIDES.test(css) });
    renderers.set(doc, renderer);
  }
  return renderer;
}

export function renderPage(ui: ReactElement, options: { api: FakeApi; me?: Me; path?: string }): Rendered {
  const stepUps: { claims: string; pending: PendingCall }[] = [];
  const api = createApi({
    accessToken: () => Promise.resolve('test-token'),
    renew: () => Promise.resolve(false),
    stepUp: (claims, pending) => {
      stepUps.push({ claims, pending });
      return new Promise<never>(() => undefined);
    },
    fetch: (input, init) => fetch(new URL(input as string, options.api.url), init),
    sleep: () => Promise.resolve(),
  });
  const session = {} as Session; // pages never touch the session directly; the shell does
  const portal: Portal = { api, session, me: options.me ?? ALICE, reloadMe: () => undefined };
  const { hook } = memoryLocation({ path: options.path ?? '/', record: true });
  const result = render(
    <RendererProvider renderer={rendererFor(document)} targetDocument={document}>
      <FluentProvider theme={webLightTheme}>
        <QueryClientProvider client={createQueryClient()}>
          <Router hook={hook}>
            <PortalContext.Provider value={portal}>{ui}</PortalContext.Provider>
          </Router>
        </QueryClientProvider>
      </FluentProvider>
    </RendererProvider>,
  );
  return Object.assign(result, { stepUps });
}

/**
 * A request as `GET /api/requests/{id}` answers it: pending in the first of two stages (ops, then
 * sec), for the story each test tells through `over`.
 */
export function aRequest(over: Partial<RequestView> = {}): RequestView {
  const base: RequestView = {
    id: 'r1',
    requester: 'alice@contoso.com',
    requesterId: 'tid:alice',
    task: 'restart-vm',
    tasks: ['restart-vm'],
    reason: 'Patch night',
    ticket: 'CHG-42',
    durationHours: 2,
    parameters: null,
    status: 'pending',
    policyId: 'p1',
    approvalType: 'manual',
    approverGroup: 'ops',
    requiredApprovals: 2,
    approvals: [],
    stages: [
      { approverGroup: 'ops', requiredApprovals: 1, status: 'open', approvals: [] },
      { approverGroup: 'sec', requiredApprovals: 1, status: 'waiting', approvals: [] },
    ],
    clientRequestId: null,
    createdAt: '2026-12-03T10:00:00.000Z',
    pendingUntil: '2026-12-04T10:00:00.000Z',
    decidedAt: null,
    grantedAt: null,
    expiresAt: null,
    endedAt: null,
    endedBy: null,
    endReason: null,
    startAt: null,
    maxUses: null,
    uses: 0,
    maxExtensions: 0,
    maxDurationHours: 8,
    pendingTimeoutHours: 24,
    extensions: [],
    emergency: false,
    review: null,
    approverAuthContext: null,
    currentStage: 0,
    executions: [],
  };
  return { ...base, ...over };
}
