/**
 * Sampling predicted cells from LCD (DESIGN.md §5 "sampling"): annealed Langevin dynamics, i.e.
 * Euler–Maruyama of ds = f_θ(s, σ; e_S) dt + √2 dW at each noise level from σ_max down to σ_min, started
 * from N(0, I):  x ← x + η f + √(2η) ξ.  The step at level σ is η = stepScale·σ² (Song & Ermon 2019's
 * α_i ∝ σ_i²): the blurred density's curvature is at most 1/σ², so η·curvature ≤ stepScale keeps every
 * level stable with the same relative accuracy. A final Tweedie step x ← x + σ_min²·f(x, σ_min) removes the
 * last level's noise. Cells come back in gene units (the model's standardisation undone).
 */
import { createRng } from '../random';
import { randomNormal, tf } from '../tensor';
import type { LcdModel, PerturbationSet } from './model';

export interface SampleLcdOptions {
  /** Langevin steps per noise level (default 20). */
  stepsPerLevel?: number;
  /** η = stepScale·σ² (default 0.1). */
  stepScale?: number;
  /** Apply the final Tweedie denoising step (default true). */
  denoise?: boolean;
  seed: number;
}

/**
 * `cellsPerSet` predicted cells for each perturbation set, row-major [cellsPerSet, d] in gene units, one
 * array per set. All sets run in one batch.
 */
export function sampleLcd(
  model: LcdModel,
  sets: readonly PerturbationSet[],
  cellsPerSet: number,
  options: SampleLcdOptions,
): Float32Array[] {
  if (!Number.isInteger(cellsPerSet) || cellsPerSet < 1)
    throw new Error('cellsPerSet must be a positive integer');
  const stepsPerLevel = options.stepsPerLevel ?? 20;
  const stepScale = options.stepScale ?? 0.1;
  const rng = createRng(options.seed);
  const d = model.dimension;
  const rows = sets.length * cellsPerSet;
  const setWeights = model.conditionWeights(sets);
  const p = model.config.perturbations.length;
  const weights = new Float32Array(rows * p);
  for (let s = 0; s < sets.length; s++) {
    const row = setWeights.subarray(s * p, (s + 1) * p);
    for (let c = 0; c < cellsPerSet; c++) weights.set(row, (s * cellsPerSet + c) * p);
  }

  const latents = tf.tidy(() => {
    const embedding = model.embed(tf.tensor2d(weights, [rows, p]));
    let x: tf.Tensor2D = randomNormal([rows, d], 0, 1, 'float32', rng.nextSeed());
    model.levels.forEach((sigma, level) => {
      const noise = model.noiseRowsAt(level, rows);
      const eta = stepScale * sigma * sigma;
      for (let step = 0; step < stepsPerLevel; step++) {
        const previous = x;
        x = tf.tidy(() => {
          const drift = model.drift(previous, noise, embedding);
          const xi = randomNormal<tf.Rank.R2>([rows, d], 0, 1, 'float32', rng.nextSeed());
          return tf.add(tf.add(previous, tf.mul(eta, drift)), tf.mul(Math.sqrt(2 * eta), xi));
        });
        previous.dispose();
      }
      tf.dispose(Object.values(noise));
    });
    if (options.denoise ?? true) {
      const last = model.levels.length - 1;
      const sigma = model.levels[last];
      const noise = model.noiseRowsAt(last, rows);
      x = tf.add(x, tf.mul(sigma * sigma, model.drift(x, noise, embedding)));
    }
    return x;
  });
  const values = latents.dataSync();
  latents.dispose();
  const cells = model.unstandardise(values);
  return sets.map((_, s) => cells.slice(s * cellsPerSet * d, (s + 1) * cellsPerSet * d));
}
