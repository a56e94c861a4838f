/**
 * Molecule design by Reward-Guided Flow Merging (DESIGN.md §2 over §3's priors): mirror descent on
 * molecular priors that share one SELFIES space (vocabulary and length), with a chemistry reward f
 * evaluated on decoded samples. The reward is a black box (RDKit), so the inner solver is
 * reward-weighted flow matching; one prior with the intersection operator is plain reward fine-tuning
 * (target p·exp(f/α)), several priors are merged (intersection ∝ Π p_i^{α_i/A}·exp(f/A), union the
 * mixture tilted by f).
 */
import { mirrorDescent, type FlowDensity, type RfmOperator } from '../engines/rfm';
import type { TrainStepInfo } from '../engines/flows';
import { generationMetrics, type GenerationMetrics } from './metrics';
import { DEFAULT_HALF_WIDTH, type MolecularPrior } from './prior';
import { DEFAULT_MORGAN, loadRDKit, morganFingerprint, withMolecule } from './rdkit';
import type { CompiledMolecularReward } from './rewards';
import { TanimotoKernelRidge, type KernelRidgeFit } from './surrogate';

export interface MolecularDesignOptions {
  priors: MolecularPrior[];
  operator: Exclude<RfmOperator, 'interpolation'>;
  /** α_i per prior (default all 1). */
  weights?: number[];
  reward?: CompiledMolecularReward;
  /** β in f = β·reward: how strongly the reward tilts the target relative to the priors. */
  rewardWeight?: number;
  outerSteps?: number;
  /** γ_k (default 1/A). */
  gamma?: number;
  /** Samples drawn and scored per mirror step (the reward calls of that step). */
  sampleCount?: number;
  /** Training steps per mirror step (warm-started from the current flow). */
  steps?: number;
  batchSize?: number;
  learningRate?: number;
  odeSteps?: number;
  /** Molecules drawn from the result for the report. */
  samples?: number;
  seed?: number;
  /**
   * Snap each step's samples to the point of the molecule they decode to (`MolecularPrior.project`: the
   * ±h one-hot vertex of their argmax SELFIES, or for latent priors the latent of the decoded string)
   * before weighting and training: the fine-tuned flow then learns the decoded molecules, as its prior
   * learned the library's, rather than points near decoding boundaries. Measured (BENCHMARKS.md): on
   * one-hot priors it moves the reward further but lowers the samples' diversity, on latent priors it
   * moves the reward further at the same diversity; so the default is on for latent priors only.
   */
  snapSamples?: boolean;
  /**
   * Score only the first `scored` molecules of each mirror step's pool with the reward (the reward calls)
   * and give the rest of the pool the prediction of a surrogate fitted to them (Tanimoto kernel ridge,
   * surrogate.ts): the weighted pool is then `sampleCount` molecules large for `scored` reward calls.
   */
  surrogate?: { scored: number };
  onTrainStep?: (k: number, info: TrainStepInfo) => void | Promise<void>;
  onIteration?: (
    k: number,
    summary: { effectiveSampleFraction: number; meanReward: number; surrogate?: KernelRidgeFit },
  ) => void;
  signal?: AbortSignal;
}

export interface MolecularDesignResult {
  smiles: string[];
  rewards: number[];
  metrics: GenerationMetrics;
  rewardMean: number;
  rewardTop10: number;
  /** Reward evaluations spent while designing (not counting the final report's). */
  rewardCalls: number;
  iterations: {
    k: number;
    effectiveSampleFraction: number;
    finalLoss: number;
    seconds: number;
    /** The step's surrogate: its ridge λ and leave-one-out R² (when a surrogate was used). */
    surrogate?: KernelRidgeFit;
  }[];
  seconds: number;
}

/** Mean of the top k values (all of them when fewer). */
export function topMean(values: readonly number[], k: number): number {
  const top = [...values].sort((a, b) => b - a).slice(0, k);
  return top.length ? top.reduce((a, b) => a + b, 0) / top.length : Number.NaN;
}

function mean(values: readonly number[]): number {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : Number.NaN;
}

/**
 * Rows with a coordinate beyond 25·h = 100 (or not finite): samples whose ODE diverged. The same bound
 * serves latent priors, whose training latents are standardised to unit scale.
 */
export function divergedRows(points: Float32Array, dimension: number): boolean[] {
  const bound = 25 * DEFAULT_HALF_WIDTH;
  return Array.from({ length: points.length / dimension }, (_, row) => {
    for (let j = row * dimension; j < (row + 1) * dimension; j++) {
      if (!(Math.abs(points[j]) <= bound)) return true;
    }
    return false;
  });
}

/** Checks that the priors live in one space (vocabulary, length, autoencoder); returns the first. */
function sharedSpace(priors: MolecularPrior[]): MolecularPrior {
  if (priors.length === 0) throw new Error('molecule design needs at least one prior');
  const [first] = priors;
  if (priors.some((prior) => prior.spaceKey !== first.spaceKey)) {
    throw new Error(
      'priors to merge must share one SELFIES vocabulary and length, and latent priors one autoencoder (train them in one space)',
    );
  }
  return first;
}

export async function designMolecules(options: MolecularDesignOptions): Promise<MolecularDesignResult> {
  const started = performance.now();
  const { priors, reward } = options;
  const space = sharedSpace(priors);
  const beta = options.rewardWeight ?? 1;
  const odeSteps = options.odeSteps ?? 20;
  let rewardCalls = 0;
  const scoreSmiles = (smiles: string[]) =>
    reward ? Array.from(reward.evaluate(smiles)) : smiles.map(() => 0);
  const densities = priors.map((prior) => prior.density(odeSteps));
  const rdkit = options.surrogate ? await loadRDKit() : undefined;
  const fingerprints = (smiles: string[]) =>
    smiles.map((s) => {
      if (!rdkit || !s) return new Uint8Array(DEFAULT_MORGAN.nBits / 8);
      try {
        return withMolecule(rdkit, s, (mol) => morganFingerprint(mol));
      } catch {
        return new Uint8Array(DEFAULT_MORGAN.nBits / 8);
      }
    });
  /** δG/δp's reward term at a pool: the first `scored` true, the rest from the surrogate. */
  const poolRewards = (smiles: string[]) => {
    const scored = Math.min(options.surrogate?.scored ?? smiles.length, smiles.length);
    const exact = scoreSmiles(smiles.slice(0, scored));
    rewardCalls += scored;
    if (scored === smiles.length) return { values: exact, exact };
    const prints = fingerprints(smiles);
    const model = TanimotoKernelRidge.fit(prints.slice(0, scored), exact);
    const predicted = model.predict(prints.slice(scored));
    return {
      values: [...exact, ...predicted],
      exact,
      surrogate: { lambda: model.lambda, looR2: model.looR2 },
    };
  };
  let lastMeanReward = Number.NaN;
  /** Each mirror step's surrogate fit (the reward is evaluated once per step). */
  const surrogates: (KernelRidgeFit | undefined)[] = [];
  const result = await mirrorDescent({
    problem: {
      operator: options.operator,
      priors: densities,
      weights: options.weights ?? priors.map(() => 1),
      reward: reward
        ? (points) => {
            const { smiles } = space.decode(points);
            const { values, exact, surrogate } = poolRewards(smiles);
            lastMeanReward = mean(exact);
            surrogates.push(surrogate);
            const diverged = divergedRows(points, space.dimension);
            // A sample whose ODE ran away (a few per thousand of a weakly trained prior reach 1e20) is
            // no point of the relaxed space: weight 0, or one such row in a minibatch makes the loss ∞.
            return Float64Array.from(values, (value, i) => (diverged[i] ? -Infinity : beta * value));
          }
        : undefined,
    },
    init: densities[0],
    outerSteps: options.outerSteps ?? 1,
    gamma: options.gamma,
    seed: options.seed ?? 0,
    inner: {
      sampleCount: options.sampleCount ?? 2000,
      steps: options.steps ?? 400,
      warmSteps: options.steps ?? 400,
      batchSize: options.batchSize ?? 128,
      learningRate: options.learningRate ?? 5e-4,
      odeSteps,
    },
    projectSamples:
      (options.snapSamples ?? space.representation === 'latent')
        ? (points) => space.project(points)
        : undefined,
    onTrainStep: options.onTrainStep,
    onIteration: (iteration) =>
      options.onIteration?.(iteration.k, {
        effectiveSampleFraction: iteration.effectiveSampleFraction,
        meanReward: lastMeanReward,
        surrogate: surrogates[iteration.k - 1],
      }),
    signal: options.signal,
  });
  const final: FlowDensity = result.iterates[result.iterates.length - 1];
  try {
    const points = final.sample(options.samples ?? 1000, (options.seed ?? 0) + 7919);
    const { smiles } = space.decode(points);
    const rewards = scoreSmiles(smiles);
    const training = new Set(priors.flatMap((prior) => [...prior.trainingSmiles]));
    return {
      smiles,
      rewards,
      metrics: await generationMetrics(smiles, training),
      rewardMean: mean(rewards),
      rewardTop10: topMean(rewards, 10),
      rewardCalls,
      iterations: result.iterations.map(({ k, effectiveSampleFraction, finalLoss, seconds }, i) => ({
        k,
        effectiveSampleFraction,
        finalLoss,
        seconds,
        ...(surrogates[i] && { surrogate: surrogates[i] }),
      })),
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    for (const iterate of result.iterates) iterate.dispose();
  }
}

/**
 * The best-of-N baseline at a reward budget: N = rewardCalls samples of one prior, all scored, the
 * best `keep` kept (what spending the same reward calls on selection alone achieves).
 */
export async function bestOfN(
  prior: MolecularPrior,
  reward: CompiledMolecularReward,
  rewardCalls: number,
  keep: number,
  seed: number,
): Promise<Omit<MolecularDesignResult, 'iterations'>> {
  const started = performance.now();
  const drawn = prior.sample(rewardCalls, seed);
  const scores = Array.from(reward.evaluate(drawn));
  const order = scores.map((_, i) => i).sort((a, b) => scores[b] - scores[a]);
  const chosen = order.slice(0, keep);
  const smiles = chosen.map((i) => drawn[i]);
  const rewards = chosen.map((i) => scores[i]);
  return {
    smiles,
    rewards,
    metrics: await generationMetrics(smiles, prior.trainingSmiles),
    rewardMean: mean(rewards),
    rewardTop10: topMean(rewards, 10),
    rewardCalls,
    seconds: (performance.now() - started) / 1000,
  };
}
