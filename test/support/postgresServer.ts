/**
 * Vitest global setup: a throwaway PostgreSQL server for the integration tests, started before
 * and stopped after the run. Its absence fails the run: the PostgreSQL half is not optional.
 */
import type { TestProject } from 'vitest/node';
import { startThrowawayPostgres } from '../../scripts/throwawayPostgres';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const server = await startThrowawayPostgres();
  project.provide('postgresUrl', server.url);
  return () => server.stop();
}
