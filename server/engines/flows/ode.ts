/**
 * Fixed-step ODE integrators for the sampling ODE dx/dt = v(x, t) of DESIGN.md §1 (Euler, Heun, RK4) and
 * for augmented systems such as (x, ∫ div v dt) used by the likelihood (§1 "Log-likelihood").
 *
 * A state is a list of tensors so one integrator serves both. Every step runs in tf.tidy: only the new
 * state survives, and the previous one is released (the caller's initial state is never disposed).
 * Integration may run backwards (t1 < t0): the step h is then negative.
 */
import { tf } from '../tensor';

export type OdeMethod = 'euler' | 'heun' | 'rk4';
export const odeMethods: readonly OdeMethod[] = ['euler', 'heun', 'rk4'];

/** Global order of accuracy of each method: the error falls like h^order. */
export const odeMethodOrder: Record<OdeMethod, number> = { euler: 1, heun: 2, rk4: 4 };

/** Right-hand side of an augmented system: one derivative per state component, same shapes. */
export type OdeSystem = (state: tf.Tensor[], t: number) => tf.Tensor[];

export interface OdeStepInfo {
  /** 1-based index of the step just taken. */
  step: number;
  steps: number;
  /** Time reached by this step. */
  t: number;
  /** The state at t; valid only during the callback (it is released after the next step). */
  state: tf.Tensor[];
}

export interface IntegrateOptions {
  t0: number;
  t1: number;
  steps: number;
  method: OdeMethod;
  onStep?: (info: OdeStepInfo) => void;
}

/** y + h·k, componentwise. */
function axpy(state: tf.Tensor[], h: number, slope: tf.Tensor[]): tf.Tensor[] {
  return state.map((y, i) => tf.add(y, tf.mul(h, slope[i])));
}

/** y + h·Σ_j c_j·k_j, componentwise (the Runge–Kutta combination). */
function combine(state: tf.Tensor[], h: number, slopes: tf.Tensor[][], weights: number[]): tf.Tensor[] {
  return state.map((y, i) => {
    const increment = tf.addN(slopes.map((k, j) => tf.mul(weights[j], k[i])));
    return tf.add(y, tf.mul(h, increment));
  });
}

/**
 * One step of size h from (state, t). Butcher tableaux:
 * Euler  y' = y + h·f(y, t);
 * Heun   k1 = f(y, t), k2 = f(y + h·k1, t + h), y' = y + h/2·(k1 + k2);
 * RK4    classical fourth-order Runge–Kutta, y' = y + h/6·(k1 + 2k2 + 2k3 + k4).
 */
export function odeStep(
  f: OdeSystem,
  state: tf.Tensor[],
  t: number,
  h: number,
  method: OdeMethod,
): tf.Tensor[] {
  switch (method) {
    case 'euler':
      return axpy(state, h, f(state, t));
    case 'heun': {
      const k1 = f(state, t);
      const k2 = f(axpy(state, h, k1), t + h);
      return combine(state, h, [k1, k2], [0.5, 0.5]);
    }
    case 'rk4': {
      const k1 = f(state, t);
      const k2 = f(axpy(state, h / 2, k1), t + h / 2);
      const k3 = f(axpy(state, h / 2, k2), t + h / 2);
      const k4 = f(axpy(state, h, k3), t + h);
      return combine(state, h, [k1, k2, k3, k4], [1 / 6, 1 / 3, 1 / 3, 1 / 6]);
    }
  }
}

/** Integrates an augmented system from t0 to t1 in `steps` equal steps; returns the final state. */
export function integrateSystem(f: OdeSystem, initial: tf.Tensor[], options: IntegrateOptions): tf.Tensor[] {
  const { t0, t1, steps, method, onStep } = options;
  if (!Number.isInteger(steps) || steps < 1)
    throw new Error(`ODE steps must be a positive integer, got ${steps}`);
  if (!odeMethods.includes(method)) throw new Error(`unknown ODE method ${String(method)}`);
  const h = (t1 - t0) / steps;
  let state = initial;
  for (let i = 0; i < steps; i++) {
    // Times from the index, not by accumulating h, so the last step lands exactly on t1.
    const t = t0 + (t1 - t0) * (i / steps);
    const previous = state;
    state = tf.tidy(() => odeStep(f, previous, t, h, method));
    if (previous !== initial) tf.dispose(previous);
    onStep?.({ step: i + 1, steps, t: t0 + (t1 - t0) * ((i + 1) / steps), state });
  }
  return state; // steps ≥ 1, so this is never the caller's initial state
}

/** dx/dt = f(x, t) for a single tensor state, e.g. sampling x1 from x0 with the flow's velocity. */
export function odeSolve<T extends tf.Tensor>(
  f: (x: T, t: number) => T,
  x0: T,
  options: Omit<IntegrateOptions, 'onStep'> & {
    onStep?: (info: { step: number; steps: number; t: number; x: T }) => void;
  },
): T {
  const { onStep, ...rest } = options;
  const [x1] = integrateSystem(([x], t) => [f(x as T, t)], [x0], {
    ...rest,
    onStep:
      onStep && ((info) => onStep({ step: info.step, steps: info.steps, t: info.t, x: info.state[0] as T })),
  });
  return x1 as T;
}
