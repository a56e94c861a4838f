/**
 * Prediction metrics (DESIGN.md §5 "Predictions"): predicted cells for a perturbation are compared with the
 * observed ones, next to the baselines control (the control cells themselves) and additive (control cells
 * shifted by the sum of the single-gene mean shifts), by
 *
 * - RMSE of the mean: √(mean_j (m̂_j − m_j)²);
 * - Pearson correlation of the mean shift against control: corr_j(m̂_j − c_j, m_j − c_j);
 * - energy distance 2E‖X−Y‖ − E‖X−X'‖ − E‖Y−Y'‖ (Székely & Rizzo), the within-sample terms as
 *   U-statistics (over distinct pairs), so the estimate is unbiased and comparisons between predictors of
 *   different spread are fair;
 * - MMD² with RBF kernels k_h(x, y) = exp(−‖x−y‖²/(2h²)), unbiased (Gretton et al. 2012, eq. 3), averaged
 *   over several bandwidths h (by default 0.5, 1 and 2 × the median distance between observed cells: they
 *   depend on the observed cells only, so every predictor is scored with the same kernels);
 *
 * each on all genes and on the top-20 differentially expressed genes (largest |observed − control| mean
 * shift). Cells are row-major [n, d] arrays.
 */

export interface DistributionScores {
  rmseMean: number;
  pearsonShift: number;
  energyDistance: number;
  mmd: number;
}

export interface PredictionScores {
  all: DistributionScores;
  topDe: DistributionScores;
  /** Indices of the top differentially expressed genes used for `topDe`. */
  topDeGenes: number[];
}

export interface PredictionMetricsOptions {
  /** Number of top DE genes (default 20). */
  topDe?: number;
  /** RBF bandwidths for all genes (default: 0.5, 1, 2 × median observed distance, per gene subset). */
  bandwidths?: number[];
  /** At most this many cells per side enter energy distance and MMD (evenly spaced; default 1000). */
  maxCells?: number;
}

function cellCount(cells: ArrayLike<number>, d: number, name: string): number {
  const n = cells.length / d;
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`${name}: ${cells.length} values are not whole cells of ${d} genes`);
  return n;
}

export function meanOf(cells: ArrayLike<number>, d: number): number[] {
  const n = cellCount(cells, d, 'cells');
  const mean = new Array<number>(d).fill(0);
  for (let i = 0; i < cells.length; i++) mean[i % d] += cells[i];
  return mean.map((v) => v / n);
}

/** Columns `genes` of row-major cells, keeping at most `maxCells` evenly spaced cells, as Float64Array. */
function select(
  cells: ArrayLike<number>,
  d: number,
  genes: readonly number[],
  maxCells: number,
): Float64Array {
  const n = cellCount(cells, d, 'cells');
  const kept = Math.min(n, maxCells);
  const out = new Float64Array(kept * genes.length);
  for (let r = 0; r < kept; r++) {
    const source = Math.floor((r * n) / kept);
    genes.forEach((g, j) => (out[r * genes.length + j] = cells[source * d + g]));
  }
  return out;
}

function distance(a: Float64Array, i: number, b: Float64Array, j: number, d: number): number {
  let sum = 0;
  for (let k = 0; k < d; k++) {
    const diff = a[i * d + k] - b[j * d + k];
    sum += diff * diff;
  }
  return Math.sqrt(sum);
}

/** Mean distance over all pairs across (within = false) or over distinct pairs within one sample. */
function meanDistance(a: Float64Array, b: Float64Array, d: number, within: boolean): number {
  const n = a.length / d;
  const m = b.length / d;
  let sum = 0;
  if (within) {
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) sum += distance(a, i, a, j, d);
    return (2 * sum) / (n * (n - 1));
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) sum += distance(a, i, b, j, d);
  return sum / (n * m);
}

/**
 * Energy distance 2E‖X−Y‖ − E‖X−X'‖ − E‖Y−Y'‖ between two samples of d-vectors (within-sample terms over
 * distinct pairs; each sample needs ≥ 2 cells).
 */
export function energyDistance(x: ArrayLike<number>, y: ArrayLike<number>, d: number): number {
  const a = Float64Array.from(x);
  const b = Float64Array.from(y);
  if (a.length / d < 2 || b.length / d < 2)
    throw new Error('energy distance needs at least two cells per sample');
  return 2 * meanDistance(a, b, d, false) - meanDistance(a, a, d, true) - meanDistance(b, b, d, true);
}

/** Unbiased MMD² averaged over RBF bandwidths h (k = exp(−‖x−y‖²/(2h²))). */
export function mmdRbf(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  d: number,
  bandwidths: readonly number[],
): number {
  const a = Float64Array.from(x);
  const b = Float64Array.from(y);
  const n = a.length / d;
  const m = b.length / d;
  if (n < 2 || m < 2) throw new Error('MMD needs at least two cells per sample');
  if (bandwidths.length === 0 || !bandwidths.every((h) => h > 0))
    throw new Error('bandwidths must be positive');
  const inv = bandwidths.map((h) => 1 / (2 * h * h));
  const kernelMean = (p: Float64Array, q: Float64Array, within: boolean) => {
    const rows = p.length / d;
    const cols = q.length / d;
    let sum = 0;
    for (let i = 0; i < rows; i++)
      for (let j = within ? i + 1 : 0; j < cols; j++) {
        let squared = 0;
        for (let k = 0; k < d; k++) {
          const diff = p[i * d + k] - q[j * d + k];
          squared += diff * diff;
        }
        for (const c of inv) sum += Math.exp(-squared * c);
      }
    const pairs = within ? (rows * (rows - 1)) / 2 : rows * cols;
    return sum / (pairs * inv.length);
  };
  return kernelMean(a, a, true) + kernelMean(b, b, true) - 2 * kernelMean(a, b, false);
}

/** Median distance between distinct cells of a sample (evenly spaced subsample of at most 300 cells). */
export function medianDistance(cells: ArrayLike<number>, d: number): number {
  const sample = select(
    cells,
    d,
    Array.from({ length: d }, (_, j) => j),
    300,
  );
  const n = sample.length / d;
  const distances: number[] = [];
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) distances.push(distance(sample, i, sample, j, d));
  distances.sort((p, q) => p - q);
  return distances.length > 0 ? distances[Math.floor(distances.length / 2)] : 1;
}

function pearsonOf(a: readonly number[], b: readonly number[]): number {
  const n = a.length;
  const ma = a.reduce((s, v) => s + v, 0) / n;
  const mb = b.reduce((s, v) => s + v, 0) / n;
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < n; i++) {
    ab += (a[i] - ma) * (b[i] - mb);
    aa += (a[i] - ma) ** 2;
    bb += (b[i] - mb) ** 2;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : Number.NaN;
}

/** The genes with the largest |observed − control| mean shift, at most `count`, largest first. */
export function topDifferentialGenes(
  observedMean: readonly number[],
  controlMean: readonly number[],
  count: number,
): number[] {
  return observedMean
    .map((value, j) => ({ j, shift: Math.abs(value - controlMean[j]) }))
    .sort((p, q) => q.shift - p.shift || p.j - q.j)
    .slice(0, count)
    .map(({ j }) => j);
}

function scoresOn(
  genes: readonly number[],
  predicted: ArrayLike<number>,
  observed: ArrayLike<number>,
  means: { predicted: number[]; observed: number[]; control: number[] },
  d: number,
  bandwidths: readonly number[] | undefined,
  maxCells: number,
): DistributionScores {
  const k = genes.length;
  const predictedShift = genes.map((g) => means.predicted[g] - means.control[g]);
  const observedShift = genes.map((g) => means.observed[g] - means.control[g]);
  const rmseMean = Math.sqrt(
    genes.reduce((s, g) => s + (means.predicted[g] - means.observed[g]) ** 2, 0) / k,
  );
  const p = select(predicted, d, genes, maxCells);
  const o = select(observed, d, genes, maxCells);
  const median = medianDistance(o, k);
  const widths = bandwidths ?? [0.5, 1, 2].map((f) => f * (median > 0 ? median : 1));
  return {
    rmseMean,
    pearsonShift: k >= 2 ? pearsonOf(predictedShift, observedShift) : Number.NaN,
    energyDistance: energyDistance(p, o, k),
    mmd: mmdRbf(p, o, k, widths),
  };
}

/** All of DESIGN.md §5's prediction metrics for one predicted perturbation against its observed cells. */
export function predictionMetrics(
  predicted: ArrayLike<number>,
  observed: ArrayLike<number>,
  control: ArrayLike<number>,
  d: number,
  options: PredictionMetricsOptions = {},
): PredictionScores {
  const maxCells = options.maxCells ?? 1000;
  const means = {
    predicted: meanOf(predicted, d),
    observed: meanOf(observed, d),
    control: meanOf(control, d),
  };
  const allGenes = Array.from({ length: d }, (_, j) => j);
  const topDeGenes = topDifferentialGenes(means.observed, means.control, options.topDe ?? 20);
  return {
    all: scoresOn(allGenes, predicted, observed, means, d, options.bandwidths, maxCells),
    topDe: scoresOn(topDeGenes, predicted, observed, means, d, undefined, maxCells),
    topDeGenes,
  };
}

/**
 * The additive baseline's cells: every control cell shifted by Σ_k (μ_k − μ_ctrl), the sum of the
 * single-gene mean shifts of the genes in the combination (DESIGN.md §5).
 */
export function additiveBaseline(
  control: ArrayLike<number>,
  singleMeans: readonly (readonly number[])[],
  d: number,
): Float32Array {
  const controlMean = meanOf(control, d);
  const shift = new Array<number>(d).fill(0);
  for (const mean of singleMeans) for (let j = 0; j < d; j++) shift[j] += mean[j] - controlMean[j];
  const out = new Float32Array(control.length);
  for (let i = 0; i < control.length; i++) out[i] = control[i] + shift[i % d];
  return out;
}

/**
 * Relative change of a metric against a baseline, (metric − baseline)/|baseline|: negative is better for
 * RMSE, energy distance and MMD, positive for Pearson.
 */
export function relativeChange(metric: number, baseline: number): number {
  return baseline === 0 ? Number.NaN : (metric - baseline) / Math.abs(baseline);
}

/** Metrics of a prediction and of both baselines, with the prediction's relative change against each. */
export function compareWithBaselines(
  predicted: ArrayLike<number>,
  observed: ArrayLike<number>,
  control: ArrayLike<number>,
  singleMeans: readonly (readonly number[])[],
  d: number,
  options: PredictionMetricsOptions = {},
): {
  model: PredictionScores;
  control: PredictionScores;
  additive: PredictionScores;
  relativeToControl: { all: DistributionScores; topDe: DistributionScores };
  relativeToAdditive: { all: DistributionScores; topDe: DistributionScores };
} {
  const model = predictionMetrics(predicted, observed, control, d, options);
  const controlScores = predictionMetrics(control, observed, control, d, options);
  const additive = predictionMetrics(
    additiveBaseline(control, singleMeans, d),
    observed,
    control,
    d,
    options,
  );
  const relative = (base: PredictionScores) => {
    const of = (m: DistributionScores, b: DistributionScores): DistributionScores => ({
      rmseMean: relativeChange(m.rmseMean, b.rmseMean),
      pearsonShift: relativeChange(m.pearsonShift, b.pearsonShift),
      energyDistance: relativeChange(m.energyDistance, b.energyDistance),
      mmd: relativeChange(m.mmd, b.mmd),
    });
    return { all: of(model.all, base.all), topDe: of(model.topDe, base.topDe) };
  };
  return {
    model,
    control: controlScores,
    additive,
    relativeToControl: relative(controlScores),
    relativeToAdditive: relative(additive),
  };
}
