/**
 * CLIPR's inputs from a trained LCD model (DESIGN.md §5 "CLIPR"): for control and each single
 * perturbation k, the noise-free fixed point x*_k and F0_k = f_θ(0; e_k) at the smallest noise level.
 *
 * x*_k: probability-flow integration from 0, x ← x + ½(σ_i² − σ_{i+1}²)·f_θ(x, σ_i) down the trained noise
 * levels (Euler on dx = −½ d(σ²)·∇log p_σ, staying on the levels the network was trained at), then the
 * noise-free flow followed to rest at σ_min. That last stage runs the preconditioned flow
 * ẋ = (Σ̂ + σ²I)·f_θ(x, σ_min) (model.covarianceTimes; same fixed points, since the preconditioner is
 * invertible), with per-condition step sizes that grow by 1.2 (up to 1) after a step that reduced the
 * preconditioned drift's norm and halve (undoing the step) otherwise, because the remaining stiffness is
 * unknown beforehand and differs per condition.
 */
import { tf } from '../tensor';
import type { LcdModel, PerturbationSet } from '../lcd/model';

export interface FixedPointOptions {
  /** Iterations of the noise-free flow at σ_min (default 4000). */
  maxIterations?: number;
  /**
   * Stop when every condition's RMS preconditioned drift √(‖(Σ̂ + σ²I)f‖²/d), ≈ the distance to rest, is
   * below this (standardised units; default 1e-4).
   */
  tolerance?: number;
  /** First step of the noise-free flow (default 0.5 with the Gaussian part, else 0.01). */
  initialStep?: number;
  /** Noise level index whose drift is used (default the last, σ_min, as DESIGN.md §5 says). */
  level?: number;
}

export interface CliprInputs {
  /** x*_k per condition, standardised latents. */
  fixedPoints: number[][];
  /** F0_k = f_θ(0; e_k) at σ_min per condition, standardised latents. */
  driftAtOrigin: number[][];
  /** RMS preconditioned drift at each returned fixed point (≈ its distance to rest). */
  residuals: number[];
  iterations: number;
}

function rowNorms(values: Float32Array, rows: number, d: number): Float64Array {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let j = 0; j < d; j++) sum += values[r * d + j] ** 2;
    out[r] = Math.sqrt(sum / d);
  }
  return out;
}

/** The values of a tensor, which is then released. */
function pull(tensor: tf.Tensor): Float32Array {
  const values = tensor.dataSync() as Float32Array;
  tensor.dispose();
  return values;
}

function toRows(values: Float32Array, rows: number, d: number): number[][] {
  return Array.from({ length: rows }, (_, r) => Array.from(values.subarray(r * d, (r + 1) * d)));
}

export function lcdFixedPoints(
  model: LcdModel,
  sets: readonly PerturbationSet[],
  options: FixedPointOptions = {},
): CliprInputs {
  const maxIterations = options.maxIterations ?? 4000;
  const tolerance = options.tolerance ?? 1e-4;
  const d = model.dimension;
  const k = sets.length;
  const p = model.config.perturbations.length;
  const last = options.level ?? model.levels.length - 1;

  const embedding = tf.tidy(() => model.embed(tf.tensor2d(model.conditionWeights(sets), [k, p])));
  const finest = model.noiseRowsAt(last, k);
  const driftAt = (x: tf.Tensor2D) => model.drift(x, finest, embedding);
  try {
    const driftAtOrigin = pull(tf.tidy(() => driftAt(tf.zeros([k, d]))));

    const flowed = tf.tidy(() => {
      let state: tf.Tensor2D = tf.zeros([k, d]);
      for (let level = 0; level < last; level++) {
        const noise = model.noiseRowsAt(level, k);
        const sigma = model.levels[level];
        const next = model.levels[level + 1];
        state = tf.add(
          state,
          tf.mul(0.5 * (sigma * sigma - next * next), model.drift(state, noise, embedding)),
        );
      }
      return state;
    });

    // The preconditioned drift (Σ̂ + σ²I)·f_θ (model.covarianceTimes): same zeros as f_θ, and for a
    // near-Gaussian drift ≈ x* − x, so a unit step lands near the fixed point and its RMS is ≈ the distance
    // to rest. Identity for a model without the Gaussian part.
    const direction = (points: Float32Array) =>
      pull(tf.tidy(() => model.covarianceTimes(driftAt(tf.tensor2d(points, [k, d])), finest)));
    let values = pull(flowed);
    let drift = direction(values);
    const norms = rowNorms(drift, k, d);
    const steps = new Float64Array(k).fill(options.initialStep ?? (model.gaussian ? 0.5 : 0.01));
    let iterations = 0;
    while (iterations < maxIterations && Math.max(...norms) > tolerance) {
      iterations++;
      const proposal = new Float32Array(k * d);
      for (let r = 0; r < k; r++)
        for (let j = 0; j < d; j++) proposal[r * d + j] = values[r * d + j] + steps[r] * drift[r * d + j];
      const proposalDrift = direction(proposal);
      const proposalNorms = rowNorms(proposalDrift, k, d);
      const nextValues = Float32Array.from(values);
      const nextDrift = Float32Array.from(drift);
      for (let r = 0; r < k; r++) {
        if (proposalNorms[r] < norms[r]) {
          nextValues.set(proposal.subarray(r * d, (r + 1) * d), r * d);
          nextDrift.set(proposalDrift.subarray(r * d, (r + 1) * d), r * d);
          norms[r] = proposalNorms[r];
          steps[r] = Math.min(1, steps[r] * 1.2);
        } else {
          steps[r] *= 0.5;
        }
      }
      values = nextValues;
      drift = nextDrift;
    }
    return {
      fixedPoints: toRows(values, k, d),
      driftAtOrigin: toRows(driftAtOrigin, k, d),
      residuals: Array.from(norms),
      iterations,
    };
  } finally {
    tf.dispose([embedding, ...Object.values(finest)]);
  }
}
