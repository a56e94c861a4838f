/**
 * Creating and cancelling runs: the light, request-side half of the job system.
 * The worker side (claiming, progress, results) lives in workers/.
 */
import { and, eq, inArray } from 'drizzle-orm';
import { runLogs, runs } from '../db/schema';
import { enqueueRun, RUN_QUEUE } from './jobs/queue';
import type { Runtime } from './runtime';

export interface NewRun {
  projectId: string;
  kind: string;
  name: string;
  config: Record<string, unknown>;
  seed: number;
  userId: string;
}

/** Inserts the run and its job in one transaction: either both exist or neither. */
export async function createRun(
  runtime: Pick<Runtime, 'db' | 'queue' | 'codeVersion' | 'localWorkerIds'>,
  run: NewRun,
) {
  const created = await runtime.db.transaction(async (tx) => {
    const [row] = await tx
      .insert(runs)
      .values({
        projectId: run.projectId,
        kind: run.kind,
        name: run.name,
        config: run.config,
        seed: run.seed,
        createdBy: run.userId,
        codeVersion: runtime.codeVersion,
      })
      .returning();
    const jobId = await enqueueRun(runtime.queue, tx, row.id);
    await tx.update(runs).set({ jobId }).where(eq(runs.id, row.id));
    await tx.insert(runLogs).values({ runId: row.id, level: 'info', message: `Queued ${run.kind} run` });
    return { ...row, jobId };
  });
  // A worker in this process starts at once rather than at its next poll (PGlite has no NOTIFY).
  for (const workerId of runtime.localWorkerIds) runtime.queue.notifyWorker(workerId);
  return created;
}

/**
 * Cancels a run. A queued run is cancelled at once (and its job withdrawn); a running one is
 * flagged, and its worker stops at its next progress report (well under a second for our jobs).
 * Returns the status the run has after the call.
 */
export async function cancelRun(runtime: Pick<Runtime, 'db' | 'queue'>, runId: string) {
  const [queued] = await runtime.db
    .update(runs)
    .set({ status: 'cancelled', cancelRequested: true, finishedAt: new Date() })
    .where(and(eq(runs.id, runId), eq(runs.status, 'queued')))
    .returning({ jobId: runs.jobId });
  if (queued) {
    if (queued.jobId) await runtime.queue.cancel(RUN_QUEUE, queued.jobId);
    await runtime.db.insert(runLogs).values({ runId, level: 'warn', message: 'Cancelled before it started' });
    return 'cancelled' as const;
  }
  const [running] = await runtime.db
    .update(runs)
    .set({ cancelRequested: true })
    .where(and(eq(runs.id, runId), inArray(runs.status, ['running'])))
    .returning({ status: runs.status });
  if (running) {
    await runtime.db.insert(runLogs).values({ runId, level: 'warn', message: 'Cancellation requested' });
    return 'running' as const;
  }
  const [current] = await runtime.db.select({ status: runs.status }).from(runs).where(eq(runs.id, runId));
  return current?.status;
}
