/**
 * A reward surrogate learned from the molecules a design has scored: kernel ridge regression with the
 * Tanimoto kernel on Morgan fingerprints (the kernel of Ralaivola et al. 2005, the usual one for
 * molecular Gaussian processes, e.g. Griffiths et al. 2023, GAUCHE):
 *
 *     f̂(m) = ȳ + k(m)ᵀ (K + λI)⁻¹ (y − ȳ),   K_ij = Tanimoto(fp_i, fp_j),
 *
 * with λ chosen from a grid by the closed-form leave-one-out error of kernel ridge regression: with
 * G = (K + λI)⁻¹ and c = G(y − ȳ), the residual of molecule i left out is c_i / G_ii (Rifkin & Lippert
 * 2007, "Notes on regularized least squares"). One eigendecomposition of K serves every λ.
 */
import { EVD, Matrix } from 'ml-matrix';
import { tanimoto } from './rdkit';

export interface KernelRidgeFit {
  lambda: number;
  /** 1 − LOO mean squared error / variance of y: how much of the reward the surrogate predicts. */
  looR2: number;
}

export class TanimotoKernelRidge implements KernelRidgeFit {
  private constructor(
    private readonly fingerprints: readonly Uint8Array[],
    private readonly coefficients: Float64Array,
    private readonly offset: number,
    readonly lambda: number,
    readonly looR2: number,
  ) {}

  static fit(
    fingerprints: readonly Uint8Array[],
    values: readonly number[],
    lambdas: readonly number[] = [1e-3, 1e-2, 0.03, 0.1, 0.3, 1, 3],
  ): TanimotoKernelRidge {
    const n = fingerprints.length;
    if (n !== values.length) throw new Error(`${n} fingerprints but ${values.length} values`);
    if (n < 2) throw new Error('a surrogate needs at least two scored molecules');
    const offset = values.reduce((a, b) => a + b, 0) / n;
    const centred = values.map((v) => v - offset);
    const variance = centred.reduce((a, v) => a + v * v, 0) / n;
    const kernel = new Matrix(n, n);
    for (let i = 0; i < n; i++) {
      kernel.set(i, i, 1);
      for (let j = i + 1; j < n; j++) {
        const k = tanimoto(fingerprints[i], fingerprints[j]);
        kernel.set(i, j, k);
        kernel.set(j, i, k);
      }
    }
    const { realEigenvalues: eigenvalues, eigenvectorMatrix: q } = new EVD(kernel, { assumeSymmetric: true });
    // Qᵀ(y − ȳ), then for each λ: c = Q diag(1/(e + λ)) Qᵀ(y − ȳ), G_ii = Σ_k Q_ik² / (e_k + λ).
    const projected = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += q.get(i, k) * centred[i];
      projected[k] = sum;
    }
    let best: { lambda: number; error: number; coefficients: Float64Array } | undefined;
    for (const lambda of lambdas) {
      const inverse = eigenvalues.map((e) => 1 / (Math.max(e, 0) + lambda));
      const coefficients = new Float64Array(n);
      let error = 0;
      for (let i = 0; i < n; i++) {
        let c = 0;
        let g = 0;
        for (let k = 0; k < n; k++) {
          const qik = q.get(i, k);
          c += qik * inverse[k] * projected[k];
          g += qik * qik * inverse[k];
        }
        coefficients[i] = c;
        error += (c / g) ** 2;
      }
      error /= n;
      if (!best || error < best.error) best = { lambda, error, coefficients };
    }
    const chosen = best!;
    const looR2 = variance > 0 ? 1 - chosen.error / variance : 0;
    return new TanimotoKernelRidge([...fingerprints], chosen.coefficients, offset, chosen.lambda, looR2);
  }

  predict(fingerprints: readonly Uint8Array[]): Float64Array {
    return Float64Array.from(fingerprints, (fingerprint) => {
      let value = this.offset;
      this.fingerprints.forEach((known, i) => (value += this.coefficients[i] * tanimoto(fingerprint, known)));
      return value;
    });
  }
}
