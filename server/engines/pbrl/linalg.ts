/**
 * Small dense linear algebra on row-major Float64Array matrices, enough for ED-PBRL (DESIGN.md §6) at
 * d ≤ 256: Cholesky factors of symmetric positive-definite matrices, triangular inverses and solves,
 * traces of inverses and log-determinants. Loops are arranged so that inner loops read contiguous rows.
 */

/** The d × d identity scaled by `scale`. */
export function scaledIdentity(d: number, scale: number): Float64Array {
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++) out[i * d + i] = scale;
  return out;
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>, length = a.length, offsetA = 0, offsetB = 0) {
  let sum = 0;
  for (let i = 0; i < length; i++) sum += a[offsetA + i] * b[offsetB + i];
  return sum;
}

/** A ← A + scale·x·yᵀ (x, y of length d, read from the given offsets). */
export function addOuterProduct(
  a: Float64Array,
  d: number,
  scale: number,
  x: ArrayLike<number>,
  y: ArrayLike<number> = x,
  offsetX = 0,
  offsetY = 0,
): void {
  for (let i = 0; i < d; i++) {
    const xi = scale * x[offsetX + i];
    if (xi === 0) continue;
    const row = i * d;
    for (let j = 0; j < d; j++) a[row + j] += xi * y[offsetY + j];
  }
}

/** y = A·x for a d × d matrix A. */
export function matVec(a: Float64Array, d: number, x: ArrayLike<number>): Float64Array {
  const out = new Float64Array(d);
  for (let i = 0; i < d; i++) out[i] = dot(a, x, d, i * d);
  return out;
}

/**
 * Lower-triangular L with A = L·Lᵀ, or null when A is not (numerically) positive definite. Only the
 * lower triangle of A is read.
 */
export function cholesky(a: Float64Array, d: number): Float64Array | null {
  const l = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    const rowI = i * d;
    for (let j = 0; j <= i; j++) {
      const rowJ = j * d;
      let sum = a[rowI + j];
      for (let k = 0; k < j; k++) sum -= l[rowI + k] * l[rowJ + k];
      if (i === j) {
        if (!(sum > 0)) return null;
        l[rowI + i] = Math.sqrt(sum);
      } else {
        l[rowI + j] = sum / l[rowJ + j];
      }
    }
  }
  return l;
}

/** log det A = 2 Σ log L_ii from A's Cholesky factor. */
export function logDetFromCholesky(l: Float64Array, d: number): number {
  let sum = 0;
  for (let i = 0; i < d; i++) sum += Math.log(l[i * d + i]);
  return 2 * sum;
}

/**
 * (L⁻¹)ᵀ, upper triangular, row-major: row j holds column j of L⁻¹ (the solution of L·w = e_j, zero
 * above j). Stored transposed so that both computing it and applying it read contiguous rows.
 */
export function inverseLowerTransposed(l: Float64Array, d: number): Float64Array {
  const wt = new Float64Array(d * d);
  for (let j = 0; j < d; j++) {
    const rowJ = j * d;
    for (let i = j; i < d; i++) {
      const rowI = i * d;
      let sum = i === j ? 1 : 0;
      for (let k = j; k < i; k++) sum -= l[rowI + k] * wt[rowJ + k];
      wt[rowJ + i] = sum / l[rowI + i];
    }
  }
  return wt;
}

/** tr(A⁻¹) = ‖L⁻¹‖²_F, from (L⁻¹)ᵀ as returned by inverseLowerTransposed. */
export function traceOfInverse(inverseLowerT: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < inverseLowerT.length; i++) sum += inverseLowerT[i] * inverseLowerT[i];
  return sum;
}

/** u = L⁻¹·x, given (L⁻¹)ᵀ. */
export function applyInverseLower(inverseLowerT: Float64Array, d: number, x: ArrayLike<number>, offset = 0) {
  const out = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    const xj = x[offset + j];
    if (xj === 0) continue;
    const rowJ = j * d;
    for (let i = j; i < d; i++) out[i] += inverseLowerT[rowJ + i] * xj;
  }
  return out;
}

/** v = L⁻ᵀ·u, given (L⁻¹)ᵀ: v_j = Σ_{i ≥ j} (L⁻¹)_ij u_i. */
export function applyInverseLowerTransposed(inverseLowerT: Float64Array, d: number, u: Float64Array) {
  const out = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    const rowJ = j * d;
    let sum = 0;
    for (let i = j; i < d; i++) sum += inverseLowerT[rowJ + i] * u[i];
    out[j] = sum;
  }
  return out;
}

/** A⁻¹ = L⁻ᵀ·L⁻¹ (symmetric, full) from (L⁻¹)ᵀ. */
export function inverseFromLowerInverse(inverseLowerT: Float64Array, d: number): Float64Array {
  const out = new Float64Array(d * d);
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      // (A⁻¹)_ab = Σ_i (L⁻¹)_ia (L⁻¹)_ib, non-zero for i ≥ max(a, b) = b.
      const value = dot(inverseLowerT, inverseLowerT, d - b, a * d + b, b * d + b);
      out[a * d + b] = value;
      out[b * d + a] = value;
    }
  }
  return out;
}

/** Solves A·x = b from A's Cholesky factor (forward then backward substitution). */
export function choleskySolve(l: Float64Array, d: number, b: ArrayLike<number>): Float64Array {
  const y = new Float64Array(d);
  for (let i = 0; i < d; i++) y[i] = (b[i] - dot(l, y, i, i * d)) / l[i * d + i];
  // Backward Lᵀ·x = y by columns of Lᵀ (rows of L), so the inner loop stays contiguous.
  for (let i = d - 1; i >= 0; i--) {
    const row = i * d;
    y[i] /= l[row + i];
    const xi = y[i];
    for (let k = 0; k < i; k++) y[k] -= l[row + k] * xi;
  }
  return y;
}

/** A⁻¹ of a symmetric positive-definite matrix, or null when it is not positive definite. */
export function symmetricInverse(a: Float64Array, d: number): Float64Array | null {
  const l = cholesky(a, d);
  return l && inverseFromLowerInverse(inverseLowerTransposed(l, d), d);
}
