/**
 * Reward-weighted flow matching (DESIGN.md §1, fine-tuning for black-box rewards): given samples
 * x_i ~ p_ref and log-weights γ·g(x_i), train a flow toward p ∝ p_ref·exp(γ g) by minimising
 *
 *     Σ_i w_i ‖v_θ(x_t, t) − (x_i − x0)‖²,   w_i = exp(γ g(x_i)) / Σ_j exp(γ g(x_j)).
 *
 * Minibatches are drawn from the pool with probabilities w_i (multinomial resampling), which has the
 * weighted loss as its expectation with less variance than weighting a uniform minibatch. The
 * effective sample size (Σw)²/Σw² says how many pool samples effectively carry the target.
 */
import type { Rng } from '../random';
import { tf } from '../tensor';
import { trainFlowMatching, type TrainableVelocityField, type TrainFlowMatchingOptions } from './train';

export interface SelfNormalizedWeights {
  /** w_i, summing to 1. */
  weights: Float64Array;
  /** Effective sample size (Σw)² / Σw², between 1 and n. */
  effectiveSampleSize: number;
}

/** Self-normalised importance weights from log-weights, computed stably (max subtracted first). */
export function selfNormalizedWeights(logWeights: ArrayLike<number>): SelfNormalizedWeights {
  const n = logWeights.length;
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (Number.isFinite(logWeights[i])) max = Math.max(max, logWeights[i]);
  if (max === -Infinity) throw new Error('every log-weight is -∞ or NaN: nothing to train on');
  const weights = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    weights[i] = Number.isFinite(logWeights[i]) ? Math.exp(logWeights[i] - max) : 0;
    sum += weights[i];
  }
  let sumSquares = 0;
  for (let i = 0; i < n; i++) {
    weights[i] /= sum;
    sumSquares += weights[i] * weights[i];
  }
  return { weights, effectiveSampleSize: 1 / sumSquares };
}

/** Draws minibatches of pool rows with probabilities `weights` (inverse CDF by binary search). */
export function weightedRowSampler(
  pool: Float32Array,
  dimension: number,
  weights: Float64Array,
): (batchSize: number, rng: Rng) => tf.Tensor2D {
  const cumulative = new Float64Array(weights.length);
  let running = 0;
  weights.forEach((w, i) => (cumulative[i] = running += w));
  return (batchSize, rng) => {
    const batch = new Float32Array(batchSize * dimension);
    for (let b = 0; b < batchSize; b++) {
      const u = rng.uniform() * running;
      let lo = 0;
      let hi = cumulative.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cumulative[mid] > u) hi = mid;
        else lo = mid + 1;
      }
      batch.set(pool.subarray(lo * dimension, (lo + 1) * dimension), b * dimension);
    }
    return tf.tensor2d(batch, [batchSize, dimension]);
  };
}

export interface RewardWeightedOptions extends Omit<TrainFlowMatchingOptions, 'sampleData' | 'field'> {
  /** The flow to fine-tune (usually initialised from the reference); trained in place. */
  field: TrainableVelocityField;
  /** Samples of the reference flow, n×d row-major. */
  samples: Float32Array;
  /** γ·g(x_i) for each sample. */
  logWeights: ArrayLike<number>;
}

export async function rewardWeightedFlowMatching(options: RewardWeightedOptions) {
  const { samples, logWeights, field, ...training } = options;
  const dimension = field.dimension;
  if (samples.length !== logWeights.length * dimension) {
    throw new Error(`${samples.length / dimension} samples but ${logWeights.length} log-weights`);
  }
  const { weights, effectiveSampleSize } = selfNormalizedWeights(logWeights);
  const result = await trainFlowMatching({
    ...training,
    field,
    sampleData: weightedRowSampler(samples, dimension, weights),
  });
  return { ...result, effectiveSampleSize, effectiveSampleFraction: effectiveSampleSize / logWeights.length };
}
