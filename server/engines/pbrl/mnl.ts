/**
 * The K-wise multinomial-logit preference model of DESIGN.md §6:
 *   P(i | φ_1..φ_K) = exp(θᵀφ_i) / Σ_j exp(θᵀφ_j)        (K = 2 is Bradley–Terry)
 * and its Fisher information. A query's options are a Float64Array of K·d numbers, option i at
 * offset i·d; K is options.length / d.
 */
import { addOuterProduct, dot } from './linalg';

export function optionCount(options: Float64Array, d: number): number {
  const k = options.length / d;
  if (!Number.isInteger(k) || k < 1) throw new Error(`options hold ${options.length} numbers, not K·${d}`);
  return k;
}

/** Utilities θᵀφ_i / temperature of the K options (the exponents of §6's model). */
export function optionUtilities(theta: ArrayLike<number>, options: Float64Array, d: number, temperature = 1) {
  const k = optionCount(options, d);
  return Float64Array.from({ length: k }, (_, i) => dot(theta, options, d, 0, i * d) / temperature);
}

/** §6 model: softmax of the utilities, computed stably (the largest utility subtracted first). */
export function mnlChoiceProbabilities(
  theta: ArrayLike<number>,
  options: Float64Array,
  d: number,
  temperature = 1,
): Float64Array {
  const u = optionUtilities(theta, options, d, temperature);
  const max = Math.max(...u);
  let total = 0;
  for (let i = 0; i < u.length; i++) {
    u[i] = Math.exp(u[i] - max);
    total += u[i];
  }
  for (let i = 0; i < u.length; i++) u[i] /= total;
  return u;
}

/** log P(choice | options) under §6's model. */
export function mnlLogLikelihood(theta: ArrayLike<number>, options: Float64Array, d: number, choice: number) {
  const u = optionUtilities(theta, options, d);
  const max = Math.max(...u);
  let total = 0;
  for (const value of u) total += Math.exp(value - max);
  return u[choice] - max - Math.log(total);
}

/**
 * Fisher information of one K-wise answer about θ under §6's model:
 * Σ_i p_i φ_iφ_iᵀ − (Σ_i p_i φ_i)(Σ_i p_i φ_i)ᵀ, the
 * covariance of the chosen option's features under p = P(· | φ_1..φ_K). It is also the Hessian of
 * −log P(y | φ_1..φ_K), whatever y is (the MLE's Newton step uses it).
 */
export function mnlFisherInformation(
  theta: ArrayLike<number>,
  options: Float64Array,
  d: number,
): Float64Array {
  return weightedFeatureCovariance(mnlChoiceProbabilities(theta, options, d), options, d);
}

/**
 * θ-agnostic Fisher information of a query with fixed options (§6 with every d_q a point mass):
 *   I = (1/K) Σ_q φ_qφ_qᵀ − φ̄φ̄ᵀ,  φ̄ = (1/K) Σ_q φ_q,
 * the MNL Fisher at θ = 0, where every option is chosen with probability 1/K.
 */
export function queryFisherInformation(options: Float64Array, d: number): Float64Array {
  const k = optionCount(options, d);
  return weightedFeatureCovariance(new Float64Array(k).fill(1 / k), options, d);
}

/** Σ_i w_i φ_iφ_iᵀ − m mᵀ with m = Σ_i w_i φ_i (weights summing to 1). */
function weightedFeatureCovariance(weights: Float64Array, options: Float64Array, d: number): Float64Array {
  const out = new Float64Array(d * d);
  const mean = new Float64Array(d);
  weights.forEach((w, i) => {
    addOuterProduct(out, d, w, options, options, i * d, i * d);
    for (let j = 0; j < d; j++) mean[j] += w * options[i * d + j];
  });
  addOuterProduct(out, d, -1, mean);
  return out;
}
