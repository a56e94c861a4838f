/**
 * Run checkpoints (workers/runner.ts `checkpointStore`) on PGlite and a real PostgreSQL server: an attempt
 * saves and loads; after a newer attempt claims the run (a worker crash and retry), the older attempt can
 * no longer save, while the newer one loads what the older saved and replaces it; finishing the run
 * removes its checkpoints. And the perturbation fit restores every model it finds checkpointed instead of
 * training it again, ending with the same weights.
 */
import fs from 'node:fs';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobs, runCheckpoints, runs } from '../../db/schema';
import { fitPerturbationModel } from '../../server/perturbation/fit';
import { syntheticScreen } from '../../server/perturbation/synthetic';
import type { Runtime } from '../../server/runtime';
import { createRun } from '../../server/runs';
import { checkpointStore, executeRun, RunCancelledError } from '../../workers/runner';
import { callerFor, createTestRuntime, databaseModes, signUp } from '../support/runtime';

describe.each(databaseModes)('run checkpoints on %s', (mode) => {
  let runtime: Runtime;
  let projectId: string;
  let userId: string;
  beforeAll(async () => {
    runtime = await createTestRuntime(mode);
    const headers = await signUp(runtime, 'ckpt@example.org');
    projectId = (await (await callerFor(runtime, headers)).project.create({ name: 'Checkpoints' })).id;
    userId = (await runtime.auth.api.getSession({ headers }))!.user.id;
  });
  afterAll(async () => {
    await runtime?.close();
  });

  it('are fenced by attempt, survive a retry, and go when the run finishes', async () => {
    const run = await createRun(runtime, {
      projectId,
      kind: 'noop',
      name: 'checkpointed',
      config: { durationMs: 10 },
      seed: 0,
      userId,
    });
    // Attempt 1 claims the run (as executeRun does) and saves.
    await runtime.db.update(runs).set({ status: 'running', attempts: 1 }).where(eq(runs.id, run.id));
    const first = checkpointStore(runtime, run.id, 1);
    expect(await first.load('model')).toBeNull();
    await first.save('model', 'weights after phase 1');
    expect((await first.load('model'))?.toString()).toBe('weights after phase 1');

    // The worker dies; attempt 2 claims the run. The stale attempt cannot write any more.
    await runtime.db.update(runs).set({ attempts: 2 }).where(eq(runs.id, run.id));
    await expect(first.save('model', 'stale')).rejects.toBeInstanceOf(RunCancelledError);
    const second = checkpointStore(runtime, run.id, 2);
    expect((await second.load('model'))?.toString()).toBe('weights after phase 1');
    await second.save('model', 'weights after phase 2');
    expect((await second.load('model'))?.toString()).toBe('weights after phase 2');

    // Another run holds a checkpoint with the same bytes as one of this run's (content-addressed: one blob).
    await second.save('shared', 'same bytes in two runs');
    const other = await createRun(runtime, {
      projectId,
      kind: 'noop',
      name: 'other',
      config: { durationMs: 10 },
      seed: 0,
      userId,
    });
    await runtime.db.update(runs).set({ status: 'running', attempts: 1 }).where(eq(runs.id, other.id));
    await checkpointStore(runtime, other.id, 1).save('shared', 'same bytes in two runs');
    const blobOf = async (runId: string, name: string) =>
      (
        await runtime.db
          .select({ sha: runCheckpoints.blobSha256 })
          .from(runCheckpoints)
          .where(and(eq(runCheckpoints.runId, runId), eq(runCheckpoints.name, name)))
      )[0].sha;
    const own = await blobOf(run.id, 'model');
    const shared = await blobOf(run.id, 'shared');

    // The run finishes (executeRun claims attempt 3 and completes the noop job): no checkpoint is left,
    // its own blob is gone (row and file), the blob the other run still uses stays.
    await executeRun(runtime, run.id, 'test');
    expect(await runtime.db.select().from(blobs).where(eq(blobs.sha256, own))).toEqual([]);
    expect(fs.existsSync(runtime.blobs.pathOf(own))).toBe(false);
    expect(await runtime.db.select().from(blobs).where(eq(blobs.sha256, shared))).toHaveLength(1);
    expect(fs.existsSync(runtime.blobs.pathOf(shared))).toBe(true);
    const [done] = await runtime.db.select().from(runs).where(eq(runs.id, run.id));
    expect(done.status).toBe('succeeded');
    expect(await runtime.db.select().from(runCheckpoints).where(eq(runCheckpoints.runId, run.id))).toEqual(
      [],
    );
  });
});

describe('a perturbation fit with checkpoints', () => {
  it('restores checkpointed models instead of training them, with the same result', async () => {
    const screen = syntheticScreen({
      genes: 4,
      graph: 'er',
      family: 'reversible',
      seed: 2,
      cellsPerCondition: 40,
    });
    const data = {
      X: { format: 'dense' as const, rows: screen.labels.length, cols: 4, values: screen.cells },
      cells: screen.labels.map((_, i) => `c${i}`),
      genes: screen.genes,
      obs: { perturbation: screen.labels },
      var: {},
      uns: {},
      notes: [],
    };
    const saved = new Map<string, string>();
    const checkpoints = {
      load: (name: string) => Promise.resolve(saved.has(name) ? Buffer.from(saved.get(name)!) : null),
      save: (name: string, bytes: string) => {
        saved.set(name, bytes);
        return Promise.resolve();
      },
    };
    const options = {
      perturbationKey: 'perturbation',
      control: 'control',
      input: 'lognorm' as const,
      steps: 30,
      seed: 1,
      holdOutSingles: ['G1'],
      checkpoints,
    };
    const first = await fitPerturbationModel(data, options);
    // Prediction, CLIPR and the left-out model: three checkpoints.
    expect(saved.size).toBe(3);

    const messages: string[] = [];
    const second = await fitPerturbationModel(data, { ...options, onProgress: (m) => void messages.push(m) });
    expect(messages.filter((m) => m.includes('restored from the checkpoint'))).toHaveLength(3);
    expect(messages.some((m) => /step \d+\/30/.test(m))).toBe(false);
    expect(second.model.prediction).toEqual(first.model.prediction);
    expect(second.model.clipr).toEqual(first.model.clipr);
    expect(second.summary.train_seconds).toBe(first.summary.train_seconds);
  });
});
