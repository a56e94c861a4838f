/**
 * LCD's measurement model for count data (DESIGN.md §5): x_ij ~ ZIP(π_j, λ_ij), λ_ij = u_j·softplus(s_ij),
 * fitted before the diffusion; the diffusion is then trained on the (standardised) latents s, and predicted
 * latents are mapped back to counts through the same model.
 *
 * ZIP(π, λ): 0 with probability π + (1 − π)e^{−λ}, k > 0 with probability (1 − π)·λ^k e^{−λ}/k!.
 *
 * Fitting, a choice the design leaves open: one latent per cell and gene is not identifiable from a single
 * count (a zero can be a dropout or a small λ; a joint maximum a posteriori fit drives π to 0 and explains
 * every zero by a low latent). So the fit is empirical Bayes, gene by gene: the latents get a Gaussian
 * prior s ~ N(m_j, v_j), and π_j, m_j, v_j maximise the marginal likelihood
 * Π_i [π_j·[x_ij = 0] + (1 − π_j)·∫ Poisson(x_ij; u_j softplus(s)) N(s; m_j, v_j) ds], the integral by
 * quadrature on 41 points over m ± 6√v. u_j is fixed at the mean of gene j's nonzero counts: it only sets
 * the latents' scale, which m_j and v_j absorb. Each cell's latent is then its posterior mean E[s | x_ij].
 * Only the distinct count values of a gene enter the sums, so the fit costs little even for many cells.
 */

export interface ZipMeasurement {
  format: 'tributary.zip-measurement/v1';
  /** Dropout probability π_j per gene. */
  dropout: number[];
  /** Scale u_j per gene. */
  scale: number[];
  /** The latents' prior N(m_j, v_j) per gene. */
  priorMean: number[];
  priorVariance: number[];
}

export interface FitZipOptions {
  /** Optimisation steps per gene (default 300). */
  steps?: number;
  /** Called after each gene and awaited; throwing cancels. */
  onGene?: (info: { gene: number; genes: number; logLikelihood: number }) => void | Promise<void>;
  signal?: AbortSignal;
}

export interface ZipFit {
  measurement: ZipMeasurement;
  /** Posterior-mean latents E[s | x], row-major [cells, genes]. */
  latents: Float32Array;
  /** Marginal log-likelihood per gene at the fitted parameters. */
  logLikelihood: number[];
}

const QUADRATURE_POINTS = 41;

function logFactorial(k: number): number {
  if (k < 2) return 0;
  if (k <= 30) {
    let sum = 0;
    for (let i = 2; i <= k; i++) sum += Math.log(i);
    return sum;
  }
  // Stirling's series; its error beyond 30 is below 1e-9.
  return k * Math.log(k) - k + 0.5 * Math.log(2 * Math.PI * k) + 1 / (12 * k) - 1 / (360 * k ** 3);
}

/** log Poisson(k; λ). */
function logPoisson(k: number, rate: number): number {
  return k * Math.log(rate) - rate - logFactorial(k);
}

interface GeneParameters {
  dropout: number;
  mean: number;
  variance: number;
}

/** Quadrature nodes s_q and normalised weights w_q for N(m, v). */
function quadrature({ mean, variance }: GeneParameters): { nodes: number[]; weights: number[] } {
  const sd = Math.sqrt(variance);
  const nodes: number[] = [];
  const weights: number[] = [];
  for (let q = 0; q < QUADRATURE_POINTS; q++) {
    const z = -6 + (12 * q) / (QUADRATURE_POINTS - 1);
    nodes.push(mean + sd * z);
    weights.push(Math.exp(-0.5 * z * z));
  }
  const total = weights.reduce((a, b) => a + b, 0);
  return { nodes, weights: weights.map((w) => w / total) };
}

/** For each distinct count k: log p(k) under the marginal and E[s | k]. */
function marginal(values: number[], scale: number, parameters: GeneParameters) {
  const { nodes, weights } = quadrature(parameters);
  const rates = nodes.map((s) => scale * softplus(s) + 1e-12);
  return values.map((k) => {
    let mass = 0;
    let weightedLatent = 0;
    for (let q = 0; q < nodes.length; q++) {
      const p = weights[q] * Math.exp(logPoisson(k, rates[q]));
      mass += p;
      weightedLatent += p * nodes[q];
    }
    const observed = (1 - parameters.dropout) * mass + (k === 0 ? parameters.dropout : 0);
    // Posterior over s given k: the dropout component carries no information about s (prior mean).
    const dropoutShare = k === 0 ? parameters.dropout / observed : 0;
    const posteriorMean =
      dropoutShare * parameters.mean +
      (1 - dropoutShare) * (mass > 0 ? weightedLatent / mass : parameters.mean);
    return { logProbability: Math.log(Math.max(observed, 1e-300)), posteriorMean };
  });
}

function unpack(theta: number[]): GeneParameters {
  return { dropout: 1 / (1 + Math.exp(-theta[0])), mean: theta[1], variance: Math.exp(theta[2]) };
}

/** Fits the ZIP measurement model to raw counts, row-major [cells, genes] (DESIGN.md §5). */
export async function fitZipMeasurement(
  counts: ArrayLike<number>,
  genes: number,
  options: FitZipOptions = {},
): Promise<ZipFit> {
  const cells = counts.length / genes;
  if (!Number.isInteger(cells) || cells < 2)
    throw new Error(`${counts.length} counts are not whole cells of ${genes} genes`);
  for (let i = 0; i < counts.length; i++) {
    const value = counts[i];
    if (!(value >= 0) || !Number.isInteger(value))
      throw new Error(`counts must be non-negative integers (entry ${i} is ${value})`);
  }
  const steps = options.steps ?? 300;
  const measurement: ZipMeasurement = {
    format: 'tributary.zip-measurement/v1',
    dropout: [],
    scale: [],
    priorMean: [],
    priorVariance: [],
  };
  const latents = new Float32Array(counts.length);
  const logLikelihood: number[] = [];

  for (let j = 0; j < genes; j++) {
    if (options.signal?.aborted) throw options.signal.reason ?? new Error('ZIP fit aborted');
    const frequency = new Map<number, number>();
    let nonzero = 0;
    let sum = 0;
    for (let i = 0; i < cells; i++) {
      const k = counts[i * genes + j];
      frequency.set(k, (frequency.get(k) ?? 0) + 1);
      if (k > 0) {
        nonzero++;
        sum += k;
      }
    }
    const scale = nonzero > 0 ? sum / nonzero : 1;
    const values = [...frequency.keys()];
    const weights = values.map((k) => frequency.get(k)! / cells);
    const objective = (theta: number[]) => {
      const rows = marginal(values, scale, unpack(theta));
      return -rows.reduce((total, row, index) => total + weights[index] * row.logProbability, 0);
    };
    // Start: π at half the zero fraction, softplus(m) ≈ 1 (the scale absorbs the level), v = 1.
    const zeroFraction = (cells - nonzero) / cells;
    const startDropout = Math.min(0.9, Math.max(0.01, zeroFraction / 2));
    let theta = [Math.log(startDropout / (1 - startDropout)), 0.5, 0];
    theta = minimise(objective, theta, steps);
    const parameters = unpack(theta);
    const rows = marginal(values, scale, parameters);
    const posterior = new Map(values.map((k, index) => [k, rows[index].posteriorMean]));
    for (let i = 0; i < cells; i++) latents[i * genes + j] = posterior.get(counts[i * genes + j])!;
    measurement.dropout.push(parameters.dropout);
    measurement.scale.push(scale);
    measurement.priorMean.push(parameters.mean);
    measurement.priorVariance.push(parameters.variance);
    const geneLogLikelihood = -objective(theta) * cells;
    logLikelihood.push(geneLogLikelihood);
    await options.onGene?.({ gene: j, genes, logLikelihood: geneLogLikelihood });
    // Tens of milliseconds per gene, thousands of genes: let an in-process server (and a job's heartbeat)
    // run between genes, and a cancellation land.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return { measurement, latents, logLikelihood };
}

/**
 * Adam on central-difference gradients: three smooth parameters per gene, so numerical gradients are
 * cheap and accurate enough (step 1e-5 on an objective of order one).
 */
function minimise(objective: (theta: number[]) => number, start: number[], steps: number): number[] {
  const theta = [...start];
  const m = theta.map(() => 0);
  const v = theta.map(() => 0);
  const rate = 0.05;
  const h = 1e-5;
  for (let step = 1; step <= steps; step++) {
    const gradient = theta.map((_, p) => {
      const plus = [...theta];
      const minus = [...theta];
      plus[p] += h;
      minus[p] -= h;
      return (objective(plus) - objective(minus)) / (2 * h);
    });
    gradient.forEach((g, p) => {
      m[p] = 0.9 * m[p] + 0.1 * g;
      v[p] = 0.999 * v[p] + 0.001 * g * g;
      const mHat = m[p] / (1 - 0.9 ** step);
      const vHat = v[p] / (1 - 0.999 ** step);
      theta[p] -= (rate * mHat) / (Math.sqrt(vHat) + 1e-8);
    });
  }
  return theta;
}

function softplus(s: number): number {
  return s > 30 ? s : Math.log1p(Math.exp(s));
}

/**
 * Posterior-mean latents E[s_ij | x_ij] of counts (row-major [cells, genes]) under a fitted measurement
 * model: what fitZipMeasurement returns for the cells it was fitted on, for any other cells.
 */
export function posteriorLatents(measurement: ZipMeasurement, counts: ArrayLike<number>): Float32Array {
  const genes = measurement.scale.length;
  const cells = counts.length / genes;
  if (!Number.isInteger(cells))
    throw new Error(`${counts.length} counts are not whole cells of ${genes} genes`);
  const latents = new Float32Array(counts.length);
  for (let j = 0; j < genes; j++) {
    const values = [...new Set(Array.from({ length: cells }, (_, i) => counts[i * genes + j]))];
    const rows = marginal(values, measurement.scale[j], {
      dropout: measurement.dropout[j],
      mean: measurement.priorMean[j],
      variance: measurement.priorVariance[j],
    });
    const posterior = new Map(values.map((k, index) => [k, rows[index].posteriorMean]));
    for (let i = 0; i < cells; i++) latents[i * genes + j] = posterior.get(counts[i * genes + j])!;
  }
  return latents;
}

/** E[x_ij] = (1 − π_j)·u_j·softplus(s_ij) for latents row-major [cells, genes]. */
export function expectedCounts(measurement: ZipMeasurement, latents: ArrayLike<number>): Float32Array {
  const d = measurement.scale.length;
  const out = new Float32Array(latents.length);
  for (let i = 0; i < latents.length; i++) {
    const j = i % d;
    out[i] = (1 - measurement.dropout[j]) * measurement.scale[j] * softplus(latents[i]);
  }
  return out;
}

/** Counts drawn from ZIP(π_j, u_j softplus(s_ij)), with a uniform source `random` in [0, 1). */
export function sampleCounts(
  measurement: ZipMeasurement,
  latents: ArrayLike<number>,
  random: () => number,
): Float32Array {
  const d = measurement.scale.length;
  const out = new Float32Array(latents.length);
  for (let i = 0; i < latents.length; i++) {
    const j = i % d;
    if (random() < measurement.dropout[j]) continue;
    const rate = measurement.scale[j] * softplus(latents[i]);
    out[i] = poisson(rate, random);
  }
  return out;
}

/** Poisson(λ): Knuth's product method for small λ, a rounded normal approximation beyond 50. */
function poisson(rate: number, random: () => number): number {
  if (rate > 50) {
    const u1 = 1 - random();
    const normal = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * random());
    return Math.max(0, Math.round(rate + Math.sqrt(rate) * normal));
  }
  const limit = Math.exp(-rate);
  let k = 0;
  let product = random();
  while (product > limit) {
    k++;
    product *= random();
  }
  return k;
}
