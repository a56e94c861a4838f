import path from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { alias: { '~': path.resolve(import.meta.dirname) } },
  test: {
    include: ['test/**/*.test.ts'],
    // A private PostgreSQL server for the integration tests, started and stopped by the test run.
    globalSetup: ['test/support/postgresServer.ts'],
    // Generous: the heaviest tests (RFM, Adjoint Matching) take 10–30 s alone and several times that on a
    // loaded shared machine; they test correctness, and speed is measured by the benchmarks instead.
    testTimeout: 180_000,
    hookTimeout: 120_000,
    // Two cores: one test file at a time per core keeps timings honest and PGlite memory in check.
    maxWorkers: 2,
  },
});
