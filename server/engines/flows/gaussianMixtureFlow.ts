/**
 * A flow whose target is a Gaussian mixture, with its velocity field in closed form: exact priors for
 * the 2-D studio and exact checks of everything built on flows (DESIGN.md §1 path, §2 checks).
 *
 * Component k of p1 is N(μ_k, s_k² I) with weight π_k. On the path x_t = (1 − t)·x0 + t·x1, x0 ~ N(0, I),
 * given component k the pair (u = x1 − x0, x_t) is jointly Gaussian per coordinate:
 *
 *     x_t | k ~ N(t·μ_k, σ_k²(t) I),   σ_k²(t) = (1 − t)² + t²·s_k²,
 *     E[u | x_t = x, k] = μ_k + c_k(t)·(x − t·μ_k),   c_k(t) = (t·s_k² − (1 − t)) / σ_k²(t),
 *
 * and the marginal velocity averages these with the posterior responsibilities of the components:
 *
 *     v(x, t) = Σ_k r_k(x, t)·E[u | x, k],   r_k ∝ π_k·N(x; t·μ_k, σ_k²(t) I).
 */
import type { Rng } from '../random';
import { tf } from '../tensor';
import type { VelocityField } from './velocityField';

export interface MixtureComponent {
  weight: number;
  mean: number[];
  /** Isotropic standard deviation s_k. */
  sd: number;
}

export class GaussianMixtureFlow implements VelocityField {
  readonly dimension: number;
  readonly components: MixtureComponent[];

  constructor(components: MixtureComponent[]) {
    if (components.length === 0) throw new Error('a Gaussian mixture needs at least one component');
    const dimension = components[0].mean.length;
    const total = components.reduce((sum, c) => sum + c.weight, 0);
    for (const c of components) {
      if (c.mean.length !== dimension) throw new Error('all component means must have the same dimension');
      if (!(c.sd > 0) || !(c.weight > 0)) throw new Error('component weights and sds must be positive');
    }
    this.dimension = dimension;
    this.components = components.map((c) => ({ ...c, weight: c.weight / total }));
  }

  /** v(x, t) with tf ops, so the exact divergence (autodiff through x) is available to the likelihood. */
  predict(x: tf.Tensor2D, t: tf.Tensor | number): tf.Tensor2D {
    if (typeof t !== 'number') throw new Error('GaussianMixtureFlow.predict takes a numeric t');
    const d = this.dimension;
    return tf.tidy(() => {
      const logits: tf.Tensor2D[] = [];
      const conditional: tf.Tensor2D[] = [];
      for (const { weight, mean, sd } of this.components) {
        const variance = (1 - t) ** 2 + t * t * sd * sd;
        const slope = (t * sd * sd - (1 - t)) / variance;
        const mu = tf.tensor2d(mean, [1, d]);
        const centred = tf.sub(x, tf.mul(t, mu));
        const squared = tf.sum<tf.Tensor2D>(tf.square(centred), 1, true);
        const constant = Math.log(weight) - (d / 2) * Math.log(2 * Math.PI * variance);
        logits.push(tf.sub(constant, tf.div(squared, 2 * variance)));
        conditional.push(tf.add(mu, tf.mul(slope, centred)));
      }
      const responsibilities = tf.softmax(tf.concat(logits, 1)); // [n, K]
      let velocity = tf.zerosLike(x);
      conditional.forEach((expected, k) => {
        const r = tf.slice(responsibilities, [0, k], [-1, 1]);
        velocity = tf.add(velocity, tf.mul(r, expected));
      });
      return velocity;
    });
  }

  /** Exact log p1 per row of `points` (n×d row-major), in double precision. */
  logDensity(points: ArrayLike<number>): Float64Array {
    const d = this.dimension;
    const n = points.length / d;
    const out = new Float64Array(n);
    const terms = new Float64Array(this.components.length);
    for (let i = 0; i < n; i++) {
      this.components.forEach(({ weight, mean, sd }, k) => {
        let squared = 0;
        for (let j = 0; j < d; j++) squared += (points[i * d + j] - mean[j]) ** 2;
        terms[k] = Math.log(weight) - (d / 2) * Math.log(2 * Math.PI * sd * sd) - squared / (2 * sd * sd);
      });
      out[i] = logSumExp(terms);
    }
    return out;
  }

  /** Exact samples of p1 (n×d row-major). */
  sample(n: number, rng: Rng): Float32Array {
    const d = this.dimension;
    const out = new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      let u = rng.uniform();
      let k = 0;
      while (k < this.components.length - 1 && u >= this.components[k].weight)
        u -= this.components[k++].weight;
      const { mean, sd } = this.components[k];
      for (let j = 0; j < d; j++) out[i * d + j] = mean[j] + sd * rng.normal();
    }
    return out;
  }
}

/** log Σ exp(values), stable for large magnitudes. */
export function logSumExp(values: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) max = Math.max(max, values[i]);
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += Math.exp(values[i] - max);
  return max + Math.log(sum);
}
