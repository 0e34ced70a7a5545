import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // One PostgreSQL cluster per run, started in the background; each PostgreSQL test file makes its own database.
    globalSetup: ['test/helpers/postgres-global-setup.ts'],
    // CI also keeps a machine-readable result, from which .ci/run prints one closing line.
    reporters: process.env.CI ? ['default', ['json', { outputFile: 'test-results.json' }]] : ['default'],
  },
});
