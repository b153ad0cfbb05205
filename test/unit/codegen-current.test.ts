// The typed clients under test/e2e/generated are committed; this fails when they no longer match
// what `npm run codegen` would produce from the printed SDL (run it and commit the result).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { generate } from '@graphql-codegen/cli';
import { describe, expect, it } from 'vitest';
import config from '../../codegen.ts';

describe('generated typed clients', () => {
  it('match a fresh codegen run over schema/*.graphql', async () => {
    const outputs = (await generate({ ...config, cwd: resolve(import.meta.dirname, '../..'), silent: true }, false)) as {
      filename: string;
      content: string;
    }[];
    expect(outputs.length).toBeGreaterThan(0);
    for (const output of outputs) {
      const committed = readFileSync(resolve(import.meta.dirname, '../..', output.filename), 'utf8');
      expect(committed, `${output.filename} is stale: run npm run codegen`).toBe(output.content);
    }
  }, 30_000);
});
