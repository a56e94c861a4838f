/**
 * The loop every trainer here shares (flow matching, LCD): run `steps` optimiser steps, stop on a
 * non-finite loss or an abort, yield to the event loop often enough that an in-process worker never
 * blocks the HTTP server, and report progress (step, loss, ETA) to a callback that is awaited and may
 * throw to cancel. Optionally keeps an exponential moving average of the weights.
 */
import { tf } from './tensor';

export interface TrainStepInfo {
  step: number;
  totalSteps: number;
  /** Loss of this step's minibatch. */
  loss: number;
  /** Remaining time at the average speed so far. */
  etaSeconds: number;
}

export interface TrainingLoopOptions {
  steps: number;
  /** One optimiser step (1-based index); returns its loss. */
  step: (index: number) => number;
  /** Called every `reportEvery` steps and at the last step, and awaited; throwing cancels training. */
  onStep?: (info: TrainStepInfo) => void | Promise<void>;
  /** Default: about 100 reports per run. */
  reportEvery?: number;
  signal?: AbortSignal;
  /** Yield to the event loop at least this often (milliseconds, default 50). */
  yieldEveryMs?: number;
  /** Names what diverged in the error message (default "training"). */
  label?: string;
}

export interface TrainingLoopResult {
  /** The loss of every step, in order. */
  losses: number[];
  seconds: number;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('training aborted', 'AbortError');
}

export async function runTrainingLoop(options: TrainingLoopOptions): Promise<TrainingLoopResult> {
  const { steps, onStep, signal } = options;
  if (!Number.isInteger(steps) || steps < 1)
    throw new Error(`steps must be a positive integer, got ${steps}`);
  const reportEvery = options.reportEvery ?? Math.max(1, Math.floor(steps / 100));
  const yieldEveryMs = options.yieldEveryMs ?? 50;
  const losses: number[] = [];
  const started = performance.now();
  let lastYield = started;
  for (let step = 1; step <= steps; step++) {
    if (signal?.aborted) throw abortReason(signal);
    const loss = options.step(step);
    if (!Number.isFinite(loss)) {
      throw new Error(`${options.label ?? 'training'} diverged: loss is ${loss} at step ${step}`);
    }
    losses.push(loss);
    if (performance.now() - lastYield >= yieldEveryMs) {
      await yieldToEventLoop();
      lastYield = performance.now();
    }
    if (onStep && (step % reportEvery === 0 || step === steps)) {
      const elapsed = (performance.now() - started) / 1000;
      await onStep({ step, totalSteps: steps, loss, etaSeconds: (elapsed / step) * (steps - step) });
    }
  }
  return { losses, seconds: (performance.now() - started) / 1000 };
}

/** Mean of the last 5 % of the losses (at least one): a less noisy end-of-training figure. */
export function tailMeanLoss(losses: readonly number[], fraction = 0.05): number {
  if (losses.length === 0) return Number.NaN;
  const count = Math.max(1, Math.ceil(losses.length * fraction));
  const tail = losses.slice(losses.length - count);
  return tail.reduce((a, b) => a + b, 0) / tail.length;
}

/** Shadow copies θ_ema ← decay·θ_ema + (1 − decay)·θ, updated after every optimiser step. */
export class WeightAverage {
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
