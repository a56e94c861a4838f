/**
 * One run's dashboard: the run, its artifacts, logs and models. Shared by the signed-in run page
 * and by public share links, so both show exactly the same thing.
 */
import { asc, eq } from 'drizzle-orm';
import type { AppDb } from '../db/client';
import { blobs, models, projects, runArtifacts, runLogs, runs } from '../db/schema';

export async function loadRunDashboard(db: AppDb, runId: string) {
  const [row] = await db
    .select({ run: runs, projectName: projects.name })
    .from(runs)
    .innerJoin(projects, eq(projects.id, runs.projectId))
    .where(eq(runs.id, runId));
  if (!row) return null;
  const artifactRows = await db
    .select({ name: runArtifacts.name, data: runArtifacts.data })
    .from(runArtifacts)
    .where(eq(runArtifacts.runId, runId));
  const logs = await db
    .select({ at: runLogs.at, level: runLogs.level, message: runLogs.message })
    .from(runLogs)
    .where(eq(runLogs.runId, runId))
    .orderBy(asc(runLogs.id));
  const modelRows = await db
    .select({
      name: models.name,
      kind: models.kind,
      weightsSha256: models.weightsSha256,
      sizeBytes: blobs.sizeBytes,
    })
    .from(models)
    .innerJoin(blobs, eq(blobs.sha256, models.weightsSha256))
    .where(eq(models.runId, runId));
  const { createdBy: _createdBy, jobId: _jobId, ...run } = row.run;
  return {
    run,
    projectName: row.projectName,
    artifacts: Object.fromEntries(artifactRows.map((a) => [a.name, a.data])) as Record<string, unknown>,
    logs,
    models: modelRows,
  };
}

export type RunDashboard = NonNullable<Awaited<ReturnType<typeof loadRunDashboard>>>;
