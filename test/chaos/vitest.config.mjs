// `npm run chaos`: the chaos run alone (test/chaos/run.test.ts), with the suite's module resolution
// (vitest.config.mts) and none of its projects: it starts its own storage and host, and takes
// about a minute and a half, which `npm test` cannot afford.
import { defineConfig } from 'vitest/config';
import suite from '../../vitest.config.mts';

export default defineConfig({
  resolve: suite.resolve,
  test: {
    include: ['test/chaos/run.test.ts'],
    pool: 'forks',
    testTimeout: 150_000,
    // The summary is printed as the run goes, not held back until the end.
    disableConsoleIntercept: true,
  },
});
