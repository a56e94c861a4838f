/**
 * Information criteria of DESIGN.md §6, both to be maximised (larger is more informative):
 *   A-optimal (the default)  f(M) = −tr(M⁻¹)
 *   D-optimal                f(M) = log det M
 * with M = I + λ'·Id, or more generally M = (information already gathered, including λ'·Id) + I(d).
 * Their matrix gradients ∂f/∂M are G = M⁻¹M⁻¹ (A) and G = M⁻¹ (D); both are written G = TᵀT so that
 * φᵀGψ = (Tφ)ᵀ(Tψ): T = M⁻¹ for A, T = L⁻¹ (M = LLᵀ) for D.
 */
import {
  applyInverseLower,
  applyInverseLowerTransposed,
  cholesky,
  inverseLowerTransposed,
  logDetFromCholesky,
  traceOfInverse,
} from './linalg';

export type Criterion = 'aopt' | 'dopt';

export const criteria: readonly Criterion[] = ['aopt', 'dopt'];

/** §6 A-optimal criterion −tr(M⁻¹); −∞ when M is not positive definite. */
export function aOptimalCriterion(m: Float64Array, d: number): number {
  return criterionValue('aopt', m, d);
}

/** §6 D-optimal criterion log det M; −∞ when M is not positive definite. */
export function dOptimalCriterion(m: Float64Array, d: number): number {
  return criterionValue('dopt', m, d);
}

export interface CriterionEvaluation {
  value: number;
  /** Maps φ ↦ Tφ with G = ∂f/∂M = TᵀT, so the §6 gradient terms are inner products of mapped vectors. */
  gradientFactor: (phi: ArrayLike<number>, offset?: number) => Float64Array;
}

/** §6 criterion and its gradient factor at M, or null when M is not positive definite. */
export function evaluateCriterion(kind: Criterion, m: Float64Array, d: number): CriterionEvaluation | null {
  const l = cholesky(m, d);
  if (!l) return null;
  if (kind === 'dopt') {
    // log det needs only L; (L⁻¹)ᵀ is formed on the first gradient request (line searches never make one).
    let wt: Float64Array | undefined;
    return {
      value: logDetFromCholesky(l, d),
      gradientFactor: (phi, offset = 0) =>
        applyInverseLower((wt ??= inverseLowerTransposed(l, d)), d, phi, offset),
    };
  }
  const wt = inverseLowerTransposed(l, d);
  return {
    value: -traceOfInverse(wt),
    // M⁻¹φ = L⁻ᵀ(L⁻¹φ): two triangular products, d² multiply-adds in all.
    gradientFactor: (phi, offset = 0) =>
      applyInverseLowerTransposed(wt, d, applyInverseLower(wt, d, phi, offset)),
  };
}

/** §6 criterion's value alone (−∞ off the positive-definite cone), e.g. for line searches. */
export function criterionValue(kind: Criterion, m: Float64Array, d: number): number {
  const l = cholesky(m, d);
  if (!l) return Number.NEGATIVE_INFINITY;
  return kind === 'dopt' ? logDetFromCholesky(l, d) : -traceOfInverse(inverseLowerTransposed(l, d));
}
