/**
 * Reward-guided flow merging by mirror descent (DESIGN.md §2):
 *
 *     p_{k+1} ∝ p_k · exp(γ_k · δG/δp(p_k)),
 *
 * each step one standard fine-tuning problem (§1) with reference p_k and reward δG/δp(p_k), solved
 * here by reward-weighted flow matching: samples of p_k, log-weights γ_k·δG/δp, a flow trained on the
 * weighted samples (warm-started from p_k's field when p_k is a trained flow). Pure merging (f ≡ 0)
 * and plain reward fine-tuning (one prior, intersection) are the same loop with other inputs.
 */
import {
  adjointMatching,
  MlpVelocityField,
  ResidualVelocityField,
  rewardWeightedFlowMatching,
  type DifferentiableReward,
  type TrainStepInfo,
  type VelocityField,
} from '../flows';
import { createRng } from '../random';
import { FlowDensity, GaussianMixtureDensity, type DensityModel } from './density';
import { firstVariation, totalWeight, validateProblem, type RfmProblem } from './operators';

export interface InnerSolverOptions {
  /** Samples of p_k drawn per step (the weighted pool). */
  sampleCount: number;
  /** Training steps of the first iteration (from a fresh field) and of later, warm-started ones. */
  steps: number;
  warmSteps?: number;
  batchSize: number;
  learningRate: number;
  hidden: number;
  layers: number;
  /** ODE steps for sampling and likelihoods of the trained flows. */
  odeSteps: number;
}

export const defaultInnerSolver: InnerSolverOptions = {
  sampleCount: 4000,
  steps: 1500,
  batchSize: 256,
  learningRate: 2e-3,
  hidden: 64,
  layers: 3,
  odeSteps: 30,
};

export interface MirrorIteration {
  /** 1-based outer step. */
  k: number;
  gamma: number;
  effectiveSampleSize: number;
  effectiveSampleFraction: number;
  finalLoss: number;
  seconds: number;
}

export interface MirrorDescentOptions {
  problem: RfmProblem;
  /** p_0: must cover the target's support (importance weights cannot create mass where p_0 has none). */
  init: DensityModel;
  outerSteps: number;
  /** γ_k, constant or by step (1-based); default 1/A, which makes one intersection step exact. */
  gamma?: number | ((k: number) => number);
  inner?: Partial<InnerSolverOptions>;
  seed: number;
  /**
   * Inner solver: reward-weighted flow matching (any reward), or Adjoint Matching, which needs ∇ of
   * the first variation; that is available for plain reward fine-tuning (one prior, intersection,
   * one outer step from the prior, where δG/δp = f) with a differentiable reward.
   */
  solver?: 'reward-weighted' | 'adjoint-matching';
  /**
   * Maps each step's samples before they are weighted and trained on (n×d row-major in, same shape
   * out). For a relaxed discrete space this is the projection onto the data's vertices — for
   * molecules, the ±h one-hot of the decoded SELFIES — so that the flow is fine-tuned on points like
   * the ones its prior was trained on, and the weights and log-densities refer to the decoded objects.
   */
  projectSamples?: (points: Float32Array) => Float32Array;
  /** f as tf ops, for Adjoint Matching. */
  differentiableReward?: DifferentiableReward;
  /** Adjoint Matching iterations (default 300). */
  adjointIterations?: number;
  onTrainStep?: (k: number, info: TrainStepInfo) => void | Promise<void>;
  onIteration?: (iteration: MirrorIteration, density: FlowDensity) => void | Promise<void>;
  signal?: AbortSignal;
}

export interface MirrorDescentResult {
  /** p_1 … p_K, each a trained flow; the caller disposes their fields. */
  iterates: FlowDensity[];
  iterations: MirrorIteration[];
}

export async function mirrorDescent(options: MirrorDescentOptions): Promise<MirrorDescentResult> {
  const { problem, init, outerSteps, seed } = options;
  validateProblem(problem);
  if (!Number.isInteger(outerSteps) || outerSteps < 1)
    throw new Error('outerSteps must be a positive integer');
  const inner = { ...defaultInnerSolver, ...options.inner };
  const gammaOf = (k: number) =>
    typeof options.gamma === 'function'
      ? options.gamma(k)
      : (options.gamma ?? 1 / totalWeight(problem.weights));
  const rng = createRng(seed);
  if (options.solver === 'adjoint-matching') return adjointMatchingStep(options, gammaOf(1), rng.nextSeed());
  const iterates: FlowDensity[] = [];
  const iterations: MirrorIteration[] = [];
  let current: DensityModel = init;
  try {
    for (let k = 1; k <= outerSteps; k++) {
      const started = performance.now();
      const gamma = gammaOf(k);
      const drawn = current.sample(inner.sampleCount, rng.nextSeed());
      const samples = options.projectSamples ? options.projectSamples(drawn) : drawn;
      const variation = firstVariation(problem, current, samples, rng.nextSeed());
      const field =
        current instanceof FlowDensity && current.field instanceof MlpVelocityField
          ? MlpVelocityField.fromWeights(current.field.getWeights())
          : MlpVelocityField.create(
              { dimension: current.dimension, hidden: inner.hidden, layers: inner.layers },
              rng.nextSeed(),
            );
      const warm = current instanceof FlowDensity;
      try {
        const training = await rewardWeightedFlowMatching({
          field,
          samples,
          logWeights: variation.map((delta) => gamma * delta),
          steps: warm ? (inner.warmSteps ?? inner.steps) : inner.steps,
          batchSize: inner.batchSize,
          learningRate: inner.learningRate,
          seed: rng.nextSeed(),
          onStep: options.onTrainStep && ((info) => options.onTrainStep!(k, info)),
          signal: options.signal,
        });
        const next = new FlowDensity(field, { odeSteps: inner.odeSteps });
        const iteration: MirrorIteration = {
          k,
          gamma,
          effectiveSampleSize: training.effectiveSampleSize,
          effectiveSampleFraction: training.effectiveSampleFraction,
          finalLoss: training.finalLoss,
          seconds: (performance.now() - started) / 1000,
        };
        iterates.push(next);
        iterations.push(iteration);
        current = next;
        await options.onIteration?.(iteration, next);
      } catch (error) {
        if (!iterates.some((it) => it.field === field)) field.dispose();
        throw error;
      }
    }
  } catch (error) {
    for (const iterate of iterates) iterate.dispose();
    throw error;
  }
  return { iterates, iterations };
}

/** Reward fine-tuning of one prior by Adjoint Matching: p ∝ p_1·exp(γ f) with γ = 1/α by default. */
async function adjointMatchingStep(
  options: MirrorDescentOptions,
  gamma: number,
  seed: number,
): Promise<MirrorDescentResult> {
  const { problem, init } = options;
  if (
    problem.priors.length !== 1 ||
    problem.operator !== 'intersection' ||
    options.outerSteps !== 1 ||
    init !== problem.priors[0]
  ) {
    throw new Error(
      'Adjoint Matching solves plain reward fine-tuning: one prior, the intersection operator, one outer step from that prior. Use reward-weighted flow matching for merging.',
    );
  }
  if (!options.differentiableReward)
    throw new Error('Adjoint Matching needs a differentiable reward (linear or radial).');
  const reference: VelocityField | undefined =
    init instanceof FlowDensity ? init.field : init instanceof GaussianMixtureDensity ? init.flow : undefined;
  if (!reference) throw new Error('Adjoint Matching needs the prior as a flow');
  const inner = { ...defaultInnerSolver, ...options.inner };
  const started = performance.now();
  const field = ResidualVelocityField.zeroResidual(
    reference,
    { hidden: inner.hidden, layers: inner.layers },
    seed,
  );
  try {
    const iterations = options.adjointIterations ?? 300;
    const result = await adjointMatching({
      reference,
      field,
      reward: options.differentiableReward,
      gamma,
      iterations,
      seed,
      learningRate: inner.learningRate,
      signal: options.signal,
      onStep: options.onTrainStep && ((info) => options.onTrainStep!(1, info)),
    });
    const density = new FlowDensity(field, { odeSteps: inner.odeSteps });
    const iteration: MirrorIteration = {
      k: 1,
      gamma,
      // Adjoint Matching draws fresh trajectories every iteration: no importance weights, no degeneracy.
      effectiveSampleSize: Number.NaN,
      effectiveSampleFraction: Number.NaN,
      finalLoss: result.lossCurve.at(-1)?.loss ?? Number.NaN,
      seconds: (performance.now() - started) / 1000,
    };
    await options.onIteration?.(iteration, density);
    return { iterates: [density], iterations: [iteration] };
  } catch (error) {
    field.dispose();
    throw error;
  }
}
