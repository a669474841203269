/**
 * The local host caps request bodies by the app setting the Functions host reads,
 * FUNCTIONS_REQUEST_BODY_SIZE_LIMIT (host.json has no documented option for it), and ZSA's launcher
 * gives it the 64 KiB function-app.bicep sets in Azure unless the settings say otherwise.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REQUEST_BODY_SIZE_LIMIT_SETTING, requestBodySizeLimit, StartupError } from '@zsa/local-host';
import { zsaHostOptions } from '../../../infra/tools/local-host';
import { REPO } from './bicep-text';

const PARTS = {
  origin: 'http://127.0.0.1:7071',
  dataDir: undefined,
  issuer: { url: 'http://i', audience: 'a', tenantId: 't', directoryUrl: 'http://d' },
  smtpUrl: 'smtp://127.0.0.1:2525',
  serviceBus: 'Endpoint=sb://127.0.0.1',
  telemetryUrl: 'http://127.0.0.1:7071/dev/telemetry',
};

describe('FUNCTIONS_REQUEST_BODY_SIZE_LIMIT on the local host', () => {
  it.each([
    ['unset', undefined, undefined],
    ['empty (as in local.settings.json)', '', undefined],
    ['64 KiB', '65536', 65536],
    ['with spaces', ' 1024 ', 1024],
    ['100 MB', '104857600', 104857600],
  ])('%s → %s', (_label, value, expected) => {
    // Arrange
    const settings: Record<string, string> =
      value === undefined ? {} : { [REQUEST_BODY_SIZE_LIMIT_SETTING]: value };

    // Act
    const limit = requestBodySizeLimit(settings);

    // Assess
    expect(limit).toBe(expected);
  });

  it.each(['0', '-1', '64k', '1.5', '0x100', '1e6', '9999999999999999'])(
    'refuses %j at start-up, naming the setting',
    (value) => {
      // Act
      const read = () => requestBodySizeLimit({ [REQUEST_BODY_SIZE_LIMIT_SETTING]: value });

      // Assess
      expect(read).toThrow(StartupError);
      expect(read).toThrow(/FUNCTIONS_REQUEST_BODY_SIZE_LIMIT/);
    },
  );

  it('is no longer read from host.json, which keeps only documented http options', () => {
    // Arrange
    const hostJson = JSON.parse(readFileSync(join(REPO, 'host.json'), 'utf8')) as {
      extensions: { http: Record<string, unknown> };
    };

    // Assess
    expect(Object.keys(hostJson.extensions.http)).toEqual(['routePrefix']);
  });

  it.each([
    ['unset', {}, '65536'],
    ['empty', { FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '' }, '65536'],
    ['set', { FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '1048576' }, '1048576'],
  ])('ZSA on the local host: %s in the settings → %s', (_label, settings, expected) => {
    // Act
    const configured = zsaHostOptions().configure(PARTS, settings);

    // Assess
    expect(configured.settings?.FUNCTIONS_REQUEST_BODY_SIZE_LIMIT).toBe(expected);
  });
});
