/**
 * Preprocessing of a screen for the engines (DESIGN.md §5 "Preprocessing" and "Split"):
 *
 *   labels → cell QC → normalise to the median control library size → log1p → gene selection
 *   (perturbed genes first, then highly variable genes on control + training singles) → environments,
 *   and the split (all singles + control in training; combinations into folds, a test combination kept
 *   only if each of its genes is perturbed in training).
 *
 * Each step is a function of its own, returning its result and a StepSummary (cells kept, genes kept,
 * particulars) that the run stores and the UI shows. The work runs on CSR (sparse through log1p, since
 * log1p(0) = 0); only the selected genes are made dense at the end.
 */
import { createRng } from '../engines/random';
import { labelCells, type CellPerturbations, type LabelOptions } from './labels';
import { denseFromCsr, selectCsrColumns, selectCsrRows, toCsr } from './sparse';
import {
  ScreenInputError,
  type CsrMatrix,
  type Environment,
  type ExpressionMatrix,
  type Fold,
  type PreparedScreen,
  type ScreenData,
  type StepSummary,
} from './types';

export type InputKind = 'counts' | 'lognorm';

export interface QcOptions {
  /** Cells with fewer detected genes (non-zero values) are dropped. Default 0. */
  minGenes?: number;
  /** Cells whose mitochondrial share of counts exceeds this are dropped. Default 1 (off). Counts only. */
  maxMitoFraction?: number;
  /** Gene-name prefixes of mitochondrial genes. Default ['MT-', 'mt-']. */
  mitoPrefixes?: string[];
  /** Library-size bounds (total counts per cell). Default [1, ∞): an empty cell cannot be normalised. */
  minCounts?: number;
  maxCounts?: number;
  /** Genes detected in fewer kept cells are dropped (perturbed genes are always kept). Default 0. */
  minCellsPerGene?: number;
}

export interface GeneSelectionOptions {
  /** Genes to keep in all, perturbed genes included; all genes when omitted. */
  maxGenes?: number;
  /** Environment keys whose cells stay out of the variance computation (held-out singles). */
  excludeFromVariance?: string[];
}

export interface SplitOptions {
  /** Folds of combinations. Default 5 (fewer when there are fewer combinations). */
  folds?: number;
  seed?: number;
  /**
   * 'other-folds' (default): a fold trains on control, all singles and the combinations of the other
   * folds; 'none': on control and singles only.
   */
  combinationsInTraining?: 'other-folds' | 'none';
}

export interface PreprocessOptions {
  labels: LabelOptions;
  /** What X holds: raw counts, log-normalised values (used as they are), or 'auto' (default): counts when
   * every stored value is a non-negative integer. */
  input?: InputKind | 'auto';
  qc?: QcOptions;
  genes?: GeneSelectionOptions;
  /** Environments with fewer cells are dropped with their cells. Default 1. */
  minCellsPerEnvironment?: number;
  /** When given, the combinations are split into folds (PreparedScreen.folds). */
  split?: SplitOptions;
}

const OPTIONS_SOURCE = 'preprocessing options';

/** Counts when every stored value is a non-negative integer, else log-normalised. */
export function detectInputKind(X: ExpressionMatrix): InputKind {
  const values = X.format === 'csr' ? X.data : X.values;
  for (let k = 0; k < values.length; k++) {
    const value = values[k];
    if (value < 0 || !Number.isInteger(value)) return 'lognorm';
  }
  return 'counts';
}

/** The median (the mean of the two middle values for an even count), as numpy.median. */
export function median(values: ArrayLike<number>): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

// ---------------------------------------------------------------------------------------------------
// Step 1: labels

export function labelStep(screen: ScreenData, options: LabelOptions) {
  const labels = labelCells(screen.obs, options);
  const keptCells: number[] = [];
  labels.genesOfCell.forEach((genes, i) => {
    if (genes !== null) keptCells.push(i);
  });
  const summary: StepSummary = {
    step: 'labels',
    cellsIn: screen.cells.length,
    cellsKept: keptCells.length,
    genesIn: screen.genes.length,
    genesKept: screen.genes.length,
    details: {
      column: options.column,
      controlCells: labels.controlCells,
      unlabeledCellsDropped: labels.unlabeledCells,
      perturbedGenes: labels.perturbedGenes.length,
    },
  };
  return { labels, keptCells: Int32Array.from(keptCells), summary };
}

// ---------------------------------------------------------------------------------------------------
// Step 2: cell QC

export interface QcResult {
  /** Rows of the input matrix that pass, in order. */
  keptCells: Int32Array;
  /** Columns of the input matrix that pass, in order. */
  keptGenes: Int32Array;
  summary: StepSummary;
}

/**
 * Cell QC on the given rows of X (all genes count towards a cell's metrics), then the gene filter on the
 * kept cells. Each removal criterion is tallied on its own (a cell failing two counts in both).
 */
export function qualityControl(
  X: CsrMatrix,
  rows: ArrayLike<number>,
  genes: string[],
  protectedGenes: ReadonlySet<string>,
  inputKind: InputKind,
  options: QcOptions = {},
): QcResult {
  const minGenes = options.minGenes ?? 0;
  const maxMito = options.maxMitoFraction ?? 1;
  const minCounts = options.minCounts ?? (inputKind === 'counts' ? 1 : 0);
  const maxCounts = options.maxCounts ?? Infinity;
  const minCellsPerGene = options.minCellsPerGene ?? 0;
  if (inputKind === 'lognorm' && (maxMito < 1 || minCounts > 0 || maxCounts < Infinity)) {
    throw new ScreenInputError(
      OPTIONS_SOURCE,
      'count-based QC (library size, mitochondrial fraction) needs raw counts, but X holds log-normalised values',
    );
  }
  const prefixes = options.mitoPrefixes ?? ['MT-', 'mt-'];
  const isMito = Uint8Array.from(genes, (gene) =>
    prefixes.some((prefix) => gene.startsWith(prefix)) ? 1 : 0,
  );

  const kept: number[] = [];
  const removed = { minGenes: 0, mitoFraction: 0, minCounts: 0, maxCounts: 0 };
  const detectedPerCell: number[] = [];
  const countsPerCell: number[] = [];
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    let total = 0;
    let mito = 0;
    let detected = 0;
    for (let k = X.indptr[r]; k < X.indptr[r + 1]; k++) {
      const value = X.data[k];
      if (value === 0) continue;
      detected++;
      total += value;
      if (isMito[X.indices[k]]) mito += value;
    }
    detectedPerCell.push(detected);
    countsPerCell.push(total);
    const failsMinGenes = detected < minGenes;
    const isCounts = inputKind === 'counts';
    const failsMinCounts = isCounts && total < minCounts;
    const failsMaxCounts = isCounts && total > maxCounts;
    const failsMito = isCounts && total > 0 && mito / total > maxMito;
    removed.minGenes += Number(failsMinGenes);
    removed.minCounts += Number(failsMinCounts);
    removed.maxCounts += Number(failsMaxCounts);
    removed.mitoFraction += Number(failsMito);
    if (!failsMinGenes && !failsMinCounts && !failsMaxCounts && !failsMito) kept.push(r);
  }

  const cellsPerGene = new Int32Array(X.cols);
  for (const r of kept) {
    for (let k = X.indptr[r]; k < X.indptr[r + 1]; k++) if (X.data[k] !== 0) cellsPerGene[X.indices[k]]++;
  }
  const keptGenes: number[] = [];
  for (let j = 0; j < X.cols; j++) {
    if (cellsPerGene[j] >= minCellsPerGene || protectedGenes.has(genes[j])) keptGenes.push(j);
  }
  return {
    keptCells: Int32Array.from(kept),
    keptGenes: Int32Array.from(keptGenes),
    summary: {
      step: 'qc',
      cellsIn: rows.length,
      cellsKept: kept.length,
      genesIn: X.cols,
      genesKept: keptGenes.length,
      details: {
        removedMinGenes: removed.minGenes,
        removedMitoFraction: removed.mitoFraction,
        removedMinCounts: removed.minCounts,
        removedMaxCounts: removed.maxCounts,
        genesRemovedMinCells: X.cols - keptGenes.length,
        medianGenesPerCell: median(detectedPerCell),
        medianCountsPerCell: median(countsPerCell),
        mitochondrialGenes: isMito.reduce((a, b) => a + b, 0),
      },
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Steps 3 and 4: normalisation and log1p

/**
 * normalize_total to the median control library size (DESIGN.md §5): with L_i = Σ_j x_ij and
 * m = median of L_i over control cells, x̃_ij = x_ij · m / L_i, so every cell's counts sum to m.
 */
export function normalizeToMedianControl(X: CsrMatrix, isControl: ArrayLike<boolean | number>) {
  const librarySize = new Float64Array(X.rows);
  for (let r = 0; r < X.rows; r++) {
    let total = 0;
    for (let k = X.indptr[r]; k < X.indptr[r + 1]; k++) total += X.data[k];
    librarySize[r] = total;
  }
  const controlSizes: number[] = [];
  for (let r = 0; r < X.rows; r++) if (isControl[r]) controlSizes.push(librarySize[r]);
  const target = median(controlSizes);
  if (!(target > 0)) {
    throw new ScreenInputError(
      OPTIONS_SOURCE,
      controlSizes.length === 0
        ? 'no control cells left to normalise to'
        : 'the median control library size is 0',
    );
  }
  const data = new Float32Array(X.data.length);
  for (let r = 0; r < X.rows; r++) {
    // A cell with no counts stays zero (QC removes such cells by default).
    const scale = librarySize[r] > 0 ? target / librarySize[r] : 0;
    for (let k = X.indptr[r]; k < X.indptr[r + 1]; k++) data[k] = X.data[k] * scale;
  }
  const normalized: CsrMatrix = { ...X, data };
  const summary: StepSummary = {
    step: 'normalize',
    cellsIn: X.rows,
    cellsKept: X.rows,
    genesIn: X.cols,
    genesKept: X.cols,
    details: { targetLibrarySize: target, controlCells: controlSizes.length },
  };
  return { X: normalized, targetLibrarySize: target, summary };
}

/** y = ln(1 + x) on every stored value; zeros stay zero, so the matrix stays sparse. */
export function log1pStep(X: CsrMatrix) {
  const data = new Float32Array(X.data.length);
  for (let k = 0; k < data.length; k++) data[k] = Math.log1p(X.data[k]);
  const summary: StepSummary = {
    step: 'log1p',
    cellsIn: X.rows,
    cellsKept: X.rows,
    genesIn: X.cols,
    genesKept: X.cols,
    details: {},
  };
  return { X: { ...X, data } as CsrMatrix, summary };
}

// ---------------------------------------------------------------------------------------------------
// Step 5: gene selection

/**
 * Per-gene variance (with n − 1) of X over the given rows, zeros included. The highly-variable-gene
 * score: on log-normalised data the variance already discounts the mean–variance trend of raw counts, and
 * it is reproducible by hand, which scanpy's binned dispersions are not.
 */
export function geneVariances(X: CsrMatrix, rows: ArrayLike<number>): Float64Array {
  const n = rows.length;
  const variance = new Float64Array(X.cols);
  if (n < 2) return variance;
  // Two passes (mean, then squared deviations) rather than Σx² − n·mean², which cancels badly.
  const mean = new Float64Array(X.cols);
  const stored = new Int32Array(X.cols);
  for (let i = 0; i < n; i++) {
    const r = rows[i];
    for (let k = X.indptr[r]; k < X.indptr[r + 1]; k++) {
      mean[X.indices[k]] += X.data[k];
      stored[X.indices[k]]++;
    }
  }
  for (let j = 0; j < X.cols; j++) mean[j] /= n;
  for (let i = 0; i < n; i++) {
    const r = rows[i];
    for (let k = X.indptr[r]; k < X.indptr[r + 1]; k++)
      variance[X.indices[k]] += (X.data[k] - mean[X.indices[k]]) ** 2;
  }
  // Cells without a stored value for gene j hold 0: each adds mean².
  for (let j = 0; j < X.cols; j++) variance[j] = (variance[j] + (n - stored[j]) * mean[j] ** 2) / (n - 1);
  return variance;
}

/**
 * Columns to keep: the measured perturbed genes first (in the matrix's gene order), then the most variable
 * of the other genes over `varianceRows` (control + training singles) until `maxGenes`, also in gene
 * order. Ties in variance go to the earlier gene.
 */
export function selectGenes(
  X: CsrMatrix,
  genes: string[],
  perturbedGenes: ReadonlySet<string>,
  varianceRows: ArrayLike<number>,
  maxGenes: number | undefined,
) {
  const perturbedColumns: number[] = [];
  const otherColumns: number[] = [];
  genes.forEach((gene, j) => (perturbedGenes.has(gene) ? perturbedColumns : otherColumns).push(j));
  const measured = new Set(perturbedColumns.map((j) => genes[j]));
  const notMeasured = [...perturbedGenes].filter((gene) => !measured.has(gene)).sort();
  let variableColumns = otherColumns;
  if (maxGenes !== undefined) {
    if (!(maxGenes >= 1)) throw new ScreenInputError(OPTIONS_SOURCE, `maxGenes must be ≥ 1, got ${maxGenes}`);
    const room = Math.max(0, maxGenes - perturbedColumns.length);
    const variance = geneVariances(X, varianceRows);
    variableColumns = [...otherColumns]
      .sort((a, b) => variance[b] - variance[a] || a - b)
      .slice(0, room)
      .sort((a, b) => a - b);
  }
  const columns = [...perturbedColumns, ...variableColumns];
  const summary: StepSummary = {
    step: 'gene-selection',
    cellsIn: X.rows,
    cellsKept: X.rows,
    genesIn: X.cols,
    genesKept: columns.length,
    details: {
      perturbedGenesMeasured: perturbedColumns.length,
      perturbedGenesNotMeasured: notMeasured,
      highlyVariableGenes: variableColumns.length,
      varianceCells: varianceRows.length,
    },
  };
  return { columns, perturbedGeneCount: perturbedColumns.length, summary };
}

// ---------------------------------------------------------------------------------------------------
// Step 6: environments

/**
 * One environment per distinct perturbation set: control first, then singles, then combinations, each
 * sorted by key. Environments with fewer than `minCells` cells are dropped with their cells.
 */
export function buildEnvironments(
  keyOfCell: string[],
  genesOfCell: string[][],
  controlKey: string,
  selectedGenes: string[],
  minCells = 1,
) {
  const cellsByKey = new Map<string, number>();
  const genesByKey = new Map<string, string[]>();
  keyOfCell.forEach((key, i) => {
    cellsByKey.set(key, (cellsByKey.get(key) ?? 0) + 1);
    if (!genesByKey.has(key)) genesByKey.set(key, genesOfCell[i]);
  });
  if ((cellsByKey.get(controlKey) ?? 0) < minCells) {
    throw new ScreenInputError(OPTIONS_SOURCE, `fewer than ${minCells} control cells remain after QC`);
  }
  const kindOf = (key: string): Environment['kind'] => {
    const count = genesByKey.get(key)!.length;
    return count === 0 ? 'control' : count === 1 ? 'single' : 'combination';
  };
  const rank = { control: 0, single: 1, combination: 2 };
  const dropped: string[] = [];
  const keys = [...cellsByKey.keys()]
    .filter((key) => {
      if (cellsByKey.get(key)! >= minCells) return true;
      dropped.push(key);
      return false;
    })
    .sort((a, b) => rank[kindOf(a)] - rank[kindOf(b)] || (a < b ? -1 : a > b ? 1 : 0));
  const columnOf = new Map(selectedGenes.map((gene, j) => [gene, j]));
  const environments: Environment[] = keys.map((key) => {
    const genes = genesByKey.get(key)!;
    return {
      key,
      kind: kindOf(key),
      genes,
      geneIndices: genes.map((gene) => columnOf.get(gene) ?? -1),
      cellCount: cellsByKey.get(key)!,
    };
  });
  const indexOfKey = new Map(keys.map((key, e) => [key, e]));
  const keptCells: number[] = [];
  const environmentOfCell: number[] = [];
  keyOfCell.forEach((key, i) => {
    const e = indexOfKey.get(key);
    if (e === undefined) return;
    keptCells.push(i);
    environmentOfCell.push(e);
  });
  const summary: StepSummary = {
    step: 'environments',
    cellsIn: keyOfCell.length,
    cellsKept: keptCells.length,
    genesIn: selectedGenes.length,
    genesKept: selectedGenes.length,
    details: {
      control: 1,
      singles: environments.filter((e) => e.kind === 'single').length,
      combinations: environments.filter((e) => e.kind === 'combination').length,
      droppedEnvironments: dropped.sort(),
      minCellsPerEnvironment: minCells,
    },
  };
  return { environments, environmentOfCell: Int32Array.from(environmentOfCell), keptCells, summary };
}

// ---------------------------------------------------------------------------------------------------
// Step 7: the split

/**
 * Combinations into folds (DESIGN.md §5 "Split"). Combinations are shuffled with the seed and dealt
 * round-robin. Fold f trains on control + every single (+ the other folds' combinations, by default) and
 * tests on fold f's combinations, keeping a test combination only if each of its genes is perturbed in
 * some training environment of that fold (else the model would have no embedding trained for it).
 */
export function splitCombinations(environments: Environment[], options: SplitOptions = {}) {
  const combinations = environments.flatMap((e, i) => (e.kind === 'combination' ? [i] : []));
  const base = environments.flatMap((e, i) => (e.kind === 'combination' ? [] : [i]));
  const foldCount = Math.min(Math.max(1, Math.floor(options.folds ?? 5)), combinations.length);
  const rng = createRng(options.seed ?? 0);
  const shuffled = [...combinations];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
  }
  const foldOf = new Map(shuffled.map((e, position) => [e, position % foldCount]));
  const withOtherFolds = (options.combinationsInTraining ?? 'other-folds') === 'other-folds';
  const folds: Fold[] = [];
  for (let f = 0; f < foldCount; f++) {
    const train = [...base, ...(withOtherFolds ? combinations.filter((e) => foldOf.get(e) !== f) : [])];
    const trainedGenes = new Set(train.flatMap((e) => environments[e].genes));
    const testEnvironments: number[] = [];
    const dropped: Fold['dropped'] = [];
    for (const e of combinations.filter((c) => foldOf.get(c) === f)) {
      const missingGenes = environments[e].genes.filter((gene) => !trainedGenes.has(gene));
      if (missingGenes.length === 0) testEnvironments.push(e);
      else dropped.push({ key: environments[e].key, missingGenes });
    }
    folds.push({ index: f, trainEnvironments: train, testEnvironments, dropped });
  }
  return {
    folds,
    summary: splitSummary(environments, folds, { mode: 'combinations', seed: options.seed ?? 0 }),
  };
}

/**
 * Leave-one-out over single knockouts (for screens without combinations): one fold per held-out gene,
 * training on everything that does not perturb it. The held-out gene is perturbed in no training
 * environment by construction; LCD gives it the mean embedding (DESIGN.md §5).
 */
export function holdOutSingles(environments: Environment[], heldOutGenes: string[]) {
  const folds: Fold[] = heldOutGenes.map((gene, index) => {
    const test = environments.findIndex((e) => e.kind === 'single' && e.genes[0] === gene);
    if (test < 0) throw new ScreenInputError(OPTIONS_SOURCE, `no single-knockout environment for '${gene}'`);
    const train = environments.flatMap((e, i) => (e.genes.includes(gene) ? [] : [i]));
    return { index, trainEnvironments: train, testEnvironments: [test], dropped: [] };
  });
  return { folds, summary: splitSummary(environments, folds, { mode: 'held-out singles' }) };
}

function splitSummary(
  environments: Environment[],
  folds: Fold[],
  extra: Record<string, string | number>,
): StepSummary {
  const cells = environments.reduce((total, e) => total + e.cellCount, 0);
  const count = (list: number[]) => list.reduce((total, e) => total + environments[e].cellCount, 0);
  return {
    step: 'split',
    cellsIn: cells,
    cellsKept: cells,
    genesIn: 0,
    genesKept: 0,
    details: {
      ...extra,
      folds: folds.length,
      trainCellsPerFold: folds.map((fold) => count(fold.trainEnvironments)),
      testCellsPerFold: folds.map((fold) => count(fold.testEnvironments)),
      testEnvironmentsPerFold: folds.map((fold) => fold.testEnvironments.length),
      droppedTestCombinations: folds.flatMap((fold) => fold.dropped.map((d) => d.key)),
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// The whole pipeline

export function preprocessScreen(screen: ScreenData, options: PreprocessOptions): PreparedScreen {
  const summaries: StepSummary[] = [];
  const inputKind =
    options.input === undefined || options.input === 'auto' ? detectInputKind(screen.X) : options.input;
  const X = toCsr(screen.X);

  const labelled = labelStep(screen, options.labels);
  summaries.push(labelled.summary);
  const labels: CellPerturbations = labelled.labels;
  const perturbed = new Set(labels.perturbedGenes);

  const qc = qualityControl(X, labelled.keptCells, screen.genes, perturbed, inputKind, options.qc);
  summaries.push(qc.summary);
  let work = selectCsrColumns(selectCsrRows(X, qc.keptCells), qc.keptGenes);
  const rawCounts = inputKind === 'counts' ? work : null;
  const genes = Array.from(qc.keptGenes, (j) => screen.genes[j]);
  const cellRows = Array.from(qc.keptCells);
  const keyOfCell = cellRows.map((r) => labels.keyOfCell[r]);
  const genesOfCell = cellRows.map((r) => labels.genesOfCell[r]!);

  let targetLibrarySize: number | null = null;
  if (inputKind === 'counts') {
    const normalized = normalizeToMedianControl(
      work,
      genesOfCell.map((g) => g.length === 0),
    );
    summaries.push(normalized.summary);
    targetLibrarySize = normalized.targetLibrarySize;
    const logged = log1pStep(normalized.X);
    summaries.push(logged.summary);
    work = logged.X;
  } else {
    for (const step of ['normalize', 'log1p'] as const) {
      summaries.push({
        step,
        cellsIn: work.rows,
        cellsKept: work.rows,
        genesIn: work.cols,
        genesKept: work.cols,
        details: { skipped: 'X holds log-normalised values, used as they are' },
      });
    }
  }

  // Variance on control + training singles: every single trains (DESIGN.md §5), minus explicit hold-outs.
  const excluded = new Set(options.genes?.excludeFromVariance ?? []);
  const varianceRows = genesOfCell.flatMap((g, i) =>
    g.length <= 1 && !excluded.has(keyOfCell[i]) ? [i] : [],
  );
  const selection = selectGenes(work, genes, perturbed, varianceRows, options.genes?.maxGenes);
  summaries.push(selection.summary);
  const selectedGenes = selection.columns.map((j) => genes[j]);

  const built = buildEnvironments(
    keyOfCell,
    genesOfCell,
    labels.controlKey,
    selectedGenes,
    options.minCellsPerEnvironment ?? 1,
  );
  summaries.push(built.summary);

  const prepared: PreparedScreen = {
    X: denseFromCsr(work, built.keptCells, selection.columns),
    counts: rawCounts ? denseFromCsr(rawCounts, built.keptCells, selection.columns) : null,
    genes: selectedGenes,
    perturbedGeneCount: selection.perturbedGeneCount,
    cells: built.keptCells.map((i) => screen.cells[cellRows[i]]),
    environments: built.environments,
    environmentOfCell: built.environmentOfCell,
    targetLibrarySize,
    librarySizes: rawCounts
      ? Float64Array.from(built.keptCells, (row) => {
          let sum = 0;
          for (let k = rawCounts.indptr[row]; k < rawCounts.indptr[row + 1]; k++) sum += rawCounts.data[k];
          return sum;
        })
      : null,
    summaries,
    folds: [],
  };
  if (options.split) {
    const split = splitCombinations(prepared.environments, options.split);
    summaries.push(split.summary);
    prepared.folds = split.folds;
  }
  return prepared;
}
