/**
 * Pool mode (DESIGN.md §6): when the options come from a fixed candidate set (e.g. samples of a flow),
 * the same criterion picks K-tuples from the pool greedily.
 *
 * For a tuple S of K point masses, §6's I = (1/K) Σ φφᵀ − φ̄φ̄ᵀ = (1/K²) Σ_{i<j ∈ S} (φ_i − φ_j)(φ_i − φ_j)ᵀ.
 * The pairwise form extends to partial tuples (k < K members, mean m), and growing S by x adds
 * (1/K²) Σ_{i ∈ S} (x − φ_i)(x − φ_i)ᵀ = (1/K²)[k (x − m)(x − m)ᵀ + Σ_{i ∈ S} (φ_i − m)(φ_i − m)ᵀ]
 * (the cross terms vanish because Σ_{i ∈ S} (φ_i − m) = 0): a part that does not depend on x plus a
 * rank-one term c·vvᵀ with c = k/K², v = x − m. With A = B + I(S) + the x-free part, the criterion after
 * adding x follows from one factorisation of A (matrix determinant lemma, Sherman–Morrison):
 *   D:  log det(A + c vvᵀ) = log det A + log(1 + c vᵀA⁻¹v)
 *   A: −tr((A + c vvᵀ)⁻¹) = −tr(A⁻¹) + c ‖A⁻¹v‖² / (1 + c vᵀA⁻¹v)
 * so one greedy step costs d³/3 + N·d² for N candidates. A single option carries no information, so the
 * first member is the one that would be best against the pool's mean feature.
 *
 * The same identity, read backwards, scores replacing one member of a full tuple (used to round a
 * Frank–Wolfe design into a query, see design.ts): with the other K − 1 members fixed (mean m₋),
 * I(S) = (x-free part) + ((K − 1)/K²)(x − m₋)(x − m₋)ᵀ.
 */
import type { Rng } from '../random';
import type { Criterion } from './criteria';
import { criterionValue } from './criteria';
import {
  addOuterProduct,
  applyInverseLower,
  applyInverseLowerTransposed,
  cholesky,
  dot,
  inverseLowerTransposed,
} from './linalg';
import { optionCount, queryFisherInformation } from './mnl';

export interface PoolQuery {
  /** Indices of the K chosen candidates, in the order greedy picked them. */
  indices: number[];
  /** f(B + I(tuple)). */
  objective: number;
}

/**
 * The increase of the §6 criterion f when c·vvᵀ is added to A (formulas above), for many v against one
 * factorisation of A. Throws when A is not positive definite.
 */
export function rankOneCriterionGain(
  criterion: Criterion,
  a: Float64Array,
  d: number,
): (v: ArrayLike<number>, c: number, offset?: number) => number {
  const l = cholesky(a, d);
  if (!l) throw new Error('the information matrix must be positive definite (is λ′ > 0?)');
  const inverseLowerT = inverseLowerTransposed(l, d);
  return (v, c, offset = 0) => {
    const u = applyInverseLower(inverseLowerT, d, v, offset); // L⁻¹v, so vᵀA⁻¹v = ‖u‖²
    const quadratic = dot(u, u);
    if (criterion === 'dopt') return Math.log1p(c * quadratic);
    const solved = applyInverseLowerTransposed(inverseLowerT, d, u); // A⁻¹v
    return (c * dot(solved, solved)) / (1 + c * quadratic);
  };
}

/**
 * §6 pool mode: greedy K-tuple from `pool` (n·d numbers, candidate i at i·d) maximising f(B + I(S)),
 * B = λ'·Id plus the information of queries already asked. Candidates are distinct unless
 * `allowRepeats` (a repeated option is a legitimate, if rarely useful, query). Ties go to the smallest
 * index.
 */
export function greedyPoolQuery(
  pool: Float64Array,
  d: number,
  K: number,
  criterion: Criterion,
  base: Float64Array,
  allowRepeats = false,
): PoolQuery {
  const n = pool.length / d;
  if (!(Number.isInteger(K) && K >= 2)) throw new Error(`K must be an integer ≥ 2, got ${K}`);
  if (!Number.isInteger(n) || n < 1) throw new Error(`the pool must hold n·${d} numbers, n ≥ 1`);
  if (!allowRepeats && n < K) throw new Error(`the pool holds ${n} candidates, fewer than K = ${K}`);
  if (base.length !== d * d) throw new Error(`base must be ${d}×${d}`);
  const chosen: number[] = [];
  const poolMean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) poolMean[j] += pool[i * d + j] / n;

  while (chosen.length < K) {
    const k = chosen.length;
    const mean = k > 0 ? tupleMean(pool, d, chosen) : poolMean;
    // A = B + (1/K²)[Σ_{i<j∈S} (φ_i − φ_j)(φ_i − φ_j)ᵀ + Σ_{i∈S} (φ_i − m)(φ_i − m)ᵀ]; for k = 0, A = B.
    const a = Float64Array.from(base);
    chosen.forEach((i, position) => {
      for (const j of chosen.slice(position + 1))
        addOuterProduct(a, d, 1 / (K * K), difference(pool, d, i, j));
      addOuterProduct(a, d, 1 / (K * K), difference(pool, d, i, mean));
    });
    const gain = rankOneCriterionGain(criterion, a, d);
    const c = Math.max(k, 1) / (K * K);
    let best = -1;
    let bestGain = Number.NEGATIVE_INFINITY;
    for (let x = 0; x < n; x++) {
      if (!allowRepeats && chosen.includes(x)) continue;
      const value = gain(difference(pool, d, x, mean), c);
      if (value > bestGain) {
        bestGain = value;
        best = x;
      }
    }
    chosen.push(best);
  }
  return { indices: chosen, objective: tupleCriterion(pool, d, chosen, criterion, base) };
}

/** §6 baseline, random query selection in pool mode: K distinct candidates uniformly at random. */
export function randomPoolQuery(poolSize: number, K: number, rng: Rng): number[] {
  if (poolSize < K) throw new Error(`the pool holds ${poolSize} candidates, fewer than K = ${K}`);
  const chosen: number[] = [];
  while (chosen.length < K) {
    const candidate = rng.int(poolSize);
    if (!chosen.includes(candidate)) chosen.push(candidate);
  }
  return chosen;
}

/** The chosen candidates' features, K·d numbers (the layout the MNL model reads). */
export function poolOptions(pool: Float64Array, d: number, indices: number[]): Float64Array {
  const out = new Float64Array(indices.length * d);
  indices.forEach((i, position) => out.set(pool.subarray(i * d, (i + 1) * d), position * d));
  return out;
}

/** f(B + I(options)) for a query's K options (K·d numbers), I the θ-agnostic Fisher of §6. */
export function queryCriterion(
  options: Float64Array,
  d: number,
  criterion: Criterion,
  base: Float64Array,
): number {
  optionCount(options, d);
  const m = queryFisherInformation(options, d);
  for (let i = 0; i < m.length; i++) m[i] += base[i];
  return criterionValue(criterion, m, d);
}

/**
 * For option q of a query (K·d numbers), §6's pairwise form of I split as in the header:
 * A = B + I(others) + ((1/K²) Σ_{j≠q} (φ_j − m₋)(φ_j − m₋)ᵀ), the mean m₋ of the other options,
 * and c = (K − 1)/K², so that f(B + I(query with φ_q = x)) = f(A) + gain(x − m₋, c) for every x.
 */
export function replacementSystem(options: Float64Array, d: number, q: number, base: Float64Array) {
  const k = optionCount(options, d);
  const others = Array.from({ length: k }, (_, i) => i).filter((i) => i !== q);
  const mean = tupleMean(options, d, others);
  const a = Float64Array.from(base);
  others.forEach((i, position) => {
    for (const j of others.slice(position + 1))
      addOuterProduct(a, d, 1 / (k * k), difference(options, d, i, j));
    addOuterProduct(a, d, 1 / (k * k), difference(options, d, i, mean));
  });
  return { a, othersMean: mean, c: (k - 1) / (k * k) };
}

/** f(B + (1/K)Σ φφᵀ − φ̄φ̄ᵀ) over the tuple. */
function tupleCriterion(
  pool: Float64Array,
  d: number,
  indices: number[],
  criterion: Criterion,
  base: Float64Array,
) {
  return queryCriterion(poolOptions(pool, d, indices), d, criterion, base);
}

function tupleMean(pool: Float64Array, d: number, indices: number[]): Float64Array {
  const mean = new Float64Array(d);
  for (const i of indices) for (let j = 0; j < d; j++) mean[j] += pool[i * d + j] / indices.length;
  return mean;
}

/** φ_i − (φ_j or the given vector). */
function difference(pool: Float64Array, d: number, i: number, other: number | Float64Array): Float64Array {
  return Float64Array.from({ length: d }, (_, j) =>
    typeof other === 'number' ? pool[i * d + j] - pool[other * d + j] : pool[i * d + j] - other[j],
  );
}
