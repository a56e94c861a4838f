/**
 * The job runner: claims run jobs from the queue, executes the run's handler with progress
 * reporting and cancellation, and stores results. Results are written once, in a single
 * transaction guarded by the attempt number, so a retried or duplicated job never leaves
 * half-written or doubled results.
 */
import { and, eq, sql } from 'drizzle-orm';
import type { Job } from 'pg-boss';
import {
  datasets,
  models,
  runArtifacts,
  runCheckpoints,
  runLogs,
  runs,
  type RunProgress,
} from '../db/schema';
import { initTensorBackend, currentTensorBackend } from '../server/engines/tensor';
import { RUN_QUEUE, type RunJobData } from '../server/jobs/queue';
import type { Runtime } from '../server/runtime';
import { runHandlers } from './handlers';
import type { RunCheckpoints, RunOutput } from './handlers/types';

/** Thrown from a progress report when the run was cancelled (or taken over by a newer attempt). */
export class RunCancelledError extends Error {
  constructor(readonly reason: 'cancelled' | 'superseded') {
    super(reason === 'cancelled' ? 'Cancelled by user' : 'Superseded by a newer attempt');
    this.name = 'RunCancelledError';
  }
}

const PROGRESS_INTERVAL_MS = 400;

export interface WorkerOptions {
  concurrency: number;
  /** Name shown in run logs (host:pid by default). */
  name?: string;
}

export async function startWorker(
  runtime: Pick<Runtime, 'db' | 'queue' | 'blobs' | 'env' | 'localWorkerIds'>,
  options: WorkerOptions,
): Promise<{ stop(): Promise<void> }> {
  const workerName = options.name ?? `pid ${process.pid}`;
  let workId = '';
  workId = await runtime.queue.work<RunJobData>(
    RUN_QUEUE,
    {
      localConcurrency: options.concurrency,
      pollingIntervalSeconds: 0.5,
      // With NOTIFY active, polling is only a backstop.
      notifyPollingIntervalSeconds: 5,
      // A backlog (seen in the queue stats) is drained without pauses between fetches.
      burstWhenReadyExceeds: 1,
    },
    async ([job]: Job<RunJobData>[]) => {
      await executeRun(runtime, job.data.runId, workerName);
      // Look for the next job right away: a backlog drains without a polling pause per job.
      runtime.queue.notifyWorker(workId);
    },
  );
  runtime.localWorkerIds.add(workId);
  return {
    stop: () => {
      runtime.localWorkerIds.delete(workId);
      return runtime.queue.offWork(RUN_QUEUE, { id: workId, wait: false });
    },
  };
}

/**
 * The run's checkpoints as attempt `attempt` sees them: it loads whatever any attempt saved, and saves only
 * while it still owns the run (a superseded attempt's save throws RunCancelledError, like its progress).
 */
export function checkpointStore(
  runtime: Pick<Runtime, 'db' | 'blobs'>,
  runId: string,
  attempt: number,
): RunCheckpoints {
  const { db } = runtime;
  return {
    async load(name) {
      const [row] = await db
        .select({ sha256: runCheckpoints.blobSha256 })
        .from(runCheckpoints)
        .where(and(eq(runCheckpoints.runId, runId), eq(runCheckpoints.name, name)));
      return row ? runtime.blobs.readBuffer(row.sha256) : null;
    },
    async save(name, bytes) {
      const blob = await runtime.blobs.writeFile(bytes);
      await db.transaction(async (tx) => {
        const [owned] = await tx
          .select({ id: runs.id })
          .from(runs)
          .where(and(eq(runs.id, runId), eq(runs.attempts, attempt), eq(runs.status, 'running')))
          .for('update');
        if (!owned) throw new RunCancelledError('superseded');
        await runtime.blobs.record(blob, tx);
        await tx
          .insert(runCheckpoints)
          .values({ runId, name, blobSha256: blob.sha256, attempt })
          .onConflictDoUpdate({
            target: [runCheckpoints.runId, runCheckpoints.name],
            set: { blobSha256: blob.sha256, attempt, savedAt: new Date() },
          });
      });
    },
  };
}

/** Runs one attempt of a run. Handler errors are stored on the run; only infrastructure errors throw. */
export async function executeRun(
  runtime: Pick<Runtime, 'db' | 'blobs' | 'env'>,
  runId: string,
  workerName = `pid ${process.pid}`,
): Promise<void> {
  const { db } = runtime;
  // Claim: only a queued or running (crashed-attempt) run is taken; the attempt number fences older attempts.
  const [run] = await db
    .update(runs)
    .set({
      status: 'running',
      attempts: sql`${runs.attempts} + 1`,
      startedAt: new Date(),
      progress: { fraction: 0, message: 'Starting' },
    })
    .where(
      and(eq(runs.id, runId), sql`${runs.status} in ('queued', 'running')`, eq(runs.cancelRequested, false)),
    )
    .returning();
  if (!run) {
    await markCancelledIfRequested(runtime, runId);
    return; // finished, cancelled or deleted: nothing to do (a retry after success lands here)
  }
  const attempt = run.attempts;
  const log = async (message: string, level: 'info' | 'warn' | 'error' = 'info') => {
    await db.insert(runLogs).values({ runId, level, message });
  };
  await log(
    attempt > 1
      ? `Attempt ${attempt} on ${workerName} (the previous worker stopped)`
      : `Started on ${workerName}`,
  );

  const handler = runHandlers[run.kind];
  const began = performance.now();
  try {
    if (!handler) throw new Error(`Unknown run kind "${run.kind}"`);
    const parsed = handler.configSchema.safeParse(run.config);
    if (!parsed.success)
      throw new Error(`Invalid config: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
    let backend: string | null = null;
    if (handler.usesTensors) {
      backend = (await initTensorBackend(runtime.env.TRIBUTARY_TENSOR_BACKEND)).name;
      await db.update(runs).set({ backend }).where(eq(runs.id, runId));
      await log(`Tensor backend: ${backend} (${currentTensorBackend()?.detail ?? ''})`);
    }
    let lastReport = 0;
    const reportProgress = async (progress: RunProgress) => {
      const now = performance.now();
      if (now - lastReport < PROGRESS_INTERVAL_MS && progress.fraction < 1) return;
      lastReport = now;
      const [row] = await db
        .update(runs)
        .set({ progress })
        .where(and(eq(runs.id, runId), eq(runs.attempts, attempt), eq(runs.status, 'running')))
        .returning({ cancelRequested: runs.cancelRequested });
      if (!row) throw new RunCancelledError('superseded');
      if (row.cancelRequested) throw new RunCancelledError('cancelled');
    };
    const loadModel = async (modelId: string) => {
      const [model] = await db
        .select()
        .from(models)
        .where(and(eq(models.id, modelId), eq(models.projectId, run.projectId)));
      if (!model) throw new Error(`Model ${modelId} not found in this project`);
      return {
        kind: model.kind,
        metadata: model.metadata,
        weights: await runtime.blobs.readBuffer(model.weightsSha256),
      };
    };
    const loadDataset = async (datasetId: string) => {
      const [dataset] = await db
        .select()
        .from(datasets)
        .where(and(eq(datasets.id, datasetId), eq(datasets.projectId, run.projectId)));
      if (!dataset) throw new Error(`Dataset ${datasetId} not found in this project`);
      return {
        name: dataset.name,
        filename: dataset.filename,
        mediaType: dataset.mediaType,
        bytes: await runtime.blobs.readBuffer(dataset.blobSha256),
      };
    };
    const output = await handler.run({
      runId,
      config: parsed.data,
      seed: run.seed,
      reportProgress,
      log,
      loadModel,
      loadDataset,
      checkpoints: checkpointStore(runtime, runId, attempt),
    });
    const totalSeconds = (performance.now() - began) / 1000;
    await storeResults(runtime, run, attempt, output, totalSeconds);
  } catch (error) {
    if (error instanceof RunCancelledError) {
      if (error.reason === 'cancelled') await finish(runtime, runId, attempt, 'cancelled', null, 'Cancelled');
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    await finish(runtime, runId, attempt, 'failed', message, `Failed: ${message}`);
  }
}

async function storeResults(
  runtime: Pick<Runtime, 'db' | 'blobs'>,
  run: typeof runs.$inferSelect,
  attempt: number,
  output: RunOutput,
  totalSeconds: number,
) {
  // Blobs first: content-addressed files are idempotent, their rows go in the transaction below.
  const weights = await Promise.all(
    (output.models ?? []).map(async (model) => ({
      model,
      blob: await runtime.blobs.writeFile(model.weights),
    })),
  );
  const checkpointBlobs = await checkpointBlobsOf(runtime, run.id);
  await runtime.db.transaction(async (tx) => {
    const [owned] = await tx
      .update(runs)
      .set({
        status: 'succeeded',
        metrics: output.metrics,
        timings: { ...output.timings, totalSeconds },
        progress: { fraction: 1, message: 'Done' },
        finishedAt: new Date(),
        error: null,
      })
      .where(and(eq(runs.id, run.id), eq(runs.attempts, attempt), eq(runs.status, 'running')))
      .returning({ id: runs.id });
    if (!owned) return; // a newer attempt owns the run (or it was cancelled): store nothing
    // The results replace the checkpoints (their blobs go after the commit, unless something else uses them).
    await tx.delete(runCheckpoints).where(eq(runCheckpoints.runId, run.id));
    const artifacts = Object.entries(output.artifacts).map(([name, data]) => ({ runId: run.id, name, data }));
    if (artifacts.length) await tx.insert(runArtifacts).values(artifacts);
    for (const { model, blob } of weights) {
      await runtime.blobs.record(blob, tx);
      await tx.insert(models).values({
        projectId: run.projectId,
        runId: run.id,
        kind: model.kind,
        name: model.name,
        weightsSha256: blob.sha256,
        metadata: model.metadata,
      });
    }
    await tx
      .insert(runLogs)
      .values({ runId: run.id, level: 'info', message: `Succeeded in ${totalSeconds.toFixed(1)} s` });
  });
  await discardBlobs(runtime, checkpointBlobs);
}

/** The blobs of a run's checkpoints (read before the rows go). */
async function checkpointBlobsOf(runtime: Pick<Runtime, 'db'>, runId: string): Promise<string[]> {
  const rows = await runtime.db
    .select({ sha256: runCheckpoints.blobSha256 })
    .from(runCheckpoints)
    .where(eq(runCheckpoints.runId, runId));
  return rows.map((row) => row.sha256);
}

/** Removes blobs nothing refers to any more (a finished run's checkpoints); a failure only leaves a file. */
async function discardBlobs(runtime: Pick<Runtime, 'blobs'>, shas: readonly string[]) {
  for (const sha256 of shas) {
    try {
      await runtime.blobs.removeIfUnreferenced(sha256);
    } catch (error) {
      console.error(`[worker] could not remove checkpoint blob ${sha256}:`, error);
    }
  }
}

async function finish(
  runtime: Pick<Runtime, 'db' | 'blobs'>,
  runId: string,
  attempt: number,
  status: 'failed' | 'cancelled',
  error: string | null,
  message: string,
) {
  const checkpointBlobs = await checkpointBlobsOf(runtime, runId);
  const finished = await runtime.db.transaction(async (tx) => {
    const [row] = await tx
      .update(runs)
      .set({ status, error, finishedAt: new Date() })
      .where(and(eq(runs.id, runId), eq(runs.attempts, attempt), eq(runs.status, 'running')))
      .returning({ id: runs.id });
    if (row) {
      await tx.delete(runCheckpoints).where(eq(runCheckpoints.runId, runId));
      await tx.insert(runLogs).values({ runId, level: status === 'failed' ? 'error' : 'warn', message });
    }
    return row !== undefined;
  });
  if (finished) await discardBlobs(runtime, checkpointBlobs);
}

/** A run whose cancellation was requested while no worker held it ends as cancelled. */
async function markCancelledIfRequested(runtime: Pick<Runtime, 'db'>, runId: string) {
  await runtime.db
    .update(runs)
    .set({ status: 'cancelled', finishedAt: new Date() })
    .where(
      and(eq(runs.id, runId), eq(runs.cancelRequested, true), sql`${runs.status} in ('queued', 'running')`),
    );
}
