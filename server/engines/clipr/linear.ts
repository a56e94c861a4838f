/**
 * CLIPR's linear algebra (DESIGN.md §5 "CLIPR"): with the fixed points x*_k and the drifts at the origin
 * F0_k = f(0; e_k) stacked as columns X*, F0 (d × K), the regularised least-squares linear drift is
 *
 *     A = −F0 · X*ᵀ (X* X*ᵀ + λI)⁻¹.
 *
 * Why: a linear drift f_k(x) = Ax + b + c_k has f_k(0) = b + c_k and f_k(x*_k) = 0, so A x*_k = −F0_k for
 * every k, i.e. A X* = −F0; the formula is the ridge solution of that system and is exact (λ = 0) when X*
 * has full row rank. A[i][j] is the effect of gene j on gene i's rate; Aᵀ[i][j] the effect of gene i on
 * gene j.
 */
import { Matrix, solve } from 'ml-matrix';

export interface CliprSolveOptions {
  /**
   * λ. Default: 1e-6 × trace(X*X*ᵀ)/d, a relative ridge that only matters when X* is (nearly) rank
   * deficient, e.g. fewer conditions than genes.
   */
  regularization?: number;
}

/**
 * A = −F0·X*ᵀ(X*X*ᵀ + λI)⁻¹ from K conditions given as rows: `fixedPoints[k]` = x*_k and
 * `driftAtOrigin[k]` = F0_k (each of length d). Returns A (d × d) as rows.
 */
export function cliprLinearDrift(
  fixedPoints: readonly (readonly number[])[],
  driftAtOrigin: readonly (readonly number[])[],
  options: CliprSolveOptions = {},
): number[][] {
  if (fixedPoints.length === 0 || fixedPoints.length !== driftAtOrigin.length) {
    throw new Error(
      `CLIPR needs as many drifts as fixed points (got ${fixedPoints.length} and ${driftAtOrigin.length})`,
    );
  }
  const d = fixedPoints[0].length;
  if (fixedPoints.some((row) => row.length !== d) || driftAtOrigin.some((row) => row.length !== d)) {
    throw new Error('CLIPR: every fixed point and drift must have d entries');
  }
  // Columns are conditions: X* and F0 are d × K.
  const xStar = new Matrix(fixedPoints.map((row) => [...row])).transpose();
  const f0 = new Matrix(driftAtOrigin.map((row) => [...row])).transpose();
  const gram = xStar.mmul(xStar.transpose());
  const lambda = options.regularization ?? (1e-6 * gram.trace()) / d;
  if (!(lambda >= 0)) throw new Error(`regularization must be ≥ 0, got ${lambda}`);
  for (let i = 0; i < d; i++) gram.set(i, i, gram.get(i, i) + lambda);
  // Aᵀ = −(X*X*ᵀ + λI)⁻¹ X* F0ᵀ, because the Gram matrix is symmetric.
  const aTransposed = solve(gram, xStar.mmul(f0.transpose()));
  return aTransposed.transpose().mul(-1).to2DArray();
}

/**
 * A learned in standardised coordinates z = (x − m)/s (s per gene, D = diag(s)) back in gene units.
 * `score`: the drift is a score, a gradient, so its Jacobian transforms as D⁻¹·A_z·D⁻¹; for a reversible
 * linear SDE with isotropic noise in gene space the score's Jacobian is −Σ⁻¹ = (2/σ²)·A, so this mapping
 * recovers A up to that positive factor (DESIGN.md §5). `drift`: a vector field, D·A_z·D⁻¹, right when the
 * noise is isotropic in the standardised coordinates instead.
 */
export function toGeneUnits(
  standardised: readonly (readonly number[])[],
  scale: ArrayLike<number>,
  mapping: 'score' | 'drift' = 'score',
): number[][] {
  return standardised.map((row, i) =>
    row.map((value, j) =>
      mapping === 'score' ? value / (scale[i] * scale[j]) : (value * scale[i]) / scale[j],
    ),
  );
}
