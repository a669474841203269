/**
 * The Power Automate custom connector's definition (Swagger 2.0, which is what connectors take),
 * derived from the OpenAPI 3.1 document: the operations that declare `connector`, with the labels
 * (`x-ms-summary`), prominence (`x-ms-visibility`) and task drop-downs (`x-ms-dynamic-values`)
 * Power Automate shows. Pure and deterministic, so the build writes it and the contract test can
 * rebuild it from the served document.
 */
import { openApiDocument, problemsOf, TAG_DESCRIPTIONS, type OpenApiDocument } from './document';
import { OPERATIONS, type ConnectorField, type Operation } from './operations';
import { problemEntry, type ProblemCode } from './problems';

/** Replace with the Function App's host name (`node dist/infra/tools/write-openapi.js --host …`). */
export const CONNECTOR_HOST_PLACEHOLDER = 'your-zsa-app.azurewebsites.net';
/**
 * ZSA is self-hosted: the privacy policy that applies is the deploying organisation's, so the
 * definition carries a placeholder to replace before the connector is shared or certified.
 */
export const PRIVACY_POLICY_PLACEHOLDER = 'https://your-organisation.example/privacy';
export const CONNECTOR_SECURITY = 'oauth2_auth';

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function objectAt(value: unknown, ...path: readonly string[]): Json | undefined {
  let node: unknown = value;
  for (const key of path) node = isObject(node) ? node[key] : undefined;
  return isObject(node) ? node : undefined;
}

const REF = '#/components/schemas/';

/** Abbreviations Title Case writes in capitals. */
const ACRONYMS: Readonly<Record<string, string>> = { id: 'ID', url: 'URL', upn: 'UPN' };

/**
 * `clientRequestId` → `Client Request ID`: the label of a field nobody named, in the Title Case
 * Microsoft's connector guidance asks of `x-ms-summary`.
 */
export function labelOf(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(' ')
    .map((word) => ACRONYMS[word.toLowerCase()] ?? word.charAt(0).toUpperCase() + word.slice(1))
    .join(' ');
}

/** Markdown is shown raw in Power Automate: keep the words. */
function plain(text: string): string {
  return text.replaceAll('**', '').replaceAll('`', '');
}

class Converter {
  /** Component schemas still referenced (they become `definitions`). */
  readonly referenced = new Set<string>();

  constructor(private readonly components: Json) {}

  component(name: string): Json {
    const schema = objectAt(this.components, name);
    if (schema === undefined) throw new Error(`The document has no schema ${name}`);
    return schema;
  }

  /** Resolves a `$ref` (once) so a union's members can be merged. */
  resolve(schema: Json): Json {
    const ref = schema.$ref;
    return typeof ref === 'string' && ref.startsWith(REF) ? this.component(ref.slice(REF.length)) : schema;
  }

  /** A JSON Schema 2020-12 schema as a Swagger 2.0 schema, every property labelled. */
  schema(source: Json): Json {
    const ref = source.$ref;
    if (typeof ref === 'string' && ref.startsWith(REF)) {
      this.referenced.add(ref.slice(REF.length));
      return { $ref: `#/definitions/${ref.slice(REF.length)}` };
    }
    const union = source.anyOf ?? source.oneOf;
    if (Array.isArray(union)) return this.union(union.filter(isObject), source);

    const out: Json = {};
    let nullable = false;
    for (const [key, value] of Object.entries(source)) {
      switch (key) {
        case 'type':
          if (Array.isArray(value)) {
            const types = value.filter((t) => t !== 'null');
            nullable = types.length < value.length;
            if (types.length === 1) out.type = types[0];
          } else out.type = value;
          break;
        case 'const':
          out.enum = [value];
          break;
        case 'exclusiveMinimum':
          out.minimum = value;
          out.exclusiveMinimum = true;
          break;
        case 'exclusiveMaximum':
          out.maximum = value;
          out.exclusiveMaximum = true;
          break;
        case 'examples':
          if (Array.isArray(value) && value.length > 0) out.example = value[0];
          break;
        case 'properties':
          if (isObject(value))
            out.properties = Object.fromEntries(
              Object.entries(value).map(([name, p]) => [
                name,
                { ...this.schema(isObject(p) ? p : {}), 'x-ms-summary': labelOf(name) },
              ]),
            );
          break;
        case 'items':
          if (isObject(value)) out.items = this.schema(value);
          break;
        case 'additionalProperties':
          out.additionalProperties = isObject(value) ? this.schema(value) : value;
          break;
        case 'description':
          if (typeof value === 'string') out.description = plain(value);
          break;
        case 'format':
        case 'enum':
        case 'default':
        case 'pattern':
        case 'minLength':
        case 'maxLength':
        case 'minimum':
        case 'maximum':
        case 'minItems':
        case 'maxItems':
        case 'required':
        case 'title':
          out[key] = value;
          break;
        default:
        // Keywords Swagger 2.0 lacks (propertyNames, unevaluatedProperties, …) are left out.
      }
    }
    if (nullable) out['x-nullable'] = true;
    return out;
  }

  /**
   * Swagger 2.0 has no anyOf/oneOf. `X | null` is X, nullable; a union of objects becomes one
   * object holding every member's properties (required: those all members require); anything
   * else (string | number | boolean) is left untyped, which Power Automate takes as "any".
   */
  private union(members: readonly Json[], source: Json): Json {
    const described =
      typeof source.description === 'string' ? { description: plain(source.description) } : {};
    const nonNull = members.filter((m) => m.type !== 'null');
    const [only] = nonNull;
    if (nonNull.length === 1 && only !== undefined) {
      const single = this.schema(only);
      return nonNull.length < members.length
        ? { ...single, 'x-nullable': true, ...described }
        : { ...single, ...described };
    }
    const resolved = nonNull.map((m) => this.resolve(m));
    if (!resolved.every((m) => m.type === 'object')) return described;
    const properties: Json = {};
    for (const member of resolved) {
      for (const [name, p] of Object.entries(objectAt(member, 'properties') ?? {})) {
        const seen = properties[name];
        properties[name] = isObject(seen) && isObject(p) ? mergedEnum(seen, p) : p;
      }
    }
    const requiredBy = resolved.map((m): readonly unknown[] => (Array.isArray(m.required) ? m.required : []));
    const required = (requiredBy[0] ?? []).filter((name) => requiredBy.every((r) => r.includes(name)));
    return this.schema({
      type: 'object',
      properties,
      ...(required.length > 0 ? { required } : {}),
      ...described,
    });
  }
}

/**
 * The same property in two members of a union: keep the first's schema, but a discriminator such
 * as the executor's `type` (`webhook` in one member, `serviceBus` in the other) must offer every
 * member's values, or makers could not pick the second.
 */
function mergedEnum(first: Json, second: Json): Json {
  const valuesOf = (schema: Json): readonly unknown[] | undefined =>
    Array.isArray(schema.enum) ? schema.enum : 'const' in schema ? [schema.const] : undefined;
  const a = valuesOf(first);
  const b = valuesOf(second);
  if (a === undefined || b === undefined) return first;
  const { const: _const, ...rest } = first;
  return { ...rest, enum: [...new Set([...a, ...b])] };
}

function annotate(schema: Json, field: ConnectorField | undefined): Json {
  if (field === undefined) return schema;
  const dynamic = field.dynamicValues;
  return {
    ...schema,
    'x-ms-summary': field.summary,
    ...(field.visibility === undefined ? {} : { 'x-ms-visibility': field.visibility }),
    ...(dynamic === undefined
      ? {}
      : {
          'x-ms-dynamic-values': {
            operationId: dynamic.operationId,
            'value-collection': dynamic.collection,
            'value-path': dynamic.valuePath,
            'value-title': dynamic.valuePath,
          },
        }),
  };
}

/** Path and query parameters: Swagger 2.0 puts the type on the parameter itself. */
function parameterOf(converter: Converter, parameter: Json, field: ConnectorField | undefined): Json {
  const name = String(parameter.name);
  const location = String(parameter.in);
  const schema = converter.schema(objectAt(parameter, 'schema') ?? {});
  const { description, ...typed } = schema;
  const text = parameter.description ?? description;
  return {
    name,
    in: location,
    required: parameter.required === true,
    ...(typeof text === 'string' ? { description: plain(text) } : {}),
    ...typed,
    ...(location === 'path' ? { 'x-ms-url-encoding': 'single' } : {}),
    ...annotate({}, field ?? { summary: labelOf(name) }),
  };
}

function bodyOf(converter: Converter, op: Operation, requestBody: Json): Json {
  const source = objectAt(requestBody, 'content', 'application/json', 'schema') ?? {};
  // Inlined, so this operation's labels go on its own fields (definitions are shared).
  const schema = converter.schema(converter.resolve(source));
  const fields = op.connector?.fields ?? {};
  const properties = objectAt(schema, 'properties') ?? {};
  return {
    name: 'body',
    in: 'body',
    required: requestBody.required === true,
    ...(typeof schema.description === 'string' ? { description: schema.description } : {}),
    schema: {
      ...schema,
      properties: Object.fromEntries(
        Object.entries(properties).map(([name, p]) => [name, annotate(isObject(p) ? p : {}, fields[name])]),
      ),
    },
  };
}

/**
 * What Power Automate shows when a decision is refused for want of step-up: the flow's connection
 * signed in without the authentication context the policy asks approvers for. Said plainly, so the
 * flow's owner knows to sign the connection in again (meeting the context) rather than retry.
 */
export const STEP_UP_CONNECTOR_ERROR =
  'STEP_UP_REQUIRED: this decision needs a stronger sign-in than the connection has (the policy asks approvers for an authentication context, such as MFA). Sign the connection in again meeting it, then run the step again; retrying as is fails the same way.';

/**
 * The refusals an operation can answer (every 4xx of its problem codes), each with the problem
 * schema, so a flow can branch on them by status; 5xx stay under `default`.
 */
function refusalsOf(converter: Converter, op: Operation): Json {
  const byStatus = new Map<number, ProblemCode[]>();
  for (const code of problemsOf(op)) {
    const { status } = problemEntry(code);
    if (status < 500) byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Json = {};
  for (const status of [...byStatus.keys()].sort((a, b) => a - b)) {
    const codes = byStatus.get(status) ?? [];
    const stepUp = status === 401 && codes.includes('STEP_UP_REQUIRED');
    out[String(status)] = {
      description: stepUp
        ? STEP_UP_CONNECTOR_ERROR
        : `${problemEntry(codes[0] ?? 'INTERNAL').example.title}: ${codes.join(', ')}. ${codes.map((c) => plain(problemEntry(c).meaning)).join(' ')}`,
      schema: converter.schema({ $ref: `${REF}Problem` }),
    };
  }
  return out;
}

function responsesOf(converter: Converter, responses: Json, op: Operation): Json {
  const out: Json = {};
  for (const [status, response] of Object.entries(responses)) {
    if (!/^2\d\d$/.test(status) || !isObject(response)) continue;
    const schema = objectAt(response, 'content', 'application/json', 'schema');
    // Location, and a polling trigger's Retry-After (Power Automate reads both).
    const headers: Json = {};
    for (const name of ['Location', 'Retry-After']) {
      const header = objectAt(response, 'headers', name);
      if (header !== undefined)
        headers[name] = { type: 'string', description: plain(String(header.description)) };
    }
    out[status] = {
      description: plain(String(response.description)),
      ...(schema === undefined ? {} : { schema: converter.schema(schema) }),
      ...(Object.keys(headers).length === 0 ? {} : { headers }),
    };
  }
  Object.assign(out, refusalsOf(converter, op));
  out.default = {
    description: 'The service failed or is unavailable: RFC 9457 problem details.',
    schema: converter.schema({ $ref: `${REF}Problem` }),
  };
  return out;
}

// --- Polling triggers (issue 16) ------------------------------------------------------------------

/**
 * A polling trigger's metadata: `batch`, since each poll answers `{ items }` and every item starts
 * its own run; the hint tells the maker what makes it fire while they test the flow.
 */
function triggerOf(op: Operation): Json {
  const trigger = op.connector?.trigger;
  return trigger === undefined ? {} : { 'x-ms-trigger': 'batch', 'x-ms-trigger-hint': trigger.hint };
}

// -------------------------------------------------------------------------------------------------

function operationOf(converter: Converter, op: Operation, source: Json): Json {
  const fields = op.connector?.fields ?? {};
  const parameters = (Array.isArray(source.parameters) ? source.parameters : [])
    .filter(isObject)
    .map((p) => parameterOf(converter, p, fields[String(p.name)]));
  const requestBody = objectAt(source, 'requestBody');
  if (requestBody !== undefined) parameters.push(bodyOf(converter, op, requestBody));
  return {
    operationId: op.operationId,
    summary: op.summary,
    description: plain(String(source.description)),
    ...(op.connector?.visibility === undefined ? {} : { 'x-ms-visibility': op.connector.visibility }),
    ...triggerOf(op),
    tags: [op.tag],
    parameters,
    responses: responsesOf(converter, objectAt(source, 'responses') ?? {}, op),
  };
}

/** The connector's `apiDefinition.swagger.json`. */
export function connectorDefinition(
  document: OpenApiDocument = openApiDocument(),
  host: string = CONNECTOR_HOST_PLACEHOLDER,
  privacyUrl: string = PRIVACY_POLICY_PLACEHOLDER,
): Json {
  const converter = new Converter(objectAt(document, 'components', 'schemas') ?? {});
  const paths: Record<string, Json> = {};
  for (const op of OPERATIONS) {
    if (op.connector === undefined) continue;
    const source = objectAt(document, 'paths', op.path, op.method);
    if (source === undefined) throw new Error(`The document lacks ${op.method.toUpperCase()} ${op.path}`);
    paths[op.path] = { ...paths[op.path], [op.method]: operationOf(converter, op, source) };
  }
  // Definitions can reference more definitions: convert until nothing new is referenced.
  const definitions: Record<string, Json> = {};
  for (let pending = [...converter.referenced]; pending.length > 0;) {
    for (const name of pending) definitions[name] = converter.schema(converter.component(name));
    pending = [...converter.referenced].filter((name) => !(name in definitions));
  }
  const sorted = Object.fromEntries(
    Object.keys(definitions)
      .sort()
      .map((name) => [name, definitions[name]]),
  );
  const info = objectAt(document, 'info') ?? {};
  const description = (typeof info.description === 'string' ? info.description : '').split('\n\n')[0] ?? '';
  return {
    swagger: '2.0',
    info: {
      title: 'Zero Standing Access',
      description: plain(description),
      version: typeof info.version === 'string' ? info.version : '0.0.0',
      license: { name: 'MIT' },
      // Self-hosted: whoever runs this deployment answers for it, through its portal.
      contact: { name: 'The administrators of this ZSA deployment', url: `https://${host}/` },
    },
    host,
    basePath: '/',
    schemes: ['https'],
    consumes: ['application/json'],
    produces: ['application/json'],
    paths,
    definitions: sorted,
    tags: [...new Set(OPERATIONS.filter((o) => o.connector !== undefined).map((o) => o.tag))].map((name) => ({
      name,
      description: TAG_DESCRIPTIONS[name],
    })),
    securityDefinitions: {
      [CONNECTOR_SECURITY]: {
        type: 'oauth2',
        flow: 'accessCode',
        authorizationUrl: 'https://login.microsoftonline.com/common/oauth2/authorize',
        tokenUrl: 'https://login.microsoftonline.com/common/oauth2/authorize',
        scopes: {},
      },
    },
    security: [{ [CONNECTOR_SECURITY]: [] }],
    'x-ms-connector-metadata': [
      { propertyName: 'Website', propertyValue: `https://${host}/` },
      // The deploying organisation's own (write-openapi --privacy-url): ZSA keeps its data there.
      { propertyName: 'Privacy policy', propertyValue: privacyUrl },
      { propertyName: 'Categories', propertyValue: 'IT Operations;Security' },
    ],
  };
}

/** As written by the build: two-space JSON and a final newline. */
export function connectorJson(document?: OpenApiDocument, host?: string, privacyUrl?: string): string {
  return `${JSON.stringify(connectorDefinition(document, host, privacyUrl), null, 2)}\n`;
}
