/**
 * The OpenAPI 3.1 document of the HTTP contract, generated from `OPERATIONS` (whose schemas are
 * the ones handlers validate with) by @asteasolutions/zod-to-openapi. Built once, on first use,
 * and deterministic: `GET /api/openapi.json` serves exactly the bytes `npm run build` writes.
 */
import { OpenAPIRegistry, OpenApiGeneratorV31, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import { appVersion } from '#shared/app/version';
import { Role } from '#shared/auth/roles';
import { CORS_ALLOWED_HEADERS, CORS_ALLOWED_METHODS } from '#shared/http/cors';
import {
  Access,
  OPERATIONS,
  type Tag,
  type Content,
  type Example,
  type Operation,
  type Success,
} from './operations';
import { problemCatalogue, problemEntry, problemExampleName, type ProblemCode } from './problems';
import { Problem } from './schemas';

export type OpenApiDocument = ReturnType<OpenApiGeneratorV31['generateDocument']>;

export const SECURITY_SCHEME = 'entra';

/** The placeholder every deployment replaces with its own Application ID URI (`ZSA_AUTH_AUDIENCE`). */
export const AUDIENCE_PLACEHOLDER = 'api://<ZSA_API_CLIENT_ID>';
const LOGIN = 'https://login.microsoftonline.com/organizations/oauth2/v2.0';

const ROLES_OF: Record<Access, readonly string[] | undefined> = {
  anyone: undefined,
  linkHolder: undefined,
  user: [],
  reader: [Role.Admin, Role.Auditor],
  admin: [Role.Admin],
};

/** `{}` in a requirement list makes the token optional: the emailed link is a credential by itself. */
function securityOf(access: Access): Record<string, string[]>[] {
  switch (access) {
    case 'anyone':
      return [];
    case 'linkHolder':
      return [{}, { [SECURITY_SCHEME]: [] }];
    case 'user':
    case 'reader':
    case 'admin':
      return [{ [SECURITY_SCHEME]: [] }];
  }
}

function whoCanCall(op: Operation): string {
  switch (op.access) {
    case 'anyone':
      return 'Anyone; no token.';
    case 'linkHolder':
      return "Whoever holds the emailed link (single-use); no token needed, but a token sent must be the approver's.";
    case 'user':
      return op.who === undefined ? 'Any signed-in user.' : `Signed-in users: ${op.who}.`;
    case 'reader':
      return `App role \`${Role.Admin}\` or \`${Role.Auditor}\`.`;
    case 'admin':
      return `App role \`${Role.Admin}\`.`;
  }
}

/** The problems every operation of its kind can answer, beside its own. */
export function problemsOf(op: Operation): readonly ProblemCode[] {
  const codes = new Set<ProblemCode>(op.problems);
  const signedIn = op.access !== 'anyone' && op.access !== 'linkHolder';
  if (signedIn) {
    for (const c of [
      'MISSING_TOKEN',
      'INVALID_TOKEN',
      'TOKEN_EXPIRED',
      'AUTH_UNAVAILABLE',
      'UNAVAILABLE',
    ] as const)
      codes.add(c);
  }
  if (op.access === 'admin' || op.access === 'reader') codes.add('INSUFFICIENT_ROLE');
  if (op.params !== undefined || op.query !== undefined) codes.add('INVALID_INPUT');
  const jsonBody = op.body !== undefined && (op.body.mediaType ?? 'application/json') === 'application/json';
  if (jsonBody) {
    for (const c of ['INVALID_INPUT', 'MALFORMED_JSON', 'BODY_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'] as const)
      codes.add(c);
  }
  if (op.access !== 'linkHolder') codes.add('INTERNAL');
  return [...codes];
}

const RESPONSE_HEADERS: Partial<
  Record<number, Record<string, { description: string; schema: { type: 'string' } }>>
> = {
  401: { 'WWW-Authenticate': { description: '`Bearer`, as RFC 6750 asks.', schema: { type: 'string' } } },
  429: { 'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'string' } } },
  503: { 'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'string' } } },
};

function problemResponses(op: Operation): RouteConfig['responses'] {
  const byStatus = new Map<number, ProblemCode[]>();
  for (const code of problemsOf(op)) {
    const { status } = problemEntry(code);
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: RouteConfig['responses'] = {};
  for (const status of [...byStatus.keys()].sort((a, b) => a - b)) {
    const codes = byStatus.get(status) ?? [];
    const headers = RESPONSE_HEADERS[status];
    responses[String(status)] = {
      description: `Problem: ${codes.map((c) => `\`${c}\``).join(', ')}.`,
      ...(headers === undefined ? {} : { headers }),
      content: {
        'application/problem+json': {
          schema: Problem,
          examples: Object.fromEntries(
            codes.map((c) => [
              problemExampleName(c),
              { $ref: `#/components/examples/${problemExampleName(c)}` },
            ]),
          ),
        },
      },
    };
  }
  return responses;
}

function mediaTypes(contents: readonly Content[]) {
  return Object.fromEntries(
    contents.map((c) => [
      c.mediaType ?? 'application/json',
      { schema: c.schema, ...(c.examples === undefined ? {} : { examples: examplesOf(c.examples) }) },
    ]),
  );
}

function examplesOf(examples: Readonly<Record<string, Example>>) {
  return Object.fromEntries(
    Object.entries(examples).map(([name, e]) => [
      name,
      e.shared === undefined
        ? { summary: e.summary, value: e.value }
        : { $ref: `#/components/examples/${e.shared}` },
    ]),
  );
}

/** Every example shared by several operations, once each. */
function sharedExamples(): ReadonlyMap<string, Example> {
  const shared = new Map<string, Example>();
  for (const op of OPERATIONS)
    for (const content of [
      ...(op.body === undefined ? [] : [op.body]),
      ...op.responses.flatMap((r) => r.content ?? []),
    ])
      for (const e of Object.values(content.examples ?? {}))
        if (e.shared !== undefined) shared.set(e.shared, e);
  return shared;
}

/** The headers a success answer always carries (`Location`, and a polling trigger's `Retry-After`). */
function successHeaders(success: Success): {
  headers?: Record<string, { description: string; schema: { type: 'string' } }>;
} {
  const headers: Record<string, { description: string; schema: { type: 'string' } }> = {};
  if (success.location !== undefined)
    headers.Location = { description: success.location, schema: { type: 'string' } };
  if (success.retryAfter !== undefined)
    headers['Retry-After'] = { description: success.retryAfter, schema: { type: 'string' } };
  return Object.keys(headers).length === 0 ? {} : { headers };
}

function successResponse(success: Success): RouteConfig['responses'][string] {
  return {
    description: success.description,
    ...successHeaders(success),
    ...(success.content === undefined ? {} : { content: mediaTypes(success.content) }),
  };
}

function routeOf(op: Operation): RouteConfig {
  const roles = ROLES_OF[op.access];
  const request: NonNullable<RouteConfig['request']> = {};
  if (op.params !== undefined) request.params = op.params;
  if (op.query !== undefined) request.query = op.query;
  if (op.body !== undefined) request.body = { required: op.body.required, content: mediaTypes([op.body]) };
  return {
    method: op.method,
    path: op.path,
    operationId: op.operationId,
    tags: [op.tag],
    summary: op.summary,
    description: `${op.description}\n\n**Who:** ${whoCanCall(op)}`,
    security: securityOf(op.access),
    ...(roles === undefined ? {} : { 'x-zsa-app-roles': [...roles] }),
    request,
    responses: {
      ...Object.fromEntries(op.responses.map((s) => [String(s.status), successResponse(s)])),
      ...problemResponses(op),
    },
  };
}

function problemTable(): string {
  const rows = [...problemCatalogue().values()].map(
    (e) => `| \`${e.example.type}\` | ${e.status} | ${e.meaning.replaceAll('|', '\\|')} |`,
  );
  return ['| type | status | meaning |', '|---|---|---|', ...rows].join('\n');
}

const DESCRIPTION = `Zero Standing Access: just-in-time, approved, audited privileged access. Users request access to a task, a role or a role group; approvers decide; ZSA then runs the task on the requester's behalf with its own identity, for as long as the grant lasts. Nobody holds the privilege itself.

**Authentication.** An Entra ID access token for ZSA's app registration, as \`Authorization: Bearer\`. App roles in the token's \`roles\` claim: \`${Role.Admin}\` configures, \`${Role.Auditor}\` reads everything and changes nothing; approvers are members of ZSA approver groups; any signed-in user may request. Each operation lists the roles it needs in \`x-zsa-app-roles\` (empty: any signed-in user).

**Requests.** JSON bodies of at most 64 KiB; unknown fields are refused. Names of tasks, roles and role groups may hold \`\\ / # ?\` and any Unicode, and round-trip exactly; they travel in bodies and queries, never in paths.

**Errors** are RFC 9457 problem details (\`application/problem+json\`), with \`type\` \`urn:zsa:problem:<code>\`. Bad input is always a 4xx, never a 5xx, never a partial write.

${problemTable()}

**Browsers.** Pages on the origins listed in the setting \`ZSA_CORS_ORIGINS\` may call the API (CORS: methods ${CORS_ALLOWED_METHODS.join(', ')}; request headers ${CORS_ALLOWED_HEADERS.join(', ')}; no credentials, the token goes in \`Authorization\`). \`OPTIONS\` on any path answers the preflight (in Azure the platform answers it, from the same list).`;

/** What each group of operations is for (every tag an operation uses is declared with it). */
export const TAG_DESCRIPTIONS: Readonly<Record<Tag, string>> = {
  Service: 'Liveness, this document, and who the caller is.',
  'Privileged access': 'Turn privileged access on or off and name the system accounts.',
  'Approver groups': 'Who may decide on requests.',
  Catalog: 'The tasks ZSA can run, and the roles and role groups that bundle them.',
  Policies: 'Which task, role or role group may be requested, how it is approved and for how long.',
  Requests: 'Ask for access, decide on it, extend, cancel, revoke and review emergency uses.',
  Execution: 'Run a task under a live grant.',
  'Email decisions': 'The single-use links approvers receive by email.',
  Audit: 'Query, export, verify and anchor the tamper-evident audit log.',
  Triggers: 'Polling triggers for Power Automate: what is new since the last poll.',
};

const SECURITY_DESCRIPTION = `Entra ID (OAuth 2.0, authorization code): a token for the signed-in user. Replace \`organizations\` in the URLs with your tenant id and \`${AUDIENCE_PLACEHOLDER}\` with the Application ID URI of ZSA's app registration (the setting \`ZSA_AUTH_AUDIENCE\`). App-only tokens (client credentials) are refused: ZSA must know which user asks; system accounts are user accounts too. App roles (\`${Role.Admin}\`, \`${Role.Auditor}\`) arrive in the token's \`roles\` claim.`;

function generate(): OpenApiDocument {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', SECURITY_SCHEME, {
    type: 'oauth2',
    description: SECURITY_DESCRIPTION,
    flows: {
      authorizationCode: {
        authorizationUrl: `${LOGIN}/authorize`,
        tokenUrl: `${LOGIN}/token`,
        scopes: { [`${AUDIENCE_PLACEHOLDER}/access_as_user`]: 'Call ZSA as the signed-in user.' },
      },
    },
  });
  // Examples only of the problems some operation answers: the table above lists every code.
  const answered = new Set(OPERATIONS.flatMap((op) => problemsOf(op)));
  for (const entry of problemCatalogue().values()) {
    if (!answered.has(entry.code)) continue;
    registry.registerComponent('examples', problemExampleName(entry.code), {
      summary: entry.meaning,
      value: entry.example,
    });
  }
  for (const [name, e] of sharedExamples())
    registry.registerComponent('examples', name, { summary: e.summary, value: e.value });
  for (const op of OPERATIONS) registry.registerPath(routeOf(op));
  const document = new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Zero Standing Access (ZSA)',
      version: appVersion(),
      description: DESCRIPTION,
      license: { name: 'MIT', identifier: 'MIT' },
      // Self-hosted: whoever runs this deployment answers for it.
      contact: { name: 'The administrators of this ZSA deployment' },
    },
    servers: [{ url: '/', description: 'The host that serves this document.' }],
    security: [{ [SECURITY_SCHEME]: [] }],
    tags: [...new Set(OPERATIONS.map((o) => o.tag))].map((name) => ({
      name,
      description: TAG_DESCRIPTIONS[name],
    })),
  });
  return withPlainPatterns(document);
}

/**
 * The generator writes a regex with flags as `source/flags` (`…$/u`), which is not a pattern. JSON
 * Schema patterns are ECMA-262 with Unicode semantics already, so `u` can simply go; any other
 * flag would change the meaning, so it stops the build instead.
 */
function withPlainPatterns<T>(node: T): T {
  if (Array.isArray(node)) return node.map((n: unknown) => withPlainPatterns(n)) as T;
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    out[key] =
      key === 'pattern' && typeof value === 'string' ? plainPattern(value) : withPlainPatterns(value);
  }
  return out as T;
}

export function plainPattern(pattern: string): string {
  const flagged = /^([\s\S]*[^\\])\/([a-z]+)$/.exec(pattern);
  if (flagged === null) return pattern;
  const [, source = '', flags = ''] = flagged;
  if (!/^[uv]+$/.test(flags))
    throw new Error(`Pattern ${pattern} needs flags "${flags}" that JSON Schema cannot carry`);
  return source;
}

let document: OpenApiDocument | undefined;
let text: string | undefined;

/** The OpenAPI 3.1 document (built on first use; treat it as read-only). */
export function openApiDocument(): OpenApiDocument {
  document ??= generate();
  return document;
}

/** The document as served and as written by the build: two-space JSON and a final newline. */
export function openApiJson(): string {
  text ??= `${JSON.stringify(openApiDocument(), null, 2)}\n`;
  return text;
}
