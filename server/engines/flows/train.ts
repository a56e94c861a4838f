/**
 * Training a velocity field by conditional flow matching (DESIGN.md §1, loss L(θ)) with Adam on
 * minibatches: each step draws x1 from the data, x0 ~ N(0, I) and t ~ U[0, 1], and descends
 * ‖v_θ(x_t, t) − (x1 − x0)‖² (see conditionalFlowMatching.ts).
 *
 * The loop is asynchronous only so that it can yield to the event loop (an in-process worker must not
 * block the HTTP server) and await the progress callback, which may throw to cancel the run; whatever
 * way the loop ends, every tensor it created (batches, optimiser moments, EMA copies) is released.
 */
import type { Rng } from '../random';
import { createRng } from '../random';
import { randomNormal, tf } from '../tensor';
import { adam } from '../optimizers';
import { runTrainingLoop, tailMeanLoss, WeightAverage, type TrainStepInfo } from '../trainingLoop';
import { ConditionalFlowMatcher, flowMatchingLoss } from './conditionalFlowMatching';
import type { VelocityField } from './velocityField';

/** A velocity field whose parameters can be optimised and overwritten (e.g. MlpVelocityField). */
export interface TrainableVelocityField extends VelocityField {
  readonly trainableVariables: tf.Variable[];
  assignVariables(values: tf.Tensor[]): void;
}

export type { TrainStepInfo };

export interface TrainFlowMatchingOptions {
  field: TrainableVelocityField;
  /** Draws a minibatch [batchSize, d] of data x1; the caller owns nothing returned (it is disposed here). */
  sampleData: (batchSize: number, rng: Rng) => tf.Tensor2D;
  steps: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  /** Exponential moving average of the weights; when given, the field ends up holding the EMA weights. */
  ema?: { decay: number };
  /** Standard deviation of the optional Gaussian tube around the straight path (default 0, DESIGN.md §1). */
  sigma?: number;
  /**
   * The conditional path, when not the straight line of DESIGN.md §1 (e.g. the geodesic on a torus); it
   * replaces `sigma`.
   */
  matcher?: ConditionalFlowMatcher;
  /** Draws the base samples x0 [n, d] from a seed, when not N(0, I) (e.g. uniform on a torus). */
  sampleBase?: (shape: [number, number], seed: number) => tf.Tensor2D;
  /** Called every `reportEvery` steps and at the last step, and awaited; throwing cancels training. */
  onStep?: (info: TrainStepInfo) => void | Promise<void>;
  /** Default: about 100 reports per run. */
  reportEvery?: number;
  signal?: AbortSignal;
  /** Yield to the event loop at least this often (milliseconds, default 50). */
  yieldEveryMs?: number;
}

export interface TrainFlowMatchingResult {
  /** The loss of every step, in order. */
  lossCurve: { step: number; loss: number }[];
  /** Mean loss over the last 5 % of steps (at least one): a less noisy end-of-training figure. */
  finalLoss: number;
  stepsPerSecond: number;
  seconds: number;
}

export { tailMeanLoss };

export async function trainFlowMatching(options: TrainFlowMatchingOptions): Promise<TrainFlowMatchingResult> {
  const { field, sampleData, steps, batchSize, learningRate, seed, onStep, signal } = options;
  if (!Number.isInteger(steps) || steps < 1)
    throw new Error(`steps must be a positive integer, got ${steps}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchSize must be a positive integer`);
  if (!(learningRate > 0)) throw new Error(`learningRate must be positive, got ${learningRate}`);

  const rng = createRng(seed);
  const matcher = options.matcher ?? new ConditionalFlowMatcher(options.sigma ?? 0);
  const variables = field.trainableVariables;
  const optimizer = adam(learningRate);
  const average = options.ema ? new WeightAverage(variables, options.ema.decay) : undefined;

  let result;
  try {
    result = await runTrainingLoop({
      steps,
      step: () => {
        const loss = trainStep();
        average?.update();
        return loss;
      },
      onStep,
      reportEvery: options.reportEvery,
      signal,
      yieldEveryMs: options.yieldEveryMs,
    });
    if (average) field.assignVariables(average.values);
  } finally {
    optimizer.dispose();
    average?.dispose();
  }
  return {
    lossCurve: result.losses.map((loss, i) => ({ step: i + 1, loss })),
    finalLoss: tailMeanLoss(result.losses),
    stepsPerSecond: steps / result.seconds,
    seconds: result.seconds,
  };

  /** One Adam step on a fresh minibatch; returns its loss. */
  function trainStep(): number {
    const x1 = sampleData(batchSize, rng);
    try {
      const lossTensor = tf.tidy(() => {
        const baseSeed = rng.nextSeed();
        const x0 = options.sampleBase
          ? options.sampleBase(x1.shape, baseSeed)
          : randomNormal<tf.Rank.R2>(x1.shape, 0, 1, 'float32', baseSeed);
        const t = tf.randomUniform([x1.shape[0], 1], 0, 1, 'float32', rng.nextSeed());
        const noiseSeed = rng.nextSeed();
        const loss = optimizer.minimize(
          () => flowMatchingLoss(field, x0, x1, t, matcher, { seed: noiseSeed }),
          true,
          variables,
        );
        if (!loss) throw new Error('optimizer.minimize returned no loss');
        return loss;
      });
      const value = lossTensor.dataSync()[0];
      lossTensor.dispose();
      return value;
    } finally {
      x1.dispose();
    }
  }
}
