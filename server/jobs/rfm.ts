/**
 * The RFM circuit job: evaluates a generative circuit bottom-up (server/engines/rfm), and for every
 * node and every mirror-descent iteration keeps samples and the density on a grid; where the exact
 * target is known (all leaves below are exact), the node's distance to it and to the naive baselines.
 */
import {
  circuitBounds,
  circuitDimension,
  defaultOuterSteps,
  densityOnGrid,
  disposeResults,
  evaluateCircuit,
  grid2d,
  totalVariation,
  type Circuit,
  type Grid2d,
  type NodeResult,
} from '../engines/rfm';
import type { MlpVelocityFieldWeights } from '../engines/flows';
import { currentTensorBackend, initTensorBackend } from '../engines/tensor';
import type { RfmConfig } from './rfmConfig';

export interface RfmProgress {
  fraction: number;
  message: string;
  loss?: number;
  etaSeconds?: number;
}

export interface RfmIterationView {
  k: number;
  gamma: number;
  effectiveSampleSize: number;
  finalLoss: number;
  seconds: number;
  samples: number[][];
  /** Cell probabilities z[row][col] on the grid (2-D only). */
  density?: number[][];
  tv?: number;
}

export interface RfmNodeView {
  path: string;
  label: string;
  kind: NodeResult['kind'];
  samples: number[][];
  density?: number[][];
  exact?: number[][];
  /** TV to the exact target (on the grid). */
  tv?: number;
  /** The best naive baseline's TV: each child alone, or their sample-level mixture. */
  tvBaseline?: number;
  iterations: RfmIterationView[];
}

export interface RfmRunResult {
  grid?: { x: number[]; y: number[] };
  nodes: RfmNodeView[];
  /** Trained flows per node path (closed-form priors have none). */
  weights: { path: string; label: string; weights: MlpVelocityFieldWeights }[];
  metrics: Record<string, number>;
  seconds: number;
}

export async function runRfmCircuit(
  config: RfmConfig,
  options: {
    seed: number;
    onProgress?: (progress: RfmProgress) => void | Promise<void>;
    loadModel?: (modelId: string) => Promise<MlpVelocityFieldWeights>;
    signal?: AbortSignal;
  },
): Promise<RfmRunResult> {
  if (!currentTensorBackend()) await initTensorBackend();
  const started = performance.now();
  const circuit: Circuit = config.circuit;
  const grid = circuitDimension(circuit) === 2 ? grid2d(circuitBounds(circuit), config.gridSize) : undefined;
  const stages = countStages(circuit);
  let stagesDone = 0;
  const views: RfmNodeView[] = [];
  const byPath = new Map<string, NodeResult>();
  const pendingIterations = new Map<string, RfmIterationView[]>();

  const results = await evaluateCircuit(circuit, {
    seed: options.seed,
    inner: config.inner,
    grid,
    loadModel: options.loadModel,
    signal: options.signal,
    onTrainStep: async (path, info) => {
      const within = info.step / info.totalSteps;
      await options.onProgress?.({
        fraction: Math.min(0.99, (stagesDone + within) / stages),
        message: `${path}: training ${info.step}/${info.totalSteps}`,
        loss: info.loss,
        etaSeconds: info.etaSeconds,
      });
      if (info.step === info.totalSteps) stagesDone++;
    },
    onIteration: async (path, iteration, density) => {
      const view = {
        ...iteration,
        samples: toRows(density.sample(config.displaySamples, iteration.k), density.dimension),
        ...(grid ? { density: toGrid(densityOnGrid(density, grid), grid) } : {}),
      };
      pendingIterations.set(path, [...(pendingIterations.get(path) ?? []), view]);
      await options.onProgress?.({
        fraction: Math.min(0.99, stagesDone / stages),
        message: `${path}: step ${iteration.k} done`,
      });
    },
    onNode: (result) => {
      byPath.set(result.path, result);
      views.push(nodeView(result));
    },
  });
  try {
    const metrics: Record<string, number> = { nodes: results.length };
    for (const view of views) {
      view.iterations = pendingIterations.get(view.path) ?? [];
      const result = byPath.get(view.path)!;
      if (grid && result.exactOnGrid && result.kind !== 'prior') {
        const exact = result.exactOnGrid;
        const resultOnGrid = densityOnGrid(result.density, grid);
        view.tv = totalVariation(resultOnGrid, exact);
        view.exact = toGrid(exact, grid);
        view.tvBaseline = baselineTv(result, byPath, grid, exact);
        for (const iteration of view.iterations) {
          if (iteration.density)
            iteration.tv = totalVariation(Float64Array.from(iteration.density.flat()), exact);
        }
        if (view.path === 'root') {
          metrics.tv = view.tv;
          metrics.tvBaseline = view.tvBaseline;
        }
      }
    }
    const weights = results.flatMap((r) =>
      r.weights ? [{ path: r.path, label: r.label, weights: r.weights }] : [],
    );
    return {
      grid: grid && { x: grid.x, y: grid.y },
      nodes: views,
      weights,
      metrics,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    disposeResults(results);
  }

  function nodeView(result: NodeResult): RfmNodeView {
    return {
      path: result.path,
      label: result.label,
      kind: result.kind,
      samples: toRows(result.density.sample(config.displaySamples, 7), result.density.dimension),
      ...(grid ? { density: toGrid(densityOnGrid(result.density, grid), grid) } : {}),
      iterations: [],
    };
  }
}

/** Training phases: toy leaves are trained once, operator nodes once per outer step. */
function countStages(circuit: Circuit): number {
  if (circuit.type === 'prior') return circuit.source.kind === 'toy' ? 1 : 0;
  return defaultOuterSteps(circuit) + circuit.children.reduce((n, c) => n + countStages(c), 0);
}

/** min over the naive baselines (each child alone; for intersection also the children's mixture) of TV. */
function baselineTv(
  result: NodeResult,
  byPath: Map<string, NodeResult>,
  grid: Grid2d,
  exact: Float64Array,
): number {
  const children = [...byPath.values()].filter(
    (r) => r.path.startsWith(`${result.path}.`) && !r.path.slice(result.path.length + 1).includes('.'),
  );
  const childGrids = children.map((child) => densityOnGrid(child.density, grid));
  const distances = childGrids.map((g) => totalVariation(g, exact));
  if (childGrids.length > 1) {
    const mixture = childGrids[0].map(
      (_, i) => childGrids.reduce((sum, g) => sum + g[i], 0) / childGrids.length,
    );
    if (result.kind === 'intersection') distances.push(totalVariation(mixture, exact));
  }
  return Math.min(...distances);
}

function toRows(flat: Float32Array, dimension: number): number[][] {
  return Array.from({ length: flat.length / dimension }, (_, i) =>
    Array.from(flat.subarray(i * dimension, (i + 1) * dimension)),
  );
}

function toGrid(cells: Float64Array, grid: Grid2d): number[][] {
  const nx = grid.x.length;
  return grid.y.map((_, row) => Array.from(cells.subarray(row * nx, (row + 1) * nx)));
}
