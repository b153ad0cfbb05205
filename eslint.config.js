// ESLint (flat config): `npm run lint:es`, zero warnings allowed. Formatting is Prettier's (prettier.config.js);
// no rule here is about layout. Dependency rules are dependency-cruiser's (.dependency-cruiser.cjs).
//
// Base: ESLint's recommended rules and typescript-eslint's `recommendedTypeChecked`, which reads the types
// (tsconfig.json, through the project service) for the rules that catch real bugs in async code. The rules that
// matter most for this code base, where nearly everything is a promise (Prisma, Redis Streams, the relay, projectors,
// the saga, yoga hooks), are named again below with the reason, so that they stay on whatever the preset does.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores([
    // Generated: Prisma clients (npm run db:generate) and the e2e typed clients (npm run codegen).
    'src/generated/',
    'test/e2e/generated/',
    'examples/client/src/generated/',
    '.data/',
    'coverage/',
  ]),
  {
    linterOptions: {
      // A disable comment that no longer disables anything is removed, so that none outlives its reason.
      reportUnusedDisableDirectives: 'error',
    },
  },
  {
    // The configuration files in JavaScript: no type information, ESLint's recommended rules only.
    files: ['**/*.{js,mjs}'],
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.node, sourceType: 'module' },
  },
  {
    files: ['**/*.cjs'],
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.node, sourceType: 'commonjs' },
  },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
      globals: globals.node,
    },
    rules: {
      // --- Promises: a forgotten or misplaced promise is the bug class that costs most here (a lost rejection is a
      // silent stall of a projector or the saga; an async callback where a sync one is expected runs unawaited). ---
      // A promise must be awaited, returned, .catch()-ed or explicitly discarded with `void` (fire and forget, on purpose).
      '@typescript-eslint/no-floating-promises': 'error',
      // No promise where a boolean or a void callback is expected (`if (promise)`, `emitter.on('x', async () => …)`):
      // the callback's rejection would go nowhere.
      '@typescript-eslint/no-misused-promises': 'error',
      // `await` only on thenables: awaiting a plain value is a sign the callee changed from async to sync, or never was.
      '@typescript-eslint/await-thenable': 'error',
      // `return await` inside try/catch/finally, where leaving it out would let the rejection escape the catch;
      // nowhere else (a style question the rule leaves alone with this option).
      '@typescript-eslint/return-await': ['error', 'error-handling-correctness-only'],
      // Reject and throw only Errors, so a failure always carries a stack and a message for the logs.
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/prefer-promise-reject-errors': 'error',
      // `.catch((error) => …)` gets `unknown`, as `catch (error)` does under `strict`: no unchecked `error.message`.
      '@typescript-eslint/use-unknown-in-catch-callback-variable': 'error',

      // --- Types that guard the design. ---
      // A switch over a union (event types, commands, saga steps) either handles every member or says `default`
      // on purpose: adding an event type then shows every switch that has to learn it.
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      // Type-only imports say so (`import type`, or `import { type X }` next to values). With verbatimModuleSyntax,
      // that is what decides whether a module is loaded at run time, and so what the read side can reach
      // (test/unit/read-isolation.test.ts). No `import('…').X` type annotations: they hide a dependency from readers
      // and from dependency-cruiser.
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'inline-type-imports', disallowTypeAnnotations: true }],
      // `import { type A } from './x.ts'` still loads x.ts at run time under verbatimModuleSyntax; when every name is
      // a type it must be `import type`, so that no module is loaded for nothing (or reaches the write side).
      '@typescript-eslint/no-import-type-side-effects': 'error',
      '@typescript-eslint/consistent-type-exports': ['error', { fixMixedExportsWithInlineTypeSpecifier: true }],
      // Deprecated APIs (Node, Prisma, graphql-js, TypeScript's compiler API) are found when a dependency deprecates
      // them, not when it removes them.
      '@typescript-eslint/no-deprecated': 'error',
      // `== null` (null or undefined) is the one loose comparison allowed.
      eqeqeq: ['error', 'smart'],
      // `_`-prefixed names are deliberately unused (a destructured field left out of a rest object, an ignored argument).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],

      // --- Off, on purpose. ---
      // Async functions without await implement promise-returning interfaces (close(), publish(), a payment provider)
      // so that a throw becomes a rejection; the rule would have them rewritten into Promise.resolve/reject by hand.
      '@typescript-eslint/require-await': 'off',
      // graphql-yoga's and envelop's hook payloads declare their callbacks (endResponse, fetchAPI, …) in method
      // syntax and are meant to be destructured; the code base has almost no classes where `this` could be lost.
      '@typescript-eslint/unbound-method': 'off',
      // The enums compared here are graphql-js's and graphql-ws's string enums (OperationTypeNode, MessageType),
      // compared with the strings that arrive on the wire; that comparison is the point, not a mix-up.
      '@typescript-eslint/no-unsafe-enum-comparison': 'off',
    },
  },
  {
    // The server logs through pino (src/observability/logger.ts; docs/operations.md, "Logs"): structured, levelled,
    // redacted, with the request's ids. A console call would bypass all of that. The CLIs print to their user.
    files: ['src/**/*.ts'],
    ignores: ['src/cli/**'],
    rules: { 'no-console': 'error' },
  },
  {
    // Tests and benchmarks read JSON answers (`response.json()`, GraphQL `data`) whose shape the assertions check:
    // the `any` they carry (or declare, as `Record<string, any>` for a GraphQL `data`) is the data under test, and
    // typing every answer would add casts, not safety. The other rules (promises above all: an unawaited
    // `expect(…).rejects` passes whatever happens) stay on.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
    },
  },
);
