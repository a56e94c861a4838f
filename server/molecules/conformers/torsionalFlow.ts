/**
 * Torsional flows for conformers (DESIGN.md §4, issue 7 item 3): a flow over the m torsion angles of one
 * molecule's rotatable bonds, on top of a fixed base geometry, trained on conformer ensembles (priors), steered
 * toward low MMFF94 energy and merged with RFM (DESIGN.md §1–§2).
 *
 * ## The space
 * A conformer is θ ∈ T^m = (R / 2πZ)^m, represented by θ ∈ (−π, π]^m. Setting θ on the base geometry rotates
 * the moving fragment of each rotatable bond rigidly (torsions.ts), so bond lengths and angles are those of the
 * base geometry whatever θ is. The same idea as torsional diffusion (Jing et al. 2022): the chemically
 * meaningful degrees of freedom of a conformer with fixed local structure are its torsions, and they live on a
 * torus, so the generative model must be periodic rather than pretend the angles lie on a line; here it is a
 * flow (Riemannian flow matching, Chen & Lipman 2023, specialised to the flat torus) rather than a diffusion.
 *
 * ## The flow (what `TorusFlowMatcher`, `TorusVelocityField` and `sampleTorusFlow` implement)
 * - **Base** p0 = uniform on T^m, density (2π)^−m: periodic, and its log-density is a constant.
 * - **Conditional path**: the geodesic from θ0 ~ p0 to a data point θ1 at constant speed,
 *       Δ = wrap(θ1 − θ0) ∈ (−π, π]^m   (the shortest signed angular difference, per coordinate),
 *       θ_t = wrap(θ0 + t·Δ),   u_t(θ_t | θ0, θ1) = Δ,
 *   where wrap(x) = x − 2π·⌈(x − π)/2π⌉ maps R onto (−π, π]. The torus is flat, so this is exactly the
 *   linear path of DESIGN.md §1 drawn in the covering space R^m and projected: the target velocity is the
 *   difference vector of the *shortest* way round, so a pair θ0 = 3.0, θ1 = −3.0 moves by +0.283 across the
 *   ±π seam, not by −6.0 through 0. (Antipodal pairs, |Δ_j| = π, have two geodesics; they have measure zero.)
 *   Loss: L = E ‖v(θ_t, t) − Δ‖², the flow-matching loss of §1 with this path (`trainFlowMatching` with the
 *   `matcher` and `sampleBase` options).
 * - **Velocity field**: an MLP (MlpVelocityField, with its sinusoidal time features) reads the embedding
 *   e(θ) = [sin θ, cos θ] ∈ R^{2m} and returns an ambient vector (a, b) ∈ R^{2m}; the velocity is its projection
 *   on the tangent of each circle, v_j = a_j·cos θ_j − b_j·sin θ_j (d/dθ (sin θ, cos θ) = (cos θ, −sin θ)).
 *   It is 2π-periodic in every θ_j by construction and can represent any smooth periodic field.
 * - **Sampling**: θ0 ~ U(−π, π]^m, integrate dθ/dt = v(θ, t) from 0 to 1 (RK4) in R^m, then wrap. Because v
 *   is periodic, the flow map on R^m commutes with 2π-shifts, so wrapping once at the end equals wrapping at
 *   every step.
 * - **Likelihood**: the flow map Φ of a periodic field descends to a diffeomorphism of T^m, and the projection
 *   R^m → T^m is a local isometry, so the change of variables of §1 holds on the torus unchanged but for the
 *   base: log p1(θ1) = −m·log 2π − ∫₀¹ div v(θ_t, t) dt, the trajectory integrated backwards from θ1 in R^m
 *   (any lift of θ1 gives the same value). `torusLogDensity` gets the integral from the engine's
 *   `logLikelihood` (which adds log N(x0; 0, I) for its Gaussian base) by subtracting that Gaussian term at
 *   the latent it returns.
 *
 * ## Rewards, steering and merging (RFM on the torus)
 * - **Reward** toward low energy: r(θ) = −E_MMFF94(θ)/kT, kT = R·T in kcal/mol (0.5925 at 298.15 K), E the
 *   single-point MMFF94 energy of the base geometry with torsions θ (rigid rotor, the default), or, with
 *   `relaxIterations` > 0, the energy after that many MMFF94 minimisation iterations from it.
 * - **Steering** (`steerTorsionalFlow`) targets p ∝ p_prior·exp(γ·r) (γ = 1: the prior times the Boltzmann
 *   factor at T). Each step is one RFM intersection step with a single prior (the current flow p_k) and reward
 *   r, i.e. the standard problem of §1 solved by reward-weighted flow matching: samples of p_k, log-weights
 *   γ_k·r, a warm-started flow trained on the weighted samples with the torus path. With the prior equal to
 *   the current iterate, δG/δp = r exactly (no likelihoods needed) and p_{k+1} ∝ p_k·exp(γ_k r); the steps
 *   are tempered so that Σ γ_k = γ and each step keeps an effective sample size of at least
 *   `minEffectiveSampleFraction` of its pool (rigid-rotor energies span many kT, and one step at full strength
 *   would put all weight on a handful of samples).
 * - **Merging** (`torusMirrorDescent`): RFM's operators (server/engines/rfm: `firstVariation` for
 *   intersection / union, `validateProblem`, `MixtureDensity`) need only samples and log-densities of the
 *   priors and of the current iterate. On the torus these come from `TorusFlowDensity` (torus sampling, torus
 *   likelihood above) or any closed-form DensityModel (e.g. `VonMisesMixtureDensity`), and the first variations
 *   are the same formulas, densities being taken with respect to the flat measure dθ. What the engine's
 *   `mirrorDescent` assumes of R^d is only its choice of flow (Gaussian base, straight path, FlowDensity
 *   iterates), so this loop is the same mirror descent with those three swapped for their torus counterparts.
 *   The interpolation operator (Wasserstein critics by Sinkhorn on Euclidean costs) is not offered on the torus.
 */
import {
  ConditionalFlowMatcher,
  logLikelihood,
  MlpVelocityField,
  odeSolve,
  rewardWeightedFlowMatching,
  selfNormalizedWeights,
  standardNormalLogDensity,
  trainFlowMatching,
  type Activation,
  type MlpVelocityFieldWeights,
  type OdeMethod,
  type TrainableVelocityField,
  type TrainFlowMatchingResult,
  type TrainStepInfo,
  type VelocityField,
} from '../../engines/flows';
import { createRng, type Rng } from '../../engines/random';
import {
  firstVariation,
  MixtureDensity,
  totalWeight,
  validateProblem,
  type DensityModel,
  type Reward,
  type RfmOperator,
  type RfmProblem,
} from '../../engines/rfm';
import { tf } from '../../engines/tensor';
import { generateEnsemble, stereoElements, stereoSignature, type Conformer, type Ensemble } from './ensemble';
import { GAS_CONSTANT_KCAL, ROOM_TEMPERATURE_K } from './metrics';
import { MmffEvaluator, type MinimisedConformer, type MmffVariant } from './mmff';
import type { OclMolecule } from './ocl';
import { heavyAtomGraph, SymmetricRmsd, type CentredPoints } from './rmsd';
import type { MoleculeTopology } from './structure';
import { setTorsion, torsionAngles, type RotatableBond } from './torsions';

// ──────────────────────────────────────────────────────────────────────────────────────────────────────────
// Angles
// ──────────────────────────────────────────────────────────────────────────────────────────────────────────

export const TWO_PI = 2 * Math.PI;

/** x mapped onto (−π, π] (x − 2π·⌈(x − π)/2π⌉). */
export function wrapAngle(x: number): number {
  const y = x - TWO_PI * Math.ceil((x - Math.PI) / TWO_PI);
  return y <= -Math.PI ? y + TWO_PI : y > Math.PI ? y - TWO_PI : y;
}

/** The shortest signed rotation from `from` to `to`: wrap(to − from) ∈ (−π, π]. */
export function angularDifference(from: number, to: number): number {
  return wrapAngle(to - from);
}

/** Elementwise wrap onto (−π, π] with tf ops (float32). */
export function wrapAnglesTensor<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => tf.sub<T>(x, tf.mul(TWO_PI, tf.ceil(tf.div(tf.sub(x, Math.PI), TWO_PI)))));
}

// ──────────────────────────────────────────────────────────────────────────────────────────────────────────
// Conditional path, base, velocity field
// ──────────────────────────────────────────────────────────────────────────────────────────────────────────

/**
 * The geodesic conditional path on T^m (file comment): θ_t = wrap(θ0 + t·wrap(θ1 − θ0)), u_t = wrap(θ1 − θ0).
 * A ConditionalFlowMatcher (σ = 0) with the two path functions replaced, so `flowMatchingLoss` and
 * `trainFlowMatching` use it unchanged.
 */
export class TorusFlowMatcher extends ConditionalFlowMatcher {
  constructor() {
    super(0);
  }

  override computeMu(x0: tf.Tensor2D, x1: tf.Tensor2D, t: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => wrapAnglesTensor(tf.add(x0, tf.mul(t, wrapAnglesTensor(tf.sub(x1, x0))))));
  }

  override computeConditionalFlow(x0: tf.Tensor2D, x1: tf.Tensor2D): tf.Tensor2D {
    return wrapAnglesTensor(tf.sub(x1, x0));
  }
}

/** θ0 ~ U(−π, π)^m: the base of every torsional flow. */
export function sampleUniformTorus(shape: [number, number], seed: number): tf.Tensor2D {
  return tf.randomUniform<tf.Rank.R2>(shape, -Math.PI, Math.PI, 'float32', seed);
}

export interface TorusVelocityFieldConfig {
  /** m, the number of torsion angles. */
  torsions: number;
  hidden: number;
  layers: number;
  activation: Activation;
  timeFrequencies: number;
  maxTimeFrequency: number;
}

export const defaultTorusFieldConfig: Omit<TorusVelocityFieldConfig, 'torsions'> = {
  hidden: 64,
  layers: 3,
  activation: 'silu',
  timeFrequencies: 8,
  maxTimeFrequency: 64,
};

export interface TorusVelocityFieldWeights {
  format: 'tributary.torus-velocity-field/v1';
  torsions: number;
  /** The inner MLP on [sin θ, cos θ] (dimension 2m). */
  mlp: MlpVelocityFieldWeights;
}

/**
 * v(θ, t) on T^m: an MlpVelocityField of dimension 2m on [sin θ, cos θ] (plus its time features), its output
 * (a, b) projected on the circles' tangents, v = a ⊙ cos θ − b ⊙ sin θ. Periodic in θ by construction.
 */
export class TorusVelocityField implements TrainableVelocityField {
  readonly dimension: number;

  private constructor(readonly mlp: MlpVelocityField) {
    this.dimension = mlp.dimension / 2;
  }

  static create(
    config: Partial<Omit<TorusVelocityFieldConfig, 'torsions'>> & { torsions: number },
    seed = 0,
  ): TorusVelocityField {
    const { torsions, ...rest } = { ...defaultTorusFieldConfig, ...config };
    if (!Number.isInteger(torsions) || torsions < 1)
      throw new Error(`a torsional flow needs at least one torsion, got ${torsions}`);
    return new TorusVelocityField(MlpVelocityField.create({ ...rest, dimension: 2 * torsions }, seed));
  }

  static fromWeights(weights: TorusVelocityFieldWeights): TorusVelocityField {
    if (weights.format !== 'tributary.torus-velocity-field/v1')
      throw new Error(`unknown torus velocity-field format: ${String(weights.format)}`);
    if (weights.mlp.config.dimension !== 2 * weights.torsions)
      throw new Error('torus velocity field: the MLP must have dimension 2m');
    return new TorusVelocityField(MlpVelocityField.fromWeights(weights.mlp));
  }

  get trainableVariables(): tf.Variable[] {
    return this.mlp.trainableVariables;
  }

  assignVariables(values: tf.Tensor[]): void {
    this.mlp.assignVariables(values);
  }

  predict(theta: tf.Tensor2D, t: tf.Tensor | number): tf.Tensor2D {
    if (theta.shape[1] !== this.dimension)
      throw new Error(`torus field of ${this.dimension} torsions got shape [${theta.shape.join(', ')}]`);
    return tf.tidy(() => {
      const sine = tf.sin(theta);
      const cosine = tf.cos(theta);
      const ambient = this.mlp.predict(tf.concat<tf.Tensor2D>([sine, cosine], 1), t);
      const m = this.dimension;
      const a = tf.slice(ambient, [0, 0], [-1, m]);
      const b = tf.slice(ambient, [0, m], [-1, m]);
      return tf.sub<tf.Tensor2D>(tf.mul(a, cosine), tf.mul(b, sine));
    });
  }

  getWeights(): TorusVelocityFieldWeights {
    return {
      format: 'tributary.torus-velocity-field/v1',
      torsions: this.dimension,
      mlp: this.mlp.getWeights(),
    };
  }

  /** An independent copy (for warm starts). */
  clone(): TorusVelocityField {
    return TorusVelocityField.fromWeights(this.getWeights());
  }

  dispose(): void {
    this.mlp.dispose();
  }
}

// ──────────────────────────────────────────────────────────────────────────────────────────────────────────
// Sampling and densities on the torus
// ──────────────────────────────────────────────────────────────────────────────────────────────────────────

export interface TorusSampleOptions {
  seed: number;
  /** ODE steps (default 30). */
  steps?: number;
  method?: OdeMethod;
}

/** n samples θ ∈ (−π, π]^m of a torus flow, n×m row-major: uniform θ0, the ODE, then wrap. */
export function sampleTorusFlow(field: VelocityField, n: number, options: TorusSampleOptions): Float32Array {
  const { steps = 30, method = 'rk4', seed } = options;
  const theta = tf.tidy(() => {
    const x0 = sampleUniformTorus([n, field.dimension], seed);
    const x1 = odeSolve((x: tf.Tensor2D, t) => field.predict(x, t), x0, { t0: 0, t1: 1, steps, method });
    return wrapAnglesTensor(x1);
  });
  const values = theta.dataSync() as Float32Array;
  theta.dispose();
  return values;
}

/**
 * log p1(θ) of a torus flow w.r.t. dθ on (−π, π]^m: −m·log 2π − ∫₀¹ div v dt (file comment). Exact divergence
 * up to m = 8, Hutchinson beyond (as FlowDensity).
 */
export function torusLogDensity(
  field: VelocityField,
  points: Float32Array,
  options: { steps?: number; chunkSize?: number; probes?: number; seed?: number } = {},
): Float64Array {
  const m = field.dimension;
  const n = points.length / m;
  const x = tf.tensor2d(points, [n, m]);
  try {
    const result = logLikelihood(field, x, {
      steps: options.steps ?? 30,
      divergence: m <= 8 ? 'exact' : 'hutchinson',
      probes: options.probes,
      seed: options.seed,
      chunkSize: options.chunkSize ?? 1024,
    });
    const out = new Float64Array(n);
    const logBase = -m * Math.log(TWO_PI);
    for (let i = 0; i < n; i++) {
      // logLikelihood = log N(x0) − ∫ div v; remove its Gaussian base, put the uniform one in.
      out[i] = result.logLikelihood[i] - standardNormalLogDensity(result.latent, m, i) + logBase;
    }
    return out;
  } finally {
    x.dispose();
  }
}

/** A torus flow as an RFM density: torus samples and torus log-densities. */
export class TorusFlowDensity implements DensityModel {
  readonly dimension: number;
  constructor(
    readonly field: VelocityField,
    readonly options: { odeSteps?: number; chunkSize?: number } = {},
  ) {
    this.dimension = field.dimension;
  }

  sample(n: number, seed: number): Float32Array {
    return sampleTorusFlow(this.field, n, { seed, steps: this.options.odeSteps ?? 30 });
  }

  logDensity(points: Float32Array): Float64Array {
    return torusLogDensity(this.field, points, {
      steps: this.options.odeSteps ?? 30,
      chunkSize: this.options.chunkSize,
    });
  }

  dispose(): void {
    (this.field as VelocityField & { dispose?: () => void }).dispose?.();
  }
}

/** log I0(κ), the modified Bessel function of the first kind (power series in log space; asymptotic for large κ). */
export function logBesselI0(kappa: number): number {
  if (kappa < 0) throw new Error('logBesselI0: κ must be ≥ 0');
  if (kappa > 700) return kappa - 0.5 * Math.log(TWO_PI * kappa) + Math.log1p(1 / (8 * kappa));
  // I0(κ) = Σ_k ((κ/2)^k / k!)², terms t_k = t_{k−1}·(κ/2)²/k².
  const q = (kappa / 2) ** 2;
  let term = 1;
  let sum = 1;
  for (let k = 1; k < 2000; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < 1e-17 * sum && k > kappa) break;
  }
  return Math.log(sum);
}

export interface VonMisesComponent {
  weight: number;
  /** Mean angles μ ∈ (−π, π]^m. */
  mean: number[];
  /** Concentrations κ_j ≥ 0 (0: uniform on that circle). */
  concentration: number[];
}

/**
 * A mixture of products of von Mises distributions on T^m, p(θ) = Σ_k w_k Π_j exp(κ_kj cos(θ_j − μ_kj)) /
 * (2π I0(κ_kj)): exact samples (Best & Fisher 1979) and log-densities, for exact checks and as a closed-form
 * prior.
 */
export class VonMisesMixtureDensity implements DensityModel {
  readonly dimension: number;
  private readonly weights: number[];
  private readonly logNormalisers: number[];

  constructor(readonly components: VonMisesComponent[]) {
    if (components.length === 0) throw new Error('a von Mises mixture needs a component');
    this.dimension = components[0].mean.length;
    if (components.some((c) => c.mean.length !== this.dimension || c.concentration.length !== this.dimension))
      throw new Error('von Mises components must share their dimension');
    const total = components.reduce((sum, c) => sum + c.weight, 0);
    this.weights = components.map((c) => c.weight / total);
    this.logNormalisers = components.map((c) =>
      c.concentration.reduce((sum, kappa) => sum + Math.log(TWO_PI) + logBesselI0(kappa), 0),
    );
  }

  sample(n: number, seed: number): Float32Array {
    const rng = createRng(seed);
    const out = new Float32Array(n * this.dimension);
    for (let i = 0; i < n; i++) {
      let u = rng.uniform();
      let k = 0;
      while (k < this.weights.length - 1 && u >= this.weights[k]) u -= this.weights[k++];
      const component = this.components[k];
      for (let j = 0; j < this.dimension; j++)
        out[i * this.dimension + j] = sampleVonMises(component.mean[j], component.concentration[j], rng);
    }
    return out;
  }

  logDensity(points: Float32Array): Float64Array {
    const n = points.length / this.dimension;
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let max = -Infinity;
      const terms = this.components.map((component, k) => {
        let value = Math.log(this.weights[k]) - this.logNormalisers[k];
        for (let j = 0; j < this.dimension; j++)
          value += component.concentration[j] * Math.cos(points[i * this.dimension + j] - component.mean[j]);
        max = Math.max(max, value);
        return value;
      });
      out[i] = max + Math.log(terms.reduce((sum, value) => sum + Math.exp(value - max), 0));
    }
    return out;
  }
}

/** One draw of a von Mises(μ, κ) variate in (−π, π] (Best & Fisher 1979, Appl. Statist. 28:152). */
export function sampleVonMises(mean: number, kappa: number, rng: Rng): number {
  if (kappa < 1e-8) return wrapAngle((2 * rng.uniform() - 1) * Math.PI);
  const a = 1 + Math.sqrt(1 + 4 * kappa * kappa);
  const b = (a - Math.sqrt(2 * a)) / (2 * kappa);
  const r = (1 + b * b) / (2 * b);
  for (;;) {
    const z = Math.cos(Math.PI * rng.uniform());
    const f = (1 + r * z) / (r + z);
    const c = kappa * (r - f);
    const u2 = 1 - rng.uniform(); // in (0, 1]
    if (c * (2 - c) - u2 > 0 || Math.log(c / u2) + 1 - c >= 0) {
      const angle = Math.acos(Math.min(1, Math.max(-1, f)));
      return wrapAngle(mean + (rng.uniform() < 0.5 ? -angle : angle));
    }
  }
}

// ──────────────────────────────────────────────────────────────────────────────────────────────────────────
// Training
// ──────────────────────────────────────────────────────────────────────────────────────────────────────────

export interface TorsionalTrainingOptions {
  steps?: number;
  batchSize?: number;
  learningRate?: number;
  hidden?: number;
  layers?: number;
  seed?: number;
  /**
   * Standard deviation (rad) of wrapped-Gaussian noise added to every drawn data row: a kernel-density
   * smoothing of a small ensemble, so that the prior covers the neighbourhood of each conformer rather than
   * only the point itself (default 0).
   */
  jitter?: number;
  /** ODE steps of the returned density's sampling and likelihood (default 30). */
  odeSteps?: number;
  onStep?: (info: TrainStepInfo) => void | Promise<void>;
  signal?: AbortSignal;
}

export const defaultTorsionalTraining = {
  steps: 1500,
  batchSize: 256,
  learningRate: 2e-3,
  hidden: 64,
  layers: 3,
  seed: 0,
  jitter: 0,
  odeSteps: 30,
};

export interface TrainedTorsionalFlow {
  density: TorusFlowDensity;
  field: TorusVelocityField;
  training: TrainFlowMatchingResult;
}

/** The engine's trainer options that make it train on the torus. */
export function torusTrainingPath() {
  return { matcher: new TorusFlowMatcher(), sampleBase: sampleUniformTorus };
}

/**
 * Trains a torsional flow (a prior) on torsion vectors `data` (n×m row-major, radians, any lift: they are
 * wrapped) by flow matching on the torus path.
 */
export async function trainTorsionalFlow(
  data: Float32Array,
  torsions: number,
  options: TorsionalTrainingOptions = {},
): Promise<TrainedTorsionalFlow> {
  const o = { ...defaultTorsionalTraining, ...options };
  const rows = data.length / torsions;
  if (!Number.isInteger(rows) || rows < 1)
    throw new Error(`${data.length} values are not rows of ${torsions}`);
  const wrapped = Float32Array.from(data, wrapAngle);
  const field = TorusVelocityField.create({ torsions, hidden: o.hidden, layers: o.layers }, o.seed);
  try {
    const training = await trainFlowMatching({
      field,
      ...torusTrainingPath(),
      sampleData: (batchSize, rng) => {
        const batch = new Float32Array(batchSize * torsions);
        for (let b = 0; b < batchSize; b++) {
          const row = rng.int(rows);
          for (let j = 0; j < torsions; j++) {
            const value = wrapped[row * torsions + j] + (o.jitter > 0 ? o.jitter * rng.normal() : 0);
            batch[b * torsions + j] = wrapAngle(value);
          }
        }
        return tf.tensor2d(batch, [batchSize, torsions]);
      },
      steps: o.steps,
      batchSize: o.batchSize,
      learningRate: o.learningRate,
      seed: o.seed + 1,
      onStep: o.onStep,
      signal: o.signal,
    });
    return { density: new TorusFlowDensity(field, { odeSteps: o.odeSteps }), field, training };
  } catch (error) {
    field.dispose();
    throw error;
  }
}

// ──────────────────────────────────────────────────────────────────────────────────────────────────────────
// RFM on the torus
// ──────────────────────────────────────────────────────────────────────────────────────────────────────────

export interface TorusInnerSolverOptions {
  /** Samples of p_k per step (the weighted pool). */
  sampleCount: number;
  /** Training steps from a fresh field, and warm-started from p_k's field. */
  steps: number;
  warmSteps: number;
  batchSize: number;
  learningRate: number;
  hidden: number;
  layers: number;
  odeSteps: number;
}

export const defaultTorusInnerSolver: TorusInnerSolverOptions = {
  sampleCount: 2000,
  steps: 1500,
  warmSteps: 600,
  batchSize: 256,
  learningRate: 2e-3,
  hidden: 64,
  layers: 3,
  odeSteps: 30,
};

export interface TorusMirrorIteration {
  k: number;
  /** γ_k used (after the effective-sample-size cap). */
  gamma: number;
  effectiveSampleSize: number;
  effectiveSampleFraction: number;
  finalLoss: number;
  /** Mean of the problem's reward over the pool of p_k (NaN without a reward). */
  meanReward: number;
  seconds: number;
}

export interface TorusMirrorDescentOptions {
  /** Intersection or union (interpolation's Euclidean critics are not defined on the torus here). */
  problem: RfmProblem;
  /** p_0, covering the target's support. */
  init: DensityModel;
  outerSteps: number;
  /** γ_k (constant or by 1-based step); default 1/A, exact in one step for the intersection. */
  gamma?: number | ((k: number) => number);
  /**
   * Caps γ_k so that the pool's effective sample size stays ≥ this fraction of its finite-weight samples
   * (largest such γ ≤ the nominal one, by bisection). Default: no cap.
   */
  minEffectiveSampleFraction?: number;
  inner?: Partial<TorusInnerSolverOptions>;
  seed: number;
  onTrainStep?: (k: number, info: TrainStepInfo) => void | Promise<void>;
  onIteration?: (iteration: TorusMirrorIteration, density: TorusFlowDensity) => void | Promise<void>;
  signal?: AbortSignal;
}

export interface TorusMirrorDescentResult {
  /** p_1 … p_K; the caller disposes them. */
  iterates: TorusFlowDensity[];
  iterations: TorusMirrorIteration[];
}

/** The largest γ ≤ γmax whose weights exp(γ·δ) keep ESS ≥ fraction · (number of finite δ). */
export function cappedGamma(variation: ArrayLike<number>, gammaMax: number, fraction: number): number {
  const finite = Array.from(variation).filter(Number.isFinite).length;
  if (finite === 0) throw new Error('every first-variation value is non-finite');
  const ess = (gamma: number) =>
    selfNormalizedWeights(Array.from(variation, (v) => gamma * v)).effectiveSampleSize / finite;
  if (ess(gammaMax) >= fraction) return gammaMax;
  let lo = 0;
  let hi = gammaMax;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (ess(mid) >= fraction) lo = mid;
    else hi = mid;
  }
  return lo > 0 ? lo : hi / 2 ** 60;
}

/**
 * RFM mirror descent p_{k+1} ∝ p_k·exp(γ_k δG/δp(p_k)) on the torus (file comment): δG/δp from the RFM
 * engine's `firstVariation`, each step solved by the engine's reward-weighted flow matching with the torus
 * path, warm-started from p_k's field when p_k is a torus flow.
 */
export async function torusMirrorDescent(
  options: TorusMirrorDescentOptions,
): Promise<TorusMirrorDescentResult> {
  const { problem, init, outerSteps, seed } = options;
  validateProblem(problem);
  if (problem.operator === 'interpolation')
    throw new Error('the interpolation operator is not available for torsional flows');
  if (!Number.isInteger(outerSteps) || outerSteps < 1)
    throw new Error('outerSteps must be a positive integer');
  const inner = { ...defaultTorusInnerSolver, ...options.inner };
  const gammaOf = (k: number) =>
    typeof options.gamma === 'function'
      ? options.gamma(k)
      : (options.gamma ?? 1 / totalWeight(problem.weights));
  const rng = createRng(seed);
  const iterates: TorusFlowDensity[] = [];
  const iterations: TorusMirrorIteration[] = [];
  let current: DensityModel = init;
  try {
    for (let k = 1; k <= outerSteps; k++) {
      const started = performance.now();
      const samples = current.sample(inner.sampleCount, rng.nextSeed());
      // The reward is evaluated once per pool (it may be an expensive force field): wrap it to keep its values.
      let rewardValues: Float64Array | undefined;
      const recorded: RfmProblem = problem.reward
        ? {
            ...problem,
            reward: (points, dimension) => (rewardValues = problem.reward!(points, dimension)),
          }
        : problem;
      const variation = firstVariation(recorded, current, samples, rng.nextSeed());
      const nominal = gammaOf(k);
      const gamma =
        options.minEffectiveSampleFraction !== undefined
          ? cappedGamma(variation, nominal, options.minEffectiveSampleFraction)
          : nominal;
      const warm = current instanceof TorusFlowDensity && current.field instanceof TorusVelocityField;
      const field = warm
        ? ((current as TorusFlowDensity).field as TorusVelocityField).clone()
        : TorusVelocityField.create(
            { torsions: current.dimension, hidden: inner.hidden, layers: inner.layers },
            rng.nextSeed(),
          );
      try {
        const training = await rewardWeightedFlowMatching({
          field,
          ...torusTrainingPath(),
          samples,
          logWeights: variation.map((delta) => (Number.isFinite(delta) ? gamma * delta : -Infinity)),
          steps: warm ? inner.warmSteps : inner.steps,
          batchSize: inner.batchSize,
          learningRate: inner.learningRate,
          seed: rng.nextSeed(),
          onStep: options.onTrainStep && ((info) => options.onTrainStep!(k, info)),
          signal: options.signal,
        });
        const next = new TorusFlowDensity(field, { odeSteps: inner.odeSteps });
        const iteration: TorusMirrorIteration = {
          k,
          gamma,
          effectiveSampleSize: training.effectiveSampleSize,
          effectiveSampleFraction: training.effectiveSampleFraction,
          finalLoss: training.finalLoss,
          meanReward: rewardValues ? finiteMean(rewardValues) : Number.NaN,
          seconds: (performance.now() - started) / 1000,
        };
        iterates.push(next);
        iterations.push(iteration);
        current = next;
        await options.onIteration?.(iteration, next);
      } catch (error) {
        if (!iterates.some((it) => it.field === field)) field.dispose();
        throw error;
      }
    }
  } catch (error) {
    for (const iterate of iterates) iterate.dispose();
    throw error;
  }
  return { iterates, iterations };
}

function finiteMean(values: ArrayLike<number>): number {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < values.length; i++)
    if (Number.isFinite(values[i])) {
      sum += values[i];
      count++;
    }
  return count === 0 ? Number.NaN : sum / count;
}

export interface SteeringOptions {
  /** γ: the target is p_prior·exp(γ r) (default 1). */
  strength?: number;
  /** Effective-sample-size floor per tempered step (default 0.1). */
  minEffectiveSampleFraction?: number;
  /** Most tempered steps (default 4); fewer when the strength is reached earlier. */
  maxSteps?: number;
  inner?: Partial<TorusInnerSolverOptions>;
  seed?: number;
  onIteration?: (iteration: TorusMirrorIteration) => void | Promise<void>;
  signal?: AbortSignal;
}

export interface SteeringResult {
  /** The steered flow (the prior itself when no step was taken); the caller disposes it if it is not the prior. */
  density: TorusFlowDensity;
  iterations: TorusMirrorIteration[];
  /** Σ γ_k reached (≤ strength when maxSteps ran out first). */
  strengthReached: number;
}

/**
 * Reward fine-tuning p ∝ p_prior·exp(γ·r) by tempered RFM intersection steps with one prior (file comment):
 * step k is `torusMirrorDescent` with the current flow as both prior and start, so δG/δp = r exactly and
 * p_{k+1} ∝ p_k·exp(γ_k r), γ_k capped by the effective-sample-size floor, until Σ γ_k = γ.
 */
export async function steerTorsionalFlow(
  prior: TorusFlowDensity,
  reward: Reward,
  options: SteeringOptions = {},
): Promise<SteeringResult> {
  const strength = options.strength ?? 1;
  const maxSteps = options.maxSteps ?? 4;
  const rng = createRng(options.seed ?? 0);
  const iterations: TorusMirrorIteration[] = [];
  let current = prior;
  let reached = 0;
  for (let k = 1; k <= maxSteps && reached < strength * (1 - 1e-9); k++) {
    // Prior and start are the same flow, so α(log p − log p_1) cancels: a view of it with log-density 0
    // saves the two likelihood integrations that would cancel anyway.
    const reference = new CancellingReference(current);
    const {
      iterates,
      iterations: [iteration],
    } = await torusMirrorDescent({
      problem: { operator: 'intersection', priors: [reference], weights: [1], reward },
      init: reference,
      outerSteps: 1,
      gamma: strength - reached,
      minEffectiveSampleFraction: options.minEffectiveSampleFraction ?? 0.1,
      inner: options.inner,
      seed: rng.nextSeed(),
      signal: options.signal,
    });
    if (current !== prior) current.dispose();
    current = iterates[0];
    reached += iteration.gamma;
    iterations.push({ ...iteration, k });
    await options.onIteration?.({ ...iteration, k });
  }
  return { density: current, iterations, strengthReached: reached };
}

/**
 * The same flow with log-density 0 everywhere: valid only as both the start and the single prior of an
 * intersection step, where log p_k − log p_1 = 0 identically. Shares (does not own) the flow's field.
 */
class CancellingReference extends TorusFlowDensity {
  constructor(flow: TorusFlowDensity) {
    super(flow.field, flow.options);
  }
  override logDensity(points: Float32Array): Float64Array {
    return new Float64Array(points.length / this.dimension);
  }
  override dispose(): void {}
}

/** A density that remembers its last log-density evaluation (keyed by the identity of the points array). */
class RememberedLogDensity implements DensityModel {
  readonly dimension: number;
  private last?: { points: Float32Array; values: Float64Array };
  constructor(private readonly density: DensityModel) {
    this.dimension = density.dimension;
  }
  sample(n: number, seed: number): Float32Array {
    return this.density.sample(n, seed);
  }
  logDensity(points: Float32Array): Float64Array {
    if (this.last?.points !== points) this.last = { points, values: this.density.logDensity(points) };
    return this.last.values;
  }
}

export interface MergeOptions {
  operator?: Exclude<RfmOperator, 'interpolation'>;
  /** α_i (default 1 each). */
  weights?: number[];
  /** An optional reward f in G(p) (e.g. an energy reward). */
  reward?: Reward;
  outerSteps?: number;
  inner?: Partial<TorusInnerSolverOptions>;
  seed?: number;
  signal?: AbortSignal;
}

/**
 * Merges torsional priors with an RFM operator (default intersection: p ∝ Π p_i^{α_i/A}·e^{f/A}, exact in one
 * step with γ = 1/A), starting from the equal mixture of the priors, which covers both supports.
 */
export async function mergeTorsionalPriors(
  priors: DensityModel[],
  options: MergeOptions = {},
): Promise<TorusMirrorDescentResult> {
  const weights = options.weights ?? priors.map(() => 1);
  // The mixture start's log-density needs every prior's at the same points as the first variation does:
  // remembering the last evaluation halves the likelihood integrations.
  const remembered = priors.map((prior) => new RememberedLogDensity(prior));
  return torusMirrorDescent({
    problem: {
      operator: options.operator ?? 'intersection',
      priors: remembered,
      weights,
      reward: options.reward,
    },
    init: new MixtureDensity(remembered),
    outerSteps: options.outerSteps ?? 1,
    inner: options.inner,
    seed: options.seed ?? 0,
    signal: options.signal,
  });
}

// ──────────────────────────────────────────────────────────────────────────────────────────────────────────
// Molecules: torsions ↔ geometries, the energy reward, the ensemble pipeline
// ──────────────────────────────────────────────────────────────────────────────────────────────────────────

/** One molecule's torsional space: base geometry, rotatable bonds, MMFF94. */
export interface TorsionalSystem {
  readonly molecule: OclMolecule;
  readonly topology: MoleculeTopology;
  readonly rotatableBonds: readonly RotatableBond[];
  /** The geometry torsions are set on (bond lengths and angles are its own). */
  readonly baseCoordinates: Float64Array;
  readonly evaluator: MmffEvaluator;
}

/** The torsional system of an ensemble, on its lowest-energy conformer (an MMFF94 minimum) as base geometry. */
export function torsionalSystemFromEnsemble(
  ensemble: Ensemble,
  variant: MmffVariant = 'MMFF94',
): TorsionalSystem {
  return {
    molecule: ensemble.molecule,
    topology: ensemble.topology,
    rotatableBonds: ensemble.rotatableBonds,
    baseCoordinates: Float64Array.from(ensemble.conformers[0].coordinates),
    evaluator: new MmffEvaluator(ensemble.molecule, variant),
  };
}

/** The torsion vectors (rows of m angles) of coordinate sets in the system's atom order. */
export function torsionsOf(
  coordinates: readonly Float64Array[],
  bonds: readonly RotatableBond[],
): Float32Array {
  const m = bonds.length;
  const out = new Float32Array(coordinates.length * m);
  coordinates.forEach((c, i) => out.set(torsionAngles(c, bonds), i * m));
  return out;
}

/** The base geometry with torsions θ (row `row` of `torsions`), by rigid rotations. */
export function conformerFromTorsions(
  system: TorsionalSystem,
  torsions: ArrayLike<number>,
  row = 0,
): Float64Array {
  const coordinates = Float64Array.from(system.baseCoordinates);
  const m = system.rotatableBonds.length;
  system.rotatableBonds.forEach((bond, j) => setTorsion(coordinates, bond, torsions[row * m + j]));
  return coordinates;
}

export interface EnergyRewardOptions {
  /** Kelvin (default 298.15): r = −E/(R·T). */
  temperature?: number;
  /** 0 (default): single-point energy of the rigid-rotor geometry; k > 0: after at most k MMFF94 iterations. */
  relaxIterations?: number;
}

/** MMFF94 energies (kcal/mol) of torsion vectors on the base geometry; NaN becomes +∞. */
export function torsionalEnergies(
  system: TorsionalSystem,
  torsions: Float32Array,
  relaxIterations = 0,
): Float64Array {
  const m = system.rotatableBonds.length;
  const n = torsions.length / m;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const coordinates = conformerFromTorsions(system, torsions, i);
    const energy =
      relaxIterations > 0
        ? system.evaluator.minimise(coordinates, { maxIterations: relaxIterations }).energy
        : system.evaluator.energy(coordinates);
    out[i] = Number.isFinite(energy) ? energy : Infinity;
  }
  return out;
}

/** r(θ) = −(E(θ) − E_base)/kT (the shift by the base energy changes no weight; it keeps numbers small). */
export function energyReward(system: TorsionalSystem, options: EnergyRewardOptions = {}): Reward {
  const kT = GAS_CONSTANT_KCAL * (options.temperature ?? ROOM_TEMPERATURE_K);
  const reference = system.evaluator.energy(system.baseCoordinates);
  return (points) => {
    const energies = torsionalEnergies(system, points, options.relaxIterations ?? 0);
    return energies.map((energy) => -(energy - reference) / kT);
  };
}

export interface TorsionalEnsembleOptions {
  /** Conformers wanted. */
  readonly n: number;
  readonly seed?: number;
  readonly rmsdThreshold?: number;
  readonly variant?: MmffVariant;
  readonly maxMinimisationIterations?: number;
  /** The base (MMFF-relaxed) ensemble the prior is trained on; generated with n = `baseSize` when absent. */
  readonly baseEnsemble?: Ensemble;
  /** Size of the generated base ensemble (default n). */
  readonly baseSize?: number;
  /** Keep the base ensemble's conformers as candidates of the final ensemble (default true). */
  readonly includeBase?: boolean;
  /**
   * A second prior's torsion vectors (rows of m, e.g. read off an uploaded SD file with `torsionsFromSdf`): its
   * flow is merged with the base prior by the intersection operator before steering.
   */
  readonly secondPriorTorsions?: Float32Array;
  /** Flow samples minimised into candidates (default 2n). */
  readonly candidates?: number;
  /** Samples drawn from the steered flow per candidate, to choose the candidates among (default 8). */
  readonly poolFactor?: number;
  /**
   * Candidates are chosen lowest rigid-rotor energy first among torsion vectors at least this far (rad, largest
   * per-torsion circular difference) from each other and from the base conformers' (default π/6; 0 disables).
   */
  readonly noveltyDistance?: number;
  /** Reward temperature in K (default 298.15) and strength γ (default 0.2; see `generateTorsionalEnsemble`). */
  readonly temperature?: number;
  readonly strength?: number;
  readonly relaxIterations?: number;
  readonly minEffectiveSampleFraction?: number;
  readonly maxSteeringSteps?: number;
  readonly training?: Partial<TorsionalTrainingOptions>;
  readonly inner?: Partial<TorusInnerSolverOptions>;
  readonly onProgress?: (stage: string) => void;
  readonly signal?: AbortSignal;
}

export interface TorsionalFlowReport {
  readonly torsions: number;
  readonly baseConformers: number;
  readonly baseCandidates: number;
  readonly flowCandidates: number;
  /** Flow candidates kept in the final ensemble. */
  readonly flowConformersKept: number;
  readonly priorFinalLoss: number;
  readonly merged: boolean;
  readonly steering: readonly TorusMirrorIteration[];
  readonly strengthReached: number;
  /** Mean minimised energy of the flow candidates that survived the checks (kcal/mol). */
  readonly flowCandidateMeanEnergy: number;
  readonly seconds: { base: number; prior: number; merge: number; steering: number; candidates: number };
}

export interface TorsionalEnsemble extends Ensemble {
  readonly flow?: TorsionalFlowReport;
}

/**
 * A low-energy conformer ensemble from a torsional flow (DESIGN.md §4):
 * 1. the MMFF-relaxed base ensemble (ensemble.ts, n = `baseSize`, or `baseEnsemble` when given);
 * 2. a prior trained on its torsion vectors (kernel-smoothed by `training.jitter`, default 0.15 rad), merged by
 *    intersection with a second prior when `secondPriorTorsions` is given;
 * 3. steered toward p ∝ p_prior·exp(−γE/kT) with rigid-rotor MMFF94 energies. The default γ = 0.2 at
 *    298.15 K (an effective kT of 3 kcal/mol) is deliberate: an ensemble wants many distinct low-energy
 *    basins, and at γ = 1 the flow concentrates on the one or two lowest (measured on three ZINC molecules:
 *    the flow candidates then minimise into the global minimum and add few distinct conformers);
 * 4. `poolFactor`·`candidates` samples, of which `candidates` are chosen lowest rigid-rotor energy first
 *    among torsion vectors at least `noveltyDistance` apart from each other and from the base conformers
 *    (without this novelty rule the candidates collapse into the basins already found);
 * 5. each set on the base geometry, MMFF94-minimised, checked (finite, stereo kept) and deduplicated by
 *    symmetric heavy-atom RMSD together with the base conformers (the lower energy winning) → the n lowest
 *    distinct conformers, origin 'flow' for those from the flow.
 * Molecules without rotatable bonds return the base ensemble. `seconds` is this call's time (the base
 * ensemble's included only when it is generated here); `candidates` counts every minimisation, base included.
 */
export async function generateTorsionalEnsemble(
  smiles: string,
  options: TorsionalEnsembleOptions,
): Promise<TorsionalEnsemble> {
  const started = performance.now();
  const { n } = options;
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`generateTorsionalEnsemble: n must be a positive integer`);
  const seed = options.seed ?? 42;
  const rmsdThreshold = options.rmsdThreshold ?? 0.5;
  const variant = options.variant ?? 'MMFF94';
  const rng = createRng(seed + 7919);
  const clock = () => (performance.now() - started) / 1000;

  options.onProgress?.('base ensemble');
  const base =
    options.baseEnsemble ??
    (await generateEnsemble(smiles, {
      n: options.baseSize ?? n,
      seed,
      rmsdThreshold,
      variant,
      maxMinimisationIterations: options.maxMinimisationIterations,
    }));
  const tBase = clock();
  const m = base.rotatableBonds.length;
  if (m === 0 || base.conformers.length === 0) return { ...base, seconds: clock() };

  const system = torsionalSystemFromEnsemble(base, variant);
  const owned: TorusFlowDensity[] = [];
  try {
    options.onProgress?.('prior');
    const data = torsionsOf(
      base.conformers.map((c) => c.coordinates),
      base.rotatableBonds,
    );
    const training = { jitter: 0.15, steps: 1200, ...options.training, signal: options.signal };
    const prior = await trainTorsionalFlow(data, m, { ...training, seed: rng.nextSeed() });
    owned.push(prior.density);
    const tPrior = clock();

    let start: TorusFlowDensity = prior.density;
    if (options.secondPriorTorsions) {
      options.onProgress?.('merge');
      const second = await trainTorsionalFlow(options.secondPriorTorsions, m, {
        ...training,
        seed: rng.nextSeed(),
      });
      owned.push(second.density);
      const merged = await mergeTorsionalPriors([prior.density, second.density], {
        inner: options.inner,
        seed: rng.nextSeed(),
        signal: options.signal,
      });
      owned.push(...merged.iterates);
      start = merged.iterates[merged.iterates.length - 1];
    }
    const tMerge = clock();

    options.onProgress?.('steering');
    const steering = await steerTorsionalFlow(
      start,
      energyReward(system, { temperature: options.temperature, relaxIterations: options.relaxIterations }),
      {
        strength: options.strength ?? 0.2,
        minEffectiveSampleFraction: options.minEffectiveSampleFraction,
        maxSteps: options.maxSteeringSteps,
        inner: { sampleCount: 1000, warmSteps: 400, ...options.inner },
        seed: rng.nextSeed(),
        signal: options.signal,
      },
    );
    if (!owned.includes(steering.density)) owned.push(steering.density);
    const tSteer = clock();

    options.onProgress?.('candidates');
    const candidateCount = options.candidates ?? 2 * n;
    const pool = steering.density.sample(
      Math.max(candidateCount, Math.round((options.poolFactor ?? 8) * candidateCount)),
      rng.nextSeed(),
    );
    const torsions = selectDiverseTorsions(pool, torsionalEnergies(system, pool), m, candidateCount, {
      exclude: data,
      minDistance: options.noveltyDistance ?? Math.PI / 6,
    });
    const symmetric = new SymmetricRmsd(heavyAtomGraph(base.topology));
    const stereo = stereoElements(base.molecule.getCompactCopy(), base.topology);
    const baseSignature = stereoSignature(system.baseCoordinates, stereo);
    const kept: { conformer: Conformer; centred: CentredPoints }[] = [];
    const offer = (conformer: Conformer) => {
      const centred = symmetric.centreFirst(conformer.coordinates);
      const duplicate = kept.findIndex((other) => symmetric.rmsd(centred, other.centred) < rmsdThreshold);
      if (duplicate < 0) kept.push({ conformer, centred });
      else if (conformer.energy < kept[duplicate].conformer.energy) kept[duplicate] = { conformer, centred };
    };
    if (options.includeBase ?? true) base.conformers.forEach(offer);
    let failedMinimisations = 0;
    let stereoChanges = 0;
    const flowEnergies: number[] = [];
    const minimiseOptions = { maxIterations: options.maxMinimisationIterations ?? 2000 };
    for (let i = 0; i < candidateCount; i++) {
      // Each minimisation blocks for ~0.1–0.5 s: let an in-process server answer, and a cancellation land.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (options.signal?.aborted) throw options.signal.reason ?? new Error('aborted');
      const startCoordinates = conformerFromTorsions(system, torsions, i);
      let minimised = system.evaluator.minimise(startCoordinates, minimiseOptions);
      if (!isFiniteResult(minimised)) {
        // As ensemble.ts: 0.02 Å of noise moves MMFF94 off the exactly linear starts where it returns NaN.
        minimised = system.evaluator.minimise(
          startCoordinates.map((value) => value + 0.02 * rng.normal()),
          minimiseOptions,
        );
      }
      if (!isFiniteResult(minimised)) {
        failedMinimisations++;
        continue;
      }
      if (stereoSignature(minimised.coordinates, stereo) !== baseSignature) {
        stereoChanges++;
        continue;
      }
      flowEnergies.push(minimised.energy);
      offer({
        coordinates: minimised.coordinates,
        energy: minimised.energy,
        converged: minimised.converged,
        origin: 'flow',
      });
    }
    const conformers = kept
      .map((entry) => entry.conformer)
      .sort((a, b) => a.energy - b.energy)
      .slice(0, n);
    const seconds = clock();
    return {
      smiles,
      molecule: base.molecule,
      topology: base.topology,
      rotatableBonds: base.rotatableBonds,
      conformers,
      candidates: base.candidates + candidateCount,
      failedMinimisations: base.failedMinimisations + failedMinimisations,
      stereoChanges: base.stereoChanges + stereoChanges,
      seconds,
      flow: {
        torsions: m,
        baseConformers: base.conformers.length,
        baseCandidates: base.candidates,
        flowCandidates: candidateCount,
        flowConformersKept: conformers.filter((c) => c.origin === 'flow').length,
        priorFinalLoss: prior.training.finalLoss,
        merged: options.secondPriorTorsions !== undefined,
        steering: steering.iterations,
        strengthReached: steering.strengthReached,
        flowCandidateMeanEnergy: flowEnergies.length
          ? flowEnergies.reduce((a, b) => a + b, 0) / flowEnergies.length
          : Number.NaN,
        seconds: {
          base: tBase,
          prior: tPrior - tBase,
          merge: tMerge - tPrior,
          steering: tSteer - tMerge,
          candidates: seconds - tSteer,
        },
      },
    };
  } finally {
    for (const density of owned) density.dispose();
  }
}

/** The largest per-torsion circular difference between rows a and b (a metric on T^m). */
export function torsionDistance(
  a: ArrayLike<number>,
  rowA: number,
  b: ArrayLike<number>,
  rowB: number,
  m: number,
) {
  let largest = 0;
  for (let j = 0; j < m; j++)
    largest = Math.max(largest, Math.abs(angularDifference(a[rowA * m + j], b[rowB * m + j])));
  return largest;
}

/**
 * `count` rows of `pool` (n×m), lowest `energies` first, each at torsion distance ≥ minDistance from those
 * chosen before and from every row of `exclude`; when too few qualify, the lowest remaining rows fill up.
 * Rows with non-finite energy come last.
 */
export function selectDiverseTorsions(
  pool: Float32Array,
  energies: ArrayLike<number>,
  m: number,
  count: number,
  options: { exclude?: Float32Array; minDistance?: number } = {},
): Float32Array {
  const n = pool.length / m;
  const minDistance = options.minDistance ?? 0;
  const exclude = options.exclude ?? new Float32Array(0);
  const key = (i: number) => (Number.isFinite(energies[i]) ? energies[i] : Infinity);
  const order = [...Array(n).keys()].sort((i, j) => key(i) - key(j));
  const chosen: number[] = [];
  const isChosen = new Uint8Array(n);
  const farFrom = (i: number) =>
    chosen.every((c) => torsionDistance(pool, i, pool, c, m) >= minDistance) &&
    Array.from({ length: exclude.length / m }, (_, e) => e).every(
      (e) => torsionDistance(pool, i, exclude, e, m) >= minDistance,
    );
  for (const i of order) {
    if (chosen.length >= count) break;
    if (minDistance <= 0 || farFrom(i)) {
      chosen.push(i);
      isChosen[i] = 1;
    }
  }
  for (const i of order) {
    if (chosen.length >= count) break;
    if (!isChosen[i]) chosen.push(i);
  }
  const out = new Float32Array(chosen.length * m);
  chosen.forEach((i, row) => out.set(pool.subarray(i * m, (i + 1) * m), row * m));
  return out;
}

function isFiniteResult(result: MinimisedConformer): boolean {
  return Number.isFinite(result.energy) && result.coordinates.every(Number.isFinite);
}
