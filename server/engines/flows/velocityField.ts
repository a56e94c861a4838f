/**
 * Velocity fields v(x, t) on R^d (DESIGN.md §1). `VelocityField` is the interface every flow algorithm
 * uses (training, sampling, score, likelihood); `MlpVelocityField` is the learnable one: an MLP on
 * [x, sinusoidal features of t], held in raw tf.Variables so that saving, loading, EMA and gradients
 * are plain array operations.
 */
import {
  createDenseStack,
  disposeDenseStack,
  readDenseStack,
  serializeDenseStack,
  type DenseLayer,
  type SerializedTensor,
} from '../dense';
import { createRng } from '../random';
import { mlp, silu, tf } from '../tensor';

export type { SerializedTensor };

/** A (possibly analytic) velocity field. Implementations must use tf ops so gradients flow through x. */
export interface VelocityField {
  readonly dimension: number;
  /** v(x, t) for a batch x of shape [n, d]; t a number, a scalar, or one time per row ([n] or [n, 1]). */
  predict(x: tf.Tensor2D, t: tf.Tensor | number): tf.Tensor2D;
}

export type Activation = 'silu' | 'gelu' | 'tanh';

export interface MlpVelocityFieldConfig {
  dimension: number;
  /** Width of every hidden layer. */
  hidden: number;
  /** Number of hidden layers. */
  layers: number;
  activation: Activation;
  /** Number of sinusoidal frequencies; the time embedding is [t, sin(ω_k t), cos(ω_k t)]_k. */
  timeFrequencies: number;
  /** Largest angular frequency ω (rad per unit time); the ω_k are geometric from 1 to this. */
  maxTimeFrequency: number;
}

export const defaultMlpConfig: Omit<MlpVelocityFieldConfig, 'dimension'> = {
  hidden: 128,
  layers: 3,
  activation: 'silu',
  timeFrequencies: 8,
  maxTimeFrequency: 64,
};

/** JSON-serialisable weights; `MlpVelocityField.fromWeights` rebuilds the field from it exactly. */
export interface MlpVelocityFieldWeights {
  format: 'tributary.mlp-velocity-field/v1';
  config: MlpVelocityFieldConfig;
  tensors: SerializedTensor[];
}

/** One time per row, as a column [n, 1], from a number, a scalar, [n] or [n, 1] tensor. */
export function timeColumn(t: tf.Tensor | number, rows: number): tf.Tensor2D {
  return tf.tidy((): tf.Tensor2D => {
    if (typeof t === 'number') return tf.fill<tf.Rank.R2>([rows, 1], t);
    if (t.size === 1) return tf.tile<tf.Tensor2D>(t.reshape([1, 1]), [rows, 1]);
    if (t.size !== rows) throw new Error(`time has ${t.size} entries for ${rows} rows`);
    return tf.reshape<tf.Rank.R2>(t, [rows, 1]);
  });
}

/**
 * Geometric frequencies ω_k from 1 to maxFrequency: low ones resolve the slow drift over [0, 1], high
 * ones let the field change quickly near t = 1 where data are sharp.
 */
export function timeFrequencies(count: number, maxFrequency: number): number[] {
  if (count === 0) return [];
  if (count === 1) return [1];
  return Array.from({ length: count }, (_, k) => Math.pow(maxFrequency, k / (count - 1)));
}

/** [t, sin(ω_k t), cos(ω_k t)] for a time column [n, 1] → [n, 1 + 2K]. */
export function sinusoidalTimeEmbedding(tColumn: tf.Tensor2D, frequencies: number[]): tf.Tensor2D {
  return tf.tidy(() => {
    if (frequencies.length === 0) return tColumn.clone();
    const angles = tf.mul(tColumn, tf.tensor2d(frequencies, [1, frequencies.length]));
    return tf.concat([tColumn, tf.sin(angles), tf.cos(angles)], 1) as tf.Tensor2D;
  });
}

export function applyActivation(x: tf.Tensor2D, activation: Activation): tf.Tensor2D {
  switch (activation) {
    case 'silu':
      return silu(x);
    case 'gelu': {
      // tanh approximation (Hendrycks & Gimpel 2016), built from ops every backend has.
      const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
      return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
    }
    case 'tanh':
      return tf.tanh(x);
  }
}

export class MlpVelocityField implements VelocityField {
  readonly dimension: number;
  private readonly frequencies: number[];
  private disposed = false;

  private constructor(
    readonly config: MlpVelocityFieldConfig,
    private readonly dense: DenseLayer[],
  ) {
    this.dimension = config.dimension;
    this.frequencies = timeFrequencies(config.timeFrequencies, config.maxTimeFrequency);
  }

  /** A freshly initialised field; same config and seed give the same weights on every backend. */
  static create(config: Partial<MlpVelocityFieldConfig> & { dimension: number }, seed = 0): MlpVelocityField {
    const full: MlpVelocityFieldConfig = { ...defaultMlpConfig, ...config };
    validateConfig(full);
    return new MlpVelocityField(full, createDenseStack(layerWidths(full), createRng(seed)));
  }

  static fromWeights(weights: MlpVelocityFieldWeights): MlpVelocityField {
    if (weights.format !== 'tributary.mlp-velocity-field/v1') {
      throw new Error(`unknown velocity-field weights format: ${String(weights.format)}`);
    }
    validateConfig(weights.config);
    const byName = new Map(weights.tensors.map((t) => [t.name, t]));
    const dense = readDenseStack(byName, layerWidths(weights.config), 'dense', 'velocity-field weights');
    return new MlpVelocityField({ ...weights.config }, dense);
  }

  /** The variables an optimiser updates, in a fixed order (weights then bias, layer by layer). */
  get trainableVariables(): tf.Variable[] {
    this.assertAlive();
    return this.dense.flatMap((layer) => [layer.weight, layer.bias]);
  }

  predict(x: tf.Tensor2D, t: tf.Tensor | number): tf.Tensor2D {
    this.assertAlive();
    if (x.shape[1] !== this.dimension) {
      throw new Error(
        `velocity field of dimension ${this.dimension} got input of shape [${x.shape.join(', ')}]`,
      );
    }
    return tf.tidy(() => {
      const embedding = sinusoidalTimeEmbedding(timeColumn(t, x.shape[0]), this.frequencies);
      const input: tf.Tensor2D = tf.concat([x, embedding], 1);
      const { activation } = this.config;
      return mlp(input, this.dense, activation === 'silu' ? 'silu' : (h) => applyActivation(h, activation));
    });
  }

  countParameters(): number {
    return this.trainableVariables.reduce((sum, v) => sum + v.size, 0);
  }

  getWeights(): MlpVelocityFieldWeights {
    this.assertAlive();
    const tensors = serializeDenseStack(this.dense, 'dense');
    return { format: 'tributary.mlp-velocity-field/v1', config: { ...this.config }, tensors };
  }

  /** Overwrites the weights in place with tensors of matching shapes (used for EMA and reloading). */
  assignVariables(values: tf.Tensor[]): void {
    const variables = this.trainableVariables;
    if (values.length !== variables.length) {
      throw new Error(`assignVariables: expected ${variables.length} tensors, got ${values.length}`);
    }
    variables.forEach((variable, i) => variable.assign(values[i]));
  }

  dispose(): void {
    if (this.disposed) return;
    disposeDenseStack(this.dense);
    this.disposed = true;
  }

  private assertAlive(): void {
    if (this.disposed) throw new Error('MlpVelocityField used after dispose()');
  }
}

/** Input width (x and the time embedding), hidden widths, output width d. */
function layerWidths(config: MlpVelocityFieldConfig): number[] {
  const inputWidth = config.dimension + 1 + 2 * config.timeFrequencies;
  return [inputWidth, ...Array.from({ length: config.layers }, () => config.hidden), config.dimension];
}

function validateConfig(config: MlpVelocityFieldConfig): void {
  const positiveInts: (keyof MlpVelocityFieldConfig)[] = ['dimension', 'hidden', 'layers'];
  for (const key of positiveInts) {
    const value = config[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
      throw new Error(`velocity-field config: ${key} must be a positive integer, got ${String(value)}`);
    }
  }
  if (!Number.isInteger(config.timeFrequencies) || config.timeFrequencies < 0) {
    throw new Error(`velocity-field config: timeFrequencies must be a non-negative integer`);
  }
  if (!(config.maxTimeFrequency >= 1)) throw new Error('velocity-field config: maxTimeFrequency must be ≥ 1');
  if (!['silu', 'gelu', 'tanh'].includes(config.activation)) {
    throw new Error(`velocity-field config: unknown activation ${String(config.activation)}`);
  }
}
