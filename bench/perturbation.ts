/**
 * The engine half of `tributary bench perturbation` (DESIGN.md §5, issue "Must show"):
 *
 * - `runCliprSuite`: synthetic linear screens (every gene perturbed singly, 200 cells each) on
 *   Erdős–Rényi and scale-free graphs, reversible and not, several seeds; LCD trained on each, CLIPR's
 *   AUROC, sign AUROC, Pearson and F1 against the true A, next to the two baselines of §5.
 * - `runComboSuite`: held-out double perturbations of nonlinear screens, LCD's predictions against the
 *   additive and control baselines (energy distance, MMD, RMSE of the mean).
 * - `runLcdSpeed`: LCD training steps per second at a given number of genes.
 *
 * CLIPR runs on a model with the `gaussian` parametrisation and predictions on one with `plain` (the
 * trade-off is explained in server/engines/lcd/model.ts).
 */
import {
  cliprFromLcd,
  negativePrecisionBaseline,
  scoreCausalMatrix,
  totalEffectsBaseline,
} from '../server/engines/clipr';
import {
  compareWithBaselines,
  conditionsFromLabels,
  createLcdModel,
  meanOf,
  sampleLcd,
  trainLcd,
  type LcdConfig,
} from '../server/engines/lcd';
import { createRng } from '../server/engines/random';
import { initTensorBackend } from '../server/engines/tensor';
import { syntheticScreen, type SyntheticGraph, type SyntheticScreen } from '../server/perturbation/synthetic';

type ModelOptions = Partial<Omit<LcdConfig, 'dimension' | 'perturbations'>>;

export interface CliprSuiteOptions {
  /** Genes d (default 30, the acceptance size). */
  genes?: number;
  graphs?: SyntheticGraph[];
  /** Which linear families: true = reversible (symmetric A), false = non-reversible (default both). */
  reversible?: boolean[];
  seeds?: number[];
  cellsPerCondition?: number;
  /** LCD training steps per screen (default 1000). */
  steps?: number;
  batchSize?: number;
  model?: ModelOptions;
  onProgress?: (message: string) => void;
}

export interface CliprSuiteRow {
  graph: SyntheticGraph;
  reversible: boolean;
  genes: number;
  seed: number;
  auroc: number;
  sign_auroc: number;
  pearson: number;
  f1: number;
  auroc_precision_baseline: number;
  sign_auroc_precision_baseline: number;
  pearson_precision_baseline: number;
  auroc_total_effects_baseline: number;
  sign_auroc_total_effects_baseline: number;
  pearson_total_effects_baseline: number;
  train_seconds: number;
  clipr_seconds: number;
}

const round = (value: number, digits = 4) => Math.round(value * 10 ** digits) / 10 ** digits;

/** Cells with one label, row-major. */
function cellsWithLabel(screen: SyntheticScreen, label: string): Float32Array {
  const d = screen.genes.length;
  const rows: number[] = [];
  screen.labels.forEach((l, i) => {
    if (l === label) rows.push(i);
  });
  const out = new Float32Array(rows.length * d);
  rows.forEach((row, i) => out.set(screen.cells.subarray(row * d, (row + 1) * d), i * d));
  return out;
}

/** Cells whose label passes `keep`, with their labels. */
function subset(screen: SyntheticScreen, keep: (label: string) => boolean) {
  const d = screen.genes.length;
  const rows: number[] = [];
  screen.labels.forEach((label, i) => {
    if (keep(label)) rows.push(i);
  });
  const cells = new Float32Array(rows.length * d);
  rows.forEach((row, i) => cells.set(screen.cells.subarray(row * d, (row + 1) * d), i * d));
  return { cells, labels: rows.map((row) => screen.labels[row]) };
}

export async function runCliprSuite(options: CliprSuiteOptions = {}): Promise<CliprSuiteRow[]> {
  await initTensorBackend();
  const genes = options.genes ?? 30;
  const rows: CliprSuiteRow[] = [];
  for (const graph of options.graphs ?? (['er', 'sf'] as const)) {
    for (const reversible of options.reversible ?? [true, false]) {
      for (const seed of options.seeds ?? [1, 2, 3]) {
        const screen = syntheticScreen({
          genes,
          graph,
          family: reversible ? 'reversible' : 'nonreversible',
          seed,
          cellsPerCondition: options.cellsPerCondition ?? 200,
        });
        const { conditions, conditionOfCell } = conditionsFromLabels(screen.labels);
        const data = { dimension: genes, cells: screen.cells, conditions, conditionOfCell };
        const model = createLcdModel(
          data,
          { hidden: 128, parametrisation: 'gaussian', ...options.model },
          seed,
        );
        try {
          const training = await trainLcd({
            model,
            data,
            steps: options.steps ?? 1000,
            batchSize: options.batchSize ?? 256,
            seed,
          });
          const started = performance.now();
          const clipr = cliprFromLcd(model);
          const cliprSeconds = (performance.now() - started) / 1000;
          const ours = scoreCausalMatrix(clipr.drift, screen.trueMatrix);
          const precision = scoreCausalMatrix(
            negativePrecisionBaseline(cellsWithLabel(screen, 'control'), genes).matrix,
            screen.trueMatrix,
          );
          const controlMean = meanOf(cellsWithLabel(screen, 'control'), genes);
          const singles = new Map<number, number[]>();
          for (const condition of screen.conditions) {
            if (condition.targets.length !== 1) continue;
            singles.set(condition.targets[0], meanOf(cellsWithLabel(screen, condition.label), genes));
          }
          const total = scoreCausalMatrix(totalEffectsBaseline(controlMean, singles), screen.trueMatrix);
          const row: CliprSuiteRow = {
            graph,
            reversible,
            genes,
            seed,
            auroc: round(ours.auroc),
            sign_auroc: round(ours.signAuroc),
            pearson: round(ours.pearson),
            f1: round(ours.f1),
            auroc_precision_baseline: round(precision.auroc),
            sign_auroc_precision_baseline: round(precision.signAuroc),
            pearson_precision_baseline: round(precision.pearson),
            auroc_total_effects_baseline: round(total.auroc),
            sign_auroc_total_effects_baseline: round(total.signAuroc),
            pearson_total_effects_baseline: round(total.pearson),
            train_seconds: round(training.seconds, 2),
            clipr_seconds: round(cliprSeconds, 2),
          };
          rows.push(row);
          options.onProgress?.(JSON.stringify(row));
        } finally {
          model.dispose();
        }
      }
    }
  }
  return rows;
}

export interface ComboSuiteOptions {
  genes?: number;
  graph?: SyntheticGraph;
  seeds?: number[];
  /** Doubles measured in the screen (default 60), of which `heldOut` (default 10) are held out. */
  doubles?: number;
  heldOut?: number;
  cellsPerCondition?: number;
  steps?: number;
  batchSize?: number;
  model?: ModelOptions;
  /** Predicted cells per held-out double (default 200). */
  predictedCells?: number;
  onProgress?: (message: string) => void;
}

export interface ComboSuiteSeed {
  seed: number;
  energy_distance_lcd: number;
  energy_distance_additive: number;
  energy_distance_control: number;
  mmd_lcd: number;
  mmd_additive: number;
  rmse_mean_lcd: number;
  rmse_mean_additive: number;
  train_seconds: number;
}

export interface ComboSuiteResult {
  genes: number;
  held_out_doubles: number;
  /** Means over seeds and held-out doubles (all genes). */
  energy_distance_lcd: number;
  energy_distance_additive: number;
  energy_distance_control: number;
  mmd_lcd: number;
  mmd_additive: number;
  rmse_mean_lcd: number;
  rmse_mean_additive: number;
  per_seed: ComboSuiteSeed[];
}

/**
 * Nonlinear screens (DESIGN.md §5): control, every single and `doubles` doubles; LCD trains on all but
 * `heldOut` doubles (every held-out gene is perturbed singly in training, as the split requires) and
 * predicts the held-out ones.
 */
export async function runComboSuite(options: ComboSuiteOptions = {}): Promise<ComboSuiteResult> {
  await initTensorBackend();
  const genes = options.genes ?? 15;
  const heldOutCount = options.heldOut ?? 10;
  const perSeed: ComboSuiteSeed[] = [];
  for (const seed of options.seeds ?? [1, 2, 3]) {
    const screen = syntheticScreen({
      genes,
      graph: options.graph ?? 'er',
      family: 'nonlinear',
      seed,
      doubles: options.doubles ?? 60,
      cellsPerCondition: options.cellsPerCondition ?? 200,
    });
    const doubles = screen.conditions.filter((c) => c.targets.length === 2).map((c) => c.label);
    const heldOut = new Set(doubles.slice(0, heldOutCount));
    const training = subset(screen, (label) => !heldOut.has(label));
    const { conditions, conditionOfCell } = conditionsFromLabels(training.labels);
    const data = { dimension: genes, cells: training.cells, conditions, conditionOfCell };
    const model = createLcdModel(data, { hidden: 128, parametrisation: 'plain', ...options.model }, seed);
    try {
      const trained = await trainLcd({
        model,
        data,
        steps: options.steps ?? 2000,
        batchSize: options.batchSize ?? 256,
        seed,
      });
      const sets = [...heldOut].map((label) => label.split('+'));
      const predicted = sampleLcd(model, sets, options.predictedCells ?? 200, { seed: seed + 1000 });
      const control = cellsWithLabel(screen, 'control');
      const sums = {
        lcd: 0,
        additive: 0,
        control: 0,
        mmdLcd: 0,
        mmdAdditive: 0,
        rmseLcd: 0,
        rmseAdditive: 0,
      };
      [...heldOut].forEach((label, i) => {
        const singleMeans = label.split('+').map((gene) => meanOf(cellsWithLabel(screen, gene), genes));
        const scores = compareWithBaselines(
          predicted[i],
          cellsWithLabel(screen, label),
          control,
          singleMeans,
          genes,
        );
        sums.lcd += scores.model.all.energyDistance;
        sums.additive += scores.additive.all.energyDistance;
        sums.control += scores.control.all.energyDistance;
        sums.mmdLcd += scores.model.all.mmd;
        sums.mmdAdditive += scores.additive.all.mmd;
        sums.rmseLcd += scores.model.all.rmseMean;
        sums.rmseAdditive += scores.additive.all.rmseMean;
      });
      const n = heldOut.size;
      const entry: ComboSuiteSeed = {
        seed,
        energy_distance_lcd: round(sums.lcd / n),
        energy_distance_additive: round(sums.additive / n),
        energy_distance_control: round(sums.control / n),
        mmd_lcd: round(sums.mmdLcd / n, 5),
        mmd_additive: round(sums.mmdAdditive / n, 5),
        rmse_mean_lcd: round(sums.rmseLcd / n),
        rmse_mean_additive: round(sums.rmseAdditive / n),
        train_seconds: round(trained.seconds, 2),
      };
      perSeed.push(entry);
      options.onProgress?.(JSON.stringify(entry));
    } finally {
      model.dispose();
    }
  }
  const mean = (key: keyof ComboSuiteSeed) =>
    round(perSeed.reduce((sum, entry) => sum + entry[key], 0) / perSeed.length, 5);
  return {
    genes,
    held_out_doubles: heldOutCount,
    energy_distance_lcd: mean('energy_distance_lcd'),
    energy_distance_additive: mean('energy_distance_additive'),
    energy_distance_control: mean('energy_distance_control'),
    mmd_lcd: mean('mmd_lcd'),
    mmd_additive: mean('mmd_additive'),
    rmse_mean_lcd: mean('rmse_mean_lcd'),
    rmse_mean_additive: mean('rmse_mean_additive'),
    per_seed: perSeed,
  };
}

export interface LcdSpeedResult {
  genes: number;
  steps_per_s: number;
  steps: number;
  batch_size: number;
  hidden: number;
  parameters: number;
  backend: string;
}

/**
 * LCD training steps per second at d genes (every gene perturbed, so d embeddings): random standardised
 * cells (the speed depends on shapes only), default model (hidden 256, 3 layers), batch 256. Ten warm-up
 * steps, then as many steps as fit in `seconds`.
 */
export async function runLcdSpeed(
  d: number,
  options: { seconds?: number; model?: ModelOptions } = {},
): Promise<LcdSpeedResult> {
  const backend = await initTensorBackend();
  const rng = createRng(d);
  const cellsPerCondition = 20;
  const conditions: string[][] = [[], ...Array.from({ length: d }, (_, k) => [`G${k}`])];
  const conditionOfCell = Int32Array.from({ length: conditions.length * cellsPerCondition }, (_, i) =>
    Math.floor(i / cellsPerCondition),
  );
  const cells = Float32Array.from({ length: conditionOfCell.length * d }, () => rng.normal());
  const data = { dimension: d, cells, conditions, conditionOfCell };
  const model = createLcdModel(data, options.model ?? {}, 0);
  const batchSize = 256;
  try {
    await trainLcd({ model, data, steps: 10, batchSize, seed: 1, ema: false });
    const calibration = await trainLcd({ model, data, steps: 10, batchSize, seed: 2, ema: false });
    const steps = Math.max(10, Math.round(calibration.stepsPerSecond * (options.seconds ?? 5)));
    const timed = await trainLcd({ model, data, steps, batchSize, seed: 3 });
    return {
      genes: d,
      steps_per_s: round(timed.stepsPerSecond, 2),
      steps,
      batch_size: batchSize,
      hidden: model.config.hidden,
      parameters: model.countParameters(),
      backend: backend.name,
    };
  } finally {
    model.dispose();
  }
}
