// Typed-client generation (`npm run codegen`), the one config for every client: one client per schema
// for the operations the e2e tests and the benchmark send, and one client over both endpoints for the
// example client (examples/client), with the endpoint of each operation derived from the schemas and
// its trusted-documents manifest (docs/client-contract.md).
import type { CodegenConfig } from '@graphql-codegen/cli';

export const scalars = {
  // RFC 3339 strings, as sent and received (docs/client-contract.md, "Scalars").
  DateTime: { input: 'string', output: 'string' },
  Date: { input: 'string', output: 'string' },
  // Money is sent as digits (or a safe integer) and always comes back as a string of digits.
  Money: { input: 'string | number', output: 'string' },
} as const;

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
    // Every custom scalar of both schemas, input and output (test/unit/codegen-scalars.test.ts checks it).
    scalars,
  },
} as const;

const config: CodegenConfig = {
  overwrite: true,
  generates: {
    'test/e2e/generated/write/': { ...clientPreset, schema: 'schema/write.graphql', documents: 'test/e2e/operations/write.graphql' },
    'test/e2e/generated/read/': { ...clientPreset, schema: 'schema/read.graphql', documents: 'test/e2e/operations/read.graphql' },
    // Both endpoints in one client: the schemas merged for typing (their shared types agree), the
    // persisted documents (persisted-documents.json) for TRUSTED_DOCUMENTS.
    'examples/client/src/generated/': {
      ...clientPreset,
      presetConfig: { ...clientPreset.presetConfig, persistedDocuments: true },
      schema: ['schema/write.graphql', 'schema/read.graphql'],
      documents: 'examples/client/src/operations.graphql',
    },
    'examples/client/src/generated/endpoints.ts': {
      schema: ['schema/write.graphql', 'schema/read.graphql'],
      documents: 'examples/client/src/operations.graphql',
      plugins: ['./codegen/operation-endpoints.cjs'],
      config: { writeSchema: 'schema/write.graphql', readSchema: 'schema/read.graphql' },
    },
  },
};

export default config;
