import { defineConfig } from 'vitest/config';
import { LongFilesFirst } from './test/support/long-files-first.ts';

const alone = ['test/int/relay.test.ts', 'test/e2e/metrics.test.ts'];

export default defineConfig({
  resolve: {
    // graphql ships ESM and CommonJS builds; one realm only, or its type checks fail.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    // The WebAssembly schema engine does not load under vmThreads; forks is the default and works.
    pool: 'forks',
    // The longest files start first, so that none of them runs alone at the end (test/support/long-files-first.ts).
    sequence: { sequencer: LongFilesFirst },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          // Files that must not share the machine or the PostgreSQL server run alone, one at a time:
          // - the fault-injection suite: its 8 processes under a sustained load must catch up after each
          //   fault within a liveness bound (docs/architecture.md#fault-injection-suite), and beside other
          //   files on 2 CPUs they were starved of CPU past it;
          // - the relay's and the metrics' tests, which wait for the snapshot horizon (the oldest running
          //   transaction of the whole server, docs/architecture.md#g2): another file's open transaction
          //   holds it back.
          name: 'alone',
          include: ['test/fault/**/*.test.ts', ...alone],
          maxWorkers: 1,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          // Then every other file, one at a time. Each has a database, a stream key and a notice channel
          // of its own (test/support/databases.ts), but the snapshot horizon is the whole server's: many
          // files publish with the relay and wait for the views, and another file's open transaction
          // holds that back (two at a time, on 2 CPUs, took the test step from 1,293 s to 842 s, with a
          // few such waits running out). `npx vitest run --maxWorkers=N` overrides it.
          name: 'suite',
          include: ['test/**/*.test.ts'],
          exclude: ['test/fault/**', ...alone],
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
