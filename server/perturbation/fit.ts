/**
 * Fitting LCD to a perturbation screen (DESIGN.md §5), shared by `tributary perturb fit` and the
 * perturbation job: preprocess, hold out combinations (a combination only when every gene of it stays
 * perturbed in training), train LCD twice — the `plain` parametrisation for predictions and the
 * `gaussian` one for CLIPR (see server/engines/lcd/model.ts) — and score the held-out combinations
 * against the control and additive baselines.
 */
import { cliprFromLcd } from '../engines/clipr';
import {
  compareWithBaselines,
  createLcdModel,
  LcdModel,
  meanOf,
  sampleLcd,
  trainLcd,
  type DistributionScores,
  type LcdWeights,
} from '../engines/lcd';
import {
  fitZipMeasurement,
  posteriorLatents,
  sampleCounts,
  type ZipMeasurement,
} from '../engines/lcd/measurement';
import { createRng } from '../engines/random';
import { initTensorBackend } from '../engines/tensor';
import { preprocessScreen, type InputKind } from './preprocess';
import type { Environment, ScreenData } from './types';

/** What `perturb fit` writes to DIR/model.json: everything `predict` and `clipr` need. */
export interface PerturbModelFile {
  format: 'tributary.perturb-model/v1';
  /** The model's genes (columns of predictions and of the CLIPR matrix), in order. */
  genes: string[];
  /** Genes with a trained embedding (perturbed in some training condition): what `predict` accepts. */
  perturbed_genes: string[];
  control_label: string;
  perturbation_key: string;
  /** What X held; predictions are in the preprocessed units (log1p of normalised counts for counts). */
  input_kind: InputKind;
  /** The library size cells were normalised to (counts), else null. */
  target_library_size: number | null;
  /** Training conditions (canonical keys) and the held-out combinations. */
  training_conditions: string[];
  held_out: string[];
  /**
   * LCD weights (each with its config and the per-gene standardisation `center` / `scale`): `prediction`
   * has the `plain` parametrisation (sampling), `clipr` the `gaussian` one (CLIPR's fixed points).
   */
  prediction: LcdWeights;
  clipr: LcdWeights;
  /**
   * The ZIP measurement model (counts only, DESIGN.md §5): LCD then models its latents, and predictions are
   * counts drawn through it, normalised to `target_library_size` and log1p'd. Absent: LCD models X itself.
   */
  measurement?: ZipMeasurement;
  /** With `measurement`: the mean share of a training cell's library in the model's genes. */
  selected_count_share?: number;
}

/**
 * Predicted latents in the units of the observed cells (DESIGN.md §5 "measurement model"): counts drawn
 * from ZIP(π_j, u_j·softplus(s_ij)), each cell normalised to the target library size, then log1p — the
 * preprocessing the observed counts went through, whose library sizes counted every gene kept by QC, not
 * only the selected ones (`selectedShare`: the mean share of a training cell's library in the selected
 * genes). Without a measurement model, the latents are the units.
 */
export function latentsToObserved(
  latents: Float32Array,
  measurement: ZipMeasurement | undefined,
  targetLibrarySize: number | null,
  seed: number,
  selectedShare = 1,
): Float32Array {
  if (!measurement || targetLibrarySize === null) return latents;
  const rng = createRng(seed);
  const counts = sampleCounts(measurement, latents, () => rng.uniform());
  const d = measurement.scale.length;
  for (let start = 0; start < counts.length; start += d) {
    let library = 0;
    for (let j = 0; j < d; j++) library += counts[start + j];
    // The observed cells were scaled by target / (library over all QC genes); a predicted cell has only the
    // selected genes, which hold `selectedShare` of a library on average: its library is library / share.
    const factor = library > 0 ? (targetLibrarySize * selectedShare) / library : 0;
    for (let j = 0; j < d; j++) counts[start + j] = Math.log1p(counts[start + j] * factor);
  }
  return counts;
}

const round6 = (value: number) => (Number.isFinite(value) ? Math.round(value * 1e6) / 1e6 : null);

/** Rows of a row-major [n, d] matrix, concatenated. */
function rowsOf(values: Float32Array, d: number, rows: readonly number[]): Float32Array {
  const out = new Float32Array(rows.length * d);
  rows.forEach((row, i) => out.set(values.subarray(row * d, (row + 1) * d), i * d));
  return out;
}

/** How many cells of each kind a held-out condition keeps for the dashboard's prediction explorer. */
const DISTRIBUTION_CELLS = 300;

/**
 * A held-out condition's cells for the prediction explorer: for its top-20 DE genes and its perturbed genes,
 * the values (rounded to 4 decimals) of up to 300 predicted, observed and control cells, subsampled at evenly
 * spaced rows (deterministic). `predicted[g][c]` is gene `genes[g]` in cell c.
 */
export interface ConditionDistributions {
  condition: string;
  kind: 'combination' | 'single';
  genes: string[];
  predicted: number[][];
  observed: number[][];
  control: number[][];
}

function distributionsOf(
  condition: string,
  kind: ConditionDistributions['kind'],
  geneNames: readonly string[],
  columns: readonly number[],
  cells: { predicted: Float32Array; observed: Float32Array; control: Float32Array },
  d: number,
): ConditionDistributions {
  const unique = [...new Set(columns)].filter((j) => j >= 0 && j < d);
  const pick = (values: Float32Array) => {
    const n = Math.floor(values.length / d);
    const count = Math.min(n, DISTRIBUTION_CELLS);
    const rows = Array.from({ length: count }, (_, i) => Math.floor((i * n) / count));
    return unique.map((j) => rows.map((row) => Math.round(values[row * d + j] * 1e4) / 1e4));
  };
  return {
    condition,
    kind,
    genes: unique.map((j) => geneNames[j]),
    predicted: pick(cells.predicted),
    observed: pick(cells.observed),
    control: pick(cells.control),
  };
}

/**
 * Combinations to hold out (DESIGN.md §5 "Split"): shuffled with the seed, taken in turn while every
 * gene of every held-out combination stays perturbed in some training environment (control, all singles
 * and the combinations not held out). Returns environment indices.
 */
export function chooseHeldOutCombinations(
  environments: Environment[],
  count: number,
  seed: number,
): number[] {
  const combinations = environments.flatMap((e, i) => (e.kind === 'combination' ? [i] : []));
  const rng = createRng(seed);
  for (let i = combinations.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [combinations[i], combinations[j]] = [combinations[j], combinations[i]];
  }
  const held: number[] = [];
  for (const candidate of combinations) {
    if (held.length >= count) break;
    const trial = new Set([...held, candidate]);
    const trained = new Set(environments.flatMap((e, i) => (trial.has(i) ? [] : e.genes)));
    if ([...trial].every((e) => environments[e].genes.every((gene) => trained.has(gene))))
      held.push(candidate);
  }
  return held.sort((a, b) => a - b);
}

type MetricRow = {
  rmse_mean: number | null;
  pearson_shift: number | null;
  energy_distance: number | null;
  mmd: number | null;
};

function metricRow(scores: DistributionScores): MetricRow {
  return {
    rmse_mean: round6(scores.rmseMean),
    pearson_shift: round6(scores.pearsonShift),
    energy_distance: round6(scores.energyDistance),
    mmd: round6(scores.mmd),
  };
}

/** The mean of each metric over rows (entries that are null, i.e. undefined, are skipped). */
function averageRows(rows: MetricRow[]): MetricRow {
  const mean = (key: keyof MetricRow) => {
    const values = rows.map((row) => row[key]).filter((v): v is number => v !== null);
    return values.length === 0 ? null : round6(values.reduce((a, b) => a + b, 0) / values.length);
  };
  return {
    rmse_mean: mean('rmse_mean'),
    pearson_shift: mean('pearson_shift'),
    energy_distance: mean('energy_distance'),
    mmd: mean('mmd'),
  };
}

const pairOf = (all: DistributionScores, topDe: DistributionScores) => ({
  all: metricRow(all),
  top_de: metricRow(topDe),
});

const PREDICTORS = ['lcd', 'control', 'additive', 'relative_to_control', 'relative_to_additive'] as const;
type Predictor = (typeof PREDICTORS)[number];
type ComboMetrics = Record<Predictor, { all: MetricRow; top_de: MetricRow }>;
const SINGLE_PREDICTORS = [
  'lcd',
  'control',
  'mean_single_shift',
  'relative_to_control',
  'relative_to_mean_single_shift',
] as const;
type SingleMetrics = Record<(typeof SINGLE_PREDICTORS)[number], { all: MetricRow; top_de: MetricRow }>;

/** A trained model as a checkpoint holds it (FitOptions.checkpoints). */
interface TrainedCheckpoint {
  weights: LcdWeights;
  result: Awaited<ReturnType<typeof trainLcd>>;
  curve: { step: number; loss: number }[];
}

export interface FitOptions {
  perturbationKey: string;
  control: string;
  /** counts: QC, normalisation and log1p; lognorm: X as it is; auto: counts when X holds integers. */
  input?: 'auto' | 'counts' | 'lognorm';
  steps: number;
  seed: number;
  holdOutCombinations?: number;
  maxGenes?: number;
  predictedCells?: number;
  /**
   * The measurement model: 'zip' (default for counts) fits ZIP on the training cells' counts and trains
   * LCD on its latents; 'none' trains LCD on log1p of normalised counts. Log-normalised input has none.
   */
  measurement?: 'zip' | 'none';
  /**
   * Leave-one-out over single knockouts: for each gene, a prediction model trained without any condition
   * that perturbs it (DESIGN.md §5: the held-out gene gets the mean embedding), scored on its observed cells
   * against the control and mean-single-shift baselines. Each costs one more training run.
   */
  holdOutSingles?: string[];
  /** Training steps of each leave-one-out model (default: `steps`). */
  holdOutSingleSteps?: number;
  /**
   * Where each trained model is saved as it finishes, and looked up before training: a retried job (after
   * a worker crash) restores the models it already has instead of training them again.
   */
  checkpoints?: {
    load(name: string): Promise<Uint8Array | null>;
    save(name: string, bytes: string): Promise<void>;
  };
  onProgress?: (
    message: string,
    detail?: { fraction: number; loss: number; etaSeconds: number; step: number },
  ) => void | Promise<void>;
  signal?: AbortSignal;
}

/** Fits a screen; returns what `predict` and `clipr` need, and the summary with held-out metrics. */
export async function fitPerturbationModel(screen: ScreenData, options: FitOptions) {
  const progress = async (
    message: string,
    detail?: { fraction: number; loss: number; etaSeconds: number; step: number },
  ) => {
    await options.onProgress?.(message, detail);
  };
  const started = performance.now();
  const prepared = preprocessScreen(screen, {
    labels: { column: options.perturbationKey, control: options.control },
    input: options.input ?? 'auto',
    // Left-out knockouts take no part in choosing the variable genes (their cells are test data).
    genes:
      options.maxGenes === undefined
        ? undefined
        : { maxGenes: options.maxGenes, excludeFromVariance: options.holdOutSingles },
  });
  const inputKind: InputKind = prepared.targetLibrarySize === null ? 'lognorm' : 'counts';
  const d = prepared.genes.length;
  const environments = prepared.environments;
  if (environments.length === 0 || environments[0].kind !== 'control')
    throw new Error(`no control cells labelled "${options.control}" survived preprocessing`);
  if (!environments.some((e) => e.kind !== 'control'))
    throw new Error('the screen has no perturbed cells: nothing to learn');
  if (d < 2) throw new Error(`${d} gene left after preprocessing; LCD needs at least 2`);
  await progress(
    `read ${screen.cells.length} cells × ${screen.genes.length} genes (${inputKind}); kept ` +
      `${prepared.cells.length} cells × ${d} genes in ${environments.length} conditions`,
  );

  const combinationCount = environments.filter((e) => e.kind === 'combination').length;
  const holdOutCount =
    options.holdOutCombinations ??
    (combinationCount === 0 ? 0 : Math.max(1, Math.round(combinationCount / 5)));
  const heldOut = chooseHeldOutCombinations(environments, holdOutCount, options.seed);
  const heldSet = new Set(heldOut);
  const training = environments.flatMap((_, i) => (heldSet.has(i) ? [] : [i]));
  const trainingIndex = new Map(training.map((e, position) => [e, position]));
  const cellsOf = (environment: number) =>
    Array.from(prepared.environmentOfCell).flatMap((e, cell) => (e === environment ? [cell] : []));
  const trainingCells: number[] = [];
  prepared.environmentOfCell.forEach((e, cell) => {
    if (trainingIndex.has(e)) trainingCells.push(cell);
  });
  // DESIGN.md §5: for counts, the ZIP measurement model is fitted first (on the training cells only, so
  // held-out cells inform nothing) and LCD models its standardised latents.
  let measurement: ZipMeasurement | undefined;
  let measurementCells = 0;
  let modelValues = prepared.X.values;
  if (prepared.counts && (options.measurement ?? 'zip') === 'zip') {
    const zipStarted = performance.now();
    // The cells of left-out knockouts are test data for their fold: the measurement model is fitted
    // without them, and gives them latents afterwards like any other cell.
    const leftOut = new Set(options.holdOutSingles ?? []);
    const zipCells = trainingCells.filter((cell) => {
      const environment = environments[prepared.environmentOfCell[cell]];
      return !(environment.kind === 'single' && leftOut.has(environment.genes[0]));
    });
    const zip = await fitZipMeasurement(rowsOf(prepared.counts.values, d, zipCells), d, {
      signal: options.signal,
      onGene: async ({ gene, genes }) => {
        if (gene % 25 === 0 || gene === genes - 1)
          await progress(`ZIP measurement model: gene ${gene + 1}/${genes}`);
      },
    });
    measurement = zip.measurement;
    modelValues = new Float32Array(prepared.X.values.length);
    const latents = posteriorLatents(measurement, rowsOf(prepared.counts.values, d, trainingCells));
    trainingCells.forEach((cell, row) => modelValues.set(latents.subarray(row * d, (row + 1) * d), cell * d));
    measurementCells = zipCells.length;
    const meanDropout = measurement.dropout.reduce((a, b) => a + b, 0) / d;
    await progress(
      `ZIP measurement model fitted on ${zipCells.length} cells in ` +
        `${((performance.now() - zipStarted) / 1000).toFixed(1)} s (mean dropout π ${meanDropout.toFixed(3)})`,
    );
  }
  let selectedShare = 1;
  if (measurement && prepared.counts && prepared.librarySizes) {
    const shares = trainingCells.map((cell) => {
      let selected = 0;
      for (let j = 0; j < d; j++) selected += prepared.counts!.values[cell * d + j];
      const library = prepared.librarySizes![cell];
      return library > 0 ? selected / library : 1;
    });
    selectedShare = shares.reduce((a, b) => a + b, 0) / Math.max(1, shares.length);
  }
  const toObserved = (latents: Float32Array, seed: number) =>
    latentsToObserved(latents, measurement, prepared.targetLibrarySize, seed, selectedShare);
  const data = {
    dimension: d,
    cells: rowsOf(modelValues, d, trainingCells),
    conditions: training.map((e) => environments[e].genes),
    conditionOfCell: Int32Array.from(trainingCells, (cell) =>
      trainingIndex.get(prepared.environmentOfCell[cell])!,
    ),
  };
  await progress(
    `training on ${trainingCells.length} cells in ${training.length} conditions; held out ` +
      `${heldOut.length} of ${combinationCount} combinations` +
      (heldOut.length ? `: ${heldOut.map((e) => environments[e].key).join(', ')}` : ''),
  );

  const backend = await initTensorBackend();
  const looGenes = [...new Set(options.holdOutSingles ?? [])];
  for (const gene of looGenes) {
    if (!environments.some((e) => e.kind === 'single' && e.genes[0] === gene))
      throw new Error(`--holdout-singles: no single-knockout condition for "${gene}" after preprocessing`);
  }
  // Progress: the two full models, then one phase per leave-one-out gene, share 90% of the bar.
  const phases = 2 + looGenes.length;
  const trainOne = async (
    parametrisation: 'plain' | 'gaussian',
    role: string,
    phase: number,
    trainingData: typeof data = data,
    steps = options.steps,
  ) => {
    const checkpointName = `lcd ${role} ${parametrisation} ${steps}`;
    const saved = await options.checkpoints?.load(checkpointName);
    if (saved) {
      const restored = JSON.parse(Buffer.from(saved).toString('utf8')) as TrainedCheckpoint;
      await progress(`${role} model: restored from the checkpoint of an earlier attempt`, {
        fraction: (0.9 * (phase + 1)) / phases,
        loss: restored.result.finalLoss,
        etaSeconds: 0,
        step: steps,
      });
      return {
        model: LcdModel.fromWeights(restored.weights),
        result: restored.result,
        curve: restored.curve,
      };
    }
    const model = createLcdModel(trainingData, { hidden: 128, parametrisation }, options.seed);
    const curve: { step: number; loss: number }[] = [];
    const training = trainLcd({
      model,
      data: trainingData,
      steps,
      batchSize: 256,
      seed: options.seed,
      reportEvery: Math.max(1, Math.floor(steps / 20)),
      signal: options.signal,
      onStep: async ({ step, totalSteps, loss, etaSeconds }) => {
        curve.push({ step, loss: round6(loss) ?? Number.NaN });
        await progress(
          `${role} model: step ${step}/${totalSteps} loss ${loss.toFixed(4)} ETA ${etaSeconds.toFixed(1)} s`,
          {
            fraction: (0.9 * (phase + step / totalSteps)) / phases,
            loss,
            etaSeconds,
            step,
          },
        );
      },
    });
    try {
      const result = await training;
      const checkpoint: TrainedCheckpoint = { weights: model.getWeights(), result, curve };
      await options.checkpoints?.save(checkpointName, JSON.stringify(checkpoint));
      return { model, result, curve };
    } catch (error) {
      model.dispose();
      throw error;
    }
  };
  const prediction = await trainOne('plain', 'prediction', 0);
  let cliprTrained: Awaited<ReturnType<typeof trainOne>> | undefined;
  try {
    cliprTrained = await trainOne('gaussian', 'CLIPR', 1);
    const trainSeconds = prediction.result.seconds + cliprTrained.result.seconds;

    // Held-out combinations: LCD against the control and additive baselines (DESIGN.md §5 metrics).
    const controlCells = rowsOf(prepared.X.values, d, cellsOf(0));
    const singleOf = new Map(
      environments.flatMap((e, i) => (e.kind === 'single' ? [[e.genes[0], i] as const] : [])),
    );
    const perCombination: ({
      perturbation: string;
      cells_observed: number;
      cells_predicted: number;
      additive_missing_singles: string[];
      top_de_genes: string[];
    } & ComboMetrics)[] = [];
    const evaluationStarted = performance.now();
    const distributions: ConditionDistributions[] = [];
    const geneIndex = new Map(prepared.genes.map((gene, j) => [gene, j]));
    const explorerColumns = (topDe: number[], perturbed: string[]) => [
      ...topDe,
      ...perturbed.flatMap((gene) => (geneIndex.has(gene) ? [geneIndex.get(gene)!] : [])),
    ];
    for (const e of heldOut) {
      const environment = environments[e];
      const observedRows = cellsOf(e);
      const observed = rowsOf(prepared.X.values, d, observedRows);
      const cellCount = options.predictedCells ?? Math.min(1000, Math.max(50, observedRows.length));
      const [latents] = sampleLcd(prediction.model, [environment.genes], cellCount, {
        seed: options.seed + 1000 + e,
      });
      const predicted = toObserved(latents, options.seed + 3000 + e);
      const missing = environment.genes.filter((gene) => !singleOf.has(gene));
      const singleMeans = environment.genes.flatMap((gene) => {
        const single = singleOf.get(gene);
        return single === undefined ? [] : [meanOf(rowsOf(prepared.X.values, d, cellsOf(single)), d)];
      });
      const scores = compareWithBaselines(predicted, observed, controlCells, singleMeans, d);
      perCombination.push({
        perturbation: environment.key,
        cells_observed: observedRows.length,
        cells_predicted: cellCount,
        additive_missing_singles: missing,
        top_de_genes: scores.model.topDeGenes.map((j) => prepared.genes[j]),
        lcd: pairOf(scores.model.all, scores.model.topDe),
        control: pairOf(scores.control.all, scores.control.topDe),
        additive: pairOf(scores.additive.all, scores.additive.topDe),
        relative_to_control: pairOf(scores.relativeToControl.all, scores.relativeToControl.topDe),
        relative_to_additive: pairOf(scores.relativeToAdditive.all, scores.relativeToAdditive.topDe),
      });
      distributions.push(
        distributionsOf(
          environment.key,
          'combination',
          prepared.genes,
          explorerColumns(scores.model.topDeGenes, environment.genes),
          { predicted, observed, control: controlCells },
          d,
        ),
      );
    }
    // Held-out single knockouts, leave-one-out: each gene's model never saw a condition perturbing it, so
    // LCD gives the gene the mean embedding (DESIGN.md §5). Baselines: control, and control plus the mean
    // shift of the fold's training singles (the additive baseline has no single to add here).
    const perHeldOutSingle: ({
      perturbation: string;
      cells_observed: number;
      cells_predicted: number;
      train_seconds: number | null;
      /** Conditions the left-out model trained on: none of them perturbs the gene. */
      training_conditions: string[];
      top_de_genes: string[];
    } & SingleMetrics)[] = [];
    for (const [index, gene] of looGenes.entries()) {
      const test = environments.findIndex((e) => e.kind === 'single' && e.genes[0] === gene);
      const foldEnvironments = training.filter((e) => !environments[e].genes.includes(gene));
      const foldIndex = new Map(foldEnvironments.map((e, position) => [e, position]));
      const foldCells = trainingCells.filter((cell) => foldIndex.has(prepared.environmentOfCell[cell]));
      const foldData = {
        dimension: d,
        cells: rowsOf(modelValues, d, foldCells),
        conditions: foldEnvironments.map((e) => environments[e].genes),
        conditionOfCell: Int32Array.from(foldCells, (cell) =>
          foldIndex.get(prepared.environmentOfCell[cell])!,
        ),
      };
      const fold = await trainOne(
        'plain',
        `leave-out ${gene}`,
        2 + index,
        foldData,
        options.holdOutSingleSteps ?? options.steps,
      );
      try {
        const observedRows = cellsOf(test);
        const observed = rowsOf(prepared.X.values, d, observedRows);
        const cellCount = options.predictedCells ?? Math.min(1000, Math.max(50, observedRows.length));
        const [latents] = sampleLcd(fold.model, [[gene]], cellCount, { seed: options.seed + 2000 + test });
        const predicted = toObserved(latents, options.seed + 4000 + test);
        const trainingSingleMeans = foldEnvironments
          .filter((e) => environments[e].kind === 'single')
          .map((e) => meanOf(rowsOf(prepared.X.values, d, cellsOf(e)), d));
        const meanSingle = Array.from(
          { length: d },
          (_, j) =>
            trainingSingleMeans.reduce((sum, m) => sum + m[j], 0) / Math.max(1, trainingSingleMeans.length),
        );
        const scores = compareWithBaselines(
          predicted,
          observed,
          controlCells,
          trainingSingleMeans.length === 0 ? [] : [meanSingle],
          d,
        );
        perHeldOutSingle.push({
          perturbation: gene,
          cells_observed: observedRows.length,
          cells_predicted: cellCount,
          train_seconds: round6(fold.result.seconds),
          training_conditions: foldEnvironments.map((e) => environments[e].key),
          top_de_genes: scores.model.topDeGenes.map((j) => prepared.genes[j]),
          lcd: pairOf(scores.model.all, scores.model.topDe),
          control: pairOf(scores.control.all, scores.control.topDe),
          mean_single_shift: pairOf(scores.additive.all, scores.additive.topDe),
          relative_to_control: pairOf(scores.relativeToControl.all, scores.relativeToControl.topDe),
          relative_to_mean_single_shift: pairOf(
            scores.relativeToAdditive.all,
            scores.relativeToAdditive.topDe,
          ),
        });
        distributions.push(
          distributionsOf(
            gene,
            'single',
            prepared.genes,
            explorerColumns(scores.model.topDeGenes, [gene]),
            { predicted, observed, control: controlCells },
            d,
          ),
        );
      } finally {
        fold.model.dispose();
      }
    }
    const heldOutSingleMean =
      perHeldOutSingle.length === 0
        ? null
        : (Object.fromEntries(
            SINGLE_PREDICTORS.map((predictor) => [
              predictor,
              {
                all: averageRows(perHeldOutSingle.map((row) => row[predictor].all)),
                top_de: averageRows(perHeldOutSingle.map((row) => row[predictor].top_de)),
              },
            ]),
          ) as SingleMetrics);

    const mean =
      perCombination.length === 0
        ? null
        : (Object.fromEntries(
            PREDICTORS.map((predictor) => [
              predictor,
              {
                all: averageRows(perCombination.map((row) => row[predictor].all)),
                top_de: averageRows(perCombination.map((row) => row[predictor].top_de)),
              },
            ]),
          ) as ComboMetrics);

    const modelFile: PerturbModelFile = {
      format: 'tributary.perturb-model/v1',
      genes: prepared.genes,
      perturbed_genes: prediction.model.config.perturbations,
      control_label: environments[0].key,
      perturbation_key: options.perturbationKey,
      input_kind: inputKind,
      target_library_size: prepared.targetLibrarySize,
      training_conditions: training.map((e) => environments[e].key),
      held_out: heldOut.map((e) => environments[e].key),
      prediction: prediction.model.getWeights(),
      clipr: cliprTrained.model.getWeights(),
      ...(measurement ? { measurement, selected_count_share: selectedShare } : {}),
    };
    const summary = {
      input_kind: inputKind,
      measurement: measurement ? 'zip' : 'none',
      measurement_cells: measurementCells,
      cells: prepared.cells.length,
      genes: d,
      perturbed_genes: modelFile.perturbed_genes.length,
      conditions: {
        control: 1,
        singles: environments.filter((e) => e.kind === 'single').length,
        combinations: combinationCount,
      },
      preprocessing: prepared.summaries.map((step) => ({
        step: step.step,
        cells_in: step.cellsIn,
        cells_kept: step.cellsKept,
        genes_in: step.genesIn,
        genes_kept: step.genesKept,
      })),
      held_out: modelFile.held_out,
      training: {
        backend: backend.name,
        steps: options.steps,
        seed: options.seed,
        cells: trainingCells.length,
        conditions: training.length,
        prediction_model: {
          parametrisation: 'plain',
          seconds: round6(prediction.result.seconds),
          steps_per_s: round6(prediction.result.stepsPerSecond),
          final_loss: round6(prediction.result.finalLoss),
          loss_curve: prediction.curve,
        },
        clipr_model: {
          parametrisation: 'gaussian',
          seconds: round6(cliprTrained.result.seconds),
          steps_per_s: round6(cliprTrained.result.stepsPerSecond),
          final_loss: round6(cliprTrained.result.finalLoss),
          loss_curve: cliprTrained.curve,
        },
      },
      metrics: {
        per_combination: perCombination,
        mean,
        held_out_singles: { per_gene: perHeldOutSingle, mean: heldOutSingleMean },
      },
      train_seconds: round6(trainSeconds),
      evaluation_seconds: round6((performance.now() - evaluationStarted) / 1000),
      seconds: round6((performance.now() - started) / 1000),
    };
    // Kept apart from the summary (which stays small): the prediction explorer's cells per held-out condition.
    return { model: modelFile, summary, distributions };
  } finally {
    prediction.model.dispose();
    cliprTrained?.model.dispose();
  }
}

/** CLIPR's causal matrix of a fitted model: [i][j] is the effect of gene i on gene j (Aᵀ). */
export function cliprMatrix(file: PerturbModelFile) {
  const model = LcdModel.fromWeights(file.clipr);
  try {
    const result = cliprFromLcd(model);
    return { genes: file.genes, effects: result.effects, result };
  } finally {
    model.dispose();
  }
}
