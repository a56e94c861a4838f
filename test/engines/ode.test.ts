/**
 * Fixed-step integrators (server/engines/flows/ode.ts) on problems with exact solutions. The order of
 * convergence is read off from errors at n and 2n steps: error ∝ h^p means error(n)/error(2n) → 2^p.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initTensorBackend, tf } from '../../server/engines/tensor';
import { integrateSystem, odeMethodOrder, odeSolve, type OdeMethod } from '../../server/engines/flows';

beforeAll(async () => {
  await initTensorBackend('wasm');
});

/** dx/dt = a·x on [0, 1] from x(0) = 1; exact x(1) = e^a. */
function growthError(method: OdeMethod, steps: number, a: number): number {
  const x1 = tf.tidy(() =>
    odeSolve((x: tf.Tensor1D) => tf.mul(a, x), tf.tensor1d([1]), { t0: 0, t1: 1, steps, method }),
  );
  const value = x1.dataSync()[0];
  x1.dispose();
  return Math.abs(value - Math.exp(a));
}

describe('fixed-step ODE integrators', () => {
  // Step counts are chosen so the truncation error stays far above float32 round-off (~1e-7 relative,
  // i.e. ~1e-6 on e² ≈ 7.4): RK4's error falls 16× per halving, so it is measured at coarse steps
  // (its error at 16 steps is ≈ 3e-5).
  const cases: { method: OdeMethod; steps: number[] }[] = [
    { method: 'euler', steps: [32, 64, 128] },
    { method: 'heun', steps: [16, 32, 64] },
    { method: 'rk4', steps: [4, 8, 16] },
  ];
  for (const { method, steps } of cases) {
    it(`${method} converges at order ${odeMethodOrder[method]} on dx/dt = a·x`, () => {
      const a = 2;
      const errors = steps.map((n) => growthError(method, n, a));
      for (let i = 1; i < errors.length; i++) {
        const observedOrder = Math.log2(errors[i - 1] / errors[i]);
        // The leading error term dominates, but higher-order terms still bend the ratio at these coarse
        // steps (RK4 shows 3.7 then 3.8): within 0.3 of the theoretical order.
        expect(Math.abs(observedOrder - odeMethodOrder[method])).toBeLessThan(0.3);
      }
    });
  }

  it('integrates an augmented system (rotation) forwards and back', () => {
    // x' = −y, y' = x from (1, 0): (cos t, sin t). RK4 with h = 0.05 has a global error ~ h⁴/… ≪ 1e-5.
    const rotate = ([x, y]: tf.Tensor[]) => [tf.neg(y), x.clone()];
    const forward = integrateSystem(rotate, [tf.tensor1d([1]), tf.tensor1d([0])], {
      t0: 0,
      t1: 2,
      steps: 40,
      method: 'rk4',
    });
    expect(forward[0].dataSync()[0]).toBeCloseTo(Math.cos(2), 5);
    expect(forward[1].dataSync()[0]).toBeCloseTo(Math.sin(2), 5);
    const back = integrateSystem(rotate, forward, { t0: 2, t1: 0, steps: 40, method: 'rk4' });
    expect(back[0].dataSync()[0]).toBeCloseTo(1, 5);
    expect(back[1].dataSync()[0]).toBeCloseTo(0, 5);
    tf.dispose([...forward, ...back]);
  });

  it('reports every step, keeps the caller’s initial state and leaks no tensors', () => {
    const initial = tf.tensor1d([1]);
    const before = tf.memory().numTensors;
    const times: number[] = [];
    const result = odeSolve((x: tf.Tensor1D) => tf.mul(-1, x), initial, {
      t0: 0,
      t1: 1,
      steps: 4,
      method: 'heun',
      onStep: ({ t }) => times.push(t),
    });
    expect(times).toEqual([0.25, 0.5, 0.75, 1]);
    expect(initial.isDisposed).toBe(false);
    result.dispose();
    expect(tf.memory().numTensors).toBe(before);
    initial.dispose();
  });
});
