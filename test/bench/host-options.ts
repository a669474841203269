/**
 * What every bench's local host shares: ZSA's launcher options on a free port, in memory, with
 * short windows allowed, the loopback webhook allowed and signed with `signingKey`, and the
 * per-user submit limit at its highest setting (benches submit far more than a person does; the
 * limiter stays on, so its storage work is part of a submit's cost). `env` adds or overrides.
 */
import { resolve } from 'node:path';
import type { HostOptions } from '@zsa/local-host';
import { zsaHostOptions } from '../../infra/tools/local-host';

export function benchHostOptions(
  signingKey: string,
  env: Readonly<Record<string, string>> = {},
): HostOptions & ReturnType<typeof zsaHostOptions> {
  return {
    ...zsaHostOptions(),
    root: resolve(__dirname, '..', '..', '..'),
    port: 0,
    inMemory: true,
    env: {
      ...process.env,
      ZSA_MIN_DURATION_SECONDS: '1',
      ZSA_EXECUTOR_ALLOWED_HOSTS: '127.0.0.1',
      ZSA_WEBHOOK_SIGNING_KEY: signingKey,
      ZSA_SUBMIT_RATE_LIMIT: '500',
      ...env,
    },
  };
}
