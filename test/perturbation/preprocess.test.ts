/**
 * Preprocessing (DESIGN.md §5) on a 10-cell screen whose every number is worked out by hand below, the
 * split rules on hand-made environments, log-normalised input, and the whole pipeline on the real
 * Papalexi 2021 screen (every cell's normalised counts sum to the median control library size).
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readMtxScreen } from '../../server/perturbation/mtx';
import {
  detectInputKind,
  geneVariances,
  holdOutSingles,
  median,
  preprocessScreen,
  splitCombinations,
} from '../../server/perturbation/preprocess';
import { csrFromDense, toDenseValues } from '../../server/perturbation/sparse';
import type { Environment, ScreenData, StepSummary } from '../../server/perturbation/types';
import { PERTURBATION_DATA_DIR } from '../support/anndataPeer';

/**
 * Genes G1, G2, MT-A (mitochondrial), G3, G4. G5 is perturbed but not measured.
 *   cell  label      counts            detected  library  mito share
 *   c0    control    2 0 0 2 0         2         4        0
 *   c1    control    4 4 0 0 0         2         8        0
 *   c2    control    1 1 1 3 0         4         6        1/6
 *   c3    G1         0 6 0 6 0         2         12       0
 *   c4    G2         3 0 0 0 3         2         6        0
 *   c5    G1+G2      1 1 0 1 1         4         4        0
 *   c6    G5         2 2 0 0 2         3         6        0
 *   c7    (none)     1 1 1 1 1                                       → dropped by the labels step
 *   c8    control    1 0 3 0 0         2         4        3/4        → dropped: mito share > 0.5
 *   c9    control    0 0 0 5 0         1         5        0          → dropped: fewer than 2 genes
 */
const HAND_SCREEN: ScreenData = {
  X: csrFromDense({
    format: 'dense',
    rows: 10,
    cols: 5,
    values: Float32Array.from(
      [
        [2, 0, 0, 2, 0],
        [4, 4, 0, 0, 0],
        [1, 1, 1, 3, 0],
        [0, 6, 0, 6, 0],
        [3, 0, 0, 0, 3],
        [1, 1, 0, 1, 1],
        [2, 2, 0, 0, 2],
        [1, 1, 1, 1, 1],
        [1, 0, 3, 0, 0],
        [0, 0, 0, 5, 0],
      ].flat(),
    ),
  }),
  cells: ['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8', 'c9'],
  genes: ['G1', 'G2', 'MT-A', 'G3', 'G4'],
  obs: { target: ['control', 'control', 'control', 'G1', 'G2', 'G1+G2', 'G5', '', 'control', 'control'] },
  var: {},
  uns: {},
  notes: [],
};

function summary(steps: StepSummary[], step: StepSummary['step']): StepSummary {
  const found = steps.find((s) => s.step === step);
  if (!found) throw new Error(`no ${step} summary`);
  return found;
}

describe('preprocessScreen on a hand-computed screen', () => {
  const prepared = preprocessScreen(HAND_SCREEN, {
    labels: { column: 'target', control: 'control' },
    qc: { minGenes: 2, maxMitoFraction: 0.5, minCellsPerGene: 3 },
    genes: { maxGenes: 3 },
  });

  it('labels: drops the unlabelled cell', () => {
    expect(summary(prepared.summaries, 'labels')).toMatchObject({ cellsIn: 10, cellsKept: 9, genesKept: 5 });
  });

  it('QC: drops c8 (mito 3/4 > 0.5) and c9 (1 gene < 2), then MT-A (1 cell < 3)', () => {
    expect(summary(prepared.summaries, 'qc')).toMatchObject({
      cellsIn: 9,
      cellsKept: 7,
      genesIn: 5,
      genesKept: 4,
      details: { removedMinGenes: 1, removedMitoFraction: 1, removedMinCounts: 0, genesRemovedMinCells: 1 },
    });
    expect(prepared.cells).toEqual(['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6']);
  });

  it('normalises to the median control library size: controls sum to 4, 8, 5 on the kept genes → 5', () => {
    expect(prepared.targetLibrarySize).toBe(5);
    expect(summary(prepared.summaries, 'normalize').details.targetLibrarySize).toBe(5);
  });

  it('selects perturbed genes first (G1, G2; G5 unmeasured), then the more variable of G3 / G4', () => {
    // log1p(normalised) of G3 and G4 on control + singles (c0 c1 c2 c3 c4 c6):
    // G3 = ln(1 + 2.5), 0, ln(1 + 3), ln(1 + 2.5), 0, 0;  G4 = 0, 0, 0, 0, ln(1 + 2.5), ln(1 + 5/3).
    const g3 = [Math.log1p(2.5), 0, Math.log1p(3), Math.log1p(2.5), 0, 0];
    const g4 = [0, 0, 0, 0, Math.log1p(2.5), Math.log1p(5 / 3)];
    const variance = (xs: number[]) => {
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      return xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1);
    };
    expect(variance(g3)).toBeGreaterThan(variance(g4));
    expect(prepared.genes).toEqual(['G1', 'G2', 'G3']);
    expect(prepared.perturbedGeneCount).toBe(2);
    expect(summary(prepared.summaries, 'gene-selection')).toMatchObject({
      genesIn: 4,
      genesKept: 3,
      details: {
        perturbedGenesMeasured: 2,
        perturbedGenesNotMeasured: ['G5'],
        highlyVariableGenes: 1,
        varianceCells: 6,
      },
    });
  });

  it('X is log1p of counts × 5 / library size, in float32; counts are the raw selected counts', () => {
    const normalised = [
      [2, 0, 2].map((x) => (x * 5) / 4),
      [4, 4, 0].map((x) => (x * 5) / 8),
      [1, 1, 3].map((x) => (x * 5) / 5),
      [0, 6, 6].map((x) => (x * 5) / 12),
      [3, 0, 0].map((x) => (x * 5) / 6),
      [1, 1, 1].map((x) => (x * 5) / 4),
      [2, 2, 0].map((x) => (x * 5) / 6),
    ];
    // The scaled value is rounded to float32 before log1p, as the pipeline stores it.
    const expected = Float32Array.from(normalised.flat(), (x) => Math.log1p(Math.fround(x)));
    expect(prepared.X).toEqual({ format: 'dense', rows: 7, cols: 3, values: expected });
    expect(Array.from(prepared.counts!.values)).toEqual([
      2, 0, 2, 4, 4, 0, 1, 1, 3, 0, 6, 6, 3, 0, 0, 1, 1, 1, 2, 2, 0,
    ]);
  });

  it('labels → environments: control, singles, combinations, each sorted; unmeasured genes get −1', () => {
    expect(prepared.environments).toEqual([
      { key: 'control', kind: 'control', genes: [], geneIndices: [], cellCount: 3 },
      { key: 'G1', kind: 'single', genes: ['G1'], geneIndices: [0], cellCount: 1 },
      { key: 'G2', kind: 'single', genes: ['G2'], geneIndices: [1], cellCount: 1 },
      { key: 'G5', kind: 'single', genes: ['G5'], geneIndices: [-1], cellCount: 1 },
      { key: 'G1+G2', kind: 'combination', genes: ['G1', 'G2'], geneIndices: [0, 1], cellCount: 1 },
    ]);
    expect(Array.from(prepared.environmentOfCell)).toEqual([0, 0, 0, 1, 2, 4, 3]);
  });

  it('drops environments below minCellsPerEnvironment with their cells', () => {
    const small = preprocessScreen(HAND_SCREEN, {
      labels: { column: 'target', control: 'control' },
      qc: { minGenes: 2, maxMitoFraction: 0.5 },
      minCellsPerEnvironment: 2,
    });
    expect(small.environments.map((e) => e.key)).toEqual(['control']);
    expect(summary(small.summaries, 'environments').details.droppedEnvironments).toEqual([
      'G1',
      'G1+G2',
      'G2',
      'G5',
    ]);
    expect(small.X.rows).toBe(3);
  });
});

describe('the split', () => {
  const env = (key: string): Environment => {
    const genes = key === 'ctrl' ? [] : key.split('+');
    return {
      key,
      kind: genes.length === 0 ? 'control' : genes.length === 1 ? 'single' : 'combination',
      genes,
      geneIndices: genes.map(() => -1),
      cellCount: 10,
    };
  };
  // D and E are perturbed only inside combinations.
  const environments = ['ctrl', 'A', 'B', 'C', 'A+B', 'A+C', 'A+E', 'B+D', 'D+E'].map(env);
  const keys = (indices: number[]) => indices.map((e) => environments[e].key);

  it('trains on control + singles; keeps a test combination only if its genes were perturbed in training', () => {
    const { folds, summary: splitSummary } = splitCombinations(environments, {
      folds: 1,
      combinationsInTraining: 'none',
    });
    expect(folds).toHaveLength(1);
    expect(keys(folds[0].trainEnvironments)).toEqual(['ctrl', 'A', 'B', 'C']);
    expect(keys(folds[0].testEnvironments)).toEqual(['A+B', 'A+C']);
    expect(folds[0].dropped).toEqual([
      { key: 'A+E', missingGenes: ['E'] },
      { key: 'B+D', missingGenes: ['D'] },
      { key: 'D+E', missingGenes: ['D', 'E'] },
    ]);
    expect(splitSummary.details).toMatchObject({ folds: 1, trainCellsPerFold: [40], testCellsPerFold: [20] });
  });

  it('with the other folds in training, each combination is tested in exactly one fold', () => {
    const { folds } = splitCombinations(environments, { folds: 5, seed: 7 });
    expect(folds).toHaveLength(5);
    const tested = folds.flatMap((fold) => keys(fold.testEnvironments));
    expect(tested.sort()).toEqual(['A+B', 'A+C', 'A+E', 'B+D', 'D+E']);
    for (const fold of folds) {
      expect(fold.dropped).toEqual([]);
      const train = keys(fold.trainEnvironments);
      expect(train.slice(0, 4)).toEqual(['ctrl', 'A', 'B', 'C']);
      expect(train.filter((k) => keys(fold.testEnvironments).includes(k))).toEqual([]);
      expect(train).toHaveLength(8);
    }
    expect(splitCombinations(environments, { folds: 5, seed: 7 }).folds).toEqual(folds);
  });

  it('with two folds, a combination whose genes appear only in its own fold is dropped', () => {
    const { folds } = splitCombinations(environments, { folds: 2, seed: 1 });
    for (const fold of folds) {
      const trained = new Set(fold.trainEnvironments.flatMap((e) => environments[e].genes));
      for (const e of fold.testEnvironments)
        expect(environments[e].genes.every((g) => trained.has(g))).toBe(true);
      for (const dropped of fold.dropped)
        expect(dropped.missingGenes.some((g) => !trained.has(g))).toBe(true);
    }
    const accounted = folds.flatMap((fold) => [
      ...keys(fold.testEnvironments),
      ...fold.dropped.map((d) => d.key),
    ]);
    expect(accounted.sort()).toEqual(['A+B', 'A+C', 'A+E', 'B+D', 'D+E']);
  });

  it('leave-one-out over singles trains on everything not perturbing the held-out gene', () => {
    const { folds } = holdOutSingles(environments, ['A', 'B']);
    expect(keys(folds[0].trainEnvironments)).toEqual(['ctrl', 'B', 'C', 'B+D', 'D+E']);
    expect(keys(folds[0].testEnvironments)).toEqual(['A']);
    expect(keys(folds[1].trainEnvironments)).toEqual(['ctrl', 'A', 'C', 'A+C', 'A+E', 'D+E']);
    expect(() => holdOutSingles(environments, ['D'])).toThrow(/no single-knockout environment for 'D'/);
  });
});

describe('log-normalised input', () => {
  const lognorm: ScreenData = {
    ...HAND_SCREEN,
    X: {
      format: 'dense',
      rows: 10,
      cols: 5,
      values: Float32Array.from(toDenseValues(HAND_SCREEN.X), (x) => Math.log1p(x)),
    },
  };

  it('is detected, used as it is (no normalisation, no log1p), and has no counts', () => {
    expect(detectInputKind(HAND_SCREEN.X)).toBe('counts');
    expect(detectInputKind(lognorm.X)).toBe('lognorm');
    const prepared = preprocessScreen(lognorm, { labels: { column: 'target', control: 'control' } });
    expect(prepared.counts).toBeNull();
    expect(prepared.targetLibrarySize).toBeNull();
    expect(summary(prepared.summaries, 'normalize').details.skipped).toMatch(/log-normalised/);
    // All 9 labelled cells kept; genes reordered perturbed first: G1, G2, then MT-A, G3, G4.
    expect(prepared.genes).toEqual(['G1', 'G2', 'MT-A', 'G3', 'G4']);
    expect(Array.from(prepared.X.values.subarray(0, 5))).toEqual(
      Array.from(lognorm.X.format === 'dense' ? lognorm.X.values.subarray(0, 5) : []),
    );
  });

  it('refuses count-based QC', () => {
    expect(() =>
      preprocessScreen(lognorm, {
        labels: { column: 'target', control: 'control' },
        qc: { maxMitoFraction: 0.2 },
      }),
    ).toThrow(/count-based QC .* needs raw counts/);
  });
});

describe('helpers', () => {
  it('median as numpy, variance with n − 1', () => {
    expect(median([4, 8, 5])).toBe(5);
    expect(median([4, 8, 5, 6])).toBe(5.5);
    const X = csrFromDense({
      format: 'dense',
      rows: 3,
      cols: 2,
      values: Float32Array.from([1, 0, 2, 0, 3, 4]),
    });
    const variances = geneVariances(X, [0, 1, 2]);
    expect(variances[0]).toBe(1);
    expect(variances[1]).toBeCloseTo(16 / 3, 14);
  });
});

describe('preprocessScreen on the real Papalexi 2021 screen', () => {
  it('normalises every cell to the median control library size and builds 26 environments', async () => {
    const data = (name: string) => path.join(PERTURBATION_DATA_DIR, name);
    const screen = await readMtxScreen({
      matrix: data('papalexi2021_lowmoi_response_matrix.mtx.gz'),
      genes: data('papalexi2021_lowmoi_response_matrix_rows.txt'),
      guides: {
        counts: data('papalexi2021_lowmoi_grna_matrix.mtx.gz'),
        ids: data('papalexi2021_lowmoi_grna_matrix_rows.txt'),
        targets: data('papalexi2021_lowmoi_grna_target_data_frame.csv'),
        assignment: { strategy: 'highest', minUmi: 5 },
      },
    });
    const prepared = preprocessScreen(screen, {
      labels: { column: 'perturbation', control: 'non-targeting' },
      qc: { minGenes: 20 },
      split: {},
    });
    const qc = summary(prepared.summaries, 'qc');
    expect(qc.cellsIn).toBe(20729);
    expect(prepared.cells.length).toBe(qc.cellsKept);

    // The target, recomputed from the raw counts of the kept control cells.
    const raw = toDenseValues(screen.X);
    const rowOf = new Map(screen.cells.map((cell, i) => [cell, i]));
    const controlSizes = prepared.cells
      .filter((_, i) => prepared.environmentOfCell[i] === 0)
      .map((cell) =>
        raw.subarray(rowOf.get(cell)! * 299, (rowOf.get(cell)! + 1) * 299).reduce((a, b) => a + b, 0),
      );
    expect(prepared.targetLibrarySize).toBe(median(controlSizes));
    // All 299 genes kept, so expm1 of each row sums back to the target (float32 rounding aside).
    expect(prepared.genes).toHaveLength(299);
    for (let i = 0; i < prepared.X.rows; i++) {
      let total = 0;
      for (let j = 0; j < 299; j++) total += Math.expm1(prepared.X.values[i * 299 + j]);
      expect(Math.abs(total - prepared.targetLibrarySize!) / prepared.targetLibrarySize!).toBeLessThan(1e-5);
    }
    expect(prepared.environments).toHaveLength(26);
    expect(prepared.environments[0]).toMatchObject({ key: 'non-targeting', kind: 'control' });
    const measured = prepared.environments.filter((e) => e.kind === 'single' && e.geneIndices[0] >= 0);
    expect(prepared.perturbedGeneCount).toBe(measured.length);
    expect(prepared.genes.slice(0, measured.length).sort()).toEqual(measured.map((e) => e.genes[0]).sort());
    // No combinations in this screen: nothing to fold.
    expect(prepared.folds).toEqual([]);
    expect(summary(prepared.summaries, 'split').details.folds).toBe(0);
  }, 60_000);
});
