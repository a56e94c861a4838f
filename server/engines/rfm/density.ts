/**
 * What RFM needs of a distribution: samples and log-densities at points (DESIGN.md §2: first
 * variations are functions of log p and log p_i). Flows provide both through §1 (ODE sampling, the
 * change-of-variables likelihood); Gaussian-mixture priors provide them exactly.
 */
import { GaussianMixtureFlow, logLikelihood, logSumExp, sampleFromFlow, type VelocityField } from '../flows';
import { createRng } from '../random';
import { tf } from '../tensor';

export interface DensityModel {
  readonly dimension: number;
  /** n samples, n×d row-major. */
  sample(n: number, seed: number): Float32Array;
  /** log p per row of `points` (n×d row-major). */
  logDensity(points: Float32Array): Float64Array;
}

export interface FlowDensityOptions {
  /** ODE steps for sampling and for the likelihood (default 40, RK4). */
  odeSteps?: number;
  /** Rows per likelihood batch (bounds memory). */
  chunkSize?: number;
  /** Hutchinson probes per point in high dimension (default 16): fewer is faster and noisier. */
  probes?: number;
}

/** A flow as a density: samples by the ODE, log-densities by the exact change of variables. */
export class FlowDensity implements DensityModel {
  readonly dimension: number;
  constructor(
    readonly field: VelocityField,
    private readonly options: FlowDensityOptions = {},
  ) {
    this.dimension = field.dimension;
  }

  /** Releases the field's weights when it has any (trained fields do; closed-form ones don't). */
  dispose(): void {
    const field = this.field as VelocityField & { dispose?: () => void };
    field.dispose?.();
  }

  sample(n: number, seed: number): Float32Array {
    return sampleFromFlow(this.field, n, { steps: this.options.odeSteps ?? 40, seed });
  }

  logDensity(points: Float32Array): Float64Array {
    const n = points.length / this.dimension;
    const x = tf.tensor2d(points, [n, this.dimension]);
    try {
      const { logLikelihood: values } = logLikelihood(this.field, x, {
        steps: this.options.odeSteps ?? 40,
        divergence: this.dimension <= 8 ? 'exact' : 'hutchinson',
        probes: this.options.probes,
        chunkSize: this.options.chunkSize ?? 1024,
      });
      return Float64Array.from(values);
    } finally {
      x.dispose();
    }
  }
}

/** A Gaussian-mixture prior: its flow's samples and density, both exact. */
export class GaussianMixtureDensity implements DensityModel {
  readonly dimension: number;
  constructor(readonly flow: GaussianMixtureFlow) {
    this.dimension = flow.dimension;
  }
  sample(n: number, seed: number): Float32Array {
    return this.flow.sample(n, createRng(seed));
  }
  logDensity(points: Float32Array): Float64Array {
    return this.flow.logDensity(points);
  }
}

/** Σ_i w_i p_i: samples by picking a component per sample, density by log-sum-exp. */
export class MixtureDensity implements DensityModel {
  readonly dimension: number;
  private readonly weights: number[];
  constructor(
    readonly components: DensityModel[],
    weights: number[] = components.map(() => 1),
  ) {
    if (components.length === 0 || components.length !== weights.length) {
      throw new Error('a mixture needs one positive weight per component');
    }
    const total = weights.reduce((a, b) => a + b, 0);
    this.weights = weights.map((w) => w / total);
    this.dimension = components[0].dimension;
  }

  sample(n: number, seed: number): Float32Array {
    const rng = createRng(seed);
    const counts = this.weights.map(() => 0);
    for (let i = 0; i < n; i++) {
      let u = rng.uniform();
      let k = 0;
      while (k < counts.length - 1 && u >= this.weights[k]) u -= this.weights[k++];
      counts[k]++;
    }
    const out = new Float32Array(n * this.dimension);
    let offset = 0;
    this.components.forEach((component, k) => {
      if (counts[k] === 0) return;
      out.set(component.sample(counts[k], rng.nextSeed()), offset);
      offset += counts[k] * this.dimension;
    });
    // Shuffle rows so minibatches of the pool are not ordered by component.
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      for (let c = 0; c < this.dimension; c++) {
        const a = i * this.dimension + c;
        const b = j * this.dimension + c;
        [out[a], out[b]] = [out[b], out[a]];
      }
    }
    return out;
  }

  logDensity(points: Float32Array): Float64Array {
    const perComponent = this.components.map((component) => component.logDensity(points));
    const n = points.length / this.dimension;
    const out = new Float64Array(n);
    const terms = new Float64Array(this.components.length);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < terms.length; k++) terms[k] = Math.log(this.weights[k]) + perComponent[k][i];
      out[i] = logSumExp(terms);
    }
    return out;
  }
}

/**
 * An isotropic Gaussian with the mean and (widened) spread of `density`'s samples: a start for the
 * interpolation operator, whose mirror steps reweight mass and so need p_0 to cover the space
 * between the priors.
 */
export function broadGaussianCover(density: DensityModel, seed: number, widen = 1.2): GaussianMixtureDensity {
  const n = 4000;
  const d = density.dimension;
  const samples = density.sample(n, seed);
  const mean = Array.from({ length: d }, (_, j) => {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += samples[i * d + j];
    return sum / n;
  });
  let variance = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) variance += (samples[i * d + j] - mean[j]) ** 2;
  const sd = widen * Math.sqrt(variance / (n * d));
  return new GaussianMixtureDensity(new GaussianMixtureFlow([{ weight: 1, mean, sd }]));
}
