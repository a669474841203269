/**
 * Build step (after `tsc`): writes the OpenAPI 3.1 document and the Power Automate connector's
 * Swagger 2.0 definition, both generated from the schemas the handlers validate with. Generated
 * files go to `dist/`, never beside the sources; the app serves the same document from memory at
 * `GET /api/openapi.json`, and the contract test checks the two are byte-for-byte equal.
 *
 * It also renders the document as the Markdown API reference, `docs/api.md`. That one file is
 * committed, because readers of the repository need it without building; a test fails when it
 * differs from what this step renders now. Under CI (`CI=true`) the step leaves it alone and only
 * says whether it is stale, so that CI judges the committed file rather than a fresh copy.
 *
 *   node dist/infra/tools/write-openapi.js [--host zsa-prod.azurewebsites.net]
 *     [--privacy-url https://contoso.com/privacy] [--out dist]
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  CONNECTOR_HOST_PLACEHOLDER,
  connectorJson,
  PRIVACY_POLICY_PLACEHOLDER,
} from '#shared/openapi/connector';
import { openApiDocument, openApiJson } from '#shared/openapi/document';
import { renderApiReference } from './api-reference';
import { runTool } from './tool';

/** The repository root, from `dist/infra/tools/`. */
export const ROOT = resolve(__dirname, '..', '..', '..');
export const OPENAPI_FILE = 'openapi.json';
export const CONNECTOR_FILE = join('connector', 'apiDefinition.swagger.json');
/** The API reference, relative to the repository root (committed, unlike the files above). */
export const API_REFERENCE_FILE = join('docs', 'api.md');

const HOST = /^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?(?::\d{1,5})?$/i;

export function writeOpenApi(options: { outDir: string; host: string; privacyUrl?: string }): string[] {
  if (!HOST.test(options.host))
    throw new Error(`--host must be a host name such as zsa.azurewebsites.net, not ${options.host}`);
  const privacyUrl = options.privacyUrl ?? PRIVACY_POLICY_PLACEHOLDER;
  if (!URL.canParse(privacyUrl) || new URL(privacyUrl).protocol !== 'https:')
    throw new Error(
      `--privacy-url must be an https URL such as https://contoso.com/privacy, not ${privacyUrl}`,
    );
  const files = [
    { path: join(options.outDir, OPENAPI_FILE), text: openApiJson() },
    {
      path: join(options.outDir, CONNECTOR_FILE),
      text: connectorJson(openApiDocument(), options.host, privacyUrl),
    },
  ];
  for (const file of files) {
    mkdirSync(dirname(file.path), { recursive: true });
    writeFileSync(file.path, file.text);
  }
  return files.map((f) => f.path);
}

/** The API reference as the current OpenAPI document renders it. */
export function apiReferenceMarkdown(): string {
  // The served JSON, parsed: exactly what clients read, with no object identity shared with the app.
  return renderApiReference(JSON.parse(openApiJson()));
}

/**
 * Brings `docs/api.md` under `root` up to date (`write`), or only reports whether it is (`check`).
 * Answers true when the file already matched.
 */
export function syncApiReference(options: { root: string; mode: 'write' | 'check' }): boolean {
  const path = join(options.root, API_REFERENCE_FILE);
  const text = apiReferenceMarkdown();
  const current = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  if (current === text) return true;
  if (options.mode === 'write') {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
  return false;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      host: { type: 'string', default: CONNECTOR_HOST_PLACEHOLDER },
      'privacy-url': { type: 'string', default: PRIVACY_POLICY_PLACEHOLDER },
      out: { type: 'string', default: join(ROOT, 'dist') },
    },
  });
  const target = { outDir: resolve(values.out), host: values.host, privacyUrl: values['privacy-url'] };
  for (const path of writeOpenApi(target)) console.log(`wrote ${path}`);
  const ci = !['', '0', 'false'].includes((process.env['CI'] ?? '').toLowerCase());
  const upToDate = syncApiReference({ root: ROOT, mode: ci ? 'check' : 'write' });
  if (upToDate) console.log(`${API_REFERENCE_FILE} is up to date`);
  else if (ci) console.warn(`${API_REFERENCE_FILE} is stale: run npm run build and commit it`);
  else console.log(`wrote ${join(ROOT, API_REFERENCE_FILE)}`);
}

// Run as a script (`node dist/infra/tools/write-openapi.js`), not when a test imports it.
if (require.main === module) runTool(() => Promise.resolve().then(main));
