/**
 * Generative circuits (DESIGN.md §2): JSON expression trees whose leaves are flows and whose nodes
 * are RFM operators with weights and an optional reward, e.g. AND(OR(p1, p2), p3) with a reward.
 * A node's output is a flow, so it feeds its parent; evaluation is bottom-up.
 */
import {
  GaussianMixtureFlow,
  MlpVelocityField,
  sampleToy,
  toyBounds,
  toyLogDensity,
  trainFlowMatching,
  type MlpVelocityFieldWeights,
  type TrainStepInfo,
} from '../flows';
import { createRng } from '../random';
import { tf } from '../tensor';
import {
  broadGaussianCover,
  FlowDensity,
  GaussianMixtureDensity,
  MixtureDensity,
  type DensityModel,
} from './density';
import { densityOnGrid, exactTargetFromGridLogs, type Grid2d } from './exact';
import { mirrorDescent, type InnerSolverOptions, type MirrorIteration } from './mirrorDescent';
import type { RfmOperator } from './operators';
import { defaultOuterSteps, type Circuit, type PriorSource } from './circuitSchema';
import { makeDifferentiableReward } from './differentiableRewards';
import { makeReward } from './rewards';

const operatorSymbols: Record<RfmOperator, string> = {
  intersection: 'AND',
  union: 'OR',
  interpolation: 'INTERP',
};

/** Node paths: the root is "root", its children "root.0", "root.1", … */
export function nodeLabel(circuit: Circuit, path: string): string {
  if (circuit.name) return circuit.name;
  if (circuit.type === 'prior') return circuit.source.kind === 'toy' ? circuit.source.density : path;
  return `${operatorSymbols[circuit.operator]}(${circuit.children.map((c, i) => nodeLabel(c, `${path}.${i}`)).join(', ')})`;
}

export function countOperatorNodes(circuit: Circuit): number {
  return circuit.type === 'prior' ? 0 : 1 + circuit.children.reduce((n, c) => n + countOperatorNodes(c), 0);
}

export interface NodeResult {
  path: string;
  label: string;
  kind: 'prior' | RfmOperator;
  density: DensityModel;
  /** Trained weights (for storage and reuse), absent for closed-form priors. */
  weights?: MlpVelocityFieldWeights;
  /** Cell probabilities of the node's exact target on the grid, when every leaf below is exact (2-D only). */
  exactOnGrid?: Float64Array;
  iterations: MirrorIteration[];
}

export interface EvaluateCircuitOptions {
  seed: number;
  inner?: Partial<InnerSolverOptions>;
  /** Grid for exact targets (2-D circuits). */
  grid?: Grid2d;
  /** Looks up a stored flow's weights by model id. */
  loadModel?: (modelId: string) => Promise<MlpVelocityFieldWeights>;
  onNode?: (result: NodeResult) => void | Promise<void>;
  onIteration?: (path: string, iteration: MirrorIteration, density: FlowDensity) => void | Promise<void>;
  onTrainStep?: (path: string, info: TrainStepInfo) => void | Promise<void>;
  signal?: AbortSignal;
}

/** Evaluates the circuit bottom-up; returns every node's result, children before parents, root last. */
export async function evaluateCircuit(
  circuit: Circuit,
  options: EvaluateCircuitOptions,
): Promise<NodeResult[]> {
  const rng = createRng(options.seed);
  const results: NodeResult[] = [];
  try {
    await evaluate(circuit, 'root');
  } catch (error) {
    disposeResults(results);
    throw error;
  }
  return results;

  async function evaluate(node: Circuit, path: string): Promise<NodeResult> {
    const label = nodeLabel(node, path);
    let result: NodeResult;
    if (node.type === 'prior') {
      result = { path, label, kind: 'prior', iterations: [], ...(await resolvePrior(node.source, path)) };
    } else {
      const children: NodeResult[] = [];
      for (const [i, child] of node.children.entries()) children.push(await evaluate(child, `${path}.${i}`));
      const weights = node.weights ?? node.children.map(() => 1);
      const reward = node.reward ? makeReward(node.reward) : undefined;
      const priors = children.map((c) => c.density);
      const { iterates, iterations } = await mirrorDescent({
        problem: { operator: node.operator, priors, weights, reward },
        // p_0 = the weighted mixture of the children: it covers every child's support.
        init:
          node.operator === 'interpolation'
            ? broadGaussianCover(new MixtureDensity(priors, weights), rng.nextSeed())
            : priors.length === 1
              ? priors[0]
              : new MixtureDensity(priors, weights),
        outerSteps: defaultOuterSteps(node),
        gamma: node.gamma,
        inner: options.inner,
        solver: node.solver,
        differentiableReward: node.reward ? makeDifferentiableReward(node.reward) : undefined,
        seed: rng.nextSeed(),
        signal: options.signal,
        onTrainStep: options.onTrainStep && ((_k, info) => options.onTrainStep!(path, info)),
        onIteration:
          options.onIteration && ((iteration, density) => options.onIteration!(path, iteration, density)),
      });
      for (const iterate of iterates.slice(0, -1)) iterate.dispose();
      const output = iterates[iterates.length - 1];
      const exactChildren = children.map((c) => c.exactOnGrid);
      result = {
        path,
        label,
        kind: node.operator,
        density: output,
        weights: (output.field as MlpVelocityField).getWeights(),
        iterations,
        ...(options.grid && node.operator !== 'interpolation' && exactChildren.every((e) => e !== undefined)
          ? {
              exactOnGrid: exactTargetFromGridLogs(
                node.operator,
                exactChildren.map((e) => e.map(Math.log)),
                weights,
                reward?.(options.grid.points, 2),
              ),
            }
          : {}),
      };
    }
    results.push(result);
    await options.onNode?.(result);
    return result;
  }

  async function resolvePrior(
    source: PriorSource,
    path: string,
  ): Promise<Pick<NodeResult, 'density' | 'weights' | 'exactOnGrid'>> {
    const grid = options.grid;
    if (source.kind === 'gaussian-mixture') {
      const density = new GaussianMixtureDensity(new GaussianMixtureFlow(source.components));
      return {
        density,
        ...(grid && density.dimension === 2 ? { exactOnGrid: densityOnGrid(density, grid) } : {}),
      };
    }
    if (source.kind === 'model') {
      if (!options.loadModel)
        throw new Error('this circuit refers to a stored model, but no model store is available');
      const weights = await options.loadModel(source.modelId);
      return { density: new FlowDensity(MlpVelocityField.fromWeights(weights)), weights };
    }
    const inner = options.inner ?? {};
    const field = MlpVelocityField.create(
      { dimension: 2, hidden: inner.hidden ?? 64, layers: inner.layers ?? 3 },
      rng.nextSeed(),
    );
    const dataRng = createRng(rng.nextSeed());
    await trainFlowMatching({
      field,
      sampleData: (batchSize) => tf.tensor2d(sampleToy(source.density, batchSize, dataRng), [batchSize, 2]),
      steps: source.steps,
      batchSize: inner.batchSize ?? 256,
      learningRate: inner.learningRate ?? 2e-3,
      seed: rng.nextSeed(),
      signal: options.signal,
      onStep: options.onTrainStep && ((info) => options.onTrainStep!(path, info)),
    });
    const exact = grid ? toyLogDensity(source.density, grid.points) : undefined;
    const density = new FlowDensity(field, { odeSteps: inner.odeSteps ?? 30 });
    return { density, weights: field.getWeights(), ...(exact ? { exactOnGrid: normalizeLogs(exact) } : {}) };
  }
}

function normalizeLogs(logs: Float64Array): Float64Array {
  let max = -Infinity;
  for (const v of logs) max = Math.max(max, v);
  const values = logs.map((v) => Math.exp(v - max));
  const total = values.reduce((a, b) => a + b, 0);
  return values.map((v) => v / total);
}

export function disposeResults(results: NodeResult[]): void {
  for (const result of results) if (result.density instanceof FlowDensity) result.density.dispose();
}

/** A box holding a 2-D circuit's leaves (mixture means ± 3.5 sd, toy boxes; [-4, 4]² for stored flows). */
export function circuitBounds(circuit: Circuit): { xMin: number; xMax: number; yMin: number; yMax: number } {
  const boxes: { xMin: number; xMax: number; yMin: number; yMax: number }[] = [];
  const visit = (node: Circuit) => {
    if (node.type === 'operator') return node.children.forEach(visit);
    const source = node.source;
    if (source.kind === 'gaussian-mixture') {
      for (const { mean, sd } of source.components) {
        boxes.push({
          xMin: mean[0] - 3.5 * sd,
          xMax: mean[0] + 3.5 * sd,
          yMin: mean[1] - 3.5 * sd,
          yMax: mean[1] + 3.5 * sd,
        });
      }
    } else if (source.kind === 'toy') boxes.push(toyBounds(source.density));
    else boxes.push({ xMin: -4, xMax: 4, yMin: -4, yMax: 4 });
  };
  visit(circuit);
  return {
    xMin: Math.min(...boxes.map((b) => b.xMin)),
    xMax: Math.max(...boxes.map((b) => b.xMax)),
    yMin: Math.min(...boxes.map((b) => b.yMin)),
    yMax: Math.max(...boxes.map((b) => b.yMax)),
  };
}

/** The dimension of a circuit's leaves (stored flows count as unknown: undefined). */
export function circuitDimension(circuit: Circuit): number | undefined {
  if (circuit.type === 'operator') return circuit.children.map(circuitDimension).find((d) => d !== undefined);
  if (circuit.source.kind === 'gaussian-mixture') return circuit.source.components[0].mean.length;
  return circuit.source.kind === 'toy' ? 2 : undefined;
}
