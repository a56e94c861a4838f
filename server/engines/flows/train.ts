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
import { tf } from '../tensor';
import { adam } from '../optimizers';
import { ConditionalFlowMatcher, flowMatchingLoss } from './conditionalFlowMatching';
import type { VelocityField } from './velocityField';

/** A velocity field whose parameters can be optimised and overwritten (e.g. MlpVelocityField). */
export interface TrainableVelocityField extends VelocityField {
  readonly trainableVariables: tf.Variable[];
  assignVariables(values: tf.Tensor[]): void;
}

export interface TrainStepInfo {
  step: number;
  totalSteps: number;
  /** Loss of this step's minibatch. */
  loss: number;
  /** Remaining time at the average speed so far. */
  etaSeconds: number;
}

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

/** Shadow copies θ_ema ← decay·θ_ema + (1 − decay)·θ, updated after every optimiser step. */
class WeightAverage {
  private readonly shadows: tf.Variable[];

  constructor(
    private readonly variables: tf.Variable[],
    private readonly decay: number,
  ) {
    if (!(decay >= 0 && decay < 1)) throw new Error(`EMA decay must lie in [0, 1), got ${decay}`);
    // A variable shares its initial value's data by reference count and assign() swaps in new data rather
    // than writing in place, so the shadows start equal to θ and evolve independently of it.
    this.shadows = variables.map((v) => tf.variable(v, false));
  }

  update(): void {
    tf.tidy(() => {
      this.shadows.forEach((shadow, i) => {
        shadow.assign(tf.add(tf.mul(this.decay, shadow), tf.mul(1 - this.decay, this.variables[i])));
      });
    });
  }

  get values(): tf.Tensor[] {
    return this.shadows;
  }

  dispose(): void {
    tf.dispose(this.shadows);
  }
}

/** Mean of the last 5 % of the losses (at least one). */
export function tailMeanLoss(losses: readonly number[], fraction = 0.05): number {
  if (losses.length === 0) return Number.NaN;
  const count = Math.max(1, Math.ceil(losses.length * fraction));
  const tail = losses.slice(losses.length - count);
  return tail.reduce((a, b) => a + b, 0) / tail.length;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('training aborted', 'AbortError');
}

export async function trainFlowMatching(options: TrainFlowMatchingOptions): Promise<TrainFlowMatchingResult> {
  const { field, sampleData, steps, batchSize, learningRate, seed, onStep, signal } = options;
  if (!Number.isInteger(steps) || steps < 1)
    throw new Error(`steps must be a positive integer, got ${steps}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchSize must be a positive integer`);
  if (!(learningRate > 0)) throw new Error(`learningRate must be positive, got ${learningRate}`);
  const reportEvery = options.reportEvery ?? Math.max(1, Math.floor(steps / 100));
  const yieldEveryMs = options.yieldEveryMs ?? 50;

  const rng = createRng(seed);
  const matcher = new ConditionalFlowMatcher(options.sigma ?? 0);
  const variables = field.trainableVariables;
  const optimizer = adam(learningRate);
  const average = options.ema ? new WeightAverage(variables, options.ema.decay) : undefined;

  const losses: number[] = [];
  const started = performance.now();
  let lastYield = started;
  try {
    for (let step = 1; step <= steps; step++) {
      if (signal?.aborted) throw abortReason(signal);
      const loss = trainStep();
      if (!Number.isFinite(loss)) throw new Error(`training diverged: loss is ${loss} at step ${step}`);
      losses.push(loss);
      average?.update();

      if (performance.now() - lastYield >= yieldEveryMs) {
        await yieldToEventLoop();
        lastYield = performance.now();
      }
      if (onStep && (step % reportEvery === 0 || step === steps)) {
        const elapsed = (performance.now() - started) / 1000;
        await onStep({ step, totalSteps: steps, loss, etaSeconds: (elapsed / step) * (steps - step) });
      }
    }
    if (average) field.assignVariables(average.values);
  } finally {
    optimizer.dispose();
    average?.dispose();
  }

  const seconds = (performance.now() - started) / 1000;
  return {
    lossCurve: losses.map((loss, i) => ({ step: i + 1, loss })),
    finalLoss: tailMeanLoss(losses),
    stepsPerSecond: steps / seconds,
    seconds,
  };

  /** One Adam step on a fresh minibatch; returns its loss. */
  function trainStep(): number {
    const x1 = sampleData(batchSize, rng);
    try {
      const lossTensor = tf.tidy(() => {
        const x0 = tf.randomNormal<tf.Rank.R2>(x1.shape, 0, 1, 'float32', rng.nextSeed());
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
