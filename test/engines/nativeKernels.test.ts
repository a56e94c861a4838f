/**
 * Native kernels under the wasm backend (server/engines/nativeKernels.ts, native/): every replaced kernel
 * agrees with the WASM backend's own on random shapes, within fp32 rounding bounds; gradients and training
 * are unchanged; and the plain-WASM fallback works.
 *
 * Tolerances. A float32 inner product of length k computed in any order satisfies |fl(aᵀb) − aᵀb| ≤
 * γ_k·|a|ᵀ|b| with γ_k = k·u/(1 − k·u), u = 2⁻²⁴ (Higham, "Accuracy and Stability of Numerical Algorithms",
 * 2nd ed., §3.1, eq. 3.5). Two implementations (blocked and FMA-based vs XNNPACK) can therefore differ by
 * up to 2·γ_k·Σ_p |a_ip||b_pj| per entry: that bound, not a fixed epsilon, is what is asserted, so it is
 * equally strict for k = 1 and k = 1000 and for entries near zero. A sum of n terms is an inner product with
 * ones (bound 2·γ_n·Σ|x|). Transcendental activations (sigmoid, ELU) add the two implementations' own
 * evaluation error, a few ulp of a value of magnitude ≤ 1 in their curved region: 4·10⁻⁷ absolute.
 *
 * These tests need the addon (built by `npm install` / `npm run build:native`; CI installs OpenBLAS first).
 * Without it they fail and say why, unless TRIBUTARY_NATIVE_KERNELS=off asks for plain WASM on purpose.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MlpVelocityField, trainFlowMatching, flowMatchingLoss } from '../../server/engines/flows';
import {
  installNativeKernels,
  loadTributaryBlas,
  planMatMul,
  tributaryBlasInfo,
  type NativeKernelsSetting,
} from '../../server/engines/nativeKernels';
import { createRng } from '../../server/engines/random';
import {
  currentTensorBackend,
  initTensorBackend,
  setNativeKernels,
  silu,
  tf,
} from '../../server/engines/tensor';
import { loadTensorSettings } from '../../server/env';

const root = fileURLToPath(new URL('../..', import.meta.url));
const u = 2 ** -24;
const configured = loadTensorSettings();
const addon = loadTributaryBlas();
const built = tributaryBlasInfo();
/** Native paths this build offers; the tests run each one against the WASM kernels. */
const nativePaths: NativeKernelsSetting[] = built
  ? [...(built.openblas ? ['openblas' as const] : []), 'portable']
  : [];
const nativeWanted = configured.TRIBUTARY_NATIVE_KERNELS !== 'off';

beforeAll(async () => {
  await initTensorBackend('wasm');
});

afterAll(async () => {
  await setNativeKernels({
    setting: configured.TRIBUTARY_NATIVE_KERNELS,
    threads: configured.TRIBUTARY_BLAS_THREADS,
  });
});

/** Runs `compute` with the given kernels and returns its values (the tensors are released). */
async function valuesWith(setting: NativeKernelsSetting, compute: () => tf.Tensor, threads = 1) {
  await setNativeKernels({ setting, threads });
  return tf.tidy(() => {
    const result = compute();
    return { shape: result.shape, values: Float32Array.from(result.dataSync()) };
  });
}

function randomTensor(shape: number[], seed: number): tf.Tensor {
  const rng = createRng(seed);
  const size = shape.reduce((p, d) => p * d, 1);
  // Mixed signs and magnitudes (over 2⁸) so that cancellation and scaling both show.
  return tf.tensor(
    Float32Array.from({ length: size }, () => rng.normal() * Math.exp(2 * rng.normal())),
    shape,
  );
}

/** Worst |got − want| / bound over entries (≤ 1 passes), with the entry for the failure message. */
function worstRatio(got: Float32Array, want: Float32Array, bound: Float32Array | number[]) {
  let worst = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const ratio = Math.abs(got[i] - want[i]) / bound[i];
    if (!(ratio <= worst)) {
      worst = ratio;
      at = i;
    }
  }
  return { worst, at, got: got[at], want: want[at] };
}

interface ProductCase {
  aShape: number[];
  bShape: number[];
  transposeA: boolean;
  transposeB: boolean;
}

function productCases(): ProductCase[] {
  const rng = createRng(8);
  const dims: [number, number, number][] = [
    [1, 1, 1],
    [1, 7, 1],
    [5, 1, 3],
    [7, 3, 1],
    [33, 17, 65], // none a multiple of any register block (MR 4–8, NR 8–32) or of KC
    [64, 64, 64],
    [129, 300, 31], // k beyond one KC block of the portable SGEMM
    [300, 257, 2], // the output layer at d = 2: the portable skinny path (n ≤ NR/2)
    [3, 200, 70], // few rows: the skinny path on Cᵀ
    [40, 5, 16],
  ];
  for (let i = 0; i < 6; i++) dims.push([1 + rng.int(150), 1 + rng.int(150), 1 + rng.int(150)]);
  const cases: ProductCase[] = [];
  for (const [m, k, n] of dims) {
    for (const transposeA of [false, true]) {
      for (const transposeB of [false, true]) {
        cases.push({
          aShape: transposeA ? [k, m] : [m, k],
          bShape: transposeB ? [n, k] : [k, n],
          transposeA,
          transposeB,
        });
      }
    }
  }
  // Batched: equal batches, a broadcast side of 1, and a rank-2 operand against a rank-4 one.
  cases.push({ aShape: [3, 20, 9], bShape: [3, 9, 11], transposeA: false, transposeB: false });
  cases.push({ aShape: [3, 9, 20], bShape: [3, 11, 9], transposeA: true, transposeB: true });
  cases.push({ aShape: [1, 20, 9], bShape: [4, 9, 11], transposeA: false, transposeB: false });
  cases.push({ aShape: [4, 20, 9], bShape: [1, 9, 11], transposeA: false, transposeB: false });
  cases.push({ aShape: [2, 3, 13, 9], bShape: [9, 6], transposeA: false, transposeB: false });
  return cases;
}

/** 2·γ_k·(|A|·|B|) per output entry, computed with the reference kernel. */
function productBound(a: tf.Tensor, b: tf.Tensor, c: ProductCase, k: number) {
  const gamma = (k * u) / (1 - k * u);
  return tf.tidy(() =>
    tf.mul(tf.matMul(tf.abs(a), tf.abs(b), c.transposeA, c.transposeB), 2 * gamma * 1.01).add(1e-30),
  );
}

/** tfjs's fused activations as separate ops (tfjs-core ops/fused_util.ts applyActivation). */
function activate(x: tf.Tensor, activation: string): tf.Tensor {
  switch (activation) {
    case 'relu':
      return tf.relu(x);
    case 'relu6':
      return tf.relu6(x);
    case 'leakyrelu':
      return tf.leakyRelu(x, 0.15);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'elu':
      return tf.elu(x);
    default:
      return x;
  }
}

describe('native kernels: the addon', () => {
  it('is built and loads (npm install / npm run build:native); TRIBUTARY_NATIVE_KERNELS=off skips this', () => {
    if (!nativeWanted) return;
    expect(
      'error' in addon ? addon.error : 'loaded',
      'The native addon is missing: run `npm run build:native` (needs g++; libopenblas-dev for OpenBLAS), ' +
        'or set TRIBUTARY_NATIVE_KERNELS=off to test plain WASM only.',
    ).toBe('loaded');
  });

  it('links OpenBLAS whenever the build machine has it', () => {
    if (!built) return;
    const systemHasOpenBlas =
      execFileSync(process.execPath, [path.join(root, 'native', 'detect-openblas.mjs'), 'found'], {
        encoding: 'utf8',
      }).trim() === '1';
    expect(built.openblas).toBe(systemHasOpenBlas);
  });

  it('plans NumPy-style batch broadcasting, which the WASM kernel gets wrong', () => {
    const plan = planMatMul([2, 1, 3, 4], [1, 3, 4, 5], false, false);
    expect(plan?.outShape).toEqual([2, 3, 3, 5]);
    expect(Array.from(plan?.aIndex ?? [])).toEqual([0, 0, 0, 1, 1, 1]);
    expect(Array.from(plan?.bIndex ?? [])).toEqual([0, 1, 2, 0, 1, 2]);
    expect(planMatMul([3, 4], [5, 6], false, false)).toBeUndefined(); // inner dimensions differ
  });
});

describe.skipIf(!nativeWanted || nativePaths.length === 0)(
  'native kernels agree with the WASM kernels',
  () => {
    it.each(nativePaths)(
      'BatchMatMul (%s): every transpose combination, batch and edge size',
      async (path) => {
        for (const [index, c] of productCases().entries()) {
          const a = randomTensor(c.aShape, 2 * index + 1);
          const b = randomTensor(c.bShape, 2 * index + 2);
          const k = c.transposeA ? c.aShape[c.aShape.length - 2] : c.aShape[c.aShape.length - 1];
          const product = () => tf.matMul(a, b, c.transposeA, c.transposeB);
          const reference = await valuesWith('off', product);
          const bound = await valuesWith('off', () => productBound(a, b, c, k));
          for (const threads of path === 'portable' ? [1, 2] : [2]) {
            const native = await valuesWith(path, product, threads);
            expect(native.shape).toEqual(reference.shape);
            const worst = worstRatio(native.values, reference.values, bound.values);
            expect(
              worst.worst,
              `${JSON.stringify(c)} ${threads} thread(s): ${JSON.stringify(worst)}`,
            ).toBeLessThanOrEqual(1);
          }
          tf.dispose([a, b]);
        }
      },
    );

    it.each(nativePaths)(
      'BatchMatMul (%s): general broadcasting matches per-batch products',
      async (path) => {
        const a = randomTensor([2, 1, 6, 4], 41);
        const b = randomTensor([1, 3, 4, 5], 42);
        const native = await valuesWith(path, () => tf.matMul(a, b));
        const reference = await valuesWith('off', () => {
          const blocks: tf.Tensor[] = [];
          for (let i = 0; i < 2; i++)
            for (let j = 0; j < 3; j++)
              blocks.push(
                tf.matMul(
                  tf.reshape(tf.slice(a, [i, 0, 0, 0], [1, 1, 6, 4]), [6, 4]),
                  tf.reshape(tf.slice(b, [0, j, 0, 0], [1, 1, 4, 5]), [4, 5]),
                ),
              );
          return tf.reshape(tf.stack(blocks), [2, 3, 6, 5]);
        });
        const bound = reference.values.map((value) => 8 * u * Math.max(1, Math.abs(value)) * 4);
        expect(native.shape).toEqual([2, 3, 6, 5]);
        expect(worstRatio(native.values, reference.values, bound).worst).toBeLessThanOrEqual(1);
        tf.dispose([a, b]);
      },
    );

    const activations = ['linear', 'relu', 'relu6', 'leakyrelu', 'sigmoid', 'elu'] as const;
    it.each(nativePaths)('_FusedMatMul (%s): bias and every fusable activation', async (path) => {
      const shapes: [number, number, number][] = [
        [1, 1, 1],
        [37, 19, 23],
        [300, 65, 2],
      ];
      for (const [index, [m, k, n]] of shapes.entries()) {
        for (const [transposeA, transposeB] of [
          [false, false],
          [true, true],
          [false, true],
        ] as const) {
          const a = randomTensor(transposeA ? [1, k, m] : [1, m, k], 100 + index);
          const b = randomTensor(transposeB ? [1, n, k] : [1, k, n], 200 + index);
          for (const bias of [randomTensor([n], 300 + index), randomTensor([1], 400 + index), undefined]) {
            for (const activation of activations) {
              const fused = () =>
                tf.fused.matMul({ a, b, transposeA, transposeB, bias, activation, leakyreluAlpha: 0.15 });
              // The reference is the unfused WASM ops: the WASM _FusedMatMul itself misplaces the bias
              // when an operand is transposed or the bias has one element (tfjs's cpu backend and the
              // unfused ops agree with each other and with the native kernel there); see the next test.
              const unfused = () =>
                activate(tf.add(tf.matMul(a, b, transposeA, transposeB), bias ?? 0), activation);
              const reference = await valuesWith('off', unfused);
              const native = await valuesWith(path, fused);
              const c = { aShape: a.shape, bShape: b.shape, transposeA, transposeB };
              const bound = await valuesWith('off', () => {
                const products = productBound(a, b, c, k);
                const withBias = bias ? tf.add(products, tf.mul(tf.abs(bias), 4 * u)) : products;
                const transcendental = activation === 'sigmoid' || activation === 'elu' ? 4e-7 : 0;
                return tf.add(
                  tf.add(withBias, tf.mul(tf.abs(tf.tensor(reference.values, reference.shape)), 4 * u)),
                  transcendental,
                );
              });
              const worst = worstRatio(native.values, reference.values, bound.values);
              const label = `${activation}, bias ${bias ? bias.shape.join('x') : 'none'}, ${JSON.stringify(c)}`;
              expect(worst.worst, `${label}: ${JSON.stringify(worst)}`).toBeLessThanOrEqual(1);
            }
            bias?.dispose();
          }
          tf.dispose([a, b]);
        }
      }
    });

    it('_FusedMatMul matches the WASM kernel where that one is right (no transpose, a bias per column)', async () => {
      const a = randomTensor([1, 50, 30], 511);
      const b = randomTensor([1, 30, 20], 512);
      const bias = randomTensor([20], 513);
      const fused = () => tf.fused.matMul({ a, b, bias, activation: 'relu' });
      const reference = await valuesWith('off', fused);
      const native = await valuesWith(nativePaths[0], fused);
      const bound = await valuesWith('off', () =>
        productBound(
          a,
          b,
          { aShape: a.shape, bShape: b.shape, transposeA: false, transposeB: false },
          30,
        ).add(tf.mul(tf.abs(bias), 4 * u)),
      );
      expect(worstRatio(native.values, reference.values, bound.values).worst).toBeLessThanOrEqual(1);
      tf.dispose([a, b, bias]);
    });

    it('_FusedMatMul with PReLU keeps the WASM kernel (bit-identical)', async () => {
      const a = randomTensor([1, 9, 5], 501);
      const b = randomTensor([1, 5, 7], 502);
      const alpha = randomTensor([7], 503);
      const fused = () => tf.fused.matMul({ a, b, activation: 'prelu', preluActivationWeights: alpha });
      const reference = await valuesWith('off', fused);
      const native = await valuesWith(nativePaths[0], fused);
      expect(native.values).toEqual(reference.values);
      tf.dispose([a, b, alpha]);
    });

    it('Sum over leading, trailing, middle and all axes; other axes and dtypes keep the WASM kernel', async () => {
      const x = randomTensor([6, 33, 17], 601);
      const cases: { axis: number | number[] | undefined; keepDims: boolean }[] = [
        { axis: 0, keepDims: false },
        { axis: [0, 1], keepDims: true },
        { axis: 2, keepDims: false },
        { axis: -1, keepDims: true },
        { axis: 1, keepDims: false },
        { axis: undefined, keepDims: false },
        { axis: [0, 2], keepDims: false }, // not contiguous: the WASM kernel
      ];
      for (const { axis, keepDims } of cases) {
        const reduce = () => tf.sum(x, axis, keepDims);
        const reference = await valuesWith('off', reduce);
        const native = await valuesWith(nativePaths[0], reduce);
        const bound = await valuesWith('off', () => {
          const count = x.size / reference.values.length;
          return tf
            .sum(tf.abs(x), axis, keepDims)
            .mul((2 * count * u) / (1 - count * u))
            .add(1e-30);
        });
        expect(native.shape).toEqual(reference.shape);
        expect(worstRatio(native.values, reference.values, bound.values).worst).toBeLessThanOrEqual(1);
      }
      const integers = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3], 'int32');
      expect((await valuesWith(nativePaths[0], () => tf.sum(integers, 0))).values).toEqual(
        Float32Array.from([5, 7, 9]),
      );
      tf.dispose([x, integers]);
    });

    it('Sigmoid over the whole float range, infinities and NaN', async () => {
      const values = Float32Array.from([
        ...Array.from({ length: 2001 }, (_, i) => (i - 1000) / 10),
        -1e30,
        1e30,
        Infinity,
        -Infinity,
        NaN,
        0,
        -0,
        1e-30,
        -1e-30,
      ]);
      const sigmoid = () => tf.sigmoid(tf.tensor1d(values));
      const reference = await valuesWith('off', sigmoid);
      const native = await valuesWith(nativePaths[0], sigmoid);
      const bound = reference.values.map((value) => 4e-7 + 4 * u * Math.abs(value));
      const finite = (v: Float32Array) => v.filter((_, i) => !Number.isNaN(values[i]));
      expect(
        worstRatio(
          finite(native.values),
          finite(reference.values),
          bound.filter((_, i) => !Number.isNaN(values[i])),
        ).worst,
      ).toBeLessThanOrEqual(1);
      expect(Number.isNaN(native.values[values.findIndex(Number.isNaN)])).toBe(true);
    });

    it('fused SiLU and its gradient agree with x·σ(x) and its autodiff on WASM', async () => {
      // x over [−30, 30] (σ saturates well before) plus 0 and ±tiny; dy random of both signs.
      const values = Float32Array.from([
        ...Array.from({ length: 1201 }, (_, i) => (i - 600) / 20),
        0,
        -0,
        1e-30,
        -1e-30,
      ]);
      const dy = randomTensor([values.length], 811);
      const dyValues = dy.dataSync();
      // silu() runs the fused kernels when the native path is active; plain x·σ(x) is the reference.
      const forward = () => silu(tf.tensor1d(values));
      const backward = () => tf.grad((x: tf.Tensor) => tf.sum(tf.mul(silu(x), dy)))(tf.tensor1d(values));
      const plainBackward = () =>
        tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.mul(x, tf.sigmoid(x)), dy)))(tf.tensor1d(values));
      const reference = await valuesWith('off', () => tf.mul(tf.tensor1d(values), tf.sigmoid(values)));
      const referenceGradient = await valuesWith('off', plainBackward);
      const native = await valuesWith(nativePaths[0], forward);
      const nativeGradient = await valuesWith(nativePaths[0], backward);
      // Forward: σ's evaluation error (≤ 4·10⁻⁷ absolute, as above) scaled by |x|, plus rounding of the
      // product (a few u relative). Backward: σ appears in σ·(1 + x·(1 − σ)); its error reaches the
      // result multiplied by |dy|·(1 + 2|x|), and the two sides round differently (8u relative).
      const forwardBound = Array.from(
        values,
        (x, i) => 4e-7 * Math.abs(x) + 4 * u * Math.abs(reference.values[i]),
      );
      const gradientBound = Array.from(
        values,
        (x, i) =>
          4e-7 * Math.abs(dyValues[i]) * (1 + 2 * Math.abs(x)) +
          8 * u * Math.abs(referenceGradient.values[i]),
      );
      expect(worstRatio(native.values, reference.values, forwardBound).worst).toBeLessThanOrEqual(1);
      expect(
        worstRatio(nativeGradient.values, referenceGradient.values, gradientBound).worst,
      ).toBeLessThanOrEqual(1);
      // The plain-WASM silu() (its own written-out gradient) obeys the same bounds.
      const plainGradient = await valuesWith('off', backward);
      expect(
        worstRatio(plainGradient.values, referenceGradient.values, gradientBound).worst,
      ).toBeLessThanOrEqual(1);
      dy.dispose();
    });

    it('Concat along every axis, with empty inputs and int32, as the WASM kernel (exactly)', async () => {
      const cases: { shapes: number[][]; axis: number; dtype: 'float32' | 'int32' | 'bool' }[] = [
        {
          shapes: [
            [1024, 2],
            [1024, 1],
          ],
          axis: 1,
          dtype: 'float32',
        }, // a flow's [x, t]
        {
          shapes: [
            [3, 4, 5],
            [3, 2, 5],
            [3, 1, 5],
          ],
          axis: 1,
          dtype: 'float32',
        },
        {
          shapes: [
            [2, 3],
            [4, 3],
          ],
          axis: 0,
          dtype: 'float32',
        },
        {
          shapes: [
            [2, 3, 1],
            [2, 3, 2],
          ],
          axis: -1,
          dtype: 'int32',
        },
        {
          shapes: [
            [5, 0],
            [5, 3],
            [5, 0],
          ],
          axis: 1,
          dtype: 'float32',
        }, // one non-empty input
        {
          shapes: [
            [0, 3],
            [0, 2],
          ],
          axis: 1,
          dtype: 'float32',
        }, // empty output
        { shapes: [[7]], axis: 0, dtype: 'float32' },
        {
          shapes: [
            [2, 2],
            [2, 1],
          ],
          axis: 1,
          dtype: 'bool',
        }, // keeps the WASM kernel
      ];
      for (const [index, { shapes, axis, dtype }] of cases.entries()) {
        const inputs = shapes.map((shape, i) => {
          const t = randomTensor(shape, 900 + 10 * index + i);
          const typed =
            dtype === 'float32' ? t : tf.cast(dtype === 'int32' ? tf.round(t) : tf.greater(t, 0), dtype);
          if (typed !== t) t.dispose();
          return typed;
        });
        const concat = () => tf.concat(inputs, axis);
        const reference = await valuesWith('off', concat);
        const native = await valuesWith(nativePaths[0], concat);
        expect(native.shape, JSON.stringify({ shapes, axis })).toEqual(reference.shape);
        expect(native.values, JSON.stringify({ shapes, axis, dtype })).toEqual(reference.values);
        tf.dispose(inputs);
      }
    });

    it('Identity and Cast share data instead of copying, and free it with its last user', async () => {
      await setNativeKernels({ setting: nativePaths[0] });
      const backend = tf.backend();
      const dataBefore = backend.numDataIds();
      const tensorsBefore = tf.memory().numTensors;
      const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
      const copy = tf.clone(x);
      const sameType = tf.cast(x, 'float32');
      const converted = tf.cast(x, 'int32');
      expect(backend.numDataIds()).toBe(dataBefore + 2); // x's data (shared thrice) and the int32 copy
      x.dispose();
      expect(Array.from(copy.dataSync())).toEqual([1, 2, 3, 4]);
      expect(Array.from(sameType.dataSync())).toEqual([1, 2, 3, 4]);
      expect(converted.dtype).toBe('int32');
      expect(Array.from(converted.dataSync())).toEqual([1, 2, 3, 4]);
      tf.dispose([copy, sameType, converted]);
      expect(backend.numDataIds()).toBe(dataBefore);
      expect(tf.memory().numTensors).toBe(tensorsBefore);
    });
  },
);

describe.skipIf(!nativeWanted || nativePaths.length === 0)('native kernels: gradients and training', () => {
  it('gives the gradients of the WASM kernels for a velocity field', async () => {
    const field = MlpVelocityField.create({ dimension: 3, hidden: 48, layers: 3, timeFrequencies: 2 }, 5);
    const x0 = randomTensor([200, 3], 701) as tf.Tensor2D;
    const x1 = randomTensor([200, 3], 702) as tf.Tensor2D;
    const t = tf.randomUniform([200, 1], 0, 1, 'float32', 703);
    const gradients = async (setting: NativeKernelsSetting) => {
      await setNativeKernels({ setting });
      return tf.tidy(() => {
        const { grads } = tf.variableGrads(
          () => flowMatchingLoss(field, x0, x1, t),
          field.trainableVariables,
        );
        return field.trainableVariables.map((v) => Float32Array.from(grads[v.name].dataSync()));
      });
    };
    const reference = await gradients('off');
    for (const path of nativePaths) {
      const native = await gradients(path);
      native.forEach((values, i) => {
        const scale = Math.max(...reference[i].map(Math.abs));
        const worst = Math.max(...values.map((v, j) => Math.abs(v - reference[i][j])));
        // Backprop through 4 layers of 48–200-term products: relative to the gradient's scale, 10⁻⁴
        // is about 100·√k·u — rounding, not a different derivative.
        expect(worst / scale, `${path}, variable ${i}`).toBeLessThan(1e-4);
      });
    }
    tf.dispose([x0, x1, t]);
    field.dispose();
  });

  it('trains a flow to the same loss with and without native kernels', async () => {
    const finalLoss = async (setting: NativeKernelsSetting) => {
      await setNativeKernels({ setting, threads: 2 });
      const field = MlpVelocityField.create({ dimension: 2, hidden: 64, layers: 2 }, 11);
      const result = await trainFlowMatching({
        field,
        steps: 300,
        batchSize: 256,
        learningRate: 2e-3,
        seed: 12,
        // Two Gaussian blobs: a target whose loss plateaus well above zero, so "the same loss" is testable.
        sampleData: (rows, rng) =>
          tf.tidy((): tf.Tensor2D => {
            const side = tf.sign(tf.randomUniform([rows, 1], -1, 1, 'float32', rng.nextSeed()));
            return tf.add(
              tf.mul(side, tf.tensor2d([[2, 1]])),
              tf.randomNormal<tf.Rank.R2>([rows, 2], 0, 0.3, 'float32', rng.nextSeed()),
            );
          }),
      });
      field.dispose();
      return result.finalLoss;
    };
    const plain = await finalLoss('off');
    for (const path of nativePaths) {
      // Same seeds, so the runs differ only by rounding, which Adam's 300 steps amplify a little: the tail
      // means of the loss (last 5 %, 15 minibatches) stay within 3 %.
      expect(Math.abs((await finalLoss(path)) - plain) / plain, path).toBeLessThan(0.03);
    }
  });
});

describe('native kernels: the fallback to plain WASM', () => {
  it('TRIBUTARY_NATIVE_KERNELS=off restores the WASM kernels and says so', async () => {
    const info = await setNativeKernels({ setting: 'off' });
    expect(info).toMatchObject({ name: 'wasm', kernels: 'wasm' });
    expect(info?.detail).toMatch(/matmul: WASM \(native kernels off\)/);
    expect(currentTensorBackend()).toEqual(info);
    expect(tf.getKernel('BatchMatMul', 'wasm').kernelFunc.name).not.toMatch(/native/);
    const product = tf.tidy(() =>
      Array.from(tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])).dataSync()),
    );
    expect(product).toEqual([11]);
  });

  it('a missing addon leaves plain WASM under auto and fails clearly when a path is demanded', () => {
    const missing = { error: 'native addon not built (simulated)' };
    expect(installNativeKernels({ setting: 'auto', threads: 1 }, missing)).toEqual({
      path: null,
      detail: 'matmul: WASM (native addon not built (simulated))',
    });
    expect(() => installNativeKernels({ setting: 'portable', threads: 1 }, missing)).toThrow(/simulated/);
    const product = tf.tidy(() =>
      Array.from(tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])).dataSync()),
    );
    expect(product).toEqual([11]);
  });

  it('reports the active path in the backend info', async () => {
    const info = await setNativeKernels({ setting: configured.TRIBUTARY_NATIVE_KERNELS });
    if (!nativeWanted || !built) {
      expect(info?.kernels).toBe('wasm');
      return;
    }
    const expected =
      configured.TRIBUTARY_NATIVE_KERNELS === 'auto' ? nativePaths[0] : configured.TRIBUTARY_NATIVE_KERNELS;
    expect(info?.kernels).toBe(expected);
    expect(info?.detail).toMatch(
      expected === 'openblas' ? /OpenBLAS [\d.]+ \(core \w+, \d+ threads?\)/ : /portable blocked SGEMM/,
    );
  });
});
