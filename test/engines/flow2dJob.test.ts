/** The flow2d job (server/jobs/flow2d.ts): config validation, result shapes, progress and cancellation. */
import { beforeAll, describe, expect, it } from 'vitest';
import { initTensorBackend, tf } from '../../server/engines/tensor';
import { MlpVelocityField } from '../../server/engines/flows';
import {
  downsampleCurve,
  flow2dConfigSchema,
  runFlow2d,
  type Flow2dProgress,
} from '../../server/jobs/flow2d';

beforeAll(async () => {
  await initTensorBackend('wasm');
});

describe('flow2dConfigSchema', () => {
  it('fills defaults and rejects unknown keys and bad values', () => {
    const config = flow2dConfigSchema.parse({});
    expect(config).toMatchObject({ density: 'moons', steps: 1500, solver: 'rk4', gridSize: 48, seed: 0 });
    expect(flow2dConfigSchema.safeParse({ stepz: 10 }).success).toBe(false);
    const bad = flow2dConfigSchema.safeParse({ density: 'nope' });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0].path).toEqual(['density']);
    expect(flow2dConfigSchema.safeParse({ batchSize: 4 }).success).toBe(false);
  });
});

describe('runFlow2d', () => {
  it('returns samples, a downsampled loss curve, a log-density grid and reloadable weights', async () => {
    const config = flow2dConfigSchema.parse({
      density: 'gaussian-mixture',
      steps: 600,
      batchSize: 128,
      hidden: 32,
      layers: 2,
      sampleCount: 200,
      odeSteps: 10,
      gridSize: 24,
      seed: 3,
    });
    const before = tf.memory().numTensors;
    const progress: Flow2dProgress[] = [];
    const result = await runFlow2d(config, { onProgress: (p) => void progress.push(p) });
    expect(tf.memory().numTensors).toBe(before);

    expect(result.samples).toHaveLength(200);
    expect(result.samples.every((s) => s.length === 2 && s.every(Number.isFinite))).toBe(true);
    expect(result.lossCurve.length).toBeLessThanOrEqual(500);
    expect(result.lossCurve[0].step).toBe(1);
    expect(result.lossCurve.at(-1)!.step).toBe(600);
    expect(result.density.kind).toBe('logDensity');
    expect(result.density.x).toHaveLength(24);
    expect(result.density.z).toHaveLength(24);
    expect(result.density.z.every((row) => row.length === 24 && row.every(Number.isFinite))).toBe(true);
    expect(result.metrics.backend).toBe('wasm');
    expect(Number.isFinite(result.metrics.meanLogLikelihood)).toBe(true);

    // The model density over the plotting box: a probability density holds at most its total mass 1,
    // and the box holds essentially all of it. Midpoint rule on a 24² grid of a briefly trained flow:
    // allow 20 %.
    const cell = (result.density.x[1] - result.density.x[0]) * (result.density.y[1] - result.density.y[0]);
    const mass = result.density.z.flat().reduce((sum, logp) => sum + Math.exp(logp) * cell, 0);
    expect(mass).toBeGreaterThan(0.8);
    expect(mass).toBeLessThan(1.2);

    const phases = [...new Set(progress.map((p) => p.phase))];
    expect(phases).toEqual(['Training', 'Sampling', 'Density grid', 'Held-out likelihood']);
    const reloaded = MlpVelocityField.fromWeights(result.weights);
    expect(reloaded.config.hidden).toBe(32);
    reloaded.dispose();
  });

  it('rethrows a progress-callback error and leaks no tensors', async () => {
    const config = flow2dConfigSchema.parse({
      steps: 200,
      hidden: 16,
      layers: 1,
      batchSize: 32,
      gridSize: 8,
    });
    const before = tf.memory().numTensors;
    const cancelled = new Error('run cancelled');
    await expect(
      runFlow2d(config, {
        onProgress: (p) => {
          if (p.step >= 40) throw cancelled;
        },
      }),
    ).rejects.toBe(cancelled);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('downsampleCurve', () => {
  it('keeps the first and last points and at most the limit', () => {
    const curve = Array.from({ length: 1234 }, (_, i) => i);
    const small = downsampleCurve(curve, 500);
    expect(small).toHaveLength(500);
    expect(small[0]).toBe(0);
    expect(small.at(-1)).toBe(1233);
    expect(downsampleCurve([1, 2, 3], 500)).toEqual([1, 2, 3]);
  });
});
