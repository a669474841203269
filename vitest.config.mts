import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests import the app through the same `#shared/*` specifiers as the app, and the local host by its
// package name; here both resolve to the TypeScript sources, while the compiled app (what the local
// host runs) resolves them to dist/ and infra/local/dist/.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^#shared\/(.*)$/, replacement: fileURLToPath(new URL('./shared/$1', import.meta.url)) },
      {
        find: /^@zsa\/local-host$/,
        replacement: fileURLToPath(new URL('./infra/local/index.ts', import.meta.url)),
      },
      {
        find: /^@zsa\/local-host\/(core|durable|http|mailbox|servicebus)$/,
        replacement: fileURLToPath(new URL('./infra/local/$1/index.ts', import.meta.url)),
      },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    allowOnly: false,
    pool: 'forks',
    reporters: ['default'],
  },
});
