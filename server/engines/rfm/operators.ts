/**
 * RFM operators through their first variations (DESIGN.md §2, table): mirror descent needs only
 * δG/δp evaluated at samples of the current distribution p_k, from log p_k and the priors' log p_i.
 */
import type { DensityModel } from './density';
import type { Reward } from './rewards';
import { sinkhornPotential } from './sinkhorn';

export type RfmOperator = 'intersection' | 'union' | 'interpolation';

export interface RfmProblem {
  operator: RfmOperator;
  priors: DensityModel[];
  /** α_i > 0, one per prior. */
  weights: number[];
  /** f; absent means f ≡ 0 (pure merging). */
  reward?: Reward;
}

export function validateProblem(problem: RfmProblem): void {
  if (problem.priors.length === 0) throw new Error('RFM needs at least one prior');
  if (problem.weights.length !== problem.priors.length) throw new Error('one weight α_i per prior');
  if (!problem.weights.every((a) => a > 0)) throw new Error('the weights α_i must be positive');
  const d = problem.priors[0].dimension;
  if (!problem.priors.every((p) => p.dimension === d))
    throw new Error('all priors must have the same dimension');
}

/** A = Σ α_i. */
export function totalWeight(weights: number[]): number {
  return weights.reduce((a, b) => a + b, 0);
}

/** Intersection (AND), D_i = KL(p‖p_i): δG/δp = f − Σ α_i (log p − log p_i). */
export function intersectionFirstVariation(
  logCurrent: Float64Array,
  logPriors: Float64Array[],
  weights: number[],
  reward?: Float64Array,
): Float64Array {
  return logCurrent.map(
    (logP, i) => (reward?.[i] ?? 0) - weights.reduce((sum, a, k) => sum + a * (logP - logPriors[k][i]), 0),
  );
}

/** Union (OR), D_i = KL(p_i‖p): δG/δp = f + Σ α_i p_i / p (ratios from log-densities). */
export function unionFirstVariation(
  logCurrent: Float64Array,
  logPriors: Float64Array[],
  weights: number[],
  reward?: Float64Array,
): Float64Array {
  return logCurrent.map(
    (logP, i) =>
      (reward?.[i] ?? 0) + weights.reduce((sum, a, k) => sum + a * Math.exp(logPriors[k][i] - logP), 0),
  );
}

/**
 * Interpolation, D_i = W2²/2 to each prior: δG/δp = f − Σ α_i φ_i, φ_i the Kantorovich potential of
 * p_k → p_i at the points (entropic OT between the points and fresh samples of p_i).
 */
export function interpolationFirstVariation(
  problem: RfmProblem,
  points: Float32Array,
  dimension: number,
  seed: number,
): Float64Array {
  const n = points.length / dimension;
  const reward = problem.reward?.(points, dimension);
  const variation = new Float64Array(n).map((_, j) => reward?.[j] ?? 0);
  problem.priors.forEach((prior, i) => {
    const potential = sinkhornPotential(points, prior.sample(n, seed + i), dimension);
    for (let j = 0; j < n; j++) variation[j] -= problem.weights[i] * potential[j];
  });
  return variation;
}

/** δG/δp(p_k) at `points` (samples of p_k) for the problem's operator. */
export function firstVariation(
  problem: RfmProblem,
  current: DensityModel,
  points: Float32Array,
  seed = 0,
): Float64Array {
  if (problem.operator === 'interpolation') {
    return interpolationFirstVariation(problem, points, current.dimension, seed);
  }
  // When every prior is the current iterate (reward fine-tuning's first step) the log-densities enter
  // only as differences log p − log p_i = 0, so they need not be computed at all.
  const logCurrent = problem.priors.every((prior) => prior === current)
    ? new Float64Array(points.length / current.dimension)
    : current.logDensity(points);
  // A prior that is the current iterate (p_0 = p_1, as in reward fine-tuning's first step) shares its
  // values: the terms α(log p − log p_i) then cancel exactly instead of up to the estimator's noise
  // (Hutchinson's, in high dimension).
  const logPriors = problem.priors.map((prior) =>
    prior === current ? logCurrent : prior.logDensity(points),
  );
  const reward = problem.reward?.(points, current.dimension);
  const variation = problem.operator === 'intersection' ? intersectionFirstVariation : unionFirstVariation;
  return variation(logCurrent, logPriors, problem.weights, reward);
}
