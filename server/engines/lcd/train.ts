/**
 * Training LCD by denoising score matching (DESIGN.md §5, loss.ts) with Adam on minibatches: each step
 * draws cells uniformly, one noise level per cell uniformly from the geometric schedule, and ε ~ N(0, I).
 *
 * Like the flows' trainer (server/engines/flows/train.ts) the loop is asynchronous only to yield to the
 * event loop and await the progress callback, which may throw to cancel; an AbortSignal cancels too. Every
 * tensor the loop made is released however it ends.
 */
import { adam, type AdamOptimizer } from '../optimizers';
import { createRng } from '../random';
import { runTrainingLoop, tailMeanLoss, WeightAverage, type TrainStepInfo } from '../trainingLoop';
import { randomNormal, tf } from '../tensor';
import { denoisingScoreMatchingLoss } from './loss';
import {
  defaultLcdConfig,
  LcdModel,
  pooledGaussianPart,
  type GaussianPart,
  standardisationOf,
  type LcdConfig,
  type PerturbationSet,
} from './model';

export interface LcdTrainingData {
  /** Number of genes d. */
  dimension: number;
  /** Cells in gene units, row-major [n, d]. */
  cells: ArrayLike<number>;
  /** The perturbation set of each distinct condition (control: the empty set). */
  conditions: PerturbationSet[];
  /** The condition index of each cell. */
  conditionOfCell: ArrayLike<number>;
}

/** Progress of LCD training: the shared loop's step report. */
export type LcdTrainStepInfo = TrainStepInfo;

export interface TrainLcdOptions {
  model: LcdModel;
  data: LcdTrainingData;
  steps: number;
  /** Cells per minibatch (default 256). */
  batchSize?: number;
  /** Adam's learning rate (default 1e-3). */
  learningRate?: number;
  /**
   * Learning-rate drops: at each listed fraction of the steps the rate is multiplied by `factor` (default
   * [0.6, 0.85] and 0.3). A drop restarts Adam's moments, which is harmless at these points and keeps the
   * shared optimiser (server/engines/optimizers.ts) unchanged. The late small steps matter for LCD: CLIPR
   * reads the drift at σ_min, where an error δ in h_θ is an error δ/σ_min in f_θ.
   */
  decay?: { at: number[]; factor: number };
  /** Exponential moving average of the weights (default decay 0.995); the model ends with the average. */
  ema?: { decay: number } | false;
  /**
   * Antithetic noise pairs (default true): each drawn (cell, level, ε) also enters as (cell, level, −ε).
   * The loss keeps its expectation, but the ±ε terms of the two gradients cancel to first order, which at
   * small σ removes almost all of the DSM gradient's variance (the signal there is O(σ), the noise O(1)).
   */
  antithetic?: boolean;
  seed: number;
  onStep?: (info: LcdTrainStepInfo) => void | Promise<void>;
  /** Default: about 100 reports per run. */
  reportEvery?: number;
  signal?: AbortSignal;
  /** Yield to the event loop at least this often (milliseconds, default 50). */
  yieldEveryMs?: number;
}

export interface TrainLcdResult {
  lossCurve: { step: number; loss: number }[];
  /** Mean loss over the last 5 % of steps. */
  finalLoss: number;
  stepsPerSecond: number;
  seconds: number;
}

/**
 * Parses labels such as `control`, `G3`, `G3+G7` into conditions and a condition index per cell.
 * `controlLabel` marks the empty set; `separator` joins the genes of a combination.
 */
export function conditionsFromLabels(
  labels: readonly string[],
  controlLabel = 'control',
  separator = '+',
): { conditions: string[][]; conditionLabels: string[]; conditionOfCell: Int32Array } {
  const indexOf = new Map<string, number>();
  const conditions: string[][] = [];
  const conditionLabels: string[] = [];
  const conditionOfCell = new Int32Array(labels.length);
  labels.forEach((label, cell) => {
    let index = indexOf.get(label);
    if (index === undefined) {
      index = conditions.length;
      indexOf.set(label, index);
      conditionLabels.push(label);
      conditions.push(label === controlLabel ? [] : label.split(separator).filter((name) => name.length > 0));
    }
    conditionOfCell[cell] = index;
  });
  return { conditions, conditionLabels, conditionOfCell };
}

/**
 * A fresh model for `data`: the standardisation is the per-gene mean and standard deviation of all
 * training cells (DESIGN.md §5: "the diffusion is trained on standardised latents"), the genes with
 * embeddings are those perturbed in some training condition, and the Gaussian part (model.ts) is the pooled
 * within-condition covariance of the standardised training cells.
 */
export function createLcdModel(
  data: LcdTrainingData,
  config: Partial<Omit<LcdConfig, 'dimension' | 'perturbations'>> = {},
  seed = 0,
): LcdModel {
  const perturbations = [...new Set(data.conditions.flat())].sort();
  const d = data.dimension;
  const { center, scale } = standardisationOf(data.cells, d);
  const wantsGaussian = (config.parametrisation ?? defaultLcdConfig.parametrisation) === 'gaussian';
  let gaussian: GaussianPart | undefined;
  if (wantsGaussian) {
    const latents = new Float64Array(data.cells.length);
    for (let i = 0; i < latents.length; i++) latents[i] = (data.cells[i] - center[i % d]) / scale[i % d];
    gaussian = pooledGaussianPart(latents, d, data.conditionOfCell);
  }
  return LcdModel.create({ ...config, dimension: d, perturbations }, { center, scale }, seed, gaussian);
}

function validateData(data: LcdTrainingData, model: LcdModel): number {
  const d = data.dimension;
  if (d !== model.dimension) throw new Error(`data has ${d} genes, the model ${model.dimension}`);
  const n = data.cells.length / d;
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`cells hold ${data.cells.length} values, not a multiple of ${d}`);
  if (data.conditionOfCell.length !== n)
    throw new Error(`${data.conditionOfCell.length} condition indices for ${n} cells`);
  for (let i = 0; i < n; i++) {
    const c = data.conditionOfCell[i];
    if (!Number.isInteger(c) || c < 0 || c >= data.conditions.length)
      throw new Error(`cell ${i} has condition ${c}`);
  }
  return n;
}

export async function trainLcd(options: TrainLcdOptions): Promise<TrainLcdResult> {
  const { model, data, steps, seed, onStep, signal } = options;
  const batchSize = options.batchSize ?? 256;
  const learningRate = options.learningRate ?? 1e-3;
  const decay = options.decay ?? { at: [0.6, 0.85], factor: 0.3 };
  if (!Number.isInteger(steps) || steps < 1)
    throw new Error(`steps must be a positive integer, got ${steps}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error('batchSize must be a positive integer');
  if (!(learningRate > 0)) throw new Error(`learningRate must be positive, got ${learningRate}`);
  const cellCount = validateData(data, model);
  const levelCount = model.levels.length;
  const antithetic = options.antithetic ?? true;
  const drops = decay.at.map((fraction) => Math.round(fraction * steps)).filter((s) => s > 0 && s < steps);

  const rng = createRng(seed);
  const variables = model.trainableVariables;
  const emaDecay = options.ema === false ? undefined : (options.ema?.decay ?? 0.995);
  const average = emaDecay === undefined ? undefined : new WeightAverage(variables, emaDecay);
  const latents = tf.tensor2d(model.standardise(data.cells), [cellCount, data.dimension]);
  const conditionTable = tf.tensor2d(model.conditionWeights(data.conditions), [
    data.conditions.length,
    model.config.perturbations.length,
  ]);
  const conditionOfCell = Int32Array.from(data.conditionOfCell);
  let rate = learningRate;
  let optimizer: AdamOptimizer = adam(rate);

  let result;
  try {
    result = await runTrainingLoop({
      steps,
      label: 'LCD training',
      step: (step) => {
        if (drops.includes(step - 1)) {
          optimizer.dispose();
          rate *= decay.factor;
          optimizer = adam(rate);
        }
        const loss = trainStep(optimizer);
        average?.update();
        return loss;
      },
      onStep,
      reportEvery: options.reportEvery,
      signal,
      yieldEveryMs: options.yieldEveryMs,
    });
    if (average) model.assignVariables(average.values);
  } finally {
    optimizer.dispose();
    average?.dispose();
    tf.dispose([latents, conditionTable]);
  }
  return {
    lossCurve: result.losses.map((loss, i) => ({ step: i + 1, loss })),
    finalLoss: tailMeanLoss(result.losses),
    stepsPerSecond: steps / result.seconds,
    seconds: result.seconds,
  };

  function trainStep(current: AdamOptimizer): number {
    // Antithetic noise: the second half of the batch repeats the first half's cells and levels with −ε.
    const half = antithetic ? Math.ceil(batchSize / 2) : batchSize;
    const rows = antithetic ? 2 * half : batchSize;
    const cellIndices = new Int32Array(rows);
    const conditionIndices = new Int32Array(rows);
    const levelIndices = new Int32Array(rows);
    for (let i = 0; i < half; i++) {
      cellIndices[i] = rng.int(cellCount);
      conditionIndices[i] = conditionOfCell[cellIndices[i]];
      levelIndices[i] = rng.int(levelCount);
    }
    if (antithetic) {
      cellIndices.copyWithin(half, 0, half);
      conditionIndices.copyWithin(half, 0, half);
      levelIndices.copyWithin(half, 0, half);
    }
    const noiseSeed = rng.nextSeed();
    const lossTensor = tf.tidy(() => {
      const epsilon = randomNormal<tf.Rank.R2>([half, data.dimension], 0, 1, 'float32', noiseSeed);
      const batch = {
        clean: tf.gather(latents, tf.tensor1d(cellIndices, 'int32')),
        conditionWeights: tf.gather(conditionTable, tf.tensor1d(conditionIndices, 'int32')),
        levelIndices: tf.tensor1d(levelIndices, 'int32'),
        noise: antithetic ? tf.concat([epsilon, tf.neg(epsilon)], 0) : epsilon,
      };
      const loss = current.minimize(() => denoisingScoreMatchingLoss(model, batch), true, variables);
      if (!loss) throw new Error('optimizer.minimize returned no loss');
      return loss;
    });
    const value = lossTensor.dataSync()[0];
    lossTensor.dispose();
    return value;
  }
}
