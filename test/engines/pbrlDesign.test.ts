/**
 * ED-PBRL engine (DESIGN.md §6), part 2: the θ-agnostic Fisher information of K policies' occupancy
 * measures and its gradient, Frank–Wolfe against exact and brute-force optima, designed queries against
 * every possible query of a small MDP, and simulated users, where the A-optimal design must beat random
 * query selection. (Part 1, pbrl.test.ts: model, criteria, MLE, DP best response, pool mode.)
 */
import { describe, expect, it } from 'vitest';
import {
  choiceAccuracy,
  cosineError,
  createSimulatedUser,
  criterionValue,
  designFisherInformation,
  designGradientReward,
  designQuery,
  enumeratePaths,
  fisherInformation,
  frankWolfeDesign,
  mnlChoiceProbabilities,
  occupancyMeasure,
  pathFeatures,
  pathOfActions,
  poolOptions,
  queryCriterion,
  queryFeatures,
  queryFisherInformation,
  scaledIdentity,
  simulatePreferenceElicitation,
  syntheticTokenMdp,
  type Criterion,
  type MixturePolicy,
  type Path,
  type SequenceMdp,
} from '../../server/engines/pbrl';
import { createRng } from '../../server/engines/random';

// ------------------------------------------------------------------------------------------ helpers

function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

function plus(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((value, i) => value + b[i]);
}

/** A mixture policy over the given paths with random weights. */
function randomMixture(paths: Path[], count: number, seed: number): MixturePolicy {
  const rng = createRng(seed);
  const chosen = Array.from({ length: count }, () => paths[rng.int(paths.length)]);
  const weights = chosen.map(() => 0.1 + rng.uniform());
  const total = weights.reduce((sum, w) => sum + w, 0);
  return { atoms: chosen.map((path, i) => ({ path, weight: weights[i] / total })) };
}

/** Every composition of `steps` into n non-negative parts: the grid {k/steps} on the simplex Δ_{n−1}. */
function* simplexGrid(n: number, steps: number, prefix: number[] = []): Generator<number[]> {
  const used = prefix.reduce((sum, k) => sum + k, 0);
  if (prefix.length === n - 1) {
    yield [...prefix, steps - used];
    return;
  }
  for (let k = 0; k <= steps - used; k++) yield* simplexGrid(n, steps, [...prefix, k]);
}

/** Every K-subset of {0, …, n−1}. */
function* subsets(n: number, K: number, start = 0, chosen: number[] = []): Generator<number[]> {
  if (chosen.length === K) {
    yield chosen;
    return;
  }
  for (let i = start; i < n; i++) yield* subsets(n, K, i + 1, [...chosen, i]);
}

// ----------------------------------------------------------------------------- the §6 relaxation

describe('θ-agnostic Fisher information of occupancy measures (design.ts)', () => {
  const mdp = syntheticTokenMdp({ horizon: 3, vocab: 3, dim: 3, rng: createRng(1) });
  const paths = enumeratePaths(mdp);

  it('is §6’s formula verbatim for H = 1, and per step for H > 1', () => {
    // H = 1 with deterministic policies: (1/K) Σ_q φ_qφ_qᵀ − φ̄φ̄ᵀ, the Fisher of the query itself.
    const oneStep = syntheticTokenMdp({ horizon: 1, vocab: 5, dim: 3, rng: createRng(2) });
    const options = enumeratePaths(oneStep).slice(0, 4);
    const deterministic = options.map((path) => ({ atoms: [{ path, weight: 1 }] }));
    expect(
      maxAbsDifference(
        designFisherInformation(oneStep, deterministic),
        queryFisherInformation(queryFeatures(oneStep, options), 3),
      ),
    ).toBeLessThan(1e-14);

    // H = 3 with mixtures: Σ_h [(1/K) Σ_q E_{d_q^h}[φφᵀ] − μ̄_hμ̄_hᵀ], summed here path by path.
    const K = 3;
    const design = [0, 1, 2].map((q) => randomMixture(paths, 4, 10 + q));
    const expected = new Float64Array(9);
    for (let h = 0; h < mdp.horizon; h++) {
      const meanBar = new Float64Array(3);
      for (const policy of design) {
        for (const { path, weight } of policy.atoms) {
          const offset = (path.states[h] * mdp.vocab + path.actions[h]) * 3;
          const phi = mdp.features[h].subarray(offset, offset + 3);
          for (let a = 0; a < 3; a++) {
            meanBar[a] += (weight * phi[a]) / K;
            for (let b = 0; b < 3; b++) expected[a * 3 + b] += (weight * phi[a] * phi[b]) / K;
          }
        }
      }
      for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) expected[a * 3 + b] -= meanBar[a] * meanBar[b];
    }
    expect(maxAbsDifference(designFisherInformation(mdp, design), expected)).toBeLessThan(1e-13);
  });

  it('depends on the K policies only through their average occupancy, and vanishes when they agree', () => {
    const design = [0, 1, 2, 3].map((q) => randomMixture(paths, 3, 20 + q));
    const average: MixturePolicy = {
      atoms: design.flatMap((policy) =>
        policy.atoms.map(({ path, weight }) => ({ path, weight: weight / 4 })),
      ),
    };
    const pooled = designFisherInformation(mdp, [average, average, average, average]);
    expect(maxAbsDifference(designFisherInformation(mdp, design), pooled)).toBeLessThan(1e-13);
    // K copies of one deterministic policy: no information at all.
    const single = { atoms: [{ path: paths[7], weight: 1 }] };
    expect(
      maxAbsDifference(designFisherInformation(mdp, [single, single]), new Float64Array(9)),
    ).toBeLessThan(1e-15);
  });

  it('has the §6 gradient (1/K)[φᵀGφ − 2φᵀGμ̄_h] in every occupancy entry (finite differences)', () => {
    const design = [0, 1, 2].map((q) => randomMixture(paths, 3, 30 + q));
    const occupancies = design.map((policy) => occupancyMeasure(mdp, policy));
    const base = scaledIdentity(3, 0.4);
    for (const kind of ['aopt', 'dopt'] as const) {
      const reward = designGradientReward(mdp, occupancies, kind, base)!;
      const f = (q: number, h: number, index: number, t: number) => {
        const shifted = occupancies.map((occupancy, p) =>
          occupancy.map((mass, step) => {
            const out = Float64Array.from(mass);
            if (p === q && step === h) out[index] += t;
            return out;
          }),
        );
        return criterionValue(kind, plus(base, fisherInformation(mdp, shifted)), 3);
      };
      // Central differences, t = 1e-6, on f of size ≲ 10: rounding ε·10/1e-6 ≈ 2e-9, truncation
      // t²·|f'''| ≲ 1e-12·100. Tolerance 1e-7. The gradient is the same for every policy q.
      for (const q of [0, 2]) {
        for (let h = 0; h < mdp.horizon; h++) {
          for (let index = 0; index < reward[h].length; index++) {
            const fd = (f(q, h, index, 1e-6) - f(q, h, index, -1e-6)) / 2e-6;
            expect(Math.abs(fd - reward[h][index])).toBeLessThan(1e-7);
          }
        }
      }
    }
  });
});

// ----------------------------------------------------------------------------------- Frank–Wolfe

function expectNonDecreasing(history: number[]) {
  for (let i = 1; i < history.length; i++) expect(history[i]).toBeGreaterThanOrEqual(history[i - 1]);
}

describe('Frank–Wolfe over occupancy measures (design.ts)', () => {
  it('reaches the exact optimum of a symmetric problem, its objective never decreasing', () => {
    // H = 1, four actions with features ±e₁, ±e₂, B = ½·Id. The objective is concave and invariant under
    // the square's symmetries, so averaging an optimum over them gives one: the uniform mixture, with
    // I = diag(½, ½) (mean 0). Hence f* = −tr((B + I)⁻¹) = −2 (A) and log det(B + I) = 0 (D).
    const square: SequenceMdp = {
      horizon: 1,
      vocab: 4,
      dim: 2,
      stateCounts: [1],
      next: [],
      features: [Float64Array.from([1, 0, -1, 0, 0, 1, 0, -1])],
    };
    for (const [kind, optimum] of [
      ['aopt', -2],
      ['dopt', 0],
    ] as const) {
      for (const K of [2, 3, 4]) {
        const result = frankWolfeDesign(square, {
          K,
          criterion: kind,
          base: scaledIdentity(2, 0.5),
          rng: createRng(K),
          tolerance: 1e-12,
          maxRounds: 300,
        });
        // f* − f ≤ gap; near the optimum f* − f shrinks like gap², so 1e-9 on f is reached long before
        // the gap falls below √ε ≈ 1e-8.
        expect(Math.abs(result.objective - optimum)).toBeLessThan(1e-9);
        expect(result.gaps.at(-1)).toBeLessThan(1e-6);
        expectNonDecreasing(result.objectiveHistory);
        expect(result.objective).toBe(result.objectiveHistory.at(-1));
        const information = designFisherInformation(square, result.design);
        expect(maxAbsDifference(information, [0.5, 0, 0, 0.5])).toBeLessThan(1e-4);
      }
    }
  });

  it('matches brute force over a fine grid of designs on small random MDPs', () => {
    // Since I(d_1..d_K) = I(d̄, …, d̄) (above), the optimum is a maximum over one average occupancy:
    // a mixture of the V^H paths, searched on the grid of weights k/steps. Frank–Wolfe's gap certifies
    // f* ≤ f_FW + gap, so the grid's best can exceed f_FW by at most the gap; conversely f_FW may beat
    // the grid by its resolution (measured: 5e-6 and 1.9e-7 on the first MDP, 1.1e-4 and 3.4e-5 on the
    // second, both criteria).
    const cases = [
      {
        mdp: syntheticTokenMdp({ horizon: 1, vocab: 3, dim: 2, rng: createRng(24) }),
        steps: 300,
        slack: 1e-5,
      },
      {
        mdp: syntheticTokenMdp({ horizon: 2, vocab: 2, dim: 3, rng: createRng(22) }),
        steps: 60,
        slack: 3e-4,
      },
    ];
    for (const { mdp, steps, slack } of cases) {
      const paths = enumeratePaths(mdp);
      const base = scaledIdentity(mdp.dim, 0.3);
      for (const kind of ['aopt', 'dopt'] as Criterion[]) {
        let gridBest = Number.NEGATIVE_INFINITY;
        for (const counts of simplexGrid(paths.length, steps)) {
          const policy = { atoms: paths.map((path, i) => ({ path, weight: counts[i] / steps })) };
          gridBest = Math.max(
            gridBest,
            criterionValue(kind, plus(base, designFisherInformation(mdp, [policy])), mdp.dim),
          );
        }
        for (const K of [2, 3]) {
          const result = frankWolfeDesign(mdp, {
            K,
            criterion: kind,
            base,
            rng: createRng(1),
            tolerance: 1e-12,
            maxRounds: 500,
          });
          const gap = result.gaps.at(-1)!;
          expect(gap).toBeLessThan(1e-7);
          expect(gridBest).toBeLessThanOrEqual(result.objective + gap + 1e-12);
          expect(result.objective - gridBest).toBeLessThan(slack);
          expectNonDecreasing(result.objectiveHistory);
        }
      }
    }
  });

  it('stops at its tolerance on a larger MDP, the gap bounding what is left', () => {
    const mdp = syntheticTokenMdp({ horizon: 4, vocab: 6, dim: 5, rng: createRng(3) });
    const base = scaledIdentity(5, 2);
    const result = frankWolfeDesign(mdp, { K: 4, base, rng: createRng(4), tolerance: 0.01 });
    expect(result.converged).toBe(true);
    const gain = result.objective - criterionValue('aopt', base, 5);
    expect(gain).toBeGreaterThan(0);
    expect(result.gaps.at(-1)).toBeLessThanOrEqual(0.01 * gain);
    expectNonDecreasing(result.objectiveHistory);
    // A warm start from the solution is already converged: zero rounds.
    const again = frankWolfeDesign(mdp, {
      K: 4,
      base,
      rng: createRng(5),
      tolerance: 0.01,
      warmStart: result.design,
    });
    expect(again.rounds).toBe(0);
    expect(again.objective).toBeCloseTo(result.objective, 12);
    // Atom weights form a distribution per policy.
    for (const policy of result.design) {
      expect(policy.atoms.reduce((sum, atom) => sum + atom.weight, 0)).toBeCloseTo(1, 12);
    }
  });
});

// ------------------------------------------------------------------------------ designed queries

describe('designed queries (design.ts, designQuery)', () => {
  it('come close to the best of all K-tuples of a small MDP (brute force)', () => {
    // H = 2, V = 4: 16 objects, 120 pairs and 560 triples, scored by the exact criterion f(B + I(Φ)).
    // Measured over these 5 MDPs × K ∈ {2, 3} × {A, D}: the design is the best tuple in 14 of 20 cases
    // and captures at least 92.6% of the best tuple's gain over the average tuple in every case.
    let optimal = 0;
    let cases = 0;
    for (const seed of [31, 32, 33, 34, 35]) {
      const mdp = syntheticTokenMdp({ horizon: 2, vocab: 4, dim: 3, rng: createRng(seed) });
      const pool = queryFeatures(mdp, enumeratePaths(mdp));
      const base = scaledIdentity(3, 0.5);
      for (const K of [2, 3]) {
        for (const kind of ['aopt', 'dopt'] as const) {
          const values = [...subsets(16, K)].map((tuple) =>
            queryCriterion(poolOptions(pool, 3, tuple), 3, kind, base),
          );
          const best = Math.max(...values);
          const average = values.reduce((sum, v) => sum + v, 0) / values.length;
          const query = designQuery(mdp, { K, criterion: kind, base, rng: createRng(1) });
          expect(query.objective).toBeCloseTo(queryCriterion(query.options, 3, kind, base), 14);
          expect(query.objective).toBeLessThanOrEqual(best + 1e-12);
          expect((query.objective - average) / (best - average)).toBeGreaterThan(0.9);
          if (query.objective >= best - 1e-12) optimal++;
          cases++;
        }
      }
    }
    expect(optimal).toBeGreaterThanOrEqual(cases / 2);
  });

  it('are locally optimal: no one-step change of one option improves the exact criterion', () => {
    const mdp = syntheticTokenMdp({ horizon: 4, vocab: 5, dim: 6, rng: createRng(6) });
    const base = scaledIdentity(6, 2);
    for (const kind of ['aopt', 'dopt'] as const) {
      const query = designQuery(mdp, { K: 4, criterion: kind, base, rng: createRng(7) });
      expect(query.paths).toHaveLength(4);
      expect(query.objective).toBeGreaterThan(criterionValue(kind, base, 6));
      for (let q = 0; q < 4; q++) {
        for (let h = 0; h < mdp.horizon; h++) {
          for (let action = 0; action < mdp.vocab; action++) {
            const actions = Int32Array.from(query.paths[q].actions);
            actions[h] = action;
            const options = Float64Array.from(query.options);
            options.set(pathFeatures(mdp, pathOfActions(mdp, actions)), q * 6);
            expect(queryCriterion(options, 6, kind, base)).toBeLessThanOrEqual(query.objective + 1e-12);
          }
        }
      }
    }
  });
});

// ------------------------------------------------------------------------------- simulated users

describe('simulated users (simulation.ts)', () => {
  it('answer with the MNL probabilities at their temperature', () => {
    const theta = Float64Array.from([1, -2]);
    const options = Float64Array.from([0.5, 0, 0, 0.3, -0.4, -0.2, 1, 1]);
    const draws = 20000;
    for (const temperature of [1, 3]) {
      const user = createSimulatedUser(theta, temperature, createRng(temperature));
      const counts = [0, 0, 0, 0];
      for (let i = 0; i < draws; i++) counts[user.choose(options)]++;
      const p = mnlChoiceProbabilities(theta, options, 2, temperature);
      // Binomial counts: within 4 sd of their means.
      p.forEach((pi, i) =>
        expect(Math.abs(counts[i] - draws * pi)).toBeLessThan(4 * Math.sqrt(draws * pi * (1 - pi))),
      );
    }
    expect(() => createSimulatedUser(theta, 0, createRng(1))).toThrow(/temperature/);
  });

  it('are scored by 1 − cos(θ*, θ̂) and held-out accuracy', () => {
    expect(cosineError([1, 2], [2, 4])).toBeCloseTo(0, 15);
    expect(cosineError([1, 0], [0, 3])).toBeCloseTo(1, 15);
    expect(cosineError([1, 2], [-1, -2])).toBeCloseTo(2, 15);
    expect(cosineError([1, 2], [0, 0])).toBe(1);
    const heldOut = [
      { options: Float64Array.from([1, 0, 0, 1]), choice: 0 },
      { options: Float64Array.from([1, 0, 0, 1]), choice: 1 },
      { options: Float64Array.from([0, 1, 2, 0, 0, 0]), choice: 1 },
    ];
    expect(choiceAccuracy([1, 0.5], heldOut, 2)).toBeCloseTo(2 / 3, 15);
  });

  it('run reproducibly from the seed, with a given θ* when there is one', () => {
    const config = { dim: 3, K: 3, horizon: 2, vocab: 4, queries: 6, design: 'aopt' as const, seed: 5 };
    const first = simulatePreferenceElicitation(config);
    const again = simulatePreferenceElicitation(config);
    const strip = (records: typeof first.records) => records.map(({ designSeconds: _, ...rest }) => rest);
    expect(strip(again.records)).toEqual(strip(first.records));
    expect(first.records.map((r) => r.query)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(first.config.thetaSource).toBe('random');
    const given = simulatePreferenceElicitation({ ...config, theta: [0.5, -1, 2] });
    expect(given.thetaStar).toEqual([0.5, -1, 2]);
    expect(given.config.thetaSource).toBe('given');
    expect(() => simulatePreferenceElicitation({ ...config, theta: [1, 2] })).toThrow(/theta has 2/);
    expect(() => simulatePreferenceElicitation({ ...config, K: 1 })).toThrow(/K must be/);
  });

  it('learn θ* faster from A-optimal queries than from random ones (20 seeds)', () => {
    // d = 8, K = 4, H = 4, V = 8, 30 queries per seed; the same MDP, θ* and held-out set per seed for
    // every selection. Per seed, the mean of 1 − cos over queries 10–30 (less noisy than one point);
    // the paired differences random − designed must be positive with a t-statistic above 3 (measured:
    // A 4.2, D 3.4; mean 1 − cos after 30 queries: random 0.300, A 0.123, D 0.187).
    const seeds = 20;
    const queries = 30;
    const curves = (design: 'random' | 'aopt' | 'dopt') =>
      Array.from({ length: seeds }, (_, seed) =>
        simulatePreferenceElicitation({
          dim: 8,
          K: 4,
          horizon: 4,
          vocab: 8,
          queries,
          design,
          seed,
          heldOutQueries: 100,
        }).records.map((record) => record.cosineError),
      );
    const random = curves('random');
    const tail = (curve: number[]) => curve.slice(9).reduce((sum, value) => sum + value, 0) / (queries - 9);
    for (const design of ['aopt', 'dopt'] as const) {
      const designed = curves(design);
      const differences = designed.map((curve, seed) => tail(random[seed]) - tail(curve));
      const mean = differences.reduce((sum, value) => sum + value, 0) / seeds;
      const sd = Math.sqrt(differences.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (seeds - 1));
      expect(mean / (sd / Math.sqrt(seeds))).toBeGreaterThan(3);
      const final = (set: number[][]) => set.reduce((sum, curve) => sum + curve[queries - 1], 0) / seeds;
      expect(final(designed)).toBeLessThan(final(random));
    }
  });
});
