import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests import the app through the same `#shared/*` specifiers as the app; here they resolve to the
// TypeScript sources, while the compiled app (what the local host runs) resolves them to dist/.
export default defineConfig({
  resolve: {
    alias: [{ find: /^#shared\/(.*)$/, replacement: fileURLToPath(new URL('./shared/$1', import.meta.url)) }],
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
