/**
 * The checks an integrator (and Microsoft's connector review) runs on the published contract, run
 * here so CI keeps them at zero: the OpenAPI 3.1 document and the connector's Swagger 2.0 definition
 * validate with @readme/openapi-parser, Spectral's `oas` ruleset finds no error and no warning in
 * either (the rules turned off say why), and the connector meets Microsoft's connector guidance
 * (the custom rules below). Each check also runs on a copy broken on purpose, to show it can fail.
 *
 * The texts checked are the ones `npm run build` writes to `dist/openapi.json` and
 * `dist/connector/apiDefinition.swagger.json` (document.test.ts holds them byte for byte equal).
 */
import { validate } from '@readme/openapi-parser';
import {
  createRulesetFunction,
  Spectral,
  type IRuleResult,
  type RulesetDefinition,
} from '@stoplight/spectral-core';
import { truthy } from '@stoplight/spectral-functions';
import { oas } from '@stoplight/spectral-rulesets';
import { describe, expect, it } from 'vitest';
import { connectorDefinition } from '#shared/openapi/connector';
import { openApiDocument } from '#shared/openapi/document';

type Json = Record<string, unknown>;
/** What the parser takes; the documents are checked by it, not typed for it. */
type ApiDocument = Exclude<Parameters<typeof validate>[0], string>;

/** A deep copy the checks (and the breaks) may change freely. */
function copy(value: unknown): Json {
  return JSON.parse(JSON.stringify(value)) as Json;
}

const DOCUMENTS = [
  { name: 'the OpenAPI 3.1 document', text: () => copy(openApiDocument()) },
  { name: "the connector's Swagger 2.0 definition", text: () => copy(connectorDefinition()) },
] as const;

/** Words Title Case leaves in lower case when they are not the first (Microsoft's style guide). */
const MINOR_WORDS = new Set([
  'a',
  'an',
  'and',
  'as',
  'at',
  'by',
  'for',
  'from',
  'in',
  'of',
  'on',
  'or',
  'the',
  'to',
]);

/** Why a label breaks the connector guidance, or undefined: Title Case, ≤ 80 characters, no final period. */
function labelProblem(label: string): string | undefined {
  if (label.length === 0 || label.length > 80) return `"${label}" must be 1 to 80 characters`;
  if (label.endsWith('.')) return `"${label}" must not end with a period`;
  const lower = label
    .split(' ')
    .map((word) => word.replace(/^\(/, ''))
    .find((word, i) => !/^[\p{Lu}\p{N}]/u.test(word) && (i === 0 || !MINOR_WORDS.has(word)));
  return lower === undefined ? undefined : `"${label}" must be in Title Case ("${lower}")`;
}

const titleCase = createRulesetFunction<string, null>(
  { input: { type: 'string' }, options: null },
  (label) => {
    const problem = labelProblem(label);
    return problem === undefined ? [] : [{ message: problem }];
  },
);

/** A schema property needs its own description, unless it only points at a definition (which has one). */
const describedProperty = createRulesetFunction<Json, null>(
  { input: { type: 'object' }, options: null },
  (property) =>
    typeof property.$ref === 'string' ||
    (typeof property.description === 'string' && property.description.trim() !== '')
      ? []
      : [{ message: 'A schema property needs a description: Power Automate shows it as the hint' }],
);

/** Required and hidden is a field makers can never fill: Microsoft's rule asks for a default. */
const reachableWhenRequired = createRulesetFunction<Json, null>(
  { input: { type: 'object' }, options: null },
  (field) =>
    field.required === true && field['x-ms-visibility'] === 'internal' && !('default' in field)
      ? [{ message: 'A required internal field needs a default' }]
      : [],
);

/** Microsoft's connector guidance, as far as a machine can judge it. */
const CONNECTOR_GUIDANCE: RulesetDefinition = {
  rules: {
    'zsa-summary-title-case': {
      description: 'Labels (x-ms-summary) are Title Case, at most 80 characters, without a final period.',
      severity: 'error',
      given: "$..[?(@property === 'x-ms-summary')]",
      then: { function: titleCase },
    },
    'zsa-operation-summary': {
      description: 'Action names are at most 80 characters, without a final period.',
      severity: 'error',
      given: '$.paths[*][*].summary',
      then: { function: titleCaseFree },
    },
    'zsa-operation-description': {
      description: 'Every action says what it does.',
      severity: 'error',
      given: '$.paths[*][*]',
      then: { field: 'description', function: truthy },
    },
    'zsa-operation-visibility': {
      description:
        'Every action says how prominent it is (x-ms-visibility), so makers find the main ones first.',
      severity: 'error',
      given: '$.paths[*][*]',
      then: { field: 'x-ms-visibility', function: truthy },
    },
    'zsa-parameter-description': {
      description: 'Every parameter says what it is.',
      severity: 'error',
      given: '$.paths[*][*].parameters[*]',
      then: { field: 'description', function: truthy },
    },
    'zsa-property-description': {
      description: 'Every schema property says what it is.',
      severity: 'error',
      resolved: false,
      given: ['$.definitions..properties[*]', '$.paths..schema..properties[*]'],
      then: { function: describedProperty },
    },
    'zsa-required-reachable': {
      description: 'A required field a maker cannot see has a default.',
      severity: 'error',
      resolved: false,
      given: ['$.paths[*][*].parameters[*]'],
      then: { function: reachableWhenRequired },
    },
  },
};

/** An action name is sentence case in Power Automate, but just as short and without a final period. */
function titleCaseFree(summary: unknown): { message: string }[] {
  return typeof summary === 'string' && summary.length <= 80 && !summary.endsWith('.')
    ? []
    : [{ message: `"${String(summary)}" must be at most 80 characters, without a final period` }];
}

/**
 * Spectral's `oas` rules that do not fit this API, and why. Everything else runs, warnings
 * included, and must find nothing.
 */
const OAS_RULES_OFF: Readonly<Record<string, string>> = {
  // Tags are in the order the API reference (docs/api.md) reads, service first, audit last.
  'openapi-tags-alphabetical': 'off',
  // OpenAPI 3.1 names the licence by SPDX `identifier`, which excludes `url`.
  'license-url': 'off',
  // Self-hosted: the contact is whoever runs the deployment, with no mailbox this repository can name.
  'contact-properties': 'off',
};

/** Spectral on the whole document takes seconds alone, and more beside the rest of the suite. */
const SPECTRAL_TIMEOUT_MS = 90_000;

async function lint(document: Json, ruleset: RulesetDefinition): Promise<IRuleResult[]> {
  const spectral = new Spectral();
  spectral.setRuleset(ruleset);
  return spectral.run(JSON.stringify(document, null, 2));
}

function findings(results: readonly IRuleResult[]): string[] {
  return results.map((r) => `${String(r.code)} at ${r.path.join('.')}: ${r.message}`);
}

const OAS: RulesetDefinition = {
  extends: [[oas as RulesetDefinition, 'all']],
  rules: Object.fromEntries(Object.keys(OAS_RULES_OFF).map((rule) => [rule, 'off'])),
};

describe('the published contract', () => {
  it.each(DOCUMENTS)('$name validates with @readme/openapi-parser', async ({ text }) => {
    // Act
    const result = await validate(text() as ApiDocument);

    // Assess
    expect(result.valid ? [] : result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
  });

  it.each(DOCUMENTS)(
    '$name has no Spectral `oas` finding, warnings included',
    async ({ text }) => {
      expect(findings(await lint(text(), OAS))).toEqual([]);
    },
    SPECTRAL_TIMEOUT_MS,
  );

  it("the connector meets Microsoft's connector guidance", async () => {
    expect(findings(await lint(copy(connectorDefinition()), CONNECTOR_GUIDANCE))).toEqual([]);
  });

  it('publishes only patterns that mean the same without the `u` flag (and in .NET)', () => {
    // Arrange: `\p{…}` and `\u{…}` exist only under `u`; a pattern must compile without it.
    const patterns: string[] = [];
    const collect = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(collect);
      else if (typeof node === 'object' && node !== null)
        for (const [key, value] of Object.entries(node)) {
          if (key === 'pattern' && typeof value === 'string') patterns.push(value);
          collect(value);
        }
    };
    collect(openApiDocument());
    collect(connectorDefinition());

    // Assess
    expect(patterns.length).toBeGreaterThan(0);
    for (const pattern of new Set(patterns)) {
      expect(pattern, pattern).not.toMatch(/\\[pP]\{|\\u\{/);
      expect(() => new RegExp(pattern), pattern).not.toThrow();
    }
  });
});

describe('each check can fail', () => {
  it('the parser refuses an operation without responses', async () => {
    // Arrange
    const broken = copy(connectorDefinition());
    const paths = broken.paths as Record<string, Record<string, Json>>;
    const first = Object.values(paths)[0];
    const operation = first === undefined ? undefined : Object.values(first)[0];
    if (operation !== undefined) delete operation.responses;

    // Act
    const result = await validate(broken as ApiDocument);

    // Assess
    expect(result.valid).toBe(false);
  });

  it(
    'Spectral reports an example that breaks its schema',
    async () => {
      // Arrange: one operation kept (linting every example takes long), its request example no
      // longer holding an e-mail address.
      const document = copy(openApiDocument());
      document.paths = { '/api/requests/{id}': (document.paths as Json)['/api/requests/{id}'] };
      const text = JSON.stringify(document).replaceAll(
        '"requester":"alice@contoso.com"',
        '"requester":"alice"',
      );
      expect(text).not.toBe(JSON.stringify(document));

      // Act
      const results = await lint(JSON.parse(text) as Json, OAS);

      // Assess
      expect(findings(results).some((f) => f.startsWith('oas3-valid-media-example'))).toBe(true);
    },
    SPECTRAL_TIMEOUT_MS,
  );

  it.each([
    ['zsa-summary-title-case', 'a label in sentence case', ['x-ms-summary'], 'Request id'],
    ['zsa-summary-title-case', 'a label with a final period', ['x-ms-summary'], 'Request ID.'],
    ['zsa-operation-summary', 'an action name with a final period', ['summary'], 'Submit a request.'],
    ['zsa-operation-description', 'an action without a description', ['description'], ''],
    ['zsa-operation-visibility', 'an action without visibility', ['x-ms-visibility'], undefined],
  ] as const)('the guidance flags %s: %s', async (rule, _what, [key], value) => {
    // Arrange: break the first field of SubmitRequest.
    const broken = copy(connectorDefinition());
    const submit = (broken.paths as Record<string, Record<string, Json>>)['/api/requests']?.post;
    expect(submit).toBeDefined();
    if (submit === undefined) return;
    const target: Json = key === 'x-ms-summary' ? ((submit.parameters as Json[])[0] ?? {}) : submit;
    if (key === 'x-ms-summary') {
      const schema = target.schema as { properties: Record<string, Json> };
      const first = Object.values(schema.properties)[0];
      if (first !== undefined) first['x-ms-summary'] = value;
      // An undefined value drops the key: the linter reads the document as JSON text.
    } else target[key] = value;

    // Act
    const results = await lint(broken, CONNECTOR_GUIDANCE);

    // Assess
    expect(results.map((r) => r.code)).toContain(rule);
  });

  it.each([
    ['zsa-property-description', 'a property without a description'],
    ['zsa-parameter-description', 'a parameter without a description'],
    ['zsa-required-reachable', 'a required field hidden from makers, without a default'],
  ] as const)('the guidance flags %s: %s', async (rule, _what) => {
    // Arrange: the request id of GetRequest, and the first property of the request view.
    const broken = copy(connectorDefinition());
    const get = (broken.paths as Record<string, Record<string, Json>>)['/api/requests/{id}']?.get;
    const parameter = (get?.parameters as Json[] | undefined)?.[0] ?? {};
    const view = (broken.definitions as Record<string, { properties: Record<string, Json> }>).RequestView;
    const property = view === undefined ? {} : (Object.values(view.properties)[0] ?? {});
    if (rule === 'zsa-property-description') delete property.description;
    if (rule === 'zsa-parameter-description') delete parameter.description;
    if (rule === 'zsa-required-reachable') parameter['x-ms-visibility'] = 'internal';

    // Act
    const results = await lint(broken, CONNECTOR_GUIDANCE);

    // Assess
    expect(results.map((r) => r.code)).toContain(rule);
  });

  it.each([
    ['Request ID', undefined],
    ['Client Request ID (for Retries)', undefined],
    ['Only Those I Can Approve', undefined],
    ['Request id', /Title Case/],
    ['only mine', /Title Case/],
    ['Comment.', /period/],
    ['A'.repeat(81), /80/],
  ] as const)('judges the label %j', (label, problem) => {
    const found = labelProblem(label);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toMatch(problem);
  });
});
