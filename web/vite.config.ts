import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The web UI: built into web/dist, which `mailroom serve` serves at `/`. `npm run web:dev` serves it
 * with hot reload and passes /api on to a `mailroom serve` on port 8080.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  // No React plugin: esbuild compiles JSX (the automatic runtime); fast refresh is all it would add.
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
    rollupOptions: {
      // Mantine marks its modules "use client" for React Server Components, which a SPA has none of.
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning);
      },
    },
  },
  server: { proxy: { '/api': 'http://localhost:8080' } },
  logLevel: 'warn',
});
