/**
 * Exact RFM targets on a 2-D grid (DESIGN.md §2, "optimum" column) and the total variation between
 * densities on that grid, for checking results and for the studio's "exact vs result" view.
 */
import { logSumExp } from '../flows';
import type { DensityModel } from './density';
import { totalWeight, type RfmOperator, type RfmProblem } from './operators';

export interface Grid2d {
  x: number[];
  y: number[];
  /** Row-major over (y, x): point r·nx + c is (x[c], y[r]). */
  points: Float32Array;
}

export function grid2d(
  bounds: { xMin: number; xMax: number; yMin: number; yMax: number },
  size: number,
): Grid2d {
  const axis = (lo: number, hi: number) =>
    Array.from({ length: size }, (_, i) => lo + ((i + 0.5) * (hi - lo)) / size);
  const x = axis(bounds.xMin, bounds.xMax);
  const y = axis(bounds.yMin, bounds.yMax);
  const points = new Float32Array(size * size * 2);
  y.forEach((yv, r) =>
    x.forEach((xv, c) => {
      points[2 * (r * size + c)] = xv;
      points[2 * (r * size + c) + 1] = yv;
    }),
  );
  return { x, y, points };
}

/** Cell probabilities from log-densities at cell centres (equal cells: normalise over the grid). */
export function normalizeOnGrid(logValues: ArrayLike<number>): Float64Array {
  const logTotal = logSumExp(logValues);
  return Float64Array.from(logValues, (v) => Math.exp(v - logTotal));
}

/** TV(p, q) = ½ Σ |p − q| over cells, in [0, 1]. */
export function totalVariation(p: Float64Array, q: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < p.length; i++) sum += Math.abs(p[i] - q[i]);
  return sum / 2;
}

/**
 * The optimum of the problem as cell probabilities on the grid:
 * intersection p* ∝ Π p_i^{α_i/A}·e^{f/A}; union with f ≡ 0 the mixture Σ α_i p_i / A, otherwise
 * Σ α_i p_i / (c − f) with c > max f fixed by normalisation (found by bisection).
 */
export function exactTargetOnGrid(problem: RfmProblem, grid: Grid2d): Float64Array {
  const logPriors = problem.priors.map((prior) => prior.logDensity(grid.points));
  const reward = problem.reward?.(grid.points, 2);
  return exactTargetFromGridLogs(problem.operator, logPriors, problem.weights, reward);
}

/** The same optimum from the priors' log-densities (or log cell probabilities) at the grid cells. */
export function exactTargetFromGridLogs(
  operator: RfmOperator,
  logPriors: Float64Array[],
  weights: number[],
  rewardOnGrid?: Float64Array,
): Float64Array {
  const A = totalWeight(weights);
  const n = logPriors[0].length;
  const reward = rewardOnGrid ?? new Float64Array(n);
  if (operator === 'interpolation') {
    throw new Error('the interpolation (Wasserstein barycenter) target has no closed form on a grid');
  }
  if (operator === 'intersection') {
    const logTarget = new Float64Array(n).map(
      (_, i) => reward[i] / A + weights.reduce((sum, a, k) => sum + (a / A) * logPriors[k][i], 0),
    );
    return normalizeOnGrid(logTarget);
  }
  // Priors as cell probabilities, so the mixture below is a distribution over cells.
  const cellPriors = logPriors.map((logP) => normalizeOnGrid(logP));
  const mixtureMass = new Float64Array(n).map((_, i) =>
    weights.reduce((sum, a, k) => sum + a * cellPriors[k][i], 0),
  );
  if (reward.every((f) => f === 0)) return mixtureMass.map((m) => m / A);
  // Σ_cells Σ α_i p_i / (c − f) = 1, decreasing in c > max f.
  const massAt = (c: number) => mixtureMass.reduce((sum, m, i) => sum + m / (c - reward[i]), 0);
  const maxF = Math.max(...reward);
  let lo = maxF;
  let hi = maxF + A + 1; // massAt(max f + A) ≤ 1, so the root lies below
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (massAt(mid) > 1) lo = mid;
    else hi = mid;
  }
  const c = (lo + hi) / 2;
  const target = mixtureMass.map((m, i) => m / (c - reward[i]));
  const total = target.reduce((a, b) => a + b, 0);
  return target.map((v) => v / total);
}

/** A density's cell probabilities on the grid. */
export function densityOnGrid(density: DensityModel, grid: Grid2d): Float64Array {
  return normalizeOnGrid(density.logDensity(grid.points));
}
