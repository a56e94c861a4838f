/**
 * Adam (server/engines/optimizers.ts) against tfjs's own `tf.train.adam`, the reference implementation of
 * the same update, on the plain-WASM path and on each native path (one fused kernel per variable).
 *
 * Tolerance: one Adam step computes θ − lr·m̂/(ε + √v̂) in about a dozen float32 operations, each exact to
 * u = 2⁻²⁴ relative (IEEE 754); the two implementations order them differently: ≈ 16u relative in the
 * update. Beyond that, tfjs keeps β^t as a float32 product (relative error ≤ (t+1)u) and forms the bias
 * corrections 1 − β^t in float32, where cancellation magnifies that to (t+1)u/(1 − β^t) — ours are formed
 * in double — and √ halves it for v̂. So step t may differ by lr·(16u + (t+1)u·(1/(1 − β1^t) +
 * 1/(2(1 − β2^t)))) plus 2u·|θ| in the final subtraction; over T steps these add (Adam's normalised update
 * does not amplify them while |g| ≫ ε, as here), and that sum is the bound per entry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tributaryBlasInfo, type NativeKernelsSetting } from '../../server/engines/nativeKernels';
import { AdamOptimizer } from '../../server/engines/optimizers';
import { createRng } from '../../server/engines/random';
import { initTensorBackend, setNativeKernels, tf } from '../../server/engines/tensor';
import { loadTensorSettings } from '../../server/env';

const u = 2 ** -24;
const configured = loadTensorSettings();
const built = tributaryBlasInfo();
const paths: NativeKernelsSetting[] = [
  'off',
  ...(configured.TRIBUTARY_NATIVE_KERNELS !== 'off' && built
    ? [...(built.openblas ? (['openblas'] as const) : []), 'portable' as const]
    : []),
];

beforeAll(async () => {
  await initTensorBackend('wasm');
});

afterAll(async () => {
  await setNativeKernels({ setting: configured.TRIBUTARY_NATIVE_KERNELS });
});

/** T steps of an optimizer on variables [37, 5] and [5] under fixed random gradients; the final values. */
function optimise(optimizer: tf.Optimizer, steps: number): Float32Array[] {
  const rng = createRng(17);
  const start = (size: number) => Float32Array.from({ length: size }, () => rng.normal());
  const weight = tf.tidy(() => tf.variable(tf.tensor2d(start(37 * 5), [37, 5]), true, 'adam-test/w'));
  const bias = tf.tidy(() => tf.variable(tf.tensor1d(start(5)), true, 'adam-test/b'));
  const gradients = Array.from({ length: steps }, () => [start(37 * 5), start(5)]);
  try {
    for (const [gw, gb] of gradients) {
      tf.tidy(() =>
        optimizer.applyGradients({ 'adam-test/w': tf.tensor2d(gw, [37, 5]), 'adam-test/b': tf.tensor1d(gb) }),
      );
    }
    return [weight.dataSync(), bias.dataSync()].map((values) => Float32Array.from(values));
  } finally {
    optimizer.dispose();
    tf.dispose([weight, bias]);
  }
}

describe('Adam', () => {
  it.each(paths)('matches tf.train.adam step for step (kernels: %s)', async (setting) => {
    await setNativeKernels({ setting });
    const steps = 25;
    const learningRate = 0.01;
    const tensorsBefore = tf.memory().numTensors;
    const ours = optimise(new AdamOptimizer(learningRate), steps);
    expect(tf.memory().numTensors).toBe(tensorsBefore); // moments released by dispose()
    await setNativeKernels({ setting: 'off' });
    const reference = optimise(tf.train.adam(learningRate), steps);
    let updateBound = 0;
    for (let t = 1; t <= steps; t++) {
      const correction = (t + 1) * u * (1 / (1 - 0.9 ** t) + 1 / (2 * (1 - 0.999 ** t)));
      updateBound += learningRate * (16 * u + correction);
    }
    let worst = 0;
    ours.forEach((values, v) =>
      values.forEach((value, i) => {
        const want = reference[v][i];
        const bound = updateBound + steps * 2 * u * Math.abs(want);
        worst = Math.max(worst, Math.abs(value - want) / bound);
      }),
    );
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('takes the first step θ − lr·g/(|g| + ε) exactly as Algorithm 1 does', async () => {
    await setNativeKernels({ setting: paths[paths.length - 1] });
    const variable = tf.tidy(() => tf.variable(tf.tensor1d([1, -2, 3]), true, 'adam-test/first'));
    const optimizer = new AdamOptimizer(0.1);
    tf.tidy(() => optimizer.applyGradients({ 'adam-test/first': tf.tensor1d([0.5, -4, 1e-3]) }));
    // m̂ = g, v̂ = g², so the step is lr·g/(|g| + ε) = lr·sign(g)·|g|/(|g| + 1e−7).
    const expected = [
      1 - 0.1 * (0.5 / (0.5 + 1e-7)),
      -2 + 0.1 * (4 / (4 + 1e-7)),
      3 - 0.1 * (1e-3 / (1e-3 + 1e-7)),
    ];
    Array.from(variable.dataSync()).forEach((value, i) => expect(value).toBeCloseTo(expected[i], 6));
    optimizer.dispose();
    variable.dispose();
  });
});
