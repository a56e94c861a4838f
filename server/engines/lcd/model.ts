/**
 * The LCD score network (DESIGN.md §5 "LCD model"). A latent state s ∈ R^d follows the Langevin diffusion
 * ds = f_θ(s, σ; e_S) dt + √2 dW whose drift is a perturbation-conditioned score:
 *
 * - every perturbed gene k has an embedding E_k; a perturbation set S has e_S = Σ_{k∈S} E_k, and a gene
 *   never perturbed in training contributes the mean embedding;
 * - h_θ(u, σ, e_S) is a tanh MLP; the noise-level embedding and e_S are added to every hidden
 *   pre-activation through their own linear maps;
 * - f_θ(x, σ) = (u − σ·h_θ(u, σ, e_S) − x)/σ² with u = x/√(1 + σ²).
 *
 * A choice the design leaves open: how h_θ is built from the MLP g_θ(u, σ, e_S). `parametrisation`:
 *
 * - `plain` (default): h_θ = g_θ, the formula taken literally. Use it to predict perturbations: e_S enters
 *   the first pre-activation next to u, so the MLP learns a perturbation as a shift of position, and sums
 *   of embeddings compose like sums of shifts (on held-out doubles of a nonlinear screen, d = 15, its
 *   energy distance is on a par with the additive baseline). CLIPR is poor with it: at σ_min the MLP fits
 *   the score by memorising the ~200 cells of each condition (its error there grows with training) and
 *   cannot extrapolate f_θ linearly to x = 0, far from most conditions' cells, where CLIPR reads F0.
 * - `gaussian`: h_θ = (u − x)/σ + σ(Σ̂ + σ²I)⁻¹(x − g_θ), so that f_θ = −(Σ̂ + σ²I)⁻¹(x − g_θ), with Σ̂
 *   the pooled within-condition covariance of the standardised training latents. The closed-form part
 *   is the DSM optimum over drifts with a slope shared by all conditions, and the MLP predicts a centre
 *   (for Gaussian data the condition's mean, the same at every σ). This is EDM's preconditioning (a
 *   Gaussian-optimal denoiser around the network) with a full covariance. Use it for CLIPR: the slope is
 *   linear by construction, so F0 at x = 0 and the fixed points are accurate (reversible d = 15: AUROC
 *   1.00 against 0.45 with `plain`). Its combination predictions are worse than the additive baseline:
 *   the MLP maps e_S straight to a centre, and sums of embeddings it never saw give arbitrary centres.
 *
 * The model works on standardised latents z = (x − center)/scale; `center` and `scale` (per gene) are part
 * of the model, so callers hand it cells in their own units. Weights are raw tf.Variables, saved as plain
 * JSON-able objects and rebuilt exactly.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { readSerializedTensor, uniformFanIn, variableFrom, type SerializedTensor } from '../dense';
import { createRng } from '../random';
import { tf } from '../tensor';

export type { SerializedTensor };

export interface NoiseSchedule {
  /** Largest noise level σ_max (default 10). */
  max: number;
  /** Smallest noise level σ_min (default 0.01), where CLIPR reads the drift. */
  min: number;
  /** Number of geometric levels (default 30). */
  count: number;
}

export interface LcdConfig {
  /** Number of genes d (the latent dimension). */
  dimension: number;
  /** Names of the genes that have embeddings: those perturbed in training. */
  perturbations: string[];
  /** Size of each embedding E_k. */
  embeddingSize: number;
  /** Width of every hidden layer of h_θ. */
  hidden: number;
  /** Number of hidden layers of h_θ. */
  layers: number;
  /** Sinusoidal frequencies of the noise-level embedding. */
  noiseFrequencies: number;
  noise: NoiseSchedule;
  /** How h_θ is built from the MLP (see the file comment); `gaussian` stores Σ̂ with the weights. */
  parametrisation: 'gaussian' | 'plain';
}

export const defaultNoiseSchedule: NoiseSchedule = { max: 10, min: 0.01, count: 30 };

export const defaultLcdConfig: Omit<LcdConfig, 'dimension' | 'perturbations'> = {
  embeddingSize: 32,
  hidden: 256,
  layers: 3,
  noiseFrequencies: 6,
  noise: defaultNoiseSchedule,
  parametrisation: 'plain',
};

/** JSON-serialisable model: `LcdModel.fromWeights` rebuilds it exactly. */
export interface LcdWeights {
  format: 'tributary.lcd/v1';
  config: LcdConfig;
  center: number[];
  scale: number[];
  /** The Gaussian part's covariance Σ̂ = V·diag(values)·Vᵀ (parametrisation 'gaussian'). */
  gaussian?: GaussianPart;
  tensors: SerializedTensor[];
}

/** Eigen-decomposition of the pooled within-condition covariance of the standardised training latents. */
export interface GaussianPart {
  /** Eigenvectors as columns of a d × d row-major matrix V. */
  vectors: number[];
  /** Eigenvalues (≥ 0). */
  values: number[];
}

/** Geometric noise levels from σ_max down to σ_min (DESIGN.md §5: e.g. 30 levels from 10 to 0.01). */
export function noiseLevels(schedule: NoiseSchedule): number[] {
  const { max, min, count } = schedule;
  if (!(max > min && min > 0) || !Number.isInteger(count) || count < 2) {
    throw new Error(`noise schedule needs max > min > 0 and count ≥ 2, got ${JSON.stringify(schedule)}`);
  }
  return Array.from({ length: count }, (_, i) => max * Math.pow(min / max, i / (count - 1)));
}

/**
 * κ(σ) = (1/√(1+σ²) − 1)/σ², the coefficient of x in f_θ = κ·x − h_θ/σ (DESIGN.md §5's drift with
 * u = x/√(1+σ²) expanded). Written as −1/(√(1+σ²)·(1 + √(1+σ²))) so that it stays accurate at small σ,
 * where the difference form cancels catastrophically in float32.
 */
export function driftSkipCoefficient(sigma: number): number {
  const root = Math.sqrt(1 + sigma * sigma);
  return -1 / (root * (1 + root));
}

interface DenseLayer {
  weight: tf.Variable<tf.Rank.R2>;
  bias: tf.Variable<tf.Rank.R1>;
}

/** A perturbation set: the names of the genes perturbed together (empty for control). */
export type PerturbationSet = readonly string[];

/** Per-row noise information for a batch: σ, κ(σ) and the noise embedding, gathered from level tables. */
// A type alias rather than an interface so that tf.tidy accepts it as a TensorContainer.
export type NoiseRows = {
  sigma: tf.Tensor2D;
  skip: tf.Tensor2D;
  /** σ², for the Gaussian part's (Σ̂ + σ²I)⁻¹. */
  variance: tf.Tensor2D;
  features: tf.Tensor2D;
};

let modelCounter = 0;

export class LcdModel {
  readonly dimension: number;
  readonly levels: number[];
  private readonly perturbationIndex: Map<string, number>;
  private readonly levelSigma: tf.Tensor2D;
  private readonly levelSkip: tf.Tensor2D;
  private readonly levelVariance: tf.Tensor2D;
  private readonly levelFeatures: tf.Tensor2D;
  /** V and the eigenvalues as a row [1, d] (Gaussian part), or undefined. */
  private readonly gaussianVectors?: tf.Tensor2D;
  private readonly gaussianValues?: tf.Tensor2D;
  private disposed = false;

  private constructor(
    readonly config: LcdConfig,
    /** Per-gene standardisation: z = (x − center)/scale. */
    readonly center: Float64Array,
    readonly scale: Float64Array,
    private readonly embeddings: tf.Variable<tf.Rank.R2>,
    private readonly dense: DenseLayer[],
    readonly gaussian: GaussianPart | undefined,
  ) {
    this.dimension = config.dimension;
    if (config.parametrisation === 'gaussian') {
      if (!gaussian) throw new Error('LCD: the gaussian parametrisation needs Σ̂ (its eigen-decomposition)');
      const d = config.dimension;
      if (gaussian.vectors.length !== d * d || gaussian.values.length !== d) {
        throw new Error(`LCD: the Gaussian part must hold ${d} × ${d} vectors and ${d} values`);
      }
      if (!gaussian.values.every((v) => v >= 0 && Number.isFinite(v))) {
        throw new Error('LCD: covariance eigenvalues must be finite and ≥ 0');
      }
      this.gaussianVectors = tf.tensor2d(gaussian.vectors, [d, d]);
      this.gaussianValues = tf.tensor2d(gaussian.values, [1, d]);
    }
    this.levels = noiseLevels(config.noise);
    this.perturbationIndex = new Map(config.perturbations.map((name, i) => [name, i]));
    const count = this.levels.length;
    this.levelSigma = tf.tensor2d(this.levels, [count, 1]);
    this.levelSkip = tf.tensor2d(this.levels.map(driftSkipCoefficient), [count, 1]);
    this.levelFeatures = tf.tensor2d(
      this.levels.map((sigma) => noiseFeatures(sigma, config)),
      [count, noiseFeatureWidth(config)],
    );
    this.levelVariance = tf.tensor2d(
      this.levels.map((sigma) => sigma * sigma),
      [count, 1],
    );
  }

  /** A freshly initialised model; the same config, standardisation and seed give the same weights. */
  static create(
    config: Partial<Omit<LcdConfig, 'dimension' | 'perturbations'>> &
      Pick<LcdConfig, 'dimension' | 'perturbations'>,
    standardisation: { center: ArrayLike<number>; scale: ArrayLike<number> },
    seed = 0,
    gaussian?: GaussianPart,
  ): LcdModel {
    const full: LcdConfig = {
      ...defaultLcdConfig,
      ...config,
      noise: { ...defaultNoiseSchedule, ...config.noise },
      perturbations: [...config.perturbations],
    };
    validateConfig(full);
    const rng = createRng(seed);
    const id = ++modelCounter;
    const widths = layerWidths(full);
    const embeddings = variableFrom<tf.Rank.R2>(
      Float32Array.from({ length: full.perturbations.length * full.embeddingSize }, () => rng.normal()),
      [full.perturbations.length, full.embeddingSize],
      `lcd${id}.embeddings`,
    );
    const dense = widths.map(([fanIn, fanOut], i) => {
      // The output layer starts at zero: f_θ then begins as κ(σ)·x, the score of a standard normal blurred
      // by σ, a sane start for standardised data.
      const last = i === widths.length - 1;
      return {
        weight: variableFrom<tf.Rank.R2>(
          last ? new Float32Array(fanIn * fanOut) : uniformFanIn(rng, fanIn, fanIn * fanOut),
          [fanIn, fanOut],
          `lcd${id}.dense${i}.weight`,
        ),
        bias: variableFrom<tf.Rank.R1>(
          last ? new Float32Array(fanOut) : uniformFanIn(rng, fanIn, fanOut),
          [fanOut],
          `lcd${id}.dense${i}.bias`,
        ),
      };
    });
    return new LcdModel(
      full,
      checkedVector(standardisation.center, full.dimension, 'center'),
      checkedScale(standardisation.scale, full.dimension),
      embeddings,
      dense,
      full.parametrisation === 'gaussian' ? gaussian : undefined,
    );
  }

  static fromWeights(weights: LcdWeights): LcdModel {
    if (weights.format !== 'tributary.lcd/v1')
      throw new Error(`unknown LCD weights format: ${String(weights.format)}`);
    validateConfig(weights.config);
    const byName = new Map(weights.tensors.map((t) => [t.name, t]));
    const read = (name: string, shape: number[]) => readSerializedTensor(byName, name, shape, 'LCD weights');
    const config = { ...weights.config, perturbations: [...weights.config.perturbations] };
    const id = ++modelCounter;
    const embeddingShape = [config.perturbations.length, config.embeddingSize];
    const embeddings = variableFrom<tf.Rank.R2>(
      read('embeddings', embeddingShape),
      embeddingShape,
      `lcd${id}.embeddings`,
    );
    const dense = layerWidths(config).map(([fanIn, fanOut], i) => ({
      weight: variableFrom<tf.Rank.R2>(
        read(`dense${i}.weight`, [fanIn, fanOut]),
        [fanIn, fanOut],
        `lcd${id}.dense${i}.weight`,
      ),
      bias: variableFrom<tf.Rank.R1>(read(`dense${i}.bias`, [fanOut]), [fanOut], `lcd${id}.dense${i}.bias`),
    }));
    return new LcdModel(
      config,
      checkedVector(weights.center, config.dimension, 'center'),
      checkedScale(weights.scale, config.dimension),
      embeddings,
      dense,
      config.parametrisation === 'gaussian' ? weights.gaussian : undefined,
    );
  }

  getWeights(): LcdWeights {
    this.assertAlive();
    const tensors: SerializedTensor[] = [
      {
        name: 'embeddings',
        shape: [...this.embeddings.shape],
        values: Array.from(this.embeddings.dataSync()),
      },
      ...this.dense.flatMap((layer, i) => [
        {
          name: `dense${i}.weight`,
          shape: [...layer.weight.shape],
          values: Array.from(layer.weight.dataSync()),
        },
        { name: `dense${i}.bias`, shape: [...layer.bias.shape], values: Array.from(layer.bias.dataSync()) },
      ]),
    ];
    return {
      format: 'tributary.lcd/v1',
      config: {
        ...this.config,
        perturbations: [...this.config.perturbations],
        noise: { ...this.config.noise },
      },
      center: Array.from(this.center),
      scale: Array.from(this.scale),
      ...(this.gaussian
        ? { gaussian: { vectors: [...this.gaussian.vectors], values: [...this.gaussian.values] } }
        : {}),
      tensors,
    };
  }

  /** The variables an optimiser updates, in a fixed order (embeddings, then weight and bias per layer). */
  get trainableVariables(): tf.Variable[] {
    this.assertAlive();
    return [this.embeddings, ...this.dense.flatMap((layer) => [layer.weight, layer.bias])];
  }

  /** Overwrites the variables in place (EMA weights at the end of training). */
  assignVariables(values: tf.Tensor[]): void {
    const variables = this.trainableVariables;
    if (values.length !== variables.length) {
      throw new Error(`assignVariables: expected ${variables.length} tensors, got ${values.length}`);
    }
    variables.forEach((variable, i) => variable.assign(values[i]));
  }

  countParameters(): number {
    return this.trainableVariables.reduce((sum, v) => sum + v.size, 0);
  }

  /** Whether gene `name` has its own embedding (was perturbed in training). */
  hasEmbedding(name: string): boolean {
    return this.perturbationIndex.has(name);
  }

  /**
   * Rows of weights w with e_S = w·E (DESIGN.md §5: e_S = Σ_{k∈S} E_k; a gene never perturbed in training
   * gets the mean embedding, i.e. adds 1/P to every entry). One row per set, [sets, P].
   */
  conditionWeights(sets: readonly PerturbationSet[]): Float32Array {
    const p = this.config.perturbations.length;
    const out = new Float32Array(sets.length * p);
    sets.forEach((set, row) => {
      for (const name of set) {
        const index = this.perturbationIndex.get(name);
        if (index !== undefined) out[row * p + index] += 1;
        else for (let k = 0; k < p; k++) out[row * p + k] += 1 / p;
      }
    });
    return out;
  }

  /** e_S for each row of condition weights [n, P] → [n, m]. */
  embed(conditionWeights: tf.Tensor2D): tf.Tensor2D {
    this.assertAlive();
    return tf.matMul(conditionWeights, this.embeddings);
  }

  /** σ, κ(σ) and the noise embedding for one level index per row ([n] int32). */
  noiseRows(levelIndices: tf.Tensor1D): NoiseRows {
    this.assertAlive();
    return tf.tidy(() => ({
      sigma: tf.gather(this.levelSigma, levelIndices),
      skip: tf.gather(this.levelSkip, levelIndices),
      variance: tf.gather(this.levelVariance, levelIndices),
      features: tf.gather(this.levelFeatures, levelIndices),
    }));
  }

  /** Noise rows for one level, repeated n times. */
  noiseRowsAt(level: number, n: number): NoiseRows {
    return tf.tidy(() => this.noiseRows(tf.fill<tf.Rank.R1>([n], level, 'int32')));
  }

  /**
   * The MLP g_θ(u, σ, e_S) (DESIGN.md §5's h_θ, see the file comment): tanh layers on u whose every
   * pre-activation also receives the noise
   * embedding and e_S through their own linear maps. The maps are the extra rows of one stacked weight
   * matrix acting on [h, noise features, e_S], so each layer is a single matrix product.
   */
  network(u: tf.Tensor2D, noise: NoiseRows, embedding: tf.Tensor2D): tf.Tensor2D {
    this.assertAlive();
    return tf.tidy(() => {
      const conditioning = tf.concat([noise.features, embedding], 1);
      let h: tf.Tensor2D = u;
      this.dense.forEach((layer, i) => {
        const last = i === this.dense.length - 1;
        const input = last ? h : tf.concat([h, conditioning], 1);
        h = tf.fused.matMul({ a: input, b: layer.weight, bias: layer.bias }) as tf.Tensor2D;
        if (!last) h = tf.tanh(h);
      });
      return h;
    });
  }

  /**
   * σ·f_θ(x, σ; e_S) on standardised latents x [n, d] (DESIGN.md §5: f_θ = (u − σ·h_θ − x)/σ²,
   * u = x/√(1+σ²)), computed without dividing by σ, which keeps float32 accurate at σ_min:
   * σf_θ = (u − x)/σ − h_θ. Gaussian parametrisation: σf_θ = −σ(Σ̂ + σ²I)⁻¹(x − g_θ). Plain: h_θ = g_θ and
   * (u − x)/σ = σκ(σ)·x (κ from driftSkipCoefficient, accurate at small σ).
   */
  scaledDrift(x: tf.Tensor2D, noise: NoiseRows, embedding: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const u = tf.div<tf.Tensor2D>(x, tf.sqrt(tf.add(1, noise.variance)));
      const learned = this.network(u, noise, embedding);
      if (this.gaussianVectors)
        return tf.mul(tf.neg(noise.sigma), this.precisionTimes(tf.sub(x, learned), noise));
      return tf.sub(tf.mul(tf.mul(noise.sigma, noise.skip), x), learned);
    });
  }

  /** The drift f_θ(x, σ; e_S) (DESIGN.md §5) on standardised latents x [n, d]. */
  drift(x: tf.Tensor2D, noise: NoiseRows, embedding: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.div(this.scaledDrift(x, noise, embedding), noise.sigma));
  }

  /** (Σ̂ + σ²I)⁻¹x row by row, through Σ̂ = V·diag(λ)·Vᵀ: V·diag(1/(λ + σ²))·Vᵀx. */
  private precisionTimes(x: tf.Tensor, noise: NoiseRows): tf.Tensor2D {
    const vectors = this.gaussianVectors!;
    const projected = tf.matMul(x, vectors);
    const scaled = tf.div(projected, tf.add(this.gaussianValues!, noise.variance));
    return tf.matMul(scaled, vectors, false, true);
  }

  /**
   * (Σ̂ + σ²I)·v row by row: the inverse of the Gaussian part's slope, a preconditioner under which the
   * noise-free flow ẋ = (Σ̂ + σ²I)·f_θ has the same fixed points as ẋ = f_θ but, for near-Gaussian drifts,
   * no stiffness. Identity without the Gaussian part.
   */
  covarianceTimes(v: tf.Tensor2D, noise: NoiseRows): tf.Tensor2D {
    if (!this.gaussianVectors) return v.clone();
    return tf.tidy(() => {
      const vectors = this.gaussianVectors!;
      const projected = tf.matMul(v, vectors);
      const scaled = tf.mul(projected, tf.add(this.gaussianValues!, noise.variance));
      return tf.matMul(scaled, vectors, false, true);
    });
  }

  /** Standardised latents of cells in gene units (row-major [n, d]). */
  standardise(cells: ArrayLike<number>): Float32Array {
    const d = this.dimension;
    const out = new Float32Array(cells.length);
    for (let i = 0; i < cells.length; i++) out[i] = (cells[i] - this.center[i % d]) / this.scale[i % d];
    return out;
  }

  /** Cells in gene units from standardised latents (row-major [n, d]). */
  unstandardise(latents: ArrayLike<number>): Float32Array {
    const d = this.dimension;
    const out = new Float32Array(latents.length);
    for (let i = 0; i < latents.length; i++) out[i] = latents[i] * this.scale[i % d] + this.center[i % d];
    return out;
  }

  dispose(): void {
    if (this.disposed) return;
    tf.dispose([this.embeddings, ...this.dense.flatMap((l) => [l.weight, l.bias])]);
    tf.dispose([this.levelSigma, this.levelSkip, this.levelFeatures, this.levelVariance]);
    if (this.gaussianVectors) tf.dispose([this.gaussianVectors, this.gaussianValues!]);
    this.disposed = true;
  }

  private assertAlive(): void {
    if (this.disposed) throw new Error('LcdModel used after dispose()');
  }
}

/** Noise embedding width: [t, sin(πkt), cos(πkt)] for k = 1 … K. */
function noiseFeatureWidth(config: LcdConfig): number {
  return 1 + 2 * config.noiseFrequencies;
}

/**
 * The noise-level embedding: t ∈ [−1, 1] is log σ rescaled over the schedule, then [t, sin(πkt),
 * cos(πkt)]; log σ because the levels are geometric, so neighbouring levels are equally far apart.
 */
export function noiseFeatures(sigma: number, config: LcdConfig): number[] {
  const { max, min } = config.noise;
  const t = (2 * (Math.log(sigma) - Math.log(min))) / (Math.log(max) - Math.log(min)) - 1;
  const out = [t];
  for (let k = 1; k <= config.noiseFrequencies; k++)
    out.push(Math.sin(Math.PI * k * t), Math.cos(Math.PI * k * t));
  return out;
}

/** [fanIn, fanOut] of every dense layer: hidden layers read [h, noise features, e_S]; the output reads h. */
function layerWidths(config: LcdConfig): [number, number][] {
  const conditioning = noiseFeatureWidth(config) + config.embeddingSize;
  const widths: [number, number][] = [];
  let previous = config.dimension;
  for (let i = 0; i < config.layers; i++) {
    widths.push([previous + conditioning, config.hidden]);
    previous = config.hidden;
  }
  widths.push([previous, config.dimension]);
  return widths;
}

function checkedVector(values: ArrayLike<number>, d: number, name: string): Float64Array {
  if (values.length !== d) throw new Error(`${name} has ${values.length} entries for ${d} genes`);
  const out = Float64Array.from(values);
  if (!out.every(Number.isFinite)) throw new Error(`${name} has non-finite entries`);
  return out;
}

function checkedScale(values: ArrayLike<number>, d: number): Float64Array {
  const out = checkedVector(values, d, 'scale');
  if (!out.every((v) => v > 0)) throw new Error('scale must be positive');
  return out;
}

function validateConfig(config: LcdConfig): void {
  for (const key of ['dimension', 'embeddingSize', 'hidden', 'layers'] as const) {
    const value = config[key];
    if (!Number.isInteger(value) || value < 1) {
      throw new Error(`LCD config: ${key} must be a positive integer, got ${String(value)}`);
    }
  }
  if (!Number.isInteger(config.noiseFrequencies) || config.noiseFrequencies < 0) {
    throw new Error('LCD config: noiseFrequencies must be a non-negative integer');
  }
  if (config.parametrisation !== 'gaussian' && config.parametrisation !== 'plain') {
    throw new Error(`LCD config: parametrisation must be 'gaussian' or 'plain'`);
  }
  if (config.perturbations.length === 0) throw new Error('LCD config: at least one perturbed gene is needed');
  if (new Set(config.perturbations).size !== config.perturbations.length) {
    throw new Error('LCD config: perturbation names must be distinct');
  }
  noiseLevels(config.noise);
}

/** Per-gene mean and standard deviation of row-major cells [n, d] (a constant gene gets scale 1). */
export function standardisationOf(
  cells: ArrayLike<number>,
  d: number,
): { center: Float64Array; scale: Float64Array } {
  const n = cells.length / d;
  if (!Number.isInteger(n) || n < 2) throw new Error('standardisation needs at least two cells');
  const center = new Float64Array(d);
  const scale = new Float64Array(d);
  for (let i = 0; i < cells.length; i++) center[i % d] += cells[i] / n;
  for (let i = 0; i < cells.length; i++) scale[i % d] += (cells[i] - center[i % d]) ** 2 / (n - 1);
  for (let j = 0; j < d; j++) scale[j] = scale[j] > 1e-12 ? Math.sqrt(scale[j]) : 1;
  return { center, scale };
}

/**
 * The Gaussian part of h_θ: the eigen-decomposition of the pooled within-condition covariance
 * Σ̂ = Σ_c Σ_{i∈c} (z_i − z̄_c)(z_i − z̄_c)ᵀ / (n − C) of standardised latents z (row-major [n, d]).
 * Within-condition, because the conditions differ by their means (the MLP's offsets), not by their spread;
 * (Σ̂ + σ²I)⁻¹ is then the DSM-optimal slope of a drift shared by all conditions at level σ.
 */
export function pooledGaussianPart(
  latents: ArrayLike<number>,
  d: number,
  conditionOfCell: ArrayLike<number>,
): GaussianPart {
  const n = conditionOfCell.length;
  const conditions = Math.max(...Array.from(conditionOfCell)) + 1;
  const sums = new Float64Array(conditions * d);
  const counts = new Float64Array(conditions);
  for (let i = 0; i < n; i++) {
    const c = conditionOfCell[i];
    counts[c]++;
    for (let j = 0; j < d; j++) sums[c * d + j] += latents[i * d + j];
  }
  const covariance = Matrix.zeros(d, d);
  const centred = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const c = conditionOfCell[i];
    for (let j = 0; j < d; j++) centred[j] = latents[i * d + j] - sums[c * d + j] / counts[c];
    for (let a = 0; a < d; a++) {
      const value = centred[a];
      if (value === 0) continue;
      for (let b = a; b < d; b++) covariance.set(a, b, covariance.get(a, b) + value * centred[b]);
    }
  }
  const used = Array.from(counts).filter((count) => count > 0).length;
  const dof = Math.max(1, n - used);
  for (let a = 0; a < d; a++)
    for (let b = a; b < d; b++) {
      const value = covariance.get(a, b) / dof;
      covariance.set(a, b, value);
      covariance.set(b, a, value);
    }
  const evd = new EigenvalueDecomposition(covariance, { assumeSymmetric: true });
  return {
    vectors: evd.eigenvectorMatrix.to1DArray(),
    // Rounding can leave tiny negative eigenvalues of a singular Σ̂ (fewer cells than genes).
    values: evd.realEigenvalues.map((v) => Math.max(0, v)),
  };
}
