/**
 * A categorical autoencoder: rows of P positions, each one of C classes (one-hot, P·C coordinates), to a
 * continuous latent z ∈ R^d and back (DESIGN.md §3's latent representation of SELFIES strings).
 *
 * A variational autoencoder (Kingma & Welling 2014; for molecules Gómez-Bombarelli et al. 2018): the
 * encoder MLP gives the posterior q(u|x) = N(μ(x), diag σ²(x)), the decoder MLP g(u) per-position
 * logits. Training minimises the β-weighted negative ELBO
 *
 *     L(θ) = E_x [ E_{ε~N(0,I)} −Σ_p log softmax(g(μ + σ⊙ε))_{p, x_p} + β·KL(q(u|x) ‖ N(0, I)) ],
 *     KL = ½ Σ_j (μ_j² + σ_j² − 1 − log σ_j²).
 *
 * The posterior noise is what makes the latent space usable by a flow: the decoder learns to decode a
 * whole neighbourhood of each training latent to that string, so points a flow samples between
 * training latents still decode to plausible strings (with a plain autoencoder, latent flow samples
 * decoded to molecules no better than the one-hot flow's: BENCHMARKS.md). β < 1 trades some of that
 * smoothness for exact reconstruction. After training the latent means are standardised (`scale`, the
 * root mean variance of μ over the training rows): `encode` returns μ/scale, `decodeLogits` takes
 * z·scale, so a flow from N(0, I) sees data of unit scale.
 */
import {
  createDenseStack,
  disposeDenseStack,
  readDenseStack,
  serializeDenseStack,
  type DenseLayer,
  type SerializedTensor,
} from './dense';
import { adam } from './optimizers';
import { createRng, type Rng } from './random';
import { mlp, randomNormal, tf } from './tensor';
import { runTrainingLoop, tailMeanLoss, type TrainStepInfo } from './trainingLoop';

export interface CategoricalAutoencoderConfig {
  /** P: positions per row. */
  positions: number;
  /** C: classes per position. */
  classes: number;
  /** d: latent dimension. */
  latent: number;
  /** Width of the hidden layers of encoder and decoder. */
  hidden: number;
  /** Hidden layers of each of encoder and decoder. */
  layers: number;
}

export interface CategoricalAutoencoderWeights {
  format: 'tributary.categorical-autoencoder/v1';
  config: CategoricalAutoencoderConfig;
  /** Latent standardisation: encode returns μ/scale (see the header). */
  scale: number;
  tensors: SerializedTensor[];
}

/** Rows are processed in chunks of this many to bound memory at large n. */
const CHUNK_ROWS = 1024;

export class CategoricalAutoencoder {
  private disposed = false;

  private constructor(
    readonly config: CategoricalAutoencoderConfig,
    private readonly encoder: DenseLayer[],
    private readonly decoder: DenseLayer[],
    private latentScale: number,
  ) {}

  static create(config: CategoricalAutoencoderConfig, seed = 0): CategoricalAutoencoder {
    validateConfig(config);
    const rng = createRng(seed);
    const { encoder, decoder } = layerWidths(config);
    return new CategoricalAutoencoder(
      { ...config },
      createDenseStack(encoder, rng),
      createDenseStack(decoder, rng),
      1,
    );
  }

  static fromWeights(weights: CategoricalAutoencoderWeights): CategoricalAutoencoder {
    if (weights.format !== 'tributary.categorical-autoencoder/v1') {
      throw new Error(`unknown autoencoder weights format: ${String(weights.format)}`);
    }
    validateConfig(weights.config);
    if (!(weights.scale > 0)) throw new Error('autoencoder weights: scale must be positive');
    const byName = new Map(weights.tensors.map((t) => [t.name, t]));
    const widths = layerWidths(weights.config);
    return new CategoricalAutoencoder(
      { ...weights.config },
      readDenseStack(byName, widths.encoder, 'encoder', 'autoencoder weights'),
      readDenseStack(byName, widths.decoder, 'decoder', 'autoencoder weights'),
      weights.scale,
    );
  }

  get latentDimension(): number {
    return this.config.latent;
  }

  get scale(): number {
    return this.latentScale;
  }

  get trainableVariables(): tf.Variable[] {
    this.assertAlive();
    return [...this.encoder, ...this.decoder].flatMap((layer) => [layer.weight, layer.bias]);
  }

  /** One-hot rows [n, P·C] from class indices (n·P entries, row-major). */
  oneHot(classes: Int32Array | tf.Tensor1D, rows: number): tf.Tensor2D {
    const { positions, classes: count } = this.config;
    return tf.tidy(() => {
      const indices = classes instanceof Int32Array ? tf.tensor1d(classes, 'int32') : classes;
      return tf.reshape<tf.Rank.R2>(tf.oneHot(indices, count), [rows, positions * count]);
    });
  }

  /** The posterior q(u|x): mean μ(x) and log-variance log σ²(x), before standardisation, [n, d] each. */
  posterior(x: tf.Tensor2D): { mean: tf.Tensor2D; logVariance: tf.Tensor2D } {
    this.assertAlive();
    const d = this.config.latent;
    return tf.tidy(() => {
      const out = mlp(x, this.encoder, 'silu');
      const rows = out.shape[0];
      return { mean: tf.slice(out, [0, 0], [rows, d]), logVariance: tf.slice(out, [0, d], [rows, d]) };
    });
  }

  /** μ(x) before standardisation, for one-hot rows [n, P·C]. */
  encoderMean(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => this.posterior(x).mean);
  }

  /** Per-position logits [n, P·C] at unstandardised latents u = z·scale. */
  decoderLogits(u: tf.Tensor2D): tf.Tensor2D {
    this.assertAlive();
    return mlp(u, this.decoder, 'silu');
  }

  /** Standardised latents z = μ(x)/scale of class-index rows (n·P entries), n×d row-major. */
  encode(classes: Int32Array): Float32Array {
    const { positions, latent } = this.config;
    const n = classes.length / positions;
    if (!Number.isInteger(n)) throw new Error(`class indices do not split into rows of ${positions}`);
    this.checkClasses(classes);
    const out = new Float32Array(n * latent);
    for (let start = 0; start < n; start += CHUNK_ROWS) {
      const end = Math.min(n, start + CHUNK_ROWS);
      const z = tf.tidy(() =>
        tf.div(
          this.encoderMean(this.oneHot(classes.subarray(start * positions, end * positions), end - start)),
          this.latentScale,
        ),
      );
      out.set(z.dataSync(), start * latent);
      z.dispose();
    }
    return out;
  }

  /** Logits [n, P·C] (row-major) of standardised latents z (n×d row-major). */
  decodeLogits(z: Float32Array): Float32Array {
    const { positions, classes, latent } = this.config;
    const n = z.length / latent;
    if (!Number.isInteger(n)) throw new Error(`latents do not split into rows of ${latent}`);
    const out = new Float32Array(n * positions * classes);
    for (let start = 0; start < n; start += CHUNK_ROWS) {
      const end = Math.min(n, start + CHUNK_ROWS);
      const logits = tf.tidy(() =>
        this.decoderLogits(
          tf.mul(
            tf.tensor2d(z.subarray(start * latent, end * latent), [end - start, latent]),
            this.latentScale,
          ),
        ),
      );
      out.set(logits.dataSync(), start * positions * classes);
      logits.dispose();
    }
    return out;
  }

  /** The most likely class per position of each latent: n·P class indices. */
  decode(z: Float32Array): Int32Array {
    const { classes } = this.config;
    const logits = this.decodeLogits(z);
    const out = new Int32Array(logits.length / classes);
    for (let row = 0; row < out.length; row++) {
      let best = 0;
      for (let c = 1; c < classes; c++) {
        if (logits[row * classes + c] > logits[row * classes + best]) best = c;
      }
      out[row] = best;
    }
    return out;
  }

  getWeights(): CategoricalAutoencoderWeights {
    this.assertAlive();
    return {
      format: 'tributary.categorical-autoencoder/v1',
      config: { ...this.config },
      scale: this.latentScale,
      tensors: [
        ...serializeDenseStack(this.encoder, 'encoder'),
        ...serializeDenseStack(this.decoder, 'decoder'),
      ],
    };
  }

  /** Sets the latent standardisation to the root mean variance of μ over the given rows. */
  standardiseOn(classes: Int32Array): void {
    const { positions, latent } = this.config;
    const previous = this.latentScale;
    this.latentScale = 1;
    const mu = this.encode(classes);
    const n = classes.length / positions;
    let total = 0;
    for (let j = 0; j < latent; j++) {
      let sum = 0;
      let sumSq = 0;
      for (let i = 0; i < n; i++) {
        const v = mu[i * latent + j];
        sum += v;
        sumSq += v * v;
      }
      total += sumSq / n - (sum / n) ** 2;
    }
    const scale = Math.sqrt(total / latent);
    this.latentScale = scale > 0 && Number.isFinite(scale) ? scale : previous;
  }

  dispose(): void {
    if (this.disposed) return;
    disposeDenseStack(this.encoder);
    disposeDenseStack(this.decoder);
    this.disposed = true;
  }

  /** Throws unless every class index is in 0…C−1. */
  checkClasses(classes: Int32Array): void {
    for (const c of classes) {
      if (!(c >= 0 && c < this.config.classes)) {
        throw new Error(`class index ${c} outside 0…${this.config.classes - 1}`);
      }
    }
  }

  private assertAlive(): void {
    if (this.disposed) throw new Error('CategoricalAutoencoder used after dispose()');
  }
}

export interface TrainAutoencoderOptions {
  autoencoder: CategoricalAutoencoder;
  /** Training rows as class indices, n·P entries row-major. */
  classes: Int32Array;
  steps: number;
  batchSize?: number;
  learningRate?: number;
  /** β, the weight of the KL term (default 0.1). */
  klWeight?: number;
  seed?: number;
  onStep?: (info: TrainStepInfo) => void | Promise<void>;
  signal?: AbortSignal;
}

export interface TrainAutoencoderResult {
  finalLoss: number;
  seconds: number;
  /** Fraction of training rows (up to 2,000 of them) that decode back exactly from their latent mean. */
  reconstruction: number;
}

/**
 * Trains the autoencoder by Adam on L(θ) of the header, then standardises its latents on the training
 * rows. The loss is reported per row (nats: cross-entropy summed over positions plus β·KL).
 */
export async function trainAutoencoder(options: TrainAutoencoderOptions): Promise<TrainAutoencoderResult> {
  const { autoencoder, classes, steps } = options;
  const { positions, classes: count } = autoencoder.config;
  const n = classes.length / positions;
  if (!Number.isInteger(n) || n < 1) throw new Error(`class indices do not split into rows of ${positions}`);
  autoencoder.checkClasses(classes);
  const batchSize = options.batchSize ?? 256;
  const learningRate = options.learningRate ?? 2e-3;
  const klWeight = options.klWeight ?? 0.1;
  if (!(learningRate > 0)) throw new Error(`learningRate must be positive, got ${learningRate}`);
  if (!(klWeight >= 0)) throw new Error(`klWeight must be non-negative, got ${klWeight}`);
  const rng: Rng = createRng(options.seed ?? 0);
  const variables = autoencoder.trainableVariables;
  const optimizer = adam(learningRate);
  const batchClasses = new Int32Array(batchSize * positions);
  let result;
  try {
    result = await runTrainingLoop({
      steps,
      label: 'autoencoder training',
      onStep: options.onStep,
      signal: options.signal,
      step: () => {
        for (let b = 0; b < batchSize; b++) {
          const row = Math.floor(rng.uniform() * n);
          batchClasses.set(classes.subarray(row * positions, (row + 1) * positions), b * positions);
        }
        const noiseSeed = rng.nextSeed();
        const loss = tf.tidy(() => {
          const x = autoencoder.oneHot(batchClasses, batchSize);
          const value = optimizer.minimize(
            () => {
              const { mean, logVariance } = autoencoder.posterior(x);
              const noise = randomNormal<tf.Rank.R2>(mean.shape, 0, 1, 'float32', noiseSeed);
              const u = tf.add<tf.Tensor2D>(mean, tf.mul(tf.exp(tf.mul(0.5, logVariance)), noise));
              const logits = tf.reshape(autoencoder.decoderLogits(u), [batchSize, positions, count]);
              const target = tf.reshape(x, [batchSize, positions, count]);
              const crossEntropy = tf.neg(tf.sum(tf.mul(target, tf.logSoftmax(logits))));
              const kl = tf.mul(
                0.5,
                tf.sum(tf.sub(tf.add(tf.square(mean), tf.exp(logVariance)), tf.add(1, logVariance))),
              );
              return tf.div<tf.Scalar>(tf.add(crossEntropy, tf.mul(klWeight, kl)), batchSize);
            },
            true,
            variables,
          );
          if (!value) throw new Error('optimizer.minimize returned no loss');
          return value;
        });
        const value = loss.dataSync()[0];
        loss.dispose();
        return value;
      },
    });
  } finally {
    optimizer.dispose();
  }
  autoencoder.standardiseOn(classes);
  const checked = classes.subarray(0, Math.min(n, 2000) * positions);
  const decoded = autoencoder.decode(autoencoder.encode(checked));
  let exact = 0;
  for (let row = 0; row < checked.length / positions; row++) {
    let same = true;
    for (let p = row * positions; p < (row + 1) * positions && same; p++) same = decoded[p] === checked[p];
    if (same) exact++;
  }
  return {
    finalLoss: tailMeanLoss(result.losses),
    seconds: result.seconds,
    reconstruction: exact / (checked.length / positions),
  };
}

function layerWidths(config: CategoricalAutoencoderConfig): { encoder: number[]; decoder: number[] } {
  const hidden = Array.from({ length: config.layers }, () => config.hidden);
  const width = config.positions * config.classes;
  // The encoder's last layer gives μ and log σ² side by side.
  return { encoder: [width, ...hidden, 2 * config.latent], decoder: [config.latent, ...hidden, width] };
}

function validateConfig(config: CategoricalAutoencoderConfig): void {
  for (const key of ['positions', 'classes', 'latent', 'hidden', 'layers'] as const) {
    const value = config[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
      throw new Error(`autoencoder config: ${key} must be a positive integer, got ${String(value)}`);
    }
  }
  if (config.classes < 2) throw new Error('autoencoder config: classes must be at least 2');
}
