/**
 * Adam (Kingma & Ba 2015, Algorithm 1) as the engines use it: the same update as tfjs's
 * `tf.train.adam`, θ ← θ − lr·m̂/(ε + √v̂) with m̂ = m/(1 − β1^t), v̂ = v/(1 − β2^t), but on the native path
 * one fused kernel per variable (nativeKernels.ts `TributaryAdam`) instead of about a dozen, each of which
 * streams the variable through memory. Elsewhere the same formulas in tfjs ops. Engines call `adam(lr)`
 * and do not know which path runs.
 */
import { nativeAdamKernel, nativeFusedKernelsActive, type NativeAdamAttrs } from './nativeKernels';
import { tf } from './tensor';

interface Moments {
  m: tf.Variable;
  v: tf.Variable;
}

export class AdamOptimizer extends tf.Optimizer {
  static get className(): string {
    return 'TributaryAdam';
  }

  private readonly moments = new Map<string, Moments>();
  private step = 0;

  constructor(
    readonly learningRate: number,
    readonly beta1 = 0.9,
    readonly beta2 = 0.999,
    /** tfjs's default for float32 backends (`backend.epsilon()`), so both paths match tf.train.adam. */
    readonly epsilon = 1e-7,
  ) {
    super();
  }

  applyGradients(variableGradients: Parameters<tf.Optimizer['applyGradients']>[0]): void {
    const named: [string, tf.Tensor][] = Array.isArray(variableGradients)
      ? variableGradients.map(({ name, tensor }) => [name, tensor])
      : Object.entries(variableGradients);
    this.step += 1;
    // The moments accumulate in float32 with float32 β (1 − β is exact there); the bias corrections use
    // the same rounded β, so that m̂ and v̂ are unbiased for the arithmetic actually done (0.999 rounds to
    // 0.99900001, which moves 1 − β2 by 5·10⁻⁵ relative: more than every other rounding together).
    const beta1 = Math.fround(this.beta1);
    const beta2 = Math.fround(this.beta2);
    const attrs: NativeAdamAttrs = {
      learningRate: this.learningRate,
      beta1,
      beta2,
      epsilon: this.epsilon,
      correction1: 1 - beta1 ** this.step,
      correction2: 1 - beta2 ** this.step,
    };
    const fused = tf.getBackend() === 'wasm' && nativeFusedKernelsActive();
    tf.tidy(() => {
      for (const [name, gradient] of named) {
        const variable = tf.engine().registeredVariables[name];
        if (!variable) throw new Error(`adam: no variable named ${name}`);
        const { m, v } = this.momentsOf(name, variable);
        if (fused && variable.dtype === 'float32') {
          const [param, mNext, vNext] = tf
            .engine()
            .runKernel<tf.Tensor[]>(
              nativeAdamKernel,
              { param: variable, grad: gradient, m, v },
              attrs as unknown as tf.NamedAttrMap,
            );
          m.assign(mNext);
          v.assign(vNext);
          variable.assign(param);
        } else {
          m.assign(tf.add(tf.mul(m, attrs.beta1), tf.mul(gradient, 1 - attrs.beta1)));
          v.assign(tf.add(tf.mul(v, attrs.beta2), tf.mul(tf.square(gradient), 1 - attrs.beta2)));
          const mHat = tf.div(m, attrs.correction1);
          const vHat = tf.div(v, attrs.correction2);
          variable.assign(
            tf.sub(variable, tf.div(tf.mul(mHat, attrs.learningRate), tf.add(tf.sqrt(vHat), attrs.epsilon))),
          );
        }
      }
    });
    this.incrementIterations();
  }

  private momentsOf(name: string, variable: tf.Variable): Moments {
    let moments = this.moments.get(name);
    if (!moments) {
      moments = {
        m: tf.variable(tf.zerosLike(variable), false),
        v: tf.variable(tf.zerosLike(variable), false),
      };
      this.moments.set(name, moments);
    }
    return moments;
  }

  override dispose(): void {
    for (const { m, v } of this.moments.values()) tf.dispose([m, v]);
    this.moments.clear();
  }

  getConfig(): tf.serialization.ConfigDict {
    return {
      learningRate: this.learningRate,
      beta1: this.beta1,
      beta2: this.beta2,
      epsilon: this.epsilon,
    };
  }
}

/** Adam with tfjs's defaults (β1 = 0.9, β2 = 0.999, ε = 1e−7). */
export function adam(learningRate: number): AdamOptimizer {
  return new AdamOptimizer(learningRate);
}
