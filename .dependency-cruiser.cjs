// Dependency rules: dependencies point inwards (graphql → modules → cqrs), no cycles, and the read side
// never imports the write client. Run with `npm run lint:deps`.
//
// Paths are regular expressions matched against paths relative to the repository root ("src/…").
// Type-only imports count (tsPreCompilationDeps below): an `import type` is still a dependency of the
// code's design, and a cycle through types is still a cycle.

/** The write model's client: its module, and the Prisma client generated from prisma/write.prisma. */
const writeClient = '^src/(db/write-client\\.ts$|generated/write/)';

/**
 * The read side: code that serves the read API (/graphql/read) or maintains the views, and so runs in a
 * `read` or `projector` process that must never hold write access (docs/guarantees.md, guarantee 7):
 * - src/modules/<module>/views/**: the projections and the queries over their tables;
 * - src/modules/<module>/graphql/* except *-mutations.ts: those files register the read schema's
 *   queries and subscriptions (object types with `subGraphs: ['read']`, `queryField`, `subscriptionField`);
 *   the *-mutations.ts files register the write schema's mutations and are write side;
 * - src/modules/read-loaders.ts: the read API's per-request DataLoaders over the views;
 * - src/db/read-client.ts: the read model's client.
 */
const readSide = [
  '^src/modules/[^/]+/views/',
  '^src/modules/[^/]+/graphql/(?![^/]*-mutations\\.ts$)[^/]+$',
  '^src/modules/read-loaders\\.ts$',
  '^src/db/read-client\\.ts$',
];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'cqrs-is-the-core',
      comment:
        'src/cqrs is the CQRS machinery (event log, relay, projector, process manager, …). It knows no module, no API and ' +
        'no composition root: those depend on it, never the other way round.',
      severity: 'error',
      from: { path: '^src/cqrs/' },
      to: { path: '^src/(modules/|graphql/|cli/|app\\.ts$)' },
    },
    {
      name: 'modules-do-not-know-the-api',
      comment:
        'graphql → modules → cqrs: the non-API part of a module (commands, events, stores, views, saga; everything ' +
        "outside src/modules/*/graphql/) never imports the GraphQL layer, neither src/graphql nor any module's graphql/ folder.",
      severity: 'error',
      from: { path: '^src/modules/', pathNot: '^src/modules/[^/]+/graphql/' },
      to: { path: '^src/(graphql/|modules/[^/]+/graphql/)' },
    },
    {
      name: 'no-circular',
      comment: 'No cycles anywhere in src, type-only imports included (the Prisma clients generated into src/generated are not ours).',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/generated/' },
      to: { circular: true },
    },
    {
      name: 'read-side-never-imports-the-write-client',
      comment:
        'A read-side file (see `readSide` at the top of .dependency-cruiser.cjs) never imports the write client, not even ' +
        'for its types. Transitive runtime reach from the read entry points is checked by test/unit/read-isolation.test.ts.',
      severity: 'error',
      from: { path: readSide },
      to: { path: writeClient },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^src/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    skipAnalysisNotInRules: true,
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
