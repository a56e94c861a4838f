/**
 * The perturbation job through the queue: a synthetic screen (with its true matrix) written as .h5ad,
 * stored as a project dataset, fitted by a run; the run stores held-out metrics against the baselines,
 * CLIPR's causal matrix (which must recover the true edges far above chance) and the model.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasets, models } from '../../db/schema';
import { scoreCausalMatrix } from '../../server/engines/clipr';
import { writeH5ad } from '../../server/perturbation/h5ad';
import { syntheticScreen, transposed } from '../../server/perturbation/synthetic';
import type { Runtime } from '../../server/runtime';
import { startWorker } from '../../workers/runner';
import { callerFor, createTestRuntime, signUp, waitFor } from '../support/runtime';

describe('perturbation runs (PGlite)', () => {
  let runtime: Runtime;
  let worker: { stop(): Promise<void> };
  beforeAll(async () => {
    runtime = await createTestRuntime('pglite');
    worker = await startWorker(runtime, { concurrency: 1 });
  });
  afterAll(async () => {
    await worker?.stop();
    await runtime?.close();
  });

  it('fits LCD to an uploaded screen and maps its causal matrix', async () => {
    const headers = await signUp(runtime, 'biologist@example.org');
    const alice = await callerFor(runtime, headers);
    const { id: projectId } = await alice.project.create({ name: 'Screens' });
    const screen = syntheticScreen({ genes: 8, graph: 'er', family: 'reversible', seed: 3, doubles: 6 });
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tributary-screen-'));
    const file = path.join(dir, 'screen.h5ad');
    await writeH5ad(file, {
      X: { format: 'dense', rows: screen.cellCount, cols: 8, values: screen.cells },
      cells: screen.labels.map((_, i) => `cell${i}`),
      genes: screen.genes,
      obs: { perturbation: screen.labels },
    });
    const blob = await runtime.blobs.put(await fs.readFile(file));
    const session = await runtime.auth.api.getSession({ headers });
    const [dataset] = await runtime.db
      .insert(datasets)
      .values({
        projectId,
        name: 'synthetic screen',
        filename: 'screen.h5ad',
        mediaType: 'application/octet-stream',
        blobSha256: blob.sha256,
        sizeBytes: blob.sizeBytes,
        createdBy: session!.user.id,
      })
      .returning();
    await fs.rm(dir, { recursive: true, force: true });

    const { id } = await alice.run.start({
      projectId,
      kind: 'perturbation-fit',
      config: { datasetId: dataset.id, input: 'lognorm', steps: 200, holdOutCombinations: 2 },
      seed: 1,
    });
    const done = await waitFor(async () => {
      const dashboard = await alice.run.get({ runId: id });
      return ['succeeded', 'failed'].includes(dashboard.run.status) && dashboard;
    }, 170_000);
    expect(done.run.error).toBeNull();
    expect(done.run.metrics).toMatchObject({ genes: 8, held_out: 2 });
    const artifact = done.artifacts.perturbation as { causal: { genes: string[]; effects: number[][] } };
    expect(artifact.causal.genes).toEqual(screen.genes);
    // effects[i][j] is the effect of gene i on gene j; the engine's truth A[i][j] is the effect of j on i.
    const score = scoreCausalMatrix(transposed(artifact.causal.effects), screen.trueMatrix);
    // Chance is 0.5 (a random score over 56 off-diagonal entries with this screen's edges has an AUROC
    // standard deviation of about 0.13): 0.85 is well above it (a reversible screen, where CLIPR is exact
    // up to estimation, reached 1.0 in the CLI test).
    expect(score.auroc).toBeGreaterThan(0.85);
    const stored = await runtime.db.select().from(models).where(eq(models.runId, id));
    expect(stored.map((m) => m.kind)).toEqual(['perturbation-lcd']);
  });
});
