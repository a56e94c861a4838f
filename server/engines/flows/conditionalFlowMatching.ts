/**
 * Conditional flow matching on the linear path of DESIGN.md §1 (noise at t = 0, data at t = 1):
 *
 *     x_t = (1 − t)·x0 + t·x1 (+ σ·ε),   x0 ~ N(0, I),   target u_t = x1 − x0,
 *     L(θ) = E ‖ v_θ(x_t, t) − (x1 − x0) ‖².
 *
 * Structured like TorchCFM's `ConditionalFlowMatcher` (Tong et al. 2023): the pairing of x0 and x1 is
 * independent (no optimal-transport coupling); σ = 0 gives rectified flow / the DESIGN.md path exactly.
 */
import { randomNormal, tf } from '../tensor';
import { timeColumn, type VelocityField } from './velocityField';

export interface ConditionalFlowSample {
  /** Times as a column [n, 1]. */
  t: tf.Tensor2D;
  /** Points on the path x_t, [n, d]. */
  xt: tf.Tensor2D;
  /** Regression target u_t(x_t | x0, x1), [n, d]. */
  ut: tf.Tensor2D;
}

export class ConditionalFlowMatcher {
  /** @param sigma standard deviation of the optional Gaussian tube around the straight line (0 by default). */
  constructor(readonly sigma = 0) {
    if (!(sigma >= 0)) throw new Error(`ConditionalFlowMatcher: sigma must be ≥ 0, got ${sigma}`);
  }

  /** Mean of the conditional path, μ_t = (1 − t)·x0 + t·x1 (DESIGN.md §1). */
  computeMu(x0: tf.Tensor2D, x1: tf.Tensor2D, t: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.add(tf.mul(tf.sub(1, t), x0), tf.mul(t, x1)));
  }

  /** Conditional velocity u_t = dμ_t/dt = x1 − x0, constant along each straight line (DESIGN.md §1). */
  computeConditionalFlow(x0: tf.Tensor2D, x1: tf.Tensor2D): tf.Tensor2D {
    return tf.sub(x1, x0);
  }

  /**
   * Draws x_t and its target for given endpoints and times. With σ > 0, `epsilon` (standard normal,
   * [n, d]) may be passed for reproducibility; otherwise it is drawn with `seed`.
   */
  sampleLocationAndConditionalFlow(
    x0: tf.Tensor2D,
    x1: tf.Tensor2D,
    t: tf.Tensor | number,
    options: { epsilon?: tf.Tensor2D; seed?: number } = {},
  ): ConditionalFlowSample {
    assertSameShape(x0, x1);
    return tf.tidy(() => {
      const tCol = timeColumn(t, x0.shape[0]);
      let xt = this.computeMu(x0, x1, tCol);
      if (this.sigma > 0) {
        const epsilon = options.epsilon ?? randomNormal(x0.shape, 0, 1, 'float32', options.seed);
        xt = tf.add(xt, tf.mul(this.sigma, epsilon));
      }
      return { t: tCol, xt, ut: this.computeConditionalFlow(x0, x1) };
    });
  }
}

const straightPath = new ConditionalFlowMatcher(0);

/**
 * The flow-matching loss L(θ) of DESIGN.md §1: the squared error ‖v_θ(x_t, t) − u_t‖² summed over the d
 * coordinates and averaged over the batch (divide by d for the per-coordinate MSE). Returns a scalar
 * that gradients can flow through.
 */
export function flowMatchingLoss(
  field: VelocityField,
  x0: tf.Tensor2D,
  x1: tf.Tensor2D,
  t: tf.Tensor | number,
  matcher: ConditionalFlowMatcher = straightPath,
  options: { epsilon?: tf.Tensor2D; seed?: number } = {},
): tf.Scalar {
  return tf.tidy(() => {
    const { t: tCol, xt, ut } = matcher.sampleLocationAndConditionalFlow(x0, x1, t, options);
    const residual = tf.sub(field.predict(xt, tCol), ut);
    return tf.mean(tf.sum(tf.square(residual), 1));
  });
}

function assertSameShape(a: tf.Tensor, b: tf.Tensor): void {
  if (a.shape.join('x') !== b.shape.join('x')) {
    throw new Error(`x0 and x1 shapes differ: [${a.shape.join(', ')}] vs [${b.shape.join(', ')}]`);
  }
}
