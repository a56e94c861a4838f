/**
 * Score from velocity on the linear Gaussian path of DESIGN.md §1 ("Score from velocity"):
 *
 *     ∇ log p_t(x) = (t·v(x, t) − x) / (1 − t).
 *
 * Why: with x_t = t·x1 + (1 − t)·x0 and x0 ~ N(0, I), Tweedie gives ∇ log p_t(x) = −E[x0 | x_t = x]/(1 − t),
 * and v(x, t) = E[x1 − x0 | x_t = x] = (x − E[x0 | x_t = x])/t, so E[x0 | x_t = x] = x − t·v(x, t).
 * The formula is singular at t = 1 (no noise left), where the score of the data is not defined by the path.
 */
import { tf } from '../tensor';
import type { VelocityField } from './velocityField';

/** ∇ log p_t(x) for a batch x [n, d] at one time t ∈ [0, 1). */
export function scoreFromVelocity(field: VelocityField, x: tf.Tensor2D, t: number): tf.Tensor2D {
  if (!(t >= 0 && t < 1)) throw new Error(`scoreFromVelocity: t must lie in [0, 1), got ${t}`);
  return tf.tidy(() => tf.div(tf.sub(tf.mul(t, field.predict(x, t)), x), 1 - t));
}

/** The inverse map, v(x, t) = (x + (1 − t)·∇ log p_t(x)) / t for t ∈ (0, 1] (same derivation). */
export function velocityFromScore(score: tf.Tensor2D, x: tf.Tensor2D, t: number): tf.Tensor2D {
  if (!(t > 0 && t <= 1)) throw new Error(`velocityFromScore: t must lie in (0, 1], got ${t}`);
  return tf.tidy(() => tf.div(tf.add(x, tf.mul(1 - t, score)), t));
}
