/**
 * The local host declares the events topic before the app starts (a send to a topic nobody declared
 * would create a queue of that name), with the subscription a developer reads events from.
 */
import { describe, expect, it } from 'vitest';
import type { LocalParts } from '@zsa/local-host';
import { zsaHostOptions } from '../../../infra/tools/local-host';

const PARTS = {
  origin: 'http://127.0.0.1:7071',
  dataDir: undefined,
  issuer: { url: 'http://127.0.0.1:7071/dev', audience: 'api://zsa' },
  smtpUrl: 'smtp://127.0.0.1:2525',
  serviceBus:
    'Endpoint=sb://127.0.0.1:5672;SharedAccessKeyName=k;SharedAccessKey=v;UseDevelopmentEmulator=true',
} as unknown as LocalParts;

describe('the local host and the events topic', () => {
  it.each<{ name: string; settings: Record<string, string>; entities: unknown[] }>([
    { name: 'by default', settings: {}, entities: [{ topic: 'zsa-events', subscriptions: ['all'] }] },
    {
      name: 'under the name the settings give',
      settings: { ZSA_EVENTS_TOPIC: 'audit-events' },
      entities: [{ topic: 'audit-events', subscriptions: ['all'] }],
    },
    { name: 'not at all when events are off', settings: { ZSA_EVENTS_TOPIC: '' }, entities: [] },
  ])('declares the topic $name', ({ settings, entities }) => {
    // Act
    const app = zsaHostOptions().configure(PARTS, settings);

    // Assess
    expect(app.serviceBusEntities).toEqual(entities);
  });
});
