/**
 * Denoising score matching for LCD (DESIGN.md §5 "training"): for a clean latent x, a noise level σ from
 * the geometric schedule and ε ~ N(0, I), x̃ = x + σε and
 *
 *     loss = σ² · ½ · mean (f_θ(x̃, σ; e_S) + (x̃ − x)/σ²)².
 *
 * With x̃ − x = σε this is ½·mean(σf_θ(x̃) + ε)², the same number computed from σf_θ (model.scaledDrift)
 * without dividing by σ² (which at σ = 0.01 would amplify float32 rounding 10⁴-fold).
 */
import { tf } from '../tensor';
import type { LcdModel } from './model';

export interface DenoisingBatch {
  /** Clean standardised latents [n, d]. */
  clean: tf.Tensor2D;
  /** e_S per row [n, m] (from `model.embed`, inside the differentiated function so E gets gradients). */
  conditionWeights: tf.Tensor2D;
  /** One noise-level index per row [n] (int32). */
  levelIndices: tf.Tensor1D;
  /** ε ~ N(0, I) [n, d]. */
  noise: tf.Tensor2D;
}

/** The scalar DSM loss of DESIGN.md §5 for one batch, differentiable in the model's variables. */
export function denoisingScoreMatchingLoss(model: LcdModel, batch: DenoisingBatch): tf.Scalar {
  return tf.tidy(() => {
    const rows = model.noiseRows(batch.levelIndices);
    const noisy = tf.add<tf.Tensor2D>(batch.clean, tf.mul(rows.sigma, batch.noise));
    // σ·f_θ(x̃) + ε: the residual whose square is σ²(f_θ + (x̃ − x)/σ²)², because x̃ − x = σε.
    const residual = tf.add(model.scaledDrift(noisy, rows, model.embed(batch.conditionWeights)), batch.noise);
    return tf.mul(0.5, tf.mean(tf.square(residual)));
  });
}
