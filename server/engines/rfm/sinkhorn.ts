/**
 * Entropic optimal transport between two point clouds (Sinkhorn, log domain), for the Kantorovich
 * potentials of the interpolation operator (DESIGN.md §2: δW/δp is the potential φ).
 *
 * Cost c(x, y) = ‖x − y‖²/2 (so φ is the first variation of W2²/2), uniform weights, and the dual
 * updates f_j = −ε log Σ_l b_l exp((g_l − c_jl)/ε), g_l = −ε log Σ_j a_j exp((f_j − c_jl)/ε).
 * f is defined up to a constant, which self-normalised weights ignore.
 */
import { tf } from '../tensor';

export interface SinkhornOptions {
  /** Entropic regularisation, relative to the mean cost (default 0.05). */
  relativeEpsilon?: number;
  iterations?: number;
}

/** The potential f at each row of `source` (n×d) for transport to `target` (m×d). */
export function sinkhornPotential(
  source: Float32Array,
  target: Float32Array,
  dimension: number,
  options: SinkhornOptions = {},
): Float64Array {
  const n = source.length / dimension;
  const m = target.length / dimension;
  // Uniform weights only shift f and g by constants, so they are left out of the updates.
  const cost = tf.tidy(() => {
    const x = tf.tensor2d(source, [n, dimension]);
    const y = tf.tensor2d(target, [m, dimension]);
    const squared = tf.add(tf.sum(tf.square(x), 1, true), tf.transpose(tf.sum(tf.square(y), 1, true)));
    return tf.relu(tf.div(tf.sub(squared, tf.mul(2, tf.matMul(x, y, false, true))), 2)); // ‖x − y‖²/2
  });
  const meanCost = tf.tidy(() => tf.mean(cost).dataSync()[0]);
  const epsilon = (options.relativeEpsilon ?? 0.05) * meanCost;
  let f: tf.Tensor = tf.zeros([n, 1]);
  let g: tf.Tensor = tf.zeros([1, m]);
  try {
    for (let i = 0; i < (options.iterations ?? 100); i++) {
      const nextF = tf.tidy(() => tf.mul(-epsilon, tf.logSumExp(tf.div(tf.sub(g, cost), epsilon), 1, true)));
      f.dispose();
      f = nextF;
      const nextG = tf.tidy(() => tf.mul(-epsilon, tf.logSumExp(tf.div(tf.sub(f, cost), epsilon), 0, true)));
      g.dispose();
      g = nextG;
    }
    return Float64Array.from(f.dataSync());
  } finally {
    tf.dispose([cost, f, g]);
  }
}
