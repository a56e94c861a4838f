/**
 * Synthetic perturbation screens with a known causal matrix (DESIGN.md §5 "Synthetic screens with ground
 * truth"). Three families:
 *
 * - `nonreversible`: a random stable linear SDE dx = (A x + b + c_k) dt + σ dW on a directed Erdős–Rényi
 *   or scale-free graph; cells are drawn exactly from its stationary law N(μ_k, Σ) with μ_k = −A⁻¹(b + c_k)
 *   and AΣ + ΣAᵀ + σ²I = 0 (Lyapunov).
 * - `reversible`: the same with a symmetric A (an undirected graph: a gradient system, Σ = −σ²/2·A⁻¹).
 * - `nonlinear`: dx = (−x + W tanh(x) + b + c_k) dt + σ dW on a random DAG, simulated to stationarity by
 *   Euler–Maruyama with a burn-in check. Combinations are not additive there, which is what the held-out
 *   double perturbations test.
 *
 * Conventions: A[i][j] is the effect of gene j on gene i's rate (dx_i/dt = Σ_j A_ij x_j + …), so that
 * Aᵀ[i][j] is the effect of gene i on gene j, as DESIGN.md §5 writes CLIPR's output. Genes are named G0 …
 * G(d−1); cells carry the labels `control`, `G3`, `G3+G7`.
 */
import { CholeskyDecomposition, EigenvalueDecomposition, Matrix, inverse, solve } from 'ml-matrix';
import { createRng, type Rng } from '../engines/random';

export type SyntheticFamily = 'nonreversible' | 'reversible' | 'nonlinear';
export type SyntheticGraph = 'er' | 'sf';

export interface SyntheticScreenOptions {
  genes: number;
  graph: SyntheticGraph;
  family: SyntheticFamily;
  seed: number;
  /** Cells per perturbed condition (default 200, as in the "Must show"). */
  cellsPerCondition?: number;
  /** Control cells (default: cellsPerCondition). */
  controlCells?: number;
  /**
   * Expected number of neighbours (in + out) per gene. Default min(10, max(2, round(d/4))): the "degree 10"
   * of DESIGN.md §5 for d ≥ 40, sparser for small d so that the graph keeps non-edges to score against.
   */
  degree?: number;
  /** How many genes are perturbed singly (default: all d genes, the first ones in a random order). */
  perturbedGenes?: number;
  /** Random distinct pairs of perturbed genes measured as double perturbations (default 0). */
  doubles?: number;
  /** Explicit double perturbations (gene indices); added to the random ones. */
  pairs?: [number, number][];
  /** σ, the diffusion coefficient of the SDE (default 1). */
  noiseScale?: number;
  /**
   * Nonlinear family: Euler–Maruyama step (default 0.04; EM's stationary variance is then ≈ 2 % too wide,
   * irrelevant here because every comparison is against cells from the same simulator) and burn-in time
   * (default 8 relaxation times of the −x term; extended until the burn-in check passes).
   */
  timeStep?: number;
  burnInTime?: number;
}

export interface SyntheticCondition {
  label: string;
  /** Indices of the perturbed genes (empty for control). */
  targets: number[];
  /** Number of cells with this label. */
  cells: number;
  /** The stationary mean μ_k (exact for the linear families; the sample mean for the nonlinear one). */
  mean: number[];
}

export interface BurnInCheck {
  /** Simulated time before the cells were taken. */
  time: number;
  /** Mean squared z-score of the ensemble means between the last two checkpoints (≈ 1 when stationary). */
  statistic: number;
  /** The acceptance bound on `statistic`: 1 + 4·√(2/m) for m compared means (a χ²_m/m test at ≈ 4 SD). */
  bound: number;
  passed: boolean;
}

export interface SyntheticScreen {
  family: SyntheticFamily;
  graph: SyntheticGraph;
  seed: number;
  genes: string[];
  /** Cells × genes, row-major. */
  cells: Float32Array;
  cellCount: number;
  /** One label per cell: `control`, `G3`, `G3+G7`. */
  labels: string[];
  conditions: SyntheticCondition[];
  /**
   * The true matrix A (d × d, A[i][j] = effect of gene j on gene i). For the nonlinear family it is the
   * drift's Jacobian where tanh' = 1, −I + W: the direct effects' support and signs.
   */
  trueMatrix: number[][];
  /** Graph adjacency without the diagonal: edge[i][j] = 1 when gene j acts directly on gene i. */
  trueEdges: number[][];
  bias: number[];
  /** Intervention shift c_k on its target gene, per gene (0 for genes never perturbed). */
  interventionShifts: number[];
  noiseScale: number;
  /** Linear families: the exact stationary covariance Σ. */
  covariance?: number[][];
  /** Nonlinear family: the simulation's burn-in check. */
  burnIn?: BurnInCheck;
}

export const CONTROL_LABEL = 'control';

export function geneName(index: number): string {
  return `G${index}`;
}

export function conditionLabel(targets: readonly number[]): string {
  return targets.length === 0 ? CONTROL_LABEL : targets.map(geneName).join('+');
}

/** Uniform on [low, high). */
function uniform(rng: Rng, low: number, high: number): number {
  return low + (high - low) * rng.uniform();
}

/** ±U[low, high] with a fair sign, DESIGN.md §5's edge weights (±U[1,3]) and shifts (±U[5,15]). */
function signedUniform(rng: Rng, low: number, high: number): number {
  return (rng.uniform() < 0.5 ? -1 : 1) * uniform(rng, low, high);
}

/** A random permutation of 0 … n−1 (Fisher–Yates). */
function permutation(rng: Rng, n: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/**
 * Undirected skeleton as a list of pairs. Erdős–Rényi: each pair with probability degree/(d−1), so the
 * expected number of neighbours is `degree`. Scale-free: Barabási–Albert preferential attachment, each new
 * gene attaching to m = round(degree/2) existing ones with probability proportional to their degree
 * (expected degree 2m), starting from a clique of m + 1 genes.
 */
export function randomSkeleton(
  rng: Rng,
  d: number,
  graph: SyntheticGraph,
  degree: number,
): [number, number][] {
  const edges: [number, number][] = [];
  if (graph === 'er') {
    const p = Math.min(1, degree / Math.max(1, d - 1));
    for (let i = 0; i < d; i++) for (let j = i + 1; j < d; j++) if (rng.uniform() < p) edges.push([i, j]);
    return edges;
  }
  const m = Math.max(1, Math.min(d - 1, Math.round(degree / 2)));
  // Each edge endpoint listed once per incident edge: sampling from this list is preferential attachment.
  const endpoints: number[] = [];
  for (let i = 0; i <= m && i < d; i++) {
    for (let j = i + 1; j <= m && j < d; j++) {
      edges.push([i, j]);
      endpoints.push(i, j);
    }
  }
  for (let node = m + 1; node < d; node++) {
    const targets = new Set<number>();
    while (targets.size < m) targets.add(endpoints[rng.int(endpoints.length)]);
    for (const target of targets) {
      edges.push([target, node]);
      endpoints.push(target, node);
    }
  }
  return edges;
}

/**
 * Weighted matrix W (W[i][j] = weight of the edge j → i) with weights ±U[1,3] (DESIGN.md §5). Reversible:
 * W symmetric. Nonlinear: edges oriented along a random order, a DAG, so the drift has a single stable
 * fixed point per condition and Euler–Maruyama mixes in a few unit times. Non-reversible: each skeleton
 * edge gets one random direction.
 */
function weightedGraph(rng: Rng, d: number, family: SyntheticFamily, skeleton: [number, number][]): Matrix {
  const w = Matrix.zeros(d, d);
  const rank = permutation(rng, d);
  for (const [a, b] of skeleton) {
    const weight = signedUniform(rng, 1, 3);
    if (family === 'reversible') {
      w.set(a, b, weight);
      w.set(b, a, weight);
      continue;
    }
    const forward = family === 'nonlinear' ? rank[a] < rank[b] : rng.uniform() < 0.5;
    const [source, target] = forward ? [a, b] : [b, a];
    w.set(target, source, weight);
  }
  return w;
}

/** The largest real part of A's eigenvalues (ml-matrix's Hessenberg–QR eigen-solver). */
export function maxRealEigenvalue(a: Matrix, symmetric = false): number {
  const evd = new EigenvalueDecomposition(a, { assumeSymmetric: symmetric });
  return Math.max(...evd.realEigenvalues);
}

/**
 * Σ solving the continuous Lyapunov equation A Σ + Σ Aᵀ + Q = 0 for a stable A (DESIGN.md §5, with
 * Q = σ²I). Method: the Cayley transform C = (A − pI)⁻¹(A + pI), Q̃ = 2p (A − pI)⁻¹ Q (A − pI)⁻ᵀ turns it
 * into the Stein equation Σ = C Σ Cᵀ + Q̃ (expand (A+pI)Σ(A+pI)ᵀ − (A−pI)Σ(A−pI)ᵀ = 2p(AΣ + ΣAᵀ)), whose
 * series Σ_j C^j Q̃ Cᵀ^j the squared Smith iteration sums in O(log) matrix products (ρ(C) < 1 because
 * Re λ(A) < 0). The shift p = √(|λ|min·|λ|max) balances the contraction of the slowest and fastest modes.
 * A few steps of iterative refinement (solve for the residual's correction with the same iteration) bring
 * the residual down to rounding level, which the tests check.
 */
export function solveLyapunov(a: Matrix, q: Matrix, refinements = 3): Matrix {
  const d = a.rows;
  const evd = new EigenvalueDecomposition(a);
  const moduli = evd.realEigenvalues.map((re, i) => Math.hypot(re, evd.imaginaryEigenvalues[i]));
  if (Math.max(...evd.realEigenvalues) >= 0) throw new Error('solveLyapunov: A is not stable');
  const p = Math.sqrt(Math.min(...moduli) * Math.max(...moduli));
  const shiftedInverse = inverse(Matrix.sub(a, Matrix.eye(d).mul(p)));
  const cayley = shiftedInverse.mmul(Matrix.add(a, Matrix.eye(d).mul(p)));

  const stein = (rhs: Matrix): Matrix => {
    let x = shiftedInverse
      .mmul(rhs)
      .mmul(shiftedInverse.transpose())
      .mul(2 * p);
    let power = cayley.clone();
    for (let iteration = 0; iteration < 64; iteration++) {
      const increment = power.mmul(x).mmul(power.transpose());
      x = Matrix.add(x, increment);
      if (increment.norm() <= 1e-18 * x.norm()) break;
      power = power.mmul(power);
    }
    return x;
  };

  let sigma = stein(q);
  for (let r = 0; r < refinements; r++) {
    const residual = lyapunovResidual(a, sigma, q);
    sigma = Matrix.add(sigma, stein(residual));
  }
  // Σ is symmetric in exact arithmetic; averaging removes the rounding asymmetry.
  return Matrix.add(sigma, sigma.transpose()).mul(0.5);
}

/** A Σ + Σ Aᵀ + Q (zero at the solution). */
export function lyapunovResidual(a: Matrix, sigma: Matrix, q: Matrix): Matrix {
  const product = a.mmul(sigma);
  return Matrix.add(Matrix.add(product, product.transpose()), q);
}

/** Gene indices perturbed singly, the pairs measured together, and the labels they give. */
function chooseConditions(
  rng: Rng,
  d: number,
  options: SyntheticScreenOptions,
): { singles: number[]; pairs: [number, number][] } {
  const perturbed = options.perturbedGenes ?? d;
  if (!Number.isInteger(perturbed) || perturbed < 0 || perturbed > d) {
    throw new Error(`perturbedGenes must be an integer in [0, ${d}], got ${perturbed}`);
  }
  const singles = permutation(rng, d)
    .slice(0, perturbed)
    .sort((a, b) => a - b);
  const pairs: [number, number][] = [];
  const seen = new Set<string>();
  const addPair = (i: number, j: number) => {
    const [a, b] = i < j ? [i, j] : [j, i];
    const key = `${a},${b}`;
    if (a === b || seen.has(key)) return false;
    seen.add(key);
    pairs.push([a, b]);
    return true;
  };
  for (const [i, j] of options.pairs ?? []) {
    if (!singles.includes(i) || !singles.includes(j)) {
      throw new Error(`pair ${geneName(i)}+${geneName(j)} uses a gene that is not perturbed singly`);
    }
    addPair(i, j);
  }
  const wanted = options.doubles ?? 0;
  const possible = (singles.length * (singles.length - 1)) / 2;
  if (wanted > possible - pairs.length) throw new Error(`only ${possible} distinct pairs exist`);
  let added = 0;
  while (added < wanted) {
    if (addPair(singles[rng.int(singles.length)], singles[rng.int(singles.length)])) added++;
  }
  return { singles, pairs };
}

function defaultDegree(d: number): number {
  return Math.min(10, Math.max(2, Math.round(d / 4)));
}

/** A synthetic screen with ground truth (DESIGN.md §5); deterministic in its options (seed included). */
export function syntheticScreen(options: SyntheticScreenOptions): SyntheticScreen {
  const d = options.genes;
  if (!Number.isInteger(d) || d < 2) throw new Error(`genes must be an integer ≥ 2, got ${d}`);
  const cellsPerCondition = options.cellsPerCondition ?? 200;
  const controlCells = options.controlCells ?? cellsPerCondition;
  const noiseScale = options.noiseScale ?? 1;
  const degree = options.degree ?? defaultDegree(d);
  const rng = createRng(options.seed);

  const skeleton = randomSkeleton(rng, d, options.graph, degree);
  const weights = weightedGraph(rng, d, options.family, skeleton);
  const bias = Array.from({ length: d }, () => uniform(rng, -3, 3));
  const interventionShifts = Array.from({ length: d }, () => signedUniform(rng, 5, 15));
  const { singles, pairs } = chooseConditions(rng, d, options);
  const perturbedSet = new Set(singles);
  for (let k = 0; k < d; k++) if (!perturbedSet.has(k)) interventionShifts[k] = 0;

  const targetLists: number[][] = [[], ...singles.map((k) => [k]), ...pairs.map((pair) => [...pair])];
  const counts = targetLists.map((targets) => (targets.length === 0 ? controlCells : cellsPerCondition));
  const cellCount = counts.reduce((a, b) => a + b, 0);
  const labels: string[] = [];
  targetLists.forEach((targets, c) => {
    const label = conditionLabel(targets);
    for (let i = 0; i < counts[c]; i++) labels.push(label);
  });
  const trueEdges = weights.to2DArray().map((row) => row.map((w) => (w !== 0 ? 1 : 0)));
  /** b + c_k for a condition: shifts add on their targets (so linear means are exactly additive). */
  const drive = (targets: number[]) => {
    const out = [...bias];
    for (const k of targets) out[k] += interventionShifts[k];
    return out;
  };

  const base = {
    family: options.family,
    graph: options.graph,
    seed: options.seed,
    genes: Array.from({ length: d }, (_, i) => geneName(i)),
    cellCount,
    labels,
    trueEdges,
    bias,
    interventionShifts,
    noiseScale,
  };

  if (options.family === 'nonlinear') {
    const simulated = simulateNonlinear(rng, weights, targetLists.map(drive), counts, {
      noiseScale,
      timeStep: options.timeStep ?? 0.04,
      burnInTime: options.burnInTime ?? 8,
    });
    const trueMatrix = Matrix.sub(weights, Matrix.eye(d)).to2DArray();
    const conditions = targetLists.map((targets, c) => ({
      label: conditionLabel(targets),
      targets,
      cells: counts[c],
      mean: simulated.means[c],
    }));
    return { ...base, cells: simulated.cells, conditions, trueMatrix, burnIn: simulated.burnIn };
  }

  // A = W − (max Re λ(W) + 0.5)·I: stable with spectral abscissa exactly −0.5 (DESIGN.md §5).
  const shift = maxRealEigenvalue(weights, options.family === 'reversible') + 0.5;
  const a = Matrix.sub(weights, Matrix.eye(d).mul(shift));
  const covariance = solveLyapunov(a, Matrix.eye(d).mul(noiseScale * noiseScale));
  const factor = new CholeskyDecomposition(covariance);
  if (!factor.isPositiveDefinite()) throw new Error('stationary covariance is not positive definite');
  const lower = factor.lowerTriangularMatrix;
  // μ_k = −A⁻¹(b + c_k), one column per condition.
  const drives = new Matrix(targetLists.map(drive)).transpose();
  const means = solve(a, drives).mul(-1).transpose().to2DArray();

  const cells = new Float32Array(cellCount * d);
  const z = new Float64Array(d);
  let row = 0;
  targetLists.forEach((_, c) => {
    const mean = means[c];
    for (let n = 0; n < counts[c]; n++, row++) {
      for (let j = 0; j < d; j++) z[j] = rng.normal();
      // x = μ + L z with Σ = L Lᵀ: exactly N(μ_k, Σ).
      for (let i = 0; i < d; i++) {
        let value = mean[i];
        for (let j = 0; j <= i; j++) value += lower.get(i, j) * z[j];
        cells[row * d + i] = value;
      }
    }
  });
  const conditions = targetLists.map((targets, c) => ({
    label: conditionLabel(targets),
    targets,
    cells: counts[c],
    mean: means[c],
  }));
  return { ...base, cells, conditions, trueMatrix: a.to2DArray(), covariance: covariance.to2DArray() };
}

interface NonlinearSimulation {
  cells: Float32Array;
  means: number[][];
  burnIn: BurnInCheck;
}

/**
 * Euler–Maruyama for dx = (−x + W tanh(x) + b + c_k) dt + σ dW (DESIGN.md §5 nonlinear family): one
 * independent chain per cell, all started at the condition's noise-free fixed point, so the cells are
 * independent draws once the chains have relaxed from a point mass to the stationary spread. Burn-in check: after the
 * burn-in time T, the ensemble means of every gene and condition at T and at T + T/2 are compared; when the
 * chains are stationary each difference is N(0, 2·var/n) up to EM's O(dt) bias, so the mean squared
 * z-score is χ²_m/m ≈ 1. If it exceeds 1 + 4√(2/m) the simulation continues (the time doubles, up to 4
 * times) and is checked again. W is a DAG, so the drift's only fixed point is stable and the relaxation is
 * quick; the check guards the choice of T.
 */
function simulateNonlinear(
  rng: Rng,
  weights: Matrix,
  drives: number[][],
  counts: number[],
  settings: { noiseScale: number; timeStep: number; burnInTime: number },
): NonlinearSimulation {
  const d = weights.rows;
  const total = counts.reduce((a, b) => a + b, 0);
  const edges: { target: number; source: number; weight: number }[] = [];
  for (let i = 0; i < d; i++)
    for (let j = 0; j < d; j++)
      if (weights.get(i, j) !== 0) edges.push({ target: i, source: j, weight: weights.get(i, j) });
  // The noise-free fixed point x = b + c_k + W tanh(x): on a DAG, d sweeps of this map reach it exactly
  // (each sweep settles one more level of the topological order).
  const fixedPoints = drives.map((drive) => {
    let x = [...drive];
    for (let sweep = 0; sweep < d; sweep++) {
      const next = [...drive];
      for (const edge of edges) next[edge.target] += edge.weight * Math.tanh(x[edge.source]);
      x = next;
    }
    return x;
  });
  const driveOfRow = new Float64Array(total * d);
  const state = new Float64Array(total * d);
  let row = 0;
  counts.forEach((count, c) => {
    for (let n = 0; n < count; n++, row++) {
      driveOfRow.set(drives[c], row * d);
      state.set(fixedPoints[c], row * d);
    }
  });
  const squashed = new Float64Array(d);
  const rate = new Float64Array(d);
  const dt = settings.timeStep;
  const noise = settings.noiseScale * Math.sqrt(dt);

  const advance = (time: number) => {
    const steps = Math.round(time / dt);
    for (let s = 0; s < steps; s++) {
      for (let r = 0; r < total; r++) {
        const offset = r * d;
        for (let i = 0; i < d; i++) {
          squashed[i] = Math.tanh(state[offset + i]);
          rate[i] = driveOfRow[offset + i] - state[offset + i];
        }
        for (const edge of edges) rate[edge.target] += edge.weight * squashed[edge.source];
        for (let i = 0; i < d; i++) state[offset + i] += rate[i] * dt + noise * rng.normal();
      }
    }
  };
  const ensembleMoments = () => {
    const means: number[][] = [];
    const variances: number[][] = [];
    let start = 0;
    for (const count of counts) {
      const mean = new Array<number>(d).fill(0);
      const variance = new Array<number>(d).fill(0);
      for (let r = start; r < start + count; r++)
        for (let i = 0; i < d; i++) mean[i] += state[r * d + i] / count;
      for (let r = start; r < start + count; r++)
        for (let i = 0; i < d; i++) variance[i] += (state[r * d + i] - mean[i]) ** 2 / Math.max(1, count - 1);
      means.push(mean);
      variances.push(variance);
      start += count;
    }
    return { means, variances };
  };

  let time = settings.burnInTime;
  advance(time);
  let check: BurnInCheck = { time, statistic: Number.POSITIVE_INFINITY, bound: 0, passed: false };
  for (let attempt = 0; attempt < 5; attempt++) {
    const before = ensembleMoments();
    const extra = time / 2;
    advance(extra);
    time += extra;
    const after = ensembleMoments();
    let sum = 0;
    let compared = 0;
    counts.forEach((count, c) => {
      for (let i = 0; i < d; i++) {
        const variance = (before.variances[c][i] + after.variances[c][i]) / 2;
        if (!(variance > 0)) continue;
        sum += (after.means[c][i] - before.means[c][i]) ** 2 / ((2 * variance) / count);
        compared++;
      }
    });
    const statistic = sum / Math.max(1, compared);
    const bound = 1 + 4 * Math.sqrt(2 / Math.max(1, compared));
    check = { time, statistic, bound, passed: statistic <= bound };
    if (check.passed) break;
    advance(time);
    time *= 2;
  }
  if (!check.passed) {
    throw new Error(
      `nonlinear screen did not reach stationarity (burn-in statistic ${check.statistic.toFixed(2)})`,
    );
  }
  return { cells: Float32Array.from(state), means: ensembleMoments().means, burnIn: check };
}

/** The d × d matrix M as Mᵀ (e.g. A → effects, where [i][j] is the effect of gene i on gene j). */
export function transposed(matrix: readonly (readonly number[])[]): number[][] {
  return matrix[0].map((_, j) => matrix.map((row) => row[j]));
}
