/** The first real job end to end: a 2-D flow trained through the queue, its results and model stored. */
import fs from 'node:fs';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { models } from '../../db/schema';
import type { Runtime } from '../../server/runtime';
import { startWorker } from '../../workers/runner';
import { callerFor, createTestRuntime, databaseModes, signUp, waitFor } from '../support/runtime';

describe.each(databaseModes)('flow2d run on %s', (mode) => {
  let runtime: Runtime;
  let worker: { stop(): Promise<void> };
  beforeAll(async () => {
    runtime = await createTestRuntime(mode);
    worker = await startWorker(runtime, { concurrency: 1 });
  });
  afterAll(async () => {
    await worker?.stop();
    await runtime?.close();
  });

  it('trains and stores samples, loss curve, density grid, backend and weights', async () => {
    const alice = await callerFor(runtime, await signUp(runtime, `flow-${mode}@example.org`));
    const { id: projectId } = await alice.project.create({ name: 'Flows' });
    const config = {
      density: 'gaussian-mixture' as const,
      steps: 40,
      hidden: 16,
      sampleCount: 30,
      gridSize: 8,
    };
    const { id } = await alice.run.start({ projectId, kind: 'flow2d', config, seed: 7 });

    const done = await waitFor(async () => {
      const dashboard = await alice.run.get({ runId: id });
      return ['succeeded', 'failed'].includes(dashboard.run.status) && dashboard;
    }, 60_000);
    expect(done.run.error).toBeNull();
    expect(done.run.status).toBe('succeeded');
    expect(done.run.backend).toMatch(/^(wasm|cpu|tensorflow|tensorflow-gpu)$/);
    expect(done.run.seed).toBe(7);
    expect(Number.isFinite(done.run.metrics?.finalLoss)).toBe(true);
    expect(done.run.timings?.trainSeconds).toBeGreaterThan(0);

    const artifacts = done.artifacts as {
      samples: number[][];
      lossCurve: { step: number; loss: number }[];
      density: { x: number[]; y: number[]; z: number[][] };
    };
    expect(artifacts.samples).toHaveLength(30);
    expect(artifacts.samples.every((p) => p.length === 2 && p.every(Number.isFinite))).toBe(true);
    expect(artifacts.lossCurve.at(-1)?.step).toBe(40);
    expect(artifacts.density.z).toHaveLength(8);
    expect(artifacts.density.z.every((row) => row.length === 8)).toBe(true);

    const [model] = await runtime.db.select().from(models).where(eq(models.runId, id));
    expect(model.kind).toBe('flow2d');
    const weights = JSON.parse(fs.readFileSync(runtime.blobs.pathOf(model.weightsSha256), 'utf8')) as object;
    expect(weights).toHaveProperty('config');
    expect(done.models).toHaveLength(1);
  });
});
