/**
 * Adjoint Matching (Domingo-Enrich et al., arXiv 2409.08861) on the linear path of DESIGN.md §1:
 * fine-tunes a flow toward p ∝ p_ref·exp(γ g) for a differentiable reward g.
 *
 * With memoryless noise σ(t) = √(2(1−t)/t) and base drift b(x, t) = 2 v_ref(x, t) − x/t:
 * 1. simulate the current model's memoryless SDE dX = (2 v_θ(X, t) − X/t) dt + σ(t) dW without
 *    gradients, from t0 (a little above 0, where σ is finite) to 1;
 * 2. solve the lean adjoint backwards: ã(1) = −γ ∇g(X1), dã/dt = −(∂b/∂x)ᵀ ã = −(2 J_refᵀ ã − ã/t);
 * 3. regress ‖(2/σ(t))·(v_θ − v_ref)(X_t, t) + σ(t)·ã(t)‖² over time points of the trajectories,
 *    so v_θ − v_ref → −σ²ã/2 = −((1 − t)/t)·ã.
 * The fine-tuned field is v_ref plus a trained residual, which starts at exactly zero (v_θ = v_ref).
 */
import { createRng } from '../random';
import { randomNormal, tf } from '../tensor';
import { adam } from '../optimizers';
import type { TrainableVelocityField, TrainStepInfo } from './train';
import { MlpVelocityField, type MlpVelocityFieldConfig, type VelocityField } from './velocityField';

/** v_ref + u_θ: a fine-tuned field whose trainable part is the residual MLP u_θ. */
export class ResidualVelocityField implements TrainableVelocityField {
  readonly dimension: number;
  constructor(
    readonly base: VelocityField,
    readonly residual: MlpVelocityField,
  ) {
    if (base.dimension !== residual.dimension) throw new Error('base and residual dimensions differ');
    this.dimension = base.dimension;
  }

  /** A residual MLP whose output layer is zero, so the field starts as v_ref exactly. */
  static zeroResidual(base: VelocityField, config: Partial<MlpVelocityFieldConfig>, seed: number) {
    const residual = MlpVelocityField.create({ ...config, dimension: base.dimension }, seed);
    const variables = residual.trainableVariables;
    const zeroed = variables.map((v, i) => (i >= variables.length - 2 ? tf.zerosLike(v) : v.clone()));
    residual.assignVariables(zeroed);
    tf.dispose(zeroed);
    return new ResidualVelocityField(base, residual);
  }

  get trainableVariables(): tf.Variable[] {
    return this.residual.trainableVariables;
  }
  assignVariables(values: tf.Tensor[]): void {
    this.residual.assignVariables(values);
  }
  predict(x: tf.Tensor2D, t: tf.Tensor | number): tf.Tensor2D {
    return tf.tidy(() => tf.add(this.base.predict(x, t), this.residual.predict(x, t)));
  }
  dispose(): void {
    this.residual.dispose();
  }
}

/** A differentiable reward: one value per row, built from tf ops so ∇g comes from autodiff. */
export type DifferentiableReward = (x: tf.Tensor2D) => tf.Tensor1D;

export interface AdjointMatchingOptions {
  reference: VelocityField;
  field: ResidualVelocityField;
  reward: DifferentiableReward;
  gamma: number;
  iterations: number;
  /** Trajectories simulated per iteration. */
  batchSize?: number;
  /** Time steps of the simulation grid (denser near t0, where the drift −x/t is stiff). */
  timeSteps?: number;
  /** Time points per trajectory used in the regression. */
  timePointsPerTrajectory?: number;
  t0?: number;
  learningRate?: number;
  seed: number;
  onStep?: (info: TrainStepInfo) => void | Promise<void>;
  signal?: AbortSignal;
}

/** The simulation grid t0 < … < 1, quadratically denser near t0. */
export function adjointTimeGrid(t0: number, steps: number): number[] {
  return Array.from({ length: steps + 1 }, (_, k) => t0 + (1 - t0) * (k / steps) ** 2);
}

export const memorylessSigma = (t: number) => Math.sqrt((2 * (1 - t)) / t);

export async function adjointMatching(options: AdjointMatchingOptions) {
  const { reference, field, reward, gamma, iterations, seed } = options;
  const n = options.batchSize ?? 256;
  const grid = adjointTimeGrid(options.t0 ?? 0.01, options.timeSteps ?? 40);
  const pointsPerTrajectory = options.timePointsPerTrajectory ?? 8;
  const d = field.dimension;
  const rng = createRng(seed);
  const optimizer = adam(options.learningRate ?? 1e-3);
  const losses: number[] = [];
  const started = performance.now();
  try {
    for (let iteration = 1; iteration <= iterations; iteration++) {
      if (options.signal?.aborted) throw options.signal.reason;
      const trajectory = simulate();
      const adjoints = leanAdjoint(trajectory);
      // Regression on interior time points (σ(1) = 0 makes the last one singular).
      const picks = Array.from({ length: pointsPerTrajectory }, () => rng.int(grid.length - 2));
      const loss = tf.tidy(() => {
        // Per time point, so closed-form references can take a numeric t.
        const refVelocities = picks.map((k) => reference.predict(trajectory[k], grid[k]));
        const value = optimizer.minimize(
          () => {
            const terms = picks.map((k, i) => {
              const sigma = memorylessSigma(grid[k]);
              const residual = tf.sub(field.predict(trajectory[k], grid[k]), refVelocities[i]);
              const target = tf.add(tf.mul(2 / sigma, residual), tf.mul(sigma, adjoints[k]));
              return tf.mean(tf.sum(tf.square(target), 1));
            });
            return tf.div<tf.Scalar>(tf.addN(terms), picks.length);
          },
          true,
          field.trainableVariables,
        );
        if (!value) throw new Error('optimizer.minimize returned no loss');
        return value;
      });
      const value = (await loss.data())[0];
      loss.dispose();
      tf.dispose(trajectory);
      tf.dispose(adjoints);
      if (!Number.isFinite(value)) throw new Error(`adjoint matching diverged at iteration ${iteration}`);
      losses.push(value);
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (
        options.onStep &&
        (iteration % Math.max(1, Math.floor(iterations / 50)) === 0 || iteration === iterations)
      ) {
        const elapsed = (performance.now() - started) / 1000;
        await options.onStep({
          step: iteration,
          totalSteps: iterations,
          loss: value,
          etaSeconds: (elapsed / iteration) * (iterations - iteration),
        });
      }
    }
  } finally {
    optimizer.dispose();
  }
  return {
    lossCurve: losses.map((loss, i) => ({ step: i + 1, loss })),
    seconds: (performance.now() - started) / 1000,
  };

  /** Euler–Maruyama on the memoryless SDE of the current model; returns X at every grid time. */
  function simulate(): tf.Tensor2D[] {
    const states: tf.Tensor2D[] = [
      tf.tidy(() => tf.mul(1 - grid[0], randomNormal<tf.Rank.R2>([n, d], 0, 1, 'float32', rng.nextSeed()))),
    ];
    for (let k = 0; k < grid.length - 1; k++) {
      const t = grid[k];
      const h = grid[k + 1] - t;
      const x = states[k];
      states.push(
        tf.tidy(() => {
          const drift = tf.sub(tf.mul(2, field.predict(x, t)), tf.div(x, t));
          const noise = randomNormal<tf.Rank.R2>(
            [n, d],
            0,
            Math.sqrt(h) * memorylessSigma(t),
            'float32',
            rng.nextSeed(),
          );
          return tf.add(tf.add(x, tf.mul(h, drift)), noise);
        }),
      );
    }
    return states;
  }

  /** ã at every grid time, integrated backwards from ã(1) = −γ∇g(X1) with explicit Euler steps. */
  function leanAdjoint(states: tf.Tensor2D[]): tf.Tensor2D[] {
    const last = states.length - 1;
    const adjoints: tf.Tensor2D[] = new Array<tf.Tensor2D>(states.length);
    adjoints[last] = tf.tidy(() =>
      tf.mul(-gamma, tf.grad((x) => tf.sum(reward(x as tf.Tensor2D)))(states[last]) as tf.Tensor2D),
    );
    for (let k = last; k > 0; k--) {
      const t = grid[k];
      const h = t - grid[k - 1];
      const a = adjoints[k];
      adjoints[k - 1] = tf.tidy(() => {
        // (∂b/∂x)ᵀ ã = 2 J_refᵀ ã − ã/t, with J_refᵀ ã a vector–Jacobian product.
        const vjp = tf.grad((x) => tf.sum(tf.mul(reference.predict(x as tf.Tensor2D, t), a)))(states[k]);
        return tf.add(a, tf.mul(h, tf.sub(tf.mul(2, vjp), tf.div(a, t))));
      });
    }
    return adjoints;
  }
}
