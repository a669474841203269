// Builds the portal (portal/) into dist/portal/, which functions/portal.ts serves at `/`.
// Hashed file names under assets/ let the server mark them immutable; index.html is never cached.
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const repository = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [react()],
  resolve: {
    // The portal imports the app's types (type-only) through the same specifier as the app.
    alias: [{ find: /^#shared\/(.*)$/, replacement: `${repository}/shared/$1` }],
  },
  build: {
    outDir: `${repository}/dist/portal`,
    emptyOutDir: true,
    assetsDir: 'assets',
    // No inline script or data: module anywhere: the Content-Security-Policy has script-src 'self'.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: 'es2022',
    reportCompressedSize: false,
  },
  server: { port: 5173, strictPort: true },
});
