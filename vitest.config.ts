import { defineConfig } from 'vitest/config';
import { LongFilesFirst } from './test/support/long-files-first.ts';

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
    // Two files at a time, whatever the CPU count (vitest's default, CPUs - 1, is one file at a time on
    // a 2-CPU CI machine). Most files spend their time waiting on child processes, PostgreSQL and
    // Redis; each file has a database, a stream key and a notice channel of its own
    // (test/support/databases.ts). More than two starved the fault suite and the CLI tests of CPU on
    // 2 CPUs. `npx vitest run --maxWorkers=N` overrides it.
    maxWorkers: 2,
    // The longest files start first, so that none of them runs alone at the end (test/support/long-files-first.ts).
    sequence: { sequencer: LongFilesFirst },
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
