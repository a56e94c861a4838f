import type { z } from 'zod';
import type { RunProgress } from '../../db/schema';

/** What a job handler gets: its validated config, the run's seed, and ways to report. */
export interface RunContext<Config> {
  runId: string;
  config: Config;
  seed: number;
  /** Throttled; throws RunCancelledError when the run was cancelled or superseded. */
  reportProgress: (progress: RunProgress) => Promise<void>;
  log: (message: string, level?: 'info' | 'warn' | 'error') => Promise<void>;
  /** A model stored in the run's project (NOT another project's): its kind, metadata and weight bytes. */
  loadModel: (
    modelId: string,
  ) => Promise<{ kind: string; metadata: Record<string, unknown>; weights: Buffer }>;
  /** Work saved by this run's attempts, so that a retry after a crash resumes instead of restarting. */
  checkpoints: RunCheckpoints;
  /** An uploaded file of the run's project (NOT another project's). */
  loadDataset: (
    datasetId: string,
  ) => Promise<{ name: string; filename: string; mediaType: string; bytes: Buffer }>;
}

export interface RunCheckpoints {
  /** The bytes last saved under `name` by any attempt of the run, or null. */
  load(name: string): Promise<Buffer | null>;
  /** Saves (replaces) `name`; throws RunCancelledError when this attempt no longer owns the run. */
  save(name: string, bytes: Uint8Array | string): Promise<void>;
}

export interface ModelOutput {
  name: string;
  kind: string;
  weights: string | Uint8Array;
  metadata: Record<string, unknown>;
}

/** What a handler returns; the runner stores it in one transaction. */
export interface RunOutput {
  metrics: Record<string, number>;
  timings: Record<string, number>;
  artifacts: Record<string, unknown>;
  models?: ModelOutput[];
}

export interface RunHandler<Schema extends z.ZodType = z.ZodType> {
  configSchema: Schema;
  /** Whether the handler trains or samples with tensors (the run then records the backend). */
  usesTensors: boolean;
  run(context: RunContext<z.infer<Schema>>): Promise<RunOutput>;
}

export function defineHandler<Schema extends z.ZodType>(handler: RunHandler<Schema>): RunHandler<Schema> {
  return handler;
}
