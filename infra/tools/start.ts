/**
 * `npm start -- [--port <n>] [--data <dir>] [--in-memory]`: the whole system on one machine — the
 * compiled app on the local host, with ZSA's settings (infra/tools/local-host.ts).
 */
import { runCli } from '@zsa/local-host';
import { zsaHostOptions } from './local-host';

// The banner reports the time since this process began, so it includes loading the app.
void runCli({ ...zsaHostOptions(), startedAt: Date.now() - Math.round(process.uptime() * 1000) });
