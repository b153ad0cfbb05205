// The order test files start in (vitest.config.ts, `sequence.sequencer`). Files run side by side in
// a few workers; one long file that starts last runs alone at the end while the other workers idle.
// Vitest's own order puts the longest first, but it learns durations from a results cache that a
// fresh clone (CI) does not have, and then falls back to the largest files first. So the files known
// to take a minute or more start first, in this order; the rest follow in vitest's order.
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** Path prefixes from the repository root, longest-running first (a `npm test` on 2 CPUs). */
export const longFiles = [
  'test/fault/',
  'test/e2e/cli-args.test.ts',
  'test/security/token-cli.test.ts',
  'test/e2e/readme.test.ts',
  'test/int/verify.test.ts',
  'test/int/saga-parking.test.ts',
  'test/int/rebuild.test.ts',
  'test/int/parking.test.ts',
  'test/int/projection-status.test.ts',
  'test/e2e/lineage.test.ts',
  'test/int/webhooks-cli.test.ts',
  'test/int/order-invariants.test.ts',
  'test/e2e/embedded.test.ts',
  'test/e2e/npm-start.test.ts',
];

export class LongFilesFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (file: TestSpecification) => {
      const path = relative(file.project.config.root, file.moduleId);
      const index = longFiles.findIndex((prefix) => path.startsWith(prefix));
      return index === -1 ? longFiles.length : index;
    };
    // Array.prototype.sort is stable: the rest keep vitest's order.
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}
