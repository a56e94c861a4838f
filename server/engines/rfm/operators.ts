/**
 * RFM operators through their first variations (DESIGN.md §2, table): mirror descent needs only
 * δG/δp evaluated at samples of the current distribution p_k, from log p_k and the priors' log p_i.
 */
import type { DensityModel } from './density';
import type { Reward } from './rewards';

export type RfmOperator = 'intersection' | 'union';

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

/** δG/δp(p_k) at `points` (samples of p_k) for the problem's operator. */
export function firstVariation(
  problem: RfmProblem,
  current: DensityModel,
  points: Float32Array,
): Float64Array {
  const logCurrent = current.logDensity(points);
  const logPriors = problem.priors.map((prior) => prior.logDensity(points));
  const reward = problem.reward?.(points, current.dimension);
  const variation = problem.operator === 'intersection' ? intersectionFirstVariation : unionFirstVariation;
  return variation(logCurrent, logPriors, problem.weights, reward);
}
