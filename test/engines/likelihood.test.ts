/**
 * Likelihood by the change of variables and score from velocity (DESIGN.md §1), checked against the
 * closed-form Gaussian-to-Gaussian flow of helpers/gaussianFlow.ts, and Hutchinson against the exact trace.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initTensorBackend, tf } from '../../server/engines/tensor';
import { createRng, normalArray } from '../../server/engines/random';
import { MlpVelocityField, divergence, logLikelihood, scoreFromVelocity } from '../../server/engines/flows';
import { GaussianTargetField } from './helpers/gaussianFlow';

beforeAll(async () => {
  await initTensorBackend('wasm');
});

const field = new GaussianTargetField([1, -2, 0.5], [0.5, 1.5, 1]);

/** n points from the target N(μ, σ²), as rows. */
function targetPoints(n: number, seed: number): number[][] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => field.mean.map((m, i) => m + field.sd[i] * rng.normal()));
}

describe('exact divergence', () => {
  it('equals the analytic trace Σ c_i(t) of the affine Gaussian field', () => {
    const x = tf.tensor2d(targetPoints(5, 1));
    for (const t of [0, 0.3, 0.9]) {
      const div = divergence(field, x, t);
      const expected = field.slope(t).reduce((a, b) => a + b, 0);
      // A single backprop in float32: relative error ~1e-7.
      for (const value of div.dataSync()) expect(value).toBeCloseTo(expected, 5);
      div.dispose();
    }
    x.dispose();
  });
});

describe('log-likelihood by the change of variables', () => {
  const points = targetPoints(32, 2);
  const exact = points.map((p) => field.logDensity(p, 1));

  function maxError(steps: number): number {
    const x = tf.tensor2d(points);
    const { logLikelihood: values } = logLikelihood(field, x, { steps, method: 'rk4', divergence: 'exact' });
    x.dispose();
    return Math.max(...exact.map((e, i) => Math.abs(values[i] - e)));
  }

  it('matches log N(x; μ, σ²) with RK4', () => {
    // RK4's truncation error here is ≈ 4e-5 nats at 10 steps (see the next test) and falls 4⁴ = 256× by
    // 40 steps; what is left is float32 round-off over 160 field evaluations, a few 1e-6 on values ≈ −5.
    // Tolerance 1e-4 nats.
    expect(maxError(40)).toBeLessThan(1e-4);
  });

  it('converges as the step count grows', () => {
    const coarse = maxError(5);
    const fine = maxError(10);
    expect(coarse).toBeGreaterThan(1e-4); // 5 steps do err (≈ 1e-3 nats)…
    // …and RK4 divides the error by ≈ 2⁴ = 16 when the steps double (observed ≈ 25 at these coarse
    // steps); requiring 8× leaves room for the pre-asymptotic regime.
    expect(fine).toBeLessThan(coarse / 8);
  });

  it('Rademacher Hutchinson is exact when the Jacobian is diagonal', () => {
    // εᵀ diag(c) ε = Σ c_i ε_i² = Σ c_i for ε_i = ±1: zero variance, so estimate = exact trace.
    const x = tf.tensor2d(points.slice(0, 8));
    const exactResult = logLikelihood(field, x, { steps: 20 });
    const hutch = logLikelihood(field, x, { steps: 20, divergence: 'hutchinson', probes: 4, seed: 3 });
    x.dispose();
    for (let i = 0; i < 8; i++) {
      expect(hutch.logLikelihood[i]).toBeCloseTo(exactResult.logLikelihood[i], 4);
      expect(hutch.standardError![i]).toBeLessThan(1e-4);
    }
  });
});

describe('Hutchinson estimator in d = 8', () => {
  it('agrees with the exact divergence within its standard errors', () => {
    // An untrained MLP has a dense, non-symmetric Jacobian, so the probes have real variance. The
    // trajectory x(t) does not depend on the probes, so both runs integrate the same matrix ∫J dt and
    // each probe's estimate is unbiased for the exact value: (hutch − exact)/SE ≈ N(0, 1) per sample.
    const mlp = MlpVelocityField.create({ dimension: 8, hidden: 32, layers: 2 }, 7);
    const n = 16;
    const x = tf.tensor2d(normalArray(createRng(11), n * 8), [n, 8]);
    const exactResult = logLikelihood(mlp, x, { steps: 8, divergence: 'exact' });
    const hutch = logLikelihood(mlp, x, { steps: 8, divergence: 'hutchinson', probes: 64, seed: 5 });
    x.dispose();
    mlp.dispose();

    const se = hutch.standardError!;
    let sumDiff = 0;
    let sumVariance = 0;
    for (let i = 0; i < n; i++) {
      const diff = hutch.logLikelihood[i] - exactResult.logLikelihood[i];
      expect(se[i]).toBeGreaterThan(0);
      // Per sample at 4 SE: P(|Z| > 4) ≈ 6e-5, so 16 samples all pass with probability > 0.999.
      expect(Math.abs(diff)).toBeLessThan(4 * se[i]);
      sumDiff += diff;
      sumVariance += se[i] ** 2;
    }
    // The average over samples within 3 of its own standard errors (independent probes per sample).
    expect(Math.abs(sumDiff / n)).toBeLessThan((3 * Math.sqrt(sumVariance)) / n);
    // Latents coincide: the probes do not change the trajectory.
    expect(Math.max(...hutch.latent.map((v, i) => Math.abs(v - exactResult.latent[i])))).toBeLessThan(1e-5);
  });
});

describe('score from velocity', () => {
  it('matches the analytic score of the Gaussian marginal at intermediate t', () => {
    const points = targetPoints(10, 4).map((p) => p.map((v) => 0.8 * v));
    const x = tf.tensor2d(points);
    for (const t of [0.1, 0.5, 0.9]) {
      const score = scoreFromVelocity(field, x, t);
      const values = score.dataSync();
      score.dispose();
      points.forEach((p, row) => {
        const expected = field.score(p, t);
        expected.forEach((e, j) => {
          // float32 velocity (relative ~1e-7 of |x| ≲ 5) divided by (1 − t) ≥ 0.1: well within 1e-4.
          expect(Math.abs(values[row * 3 + j] - e)).toBeLessThan(1e-4 * Math.max(1, Math.abs(e)));
        });
      });
    }
    x.dispose();
    expect(() => scoreFromVelocity(field, tf.zeros<tf.Rank.R2>([1, 3]), 1)).toThrow(/\[0, 1\)/);
  });
});
