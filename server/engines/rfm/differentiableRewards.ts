/** Rewards as tf ops (kept apart from rewards.ts, which the API and browser load without TensorFlow). */
import { tf } from '../tensor';
import type { RewardSpec } from './rewards';

/**
 * The same reward as tf ops, for solvers that need ∇f (Adjoint Matching); undefined for rewards
 * without a useful gradient (a region's indicator is flat almost everywhere).
 */
export function makeDifferentiableReward(spec: RewardSpec): ((x: tf.Tensor2D) => tf.Tensor1D) | undefined {
  if (spec.kind === 'region') return undefined;
  if (spec.kind === 'linear') {
    return (x) =>
      tf.tidy(() =>
        tf.add(
          tf.squeeze(tf.matMul(x, tf.tensor2d(spec.weights, [spec.weights.length, 1])), [1]),
          spec.offset,
        ),
      );
  }
  return (x) =>
    tf.tidy(() =>
      tf.mul(
        -spec.strength / 2,
        tf.sum(tf.square(tf.sub(x, tf.tensor2d(spec.center, [1, spec.center.length]))), 1),
      ),
    );
}
