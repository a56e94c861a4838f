import path from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { alias: { '~': path.resolve(import.meta.dirname) } },
  test: {
    include: ['test/**/*.test.ts'],
    // A private PostgreSQL server for the integration tests, started and stopped by the test run.
    globalSetup: ['test/support/postgresServer.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: one test file at a time per core keeps timings honest and PGlite memory in check.
    maxWorkers: 2,
  },
});
