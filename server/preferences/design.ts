/**
 * The two steps between answers (DESIGN.md §6), on top of the pure engine in server/engines/pbrl:
 *   refit: θ̂ = argmin −Σ_t log softmax(Φ_t θ)_{y_t} + λ‖θ‖² by Newton, warm-started from the previous θ̂;
 *   design: the next query maximises f(B + I(Φ)), B = 2λ·Id + Σ_s I(Φ_s) over the queries shown so far
 *     (λ' = 2λ, the curvature of the MLE's λ‖θ‖², as in server/engines/pbrl/simulation.ts).
 * A skipped query tells nothing about θ, so it is left out of the fit; it is kept in B all the same, which
 * steers the design away from asking the same comparison again (and, in pool mode, the skipped molecules
 * are left out of the very next query).
 *
 * Token MDP (syntheticTokenMdp) for the `tokens` domain: the campaign's MDP is rebuilt from its seed when
 * needed (a few thousand numbers at the sizes allowed) and kept in a small cache.
 */
import {
  accumulatedInformation,
  designQuery,
  greedyPoolQuery,
  newtonMle,
  pathFeatures,
  randomPath,
  randomPoolQuery,
  syntheticTokenMdp,
  type PreferenceObservation,
  type SequenceMdp,
} from '../engines/pbrl';
import { createRng, type Rng } from '../engines/random';
import type { FragmentAssemblyMdp } from '../molecules/fragments';
import { assemblyLabel } from './assembly';
import type { PreferenceCampaignConfig, PreferenceOption, PreferenceSpace } from '../../db/schema';

type TokenSpace = Extract<PreferenceSpace, { kind: 'tokens' }>;

const mdpCache = new Map<string, SequenceMdp>();

/** The campaign's token MDP (built from its seed; cached). */
export function tokenMdp(space: TokenSpace, horizon: number): SequenceMdp {
  const key = `${space.mdpSeed}/${horizon}/${space.vocab}/${space.dim}/${space.contextWeight}`;
  let mdp = mdpCache.get(key);
  if (!mdp) {
    mdp = syntheticTokenMdp({
      horizon,
      vocab: space.vocab,
      dim: space.dim,
      contextWeight: space.contextWeight,
      rng: createRng(space.mdpSeed),
    });
    if (mdpCache.size >= 64) mdpCache.delete(mdpCache.keys().next().value as string);
    mdpCache.set(key, mdp);
  }
  return mdp;
}

/** Token a as shown to people: A, B, C, … */
export function tokenLetter(token: number): string {
  return String.fromCharCode(65 + token);
}

/** The stream of random numbers of query `index`: reproducible from the campaign's seed. */
function queryRng(seed: number, index: number): Rng {
  return createRng(seed * 1009 + index);
}

export interface PoolCandidates {
  /** n·d numbers, candidate i at i·d. */
  features: Float64Array;
  labels: string[];
  smiles: string[];
}

export interface DesignInput {
  config: PreferenceCampaignConfig;
  space: PreferenceSpace;
  /** The candidates of pool mode (molecules). */
  pool?: PoolCandidates;
  /** The MDP of assembly mode (molecules with `space.assembly`). */
  assembly?: FragmentAssemblyMdp;
  /** Features (K·d numbers) of every query shown so far, answered or skipped. */
  shown: Float64Array[];
  /** Pool items the query must not use (the molecules of a query just skipped). */
  exclude?: readonly number[];
  /** 1-based number of the query to design. */
  index: number;
}

export interface DesignedPreferenceQuery {
  options: PreferenceOption[];
  /** f(B + I(Φ)), null for random selection. */
  objective: number | null;
  designMs: number;
}

export function featureDimension(space: PreferenceSpace): number {
  return space.featureNames.length;
}

/** The next query of a campaign (header). */
export function designNextQuery(input: DesignInput): DesignedPreferenceQuery {
  const started = performance.now();
  const { config, space } = input;
  const d = featureDimension(space);
  const base = accumulatedInformation(
    input.shown.map((options) => ({ options, choice: 0 })),
    d,
    2 * config.lambda,
  );
  const rng = queryRng(config.seed, input.index);
  let options: PreferenceOption[];
  let objective: number | null = null;
  if (space.kind === 'tokens' || space.assembly) {
    const built = space.kind === 'molecules' ? input.assembly : undefined;
    if (space.kind === 'molecules' && !built) throw new Error('an assembly campaign needs its MDP');
    const mdp = built ? built.mdp : tokenMdp(space as TokenSpace, config.horizon);
    let paths;
    if (config.criterion === 'random') {
      paths = Array.from({ length: config.K }, () => randomPath(mdp, rng));
    } else {
      const designed = designQuery(mdp, {
        K: config.K,
        criterion: config.criterion,
        base,
        rng,
        tolerance: 0.1,
      });
      paths = designed.paths;
      objective = designed.objective;
    }
    options = paths.map((path) => {
      const tokens = [...path.actions];
      const features = [...pathFeatures(mdp, path)];
      if (built)
        return { label: assemblyLabel(built.steps(path)), smiles: built.molecule(path), tokens, features };
      return { label: tokens.map(tokenLetter).join(''), tokens, features };
    });
  } else {
    const pool = input.pool;
    if (!pool) throw new Error('a molecule campaign needs its pool to design a query');
    const n = pool.labels.length;
    // Leave out excluded items while enough remain for a query.
    const excluded = new Set(input.exclude ?? []);
    const allowed = Array.from({ length: n }, (_, i) => i).filter(
      (i) => !excluded.has(i) || n - excluded.size < config.K,
    );
    const candidates = new Float64Array(allowed.length * d);
    allowed.forEach((item, position) =>
      candidates.set(pool.features.subarray(item * d, (item + 1) * d), position * d),
    );
    let chosen: number[];
    if (config.criterion === 'random') {
      chosen = randomPoolQuery(allowed.length, config.K, rng);
    } else {
      const query = greedyPoolQuery(candidates, d, config.K, config.criterion, base);
      chosen = query.indices;
      objective = query.objective;
    }
    options = chosen.map((position) => {
      const item = allowed[position];
      return {
        label: pool.labels[item],
        item,
        smiles: pool.smiles[item],
        features: [...pool.features.subarray(item * d, (item + 1) * d)],
      };
    });
  }
  return {
    options,
    objective: objective !== null && Number.isFinite(objective) ? objective : null,
    designMs: performance.now() - started,
  };
}

/** The options of a stored query as the K·d numbers the MNL model reads. */
export function optionMatrix(options: readonly PreferenceOption[]): Float64Array {
  const d = options[0]?.features.length ?? 0;
  const out = new Float64Array(options.length * d);
  options.forEach((option, i) => out.set(option.features, i * d));
  return out;
}

export interface Refit {
  theta: number[];
  standardErrors: number[];
  fitMs: number;
}

/** θ̂ and its standard errors from the answered queries, Newton warm-started at `initial` (header). */
export function refitEstimate(
  observations: PreferenceObservation[],
  d: number,
  lambda: number,
  initial?: readonly number[],
): Refit {
  const started = performance.now();
  const fit = newtonMle(observations, {
    dim: d,
    lambda,
    initial: initial?.length === d ? initial : undefined,
  });
  return {
    theta: [...fit.theta],
    standardErrors: [...fit.standardErrors],
    fitMs: performance.now() - started,
  };
}

/** The estimate before any answer: θ̂ = 0 with the prior's standard error 1/√(2λ). */
export function priorEstimate(d: number, lambda: number): { theta: number[]; standardErrors: number[] } {
  return {
    theta: new Array<number>(d).fill(0),
    standardErrors: new Array<number>(d).fill(1 / Math.sqrt(2 * lambda)),
  };
}
