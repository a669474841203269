/**
 * Build step (after `tsc`): writes the OpenAPI 3.1 document and the Power Automate connector's
 * Swagger 2.0 definition, both generated from the schemas the handlers validate with. Generated
 * files go to `dist/`, never beside the sources; the app serves the same document from memory at
 * `GET /api/openapi.json`, and the contract test checks the two are byte-for-byte equal.
 *
 *   node dist/infra/tools/write-openapi.js [--host zsa-prod.azurewebsites.net] [--out dist]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CONNECTOR_HOST_PLACEHOLDER, connectorJson } from '#shared/openapi/connector';
import { openApiDocument, openApiJson } from '#shared/openapi/document';

/** The repository root, from `dist/infra/tools/`. */
export const ROOT = resolve(__dirname, '..', '..', '..');
export const OPENAPI_FILE = 'openapi.json';
export const CONNECTOR_FILE = join('connector', 'apiDefinition.swagger.json');

const HOST = /^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?(?::\d{1,5})?$/i;

export function writeOpenApi(options: { outDir: string; host: string }): string[] {
  if (!HOST.test(options.host))
    throw new Error(`--host must be a host name such as zsa.azurewebsites.net, not ${options.host}`);
  const files = [
    { path: join(options.outDir, OPENAPI_FILE), text: openApiJson() },
    { path: join(options.outDir, CONNECTOR_FILE), text: connectorJson(openApiDocument(), options.host) },
  ];
  for (const file of files) {
    mkdirSync(dirname(file.path), { recursive: true });
    writeFileSync(file.path, file.text);
  }
  return files.map((f) => f.path);
}

function main(): void {
  const { values } = parseArgs({
    options: {
      host: { type: 'string', default: CONNECTOR_HOST_PLACEHOLDER },
      out: { type: 'string', default: join(ROOT, 'dist') },
    },
  });
  for (const path of writeOpenApi({ outDir: resolve(values.out), host: values.host }))
    console.log(`wrote ${path}`);
}

// Run as a script (`node dist/infra/tools/write-openapi.js`), not when a test imports it.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === __filename) {
  try {
    main();
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  }
}
