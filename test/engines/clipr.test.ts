/**
 * CLIPR's linear algebra, baselines, scores and modules (server/engines/clipr, DESIGN.md §5), on exact
 * inputs: a linear drift gives back A exactly, the baselines reproduce their closed forms, the scores match
 * hand-computed values, and block-structured matrices split into their blocks.
 */
import { Matrix, SVD, inverse } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import {
  auroc,
  cliprLinearDrift,
  geneModules,
  negativePrecisionBaseline,
  pearson,
  scoreCausalMatrix,
  toGeneUnits,
  totalEffectsBaseline,
} from '../../server/engines/clipr';
import { createRng } from '../../server/engines/random';
import { syntheticScreen } from '../../server/perturbation/synthetic';

/** Fixed points and origin drifts of the exact linear drift f_k(x) = Ax + b + c_k (c_0 = 0: control). */
function linearDriftInputs(a: number[][], seed: number) {
  const d = a.length;
  const rng = createRng(seed);
  const bias = Array.from({ length: d }, () => 6 * rng.uniform() - 3);
  const shifts = [new Array<number>(d).fill(0)];
  for (let k = 0; k < d; k++) {
    const c = new Array<number>(d).fill(0);
    c[k] = (rng.uniform() < 0.5 ? -1 : 1) * (5 + 10 * rng.uniform());
    shifts.push(c);
  }
  const driftAtOrigin = shifts.map((c) => c.map((ck, i) => bias[i] + ck));
  const inverseA = inverse(new Matrix(a));
  const fixedPoints = driftAtOrigin.map((f0) => inverseA.mmul(Matrix.columnVector(f0)).mul(-1).to1DArray());
  return { fixedPoints, driftAtOrigin };
}

function maxAbsDifference(x: number[][], y: number[][]): number {
  return Math.max(...x.flatMap((row, i) => row.map((v, j) => Math.abs(v - y[i][j]))));
}

describe('cliprLinearDrift', () => {
  it('recovers A exactly from an exact linear drift (λ = 0, X* of full row rank)', () => {
    for (const family of ['nonreversible', 'reversible'] as const) {
      const a = syntheticScreen({ genes: 12, graph: 'er', family, seed: 3, cellsPerCondition: 2 }).trueMatrix;
      const { fixedPoints, driftAtOrigin } = linearDriftInputs(a, 4);
      const recovered = cliprLinearDrift(fixedPoints, driftAtOrigin, { regularization: 0 });
      // Exact up to rounding: a solve with the Gram matrix X*X*ᵀ loses about cond(X*X*ᵀ)·ε relative
      // accuracy (the forward error bound of a backward-stable solve); allow 100 times that.
      const xStar = new Matrix(fixedPoints).transpose();
      const condition = new SVD(xStar.mmul(xStar.transpose())).condition;
      const scale = Math.max(...a.flat().map(Math.abs));
      const bound = 100 * Number.EPSILON * condition * scale;
      expect(maxAbsDifference(recovered, a)).toBeLessThan(bound);
      // X* = −A⁻¹[b + c_k] inherits A's conditioning, squared in the Gram matrix (cond ≈ 1e8 here), yet
      // the realised error is far smaller than the bound.
      expect(maxAbsDifference(recovered, a)).toBeLessThan(1e-7);
    }
  });

  it('stays within the ridge bias with the default λ = 1e-6·tr(X*X*ᵀ)/d', () => {
    const a = syntheticScreen({
      genes: 10,
      graph: 'sf',
      family: 'nonreversible',
      seed: 5,
      cellsPerCondition: 2,
    }).trueMatrix;
    const { fixedPoints, driftAtOrigin } = linearDriftInputs(a, 6);
    const recovered = cliprLinearDrift(fixedPoints, driftAtOrigin);
    // The ridge shrinks by a factor 1 − λ/(s² + λ) along each singular direction: ≤ 1e-6 × cond(X*X*ᵀ).
    const scale = Math.max(...a.flat().map(Math.abs));
    expect(maxAbsDifference(recovered, a) / scale).toBeLessThan(1e-2);
    expect(maxAbsDifference(recovered, a) / scale).toBeGreaterThan(0);
  });

  it('rejects mismatched inputs', () => {
    expect(() => cliprLinearDrift([[1, 2]], [])).toThrow(/as many/);
    expect(() => cliprLinearDrift([[1, 2]], [[1]])).toThrow(/d entries/);
  });

  it('maps a standardised matrix to gene units as a score (D⁻¹AD⁻¹) or a drift (DAD⁻¹)', () => {
    const standardised = [
      [1, 2],
      [3, 4],
    ];
    const scale = [2, 5];
    expect(toGeneUnits(standardised, scale, 'score')).toEqual([
      [1 / 4, 2 / 10],
      [3 / 10, 4 / 25],
    ]);
    expect(toGeneUnits(standardised, scale, 'drift')).toEqual([
      [1, (2 * 2) / 5],
      [(3 * 5) / 2, 4],
    ]);
  });
});

describe('baselines', () => {
  it('total effects are −A⁻¹ columns normalised by their diagonal, from exact means', () => {
    const screen = syntheticScreen({
      genes: 9,
      graph: 'er',
      family: 'nonreversible',
      seed: 7,
      cellsPerCondition: 2,
    });
    const singles = new Map<number, number[]>();
    for (const c of screen.conditions) if (c.targets.length === 1) singles.set(c.targets[0], c.mean);
    const effects = totalEffectsBaseline(screen.conditions[0].mean, singles);
    // μ_k − μ_0 = −A⁻¹ c_k, c_k on gene k only: column k of −A⁻¹ times c_k, so the ratio is (A⁻¹)_jk/(A⁻¹)_kk.
    const inverseA = inverse(new Matrix(screen.trueMatrix));
    for (let j = 0; j < 9; j++)
      for (let k = 0; k < 9; k++) {
        expect(effects[j][k]).toBeCloseTo(inverseA.get(j, k) / inverseA.get(k, k), 10);
      }
  });

  it('the negative precision of control cells estimates 2A/σ² for a reversible system', () => {
    const screen = syntheticScreen({
      genes: 6,
      graph: 'er',
      family: 'reversible',
      seed: 8,
      controlCells: 20_000,
      cellsPerCondition: 2,
    });
    const control = screen.cells.subarray(0, 20_000 * 6);
    const { matrix, ridge } = negativePrecisionBaseline(control, 6);
    expect(ridge).toBe(0);
    // Σ = −A⁻¹/2 with σ = 1, so −Σ⁻¹ = 2A. A precision estimated from n = 20 000 cells has relative
    // errors of order √(d/n) ≈ 2 %; 10 % of the largest entry is a safe bound.
    const scale = Math.max(...screen.trueMatrix.flat().map(Math.abs));
    expect(
      maxAbsDifference(
        matrix,
        screen.trueMatrix.map((row) => row.map((v) => 2 * v)),
      ) /
        (2 * scale),
    ).toBeLessThan(0.1);
    expect(scoreCausalMatrix(matrix, screen.trueMatrix).auroc).toBe(1);
  });

  it('adds a ridge when the covariance is singular', () => {
    const cells = Float64Array.from([1, 1, 2, 2, 3, 3]); // two identical genes over three cells
    const { matrix, ridge } = negativePrecisionBaseline(cells, 2);
    expect(ridge).toBeGreaterThan(0);
    expect(matrix.flat().every(Number.isFinite)).toBe(true);
  });
});

describe('scores', () => {
  it('AUROC is the Mann–Whitney probability, ties counted half', () => {
    expect(auroc([3, 4], [1, 2])).toBe(1);
    expect(auroc([1, 2], [3, 4])).toBe(0);
    // Pairs (pos, neg): (2,1) win, (2,3) loss, (4,1) win, (4,3) win → 3/4.
    expect(auroc([2, 4], [1, 3])).toBe(0.75);
    expect(auroc([1], [1])).toBe(0.5);
    expect(auroc([], [1])).toBeNaN();
  });

  it('Pearson correlation', () => {
    expect(pearson([1, 2, 3], [2, 4, 6])).toBeCloseTo(1, 15);
    expect(pearson([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1, 15);
    expect(pearson([1, 1, 1], [1, 2, 3])).toBeNaN();
  });

  it('scores a perfect, a scaled, a sign-flipped and an uninformative estimate', () => {
    const truth = [
      [-5, 2, 0],
      [0, -5, -1],
      [3, 0, -5],
    ];
    const perfect = scoreCausalMatrix(truth, truth);
    expect(perfect).toMatchObject({ auroc: 1, signAuroc: 1, f1: 1, edges: 3, nonEdges: 3 });
    expect(perfect.pearson).toBeCloseTo(1, 14);
    // CLIPR recovers A up to a positive factor: every score is scale-free.
    expect(
      scoreCausalMatrix(
        truth.map((row) => row.map((v) => 0.5 * v)),
        truth,
      ),
    ).toEqual(perfect);
    // Flipped signs keep the edges (AUROC on |·|) but invert the sign classes.
    const flipped = scoreCausalMatrix(
      truth.map((row) => row.map((v) => -v)),
      truth,
    );
    expect(flipped.auroc).toBe(1);
    expect(flipped.signAuroc).toBeLessThan(0.5);
    expect(flipped.f1).toBe(0);
    // One-vs-one by hand for off-diagonal estimates 2, 0, 0, −1, 3, 0 against classes +, 0, 0, −, +, 0 with a
    // constant estimate: every pairwise AUROC is 1/2.
    const constant = scoreCausalMatrix(
      truth.map((row) => row.map(() => 1)),
      truth,
    );
    expect(constant.auroc).toBe(0.5);
    expect(constant.signAuroc).toBe(0.5);
  });

  it('ignores the diagonal', () => {
    const truth = [
      [-1, 1],
      [0, -1],
    ];
    expect(
      scoreCausalMatrix(
        [
          [100, 1],
          [0, -100],
        ],
        truth,
      ).auroc,
    ).toBe(1);
  });
});

describe('geneModules', () => {
  it('splits a two-block matrix into its blocks', () => {
    const blockOf = [0, 1, 0, 1, 0, 1, 1];
    const d = blockOf.length;
    const matrix = Array.from({ length: d }, (_, i) =>
      Array.from({ length: d }, (_, j) =>
        i === j ? -3 : blockOf[i] === blockOf[j] ? (i < j ? 1.5 : -2) : 0.01,
      ),
    );
    const { modules, assignment, modularity } = geneModules(matrix);
    expect(modules).toEqual([
      [1, 3, 5, 6],
      [0, 2, 4],
    ]);
    expect(assignment).toEqual(blockOf.map((b) => (b === 1 ? 0 : 1)));
    expect(modularity).toBeGreaterThan(0.4);
  });

  it('merges down to a requested number of modules', () => {
    const matrix = Array.from({ length: 6 }, (_, i) =>
      Array.from({ length: 6 }, (_, j) => (Math.abs(i - j) === 1 ? 1 : 0)),
    );
    expect(geneModules(matrix, { modules: 1 }).modules).toEqual([[0, 1, 2, 3, 4, 5]]);
    expect(geneModules(matrix, { modules: 3 }).modules).toHaveLength(3);
  });
});
