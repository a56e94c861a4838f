/**
 * Flow-matching training (server/engines/flows/train.ts): it learns a Gaussian it can be checked against,
 * its loss falls on moons, it runs on both the wasm and cpu backends, and a cancelled run releases every
 * tensor it made.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initTensorBackend, tf } from '../../server/engines/tensor';
import type { Rng } from '../../server/engines/random';
import { MlpVelocityField, odeSolve, sampleToy, trainFlowMatching } from '../../server/engines/flows';

beforeAll(async () => {
  await initTensorBackend('wasm');
});
afterAll(async () => {
  await initTensorBackend('wasm');
});

const mean = [1.5, -1];
const sd = [0.5, 1.2];
const gaussianData = (n: number, rng: Rng) =>
  tf.tensor2d(
    Float32Array.from({ length: 2 * n }, (_, k) => mean[k % 2] + sd[k % 2] * rng.normal()),
    [n, 2],
  );
const moonsData = (n: number, rng: Rng) => tf.tensor2d(sampleToy('moons', n, rng), [n, 2]);

function sampleMoments(field: MlpVelocityField, n: number) {
  const x = tf.tidy(() =>
    odeSolve(
      (xs: tf.Tensor2D, t) => field.predict(xs, t),
      tf.randomNormal<tf.Rank.R2>([n, 2], 0, 1, 'float32', 9),
      {
        t0: 0,
        t1: 1,
        steps: 20,
        method: 'rk4',
      },
    ),
  );
  const v = x.dataSync();
  x.dispose();
  const m = [0, 0];
  for (let i = 0; i < n; i++) for (let j = 0; j < 2; j++) m[j] += v[2 * i + j] / n;
  const c = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    const a = v[2 * i] - m[0];
    const b = v[2 * i + 1] - m[1];
    c[0] += (a * a) / (n - 1);
    c[1] += (a * b) / (n - 1);
    c[2] += (b * b) / (n - 1);
  }
  return { mean: m, sd: [Math.sqrt(c[0]), Math.sqrt(c[2])], correlation: c[1] / Math.sqrt(c[0] * c[2]) };
}

describe('trainFlowMatching', () => {
  it('learns N(μ, diag σ²): the flow’s samples have the right mean, spread and no correlation', async () => {
    const field = MlpVelocityField.create({ dimension: 2, hidden: 64, layers: 2 }, 1);
    const result = await trainFlowMatching({
      field,
      sampleData: gaussianData,
      steps: 600,
      batchSize: 256,
      learningRate: 3e-3,
      seed: 2,
      ema: { decay: 0.99 },
    });
    expect(result.lossCurve).toHaveLength(600);
    const n = 4000;
    const moments = sampleMoments(field, n);
    field.dispose();
    // Sampling standard errors with n = 4000: mean σ/√n (0.008, 0.019), sd σ/√(2n) (0.006, 0.013),
    // correlation 1/√n (0.016). Tolerance: 4 standard errors plus 0.03 for what a 600-step fit of a
    // small MLP leaves (this run lands within 0.015 of the truth everywhere).
    for (let j = 0; j < 2; j++) {
      expect(Math.abs(moments.mean[j] - mean[j])).toBeLessThan((4 * sd[j]) / Math.sqrt(n) + 0.03);
      expect(Math.abs(moments.sd[j] - sd[j])).toBeLessThan((4 * sd[j]) / Math.sqrt(2 * n) + 0.03);
    }
    expect(Math.abs(moments.correlation)).toBeLessThan(4 / Math.sqrt(n) + 0.03);
  });

  it('decreases the loss on moons', async () => {
    const field = MlpVelocityField.create({ dimension: 2, hidden: 64, layers: 3 }, 3);
    const { lossCurve, finalLoss, stepsPerSecond } = await trainFlowMatching({
      field,
      sampleData: moonsData,
      steps: 300,
      batchSize: 256,
      learningRate: 2e-3,
      seed: 4,
    });
    field.dispose();
    const meanLoss = (part: { loss: number }[]) => part.reduce((a, b) => a + b.loss, 0) / part.length;
    const first = meanLoss(lossCurve.slice(0, 30));
    const last = meanLoss(lossCurve.slice(-30));
    // The loss has an irreducible floor (the conditional target x1 − x0 is noisy given x_t) and batch noise
    // of ≈ ±0.3; the untrained field starts ≈ 1.5 above the level reached after 300 steps.
    expect(last).toBeLessThan(first - 0.5);
    expect(finalLoss).toBeLessThan(first - 0.5);
    expect(stepsPerSecond).toBeGreaterThan(0);
  });

  it('computes the same losses on the wasm and cpu backends', async () => {
    const run = async (backend: 'wasm' | 'cpu') => {
      await initTensorBackend(backend);
      const field = MlpVelocityField.create({ dimension: 2, hidden: 32, layers: 2 }, 5);
      const result = await trainFlowMatching({
        field,
        sampleData: moonsData,
        steps: 20,
        batchSize: 64,
        learningRate: 2e-3,
        seed: 6,
        ema: { decay: 0.9 },
      });
      const weights = field.getWeights();
      field.dispose();
      return { losses: result.lossCurve.map((p) => p.loss), weights };
    };
    const wasm = await run('wasm');
    const cpu = await run('cpu');
    await initTensorBackend('wasm');
    // Same seed ⇒ same initial weights, batches, noise and times on both backends; only float32 summation
    // order and kernels differ (observed: losses within 3e-7 relative, weights within 6e-8 after 20 Adam
    // steps). Tolerance 1e-5 relative for losses and 1e-5 absolute for weights of size ≈ 0.2.
    wasm.losses.forEach((loss, i) =>
      expect(Math.abs(loss - cpu.losses[i])).toBeLessThan(1e-5 * Math.abs(loss)),
    );
    const firstWasm = wasm.weights.tensors[0].values;
    const firstCpu = cpu.weights.tensors[0].values;
    expect(Math.max(...firstWasm.map((v, i) => Math.abs(v - firstCpu[i])))).toBeLessThan(1e-5);
  });

  it('rethrows when onStep throws and releases every tensor it made', async () => {
    const field = MlpVelocityField.create({ dimension: 2, hidden: 16, layers: 2 }, 7);
    const before = tf.memory().numTensors;
    const cancelled = new Error('cancelled by the job runner');
    const seen: number[] = [];
    await expect(
      trainFlowMatching({
        field,
        sampleData: moonsData,
        steps: 50,
        batchSize: 32,
        learningRate: 1e-3,
        seed: 8,
        ema: { decay: 0.9 },
        reportEvery: 5,
        onStep: ({ step }) => {
          seen.push(step);
          if (step === 15) return Promise.reject(cancelled);
        },
      }),
    ).rejects.toBe(cancelled);
    expect(seen).toEqual([5, 10, 15]);
    expect(tf.memory().numTensors).toBe(before);
    field.dispose();
  });

  it('stops on an AbortSignal with its reason and releases every tensor it made', async () => {
    const field = MlpVelocityField.create({ dimension: 2, hidden: 16, layers: 2 }, 9);
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    const reason = new Error('run cancelled');
    await expect(
      trainFlowMatching({
        field,
        sampleData: moonsData,
        steps: 1000,
        batchSize: 32,
        learningRate: 1e-3,
        seed: 10,
        reportEvery: 10,
        signal: controller.signal,
        onStep: ({ step }) => {
          if (step === 20) controller.abort(reason);
        },
      }),
    ).rejects.toBe(reason);
    expect(tf.memory().numTensors).toBe(before);
    field.dispose();
  });

  it('is reproducible from its seed', async () => {
    const losses = async () => {
      const field = MlpVelocityField.create({ dimension: 2, hidden: 16, layers: 1 }, 11);
      const { lossCurve } = await trainFlowMatching({
        field,
        sampleData: moonsData,
        steps: 10,
        batchSize: 32,
        learningRate: 1e-3,
        seed: 12,
      });
      field.dispose();
      return lossCurve;
    };
    expect(await losses()).toEqual(await losses());
  });
});
