/**
 * Exact RFM targets on a 2-D grid (DESIGN.md §2, "optimum" column) and the total variation between
 * densities on that grid, for checking results and for the studio's "exact vs result" view.
 */
import { logSumExp } from '../flows';
import type { DensityModel } from './density';
import { totalWeight, type RfmProblem } from './operators';

export interface Grid2d {
  x: number[];
  y: number[];
  /** Row-major over (y, x): point r·nx + c is (x[c], y[r]). */
  points: Float32Array;
}

export function grid2d(bounds: { xMin: number; xMax: number; yMin: number; yMax: number }, size: number): Grid2d {
  const axis = (lo: number, hi: number) => Array.from({ length: size }, (_, i) => lo + ((i + 0.5) * (hi - lo)) / size);
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
  return Float64Array.from(logValues as ArrayLike<number>, (v) => Math.exp(v - logTotal));
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
  const A = totalWeight(problem.weights);
  const logPriors = problem.priors.map((prior) => prior.logDensity(grid.points));
  const reward = problem.reward?.(grid.points, 2) ?? new Float64Array(grid.points.length / 2);
  const n = reward.length;
  if (problem.operator === 'intersection') {
    const logTarget = new Float64Array(n).map(
      (_, i) => reward[i] / A + problem.weights.reduce((sum, a, k) => sum + (a / A) * logPriors[k][i], 0),
    );
    return normalizeOnGrid(logTarget);
  }
  const mixture = new Float64Array(n).map((_, i) =>
    problem.weights.reduce((sum, a, k) => sum + a * Math.exp(logPriors[k][i]), 0),
  );
  if (reward.every((f) => f === 0)) return normalizeOnGrid(mixture.map(Math.log));
  // Σ_cells mixture/(c − f)·cellMass = 1 on the grid, with the mixture as a density over cells.
  const mixtureMass = normalizeOnGrid(mixture.map(Math.log)).map((m) => m * A);
  const massAt = (c: number) => mixtureMass.reduce((sum, m, i) => sum + m / (c - reward[i]), 0);
  const maxF = Math.max(...reward);
  let lo = maxF + 1e-12;
  let hi = maxF + 1;
  while (massAt(hi) > 1) hi = maxF + (hi - maxF) * 2;
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
