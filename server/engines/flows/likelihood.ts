/**
 * Log-likelihood of a flow by the instantaneous change of variables (DESIGN.md §1 "Log-likelihood"):
 *
 *     log p1(x1) = log N(x0; 0, I) − ∫₀¹ div v(x_t, t) dt,
 *
 * integrating the augmented system d/dt (x, ℓ) = (v(x, t), div v(x, t)) backwards from (x1, 0) at t = 1
 * to (x0, ℓ0) at t = 0, so that ℓ0 = −∫₀¹ div v dt and log p1(x1) = log N(x0; 0, I) + ℓ0.
 *
 * The divergence is a trace of the Jacobian, computed through "probes" ε as quadratic forms εᵀ(∂v/∂x)ε,
 * each one backprop: with the d basis vectors their sum is the exact trace (small d); with random
 * Rademacher or Gaussian ε each one is an unbiased Hutchinson estimate (large d). As in FFJORD, a probe is
 * drawn once per sample and held fixed along the trajectory, so each probe gives one unbiased estimate of
 * the whole log-likelihood and their spread gives a standard error.
 */
import { createRng, type Rng } from '../random';
import { tf } from '../tensor';
import { integrateSystem, type OdeMethod } from './ode';
import type { VelocityField } from './velocityField';

export type DivergenceMethod = 'exact' | 'hutchinson';
export type ProbeDistribution = 'rademacher' | 'gaussian';

export interface LogLikelihoodOptions {
  /** ODE steps from t = 1 to t = 0 (default 50). */
  steps?: number;
  method?: OdeMethod;
  divergence?: DivergenceMethod;
  /** Hutchinson probes per sample (default 16); ignored for exact divergence (which uses d). */
  probes?: number;
  probeDistribution?: ProbeDistribution;
  /** Seeds the Hutchinson probes. */
  seed?: number;
  /** Samples per integration batch, bounding memory (probes × chunk rows go through the field at once). */
  chunkSize?: number;
}

export interface LogLikelihoodResult {
  /** log p1(x) per sample (natural log). */
  logLikelihood: Float32Array;
  /** Hutchinson only: standard error of each estimate over its probes (NaN with a single probe). */
  standardError?: Float32Array;
  /** The latent x0 each sample maps to, n×d row-major. */
  latent: Float32Array;
}

/**
 * Probes for the exact trace: block i (rows i·n … i·n + n − 1) is the basis vector e_i on every row,
 * so Σ_i e_iᵀ J e_i = tr J. Shape [d·n, d].
 */
export function basisProbes(rows: number, dimension: number): tf.Tensor2D {
  return tf.tidy(() =>
    tf
      .eye(dimension)
      .reshape([dimension, 1, dimension])
      .tile([1, rows, 1])
      .reshape([dimension * rows, dimension]),
  );
}

/** Hutchinson probes, independent per row and per probe: E[εεᵀ] = I for both distributions. Shape [K·n, d]. */
export function randomProbes(
  rows: number,
  dimension: number,
  probes: number,
  distribution: ProbeDistribution,
  rng: Rng,
): tf.Tensor2D {
  const values = new Float32Array(probes * rows * dimension);
  for (let i = 0; i < values.length; i++) {
    values[i] = distribution === 'rademacher' ? (rng.uniform() < 0.5 ? -1 : 1) : rng.normal();
  }
  return tf.tensor2d(values, [probes * rows, dimension]);
}

/**
 * v(x, t) and the quadratic forms q_k = ε_kᵀ (∂v/∂x) ε_k for every row, from one forward and one backward
 * pass over x tiled K times. With f(X, P) = Σ v(X) ⊙ P: ∂f/∂X row-wise is ε_kᵀ J (the samples are
 * independent rows, so cross-row terms vanish), and ∂f/∂P = v(X), which returns the velocity for free.
 *
 * @returns velocity [n, d] and quadratic forms [n, K].
 */
export function velocityAndJacobianQuadratics(
  field: VelocityField,
  x: tf.Tensor2D,
  t: number,
  probes: tf.Tensor2D,
): { velocity: tf.Tensor2D; quadratic: tf.Tensor2D } {
  const [rows, dimension] = x.shape;
  const count = probes.shape[0] / rows;
  if (!Number.isInteger(count) || probes.shape[1] !== dimension) {
    throw new Error(
      `probes of shape [${probes.shape.join(', ')}] do not fit x of shape [${x.shape.join(', ')}]`,
    );
  }
  return tf.tidy(() => {
    const tiled = tf.tile<tf.Tensor2D>(x, [count, 1]);
    const [vectorJacobian, tiledVelocity] = tf.grads((xs: tf.Tensor, ps: tf.Tensor) =>
      tf.sum(tf.mul(field.predict(xs as tf.Tensor2D, t), ps)),
    )([tiled, probes]);
    const quadratic = tf
      .sum(tf.mul(vectorJacobian, probes), 1)
      .reshape([count, rows])
      .transpose<tf.Tensor2D>();
    const velocity = tf.slice(tiledVelocity, [0, 0], [rows, dimension]) as tf.Tensor2D;
    return { velocity, quadratic };
  });
}

/** div v(x, t) per row, exact (d backprops' worth of work) or a Hutchinson estimate averaged over probes. */
export function divergence(
  field: VelocityField,
  x: tf.Tensor2D,
  t: number,
  options: {
    method?: DivergenceMethod;
    probes?: number;
    probeDistribution?: ProbeDistribution;
    seed?: number;
  } = {},
): tf.Tensor1D {
  const { method = 'exact', probes = 16, probeDistribution = 'rademacher', seed = 0 } = options;
  return tf.tidy(() => {
    const [rows, dimension] = x.shape;
    const probeMatrix =
      method === 'exact'
        ? basisProbes(rows, dimension)
        : randomProbes(rows, dimension, probes, probeDistribution, createRng(seed));
    const { quadratic } = velocityAndJacobianQuadratics(field, x, t, probeMatrix);
    return method === 'exact' ? tf.sum(quadratic, 1) : tf.mean(quadratic, 1);
  });
}

/** log N(z; 0, I) = −½‖z‖² − (d/2)·log 2π, in double precision. */
export function standardNormalLogDensity(z: ArrayLike<number>, dimension: number, row: number): number {
  let squaredNorm = 0;
  for (let j = 0; j < dimension; j++) squaredNorm += z[row * dimension + j] ** 2;
  return -0.5 * squaredNorm - 0.5 * dimension * Math.log(2 * Math.PI);
}

/** Per-sample log p1(x) of the flow (see the file comment for the equation and the probe scheme). */
export function logLikelihood(
  field: VelocityField,
  x: tf.Tensor2D,
  options: LogLikelihoodOptions = {},
): LogLikelihoodResult {
  const {
    steps = 50,
    method = 'rk4',
    divergence: divergenceMethod = 'exact',
    probes = 16,
    probeDistribution = 'rademacher',
    seed = 0,
  } = options;
  const [rows, dimension] = x.shape;
  if (dimension !== field.dimension)
    throw new Error(`x has ${dimension} columns, the field ${field.dimension}`);
  if (divergenceMethod === 'hutchinson' && (!Number.isInteger(probes) || probes < 1)) {
    throw new Error(`Hutchinson needs a positive integer number of probes, got ${probes}`);
  }
  const chunkSize = Math.max(1, Math.min(options.chunkSize ?? rows, rows));
  const rng = createRng(seed);
  const result: LogLikelihoodResult = {
    logLikelihood: new Float32Array(rows),
    latent: new Float32Array(rows * dimension),
    ...(divergenceMethod === 'hutchinson' ? { standardError: new Float32Array(rows) } : {}),
  };

  for (let start = 0; start < rows; start += chunkSize) {
    const count = Math.min(chunkSize, rows - start);
    const { latent, integrals, probeCount } = integrateChunk(start, count);
    result.latent.set(latent, start * dimension);
    for (let i = 0; i < count; i++) {
      const logBase = standardNormalLogDensity(latent, dimension, i);
      if (divergenceMethod === 'exact') {
        // ℓ0 = Σ_i ∫₁⁰ e_iᵀ J e_i dt = −∫₀¹ div v dt.
        let total = 0;
        for (let k = 0; k < probeCount; k++) total += integrals[i * probeCount + k];
        result.logLikelihood[start + i] = logBase + total;
      } else {
        const { mean, standardError } = meanAndStandardError(integrals, i * probeCount, probeCount);
        result.logLikelihood[start + i] = logBase + mean;
        result.standardError![start + i] = standardError;
      }
    }
  }
  return result;

  function integrateChunk(start: number, count: number) {
    const [latent, integral] = tf.tidy(() => {
      const chunk = tf.slice(x, [start, 0], [count, dimension]);
      const probeMatrix =
        divergenceMethod === 'exact'
          ? basisProbes(count, dimension)
          : randomProbes(count, dimension, probes, probeDistribution, rng);
      const probeCount = probeMatrix.shape[0] / count;
      const [x0, traceIntegral] = integrateSystem(
        ([xs], t) => {
          const { velocity, quadratic } = velocityAndJacobianQuadratics(
            field,
            xs as tf.Tensor2D,
            t,
            probeMatrix,
          );
          return [velocity, quadratic];
        },
        [chunk, tf.zeros([count, probeCount])],
        { t0: 1, t1: 0, steps, method },
      );
      return [x0, traceIntegral];
    });
    const probeCount = integral.shape[1]!;
    const out = { latent: latent.dataSync(), integrals: integral.dataSync(), probeCount };
    tf.dispose([latent, integral]);
    return out;
  }
}

/** Mean and standard error of the mean of values[offset … offset + count − 1]. */
function meanAndStandardError(values: ArrayLike<number>, offset: number, count: number) {
  let mean = 0;
  for (let k = 0; k < count; k++) mean += values[offset + k];
  mean /= count;
  if (count < 2) return { mean, standardError: Number.NaN };
  let sumSquares = 0;
  for (let k = 0; k < count; k++) sumSquares += (values[offset + k] - mean) ** 2;
  return { mean, standardError: Math.sqrt(sumSquares / (count - 1) / count) };
}
