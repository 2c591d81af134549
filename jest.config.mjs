// Nest 12 and client-node are ESM-only, so jest runs in its native ESM mode
// (node --experimental-vm-modules, see package.json) with ts-jest emitting ESM.
const common = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true }] },
  // @nestjs/throttler is CommonJS requiring ESM-only Nest packages: see test/support/require-esm/resolver.cjs.
  resolver: '<rootDir>/test/support/require-esm/resolver.cjs',
  setupFiles: ['<rootDir>/test/support/require-esm/setup.ts'],
};

export default {
  // Integration and e2e tests wait on real rollouts and redeliveries; unit tests finish in milliseconds.
  testTimeout: 180_000,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/unit/**/*.spec.ts'],
    },
    {
      // Repositories against the real PostgreSQL, built with Test.createTestingModule; no NATS or Kubernetes.
      ...common,
      displayName: 'repository',
      testMatch: ['<rootDir>/test/repository/**/*.repo-spec.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.mjs',
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.int-spec.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.mjs',
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.mjs',
    },
  ],
};
