/**
 * Baselines for causal recovery that CLIPR is reported next to (DESIGN.md §5 "Baselines"):
 *
 * - the negative precision matrix of control cells, −Σ̂⁻¹: for a reversible linear SDE with isotropic noise
 *   Σ = −σ²/2·A⁻¹, so −Σ̂⁻¹ ∝ A; for a non-reversible one it is only (A + Aᵀ)-like;
 * - total effects from mean shifts normalised by the target's own shift, (μ_k − μ_ctrl)_j/(μ_k − μ_ctrl)_k:
 *   direct and indirect effects of gene k on gene j together.
 *
 * Both are returned in CLIPR's orientation: M[i][j] is the (estimated) effect of gene j on gene i.
 */
import { CholeskyDecomposition, Matrix, inverse } from 'ml-matrix';

/** Per-gene means of row-major cells [n, d]. */
export function columnMeans(cells: ArrayLike<number>, d: number): number[] {
  const n = cells.length / d;
  const means = new Array<number>(d).fill(0);
  for (let i = 0; i < cells.length; i++) means[i % d] += cells[i] / n;
  return means;
}

/** Unbiased sample covariance of row-major cells [n, d]. */
export function sampleCovariance(cells: ArrayLike<number>, d: number): Matrix {
  const n = cells.length / d;
  if (!Number.isInteger(n) || n < 2) throw new Error('a covariance needs at least two cells');
  const means = columnMeans(cells, d);
  const covariance = Matrix.zeros(d, d);
  const centred = new Float64Array(d);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < d; j++) centred[j] = cells[r * d + j] - means[j];
    for (let i = 0; i < d; i++) {
      const ci = centred[i] / (n - 1);
      for (let j = i; j < d; j++) covariance.set(i, j, covariance.get(i, j) + ci * centred[j]);
    }
  }
  for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) covariance.set(i, j, covariance.get(j, i));
  return covariance;
}

/**
 * −(Σ̂ + ρI)⁻¹ of the control cells. ρ = 0 unless Σ̂ is singular (fewer cells than genes, constant genes),
 * then ρ = 1e-3 × the mean variance, the smallest ridge that makes it invertible without reshaping it.
 */
export function negativePrecisionBaseline(
  controlCells: ArrayLike<number>,
  d: number,
): { matrix: number[][]; ridge: number } {
  const covariance = sampleCovariance(controlCells, d);
  let ridge = 0;
  if (!new CholeskyDecomposition(covariance).isPositiveDefinite()) {
    ridge = (1e-3 * covariance.trace()) / d || 1e-6;
    for (let i = 0; i < d; i++) covariance.set(i, i, covariance.get(i, i) + ridge);
  }
  return { matrix: inverse(covariance).mul(-1).to2DArray(), ridge };
}

/**
 * Total effects (μ_k − μ_ctrl)_j/(μ_k − μ_ctrl)_k, as M[j][k] (effect of gene k on gene j), from the
 * control mean and the mean of each single perturbation `singles[k]` (gene index → mean). Columns of
 * genes never perturbed are zero; the diagonal is 1 by construction.
 */
export function totalEffectsBaseline(
  controlMean: readonly number[],
  singles: ReadonlyMap<number, readonly number[]>,
): number[][] {
  const d = controlMean.length;
  const matrix = Array.from({ length: d }, () => new Array<number>(d).fill(0));
  for (const [k, mean] of singles) {
    const own = mean[k] - controlMean[k];
    if (own === 0) continue;
    for (let j = 0; j < d; j++) matrix[j][k] = (mean[j] - controlMean[j]) / own;
  }
  return matrix;
}
