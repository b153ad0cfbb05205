// Typed-client generation (`npm run codegen`): one client per schema, from the operations the e2e
// tests and the benchmark send. The write and read schemas are separate, so are their clients.
import type { CodegenConfig } from '@graphql-codegen/cli';

const clientPreset = {
  preset: 'client',
  presetConfig: { fragmentMasking: false },
  config: {
    // ESM with explicit extensions; `.ts` like the rest of the repo (allowImportingTsExtensions, tsx).
    emitLegacyCommonJSImports: false,
    importExtension: '.ts',
    useTypeImports: true,
    enumsAsTypes: true,
    // Money is sent as digits (or a safe integer) and always comes back as a string of digits.
    scalars: { DateTime: 'string', Date: 'string', Money: { input: 'string | number', output: 'string' } },
  },
} as const;

const config: CodegenConfig = {
  overwrite: true,
  generates: {
    'test/e2e/generated/write/': { ...clientPreset, schema: 'schema/write.graphql', documents: 'test/e2e/operations/write.graphql' },
    'test/e2e/generated/read/': { ...clientPreset, schema: 'schema/read.graphql', documents: 'test/e2e/operations/read.graphql' },
  },
};

export default config;
