import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // graphql ships ESM and CommonJS builds; one realm only, or its type checks fail.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    include: ['test/**/*.test.ts'],
    // The WebAssembly schema engine does not load under vmThreads; forks is the default and works.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
