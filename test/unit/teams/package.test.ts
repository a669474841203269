/**
 * What an admin deploys for Teams: the app package (manifest and icons, built deterministically by
 * infra/tools/teams-package.ts) and the Azure Bot in the Bicep, wired to the app's identity and
 * endpoint, with the Teams queue named as the app names it.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { strFromU8, unzipSync } from 'fflate';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { TEAMS_QUEUE } from '#shared/teams/messages';
import {
  MANIFEST_VERSION,
  teamsIcons,
  teamsManifest,
  teamsPackage,
} from '../../../infra/tools/teams-package';
import { teamsPackageInput, teamsPackageStep } from '../../../infra/tools/azd-hooks';
import { writeTeamsPackage } from '../../../infra/tools/teams-package';
import { ToolError } from '../../../infra/tools/tool';
import { INFRA, modules, propertyValue, readBicep, resources } from '../infra/bicep-text';

const BOT = '3f2b6c1e-9a1d-4c8e-8b7a-2d4e6f8a0b1c';
const INPUT = { botId: BOT, baseUrl: 'https://func-zsa.azurewebsites.net', version: '1.0.0' };

describe('the Teams app package', () => {
  it('holds the manifest and both icons, the same bytes on every build', () => {
    // Act
    const first = teamsPackage(INPUT);
    const second = teamsPackage(INPUT);

    // Assert
    expect(Buffer.from(first).equals(Buffer.from(second))).toBe(true);
    expect(Object.keys(unzipSync(first)).sort()).toEqual(['color.png', 'manifest.json', 'outline.png']);
  });

  it('declares the bot for personal chats, on the manifest schema Universal Actions need', () => {
    // Act
    const files = unzipSync(teamsPackage(INPUT));
    const manifest = JSON.parse(strFromU8(files['manifest.json'] ?? new Uint8Array())) as Record<
      string,
      unknown
    >;

    // Assert
    expect(manifest).toMatchObject({
      manifestVersion: MANIFEST_VERSION,
      $schema: `https://developer.microsoft.com/json-schemas/teams/v${MANIFEST_VERSION}/MicrosoftTeams.schema.json`,
      id: BOT,
      version: '1.0.0',
      icons: { color: 'color.png', outline: 'outline.png' },
      bots: [{ botId: BOT, scopes: ['personal'], supportsFiles: false, isNotificationOnly: false }],
      validDomains: ['func-zsa.azurewebsites.net'],
    });
    expect(Number(MANIFEST_VERSION)).toBeGreaterThanOrEqual(1.19);
    const name = manifest['name'] as { short: string };
    const description = manifest['description'] as { short: string; full: string };
    expect(name.short.length).toBeLessThanOrEqual(30);
    expect(description.short.length).toBeLessThanOrEqual(80);
  });

  it('draws a 192×192 color icon and a 32×32 outline icon of white and transparency only', () => {
    // Act
    const { color, outline } = teamsIcons();
    const colorPng = PNG.sync.read(color);
    const outlinePng = PNG.sync.read(outline);

    // Assert
    expect([colorPng.width, colorPng.height]).toEqual([192, 192]);
    expect([outlinePng.width, outlinePng.height]).toEqual([32, 32]);
    const pixels = outlinePng.data;
    let drawn = 0;
    for (let i = 0; i < pixels.length; i += 4) {
      expect([pixels[i], pixels[i + 1], pixels[i + 2]]).toEqual([255, 255, 255]);
      if ((pixels[i + 3] ?? 0) > 0) drawn++;
    }
    expect(drawn).toBeGreaterThan(20);
  });

  it.each([
    ['a bot id that is not a GUID', { ...INPUT, botId: 'zsa-bot' }],
    ['a base URL over http', { ...INPUT, baseUrl: 'http://func-zsa.azurewebsites.net' }],
    ['a version Teams refuses', { ...INPUT, version: 'v1' }],
  ])('refuses %s', (_name, input) => {
    // Act / Assert
    expect(() => teamsManifest(input)).toThrow(ToolError);
  });
});

describe("azd's postprovision writes the package from the provision's outputs", () => {
  const outputs = { ZSA_TEAMS_BOT_APP_ID: BOT, ZSA_API_BASE_URL: 'https://func-zsa.azurewebsites.net/api' };

  it("writes dist/teams/zsa-teams.zip for the bot and the app's host, and prints its path", () => {
    // Arrange
    const dir = mkdtempSync(join(tmpdir(), 'zsa-teams-'));
    const lines: string[] = [];
    try {
      // Act
      const path = teamsPackageStep(
        outputs,
        (l) => lines.push(l),
        (input) => writeTeamsPackage(input, dir),
      );

      // Assert
      expect(path).toBe(join(dir, 'zsa-teams.zip'));
      const manifest = JSON.parse(
        strFromU8(
          unzipSync(new Uint8Array(readFileSync(join(dir, 'zsa-teams.zip'))))['manifest.json'] ??
            new Uint8Array(),
        ),
      ) as { id: string; validDomains: string[] };
      expect(manifest).toMatchObject({ id: BOT, validDomains: ['func-zsa.azurewebsites.net'] });
      expect(lines.join('\n')).toContain(join(dir, 'zsa-teams.zip'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes nothing when the provision made no bot, and says so', () => {
    // Arrange
    const lines: string[] = [];

    // Act
    const path = teamsPackageStep(
      { ...outputs, ZSA_TEAMS_BOT_APP_ID: '' },
      (l) => lines.push(l),
      () => {
        throw new Error('not written');
      },
    );

    // Assert
    expect(path).toBeUndefined();
    expect(lines).toEqual([expect.stringContaining('no Teams bot provisioned')]);
  });

  it('refuses a missing app address, naming the output', () => {
    // Act / Assert
    expect(() => teamsPackageInput({ ZSA_TEAMS_BOT_APP_ID: BOT })).toThrow(/ZSA_API_BASE_URL/);
  });
});

describe('the Azure Bot in the Bicep', () => {
  const main = readBicep(join(INFRA, 'main.bicep'));
  const botFile = readBicep(join(INFRA, 'modules', 'teams-bot.bicep'));
  const serviceBus = readBicep(join(INFRA, 'modules', 'service-bus.bicep'));

  it("runs as the app's user-assigned identity, with no secret, at the app's /api/messages", () => {
    // Act
    const bot = resources(botFile).find((r) => r.type === 'Microsoft.BotService/botServices');
    const module = modules(main).find((m) => m.symbol === 'teams');

    // Assert
    expect(bot && propertyValue(bot.body, 'kind')).toBe("'azurebot'");
    expect(bot?.body.text).toMatch(/msaAppType: 'UserAssignedMSI'/);
    expect(bot?.body.text).toMatch(/msaAppId: identityClientId/);
    expect(bot?.body.text).toMatch(/msaAppMSIResourceId: identityResourceId/);
    expect(bot?.body.text).toMatch(/disableLocalAuth: true/);
    expect(module?.body.text).toMatch(
      /endpoint: 'https:\/\/\$\{functionApp\.outputs\.defaultHostName\}\/api\/messages'/,
    );
    expect(module?.body.text).toMatch(/identityClientId: identity\.outputs\.clientId/);
    expect(main.text).toMatch(/teamsBotAppId: teamsBot \? identity\.outputs\.clientId : ''/);
  });

  it('enables the Teams channel only', () => {
    // Act
    const channels = resources(botFile).filter((r) => r.type === 'Microsoft.BotService/botServices/channels');

    // Assert
    expect(channels.map((c) => propertyValue(c.body, 'name'))).toEqual(["'MsTeamsChannel'"]);
    expect(channels[0]?.body.text).toMatch(/channelName: 'MsTeamsChannel'/);
  });

  it('names the Teams queue as the app does, dead-lettering after the notifications’ delivery count', () => {
    // Act
    const queue = resources(serviceBus).find((r) => r.symbol === 'teamsQueue');

    // Assert
    expect(main.text).toContain(`var teamsQueueName = '${TEAMS_QUEUE}'`);
    expect(queue && propertyValue(queue.body, 'maxDeliveryCount')).toBe('notificationsMaxDelivery');
    expect(queue && propertyValue(queue.body, 'deadLetteringOnMessageExpiration')).toBe('true');
  });
});
