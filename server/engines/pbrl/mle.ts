/**
 * Estimation (DESIGN.md §6): the L2-regularised maximum-likelihood estimate
 *   θ̂ = argmin_θ L(θ),  L(θ) = −Σ_t log softmax(Φ_t θ)_{y_t} + λ‖θ‖²,
 * by Newton's method, with the inverse Fisher information as its uncertainty: the Hessian of L at θ̂,
 *   H = Σ_t [Σ_i p_ti φ_tiφ_tiᵀ − p̄_t p̄_tᵀ] + 2λ·Id   (p̄_t = Σ_i p_ti φ_ti),
 * is the observed Fisher information plus the regulariser's curvature, and Cov(θ̂) ≈ H⁻¹.
 */
import {
  addOuterProduct,
  cholesky,
  choleskySolve,
  dot,
  inverseFromLowerInverse,
  inverseLowerTransposed,
} from './linalg';
import { mnlChoiceProbabilities, mnlLogLikelihood, optionCount } from './mnl';

/** One answered query: K options' features (K·d numbers, option i at i·d) and the chosen index. */
export interface PreferenceObservation {
  options: Float64Array;
  choice: number;
}

export interface MleOptions {
  dim: number;
  /** λ > 0 in λ‖θ‖²; it also keeps L strictly convex when the answers are separable. */
  lambda: number;
  /** Starting point (e.g. the previous estimate); zeros by default. */
  initial?: ArrayLike<number>;
  maxIterations?: number;
}

export interface MleResult {
  theta: Float64Array;
  /** H at θ̂ (d × d): observed Fisher information + 2λ·Id. */
  hessian: Float64Array;
  /** H⁻¹, the approximate covariance of θ̂. */
  covariance: Float64Array;
  /** √diag(H⁻¹): per-feature uncertainty of θ̂. */
  standardErrors: Float64Array;
  /** L(θ̂). */
  objective: number;
  iterations: number;
  converged: boolean;
}

/** §6 regularised negative log-likelihood L(θ). */
export function regularizedNegativeLogLikelihood(
  observations: PreferenceObservation[],
  theta: ArrayLike<number>,
  dim: number,
  lambda: number,
): number {
  let sum = lambda * dot(theta, theta);
  for (const { options, choice } of observations) sum -= mnlLogLikelihood(theta, options, dim, choice);
  return sum;
}

/** Gradient and Hessian of §6's L at θ: Σ_t Φ_tᵀ(p_t − e_{y_t}) + 2λθ and H (header). */
export function mleGradientAndHessian(
  observations: PreferenceObservation[],
  theta: ArrayLike<number>,
  d: number,
  lambda: number,
) {
  const gradient = Float64Array.from(theta, (value) => 2 * lambda * value);
  const hessian = new Float64Array(d * d);
  for (let i = 0; i < d; i++) hessian[i * d + i] = 2 * lambda;
  const meanFeature = new Float64Array(d);
  for (const { options, choice } of observations) {
    const p = mnlChoiceProbabilities(theta, options, d);
    meanFeature.fill(0);
    for (let i = 0; i < p.length; i++) {
      addOuterProduct(hessian, d, p[i], options, options, i * d, i * d);
      for (let j = 0; j < d; j++) meanFeature[j] += p[i] * options[i * d + j];
    }
    addOuterProduct(hessian, d, -1, meanFeature);
    for (let j = 0; j < d; j++) gradient[j] += meanFeature[j] - options[choice * d + j];
  }
  return { gradient, hessian };
}

/** §6 estimation by Newton's method with a backtracking (Armijo) line search; L is strictly convex. */
export function newtonMle(observations: PreferenceObservation[], options: MleOptions): MleResult {
  const { dim: d, lambda } = options;
  if (!(lambda > 0)) throw new Error(`lambda must be positive, got ${lambda}`);
  for (const { options: features, choice } of observations) {
    const k = optionCount(features, d);
    if (!(Number.isInteger(choice) && choice >= 0 && choice < k))
      throw new Error(`choice ${choice} out of 0..${k - 1}`);
  }
  const maxIterations = options.maxIterations ?? 50;
  let theta = options.initial ? Float64Array.from(options.initial) : new Float64Array(d);
  let objective = regularizedNegativeLogLikelihood(observations, theta, d, lambda);
  let converged = false;
  let iterations = 0;
  for (; iterations < maxIterations; iterations++) {
    const { gradient, hessian } = mleGradientAndHessian(observations, theta, d, lambda);
    const l = cholesky(hessian, d);
    if (!l) throw new Error('the Hessian lost positive definiteness');
    const step = choleskySolve(l, d, gradient).map((value) => -value);
    // Newton decrement λ_N² = −gᵀΔ: L(θ) − min L ≈ λ_N²/2 near the optimum.
    const decrement = -dot(gradient, step);
    if (decrement / 2 <= 1e-12 * (1 + Math.abs(objective))) {
      converged = true;
      break;
    }
    let t = 1;
    let candidate = theta;
    let candidateObjective = objective;
    for (let halvings = 0; halvings < 60; halvings++, t /= 2) {
      candidate = theta.map((value, j) => value + t * step[j]);
      candidateObjective = regularizedNegativeLogLikelihood(observations, candidate, d, lambda);
      if (candidateObjective <= objective - 1e-4 * t * decrement) break;
    }
    if (!(candidateObjective < objective)) {
      // No representable decrease left: θ is optimal to machine precision.
      converged = true;
      break;
    }
    theta = candidate;
    objective = candidateObjective;
  }
  const { hessian } = mleGradientAndHessian(observations, theta, d, lambda);
  const l = cholesky(hessian, d);
  if (!l) throw new Error('the Hessian at θ̂ is not positive definite');
  const covariance = inverseFromLowerInverse(inverseLowerTransposed(l, d), d);
  const standardErrors = Float64Array.from({ length: d }, (_, j) => Math.sqrt(covariance[j * d + j]));
  return { theta, hessian, covariance, standardErrors, objective, iterations, converged };
}

/**
 * (a − b)ᵀ H (a − b), H the §6 MLE's Hessian (inverse covariance): θ* lies in the (1 − α) confidence
 * ellipsoid of θ̂ when this is ≤ χ²_d(1 − α).
 */
export function ellipsoidDistanceSquared(
  hessian: Float64Array,
  d: number,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
) {
  const diff = Float64Array.from({ length: d }, (_, j) => a[j] - b[j]);
  let sum = 0;
  for (let i = 0; i < d; i++) sum += diff[i] * dot(hessian, diff, d, i * d);
  return sum;
}
