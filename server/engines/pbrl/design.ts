/**
 * Experimental design over the K policies' state-action occupancy measures (DESIGN.md §6).
 *
 * θ-agnostic Fisher information, per timestep: with d_q^h the step-h occupancy of policy q (a
 * distribution over that step's state-action pairs),
 *   I(d_1..d_K) = Σ_h [ (1/K) Σ_q E_{d_q^h}[φφᵀ] − μ̄_h μ̄_hᵀ ],
 *   μ_{q,h} = E_{d_q^h}[φ],  μ̄_h = (1/K) Σ_q μ_{q,h}.
 * For H = 1, or when features sit on the last step only, this is §6's formula verbatim. For features
 * that accrue over steps (φ(x) = Σ_h φ_h) it is §6's formula applied at each step and summed: every term
 * is the covariance of the K policies' mixture at one step, so I is positive semi-definite and vanishes
 * when all K policies coincide; it leaves out the covariances between steps, which are not linear in
 * the occupancy measures (a dynamic-programming best response needs a reward per state-action).
 * I is linear in (d_1..d_K) minus Σ_h μ̄_hμ̄_hᵀ, so concave in the Loewner order, and f (below) is concave
 * and non-decreasing in that order: f(B + I(d)) is concave, and Frank–Wolfe finds its maximum.
 *
 * Criterion f(M), M = B + I(d), where B holds what is already known: λ'·Id before the first query
 * (§6's M = I + λ'·Id), plus the Fisher information of the queries asked so far when designing the next
 * one. The gradient w.r.t. d_q^h(s, a) is the §6 reward
 *   r_h(s, a) = (1/K) [φᵀGφ − 2 φᵀG μ̄_h],  φ = φ_h(s, a),  G = ∂f/∂M (M⁻¹M⁻¹ for A, M⁻¹ for D),
 * the same for every q. Frank–Wolfe cycles over the K policies: a dynamic-programming best response
 * to r, then a line search on the segment towards it (so f never decreases).
 *
 * From a design to a query (designQuery). The relaxation is loose in two ways that matter for the
 * query actually asked: I(d) depends on the policies only through their average (1/K) Σ_q d_q (so how
 * the mass is split between the K policies is arbitrary), and it leaves out the covariances between
 * steps. Sampling one path per policy therefore wastes much of the design: with K near-identical
 * mixtures, the sampled options are often alike. The query is instead rounded against the exact
 * criterion f(B + I(Φ)) of its K complete objects (I(Φ) = (1/K) Σ_i φ_iφ_iᵀ − φ̄φ̄ᵀ, φ_i = φ(x_i), §6 with
 * point masses): a greedy K-tuple from the design's support (pool mode, pool.ts), then coordinate ascent
 * that replaces one option by a path differing in one step while f increases.
 */
import type { Rng } from '../random';
import { criterionValue, evaluateCriterion, type Criterion, type CriterionEvaluation } from './criteria';
import { addOuterProduct, dot } from './linalg';
import {
  bestResponsePolicy,
  pathFeatures,
  pathKey,
  pathOfActions,
  queryFeatures,
  randomPath,
  type Path,
  type SequenceMdp,
} from './mdp';
import { greedyPoolQuery, queryCriterion, rankOneCriterionGain, replacementSystem } from './pool';

/** A policy as a mixture of deterministic policies, each represented by the path it takes. */
export interface MixturePolicy {
  atoms: { path: Path; weight: number }[];
}

/**
 * §6 occupancy measure d_q, per step: d_q^h(s, a) for h = 0..H−1, each indexed s·V + a: the probability of
 * visiting (s, a) at step h.
 */
export function occupancyMeasure(mdp: SequenceMdp, policy: MixturePolicy): Float64Array[] {
  const occupancy = mdp.stateCounts.map((states) => new Float64Array(states * mdp.vocab));
  for (const { path, weight } of policy.atoms) {
    for (let h = 0; h < mdp.horizon; h++)
      occupancy[h][path.states[h] * mdp.vocab + path.actions[h]] += weight;
  }
  return occupancy;
}

/** §6 θ-agnostic Fisher information I(d_1..d_K) (per timestep, see above) from K occupancy measures. */
export function fisherInformation(mdp: SequenceMdp, occupancies: Float64Array[][]): Float64Array {
  return fisherFromMoments(
    occupancies.map((occupancy) => occupancyMoments(mdp, occupancy)),
    mdp.dim,
  );
}

/** §6 Fisher information of K mixture policies. */
export function designFisherInformation(mdp: SequenceMdp, design: MixturePolicy[]): Float64Array {
  return fisherInformation(
    mdp,
    design.map((policy) => occupancyMeasure(mdp, policy)),
  );
}

/**
 * §6 gradient of f(B + I(d)) w.r.t. d_q^h(s, a), per step h and indexed s·V + a; identical for all q.
 * Null when B + I(d) is not positive definite.
 */
export function designGradientReward(
  mdp: SequenceMdp,
  occupancies: Float64Array[][],
  criterion: Criterion,
  base: Float64Array,
): Float64Array[] | null {
  const moments = occupancies.map((occupancy) => occupancyMoments(mdp, occupancy));
  const evaluation = evaluateCriterion(criterion, informationMatrix(base, moments, mdp.dim), mdp.dim);
  return evaluation && gradientReward(mdp, meanOfStepMeans(moments), evaluation, moments.length);
}

export interface FrankWolfeOptions {
  /** Options per query (the number of policies). */
  K: number;
  criterion?: Criterion;
  /** B, symmetric positive definite d × d: λ'·Id plus the information of queries already asked. */
  base: Float64Array;
  /** Draws the initial policies (one random path each) when there is no warm start. */
  rng: Rng;
  /** Start from an earlier design, e.g. the previous query's: consecutive designs differ little. */
  warmStart?: MixturePolicy[];
  /** Upper bound on rounds (one round updates each of the K policies once). Default 100. */
  maxRounds?: number;
  /**
   * Stop when the Frank–Wolfe gap, which bounds f* − f, is at most `tolerance`·(f − f(B)): the design
   * then achieves at least 1/(1 + tolerance) of the best possible gain in f. Default 0.01.
   */
  tolerance?: number;
}

export interface FrankWolfeResult {
  design: MixturePolicy[];
  /** f(B + I(d)) of the returned design. */
  objective: number;
  /** f after initialisation and after every accepted step: non-decreasing. */
  objectiveHistory: number[];
  /**
   * Frank–Wolfe gap Σ_q ⟨∇_q f, d_BR − d_q⟩ at the start of every round and, last, of the returned
   * design: by concavity an upper bound on f* − f, so f* ≤ objective + gaps.at(-1).
   */
  gaps: number[];
  /** Rounds run (each updates every policy once). */
  rounds: number;
  /** Whether the last gap met the tolerance (otherwise maxRounds ran out). */
  converged: boolean;
}

/** §6 Frank–Wolfe over the K policies' occupancy measures, best responses by dynamic programming. */
export function frankWolfeDesign(mdp: SequenceMdp, options: FrankWolfeOptions): FrankWolfeResult {
  const { K, base, rng } = options;
  const d = mdp.dim;
  const criterion = options.criterion ?? 'aopt';
  const maxRounds = options.maxRounds ?? 100;
  const tolerance = options.tolerance ?? 0.01;
  if (!(Number.isInteger(K) && K >= 2)) throw new Error(`K must be an integer ≥ 2, got ${K}`);
  if (base.length !== d * d) throw new Error(`base must be ${d}×${d}`);
  const initial =
    options.warmStart ??
    Array.from({ length: K }, () => ({ atoms: [{ path: randomPath(mdp, rng), weight: 1 }] }));
  if (initial.length !== K) throw new Error(`warmStart has ${initial.length} policies, not K = ${K}`);

  const atoms = initial.map((policy) => {
    const byPath = new Map<string, { path: Path; weight: number }>();
    for (const atom of policy.atoms) addAtom(byPath, atom.path, atom.weight);
    return byPath;
  });
  const moments = initial.map((policy) => occupancyMoments(mdp, occupancyMeasure(mdp, policy)));
  const initialEvaluation = evaluateCriterion(criterion, informationMatrix(base, moments, d), d);
  if (!initialEvaluation) throw new Error('base + I(d) is not positive definite: base must be');
  let evaluation: CriterionEvaluation = initialEvaluation;
  const baseValue = criterionValue(criterion, base, d);
  const objectiveHistory = [evaluation.value];
  const gaps: number[] = [];
  let converged = false;
  let rounds = 0;

  for (let round = 0; ; round++) {
    // At a round's start all K blocks share one gradient, so the gap Σ_q ⟨r, d_BR − d_q⟩ is exact.
    let reward = gradientReward(mdp, meanOfStepMeans(moments), evaluation, K);
    let response = bestResponsePolicy(mdp, reward);
    const gap = atoms.reduce(
      (sum, policy) => sum + response.value - expectedReward(mdp, reward, policy.values()),
      0,
    );
    gaps.push(gap);
    if (gap <= tolerance * Math.max(evaluation.value - baseValue, 0)) {
      converged = true;
      break;
    }
    if (round === maxRounds) break;
    rounds = round + 1;
    for (let q = 0; q < K; q++) {
      if (q > 0) {
        reward = gradientReward(mdp, meanOfStepMeans(moments), evaluation, K);
        response = bestResponsePolicy(mdp, reward);
      }
      const slope = response.value - expectedReward(mdp, reward, atoms[q].values());
      if (!(slope > 0)) continue;

      const target = occupancyMoments(
        mdp,
        occupancyMeasure(mdp, { atoms: [{ path: response.path, weight: 1 }] }),
      );
      const along = (gamma: number) => {
        const mixed = mixMoments(moments[q], target, gamma);
        const trial = moments.map((m, i) => (i === q ? mixed : m));
        const trialEvaluation = evaluateCriterion(criterion, informationMatrix(base, trial, d), d);
        return {
          mixed,
          evaluation: trialEvaluation,
          value: trialEvaluation?.value ?? Number.NEGATIVE_INFINITY,
        };
      };
      const step = lineSearch(along, evaluation.value, slope, 2 / (round + 2));
      if (!step?.result.evaluation) continue;

      moments[q] = step.result.mixed;
      for (const atom of atoms[q].values()) atom.weight *= 1 - step.gamma;
      addAtom(atoms[q], response.path, step.gamma);
      for (const [key, atom] of atoms[q]) if (atom.weight <= 1e-14) atoms[q].delete(key);
      evaluation = step.result.evaluation;
      objectiveHistory.push(evaluation.value);
    }
  }
  return {
    design: atoms.map((policy) => ({ atoms: [...policy.values()] })),
    objective: evaluation.value,
    objectiveHistory,
    gaps,
    rounds,
    converged,
  };
}

/**
 * One option per policy: a path drawn from the policy's mixture (so distributed as its occupancy). The
 * literal reading of §6's "K policies each produce one option"; designQuery rounds instead (header).
 */
export function sampleQueryPaths(design: MixturePolicy[], rng: Rng): Path[] {
  return design.map(({ atoms }) => {
    const total = atoms.reduce((sum, atom) => sum + atom.weight, 0);
    let u = rng.uniform() * total;
    for (const atom of atoms) {
      u -= atom.weight;
      if (u < 0) return atom.path;
    }
    return atoms[atoms.length - 1].path;
  });
}

export interface DesignedQuery {
  /** The K options, one complete object (path) each. */
  paths: Path[];
  /** Their features, K·d numbers (the layout the MNL model reads). */
  options: Float64Array;
  /** f(B + I(Φ)) of the query: the exact criterion after its answer, at θ = 0. */
  objective: number;
  /** The Frank–Wolfe solution of the relaxation (warm start for the next query). */
  frankWolfe: FrankWolfeResult;
}

/**
 * The next query (header, "From a design to a query"): Frank–Wolfe on the §6 relaxation, a greedy
 * K-tuple from its support under the exact criterion, then single-step coordinate ascent.
 */
export function designQuery(
  mdp: SequenceMdp,
  options: FrankWolfeOptions & { maxSweeps?: number },
): DesignedQuery {
  const criterion = options.criterion ?? 'aopt';
  const frankWolfe = frankWolfeDesign(mdp, options);
  const support = new Map<string, Path>();
  for (const policy of frankWolfe.design)
    for (const { path } of policy.atoms) support.set(pathKey(path), path);
  const candidates = [...support.values()];
  // The support can hold fewer than K paths (a small MDP); then an option may repeat before ascent.
  const tuple = greedyPoolQuery(
    queryFeatures(mdp, candidates),
    mdp.dim,
    options.K,
    criterion,
    options.base,
    candidates.length < options.K,
  );
  const paths = improveQueryLocally(
    mdp,
    tuple.indices.map((i) => candidates[i]),
    criterion,
    options.base,
    options.maxSweeps,
  );
  const features = queryFeatures(mdp, paths);
  return {
    paths,
    options: features,
    objective: queryCriterion(features, mdp.dim, criterion, options.base),
    frankWolfe,
  };
}

/**
 * Coordinate ascent on the exact §6 criterion f(B + I(Φ)) of a query: for each option in turn, the best
 * of its path and every path that differs from it in one step's action (later actions kept), scored
 * for all candidates against one factorisation (pool.ts, replacementSystem). Every accepted change
 * increases f, so it stops; at most `maxSweeps` (default 10) passes over the K options.
 */
export function improveQueryLocally(
  mdp: SequenceMdp,
  initial: Path[],
  criterion: Criterion,
  base: Float64Array,
  maxSweeps = 10,
): Path[] {
  const d = mdp.dim;
  const paths = initial.slice();
  const options = queryFeatures(mdp, paths);
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let improved = false;
    for (let q = 0; q < paths.length; q++) {
      const { a, othersMean, c } = replacementSystem(options, d, q, base);
      const gain = rankOneCriterionGain(criterion, a, d);
      const score = (features: Float64Array) =>
        gain(
          features.map((value, j) => value - othersMean[j]),
          c,
        );
      const currentScore = score(options.subarray(q * d, (q + 1) * d));
      let best: { path: Path; features: Float64Array; score: number } | null = null;
      for (const candidate of singleStepNeighbours(mdp, paths[q])) {
        const features = pathFeatures(mdp, candidate);
        const candidateScore = score(features);
        if (candidateScore > (best?.score ?? currentScore))
          best = { path: candidate, features, score: candidateScore };
      }
      // A relative margin, so that rounding noise cannot make two paths swap back and forth.
      if (best && best.score > currentScore + 1e-12 * (1 + Math.abs(currentScore))) {
        paths[q] = best.path;
        options.set(best.features, q * d);
        improved = true;
      }
    }
    if (!improved) break;
  }
  return paths;
}

/** Every path that takes a different action at exactly one step h, keeping the actions after h. */
function* singleStepNeighbours(mdp: SequenceMdp, path: Path): Generator<Path> {
  for (let h = 0; h < mdp.horizon; h++) {
    for (let action = 0; action < mdp.vocab; action++) {
      if (action === path.actions[h]) continue;
      const actions = Int32Array.from(path.actions);
      actions[h] = action;
      yield pathOfActions(mdp, actions);
    }
  }
}

// ---------------------------------------------------------------------------------------- internals

/** What I(d) needs of one policy: Σ_h E_{d_q^h}[φφᵀ] (d × d) and the step means μ_{q,h} (H·d). */
interface OccupancyMoments {
  second: Float64Array;
  stepMeans: Float64Array;
}

function occupancyMoments(mdp: SequenceMdp, occupancy: Float64Array[]): OccupancyMoments {
  const d = mdp.dim;
  const second = new Float64Array(d * d);
  const stepMeans = new Float64Array(mdp.horizon * d);
  occupancy.forEach((mass, h) => {
    const phi = mdp.features[h];
    mass.forEach((p, index) => {
      if (p === 0) return;
      addOuterProduct(second, d, p, phi, phi, index * d, index * d);
      for (let j = 0; j < d; j++) stepMeans[h * d + j] += p * phi[index * d + j];
    });
  });
  return { second, stepMeans };
}

function mixMoments(from: OccupancyMoments, to: OccupancyMoments, gamma: number): OccupancyMoments {
  const mix = (a: Float64Array, b: Float64Array) => {
    const out = new Float64Array(a.length);
    for (let i = 0; i < a.length; i++) out[i] = (1 - gamma) * a[i] + gamma * b[i];
    return out;
  };
  return { second: mix(from.second, to.second), stepMeans: mix(from.stepMeans, to.stepMeans) };
}

/** μ̄_h = (1/K) Σ_q μ_{q,h} for every step, H·d numbers. */
function meanOfStepMeans(moments: OccupancyMoments[]): Float64Array {
  const out = new Float64Array(moments[0].stepMeans.length);
  for (const { stepMeans } of moments) for (let i = 0; i < out.length; i++) out[i] += stepMeans[i];
  for (let i = 0; i < out.length; i++) out[i] /= moments.length;
  return out;
}

function fisherFromMoments(moments: OccupancyMoments[], d: number): Float64Array {
  return informationMatrix(new Float64Array(d * d), moments, d);
}

/** M = B + (1/K) Σ_q Σ_h E_{d_q^h}[φφᵀ] − Σ_h μ̄_h μ̄_hᵀ. */
function informationMatrix(base: Float64Array, moments: OccupancyMoments[], d: number): Float64Array {
  const k = moments.length;
  const m = Float64Array.from(base);
  for (const { second } of moments) for (let i = 0; i < m.length; i++) m[i] += second[i] / k;
  const meanBar = meanOfStepMeans(moments);
  for (let h = 0; h < meanBar.length / d; h++) addOuterProduct(m, d, -1, meanBar, meanBar, h * d, h * d);
  return m;
}

/** §6 reward r_h(s, a) = (1/K)[‖Tφ‖² − 2 (Tφ)ᵀ(Tμ̄_h)] with G = TᵀT, for every step and state-action. */
function gradientReward(
  mdp: SequenceMdp,
  meanBar: Float64Array,
  evaluation: CriterionEvaluation,
  k: number,
): Float64Array[] {
  const d = mdp.dim;
  return mdp.features.map((phi, h) => {
    const mappedMean = evaluation.gradientFactor(meanBar, h * d);
    const reward = new Float64Array(phi.length / d);
    for (let index = 0; index < reward.length; index++) {
      const mapped = evaluation.gradientFactor(phi, index * d);
      reward[index] = (dot(mapped, mapped) - 2 * dot(mapped, mappedMean)) / k;
    }
    return reward;
  });
}

/** ⟨r, d_q⟩ = Σ_atoms weight · Σ_h r_h(s_h, a_h). */
function expectedReward(
  mdp: SequenceMdp,
  reward: Float64Array[],
  atoms: Iterable<{ path: Path; weight: number }>,
): number {
  let sum = 0;
  for (const { path, weight } of atoms) {
    for (let h = 0; h < mdp.horizon; h++)
      sum += weight * reward[h][path.states[h] * mdp.vocab + path.actions[h]];
  }
  return sum;
}

function addAtom(atoms: Map<string, { path: Path; weight: number }>, path: Path, weight: number): void {
  const key = pathKey(path);
  const existing = atoms.get(key);
  if (existing) existing.weight += weight;
  else atoms.set(key, { path, weight });
}

/**
 * Maximises the concave f(γ) on [0, 1] approximately and never below f(0): a trial step, then the
 * maximiser of the quadratic through f(0), f'(0) = slope and the trial value, then backtracking by
 * quarters while nothing beats f(0). Null when no step improves f.
 */
function lineSearch<T extends { value: number }>(
  along: (gamma: number) => T,
  value0: number,
  slope: number,
  trialGamma: number,
): { gamma: number; result: T } | null {
  const candidates = [{ gamma: trialGamma, result: along(trialGamma) }];
  const curvature = (candidates[0].result.value - value0 - slope * trialGamma) / (trialGamma * trialGamma);
  if (Number.isFinite(curvature) && curvature < 0) {
    const modelGamma = Math.min(1, -slope / (2 * curvature));
    if (Math.abs(modelGamma - trialGamma) > 1e-9 * trialGamma) {
      candidates.push({ gamma: modelGamma, result: along(modelGamma) });
    }
  }
  let best = candidates.reduce((a, b) => (b.result.value > a.result.value ? b : a));
  for (let gamma = trialGamma / 4; !(best.result.value > value0) && gamma > 1e-12; gamma /= 4) {
    best = { gamma, result: along(gamma) };
  }
  return best.result.value > value0 ? best : null;
}
