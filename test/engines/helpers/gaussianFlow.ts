/**
 * A velocity field known in closed form, for exact checks of the flow engines (DESIGN.md §1 path).
 *
 * With x0 ~ N(0, I) and x1 ~ N(μ, diag σ²) independent, x_t = (1 − t)·x0 + t·x1 is Gaussian per
 * coordinate: x_t,i ~ N(t·μ_i, s_i²(t)) with s_i²(t) = t²σ_i² + (1 − t)². The marginal velocity is the
 * regression of u = x1 − x0 on x_t (jointly Gaussian):
 *
 *     v_i(x, t) = E[u_i | x_t,i = x_i] = μ_i + c_i(t)·(x_i − t·μ_i),
 *     c_i(t) = Cov(u_i, x_t,i) / Var(x_t,i) = (t·σ_i² − (1 − t)) / s_i²(t),
 *
 * so div v = Σ_i c_i(t), the score is −(x_i − t·μ_i)/s_i²(t), and p1 = N(μ, diag σ²).
 */
import { tf } from '../../../server/engines/tensor';
import type { VelocityField } from '../../../server/engines/flows';

export class GaussianTargetField implements VelocityField {
  readonly dimension: number;

  constructor(
    readonly mean: number[],
    readonly sd: number[],
  ) {
    if (mean.length !== sd.length) throw new Error('mean and sd must have the same length');
    this.dimension = mean.length;
  }

  /** s_i²(t), the marginal variance per coordinate. */
  variance(t: number): number[] {
    return this.sd.map((s) => t * t * s * s + (1 - t) ** 2);
  }

  /** c_i(t), the slope of the affine velocity. */
  slope(t: number): number[] {
    const variance = this.variance(t);
    return this.sd.map((s, i) => (t * s * s - (1 - t)) / variance[i]);
  }

  /** Uses tf ops (broadcast row vectors), so autodiff through x gives the true Jacobian diag(c(t)). */
  predict(x: tf.Tensor2D, t: tf.Tensor | number): tf.Tensor2D {
    if (typeof t !== 'number') throw new Error('GaussianTargetField takes a numeric t');
    return tf.tidy(() => {
      const mu = tf.tensor2d(this.mean, [1, this.dimension]);
      const c = tf.tensor2d(this.slope(t), [1, this.dimension]);
      return tf.add(mu, tf.mul(c, tf.sub(x, tf.mul(t, mu))));
    });
  }

  /** Exact log p_t(x) of the marginal, in double precision. */
  logDensity(point: number[], t: number): number {
    const variance = this.variance(t);
    return point.reduce(
      (sum, xi, i) =>
        sum - 0.5 * Math.log(2 * Math.PI * variance[i]) - (xi - t * this.mean[i]) ** 2 / (2 * variance[i]),
      0,
    );
  }

  /** Exact ∇ log p_t(x). */
  score(point: number[], t: number): number[] {
    const variance = this.variance(t);
    return point.map((xi, i) => -(xi - t * this.mean[i]) / variance[i]);
  }
}
