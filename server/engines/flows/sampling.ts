/** Sampling a flow (DESIGN.md §1): x0 ~ N(0, I), then dx/dt = v(x, t) from t = 0 to 1. */
import { randomNormal, tf } from '../tensor';
import { odeSolve, type OdeMethod } from './ode';
import type { VelocityField } from './velocityField';

export interface SampleFlowOptions {
  steps?: number;
  method?: OdeMethod;
  seed: number;
}

/** n samples of the flow's p1, n×d row-major. */
export function sampleFromFlow(field: VelocityField, n: number, options: SampleFlowOptions): Float32Array {
  const { steps = 50, method = 'rk4', seed } = options;
  const x1 = tf.tidy(() => {
    const x0 = randomNormal<tf.Rank.R2>([n, field.dimension], 0, 1, 'float32', seed);
    return odeSolve((x, t) => field.predict(x, t), x0, { t0: 0, t1: 1, steps, method });
  });
  const values = x1.dataSync() as Float32Array;
  x1.dispose();
  return values;
}
