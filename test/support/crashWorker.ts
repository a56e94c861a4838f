/**
 * A worker process for the crash test, to be killed with SIGKILL mid-job. With CREATE_RUN=1 it
 * also creates a user, project and a slow run (PGlite: only one process may open the data folder).
 * Prints `ready`, `run <id>` and, once a run is running with progress, `claimed <id>`.
 */
import { and, eq, sql } from 'drizzle-orm';
import { projectMembers, projects, runs } from '../../db/schema';
import { parseEnv } from '../../server/env';
import { createRun } from '../../server/runs';
import { createRuntime } from '../../server/runtime';
import { startWorker } from '../../workers/runner';

const runtime = await createRuntime(parseEnv());
await startWorker(runtime, { concurrency: 1, name: 'the doomed worker' });
console.log('ready');

if (process.env.CREATE_RUN === '1') {
  const { user } = await runtime.auth.api.signUpEmail({
    body: { email: 'crash@example.org', password: 'correct horse battery', name: 'Crash' },
  });
  const [project] = await runtime.db
    .insert(projects)
    .values({ name: 'Crash', createdBy: user.id })
    .returning();
  await runtime.db.insert(projectMembers).values({ projectId: project.id, userId: user.id, role: 'owner' });
  const run = await createRun(runtime, {
    projectId: project.id,
    kind: 'noop',
    name: 'slow',
    config: { durationMs: Number(process.env.RUN_DURATION_MS ?? 4000) },
    seed: 0,
    userId: user.id,
  });
  console.log(`run ${run.id}`);
}

for (;;) {
  const [running] = await runtime.db
    .select({ id: runs.id })
    .from(runs)
    .where(and(eq(runs.status, 'running'), sql`(${runs.progress}->>'fraction')::float > 0`));
  if (running) {
    console.log(`claimed ${running.id}`);
    break;
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
}
