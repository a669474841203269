/**
 * `npm run teams:package`: writes the Teams app package an admin uploads (Teams admin center, or
 * Microsoft Graph `POST /appCatalogs/teamsApps`; docs/teams.md): `dist/teams/zsa-teams.zip` with
 * `manifest.json` (schema 1.19: the bot, personal scope only, so Approve and Deny cards reach each
 * approver in their own chat with it) and the two icons Teams asks for, drawn here
 * deterministically (the same bytes on every build, nothing binary committed).
 *
 *   node dist/infra/tools/teams-package.js --bot-id <ZSA_TEAMS_BOT_APP_ID> --base-url <https://app>
 *     [--version 1.0.0] [--out dist/teams]
 *
 * The bot id and base URL default to `ZSA_TEAMS_BOT_APP_ID` and `ZSA_PUBLIC_BASE_URL` from the
 * environment. `azd up` needs none of this: its postprovision hook (azd-hooks.ts) writes the same
 * package from the provision's outputs; this script is for another version or host.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { strToU8, zipSync } from 'fflate';
import { PNG } from 'pngjs';
import { isGuid } from '#shared/auth/principal';
import { ToolError, runTool } from './tool';

/** The repository root, from `dist/infra/tools/`. */
const ROOT = resolve(__dirname, '..', '..', '..');
export const PACKAGE_FILE = 'zsa-teams.zip';

/** The manifest schema the package is written for (Universal Actions need 1.12 or later). */
export const MANIFEST_VERSION = '1.19';

/** ZSA's accent (the portal's brand blue), for the color icon and Teams' tile. */
const ACCENT = { r: 0x0f, g: 0x6c, b: 0xbd };
const ACCENT_HEX = '#0F6CBD';

const FIX =
  'npm run teams:package -- --bot-id "$(azd env get-value ZSA_TEAMS_BOT_APP_ID)" --base-url https://<the app host>';

export interface ManifestInput {
  /** The Azure Bot's app id (ZSA_TEAMS_BOT_APP_ID); also the Teams app's id. */
  readonly botId: string;
  /** ZSA's public base URL (https): the developer's site, and the one valid domain. */
  readonly baseUrl: string;
  readonly version: string;
}

export function teamsManifest(input: ManifestInput): Record<string, unknown> {
  if (!isGuid(input.botId))
    throw new ToolError(`--bot-id must be the bot's app id (a GUID), not "${input.botId}".`, FIX);
  if (!URL.canParse(input.baseUrl) || new URL(input.baseUrl).protocol !== 'https:')
    throw new ToolError(`--base-url must be ZSA's https address, not "${input.baseUrl}".`, FIX);
  if (!/^\d+\.\d+\.\d+$/.test(input.version))
    throw new ToolError(`--version must be major.minor.patch, not "${input.version}".`, '--version 1.0.0');
  const base = new URL(input.baseUrl);
  const site = base.origin;
  return {
    $schema: `https://developer.microsoft.com/json-schemas/teams/v${MANIFEST_VERSION}/MicrosoftTeams.schema.json`,
    manifestVersion: MANIFEST_VERSION,
    version: input.version,
    id: input.botId.toLowerCase(),
    developer: {
      name: 'ZSA',
      websiteUrl: site,
      privacyUrl: site,
      termsOfUseUrl: site,
    },
    name: { short: 'ZSA', full: 'ZSA — Zero Standing Access' },
    description: {
      short: 'Approve or deny privileged access requests in Teams.',
      full: 'ZSA grants just-in-time, approved, audited privileged access. Its approvers get each request as a card in Teams and approve or deny it in place, with their own identity; requests that need a stronger sign-in open in ZSA.',
    },
    icons: { color: 'color.png', outline: 'outline.png' },
    accentColor: ACCENT_HEX,
    bots: [
      {
        botId: input.botId.toLowerCase(),
        // A personal chat only: one approver's card and decision are theirs alone.
        scopes: ['personal'],
        supportsFiles: false,
        isNotificationOnly: false,
      },
    ],
    validDomains: [base.host],
  };
}

/** Distance from point p to the segment a–b. */
function toSegment(px: number, py: number, [ax, ay]: [number, number], [bx, by]: [number, number]): number {
  const dx = bx - ax;
  const dy = by - ay;
  const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

/**
 * A check mark, as a fraction of the icon's size, drawn with a stroke of `width` (fractions too):
 * ZSA's approvals at a glance.
 */
const CHECK: [[number, number], [number, number], [number, number]] = [
  [0.27, 0.52],
  [0.44, 0.69],
  [0.75, 0.33],
];

/** Draws an icon: `background` or transparent, the check mark white (anti-aliased by coverage). */
function icon(size: number, stroke: number, background: typeof ACCENT | undefined): Buffer {
  const png = new PNG({ width: size, height: size, colorType: 6 });
  const [a, b, c] = CHECK.map(([x, y]) => [x * size, y * size] as [number, number]) as typeof CHECK;
  const half = (stroke * size) / 2;
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const d = Math.min(toSegment(x + 0.5, y + 0.5, a, b), toSegment(x + 0.5, y + 0.5, b, c));
      const cover = Math.max(0, Math.min(1, half - d + 0.5));
      const i = (y * size + x) * 4;
      if (background === undefined) {
        // The outline icon: white on transparent only, as Teams requires.
        png.data[i] = 255;
        png.data[i + 1] = 255;
        png.data[i + 2] = 255;
        png.data[i + 3] = Math.round(cover * 255);
      } else {
        png.data[i] = Math.round(background.r + (255 - background.r) * cover);
        png.data[i + 1] = Math.round(background.g + (255 - background.g) * cover);
        png.data[i + 2] = Math.round(background.b + (255 - background.b) * cover);
        png.data[i + 3] = 255;
      }
    }
  return PNG.sync.write(png);
}

/** The color icon (192×192) and the outline icon (32×32, white and transparent). */
export function teamsIcons(): { color: Buffer; outline: Buffer } {
  return { color: icon(192, 0.11, ACCENT), outline: icon(32, 0.14, undefined) };
}

// A fixed date in every entry: the same inputs make the same zip, byte for byte.
const ZIP_DATE = new Date('2026-01-01T00:00:00Z');

export function teamsPackage(input: ManifestInput): Uint8Array {
  const { color, outline } = teamsIcons();
  const manifest = `${JSON.stringify(teamsManifest(input), null, 2)}\n`;
  return zipSync(
    {
      'manifest.json': [strToU8(manifest), { mtime: ZIP_DATE }],
      'color.png': [new Uint8Array(color), { mtime: ZIP_DATE }],
      'outline.png': [new Uint8Array(outline), { mtime: ZIP_DATE }],
    },
    { level: 9 },
  );
}

/** Writes the package into `outDir` (created if need be) and returns the zip's path and size. */
export function writeTeamsPackage(
  input: ManifestInput,
  outDir: string = join(ROOT, 'dist', 'teams'),
): { path: string; bytes: number } {
  const zip = teamsPackage(input);
  mkdirSync(outDir, { recursive: true });
  const path = join(outDir, PACKAGE_FILE);
  writeFileSync(path, zip);
  return { path, bytes: zip.byteLength };
}

function main(): void {
  const { values } = parseArgs({
    options: {
      'bot-id': { type: 'string', default: process.env['ZSA_TEAMS_BOT_APP_ID'] ?? '' },
      'base-url': { type: 'string', default: process.env['ZSA_PUBLIC_BASE_URL'] ?? '' },
      version: { type: 'string', default: '1.0.0' },
      out: { type: 'string', default: join(ROOT, 'dist', 'teams') },
    },
  });
  const { path, bytes } = writeTeamsPackage(
    { botId: values['bot-id'], baseUrl: values['base-url'], version: values.version },
    resolve(values.out),
  );
  console.log(`wrote ${path} (${bytes} bytes): upload it in the Teams admin center (docs/teams.md)`);
}

// Run as a script, not when a test imports it.
if (require.main === module) runTool(() => Promise.resolve().then(main));
