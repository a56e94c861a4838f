/**
 * Synthetic screens with ground truth (server/perturbation/synthetic.ts, DESIGN.md §5): the Lyapunov
 * solution satisfies its equation to rounding level, cells follow N(μ_k, Σ) within sampling error, linear
 * combination means are exactly additive, the graphs and weights have the promised form, and the nonlinear
 * family passes its burn-in check and is not additive.
 */
import { EigenvalueDecomposition, Matrix, inverse } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import {
  conditionLabel,
  lyapunovResidual,
  randomSkeleton,
  solveLyapunov,
  syntheticScreen,
} from '../../server/perturbation/synthetic';
import { createRng } from '../../server/engines/random';

/** Rows of the cells with one label, as a matrix. */
function cellsWithLabel(screen: ReturnType<typeof syntheticScreen>, label: string): number[][] {
  const d = screen.genes.length;
  const rows: number[][] = [];
  screen.labels.forEach((l, i) => {
    if (l === label) rows.push(Array.from(screen.cells.subarray(i * d, (i + 1) * d)));
  });
  return rows;
}

describe('solveLyapunov', () => {
  it('solves AΣ + ΣAᵀ + σ²I = 0 to rounding level for a non-symmetric stable A', () => {
    for (const seed of [1, 2, 3]) {
      const screen = syntheticScreen({
        genes: 20,
        graph: 'er',
        family: 'nonreversible',
        seed,
        cellsPerCondition: 2,
      });
      const a = new Matrix(screen.trueMatrix);
      const sigma = new Matrix(screen.covariance!);
      const residual = lyapunovResidual(a, sigma, Matrix.eye(20));
      // Each entry of AΣ is a sum of 20 products; float64 rounding leaves ≈ 1e-16 relative to ‖A‖‖Σ‖, and
      // the iterative refinement removes the Smith iteration's truncation error. 1e-13 leaves ample room.
      expect(residual.norm() / (a.norm() * sigma.norm())).toBeLessThan(1e-13);
      expect(Matrix.sub(sigma, sigma.transpose()).norm()).toBe(0);
    }
  });

  it('matches the closed form Σ = −σ²/2·A⁻¹ of a symmetric A', () => {
    const screen = syntheticScreen({
      genes: 15,
      graph: 'sf',
      family: 'reversible',
      seed: 4,
      cellsPerCondition: 2,
      noiseScale: 0.7,
    });
    const a = new Matrix(screen.trueMatrix);
    const closedForm = inverse(a).mul(-(0.7 * 0.7) / 2);
    const solved = solveLyapunov(a, Matrix.eye(15).mul(0.49));
    expect(Matrix.sub(solved, closedForm).norm() / closedForm.norm()).toBeLessThan(1e-12);
    expect(Matrix.sub(new Matrix(screen.covariance!), closedForm).norm() / closedForm.norm()).toBeLessThan(
      1e-12,
    );
  });

  it('refuses an unstable A', () => {
    expect(() => solveLyapunov(new Matrix([[0.1]]), new Matrix([[1]]))).toThrow(/not stable/);
  });
});

describe('linear screens', () => {
  it('draw cells from N(μ_k, Σ): sample mean and covariance within sampling error', () => {
    const n = 20_000;
    const screen = syntheticScreen({
      genes: 8,
      graph: 'er',
      family: 'nonreversible',
      seed: 5,
      controlCells: n,
      cellsPerCondition: 2,
    });
    const cells = cellsWithLabel(screen, 'control');
    expect(cells).toHaveLength(n);
    const sample = new Matrix(cells);
    const mean = sample.mean('column');
    const covariance = sample
      .clone()
      .center('column')
      .transpose()
      .mmul(sample.clone().center('column'))
      .div(n - 1);
    const sigma = screen.covariance!;
    const mu = screen.conditions[0].mean;
    // Standard errors: Var(x̄_i) = Σ_ii/n and, for Gaussian data, Var(S_ij) ≈ (Σ_ii Σ_jj + Σ_ij²)/n. Over 8
    // means and 36 distinct covariances a 5-SE bound fails with probability < 3e-5 (the seed is fixed, so
    // the test is deterministic; the bound says how much it may move with another seed).
    for (let i = 0; i < 8; i++) {
      expect(Math.abs(mean[i] - mu[i])).toBeLessThan(5 * Math.sqrt(sigma[i][i] / n));
      for (let j = 0; j <= i; j++) {
        const standardError = Math.sqrt((sigma[i][i] * sigma[j][j] + sigma[i][j] ** 2) / n);
        expect(Math.abs(covariance.get(i, j) - sigma[i][j])).toBeLessThan(5 * standardError);
      }
    }
  });

  it('have exactly additive combination means, μ_ij − μ_0 = (μ_i − μ_0) + (μ_j − μ_0)', () => {
    for (const family of ['reversible', 'nonreversible'] as const) {
      const screen = syntheticScreen({
        genes: 12,
        graph: 'sf',
        family,
        seed: 6,
        doubles: 10,
        cellsPerCondition: 3,
      });
      const byLabel = new Map(screen.conditions.map((c) => [c.label, c.mean]));
      const control = byLabel.get('control')!;
      const doubles = screen.conditions.filter((c) => c.targets.length === 2);
      expect(doubles).toHaveLength(10);
      for (const { targets, mean } of doubles) {
        const [i, j] = targets.map((k) => byLabel.get(conditionLabel([k]))!);
        for (let g = 0; g < 12; g++) {
          const additive = i[g] + j[g] - control[g];
          // Both sides come from one LU solve of A, whose rounding error is about cond(A)·ε relative to
          // the means (cond(A) ≲ 100 here, means ≲ 100): 1e-10 is a few hundred times that.
          expect(Math.abs(mean[g] - additive)).toBeLessThan(1e-10);
        }
      }
    }
  });

  it('build A from ±U[1,3] weights shifted to spectral abscissa −0.5, symmetric when reversible', () => {
    for (const family of ['reversible', 'nonreversible'] as const) {
      for (const graph of ['er', 'sf'] as const) {
        const screen = syntheticScreen({ genes: 16, graph, family, seed: 7, cellsPerCondition: 2 });
        const a = new Matrix(screen.trueMatrix);
        const evd = new EigenvalueDecomposition(a, { assumeSymmetric: family === 'reversible' });
        expect(Math.max(...evd.realEigenvalues)).toBeCloseTo(-0.5, 9);
        const diagonal = a.get(0, 0);
        for (let i = 0; i < 16; i++) {
          expect(a.get(i, i)).toBe(diagonal);
          for (let j = 0; j < 16; j++) {
            if (i === j) continue;
            const w = a.get(i, j);
            expect(screen.trueEdges[i][j]).toBe(w === 0 ? 0 : 1);
            if (w !== 0) expect(Math.abs(w) >= 1 && Math.abs(w) <= 3).toBe(true);
            if (family === 'reversible') expect(a.get(j, i)).toBe(w);
            else if (w !== 0) expect(a.get(j, i)).toBe(0);
          }
        }
        for (const shift of screen.interventionShifts)
          expect(Math.abs(shift) >= 5 && Math.abs(shift) <= 15).toBe(true);
        for (const b of screen.bias) expect(Math.abs(b)).toBeLessThanOrEqual(3);
      }
    }
  });

  it('labels cells control, G3, G3+G7 and is deterministic in its seed', () => {
    const options = {
      genes: 6,
      graph: 'er',
      family: 'reversible',
      seed: 8,
      cellsPerCondition: 4,
      controlCells: 5,
      doubles: 2,
    } as const;
    const screen = syntheticScreen(options);
    expect(screen.genes).toEqual(['G0', 'G1', 'G2', 'G3', 'G4', 'G5']);
    expect(screen.cellCount).toBe(5 + 6 * 4 + 2 * 4);
    expect(screen.cells).toHaveLength(screen.cellCount * 6);
    expect(screen.labels.slice(0, 5)).toEqual(Array(5).fill('control'));
    expect(new Set(screen.labels)).toEqual(new Set(screen.conditions.map((c) => c.label)));
    for (const c of screen.conditions.filter((c) => c.targets.length === 2))
      expect(c.label).toMatch(/^G\d\+G\d$/);
    expect(syntheticScreen(options).cells).toEqual(screen.cells);
    expect(syntheticScreen({ ...options, seed: 9 }).cells).not.toEqual(screen.cells);
  });
});

describe('graphs', () => {
  it('Barabási–Albert: a clique of m + 1 genes, then m edges per new gene', () => {
    const d = 40;
    const edges = randomSkeleton(createRng(1), d, 'sf', 6);
    const m = 3;
    expect(edges).toHaveLength((m * (m + 1)) / 2 + (d - m - 1) * m);
    expect(new Set(edges.map(([a, b]) => `${a},${b}`)).size).toBe(edges.length);
    // Preferential attachment concentrates degree: the best-connected gene has far more than 2m.
    const degree = new Array<number>(d).fill(0);
    for (const [a, b] of edges) {
      degree[a]++;
      degree[b]++;
    }
    expect(Math.max(...degree)).toBeGreaterThan(2 * 2 * m);
  });

  it('Erdős–Rényi: about degree/2 · d undirected edges', () => {
    const d = 200;
    const edges = randomSkeleton(createRng(2), d, 'er', 10);
    // Binomial(19 900, 10/199): mean 1000, SD ≈ 31.
    expect(Math.abs(edges.length - 1000)).toBeLessThan(5 * 31);
  });
});

describe('nonlinear screens', () => {
  it('reach stationarity (burn-in check), have a DAG, and combinations that are not additive', () => {
    const d = 10;
    const screen = syntheticScreen({
      genes: d,
      graph: 'er',
      family: 'nonlinear',
      seed: 11,
      cellsPerCondition: 200,
      doubles: 10,
    });
    expect(screen.burnIn?.passed).toBe(true);
    expect(screen.burnIn!.statistic).toBeLessThanOrEqual(screen.burnIn!.bound);
    expect(screen.covariance).toBeUndefined();
    // trueMatrix = −I + W with W a DAG: W is nilpotent, W^d = 0.
    const w = Matrix.add(new Matrix(screen.trueMatrix), Matrix.eye(d));
    let power = w.clone();
    for (let k = 1; k < d; k++) power = power.mmul(w);
    expect(power.norm()).toBe(0);
    // Non-additivity μ_ij − μ_i − μ_j + μ_0 in units of its standard error √(Σ_c var_c/n_c) from the
    // sample variances. Under additivity the largest of these 100 z-scores would exceed 5 with
    // probability < 1e-4 (6e-5 by the union bound); tanh's saturation makes the largest ≈ 6 here.
    const byLabel = new Map(screen.conditions.map((c) => [c.label, c]));
    const variance = (label: string, g: number) => {
      const values = cellsWithLabel(screen, label).map((row) => row[g]);
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      return values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1) / values.length;
    };
    let largest = 0;
    for (const { targets, mean, label } of screen.conditions.filter((c) => c.targets.length === 2)) {
      const [i, j] = targets.map((k) => conditionLabel([k]));
      for (let g = 0; g < d; g++) {
        const departure =
          mean[g] - byLabel.get(i)!.mean[g] - byLabel.get(j)!.mean[g] + byLabel.get('control')!.mean[g];
        const standardError = Math.sqrt(
          variance(label, g) + variance(i, g) + variance(j, g) + variance('control', g),
        );
        largest = Math.max(largest, Math.abs(departure) / standardError);
      }
    }
    expect(largest).toBeGreaterThan(5);
  });
});
