// Import boundaries between the layers (docs/architecture.md, "Checks"); `npm run lint:deps` runs it.

// Files that wire the program together; adapters receive what these build, never import them.
const COMPOSITION_ROOT = '^src/(app|cli|main|composition-root)\\.ts$|^src/cli/bootstrap\\.ts$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'core-stays-pure',
      comment: 'src/core knows nothing of Slack, SQLite, the file system or the clock: it may import only itself, src/errors.ts, zod and node:crypto.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { pathNot: ['^src/core/', '^src/errors\\.ts$', '^node_modules/zod/', '^(node:)?crypto$'] },
    },
    {
      name: 'adapters-not-to-storage',
      comment: 'Adapters reach storage through the services and ports they are given, never the SQLite classes.',
      severity: 'error',
      from: { path: '^src/adapters/' },
      to: { path: '^src/storage/' },
    },
    {
      name: 'adapters-not-to-composition-root',
      comment: 'Adapters receive their services from the composition root; importing it back makes a cycle in the wiring.',
      severity: 'error',
      from: { path: '^src/adapters/' },
      to: { path: COMPOSITION_ROOT },
    },
    {
      name: 'no-cycles',
      comment: 'A cycle means neither module can be understood or tested without the other.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-orphans',
      comment: 'A module nothing imports is dead code, unless it is an entry point (CLI, bench, test, a child-process script).',
      severity: 'error',
      from: {
        orphan: true,
        pathNot: [
          '\\.d\\.ts$',
          '^src/cli\\.ts$',
          '^bench/run\\.ts$',
          '\\.test\\.ts$',
          '^test/fixtures/.+\\.(mjs|ts)$',
          '(^|/)(eslint|vitest)\\.config\\.[cm]?[jt]s$',
        ],
      },
      to: {},
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that does not resolve would fail at run time (child-process fixtures import dist/, built later).',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true, pathNot: '(^|/)dist/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports are dependencies too: a port typed by a SQLite class still couples the layers.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    skipAnalysisNotInRules: true,
  },
};
