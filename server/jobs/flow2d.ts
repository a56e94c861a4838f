/**
 * The 2-D flow job: trains a flow by conditional flow matching on a toy density (DESIGN.md §1), samples it
 * with the chosen ODE solver, evaluates its log-density on a grid and on held-out data by the exact
 * change of variables (d = 2, so the exact divergence costs two backprops), and returns everything the
 * dashboard shows. Pure computation: the worker handler (workers/handlers/flow2d.ts) stores the result.
 */
import {
  MlpVelocityField,
  logLikelihood,
  sampleFromFlow,
  sampleToy,
  toyBounds,
  trainFlowMatching,
  type MlpVelocityFieldWeights,
  type ToyDensityName,
} from '../engines/flows';
import { createRng } from '../engines/random';
import { currentTensorBackend, initTensorBackend, tf } from '../engines/tensor';

import type { Flow2dConfig } from './flow2dConfig';

export { flow2dConfigSchema, type Flow2dConfig } from './flow2dConfig';

export interface Flow2dProgress {
  step: number;
  totalSteps: number;
  loss: number;
  etaSeconds: number;
  /** 'Training', then 'Sampling', 'Density grid', 'Held-out likelihood'. */
  phase?: string;
}

export interface Flow2dOptions {
  /** Awaited; throwing (e.g. on cancellation) stops the job, releases its tensors and rethrows. */
  onProgress?: (progress: Flow2dProgress) => void | Promise<void>;
  signal?: AbortSignal;
}

export interface Flow2dDensityGrid {
  kind: 'logDensity';
  /** Grid abscissae (columns). */
  x: number[];
  /** Grid ordinates (rows). */
  y: number[];
  /** z[row][col] = model log p1 at (x[col], y[row]), natural log. */
  z: number[][];
}

export interface Flow2dResult {
  /** sampleCount × 2 samples of the trained flow. */
  samples: number[][];
  /** At most 500 points, evenly spread over training (always including the last step). */
  lossCurve: { step: number; loss: number }[];
  density: Flow2dDensityGrid;
  /** `MlpVelocityField.fromWeights(weights)` rebuilds the trained field (its config is inside). */
  weights: MlpVelocityFieldWeights;
  metrics: {
    finalLoss: number;
    stepsPerSecond: number;
    trainSeconds: number;
    sampleSeconds: number;
    densitySeconds: number;
    /** Mean model log-likelihood (nats) of held-out samples drawn from the true density. */
    meanLogLikelihood?: number;
    backend: string;
  };
}

/** Held-out samples for the likelihood metric: enough for a ±0.05-nat standard error on moons. */
const heldOutCount = 500;
/** Rows per likelihood batch: bounds memory (2 probe copies per row) and lets the event loop breathe. */
const likelihoodChunk = 512;
const maxLossCurvePoints = 500;

export async function runFlow2d(config: Flow2dConfig, opts: Flow2dOptions = {}): Promise<Flow2dResult> {
  const { onProgress, signal } = opts;
  const backend = currentTensorBackend() ?? (await initTensorBackend());
  const density: ToyDensityName = config.density;
  const rng = createRng(config.seed);
  const field = MlpVelocityField.create(
    { dimension: 2, hidden: config.hidden, layers: config.layers },
    rng.nextSeed(),
  );
  const dataSeed = rng.nextSeed();
  const samplingSeed = rng.nextSeed();
  const heldOutSeed = rng.nextSeed();

  try {
    const training = await trainFlowMatching({
      field,
      sampleData: (n, dataRng) => tf.tensor2d(sampleToy(density, n, dataRng), [n, 2]),
      steps: config.steps,
      batchSize: config.batchSize,
      learningRate: config.learningRate,
      seed: dataSeed,
      signal,
      onStep: onProgress && ((info) => onProgress({ ...info, phase: 'Training' })),
    });
    const report = async (phase: string, etaSeconds: number) => {
      throwIfAborted(signal);
      await onProgress?.({
        step: config.steps,
        totalSteps: config.steps,
        loss: training.finalLoss,
        etaSeconds,
        phase,
      });
    };

    await report('Sampling', 0);
    let started = performance.now();
    const samples = sampleFlow(field, config, samplingSeed);
    const sampleSeconds = (performance.now() - started) / 1000;

    await report('Density grid', 0);
    started = performance.now();
    const grid = gridPoints(density, config.gridSize);
    const gridLogDensity = await chunkedLogLikelihood(field, grid.points, config, signal, (done, total) =>
      report('Density grid', ((performance.now() - started) / 1000 / done) * (total - done)),
    );
    const z = Array.from({ length: config.gridSize }, (_, row) =>
      Array.from(gridLogDensity.subarray(row * config.gridSize, (row + 1) * config.gridSize)),
    );

    await report('Held-out likelihood', 0);
    const heldOut = sampleToy(density, heldOutCount, createRng(heldOutSeed));
    const heldOutLogLikelihood = await chunkedLogLikelihood(field, heldOut, config, signal, () => undefined);
    const densitySeconds = (performance.now() - started) / 1000;

    return {
      samples,
      lossCurve: downsampleCurve(training.lossCurve, maxLossCurvePoints),
      density: { kind: 'logDensity', x: grid.x, y: grid.y, z },
      weights: field.getWeights(),
      metrics: {
        finalLoss: training.finalLoss,
        stepsPerSecond: training.stepsPerSecond,
        trainSeconds: training.seconds,
        sampleSeconds,
        densitySeconds,
        meanLogLikelihood: mean(heldOutLogLikelihood),
        backend: backend.name,
      },
    };
  } finally {
    field.dispose();
  }
}

/** x1 = ODE solution of dx/dt = v(x, t) from x0 ~ N(0, I) at t = 0 to t = 1 (DESIGN.md §1 "Sampling"). */
function sampleFlow(field: MlpVelocityField, config: Flow2dConfig, seed: number): number[][] {
  const flat = sampleFromFlow(field, config.sampleCount, {
    steps: config.odeSteps,
    method: config.solver,
    seed,
  });
  return Array.from({ length: config.sampleCount }, (_, i) => [flat[2 * i], flat[2 * i + 1]]);
}

/** Log-likelihood in chunks, yielding between them so a long grid does not block the event loop. */
async function chunkedLogLikelihood(
  field: MlpVelocityField,
  points: Float32Array,
  config: Flow2dConfig,
  signal: AbortSignal | undefined,
  onChunk: (rowsDone: number, rows: number) => void | Promise<void>,
): Promise<Float32Array> {
  const rows = points.length / 2;
  const out = new Float32Array(rows);
  for (let start = 0; start < rows; start += likelihoodChunk) {
    throwIfAborted(signal);
    const count = Math.min(likelihoodChunk, rows - start);
    const chunk = tf.tensor2d(points.subarray(2 * start, 2 * (start + count)), [count, 2]);
    try {
      const { logLikelihood: values } = logLikelihood(field, chunk, {
        steps: config.odeSteps,
        method: config.solver,
        divergence: 'exact',
      });
      out.set(values, start);
    } finally {
      chunk.dispose();
    }
    await onChunk(start + count, rows);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return out;
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason ?? new DOMException('flow2d aborted', 'AbortError');
}

/** gridSize × gridSize cell centres over the density's box; points row-major with x varying fastest. */
function gridPoints(density: ToyDensityName, gridSize: number) {
  const { xMin, xMax, yMin, yMax } = toyBounds(density);
  const axis = (lo: number, hi: number) =>
    Array.from({ length: gridSize }, (_, i) => lo + ((i + 0.5) * (hi - lo)) / gridSize);
  const x = axis(xMin, xMax);
  const y = axis(yMin, yMax);
  const points = new Float32Array(2 * gridSize * gridSize);
  for (let row = 0; row < gridSize; row++) {
    for (let col = 0; col < gridSize; col++) {
      points[2 * (row * gridSize + col)] = x[col];
      points[2 * (row * gridSize + col) + 1] = y[row];
    }
  }
  return { x, y, points };
}

/** At most `maxPoints` evenly spaced entries, always keeping the first and the last. */
export function downsampleCurve<T>(curve: T[], maxPoints: number): T[] {
  if (curve.length <= maxPoints) return curve.slice();
  const out: T[] = [];
  for (let i = 0; i < maxPoints; i++) out.push(curve[Math.round((i * (curve.length - 1)) / (maxPoints - 1))]);
  return out;
}

function mean(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return sum / values.length;
}
