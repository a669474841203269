/**
 * The connector against the JSON schemas Microsoft publishes for custom connectors (the
 * microsoft/PowerPlatformConnectors repository, vendored under test/fixtures/power-platform/ with
 * their source): the generated `apiDefinition.swagger.json` and the hand-written
 * `connector/apiProperties.json`. Each check also runs on a copy broken on purpose, to show it can fail.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import Ajv04 from 'ajv-draft-04';
import { parse, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { describe, expect, it } from 'vitest';
import { connectorDefinition } from '#shared/openapi/connector';
import { ROOT } from '../support/local-host';

type Json = Record<string, unknown>;

const FIXTURES = join(ROOT, 'test', 'fixtures', 'power-platform');

function readJson(...path: string[]): Json {
  return JSON.parse(readFileSync(join(...path), 'utf8')) as Json;
}

/** Microsoft's schemas are JSON with comments (`// TODO`); read them as published, or not at all. */
function readJsonc(...path: string[]): Json {
  const errors: ParseError[] = [];
  const value = parse(readFileSync(join(...path), 'utf8'), errors, { allowTrailingComma: false }) as Json;
  if (errors.length > 0)
    throw new Error(
      `${join(...path)}: ${errors.map((e) => `${printParseErrorCode(e.error)} at ${e.offset}`).join(', ')}`,
    );
  return value;
}

/** The apiProperties schema says draft-07 but names itself with draft-04's `id`, which Ajv 8 refuses. */
function draft07({ id, ...schema }: Json): Json {
  return { $id: id, ...schema };
}

/**
 * The apiProperties schema was last changed in 2020; two Entra ID settings came later and are what
 * ZSA's connection uses: the per-connector redirect (`redirectMode: GlobalPerConnector`, which
 * Microsoft now asks new connectors to use) and `enableOnbehalfOfLogin`. Connectors in the same
 * repository carry both (32 and 17 of them at the vendored commit). Only these two are added;
 * everything else is judged as published.
 */
function withLaterSettings(schema: Json): Json {
  const settings = (schema.definitions as Record<string, Json>).oAuthSettings as {
    properties: { redirectMode: { enum: string[] } };
    oneOf: { description?: string; properties?: { customParameters?: { properties: Json } } }[];
  };
  settings.properties.redirectMode.enum.push('GlobalPerConnector');
  const aad = settings.oneOf.find((branch) => branch.description === 'identityProvider: aad');
  if (aad?.properties?.customParameters === undefined) throw new Error('The schema has no aad settings');
  aad.properties.customParameters.properties.enableOnbehalfOfLogin = {};
  return schema;
}

/**
 * Microsoft's schemas carry keywords Ajv's strict mode does not know (`id` beside draft-07's
 * `$schema`, `examples` under draft-04), so strict mode is off: it judges schemas, not documents.
 * The Swagger schema is draft-04 (and refers to the draft-04 meta-schema, which ajv-draft-04 holds).
 */
const definitionSchema: ValidateFunction = new Ajv04({ allErrors: true, strict: false }).compile(
  readJsonc(FIXTURES, 'apiDefinition.swagger.schema.json'),
);
const propertiesSchema: ValidateFunction = new Ajv({ allErrors: true, strict: false }).compile(
  withLaterSettings(draft07(readJsonc(FIXTURES, 'paconn-apiProperties.schema.json'))),
);

function errorsOf(validate: ValidateFunction, value: unknown): string[] {
  return validate(value)
    ? []
    : (validate.errors ?? []).map((e: ErrorObject) => `${e.instancePath} ${e.message ?? e.keyword}`);
}

function copy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

const apiProperties = (): Json => readJson(ROOT, 'connector', 'apiProperties.json');

describe("the connector against Power Platform's JSON schemas", () => {
  it.each([
    ['apiDefinition.swagger.json', definitionSchema, () => copy(connectorDefinition())],
    ['apiProperties.json', propertiesSchema, apiProperties],
  ] as const)('%s is valid', (_name, validate, document) => {
    expect(errorsOf(validate, document())).toEqual([]);
  });

  it.each([
    [
      'a definition with an operation Swagger 2.0 does not have',
      definitionSchema,
      () => {
        const broken = copy(connectorDefinition());
        (broken.paths as Record<string, Json>)['/api/requests'] = { query: {} };
        return broken;
      },
    ],
    [
      'a definition whose parameter has no location',
      definitionSchema,
      () => {
        const broken = copy(connectorDefinition());
        const get = (broken.paths as Record<string, Record<string, { parameters: Json[] }>>)[
          '/api/requests/{id}'
        ]?.get;
        const parameter = get?.parameters[0];
        if (parameter !== undefined) delete parameter.in;
        return broken;
      },
    ],
    [
      'connection properties without a brand colour',
      propertiesSchema,
      () => {
        const broken = apiProperties();
        delete (broken.properties as Json).iconBrandColor;
        return broken;
      },
    ],
    [
      'connection properties with an unknown identity provider setting',
      propertiesSchema,
      () => {
        const broken = apiProperties();
        ((broken.properties as Json).connectionParameters as Record<string, Json>).token = { type: 'magic' };
        return broken;
      },
    ],
  ] as const)('refuses %s', (_what, validate, broken) => {
    expect(errorsOf(validate, broken()).length).toBeGreaterThan(0);
  });
});
