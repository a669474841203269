/**
 * The contract as declared (shared/openapi): it covers docs/design.md §7, its examples are accepted by the
 * very schemas handlers validate with, its problem catalogue is what the error mapping sends, and
 * the generated OpenAPI 3.1 document and Power Automate definition are well formed.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpRequest } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { readJson } from '#shared/http/handler';
import { HttpError } from '#shared/http/problem';
import { connectorDefinition, connectorJson, STEP_UP_CONNECTOR_ERROR } from '#shared/openapi/connector';
import { openApiDocument, openApiJson, plainPattern } from '#shared/openapi/document';
import { OPERATIONS, type Content, type Example, type Operation } from '#shared/openapi/operations';
import { problemCatalogue, problemEntry } from '#shared/openapi/problems';
import { Problem } from '#shared/openapi/schemas';
import { z } from 'zod';
import { writeOpenApi } from '../../infra/tools/write-openapi';
import { conformanceIssues } from './conformance';
import { ROOT } from '../support/local-host';

/** The operations of the contract, version 1, plus the document itself (issue 7). */
const CONTRACT = [
  'GET /api/health',
  'GET /api/openapi.json',
  'GET /api/me',
  'GET /api/policy-preview',
  'GET /api/pam',
  'POST /api/pam/enable',
  'POST /api/pam/disable',
  'GET /api/approver-groups',
  'GET /api/approver-groups/{name}',
  'PUT /api/approver-groups/{name}',
  'DELETE /api/approver-groups/{name}',
  ...['tasks', 'roles', 'role-groups'].flatMap((kind) =>
    ['GET', 'PUT', 'DELETE'].map((m) => `${m} /api/catalog/${kind}`),
  ),
  'POST /api/policies',
  'GET /api/policies',
  'GET /api/policies/{id}',
  'PUT /api/policies/{id}',
  'DELETE /api/policies/{id}',
  'POST /api/requests',
  'GET /api/requests',
  'GET /api/requests/{id}',
  ...['approve', 'deny', 'cancel', 'revoke'].map((a) => `POST /api/requests/{id}/${a}`),
  'POST /api/requests/{id}/review',
  'GET /api/reviews',
  'GET /api/triggers/approvals',
  'GET /api/triggers/decisions',
  'GET /api/triggers/emergencies',
  // Extensions of a live grant (version 2).
  'POST /api/requests/{id}/extend',
  ...['approve', 'deny', 'cancel'].map((a) => `POST /api/requests/{id}/extensions/{extensionId}/${a}`),
  'POST /api/execute',
  'GET /api/decisions/{token}',
  'POST /api/decisions/{token}',
  'GET /api/audit',
  'GET /api/audit/export',
  'GET /api/audit/verify',
  // Anchoring on demand (the audit's immutable archive), added after version 1.
  'POST /api/audit/anchor',
  // Usage and outcomes from the audit (the portal's Insights), added after version 1.
  'GET /api/insights',
];

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Every object node of a JSON tree, with its path. */
function* nodes(value: unknown, path = '#'): Generator<[string, Json]> {
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) yield* nodes(v, `${path}/${i}`);
  } else if (isObject(value)) {
    yield [path, value];
    for (const [k, v] of Object.entries(value)) yield* nodes(v, `${path}/${k}`);
  }
}

function resolvePointer(root: unknown, ref: string): unknown {
  return ref
    .slice(2)
    .split('/')
    .reduce<unknown>(
      (node, key) => (isObject(node) ? node[key.replaceAll('~1', '/').replaceAll('~0', '~')] : undefined),
      root,
    );
}

function label(op: Operation): string {
  return `${op.method.toUpperCase()} ${op.path}`;
}

/** Every example of the registry with the schema it must satisfy and whether it is an answer. */
function examples(): { where: string; schema: z.ZodType; example: Example; answer: boolean }[] {
  const of = (op: Operation, where: string, content: Content, answer: boolean) =>
    Object.entries(content.examples ?? {}).map(([name, example]) => ({
      where: `${op.operationId} ${where} ${name}`,
      schema: content.schema,
      example,
      answer,
    }));
  return OPERATIONS.flatMap((op) => [
    ...(op.body === undefined ? [] : of(op, 'body', op.body, false)),
    ...op.responses.flatMap((r) => (r.content ?? []).flatMap((c) => of(op, String(r.status), c, true))),
  ]);
}

describe('the registry', () => {
  it('declares exactly the operations of the contract, each once', () => {
    // Act
    const declared = OPERATIONS.map(label);

    // Assess
    expect(new Set(declared).size).toBe(declared.length);
    expect([...declared].sort()).toEqual([...CONTRACT].sort());
  });

  it('is what docs/design.md §7.2 lists, operation for operation', () => {
    // Prepare
    const design = readFileSync(join(ROOT, 'docs', 'design.md'), 'utf8');
    const start = design.search(/^### 7\.2 Operations$/m);
    const section = design.slice(start, design.indexOf('\n#', start + 1));

    // Act: the first column of the table, "`METHOD /path`".
    const listed = [...section.matchAll(/^\| `([A-Z]+ \/api\/[^`]+)` \|/gm)].map((m) => m[1] ?? '');

    // Assess
    expect(start, 'docs/design.md needs a "### 7.2 Operations" table').toBeGreaterThan(0);
    expect([...listed].sort()).toEqual([...OPERATIONS.map(label)].sort());
  });

  it('names operations in PascalCase, once each, with short titles Power Automate can show', () => {
    for (const op of OPERATIONS) {
      expect(op.operationId, label(op)).toMatch(/^[A-Z][A-Za-z]+$/);
      expect(op.summary.length, op.operationId).toBeLessThanOrEqual(80);
      expect(op.summary, op.operationId).toMatch(/[A-Za-z0-9)]$/);
      expect(op.description, op.operationId).toMatch(/[.)]$/);
    }
    expect(new Set(OPERATIONS.map((o) => o.operationId)).size).toBe(OPERATIONS.length);
  });

  it('shows an example of every JSON body and JSON answer', () => {
    // Act
    const missing = OPERATIONS.flatMap((op) => [
      ...(op.body !== undefined && op.body.examples === undefined && op.body.required
        ? [`${op.operationId} body`]
        : []),
      ...op.responses.flatMap((r) =>
        (r.content ?? [])
          .filter(
            (c) => (c.mediaType ?? 'application/json') === 'application/json' && c.examples === undefined,
          )
          .map(() => `${op.operationId} ${r.status}`),
      ),
    ]);

    // Assess: the document itself is the one answer too large to show.
    expect(missing).toEqual(['GetOpenApiDocument 200']);
  });

  it.each(examples().map((e) => [e.where, e] as const))('example %s fits its schema', (_where, e) => {
    // Act
    const parsed = e.schema.safeParse(e.example.value);

    // Assess: a request example is accepted; an answer example is exactly what the schema lets out.
    expect(parsed.error?.issues ?? []).toEqual([]);
    if (e.answer) expect(parsed.data).toEqual(e.example.value);
  });
});

describe('conformance of live answers', () => {
  it('accepts what the contract documents and names what it does not', () => {
    // Prepare
    const noGrant = problemEntry('NO_ACTIVE_GRANT').example;
    const selfApproval = problemEntry('SELF_APPROVAL').example;

    // Act
    const issues = [
      conformanceIssues('ExecuteTask', 403, noGrant),
      conformanceIssues('ExecuteTask', 403, selfApproval),
      conformanceIssues('GetHealth', 200, { status: 'ok' }),
      conformanceIssues('DeleteApproverGroup', 204, undefined),
      conformanceIssues('GetHealth', 418, {}),
    ];

    // Assess
    expect(issues[0]).toEqual([]);
    expect(issues[1]).toEqual([expect.stringContaining('answers SELF_APPROVAL')]);
    expect(issues[2]).toEqual([expect.stringContaining('version')]);
    expect(issues[3]).toEqual([]);
    expect(issues[4]).toEqual(['GetHealth does not document status 418']);
  });
});

describe('problem types', () => {
  it('documents each code with the status and body the error mapping produces', () => {
    for (const entry of problemCatalogue().values()) {
      expect(Problem.safeParse(entry.example).success, entry.code).toBe(true);
      expect(entry.example.status, entry.code).toBe(entry.status);
      expect(entry.example.type, entry.code).toMatch(/^urn:zsa:problem:[a-z0-9-]+$/);
    }
  });

  it.each([
    ['MALFORMED_JSON', { 'content-type': 'application/json' }, '{"reason":'],
    ['UNSUPPORTED_MEDIA_TYPE', { 'content-type': 'text/plain' }, 'reason=x'],
    ['BODY_TOO_LARGE', { 'content-type': 'application/json' }, `"${'x'.repeat(70 * 1024)}"`],
  ] as const)('documents the status the HTTP edge raises %s with', async (code, headers, body) => {
    // Prepare
    const request = new HttpRequest({
      method: 'POST',
      url: 'http://127.0.0.1/api/requests',
      headers,
      body: { string: body },
    });

    // Act
    const error: unknown = await readJson(request, z.object({})).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toMatchObject({ code, status: problemEntry(code).status });
  });
});

describe('the OpenAPI 3.1 document', () => {
  const document: unknown = openApiDocument();

  it('describes every operation where the registry says, with its path parameters', () => {
    for (const op of OPERATIONS) {
      const operation = resolvePointer(document, `#/paths/${op.path.replaceAll('/', '~1')}/${op.method}`);
      expect(operation, label(op)).toMatchObject({ operationId: op.operationId });
      const declared = (
        (isObject(operation) && Array.isArray(operation.parameters) ? operation.parameters : []) as Json[]
      )
        .filter((p) => p.in === 'path')
        .map((p) => [p.name, p.required]);
      const inPath = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => [m[1], true]);
      expect(declared, label(op)).toEqual(inPath);
    }
  });

  it('says who may call: no token for the anonymous, the app roles for the rest', () => {
    for (const op of OPERATIONS) {
      const operation = resolvePointer(document, `#/paths/${op.path.replaceAll('/', '~1')}/${op.method}`);
      const roles = {
        anyone: undefined,
        linkHolder: undefined,
        user: [],
        reader: ['PAM.Admin', 'PAM.Auditor'],
        admin: ['PAM.Admin'],
      }[op.access];
      expect(isObject(operation) ? operation['x-zsa-app-roles'] : null, label(op)).toEqual(roles);
      if (op.access === 'anyone') expect(isObject(operation) ? operation.security : null).toEqual([]);
    }
  });

  it('resolves every $ref and holds only patterns that compile', () => {
    for (const [path, node] of nodes(document)) {
      if (typeof node.$ref === 'string')
        expect(resolvePointer(document, node.$ref), `${path}: ${node.$ref}`).toBeDefined();
      if (typeof node.pattern === 'string')
        expect(() => new RegExp(String(node.pattern), 'u'), path).not.toThrow();
    }
  });

  it('drops the /u the generator appends to a flagged regex, and refuses flags that change meaning', () => {
    expect(plainPattern('^[^\\s@]+@[^\\s@]+$/u')).toBe('^[^\\s@]+@[^\\s@]+$');
    expect(plainPattern('^a\\/u$')).toBe('^a\\/u$');
    expect(() => plainPattern('^abc$/i')).toThrow(/flags/);
  });

  it('is the same text however often it is asked for', () => {
    expect(openApiJson()).toBe(`${JSON.stringify(openApiDocument(), null, 2)}\n`);
  });
});

describe('the Power Automate connector', () => {
  const swagger = connectorDefinition();

  it("offers 'Review an emergency use' and says plainly when a decision needs step-up", () => {
    // Act
    const paths = swagger.paths as Record<string, Record<string, Json>>;
    const review = paths['/api/requests/{id}/review']?.post;
    const approve = paths['/api/requests/{id}/approve']?.post;
    const cancel = paths['/api/requests/{id}/cancel']?.post;

    // Assess: every decision path (approve, review) explains STEP_UP_REQUIRED; others answer 401
    // only for a missing or bad token, and say so.
    expect(review?.summary).toBe('Review an emergency use');
    for (const op of [review, approve]) {
      const responses = op?.responses as Record<string, Json> | undefined;
      expect(responses?.['401']?.description).toBe(STEP_UP_CONNECTOR_ERROR);
    }
    const cancel401 = (cancel?.responses as Record<string, Json>)['401'];
    expect(cancel401?.description).not.toBe(STEP_UP_CONNECTOR_ERROR);
    expect(cancel401?.description).toMatch(/MISSING_TOKEN/);
  });

  it('offers the flow actions by their operation ids', () => {
    const ids = Object.values(swagger.paths as Record<string, Json>).flatMap((item) =>
      Object.values(item).map((op) => (op as Json).operationId),
    );
    expect(ids).toEqual(
      expect.arrayContaining([
        'SubmitRequest',
        'ApproveRequest',
        'DenyRequest',
        'ExecuteTask',
        'GetRequest',
        'ExtendRequest',
        'ApproveExtension',
        'DenyExtension',
        'CancelExtension',
      ]),
    );
    expect(
      OPERATIONS.filter((o) => o.connector !== undefined)
        .map((o) => o.operationId)
        .sort(),
    ).toEqual([...ids].sort());
  });

  it('uses only Swagger 2.0 and labels every field', () => {
    for (const [path, node] of nodes(swagger)) {
      for (const keyword of ['anyOf', 'oneOf', 'allOf', 'const', 'nullable', 'examples', 'propertyNames'])
        expect(node[keyword], `${path} has ${keyword}`).toBeUndefined();
      // A `properties` map may hold a property named `type`; every other `type` is one type name.
      if ('type' in node && !path.endsWith('/properties')) expect(typeof node.type, path).toBe('string');
      if (typeof node.$ref === 'string') {
        expect(node.$ref, path).toMatch(/^#\/definitions\//);
        expect(resolvePointer(swagger, node.$ref), path).toBeDefined();
      }
      if (isObject(node.properties))
        for (const [name, property] of Object.entries(node.properties))
          expect((property as Json)['x-ms-summary'], `${path}/properties/${name}`).toEqual(
            expect.any(String),
          );
    }
  });

  it('encodes path parameters once and fills task drop-downs from an operation it has', () => {
    const ids = new Set(OPERATIONS.filter((o) => o.connector).map((o) => o.operationId));
    for (const [path, node] of nodes(swagger)) {
      if (node.in === 'path')
        expect(node, path).toMatchObject({ required: true, 'x-ms-url-encoding': 'single' });
      const dynamic = node['x-ms-dynamic-values'];
      if (isObject(dynamic)) expect(ids.has(String(dynamic.operationId)), path).toBe(true);
    }
  });

  it('signs in with Entra ID through the hand-written connection properties', () => {
    // Prepare
    const properties = JSON.parse(
      readFileSync(join(ROOT, 'connector', 'apiProperties.json'), 'utf8'),
    ) as Json;

    // Act
    const token = resolvePointer(properties, '#/properties/connectionParameters/token');

    // Assess
    expect(token).toMatchObject({
      type: 'oauthSetting',
      oAuthSettings: { identityProvider: 'aad', redirectMode: 'GlobalPerConnector' },
    });
    expect(swagger.securityDefinitions).toMatchObject({
      oauth2_auth: { type: 'oauth2', flow: 'accessCode' },
    });
  });
});

describe('the build step', () => {
  it('writes the document and the connector definition for a given host', () => {
    // Prepare
    const out = mkdtempSync(join(tmpdir(), 'zsa-openapi-'));
    try {
      // Act
      writeOpenApi({ outDir: out, host: 'zsa-prod.azurewebsites.net' });

      // Assess
      expect(readFileSync(join(out, 'openapi.json'), 'utf8')).toBe(openApiJson());
      const connector = readFileSync(join(out, 'connector', 'apiDefinition.swagger.json'), 'utf8');
      expect(connector).toBe(connectorJson(openApiDocument(), 'zsa-prod.azurewebsites.net'));
      expect(JSON.parse(connector)).toMatchObject({ host: 'zsa-prod.azurewebsites.net' });
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('refuses a host that is not a host name', () => {
    expect(() => writeOpenApi({ outDir: tmpdir(), host: 'https://zsa.example/api' })).toThrow(/host name/);
  });

  it("puts the deploying organisation's privacy policy in the connector's metadata", () => {
    // Prepare
    const out = mkdtempSync(join(tmpdir(), 'zsa-openapi-'));
    try {
      // Act
      writeOpenApi({ outDir: out, host: 'zsa.contoso.com', privacyUrl: 'https://contoso.com/privacy' });

      // Assess
      const connector = JSON.parse(
        readFileSync(join(out, 'connector', 'apiDefinition.swagger.json'), 'utf8'),
      ) as { 'x-ms-connector-metadata': { propertyName: string; propertyValue: string }[] };
      expect(connector['x-ms-connector-metadata']).toContainEqual({
        propertyName: 'Privacy policy',
        propertyValue: 'https://contoso.com/privacy',
      });
      expect(() =>
        writeOpenApi({ outDir: out, host: 'zsa.contoso.com', privacyUrl: 'http://contoso.com/privacy' }),
      ).toThrow(/https URL/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
