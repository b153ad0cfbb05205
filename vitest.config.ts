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
          // Then every other file, one at a time. Two at a time (`npx vitest run --maxWorkers=2`) works:
          // each worker gets a PostgreSQL server of its own (test/support/global-setup.ts), since the
          // snapshot horizon the relay waits for is the whole server's; but on 2 CPUs it saved only about
          // a minute of the test step (873 s against 930 s) and made waits under load tighter, so CI keeps one.
          // Each file has a database, a stream key and a notice channel of its own (test/support/databases.ts).
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
