// The house's import rules, checked by `make test` (npx depcruise src --config .dependency-cruiser.cjs).
// Layers, bottom up: domain (rules and types), adapters (database, kubernetes, messaging, metrics:
// the outside world), features (requests, deployments, worker, watcher, reconciler, health, http)
// and the role map (app.module.ts, bootstrap.ts and the entry points) on top.
const FEATURES = '^src/(requests|deployments|events|worker|watcher|reconciler|health|http)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import circles: a newcomer can read any file after the files it imports.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'adapters-import-no-feature',
      severity: 'error',
      comment: 'database, kubernetes, messaging and metrics serve every feature, so they import none.',
      from: { path: '^src/(database|kubernetes|messaging|metrics)/' },
      to: { path: FEATURES },
    },
    {
      name: 'domain-at-the-bottom',
      severity: 'error',
      comment: 'The domain core imports no adapter and no feature: only itself and the config.',
      from: { path: '^src/domain/' },
      to: { path: [FEATURES, '^src/(database|kubernetes|messaging|metrics)/'] },
    },
    {
      name: 'nothing-imports-the-role-map',
      severity: 'error',
      comment: 'Only entry points and tests start from the role map; the house does not import its roof.',
      from: { path: '^src/', pathNot: '^src/[^/]+\\.ts$' },
      to: { path: '^src/(app\\.module|bootstrap|api\\.bootstrap|app\\.run|api\\.module)\\.ts$' },
    },
    {
      name: 'cli-is-a-client',
      comment: 'kdm talks to the API through the typed client only: none of the service, so it runs anywhere.',
      severity: 'error',
      from: { path: '^src/cli/' },
      to: { path: '^src/', pathNot: '^src/(cli/|node-version\\.ts$)' },
    },
    {
      name: 'nothing-imports-the-cli',
      severity: 'error',
      comment: 'The service does not depend on its command-line client.',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'Every relative import resolves to a file.',
      from: {},
      to: { couldNotResolve: true, dependencyTypes: ['local'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.spec\\.ts$' },
    // Type-only imports count too: a circle through types still makes a reader go back and forth.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
