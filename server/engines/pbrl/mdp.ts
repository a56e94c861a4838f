/**
 * Queries from a generator seen as a finite-horizon MDP (DESIGN.md §6): a state is a partial object, an
 * action appends one element from the step's vocabulary, and after H steps the object is complete.
 * Appending is deterministic, so a deterministic policy followed from the empty object visits one
 * state-action pair per step: a path. Each state-action pair carries a feature increment φ_h(s, a) ∈ R^d
 * and a complete object's feature is their sum along its path, φ(x) = Σ_h φ_h(s_h, a_h). (A domain whose
 * features only exist for complete objects puts them on the last step and zeros elsewhere.)
 */
import type { Rng } from '../random';

export interface SequenceMdp {
  horizon: number;
  /** V: actions (vocabulary entries) available at every step. */
  vocab: number;
  /** d: feature dimension. */
  dim: number;
  /** S_h, the number of states at step h = 0..H−1; S_0 = 1 (the empty object). */
  stateCounts: number[];
  /** next[h][s·V + a]: the state at step h+1 after appending a in state s at step h (h < H−1). */
  next: Int32Array[];
  /** features[h][(s·V + a)·d + j]: coordinate j of φ_h(s, a). */
  features: Float64Array[];
}

/** One complete object: the state and the appended action at every step. */
export interface Path {
  states: Int32Array;
  actions: Int32Array;
}

export function validateMdp(mdp: SequenceMdp): void {
  const { horizon, vocab, dim, stateCounts, next, features } = mdp;
  if (!(Number.isInteger(horizon) && horizon >= 1)) throw new Error(`horizon must be ≥ 1, got ${horizon}`);
  if (!(Number.isInteger(vocab) && vocab >= 1)) throw new Error(`vocab must be ≥ 1, got ${vocab}`);
  if (!(Number.isInteger(dim) && dim >= 1)) throw new Error(`dim must be ≥ 1, got ${dim}`);
  if (stateCounts.length !== horizon || stateCounts[0] !== 1) {
    throw new Error('stateCounts needs one entry per step and a single start state');
  }
  for (let h = 0; h < horizon; h++) {
    if (features[h]?.length !== stateCounts[h] * vocab * dim)
      throw new Error(`features[${h}] has the wrong size`);
    if (h === horizon - 1) continue;
    const nextStates = next[h];
    if (nextStates?.length !== stateCounts[h] * vocab) throw new Error(`next[${h}] has the wrong size`);
    for (const s of nextStates) {
      if (!(s >= 0 && s < stateCounts[h + 1])) throw new Error(`next[${h}] leads to a missing state ${s}`);
    }
  }
}

/** Number of state-action pairs, Σ_h S_h·V. */
export function stateActionCount(mdp: SequenceMdp): number {
  return mdp.stateCounts.reduce((sum, s) => sum + s * mdp.vocab, 0);
}

/**
 * A synthetic token MDP (§6's generator as an MDP) drawn from `rng`: a state at step h ≥ 1 is the
 * previous token (S_h = V), and
 *   φ_h(s, a) = c·(u_h(a) + ρ·w_h(s, a)),  u, w with independent N(0, 1) entries,  c = 1/√(H(1 + ρ²)),
 * a per-step token embedding u_h plus a context term w_h (ρ = contextWeight), so that the best
 * response genuinely needs dynamic programming. The scale c gives the features of an object built by
 * uniformly random tokens unit variance per coordinate, whatever H and ρ.
 */
export function syntheticTokenMdp(options: {
  horizon: number;
  vocab: number;
  dim: number;
  rng: Rng;
  contextWeight?: number;
}): SequenceMdp {
  const { horizon, vocab, dim, rng } = options;
  const rho = options.contextWeight ?? 0.5;
  const scale = 1 / Math.sqrt(horizon * (1 + rho * rho));
  const stateCounts = Array.from({ length: horizon }, (_, h) => (h === 0 ? 1 : vocab));
  const next = Array.from({ length: horizon - 1 }, (_, h) =>
    Int32Array.from({ length: stateCounts[h] * vocab }, (_, index) => index % vocab),
  );
  const features = stateCounts.map((states) => {
    const tokenEmbedding = Float64Array.from({ length: vocab * dim }, () => rng.normal());
    const out = new Float64Array(states * vocab * dim);
    for (let index = 0; index < out.length; index++) {
      const token = Math.floor(index / dim) % vocab;
      out[index] = scale * (tokenEmbedding[token * dim + (index % dim)] + rho * rng.normal());
    }
    return out;
  });
  const mdp: SequenceMdp = { horizon, vocab, dim, stateCounts, next, features };
  validateMdp(mdp);
  return mdp;
}

/** The path a deterministic policy (action per state per step) takes from the empty object. */
export function followPolicy(mdp: SequenceMdp, policy: Int32Array[]): Path {
  const states = new Int32Array(mdp.horizon);
  const actions = new Int32Array(mdp.horizon);
  let state = 0;
  for (let h = 0; h < mdp.horizon; h++) {
    states[h] = state;
    actions[h] = policy[h][state];
    if (h < mdp.horizon - 1) state = mdp.next[h][state * mdp.vocab + actions[h]];
  }
  return { states, actions };
}

/**
 * Every complete object of the MDP, V^H paths (in the order of their action sequences read as base-V
 * numbers, step 0 most significant): for brute-force checks and small domains only.
 */
export function enumeratePaths(mdp: SequenceMdp): Path[] {
  const { horizon, vocab } = mdp;
  const total = vocab ** horizon;
  if (total > 1_000_000) throw new Error(`${total} paths are too many to enumerate`);
  return Array.from({ length: total }, (_, code) => {
    const actions = new Int32Array(horizon);
    for (let h = horizon - 1, rest = code; h >= 0; h--, rest = Math.floor(rest / vocab))
      actions[h] = rest % vocab;
    return pathOfActions(mdp, actions);
  });
}

/** The path that appends the given actions, one per step, from the empty object. */
export function pathOfActions(mdp: SequenceMdp, actions: Int32Array): Path {
  const states = new Int32Array(mdp.horizon);
  for (let h = 0; h < mdp.horizon - 1; h++) states[h + 1] = mdp.next[h][states[h] * mdp.vocab + actions[h]];
  return { states, actions };
}

/** A path of uniformly random tokens: one option of a random (undesigned) query. */
export function randomPath(mdp: SequenceMdp, rng: Rng): Path {
  const policy = mdp.stateCounts.map((states) =>
    Int32Array.from({ length: states }, () => rng.int(mdp.vocab)),
  );
  return followPolicy(mdp, policy);
}

/**
 * A complete object's features (header, the φ of §6): φ(x) = Σ_h φ_h(s_h, a_h), written into `out` at
 * `offset`.
 */
export function pathFeatures(mdp: SequenceMdp, path: Path, out = new Float64Array(mdp.dim), offset = 0) {
  const d = mdp.dim;
  out.fill(0, offset, offset + d);
  for (let h = 0; h < mdp.horizon; h++) {
    const base = (path.states[h] * mdp.vocab + path.actions[h]) * d;
    const phi = mdp.features[h];
    for (let j = 0; j < d; j++) out[offset + j] += phi[base + j];
  }
  return out;
}

/** The K options' features, K·d numbers (the layout the MNL model reads). */
export function queryFeatures(mdp: SequenceMdp, paths: Path[]): Float64Array {
  const out = new Float64Array(paths.length * mdp.dim);
  paths.forEach((path, i) => pathFeatures(mdp, path, out, i * mdp.dim));
  return out;
}

export function pathKey(path: Path): string {
  return `${path.states.join(',')}|${path.actions.join(',')}`;
}

export interface BestResponse {
  /** Greedy action for every state at every step. */
  policy: Int32Array[];
  /** The path it takes from the empty object. */
  path: Path;
  /** Its return Σ_h r_h(s_h, a_h), the largest over all paths. */
  value: number;
}

/**
 * §6 "dynamic-programming best response": the deterministic policy maximising Σ_h r_h(s_h, a_h) for a
 * per-step reward r_h[s·V + a], by backward induction Q_h(s, a) = r_h(s, a) + V_{h+1}(next_h(s, a)),
 * V_h(s) = max_a Q_h(s, a), V_H ≡ 0. Ties go to the smallest action index.
 */
export function bestResponsePolicy(mdp: SequenceMdp, rewards: Float64Array[]): BestResponse {
  const { horizon, vocab, stateCounts, next } = mdp;
  const policy = stateCounts.map((states) => new Int32Array(states));
  let valueNext = new Float64Array(0);
  for (let h = horizon - 1; h >= 0; h--) {
    const value = new Float64Array(stateCounts[h]);
    for (let s = 0; s < stateCounts[h]; s++) {
      let best = Number.NEGATIVE_INFINITY;
      let bestAction = 0;
      for (let a = 0; a < vocab; a++) {
        const index = s * vocab + a;
        const q = rewards[h][index] + (h < horizon - 1 ? valueNext[next[h][index]] : 0);
        if (q > best) {
          best = q;
          bestAction = a;
        }
      }
      value[s] = best;
      policy[h][s] = bestAction;
    }
    valueNext = value;
  }
  return { policy, path: followPolicy(mdp, policy), value: valueNext[0] };
}
