/**
 * The connector findings of issue 16, each held by a test so it cannot come back: the executor's
 * `serviceBus` type survives the union merge, every operation lists the 4xx it can answer with the
 * problem schema, the metadata Microsoft's review asks for is there, and every tag used is declared.
 */
import { describe, expect, it } from 'vitest';
import { connectorDefinition, labelOf, PRIVACY_POLICY_PLACEHOLDER } from '#shared/openapi/connector';
import { openApiDocument, problemsOf } from '#shared/openapi/document';
import { OPERATIONS } from '#shared/openapi/operations';
import { problemEntry } from '#shared/openapi/problems';

type Json = Record<string, unknown>;

const swagger = connectorDefinition(openApiDocument(), 'zsa.contoso.com');
const paths = swagger.paths as Record<string, Record<string, Json>>;

describe('the connector', () => {
  it('offers both executor types when a task is read', () => {
    // Act: ListTasks answers a union of the list, a task and a summary; the executor is a union too.
    const answer = paths['/api/catalog/tasks']?.get?.responses as Record<string, { schema: Json }>;
    const executor = (answer['200']?.schema.properties as Record<string, Json>).executor as {
      properties: Record<string, Json>;
    };

    // Assess
    expect(executor.properties.type?.enum).toEqual(['webhook', 'serviceBus']);
    expect(Object.keys(executor.properties)).toEqual(['type', 'url', 'queue']);
  });

  it.each(OPERATIONS.filter((op) => op.connector !== undefined).map((op) => [op.operationId, op] as const))(
    '%s lists every 4xx it can answer, with the problem schema',
    (_id, op) => {
      // Arrange
      const expected = [...new Set(problemsOf(op).map((c) => problemEntry(c).status))]
        .filter((status) => status >= 400 && status < 500)
        .map(String)
        .sort();

      // Act
      const responses = paths[op.path]?.[op.method]?.responses as Record<string, Json>;
      const refusals = Object.keys(responses).filter((status) => /^4\d\d$/.test(status));

      // Assess
      expect(refusals.sort()).toEqual(expected);
      expect(expected).toContain('401');
      for (const status of [...refusals, 'default']) {
        const response = responses[status] as { description?: string; schema?: Json } | undefined;
        expect(response?.description, status).toMatch(/\S/);
        expect(response?.schema, status).toEqual({ $ref: '#/definitions/Problem' });
      }
    },
  );

  it('says who runs it, what it is for, and where its privacy policy is', () => {
    const contact = (swagger.info as { contact?: { name?: string; url?: string } }).contact;
    expect(contact?.name).toMatch(/\S/);
    expect(contact?.url).toBe('https://zsa.contoso.com/');
    expect(swagger['x-ms-connector-metadata']).toEqual([
      { propertyName: 'Website', propertyValue: 'https://zsa.contoso.com/' },
      { propertyName: 'Privacy policy', propertyValue: PRIVACY_POLICY_PLACEHOLDER },
      { propertyName: 'Categories', propertyValue: 'IT Operations;Security' },
    ]);
  });

  it.each([
    ['the connector', swagger],
    ['the OpenAPI document', openApiDocument() as unknown as Json],
  ])('%s declares, with a description, every tag its operations use', (_name, document) => {
    // Arrange
    const declared = (document.tags as { name: string; description?: string }[]).map((t) => t.name);
    const used = Object.values(document.paths as Record<string, Record<string, { tags?: string[] }>>).flatMap(
      (item) => Object.values(item).flatMap((op) => op.tags ?? []),
    );

    // Assess
    expect(used.length).toBeGreaterThan(0);
    expect([...new Set(used)].sort()).toEqual([...declared].sort());
    for (const tag of document.tags as { description?: string }[]) expect(tag.description).toMatch(/\S/);
  });

  it.each([
    ['clientRequestId', 'Client Request ID'],
    ['approverAuthContext', 'Approver Auth Context'],
    ['url', 'URL'],
    ['maxDurationHours', 'Max Duration Hours'],
  ])('labels the unlabelled field %s as %s', (name, label) => {
    expect(labelOf(name)).toBe(label);
  });
});
